"""The reviewer's queue as the backlog grows: 10,000 and 1,000,000 applications in PostgreSQL.

For each size: a fresh database, the real migrations, then a bulk load with COPY (applicants, 开办餐饮店
applications and their four steps each: 92% ended long ago, the rest in every open state, with due dates
before and after now). Then the market-regulation reviewer's pages go through the Flask test client:
the landing page (to accept), the in-progress tab, and deep pages (90% down the in-progress and the
finished tabs, reached with the keyset cursor the "next page" link would carry). Prints median and p95
per request for each, the ratio 1,000,000 / 10,000, and the EXPLAIN ANALYZE plans of the deep page's
queries at the largest size.

    .venv/bin/python bench/queue.py [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
                                    [--sizes 10000,1000000] [--requests 200]
Target: p95 <= 50 ms per page, ratio <= 1.5. The sizes take turns request by request (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# This file is named like the standard library's queue module: take its own folder off the path first.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("ONESTOP_ARGON2_PROFILE", "fast-insecure-tests-only")
os.environ.setdefault("ONESTOP_ENV", "testing")

from tests.conftest import fresh_pg_database, make_app, migrate_and_seed  # noqa: E402

ITEMS = [  # (item, department, limit amount, unit) of 开办餐饮店
    ("business_licence", "samr", "1", "working_days"),
    ("food_licence", "samr", "5", "working_days"),
    ("fire_check", "fire", "5", "working_days"),
    ("drainage_permit", "water", "5", "working_days"),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
STEP_COLUMNS = ("application_id", "item_code", "department_id", "state", "version_id", "limit_amount",
                "limit_unit", "start_day_counts", "created_at", "received_at", "accepted_at", "due_at",
                "due_provisional", "decided_at", "decided_by_id", "reason", "legal_basis", "clock_start",
                "extension_amount", "on_commitment", "claimed_by_id", "claimed_at", "claim_expires_at")


def load(database_url: str, size: int, seed: int = 20261203) -> dict[str, int]:
    """Bulk-load `size` applications with their steps; return ids the measurement needs."""
    import psycopg

    rng = random.Random(seed)
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        departments = dict(conn.execute("SELECT code, id FROM departments").fetchall())
        version_id = conn.execute("SELECT id FROM bundle_versions WHERE code = 'restaurant_opening' AND is_current"
                                  ).fetchone()[0]
        reviewer_id = conn.execute("SELECT id FROM users WHERE username = 'bench_samr'").fetchone()[0]
        other_id = conn.execute("SELECT id FROM users WHERE username = 'bench_samr_2'").fetchone()[0]
        now = datetime.now(UTC)
        applicants = max(1000, size // 50)
        first_user = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM users").fetchone()[0]
        with conn.cursor().copy("COPY users (id, username, password_hash, kind, name, id_number, phone, "
                                "is_active_account, failed_logins, created_at) FROM STDIN") as copy:
            for n in range(applicants):
                uid = first_user + n
                name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
                # A placeholder 18-character identity, unique; the queue never reads it.
                copy.write_row((uid, f"applicant{uid}", "x", "person", name, f"B{uid:017d}", "13800000000",
                                True, 0, now))
        conn.execute("SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users))")
        open_share = 0.08
        matters = []  # (is_open, submitted, ended) per application, for the steps' pass
        with conn.cursor().copy("COPY applications (id, reference, query_code, bundle_version_id, applicant_id, "
                                "state, version_id, idempotency_key, submitted_at, ended_at) FROM STDIN") as apps:
            for app_id in range(1, size + 1):
                is_open = rng.random() < open_share
                # Ended matters spread over two years; open ones over the last six weeks.
                submitted = now - (timedelta(days=rng.uniform(1, 42)) if is_open
                                   else timedelta(days=rng.uniform(45, 730)))
                ended = None if is_open else submitted + timedelta(days=rng.uniform(1, 10))
                matters.append((is_open, submitted, ended))
                apps.write_row((app_id, f"410100{submitted:%Y%m%d}{app_id:07d}", "ABCDEF", version_id,
                                first_user + rng.randrange(applicants), "in_progress" if is_open else "completed",
                                1, f"k{app_id}", submitted, ended))
        with conn.cursor().copy(f"COPY steps ({', '.join(STEP_COLUMNS)}) FROM STDIN") as steps:
            for app_id, (is_open, submitted, ended) in enumerate(matters, start=1):
                for item, dept, amount, unit in ITEMS:
                    steps.write_row(_step(rng, app_id, item, departments[dept], amount, unit, submitted, ended,
                                          is_open, now, reviewer_id, other_id))
        conn.execute("SELECT setval(pg_get_serial_sequence('applications', 'id'), (SELECT max(id) FROM applications))")
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE users")
        conn.execute("VACUUM ANALYZE applications")
        conn.execute("VACUUM ANALYZE steps")
    return {"reviewer": reviewer_id}


def _step(rng: random.Random, app_id: int, item: str, dept: int, amount: str, unit: str, submitted: datetime,
          ended: datetime | None, is_open: bool, now: datetime, reviewer: int, other: int) -> tuple[Any, ...]:
    row = dict.fromkeys(STEP_COLUMNS)
    row.update(application_id=app_id, item_code=item, department_id=dept, version_id=3, limit_amount=amount,
               limit_unit=unit, start_day_counts=False, created_at=submitted, received_at=submitted,
               due_provisional=False, extension_amount=0, on_commitment=False)
    if not is_open or (item == "business_licence" and rng.random() < 0.9):
        decided = ended or submitted + timedelta(hours=rng.uniform(2, 30))
        row.update(state="approved", accepted_at=submitted, clock_start=submitted, decided_at=decided,
                   due_at=decided + timedelta(days=1), decided_by_id=reviewer)
        return tuple(row[c] for c in STEP_COLUMNS)
    state = rng.choices(["received", "accepted", "supplement", "suspended"], [35, 45, 15, 5])[0]
    received = now - timedelta(days=rng.uniform(0, 20))
    row.update(state=state, received_at=received)
    if state in ("accepted", "suspended"):
        row.update(accepted_at=received + timedelta(hours=2), clock_start=received + timedelta(hours=2))
    if state == "accepted":
        row.update(due_at=now + timedelta(hours=rng.uniform(-240, 480)))  # some overdue, most not
    if state == "received" and rng.random() < 0.1:
        row.update(due_at=now + timedelta(hours=rng.uniform(-24, 48)))  # clock from receipt
    if state in ("accepted", "received") and rng.random() < 0.3:
        holder = reviewer if rng.random() < 0.5 else other
        row.update(claimed_by_id=holder, claimed_at=now - timedelta(minutes=5),
                   claim_expires_at=now + timedelta(minutes=25))
    return tuple(row[c] for c in STEP_COLUMNS)


def _deep_cursor(app: Any, tab: str, depth: float) -> str | None:
    """The cursor the "next page" link carries at `depth` of the tab (found once, with OFFSET)."""
    from sqlalchemy import func, select

    from onestop.accounts.models import Department
    from onestop.applications.models import Step
    from onestop.core.clock import now
    from onestop.extensions import db
    from onestop.reviews import queries

    with app.app_context():
        department = db.session.scalar(select(Department).where(Department.code == "samr"))
        at = now()
        parts = queries._parts(tab, at, queries.due_soon_until(at))
        base = queries._filters(department, queries.QueueFilter())
        sizes = [db.session.scalar(select(func.count()).select_from(Step).where(*base, *p.where)) for p in parts]
        target = int(sum(sizes) * depth)
        for index, (part, n) in enumerate(zip(parts, sizes, strict=True)):
            if target < n:
                order = (part.column.desc(), Step.id.desc()) if part.descending else (part.column, Step.id)
                step_id, value = db.session.execute(select(Step.id, part.column).where(*base, *part.where)
                                                    .order_by(*order).offset(target).limit(1)).one()
                db.session.remove()
                return queries._encode(index, value, step_id)
            target -= n
        db.session.remove()
    return None


def _login(app: Any) -> Any:
    import re

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    response = client.post("/login", data={"username": "bench_samr", "password": "correct horse battery",
                                           "csrf_token": token.group(1) if token else ""})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def measure(sized: dict[int, tuple[Any, dict[str, str]]], requests: int) -> dict[int, dict[str, tuple[float, float]]]:
    """Median and p95 per page and size. The sizes take turns request by request, so a burst of load
    on this shared machine hits both alike and the ratio stays honest."""
    clients = {size: _login(app) for size, (app, _paths) in sized.items()}
    times: dict[int, dict[str, list[float]]] = {size: {} for size in sized}
    cpu: dict[int, dict[str, list[float]]] = {size: {} for size in sized}
    names = [name for name in next(iter(sized.values()))[1] if all(name in p for _a, p in sized.values())]
    for name in names:
        for size, (_app, paths) in sized.items():
            for _ in range(10):  # warm caches: calendar, catalog, templates, plans
                assert clients[size].get(paths[name]).status_code == 200
        for _ in range(requests):
            for size, (_app, paths) in sized.items():
                started, started_cpu = time.perf_counter(), time.process_time()
                response = clients[size].get(paths[name])
                times[size].setdefault(name, []).append((time.perf_counter() - started) * 1000)
                cpu[size].setdefault(name, []).append((time.process_time() - started_cpu) * 1000)
                assert response.status_code == 200
    results: dict[int, dict[str, tuple[float, float]]] = {}
    for size, per_page in times.items():
        results[size] = {}
        for name, values in per_page.items():
            values.sort()
            results[size][name] = (statistics.median(values), values[int(len(values) * 0.95) - 1])
            CPU_MEDIANS[size, name] = statistics.median(cpu[size][name])
    return results


# The web process's own CPU per request (median): what the page costs here, whatever else the shared
# machine is doing; wall time adds the database and the waits for a core.
CPU_MEDIANS: dict[tuple[int, str], float] = {}


def explain(app: Any, path: str) -> list[str]:
    """EXPLAIN ANALYZE of every statement on steps that one request of `path` runs."""
    from sqlalchemy import event

    from onestop.extensions import db

    seen: list[tuple[str, Any]] = []
    with app.app_context():
        engine = db.engine

        def grab(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
            if "FROM steps" in statement and not statement.lstrip().upper().startswith("EXPLAIN"):
                seen.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", grab)
        client = _login(app)
        assert client.get(path).status_code == 200
        event.remove(engine, "before_cursor_execute", grab)
        out = []
        with engine.connect() as conn:
            for statement, parameters in seen:
                plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters).scalars()
                out.append(" ".join(statement.split())[:400] + "\n    " + "\n    ".join(plan))
        db.session.remove()
    return out


def _loaded(server: str, name: str, size: int) -> str | None:
    """The URL of an earlier run's database when it holds `size` applications (for --reuse)."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    url = make_url(server.replace("postgresql://", "postgresql+psycopg://", 1)).set(database=name)
    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            count = conn.execute(sa.text("SELECT count(*) FROM applications")).scalar()
        engine.dispose()
    except sa.exc.SQLAlchemyError:
        return None
    return url.render_as_string(hide_password=False) if count == size else None


