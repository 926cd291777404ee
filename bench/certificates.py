"""Render and seal one-page Chinese certificates: time per certificate, PDF size, and throughput through rq.

Seeds its own data: completed 开办餐饮店 applications (four certificates and a 办结通知书 each) whose
results are reserved but not yet sealed, and a development PKI. Then:

1. in this process, renders and seals --count certificates one after the other (WeasyPrint + pyHanko),
   printing the median and p95 time per certificate and the PDF sizes;
2. with --postgres and --redis, seals --count more through rq, once with one worker and once with two,
   printing certificates per second (wall time from enqueueing to the last one issued).

    .venv/bin/python bench/certificates.py --count 200 \
        [--postgres postgresql://postgres@127.0.0.1:5432/test --redis redis://127.0.0.1:6379/1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# bench/queue.py would shadow the standard library's queue module: drop this folder from the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ONESTOP_ARGON2_PROFILE", "fast-insecure-tests-only")
os.environ.setdefault("ONESTOP_ENV", "testing")

from tests.conftest import fresh_pg_database, make_app, migrate_and_seed  # noqa: E402

PER_APPLICATION = 5  # 营业执照, 食品经营许可证, 消防安全检查合格证, 排水许可证, 办结通知书


def _seed(app, count: int) -> list[int]:
    """Completed applications with `count` results reserved and pending (no seal keys while seeding)."""
    from onestop.core.jobs import commit
    from tests.factories import answers_for, make_application, make_operator

    saved = app.config["ONESTOP_PKI_DIR"]
    app.config["ONESTOP_PKI_DIR"] = str(Path(saved).parent / "no-keys")  # the jobs reserve, cannot seal
    ids = []
    operator = make_operator(enterprise_name="郑州豫味餐饮管理有限公司")
    answers = answers_for("restaurant_opening", operator, operator_id=operator.id_number)
    for _ in range(-(-count // PER_APPLICATION)):
        ids.append(make_application("restaurant_opening", applicant=operator, answers=answers, state="completed").id)
        commit()
    app.config["ONESTOP_PKI_DIR"] = saved
    return ids


def _pending(application_ids: list[int], limit: int) -> list[int]:
    from sqlalchemy import select

    from onestop.certificates.models import Certificate
    from onestop.extensions import db

    return list(db.session.scalars(select(Certificate.id).where(
        Certificate.application_id.in_(application_ids), Certificate.state == "pending")
        .order_by(Certificate.id).limit(limit)))


def in_process(app, count: int) -> None:
    from onestop.certificates.models import Certificate
    from onestop.certificates.service import sign_document
    from onestop.extensions import db

    ids = _pending(_seed(app, count), count)
    sign_document(db.session.get(Certificate, ids[0]))  # warm up: fonts, coverage map, keys
    times, sizes = [], []
    for certificate_id in ids:
        certificate = db.session.get(Certificate, certificate_id)
        started = time.perf_counter()
        sealed = sign_document(certificate)
        times.append(time.perf_counter() - started)
        sizes.append(len(sealed.pdf))
    times.sort()
    print(f"certificates rendered and sealed: {len(times)} (one page, Chinese, PAdES B-B)")
    print(f"time per certificate: median {statistics.median(times) * 1000:.1f} ms, "
          f"p95 {times[int(len(times) * 0.95) - 1] * 1000:.1f} ms")
    print(f"PDF size: median {statistics.median(sizes) / 1024:.1f} KB, max {max(sizes) / 1024:.1f} KB")
    print(f"certificates per second, one process: {len(times) / sum(times):.1f}")


def through_rq(app, database_url: str, redis_url: str, count: int, instance: Path, pki: Path) -> None:
    from redis import Redis
    from rq import Queue
    from sqlalchemy import func, select

    from onestop.certificates.models import Certificate
    from onestop.core.jobs import execute_many
    from onestop.extensions import db

    queue = Queue("onestop", connection=Redis.from_url(redis_url))
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "ONESTOP_INSTANCE_PATH": str(instance),
           "ONESTOP_PKI_DIR": str(pki), "SECRET_KEY": "bench-secret-key-" + "x" * 32}
    rq = str(Path(sys.executable).with_name("rq"))
    for workers in (1, 2):
        queue.empty()
        ids = _seed(app, count)
        expected = len(_pending(ids, 10 * count))
        for application_id in ids:
            queue.enqueue(execute_many, [("seal_certificates", (application_id,))])
        started = time.perf_counter()
        processes = [subprocess.Popen([rq, "worker", "--burst", "--worker-class", "onestop.certificates.worker.PreloadingWorker", "--url", redis_url, "--name", f"bench-{workers}-{n}-{time.time()}",
                                       "onestop"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
                     for n in range(workers)]
        for p in processes:
            p.wait()
        elapsed = time.perf_counter() - started
        db.session.expire_all()
        issued = db.session.scalar(select(func.count()).select_from(Certificate).where(
            Certificate.application_id.in_(ids), Certificate.state == "issued"))
        # Includes each worker's start-up (importing the app, loading fonts and keys), as in production.
        print(f"rq, {workers} worker(s): {issued}/{expected} certificates in {elapsed:.1f} s = "
              f"{issued / elapsed:.1f} certificates/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL", ""))
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", ""))
    args = parser.parse_args()

    from onestop.certificates.pki import init_dev_pki
    from workflows.catalog.schema import load_catalog

    with tempfile.TemporaryDirectory(prefix="onestop-bench-certs-") as tmp:
        root = Path(tmp)
        pki = root / "pki"
        init_dev_pki(pki, {d.code: d.name.zh for d in load_catalog().departments}, now=datetime.now(UTC))
        database_url = fresh_pg_database("onestop_bench_certificates", args.postgres) if args.postgres else f"sqlite:///{root / 'bench.sqlite3'}"
        app = make_app(database_url, root / "instance", ONESTOP_PKI_DIR=str(pki))
        migrate_and_seed(app)
        with app.app_context():
            in_process(app, args.count)
            if args.postgres and args.redis:
                through_rq(app, database_url, args.redis, args.count, root / "instance", pki)
            else:
                print("rq throughput skipped: give --postgres and --redis (or TEST_DATABASE_URL and REDIS_URL)")
            from onestop.extensions import db

            db.session.remove()
            db.engine.dispose()


if __name__ == "__main__":
    main()
