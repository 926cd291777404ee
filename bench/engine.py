"""Full life cycles of 企业开办 applications: submit, then accept and approve every step, one commit per action.

Seeds its own database (a fresh SQLite file; a fresh PostgreSQL database when TEST_DATABASE_URL or
--postgres is given) and prints life cycles per second, median of --runs runs.

    .venv/bin/python bench/engine.py --count 1000 [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
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


def run(database_url: str, count: int, instance: Path) -> float:
    from onestop.applications.operations import submit
    from onestop.catalog.operations import current_version
    from onestop.core.jobs import commit
    from onestop.extensions import db
    from onestop.reviews.operations import Decision, decide
    from tests.factories import COMPANY_ANSWERS, make_person, make_reviewer
    from workflows.states import StepAction

    app = make_app(database_url, instance)
    migrate_and_seed(app)
    with app.app_context():
        applicant = make_person()
        reviewers = {code: make_reviewer(code) for code in ("samr", "psb", "tax", "hrss", "hpf", "bank")}
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
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL", ""))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        backends = [("sqlite", lambda i: f"sqlite:///{tmp}/bench{i}.sqlite3")]
        if args.postgres:
            backends.append(("postgresql", lambda i: fresh_pg_database(f"onestop_bench_{i}", args.postgres)))
        for name, url in backends:
            rates = [run(url(i), args.count, Path(tmp) / "instance") for i in range(args.runs)]
            print(f"engine {name}: {statistics.median(rates):.1f} life cycles/s (median of {args.runs} runs of "
                  f"{args.count} 企业开办, 13 commits each; runs: {', '.join(f'{r:.1f}' for r in rates)})")


if __name__ == "__main__":
    main()