def run_size(server: str, size: int, instance: Path, reuse: bool = False) -> tuple[Any, dict[str, str]]:
    from onestop.accounts.models import Department, StaffRoleName
    from onestop.accounts.operations import create_staff
    from onestop.core.jobs import commit
    from onestop.extensions import db

    name = f"onestop_bench_queue_{size}"
    url = _loaded(server, name, size) if reuse else None
    if url is not None:
        print(f"  reusing {name} ({size:,} applications already loaded)", flush=True)
        app = make_app(url, instance)
        return app, _paths(app)
    url = fresh_pg_database(name, server)
    app = make_app(url, instance)
    migrate_and_seed(app)
    with app.app_context():
        samr = db.session.query(Department).filter_by(code="samr").one()
        create_staff(username="bench_samr", password="correct horse battery", name="市场监管审批员",
                     roles=[(samr, StaffRoleName.REVIEWER)])
        create_staff(username="bench_samr_2", password="correct horse battery", name="市场监管复核员",
                     roles=[(samr, StaffRoleName.REVIEWER)])
        commit()
        db.session.remove()
    started = time.perf_counter()
    load(url, size)
    print(f"  loaded {size:,} applications ({size * len(ITEMS):,} steps) in {time.perf_counter() - started:.0f} s",
          flush=True)
    return app, _paths(app)


