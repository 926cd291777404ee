"""Side effects after commit: jobs take ids, run inline without Redis and through rq with it.

Operations call `after_commit("name", *ids)`. Nothing leaves before the transaction commits (enqueueing
earlier races the worker, which could read the database before the change exists); a rollback drops the
jobs. The one place that commits, `commit()`, hands the ready jobs to rq or runs them inline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from onestop.extensions import db

log = logging.getLogger(__name__)

_PENDING = "onestop_jobs_pending"
_READY = "onestop_jobs_ready"
JOBS: dict[str, Callable[..., None]] = {}
INLINE_ATTEMPTS = 3
RQ_RETRY_INTERVALS = [10, 60, 300]


def job(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    def register(fn: Callable[..., None]) -> Callable[..., None]:
        JOBS[name] = fn
        return fn

    return register


def after_commit(name: str, *args: Any, session: Session | None = None) -> None:
    if name not in JOBS:
        raise KeyError(f"unknown job {name!r}")
    (session or db.session()).info.setdefault(_PENDING, []).append((name, args))


@event.listens_for(Session, "after_commit")
def _promote(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.info.setdefault(_READY, []).extend(pending)


@event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    session.info.pop(_PENDING, None)


def commit() -> None:
    """The one commit of a request or a job, then its side effects."""
    db.session.commit()
    dispatch_ready()


def dispatch_ready() -> None:
    """Hand this commit's jobs over as one unit: one rq job (retried whole; every job is idempotent),
    or, without Redis, one inline transaction."""
    ready = db.session().info.pop(_READY, [])
    if not ready:
        return
    batch = list(dict.fromkeys((name, tuple(args)) for name, args in ready))  # the same job once
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url and not current_app.config.get("ONESTOP_INLINE_JOBS"):
        from rq import Retry

        _queue(redis_url).enqueue(execute_many, batch,
                                  retry=Retry(max=len(RQ_RETRY_INTERVALS), interval=RQ_RETRY_INTERVALS))
    else:
        _run_inline(batch)


def _queue(redis_url: str) -> Any:
    queue = _queues.get(redis_url)
    if queue is None:
        from redis import Redis
        from rq import Queue

        queue = _queues[redis_url] = Queue("onestop", connection=Redis.from_url(redis_url))
    return queue


_queues: dict[str, Any] = {}


def _run_inline(batch: list[tuple[str, tuple[Any, ...]]]) -> None:
    for attempt in range(1, INLINE_ATTEMPTS + 1):
        try:
            _run(batch)
            return
        except Exception:
            db.session.rollback()
            log.exception("jobs %r failed (attempt %d of %d)", batch, attempt, INLINE_ATTEMPTS)
    log.error("jobs %r gave up after %d attempts", batch, INLINE_ATTEMPTS)


def _run(batch: list[tuple[str, tuple[Any, ...]]]) -> None:
    for name, args in batch:
        JOBS[name](*args)
    commit()


_worker_app: Flask | None = None


def execute(name: str, *args: Any) -> None:
    """rq entry point for one job (the periodic sweep)."""
    execute_many([(name, args)])


def execute_many(batch: list[tuple[str, tuple[Any, ...]]]) -> None:
    """rq entry point: one app per worker process, one commit per batch; an exception makes rq retry."""
    global _worker_app
    if _worker_app is None:
        from onestop import create_app

        _worker_app = create_app()
    with _worker_app.app_context():
        try:
            _run([(name, tuple(args)) for name, args in batch])
        except Exception:
            db.session.rollback()
            raise
        finally:
            db.session.remove()
