"""The audit trail (hash chain, tamper detection), after-commit jobs (inline and rq), and the CLI."""

from __future__ import annotations

import os
import threading
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from onestop.applications.models import Notification
from onestop.audit.models import AuditEvent
from onestop.audit.operations import record, verify_chain
from onestop.core.jobs import after_commit, commit, dispatch_ready, job
from onestop.extensions import db
from tests.conftest import REDIS_URL, make_app
from tests.factories import approve_open_steps, make_application


def _tamper(sql: str, **params) -> None:
    """What a database administrator could do: bypass the append-only triggers and edit rows."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("SET LOCAL session_replication_role = replica"))
        db.session.execute(sa.text(sql), params)
    else:
        db.session.execute(sa.text("DROP TRIGGER audit_events_no_update"))
        db.session.execute(sa.text("DROP TRIGGER audit_events_no_delete"))
        db.session.execute(sa.text(sql), params)
    db.session.commit()


def test_every_state_change_is_chained_and_verifies(app):
    application = make_application("restaurant_opening")
    approve_open_steps(application)
    commit()
    tags = db.session.scalars(select(AuditEvent.tag).where(AuditEvent.subject_type.in_(["application", "step"]))).all()
    assert "application:submitted" in tags and "application:completed" in tags
    assert tags.count("application:step:approved") == 4
    report = verify_chain()
    assert report.ok and report.checked == db.session.scalar(select(func.count()).select_from(AuditEvent))


def test_an_edited_event_is_found_at_exactly_that_event(app):
    make_application("restaurant_opening")
    commit()
    target = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq).offset(3).limit(1)).one()
    _tamper("UPDATE audit_events SET data = :d WHERE seq = :s", d='{"forged": true}', s=target.seq)
    report = verify_chain()
    assert report.broken_at_seq == target.seq and "changed" in report.problem


def test_a_deleted_event_is_found(app):
    make_application("restaurant_opening")
    commit()
    _tamper("DELETE FROM audit_events WHERE seq = 2")
    report = verify_chain()
    assert report.broken_at_seq == 2 and "missing" in report.problem


def test_rolled_back_changes_leave_no_event_and_no_job(app):
    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    application = make_application("restaurant_opening")
    application_id = application.id
    db.session.rollback()
    dispatch_ready()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.application_id == application_id)) == 0


def test_concurrent_appends_keep_one_unbroken_chain(app):
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        with app.app_context():
            try:
                for i in range(10):
                    record("test:concurrent", "test", None, {"worker": n, "i": i})
                    commit()
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = verify_chain()
    assert report.ok and report.checked >= 60


def test_notification_job_is_idempotent(app):
    application = make_application("restaurant_opening")
    commit()
    from onestop.jobs.notifications import notify_applicant

    count = lambda: db.session.scalar(select(func.count()).select_from(Notification))  # noqa: E731
    before = count()
    notify_applicant(application.id, "submitted", application.reference)
    commit()
    assert count() == before  # the inline run after submission wrote it already


def test_a_long_dedupe_key_is_stored_hashed_and_still_deduplicates(app):
    application = make_application("restaurant_opening")
    commit()
    from onestop.jobs.notifications import _notify

    key = "certificate:" + "食品经营许可证" * 30  # longer than the 128-character column
    count = lambda: db.session.scalar(select(func.count()).select_from(Notification))  # noqa: E731
    before = count()
    for _ in range(2):
        _notify(application.applicant_id, application.id, "certificate_issued", key, {"reference": "x"})
        commit()
    assert count() == before + 1
    stored = db.session.scalars(select(Notification.dedupe_key).order_by(Notification.id.desc())).first()
    assert stored.startswith("sha256:") and len(stored) <= 128


@pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL not set (CI sets it and fails when Redis is missing)")
def test_jobs_go_through_rq_after_commit(database_url, tmp_path):
    from redis import Redis
    from rq import Queue, SimpleWorker

    import onestop.core.jobs as jobs

    app = make_app(database_url, tmp_path / "instance", with_redis=True)
    queue = Queue("onestop", connection=Redis.from_url(REDIS_URL))
    queue.empty()
    with app.app_context():
        application = make_application("restaurant_opening")
        application_id = application.id
        after_commit("test_tell_the_applicant", application_id)
        assert len(queue) == 0  # nothing leaves before commit
        commit()
        assert len(queue) == 1  # one unit per commit
        assert not _told(application_id)
        jobs._worker_app = app  # the worker process would build the same app from the environment
        try:
            SimpleWorker([queue], connection=queue.connection).work(burst=True)
        finally:
            jobs._worker_app = None
        db.session.expire_all()
        assert _told(application_id)
        db.engine.dispose()


@job("test_tell_the_applicant")
def _tell_the_applicant(application_id: int) -> None:
    from onestop.jobs.notifications import notify_applicant

    notify_applicant(application_id, "test_after_commit", "rq")


def _told(application_id: int) -> bool:
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.application_id == application_id, Notification.kind == "test_after_commit")) == 1


def test_unknown_job_name_is_a_programming_error(app):
    with pytest.raises(KeyError):
        after_commit("no_such_job", 1)


def test_cli_catalog_check_and_audit_verify(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["onestop", "catalog", "check"])
    assert result.exit_code == 0
    assert "开办餐饮店 (restaurant_opening) v1" in result.output
    assert "食品经营许可 [food_licence] 市场监督管理局: 承诺 5个工作日 / 法定 20个工作日" in result.output
    assert "企业设立登记 [establishment_registration] 市场监督管理局: 承诺 0.5个工作日" in result.output
    result = runner.invoke(args=["onestop", "audit", "verify"])
    assert result.exit_code == 0 and "audit trail intact" in result.output


def test_cli_catalog_check_refuses_a_broken_folder(app, tmp_path):
    import shutil

    from workflows.catalog.schema import BUNDLES_DIR

    folder = tmp_path / "bundles"
    shutil.copytree(BUNDLES_DIR, folder)
    path = folder / "company_establishment.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("department: psb", "department: police"), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["onestop", "catalog", "check", "--bundles", str(folder)])
    assert result.exit_code == 1
    assert "company_establishment.yaml: items.1.department: unknown department 'police'" in result.output


def test_cli_demo_creates_accounts_once(app, tmp_path):
    runner = app.test_cli_runner()
    out = tmp_path / "accounts.txt"
    first = runner.invoke(args=["onestop", "demo", "--password-file", str(out)])
    assert first.exit_code == 0, first.output
    assert "samr_reviewer" in first.output and "hnfood" in first.output and "auditor" in first.output
    second = runner.invoke(args=["onestop", "demo", "--password-file", str(out)])
    assert "exist already" in second.output
    username, password = out.read_text().splitlines()[1].split()[:2]
    from onestop.accounts.operations import authenticate

    assert authenticate(username, password).user is not None


def test_cli_demo_leaves_sample_applications_in_telling_states(app, tmp_path):
    from onestop.applications.models import Application
    from onestop.certificates.models import Certificate

    result = app.test_cli_runner().invoke(args=["onestop", "demo", "--password-file", str(tmp_path / "a.txt")])
    assert result.exit_code == 0, result.output
    applications = db.session.scalars(select(Application).order_by(Application.id)).all()
    assert [a.state for a in applications] == ["completed", "in_progress", "in_progress"]
    assert {s.state for s in applications[2].steps} == {"received", "waiting"}  # registration in the queue first
    assert all(a.reference in result.output for a in applications)
    steps = {s.item_code: s.state for s in applications[1].steps}
    assert (steps["business_licence"], steps["fire_check"], steps["food_licence"], steps["drainage_permit"]) == (
        "approved", "supplement", "accepted", "received")
    issued = db.session.scalar(select(func.count()).select_from(Certificate).where(
        Certificate.application_id == applications[0].id, Certificate.state == "issued"))
    assert issued == len([s for s in applications[0].steps if s.state == "approved"]) + 1  # + 办结通知书
    from onestop.benefits.models import BenefitOffer

    offer = db.session.scalars(select(BenefitOffer)).one()  # 48 insured, 1 laid off: eligible, at 50%
    assert offer.state == "offered" and offer.amount == Decimal("9325.20")
    assert verify_chain().ok


def test_catalog_load_refuses_changed_content_without_a_new_version(app, monkeypatch):
    from onestop.catalog.operations import sync_catalog
    from workflows.catalog.schema import CatalogError, load_catalog

    catalog = load_catalog()
    bundle = catalog.bundle("restaurant_opening")
    changed = bundle.model_copy(update={"name": bundle.name.model_copy(update={"zh": "开个饭馆"})})
    edited = catalog.model_copy(update={"bundles": [changed if b.code == bundle.code else b for b in catalog.bundles]})
    with pytest.raises(CatalogError, match="changed; give the changed definition a new version number"):
        sync_catalog(edited)
    db.session.rollback()
    bumped = changed.model_copy(update={"version": 2})
    edited = catalog.model_copy(update={"bundles": [bumped if b.code == bundle.code else b for b in catalog.bundles]})
    assert sync_catalog(edited) == ["bundle restaurant_opening v2 loaded"]


def test_applications_keep_the_version_they_were_submitted_under(app):
    from onestop.catalog.operations import bundle_of, current_version, sync_catalog
    from workflows.catalog.schema import load_catalog

    application = make_application("restaurant_opening")
    commit()
    catalog = load_catalog()
    bundle = catalog.bundle("restaurant_opening")
    v2 = bundle.model_copy(update={"version": 2, "name": bundle.name.model_copy(update={"zh": "开办餐饮店（新版）"})})
    sync_catalog(catalog.model_copy(update={"bundles": [v2 if b.code == bundle.code else b for b in catalog.bundles]}))
    commit()
    assert current_version("restaurant_opening").version == 2
    assert bundle_of(application.bundle_version).name.zh == "开办餐饮店"


def test_config_refuses_bad_values():
    from onestop.config import ConfigError, load_settings

    base = {"ONESTOP_INSTANCE_PATH": "/tmp/onestop-config-test"}
    for env, needle in [
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL"),
        ({"ONESTOP_ENV": "prod"}, "ONESTOP_ENV"),
        ({"ONESTOP_ENV": "production"}, "SECRET_KEY"),
        ({"ONESTOP_TIMEZONE": "Mars/Olympus"}, "ONESTOP_TIMEZONE"),
        ({"ONESTOP_SESSION_IDLE_MINUTES": "soon"}, "ONESTOP_SESSION_IDLE_MINUTES"),
        ({"ONESTOP_ENV": "production", "SECRET_KEY": "x" * 40, "ONESTOP_ARGON2_PROFILE": "fast-insecure-tests-only"},
         "ONESTOP_ARGON2_PROFILE"),
    ]:
        with pytest.raises(ConfigError, match=needle):
            load_settings({**base, **env})
    settings = load_settings({**base, "DATABASE_URL": "postgresql://u@h/db"})
    assert settings.database_url == "postgresql+psycopg://u@h/db" and settings.redis_url is None
    assert os.path.exists("/tmp/onestop-config-test/secret_key")
