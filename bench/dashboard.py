"""The auditors' dashboard over a year: 1,000,000 applications in PostgreSQL.

A fresh database, the real migrations, then a bulk load in SQL (INSERT ... SELECT generate_series, no
ORM): 开办餐饮店 applications submitted through 2026 (3% still open, some of those overdue), four steps
each, one processing-time log line per step, one audit event per application, ratings for a fifth of the
applications, and the timing roll-ups the fan-in writes (application_timings, step_timings). Then, as an
auditor through the Flask test client: the dashboard for the year (median, p95 of several requests), and
an Excel export of about 100,000 rows run by the export job in a child process, whose peak resident
memory is printed next to a 10,000-row export (flat memory: the two should be close).

    .venv/bin/python bench/dashboard.py [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
                                        [--size 1000000] [--requests 7] [--keep]
Target: year dashboard median <= 1 s. The database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

# bench/queue.py is named like the standard library's queue module: take this folder off the path first.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("ONESTOP_ARGON2_PROFILE", "fast-insecure-tests-only")
os.environ.setdefault("ONESTOP_ENV", "testing")

from tests.conftest import fresh_pg_database, make_app, migrate_and_seed  # noqa: E402

DB_NAME = "onestop_bench_dashboard"
ITEMS = ("('business_licence', 'samr', 0), ('food_licence', 'samr', 1), ('fire_check', 'fire', 2), "
         "('drainage_permit', 'water', 3)")


def load(url: str, size: int) -> None:
    import psycopg

    with psycopg.connect(url) as conn:
        t0 = time.perf_counter()
        conn.execute("SELECT setseed(0.2026)")
        version = conn.execute("SELECT id FROM bundle_versions WHERE code = 'restaurant_opening' AND is_current"
                               ).fetchone()[0]
        conn.execute("""
            INSERT INTO users (id, username, password_hash, kind, name, id_number, phone, is_active_account,
                               failed_logins, created_at)
            SELECT 100000 + g, 'bench_applicant' || g, 'x', 'person', '申请人' || g, 'B' || lpad(g::text, 17, '0'),
                   '13800000000', true, 0, now()
            FROM generate_series(1, 2000) g""")
        # Applications: submitted through 2026 (local time), 3% still open; ended 0.5 to 12 days later.
        conn.execute(f"""
            INSERT INTO applications (id, reference, query_code, bundle_version_id, applicant_id, state, version_id,
                                      idempotency_key, submitted_at, ended_at)
            SELECT g, '4101002026' || lpad(g::text, 10, '0'), 'ABCDEF', {version}, 100001 + g % 2000,
                   CASE WHEN g % 33 = 0 THEN 'in_progress' ELSE 'completed' END, 1, 'k' || g, s,
                   CASE WHEN g % 33 = 0 THEN NULL ELSE s + (0.5 + random() * 11.5) * interval '1 day' END
            FROM (SELECT g, timestamptz '2026-01-01 01:00+00' + random() * interval '330 days' AS s
                  FROM generate_series(1, {size}) g) x""")
        conn.execute("SELECT setval(pg_get_serial_sequence('applications', 'id'), (SELECT max(id) FROM applications))")
        conn.commit()
        print(f"applications loaded: {size:,} in {time.perf_counter() - t0:.1f} s", flush=True)
        t0 = time.perf_counter()
        conn.execute(f"""
            INSERT INTO steps (application_id, item_code, department_id, state, version_id, limit_amount, limit_unit,
                               start_day_counts, created_at, received_at, accepted_at, due_at, due_provisional,
                               decided_at, decided_by_id, clock_start, extension_amount, on_commitment,
                               post_check_due_at, post_check_outcome, log_seq)
            SELECT a.id, i.item, d.id, CASE WHEN a.ended_at IS NULL THEN 'accepted' ELSE 'approved' END, 1,
                   CASE WHEN i.n = 0 THEN 1 ELSE 5 END, 'working_days', false, a.submitted_at, a.submitted_at,
                   a.submitted_at, a.submitted_at + (CASE WHEN i.n = 0 THEN 1 ELSE 7 END) * interval '1 day', false,
                   CASE WHEN a.ended_at IS NULL THEN NULL
                        ELSE a.submitted_at + (a.ended_at - a.submitted_at) * (0.4 + 0.6 * i.n / 3.0) END,
                   NULL, a.submitted_at, 0, (i.n = 1 AND a.ended_at IS NOT NULL AND a.id % 10 = 0),
                   CASE WHEN i.n = 1 AND a.ended_at IS NOT NULL AND a.id % 10 = 0 THEN a.ended_at + interval '30 days' END,
                   CASE WHEN i.n = 1 AND a.ended_at IS NOT NULL AND a.id % 10 = 0 AND a.id % 7 = 0 THEN 'confirmed' END,
                   1
            FROM applications a CROSS JOIN (VALUES {ITEMS}) AS i(item, dept, n) JOIN departments d ON d.code = i.dept""")
        conn.commit()
        print(f"steps loaded: {size * 4:,} in {time.perf_counter() - t0:.1f} s", flush=True)
        t0 = time.perf_counter()
        conn.execute("""
            INSERT INTO step_transitions (step_id, seq, action, from_state, to_state, at, actor_id, actor_role,
                                          counted, paused, due_at)
            SELECT id, 1, 'approve', 'accepted', state, coalesce(decided_at, accepted_at), NULL, 'reviewer',
                   1, 0, due_at FROM steps""")
        offset = conn.execute("SELECT coalesce(max(seq), 0) FROM audit_events").fetchone()[0]
        conn.execute(f"""
            INSERT INTO audit_events (seq, created_at, tag, actor_id, actor_role, department_id, ip, subject_type,
                                      subject_id, data, prev_hash, hash)
            SELECT {offset} + id, submitted_at, 'application:submitted', applicant_id, 'person', NULL, NULL, 'application', id,
                   '{{}}', repeat('0', 64), md5(id::text) || md5(reference) FROM applications""")
        conn.commit()
        print(f"log lines and audit events loaded: {size * 5:,} in {time.perf_counter() - t0:.1f} s", flush=True)
        t0 = time.perf_counter()
        # The roll-ups the fan-in writes: working days spent (paused apart), on time, the critical path.
        conn.execute("""
            INSERT INTO step_timings (step_id, application_id, bundle_code, item_code, department_id, state,
                                      received_at, decided_at, counted_days, paused_days, on_time, extended,
                                      supplemented, rongque, commitment)
            SELECT s.id, s.application_id, 'restaurant_opening', s.item_code, s.department_id, s.state, s.received_at,
                   s.decided_at, round((extract(epoch FROM s.decided_at - s.received_at) / 86400 * 0.6)::numeric, 4),
                   CASE WHEN s.id % 9 = 0 THEN round((random() * 3)::numeric, 4) ELSE 0 END,
                   s.decided_at <= s.due_at, s.id % 40 = 0, s.id % 9 = 0, s.id % 25 = 0, s.on_commitment
            FROM steps s WHERE s.decided_at IS NOT NULL""")
        conn.execute("""
            INSERT INTO application_timings (application_id, bundle_code, state, submitted_at, ended_at, elapsed_days,
                                             paused_days, on_time, held_by_id, critical_path, supplemented,
                                             extensions, rongque, commitment, computed_at)
            SELECT t.application_id, 'restaurant_opening', 'completed', a.submitted_at, a.ended_at,
                   max(t.counted_days) + min(t.counted_days) / 2, max(t.paused_days), bool_and(t.on_time),
                   (array_agg(t.department_id ORDER BY t.counted_days DESC))[1],
                   '["business_licence", "drainage_permit"]', bool_or(t.supplemented),
                   count(*) FILTER (WHERE t.extended), count(*) FILTER (WHERE t.rongque),
                   count(*) FILTER (WHERE t.commitment), now()
            FROM step_timings t JOIN applications a ON a.id = t.application_id
            GROUP BY t.application_id, a.submitted_at, a.ended_at""")
        conn.execute("""
            INSERT INTO ratings (application_id, department_id, level, rater_id, deemed, rated_at, reply_due_at,
                                 extended, reply, replied_at)
            SELECT a.id, d.id, lvl, CASE WHEN lvl = 3 AND a.id % 2 = 0 THEN NULL ELSE a.applicant_id END,
                   lvl = 3 AND a.id % 2 = 0, a.ended_at + interval '1 day',
                   CASE WHEN lvl <= 2 THEN a.ended_at + interval '8 days' END, false,
                   CASE WHEN lvl <= 2 AND a.id % 3 > 0 THEN '已整改' END,
                   CASE WHEN lvl <= 2 AND a.id % 3 > 0 THEN a.ended_at + interval '5 days' END
            FROM (SELECT a.*, 1 + (a.id::bigint * 7919) % 5 AS lvl FROM applications a
                  WHERE a.ended_at IS NOT NULL AND a.id % 5 = 0) a
            JOIN departments d ON d.code = 'samr'""")
        fill_histogram(conn)
        conn.execute("UPDATE audit_chain_head SET last_seq = (SELECT max(seq) FROM audit_events)")
        conn.commit()
        print(f"roll-ups and ratings loaded in {time.perf_counter() - t0:.1f} s", flush=True)
    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("applications", "steps", "step_transitions", "audit_events", "application_timings",
                      "step_timings", "timing_histogram", "ratings"):
            conn.execute(f"VACUUM ANALYZE {table}")
    print(f"vacuum analyze: {time.perf_counter() - t0:.1f} s", flush=True)


def fill_histogram(conn) -> None:
    """The maintained histogram (timing_histogram) as the fan-ins would have left it."""
    conn.execute("""
        INSERT INTO timing_histogram (day, kind, bundle_code, department_id, item_code, bucket, n, on_time,
                                      on_time_known, elapsed_sum, paused_sum, paused_n, extended, supplemented,
                                      rongque, commitment)
        SELECT (decided_at AT TIME ZONE 'Asia/Shanghai')::date, 'step', bundle_code, department_id, item_code,
               round(counted_days, 2), count(*), count(*) FILTER (WHERE on_time),
               count(*) FILTER (WHERE on_time IS NOT NULL), sum(counted_days), sum(paused_days),
               count(*) FILTER (WHERE paused_days > 0), count(*) FILTER (WHERE extended),
               count(*) FILTER (WHERE supplemented), count(*) FILTER (WHERE rongque), count(*) FILTER (WHERE commitment)
        FROM step_timings GROUP BY 1, 3, 4, 5, 6""")
    conn.execute("""
        INSERT INTO timing_histogram (day, kind, bundle_code, department_id, item_code, bucket, n, on_time,
                                      on_time_known, elapsed_sum, paused_sum, paused_n, extended, supplemented,
                                      rongque, commitment)
        SELECT (ended_at AT TIME ZONE 'Asia/Shanghai')::date, 'app', bundle_code, 0, '', round(elapsed_days, 2),
               count(*), count(*) FILTER (WHERE on_time), count(*), sum(elapsed_days), sum(paused_days),
               count(*) FILTER (WHERE paused_days > 0), sum(extensions), count(*) FILTER (WHERE supplemented),
               sum(rongque), sum(commitment)
        FROM application_timings GROUP BY 1, 3, 6""")
    conn.execute("""
        INSERT INTO timing_histogram (day, kind, bundle_code, department_id, item_code, bucket, n, on_time,
                                      on_time_known, elapsed_sum, paused_sum, paused_n, extended, supplemented,
                                      rongque, commitment)
        SELECT date_trunc('month', day)::date, CASE kind WHEN 'app' THEN 'appm' ELSE 'stpm' END, bundle_code,
               department_id, item_code, bucket, sum(n), sum(on_time), sum(on_time_known), sum(elapsed_sum),
               sum(paused_sum), sum(paused_n), sum(extended), sum(supplemented), sum(rongque), sum(commitment)
        FROM timing_histogram GROUP BY 1, 2, 3, 4, 5, 6""")


def _login(app) -> object:
    import re

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    response = client.post("/login", data={"username": "bench_auditor", "password": "correct horse battery",
                                           "csrf_token": token.group(1) if token else ""})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def measure_dashboard(app, requests: int) -> None:
    client = _login(app)
    url = "/supervision/?period=year&at=2026-01-01"
    first = time.perf_counter()
    response = client.get(url)
    assert response.status_code == 200
    print(f"year dashboard, first request: {(time.perf_counter() - first) * 1000:.0f} ms")
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200 and 'data-figure="on_time_rate"' in response.get_data(as_text=True)
    times.sort()
    print(f"year dashboard ({requests} requests): median {statistics.median(times):.0f} ms, "
          f"p95 {times[max(int(len(times) * 0.95) - 1, 0)]:.0f} ms, min {times[0]:.0f} ms")
    html = response.get_data(as_text=True)
    import re

    figures = dict(re.findall(r'data-figure="(ended|on_time_rate|elapsed_p50|elapsed_p90)">(?:<a[^>]*>)?([^<]+)', html))
    print(f"year figures: {figures}")


def export_child(url: str, rows: int) -> None:
    """Run one export job for about `rows` rows in this (fresh) process; print time and peak RSS."""
    from datetime import timedelta

    from sqlalchemy import func, select

    from onestop.core.clock import now
    from onestop.core.jobs import commit
    from onestop.extensions import db
    from onestop.supervision.jobs import run_export
    from onestop.supervision.models import ApplicationTiming, ExportJob

    app = make_app(url, Path("/tmp/onestop-bench-dashboard-instance"))
    with app.app_context():
        # A custom period holding about `rows` ended applications.
        ends = select(ApplicationTiming.ended_at).order_by(ApplicationTiming.ended_at).offset(rows).limit(1)
        last = db.session.scalar(ends) or db.session.scalar(select(func.max(ApplicationTiming.ended_at)))
        first = db.session.scalar(select(func.min(ApplicationTiming.ended_at)))
        start, end = first.date() - timedelta(days=1), last.date() - timedelta(days=1)
        auditor = db.session.scalar(select(func.min(ExportJob.requested_by_id))) or 1
        job = ExportJob(requested_by_id=auditor, table="applications", fmt="xlsx",
                        params={"period": "custom", "from": start.isoformat(), "to": end.isoformat()},
                        state="queued", done_rows=0, created_at=now())
        db.session.add(job)
        commit()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        run_export(job.id)
        commit()
        elapsed = time.perf_counter() - started
        db.session.refresh(job)
        size = os.path.getsize(Path(app.instance_path) / "exports" / job.file_name)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"excel export of {job.done_rows:,} rows: {elapsed:.1f} s, {size / 1e6:.1f} MB, "
              f"peak RSS {peak / 1024:.0f} MB (before the export {rss_before / 1024:.0f} MB)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=7)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="measure again on a database kept with --keep")
    parser.add_argument("--export-child", nargs=2, metavar=("URL", "ROWS"))
    args = parser.parse_args()
    if args.export_child:
        export_child(args.export_child[0], int(args.export_child[1]))
        return
    if args.reuse:
        from sqlalchemy.engine import make_url

        url = make_url(fresh_url_of(args.postgres)).set(database=DB_NAME).render_as_string(hide_password=False)
    else:
        url = fresh_pg_database(DB_NAME, args.postgres)
    try:
        app = make_app(url, Path("/tmp/onestop-bench-dashboard-instance"))
        if not args.reuse:
            _fill(app, url, args.size)
        with app.app_context():
            measure_dashboard(app, args.requests)
            from onestop.extensions import db

            db.session.remove()
            db.engine.dispose()
        for rows in (10_000, 100_000):
            subprocess.run([sys.executable, __file__, "--export-child", url, str(rows)], check=True)
    finally:
        if not args.keep:
            _drop(args.postgres, DB_NAME)
            print(f"dropped database {DB_NAME}")


def fresh_url_of(server: str) -> str:
    return "postgresql+psycopg://" + server.split("://", 1)[1] if server.startswith("postgresql://") else server


def _fill(app, url: str, size: int) -> None:
    migrate_and_seed(app)
    with app.app_context():
        from onestop.accounts.models import UserKind
        from onestop.accounts.operations import create_staff
        from onestop.core.jobs import commit
        from onestop.extensions import db

        create_staff(username="bench_auditor", password="correct horse battery", name="监察员",
                     kind=UserKind.AUDITOR)
        commit()
        db.session.remove()
        db.engine.dispose()
    load(url.replace("postgresql+psycopg://", "postgresql://"), size)


def _drop(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    main()