def _paths(app: Any) -> dict[str, str]:
    paths = {"to accept, page 1": "/desk/", "in progress, page 1": "/desk/?tab=in_progress"}
    for tab in ("in_progress", "finished"):
        cursor = _deep_cursor(app, tab, 0.9)
        if cursor:
            paths[f"{tab.replace('_', ' ')}, 90% deep"] = f"/desk/?tab={tab}&after={cursor}"
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--reuse", action="store_true", help="measure again on databases an earlier run loaded")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        sized = {}
        for size in sizes:
            print(f"{size:,} applications:", flush=True)
            sized[size] = run_size(args.postgres, size, Path(tmp) / str(size), reuse=args.reuse)
        results = measure(sized, args.requests)
        for size in sizes:
            for name, (median, p95) in results[size].items():
                print(f"  {size:>9,} applications  {name:<26} median {median:6.1f} ms   p95 {p95:6.1f} ms"
                      f"   (web process CPU, median {CPU_MEDIANS[size, name]:5.1f} ms)")
        small, large = sizes[0], sizes[-1]
        app, paths = sized[large]
        for name in ("in progress, 90% deep", "finished, 90% deep"):
            if name in paths:
                print(f"\nquery plans of one request of {paths[name]} at {large:,} applications:")
                for plan in explain(app, paths[name]):
                    print("  " + plan + "\n")
        from onestop.extensions import db

        for app, _paths in sized.values():
            with app.app_context():
                db.engine.dispose()
    print(f"ratio {large:,} / {small:,} applications (target <= 1.5; p95 target <= 50 ms); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores:")
    for name in results[large]:
        if name in results[small]:
            (m1, p1), (m2, p2) = results[small][name], results[large][name]
            print(f"  {name:<26} median {m2 / m1:4.2f}   p95 {p2 / p1:4.2f}   (p95 {p2:.1f} ms at {large:,})")


if __name__ == "__main__":
    main()
