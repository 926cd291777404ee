"""Migrations run for real on SQLite and PostgreSQL, round-trip, and agree with the models."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from onestop.extensions import db
from tests.conftest import CHECKOUT_TAG, PG_URL, fresh_pg_database, make_app


@pytest.fixture
def empty_database_url(backend, tmp_path):
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
    return fresh_pg_database(f"onestop_migrations_test_{CHECKOUT_TAG}")


def _tables(engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def test_migrations_round_trip_and_match_the_models(empty_database_url, tmp_path):
    app = make_app(empty_database_url, tmp_path / "instance")
    with app.app_context():
        upgrade()
        expected = set(db.metadata.tables)
        assert _tables(db.engine) == expected
        downgrade(revision="base")
        assert _tables(db.engine) == set()
        upgrade()
        assert _tables(db.engine) == expected
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        db.engine.dispose()


def test_audit_events_are_append_only_in_the_database(app):
    from onestop.audit.operations import record
    from onestop.core.jobs import commit

    record("test:event", "test", None, {"n": 1})
    commit()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text("UPDATE audit_events SET tag = 'forged'"))
    db.session.rollback()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text("DELETE FROM audit_events"))
    db.session.rollback()


def test_the_processing_time_log_is_append_only(app):
    from tests.factories import make_application

    make_application("restaurant_opening")
    from onestop.core.jobs import commit

    commit()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text("UPDATE step_transitions SET at = at"))
    db.session.rollback()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text("DELETE FROM step_transitions"))
    db.session.rollback()


def test_postgres_is_really_exercised_when_configured():
    # Guards against a silently smaller run: CI sets TEST_DATABASE_URL and must run both backends.
    from tests.conftest import BACKENDS, REQUIRE_SERVICES

    if REQUIRE_SERVICES:
        assert PG_URL and BACKENDS == ["sqlite", "postgresql"]
    else:
        assert BACKENDS[0] == "sqlite"
