"""Load test of the API: applications submitted through POST /api/v1/applications (answers and base64
materials, a new Idempotency-Key each) against gunicorn on 127.0.0.1 with PostgreSQL.

Seeds a fresh PostgreSQL database, makes one applicant and one API token per client thread, starts
gunicorn (--workers, --threads), then runs a closed loop at each concurrency level for --seconds /
levels, and prints per level: requests per second, p50, p99 and the error count (anything but 201);
then the highest rate whose p99 stays within --p99-target. Bounded in time; stops by itself.

    .venv/bin/python bench/api_load.py --postgres postgresql://postgres@127.0.0.1:5432/test \
        [--redis redis://127.0.0.1:6379/5] [--seconds 60] [--levels 2,4,8,16]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

# bench/queue.py would shadow the standard library's queue module: drop this folder from the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ONESTOP_ARGON2_PROFILE", "fast-insecure-tests-only")
os.environ.setdefault("ONESTOP_ENV", "testing")

from tests.conftest import CHECKOUT_TAG, fresh_pg_database, make_app, migrate_and_seed  # noqa: E402


def seed(database_url: str, instance: Path, clients: int) -> tuple[list[str], list[dict[str, Any]]]:
    """Migrate and seed; one applicant and token per client; each client's request body."""
    from onestop.api.tokens import create_token
    from onestop.catalog.operations import bundle_of, current_version
    from onestop.core.jobs import commit
    from onestop.extensions import db
    from tests.factories import answers_for, make_person, pdf_bytes, png_bytes

    app = make_app(database_url, instance)
    migrate_and_seed(app)
    tokens, bodies = [], []
    with app.app_context():
        bundle = bundle_of(current_version("newborn_birth"))
        for n in range(clients):
            person = make_person(username=f"apiload{n}")
            tokens.append(create_token(person, "load", ["apply", "read"], person).secret)
            answers = answers_for("newborn_birth", person)
            materials = [{"key": m.key, "filename": f"{m.key}.{'pdf' if 'pdf' in m.formats else 'png'}",
                          "content_base64": base64.b64encode(pdf_bytes() if "pdf" in m.formats else png_bytes()).decode()}
                         for m in bundle.materials if not m.held_by_government and m.required
                         and (m.show_if is None or m.show_if.holds(answers))]
            bodies.append({"bundle": "newborn_birth", "answers": answers, "materials": materials})
        commit()
        db.session.remove()
        db.engine.dispose()
    return tokens, bodies


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gunicorn(database_url: str, instance: Path, port: int, workers: int, threads: int,
                   redis_url: str | None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": database_url, "ONESTOP_INSTANCE_PATH": str(instance),
           "ONESTOP_ENV": "development", "SECRET_KEY": "bench-secret-" + "x" * 32,
           "ONESTOP_API_RATE_LIMIT": "1000000 per minute", "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--threads", str(threads), "--worker-class", "gthread" if threads > 1 else "sync", "--log-level", "warning",
         "wsgi:app"], cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/catalog")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("gunicorn did not start within 60 s")


def run_level(port: int, tokens: list[str], bodies: list[dict[str, Any]], concurrency: int,
              seconds: float) -> tuple[list[float], int, float]:
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    stop_at = time.monotonic() + seconds

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        body = json.dumps(bodies[i]).encode()
        headers = {"Authorization": f"Bearer {tokens[i]}", "Content-Type": "application/json"}
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/applications", body=body,
                             headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
                response = conn.getresponse()
                response.read()
                ok = response.status == 201
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            latencies[i].append(time.perf_counter() - started)
            if not ok:
                errors[i] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return [x for per in latencies for x in per], sum(errors), elapsed


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--redis", default=None, help="jobs go to rq (as in production) instead of running inline")
    parser.add_argument("--seconds", type=float, default=60, help="total measuring time, split over the levels")
    parser.add_argument("--levels", default="1,2,4,8", help="client threads per level")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--p99-target", type=float, default=300.0, help="milliseconds")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    database_url = fresh_pg_database(f"onestop_bench_api_{CHECKOUT_TAG}", args.postgres)
    instance = Path(tempfile.mkdtemp(prefix="onestop-api-load-"))
    tokens, bodies = seed(database_url, instance, max(levels))
    port = free_port()
    server = start_gunicorn(database_url, instance, port, args.workers, args.threads, args.redis)
    results = []
    try:
        run_level(port, tokens, bodies, 1, 2)  # warm-up: each worker loads the catalog and its caches
        per_level = args.seconds / len(levels)
        print(f"gunicorn {args.workers} workers x {args.threads} threads on 127.0.0.1, PostgreSQL, "
              f"jobs {'through rq' if args.redis else 'inline'}; {os.cpu_count()} cores shared with the clients")
        for concurrency in levels:
            latencies, errors, elapsed = run_level(port, tokens, bodies, concurrency, per_level)
            rate = len(latencies) / elapsed
            p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
            results.append((concurrency, rate, p50, p99, errors))
            print(f"clients {concurrency:>3}: {rate:7.1f} req/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
                  f"errors {errors}  (n={len(latencies)}, mean {statistics.fmean(latencies) * 1000:.1f} ms)")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        if args.redis:
            from redis import Redis
            from rq import Queue

            Queue("onestop", connection=Redis.from_url(args.redis)).empty()
    within = [r for r in results if r[3] <= args.p99_target and r[4] == 0]
    if within:
        best = max(within, key=lambda r: r[1])
        print(f"highest rate with p99 <= {args.p99_target:.0f} ms and no errors: {best[1]:.1f} req/s "
              f"(clients {best[0]}, p50 {best[2]:.1f} ms, p99 {best[3]:.1f} ms)")
    else:
        print(f"no level kept p99 <= {args.p99_target:.0f} ms without errors")
    print(f"total errors: {sum(r[4] for r in results)}")


if __name__ == "__main__":
    main()
