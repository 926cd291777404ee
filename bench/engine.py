"""Full life cycles of 企业开办 applications: submit, then accept and approve every step, one commit per action.

Seeds its own database (a fresh SQLite file; a fresh PostgreSQL database when TEST_DATABASE_URL or
--postgres is given) and prints life cycles per second, median of --runs runs.

    .venv/bin/python bench/engine.py --count 1000 [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("ONESTOP_ARGON2_PROFILE", "fast-insecure-tests-only")
os.environ.setdefault("ONESTOP_ENV", "testing")

from tests.conftest import fresh_pg_database, make_app, migrate_and_seed  # noqa: E402


def _life_cycles(database_url: str, count: int, instance: Path, redis_url: str, worker: int = 0) -> float:
    """Run `count` life cycles in this process against an already migrated database; return seconds."""
    from onestop.applications.operations import submit
    from onestop.catalog.operations import current_version
    from onestop.core.jobs import commit
    from onestop.extensions import db
    from onestop.reviews.operations import Decision, decide
    from tests.factories import COMPANY_ANSWERS, id_number, make_person, make_reviewer
    from workflows.states import StepAction

    app = make_app(database_url, instance, **({"REDIS_URL": redis_url} if redis_url else {}))
    with app.app_context():
        # Each process its own applicant and reviewers (distinct names and ID numbers).
        applicant = make_person(username=f"bench{worker}", id_number=id_number(f"1990{worker + 1:02d}01"))
        reviewers = {code: make_reviewer(code, f"{code}_bench{worker}")
                     for code in ("samr", "psb", "tax", "hrss", "hpf", "bank")}
        commit()
        version = current_version("company_establishment")
        answers = dict(COMPANY_ANSWERS, legal_rep_id=applicant.id_number)
        started = time.perf_counter()
        for _ in range(count):
            application = submit(applicant, version, answers, {}, uuid.uuid4().hex).application
            commit()
            while True:
                open_steps = [(s.id, s.state, s.department.code) for s in application.steps
                              if s.state in ("received", "accepted")]
                if not open_steps:
                    break
                for step_id, state, department in open_steps:
                    reviewer = reviewers[department]
                    if state == "received":
                        decide(step_id, None, Decision(StepAction.ACCEPT), reviewer)
                        commit()
                    decide(step_id, None, Decision(StepAction.APPROVE), reviewer)
                    commit()
            assert application.state == "completed"
            db.session.expire_all()
        elapsed = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    return elapsed


def run(database_url: str, count: int, instance: Path, redis_url: str = "", processes: int = 1) -> float:
    """Life cycles per second: `processes` processes share the work, as request workers would."""
    app = make_app(database_url, instance, **({"REDIS_URL": redis_url} if redis_url else {}))
    migrate_and_seed(app)
    if redis_url:
        from redis import Redis
        from rq import Queue

        Queue("onestop", connection=Redis.from_url(redis_url)).empty()
    with app.app_context():
        from onestop.extensions import db

        db.engine.dispose()
    if processes == 1:
        return count / _life_cycles(database_url, count, instance, redis_url)
    share = count // processes
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        started = time.perf_counter()
        pool.starmap(_life_cycles, [(database_url, share, instance, redis_url, n) for n in range(processes)])
        elapsed = time.perf_counter() - started
    return share * processes / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL", ""))
    parser.add_argument("--processes", type=int, default=1, help="worker processes sharing the life cycles")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", ""),
                        help="enqueue the after-commit jobs to rq (as in production) instead of running them inline")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = itertools.count()  # every run on a new, empty database
        backends = [("sqlite", lambda _i: f"sqlite:///{tmp}/bench{next(fresh)}.sqlite3")]
        if args.postgres:
            backends.append(("postgresql", lambda _i: fresh_pg_database(f"onestop_bench_{next(fresh)}", args.postgres)))
        for name, url in backends:
            for redis_url in ([""] + ([args.redis] if args.redis else [])):
                if name == "sqlite" and args.processes > 1:
                    continue  # SQLite has one writer at a time: more processes only queue up
                rates = [run(url(i), args.count, Path(tmp) / "instance", redis_url, args.processes)
                         for i in range(args.runs)]
                jobs = ("jobs to rq" if redis_url else "jobs inline") + f", {args.processes} process(es)"
                print(f"engine {name}, {jobs}: {statistics.median(rates):.1f} life cycles/s (median of {args.runs} "
                      f"runs of {args.count} 企业开办, 13 commits each; runs: {', '.join(f'{r:.1f}' for r in rates)})")


if __name__ == "__main__":
    main()
