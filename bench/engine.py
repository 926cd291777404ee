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
from typing import Any

# bench/queue.py would shadow the standard library's queue module: drop this folder from the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("ONESTOP_ARGON2_PROFILE", "fast-insecure-tests-only")
os.environ.setdefault("ONESTOP_ENV", "testing")

from tests.conftest import fresh_pg_database, make_app, migrate_and_seed  # noqa: E402


def _life_cycles(database_url: str, count: int, instance: Path, redis_url: str, worker: int = 0) -> float:
    """Run `count` life cycles in this process against an already migrated database; return seconds.

    Each action is what one request does: load the signed-in user by id (as Flask-Login does), call the
    operation, commit, end the session. Which steps are open is read as a reviewer's queue would."""
    from sqlalchemy import select

    from onestop.accounts.models import User
    from onestop.applications.models import Step
    from onestop.applications.operations import submit
    from onestop.catalog.models import BundleVersion
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
        for code in ("samr", "psb", "tax", "hrss", "hpf", "bank"):
            make_reviewer(code, f"{code}_bench{worker}")
        commit()
        reviewers = {u.staff_roles[0].department_id: u.id for u in db.session.scalars(
            select(User).where(User.username.like(f"%_bench{worker}"))).unique()}
        applicant_id = applicant.id
        version_id = current_version("company_establishment").id
        answers = dict(COMPANY_ANSWERS, legal_rep_id=applicant.id_number)
        db.session.remove()

        def request(user_id: int, action: Any) -> Any:
            try:
                result = action(db.session.get(User, user_id))
                commit()
                return result
            finally:
                db.session.remove()

        def apply(user: User) -> int:
            return submit(user, db.session.get(BundleVersion, version_id), answers, {},
                          uuid.uuid4().hex).application.id

        started = time.perf_counter()
        for _ in range(count):
            application_id = request(applicant_id, apply)
            while True:
                open_steps = db.session.execute(
                    select(Step.id, Step.state, Step.department_id)
                    .where(Step.application_id == application_id, Step.state.in_(("received", "accepted")))
                ).all()
                db.session.remove()
                if not open_steps:
                    break
                for step_id, state, department_id in open_steps:
                    reviewer = reviewers[department_id]
                    if state == "received":
                        request(reviewer, lambda user, s=step_id: decide(s, None, Decision(StepAction.ACCEPT), user))
                    request(reviewer, lambda user, s=step_id: decide(s, None, Decision(StepAction.APPROVE), user))
        elapsed = time.perf_counter() - started
        from onestop.applications.models import Application

        states = db.session.scalars(select(Application.state).where(Application.applicant_id == applicant_id)).all()
        assert len(states) == count and set(states) == {"completed"}, states
        db.session.remove()
        db.engine.dispose()
    return elapsed


def _floor_life_cycles(database_url: str, count: int, instance: Path, redis_url: str, worker: int = 0) -> float:
    """The same life cycle as bare SQL on the same server: per request the statements the engine needs
    at least (read the user, lock the application, read its steps, update one step, append the log line,
    the message and the audit event, move the chain head, commit), with no ORM and no domain logic.
    The engine's rate over this one, measured in the same run, says how much the application costs on
    top of the database round trips of this machine."""
    import sqlalchemy as sa

    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url)
    t = {name: sa.Table(f"floor_{name}", sa.MetaData(), autoload_with=engine)
         for name in ("users", "applications", "steps", "log", "messages", "audit", "head")}
    pg = engine.dialect.name == "postgresql"
    started = time.perf_counter()
    with engine.connect() as c:
        def append(step_id: int, seq: int) -> None:
            c.execute(t["log"].insert().values(step_id=step_id, seq=seq, action="x", at=sa.func.now()))
            c.execute(t["messages"].insert().values(user_id=worker, kind="step", data='{"reference": "x"}'))
            head = c.execute(t["head"].update().where(t["head"].c.id == 1).values(id=1)
                             .returning(t["head"].c.seq, t["head"].c.hash)).one()
            c.execute(t["audit"].insert().values(seq=head.seq + 1, data='{"item": "x"}', hash=head.hash))
            c.execute(t["head"].update().where(t["head"].c.id == 1).values(seq=head.seq + 1))

        for _ in range(count):
            with c.begin():
                c.execute(sa.select(t["users"]).where(t["users"].c.id == worker)).one()
                app_id = c.execute(t["applications"].insert().values(state="in_progress", version=1)
                                   .returning(t["applications"].c.id)).scalar_one()
                c.execute(t["steps"].insert(), [{"application_id": app_id, "state": "received", "version": 1}
                                                for _ in range(6)])
                append(app_id, 1)
            for k in range(12):
                with c.begin():
                    c.execute(sa.select(t["users"]).where(t["users"].c.id == worker)).one()
                    lock = sa.select(t["applications"]).where(t["applications"].c.id == app_id)
                    c.execute(lock.with_for_update() if pg else lock).one()
                    steps = c.execute(sa.select(t["steps"]).where(t["steps"].c.application_id == app_id)).all()
                    step = steps[k % 6]
                    c.execute(t["steps"].update().where(t["steps"].c.id == step.id,
                                                        t["steps"].c.version == step.version)
                              .values(state="accepted", version=step.version + 1))
                    append(step.id, k + 2)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def _create_floor_tables(database_url: str, processes: int) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    md = sa.MetaData()
    sa.Table("floor_users", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(64)))
    sa.Table("floor_applications", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("state", sa.String(24)), sa.Column("version", sa.Integer))
    sa.Table("floor_steps", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("application_id", sa.Integer, index=True), sa.Column("state", sa.String(16)),
             sa.Column("version", sa.Integer))
    sa.Table("floor_log", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("step_id", sa.Integer, index=True),
             sa.Column("seq", sa.Integer), sa.Column("action", sa.String(32)), sa.Column("at", sa.DateTime(timezone=True)))
    sa.Table("floor_messages", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("user_id", sa.Integer),
             sa.Column("kind", sa.String(64)), sa.Column("data", sa.Text))
    sa.Table("floor_audit", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("seq", sa.Integer, unique=True),
             sa.Column("data", sa.Text), sa.Column("hash", sa.String(64)))
    head = sa.Table("floor_head", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("seq", sa.Integer),
                    sa.Column("hash", sa.String(64)))
    md.create_all(engine)
    with engine.begin() as c:
        c.execute(md.tables["floor_users"].insert(), [{"id": n, "name": f"u{n}"} for n in range(processes)])
        c.execute(head.insert().values(id=1, seq=0, hash="0" * 64))
    engine.dispose()


