"""Test set-up: every integration test runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set.

Databases are built once per run by the real migrations, then seeded with the catalog and the calendar.
Each test starts from that state: SQLite by copying the template file, PostgreSQL by truncating the
tables a test can write. ONESTOP_REQUIRE_SERVICES=1 (set by .ci/run) turns a missing PostgreSQL or Redis
into a failure instead of a smaller run.
"""

from __future__ import annotations

import contextvars
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

os.environ.setdefault("ONESTOP_ENV", "testing")
os.environ.setdefault("ONESTOP_ARGON2_PROFILE", "fast-insecure-tests-only")

REQUIRE_SERVICES = os.environ.get("ONESTOP_REQUIRE_SERVICES") == "1"
PG_URL = os.environ.get("TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
# PostgreSQL databases a run creates are named after the checkout, so two checkouts (git worktrees)
# can run their suites on one server at the same time.
CHECKOUT_TAG = hashlib.sha256(str(Path(__file__).resolve().parent.parent).encode()).hexdigest()[:8]

# Tables the template seeds (catalog, departments, calendar); tests may change them too (a new bundle
# version, a corrected holiday), so on PostgreSQL they are restored from a snapshot before each test.
SEEDED_TABLES = ["departments", "bundle_versions", "calendar_years", "calendar_days"]


def pytest_sessionstart(session: pytest.Session) -> None:
    if not REQUIRE_SERVICES:
        return
    problems = []
    if not PG_URL:
        problems.append("TEST_DATABASE_URL is not set")
    else:
        try:
            sa.create_engine(_pg(PG_URL)).connect().close()
        except Exception as exc:  # noqa: BLE001 - any failure to connect is the same refusal
            problems.append(f"PostgreSQL at {PG_URL} cannot be reached: {exc}")
    if not REDIS_URL:
        problems.append("REDIS_URL is not set")
    else:
        try:
            from redis import Redis

            Redis.from_url(REDIS_URL).ping()
        except Exception as exc:  # noqa: BLE001
            problems.append(f"Redis at {REDIS_URL} cannot be reached: {exc}")
    if problems:
        pytest.exit("ONESTOP_REQUIRE_SERVICES=1 but: " + "; ".join(problems), returncode=3)


def _pg(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1] if url.startswith("postgresql://") else url


def fresh_pg_database(name: str, server_url: str | None = None) -> str:
    """Drop and create database `name` on the TEST_DATABASE_URL server; return its URL."""
    server = make_url(_pg(server_url or PG_URL))
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
        ), {"n": name})
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


def make_app(database_url: str, instance: Path, **config: Any) -> Flask:
    from onestop import create_app

    env = {
        "ONESTOP_ENV": "testing",
        "ONESTOP_ARGON2_PROFILE": "fast-insecure-tests-only",
        "DATABASE_URL": database_url,
        "ONESTOP_INSTANCE_PATH": str(instance),
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
    }
    if config.pop("with_redis", False):
        env["REDIS_URL"] = REDIS_URL
    return create_app({"TESTING": True, "RATELIMIT_ENABLED": False, **config}, environ=env)


def migrate_and_seed(app: Flask) -> None:
    from flask_migrate import upgrade

    from onestop.catalog.operations import sync_catalog
    from onestop.clocks.operations import seed_from_chinesecalendar
    from onestop.core.jobs import commit
    from workflows.catalog.schema import load_catalog

    with app.app_context():
        upgrade()
        sync_catalog(load_catalog())
        seed_from_chinesecalendar()
        commit()


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One migrated, seeded database per backend; built on first use."""
    root = tmp_path_factory.mktemp("templates")
    built: dict[str, str] = {}
    template = root / "template.sqlite3"
    app = make_app(f"sqlite:///{template}", root / "instance")
    migrate_and_seed(app)
    with app.app_context():
        from onestop.extensions import db

        db.engine.dispose()
    built["sqlite"] = str(template)
    if PG_URL:
        url = fresh_pg_database(f"onestop_test_{CHECKOUT_TAG}")
        app = make_app(url, root / "instance")
        migrate_and_seed(app)
        with app.app_context():
            from onestop.extensions import db

            with db.engine.begin() as conn:
                for table in SEEDED_TABLES:
                    conn.execute(sa.text(f"CREATE TABLE snapshot_{table} AS SELECT * FROM {table}"))
            db.engine.dispose()
        built["postgresql"] = url
    return built


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, templates: dict[str, str], tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        path = tmp_path / "onestop.sqlite3"
        shutil.copyfile(templates["sqlite"], path)
        yield f"sqlite:///{path}"
        return
    url = templates["postgresql"]
    from onestop.extensions import db

    tables = [t for t in db.metadata.tables if t != "audit_chain_head"]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        # TRUNCATE does not fire the append-only row triggers; a test's audit events go with its data.
        conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        for table in SEEDED_TABLES:
            conn.execute(sa.text(f"INSERT INTO {table} SELECT * FROM snapshot_{table}"))
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence(:t, 'id'), (SELECT max(id) FROM " + "bundle_versions))"),
                     {"t": "bundle_versions"})
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence(:t, 'id'), (SELECT max(id) FROM " + "departments))"),
                     {"t": "departments"})
        conn.execute(sa.text("UPDATE audit_chain_head SET last_seq = 0, last_hash = :h WHERE id = 1"), {"h": "0" * 64})
    engine.dispose()
    yield url


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    application = make_app(database_url, tmp_path / "instance")
    with application.app_context():
        yield application
        from onestop.extensions import db

        db.session.remove()
        db.engine.dispose()


class IsolatedClient(FlaskClient):
    """Each request runs in a fresh context, with its own app context, `g` and database session, as
    in production; the test's own app context (and session) stays untouched around it."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def client(app: Flask) -> Any:
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def artifacts() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
