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
    ready = db.session().info.pop(_READY, [])
    if not ready:
        return
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url and not current_app.config.get("ONESTOP_INLINE_JOBS"):
        from rq import Retry

        queue = _queue(redis_url)
        for name, args in ready:
            queue.enqueue(execute, name, *args, retry=Retry(max=len(RQ_RETRY_INTERVALS), interval=RQ_RETRY_INTERVALS))
    else:
        for name, args in ready:
            _run_inline(name, args)


def _queue(redis_url: str) -> Any:
    from redis import Redis
    from rq import Queue

    return Queue("onestop", connection=Redis.from_url(redis_url))


def _run_inline(name: str, args: tuple[Any, ...]) -> None:
    for attempt in range(1, INLINE_ATTEMPTS + 1):
        try:
            _run(name, args)
            return
        except Exception:
            db.session.rollback()
            log.exception("job %s%r failed (attempt %d of %d)", name, args, attempt, INLINE_ATTEMPTS)
    log.error("job %s%r gave up after %d attempts", name, args, INLINE_ATTEMPTS)


def _run(name: str, args: tuple[Any, ...]) -> None:
    JOBS[name](*args)
    commit()


_worker_app: Flask | None = None


def execute(name: str, *args: Any) -> None:
    """rq entry point: one app per worker process, one commit per job; an exception makes rq retry."""
    global _worker_app
    if _worker_app is None:
        from onestop import create_app

        _worker_app = create_app()
    with _worker_app.app_context():
        try:
            _run(name, args)
        except Exception:
            db.session.rollback()
            raise
        finally:
            db.session.remove()