def _reviewers_decide_every_step(app: Any) -> None:
    """The benchmark is the life cycle with a reviewer on every step: instant approval (秒批) of social
    insurance and housing fund is switched off, as a department head would."""
    from onestop.catalog.operations import bundle_of, current_version
    from onestop.core.jobs import commit
    from onestop.extensions import db
    from onestop.instant.operations import set_switch
    from tests.factories import make_reviewer

    with app.app_context():
        bundle = bundle_of(current_version("company_establishment"))
        for code, department in (("social_insurance", "hrss"), ("housing_fund", "hpf")):
            head = make_reviewer(department, f"{department}_bench_head", head=True)
            set_switch(bundle, code, False, "基准测试：每个环节由审批人员办理", head, head.staff_roles[0].department_id)
        commit()
        db.session.remove()


def run(database_url: str, count: int, instance: Path, redis_url: str = "", processes: int = 1,
        floor: bool = False) -> float:
    """Life cycles per second: `processes` processes share the work, as request workers would."""
    app = make_app(database_url, instance, **({"REDIS_URL": redis_url} if redis_url else {}))
    migrate_and_seed(app)
    if floor:
        _create_floor_tables(database_url, processes)
    else:
        _reviewers_decide_every_step(app)
    if redis_url:
        from redis import Redis
        from rq import Queue

        Queue("onestop", connection=Redis.from_url(redis_url)).empty()
    with app.app_context():
        from onestop.extensions import db

        db.engine.dispose()
    work = _floor_life_cycles if floor else _life_cycles
    if processes == 1:
        return count / work(database_url, count, instance, redis_url)
    share = count // processes
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        started = time.perf_counter()
        pool.starmap(work, [(database_url, share, instance, redis_url, n) for n in range(processes)])
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
            if name == "sqlite" and args.processes > 1:
                continue  # SQLite has one writer at a time: more processes only queue up
            # Engine and floor alternate run by run, so a noisy neighbour weighs on both alike.
            floors, rates = [], []
            for i in range(args.runs):
                floors.append(run(url(i), args.count, Path(tmp) / "instance", "", args.processes, floor=True))
                rates.append(run(url(i), args.count, Path(tmp) / "instance", "", args.processes))
            _report(f"engine {name}, jobs inline, {args.processes} process(es)", rates, args)
            _report(f"floor  {name}, bare SQL, {args.processes} process(es)", floors, args)
            print(f"engine/floor {name}: {statistics.median(rates) / statistics.median(floors):.2f}")
            if args.redis:
                rates = [run(url(i), args.count, Path(tmp) / "instance", args.redis, args.processes)
                         for i in range(args.runs)]
                _report(f"engine {name}, jobs to rq, {args.processes} process(es)", rates, args)


def _report(label: str, rates: list[float], args: argparse.Namespace) -> None:
    print(f"{label}: {statistics.median(rates):.1f} life cycles/s (median of {args.runs} runs of {args.count} "
          f"企业开办, 13 commits each; runs: {', '.join(f'{r:.1f}' for r in rates)})", flush=True)

if __name__ == "__main__":
    main()
