"""Certificates through the API (record, sealed PDF, verification by token and by upload) and the
certificate.issued / certificate.revoked webhooks, with a real development PKI."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from onestop.accounts.models import UserKind
from onestop.accounts.operations import create_staff
from onestop.certificates.models import Certificate
from onestop.certificates.operations import revoke
from onestop.certificates.pki import init_dev_pki
from onestop.core.jobs import commit
from onestop.extensions import db
from onestop.webhooks.operations import create_subscription
from tests.conftest import IsolatedClient, make_app
from tests.factories import PASSWORD, make_application, make_person, make_reviewer
from tests.integration.test_api import assert_error, auth, token_for
from tests.integration.test_webhooks import Receiver
from workflows.catalog.schema import load_catalog


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("api-pki")
    init_dev_pki(root, {d.code: d.name.zh for d in load_catalog().departments}, now=datetime.now(UTC))
    return root


@pytest.fixture
def app(database_url, tmp_path, pki_dir):
    application = make_app(database_url, tmp_path / "instance", ONESTOP_PKI_DIR=str(pki_dir))
    application.test_client_class = IsolatedClient
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


def test_certificates_through_the_api_and_their_webhooks(app, client):
    admin = create_staff(username="admin_c", password=PASSWORD, name="管理员", kind=UserKind.ADMIN)
    receiver = Receiver()
    try:
        receiver.secret = create_subscription("证照库", f"http://127.0.0.1:{receiver.port}/",
                                              ["certificate.issued", "certificate.revoked"], admin).secret
        person = make_person()
        application = make_application("newborn_birth", applicant=person, state="completed")
        commit()  # the fan-in happened: issuing runs after this commit, then the webhooks
        issued = list(db.session.scalars(select(Certificate).where(Certificate.application_id == application.id,
                                                                   Certificate.state == "issued")))
        assert issued
        assert sorted(r["body"]["data"]["serial"] for r in receiver.received if r["type"] == "certificate.issued") \
            == sorted(c.serial for c in issued)
        assert all(r["signed"] for r in receiver.received)

        secret = token_for(person, "read")
        listed = client.get(f"/api/v1/applications/{application.reference}", headers=auth(secret)).get_json()
        assert {c["serial"] for c in listed["certificates"]} == {c.serial for c in issued}
        certificate = issued[0]
        record = client.get(f"/api/v1/certificates/{certificate.id}", headers=auth(secret)).get_json()
        assert record["sha256"] == certificate.sha256 and record["revoked"] is False
        pdf = client.get(f"/api/v1/certificates/{certificate.id}/pdf", headers=auth(secret))
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
        assert hashlib.sha256(pdf.data).hexdigest() == certificate.sha256
        verdict = client.post("/api/v1/verify", data=pdf.data, content_type="application/pdf").get_json()
        assert verdict["status"] == "valid" and verdict["certificate"]["serial"] == certificate.serial
        assert client.get(f"/api/v1/verify/{certificate.token}").get_json()["status"] == "valid"
        assert_error(client.post("/api/v1/verify", data=b"x", content_type="text/plain"), 415, "unsupported_media_type")

        stranger = token_for(make_person(), "read")
        assert_error(client.get(f"/api/v1/certificates/{certificate.id}", headers=auth(stranger)), 404, "not_found")
        assert_error(client.get(f"/api/v1/certificates/{certificate.id}/pdf", headers=auth(stranger)), 404, "not_found")

        head = make_reviewer(certificate.department.code, head=True)
        revoke(certificate, "测试撤销", head)
        commit()
        revoked = [r for r in receiver.received if r["type"] == "certificate.revoked"]
        assert [r["body"]["data"]["serial"] for r in revoked] == [certificate.serial]
        assert client.get(f"/api/v1/verify/{certificate.token}").get_json()["status"] == "revoked"
        assert len(receiver.ids) == len(receiver.received)  # each event once
    finally:
        receiver.stop()
