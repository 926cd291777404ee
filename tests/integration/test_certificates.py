"""Certificates: issued sealed when an application ends, checked by independent tools, verifiable by anyone.

pdfsig (poppler, with an NSS database trusting our development root) and pyHanko's validator check the
seal; pdftotext reads the holder and the serial back; pdftoppm renders page 1 into test-artifacts/.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from onestop.certificates import operations
from onestop.certificates.models import Certificate
from onestop.certificates.pki import init_dev_pki
from onestop.certificates.rendering import MissingGlyphs, check_environment, check_glyphs
from onestop.certificates.verification import check_signature, verify_upload
from onestop.core.jobs import commit
from onestop.extensions import db
from tests.conftest import REDIS_URL, IsolatedClient, make_app
from tests.factories import (
    PASSWORD,
    answers_for,
    make_application,
    make_auditor,
    make_operator,
    make_reviewer,
    pdf_bytes,
    step_of,
)
from workflows.catalog.schema import load_catalog

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pki")
    init_dev_pki(root, {d.code: d.name.zh for d in load_catalog().departments}, now=datetime.now(UTC))
    return root


@pytest.fixture
def app(database_url, tmp_path, pki_dir):
    application = make_app(database_url, tmp_path / "instance", ONESTOP_PKI_DIR=str(pki_dir), WTF_CSRF_ENABLED=False)
    application.test_client_class = IsolatedClient
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def _results(application_id: int) -> list[Certificate]:
    db.session.expire_all()
    return list(db.session.scalars(select(Certificate).where(Certificate.application_id == application_id)
                                   .order_by(Certificate.department_id, Certificate.number)))


def _completed_restaurant(name: str = "郑州豫味餐饮管理有限公司"):
    operator = make_operator(enterprise_name=name)
    answers = answers_for("restaurant_opening", operator, enterprise_name=name, operator_id=operator.id_number)
    application = make_application("restaurant_opening", applicant=operator, answers=answers, state="completed")
    commit()  # fan-in happened: the issuing jobs run inline after this commit
    return operator, application


def _login(client, username: str) -> None:
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.data[:500]


def test_an_ended_application_gets_every_result_sealed_and_the_completion_notice(app):
    operator, application = _completed_restaurant()
    results = _results(application.id)
    # 营业执照, 食品经营许可证, 消防 (350 m² needs the fire check), 排水许可证, and the 办结通知书.
    assert Counter(c.output_key for c in results) == Counter({
        "shop_business_licence": 1, "food_business_licence": 1, "fire_safety_approval": 1,
        "drainage_permit": 1, "completion_notice": 1})
    assert all(c.state == "issued" and c.last_error is None for c in results), [(c.serial, c.last_error) for c in results]
    year = results[0].year
    samr = [c.serial for c in results if c.department.code == "samr"]
    # Per department and year, gapless, the notice after the department's own results.
    assert samr == [f"{year}-SAMR-000001", f"{year}-SAMR-000002", f"{year}-SAMR-000003"]
    assert results[[c.serial for c in results].index(samr[-1])].kind == "notice"
    for c in results:
        data = operations.file_path(c).read_bytes()
        import hashlib

        assert hashlib.sha256(data).hexdigest() == c.sha256 and len(data) == c.size
        assert c.signature_level == "PAdES-B-B" and len(c.key_id) == 64
        # Outside the web root.
        assert not operations.file_path(c).resolve().is_relative_to(PROJECT / "static")


@pytest.fixture(scope="session")
def nss_db(tmp_path_factory, pki_dir) -> str | None:
    """An NSS database trusting our development root, so pdfsig can judge the signer too."""
    if shutil.which("certutil") is None:
        return None
    root = tmp_path_factory.mktemp("nss")
    subprocess.run(["certutil", "-N", "-d", f"sql:{root}", "--empty-password"], check=True, capture_output=True)
    subprocess.run(["certutil", "-A", "-d", f"sql:{root}", "-n", "onestop-dev-root", "-t", "CT,C,C",
                    "-i", str(pki_dir / "root-ca.pem")], check=True, capture_output=True)
    return f"sql:{root}"


def test_independent_tools_accept_the_seal_and_read_the_text(app, artifacts, nss_db):
    _operator, application = _completed_restaurant("郑州豫味餐饮管理有限公司")
    licence = next(c for c in _results(application.id) if c.output_key == "food_business_licence")
    path = operations.file_path(licence)

    args = ["pdfsig"] + (["-nssdir", nss_db] if nss_db else []) + [str(path)]
    pdfsig = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    assert "Signature Validation: Signature is Valid." in pdfsig
    assert "Total document signed" in pdfsig
    if nss_db:
        assert "Certificate Validation: Certificate is Trusted." in pdfsig

    check = check_signature(path.read_bytes())
    assert check.present and check.intact and check.whole_file and check.trusted
    assert check.key_id == licence.key_id and licence.serial in check.reason

    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "郑州豫味餐饮管理有限公司" in text
    assert licence.serial in text
    assert "食品经营许可证" in text.replace(" ", "")

    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    cjk = [line for line in fonts.splitlines() if "CJK" in line]
    assert cjk and all(" yes yes yes " in line for line in cjk)  # embedded, subset, with Unicode map

    for c in _results(application.id):
        if c.output_key in ("food_business_licence", "completion_notice", "shop_business_licence"):
            target = artifacts / f"certificate-{c.output_key}"
            subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile",
                            str(operations.file_path(c)), str(target)], check=True)
            assert target.with_suffix(".png").stat().st_size > 10_000


def _flip_one_byte_in_page_content(data: bytes) -> bytes:
    """Change one byte inside the first content stream (the page text): the file still parses."""
    start = data.index(b"stream\n", data.index(b"/Filter /FlateDecode")) + len(b"stream\n")
    position = start + 40
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1:]


def test_one_byte_changed_after_signing_is_reported_altered(app, client):
    _operator, application = _completed_restaurant()
    licence = next(c for c in _results(application.id) if c.output_key == "drainage_permit")
    original = operations.file_path(licence).read_bytes()
    altered = _flip_one_byte_in_page_content(original)
    assert len(altered) == len(original) and altered != original

    verdict = verify_upload(altered)
    assert verdict.status == "altered"
    assert verdict.certificate is not None and verdict.certificate.serial == licence.serial  # named by its seal
    assert verify_upload(original).status == "valid"

    page = client.post("/verify", data={"document": (io.BytesIO(altered), "licence.pdf")},
                       content_type="multipart/form-data")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "签章后被篡改" in html and licence.serial in html

    tmp = Path(app.instance_path) / "altered.pdf"
    tmp.write_bytes(altered)
    pdfsig = subprocess.run(["pdfsig", str(tmp)], capture_output=True, text=True).stdout
    assert "Signature is Invalid" in pdfsig or "Digest Mismatch" in pdfsig


def test_the_verification_page_names_each_other_problem(app, client, tmp_path):
    _operator, application = _completed_restaurant()
    licence = next(c for c in _results(application.id) if c.output_key == "shop_business_licence")
    original = operations.file_path(licence).read_bytes()

    assert verify_upload(pdf_bytes()).status == "not_issued"  # no seal at all
    assert verify_upload(b"hello").status == "unreadable"
    # Content appended after signing (an incremental update): the seal no longer covers the whole file.
    appended = original + b"\n1 0 obj\n(forged) \nendobj\n"
    assert verify_upload(appended).status in ("altered", "unreadable")

    # Sealed by a key that is not one of our departments'.
    other = tmp_path / "other-pki"
    init_dev_pki(other, {"samr": "冒名市场监督管理局"}, now=datetime.now(UTC))
    from onestop.certificates.service import render_document
    from onestop.certificates.signing import PyHankoSealSigner, SealRequest

    forged = PyHankoSealSigner(other / "departments/samr.key", other / "departments/samr.pem",
                               [other / "root-ca.pem"], None).sign(render_document(licence),
                                                                    SealRequest("伪造", "x", "x"))
    assert verify_upload(forged).status == "unknown_signer"
    page = client.post("/verify", data={"document": (io.BytesIO(forged), "x.pdf")}, content_type="multipart/form-data")
    assert "签名者未知" in page.get_data(as_text=True)


def test_revocation_shows_at_once_to_the_public_and_the_holder(app, client):
    operator, application = _completed_restaurant()
    licence = next(c for c in _results(application.id) if c.output_key == "food_business_licence")
    original = operations.file_path(licence).read_bytes()
    page = client.get(f"/verify/{licence.token}")
    assert page.status_code == 200 and "有效" in page.get_data(as_text=True)
    assert "郑州豫味餐饮管理有限公司" not in page.get_data(as_text=True)  # the holder is masked

    reviewer = make_reviewer("samr")
    head = make_reviewer("samr", head=True)
    commit()
    _login(client, reviewer.username)  # a reviewer may list, not revoke
    assert client.post(f"/desk/certificates/{licence.id}/revoke", data={"reason": "x"}).status_code == 403
    client.post("/logout")
    _login(client, head.username)
    listing = client.get("/desk/certificates").get_data(as_text=True)
    assert licence.serial in listing
    response = client.post(f"/desk/certificates/{licence.id}/revoke", data={"reason": "经营场所与承诺不符"})
    assert response.status_code == 302

    page = client.get(f"/verify/{licence.token}").get_data(as_text=True)
    assert "已撤销" in page and "经营场所与承诺不符" in page
    db.session.expire_all()  # the revocation was committed by the request's own session
    assert verify_upload(original).status == "revoked"
    client.post("/logout")
    _login(client, operator.username)
    detail = client.get(f"/my/applications/{application.reference}").get_data(as_text=True)
    assert "已撤销" in detail and "经营场所与承诺不符" in detail


def test_a_false_commitment_found_by_the_post_check_revokes_the_certificate(app):
    from onestop.reviews.operations import Decision, decide, record_post_check
    from tests.factories import approve_open_steps
    from workflows.states import StepAction

    operator = make_operator()
    application = make_application("restaurant_opening", applicant=operator, state="licence_approved")
    food = step_of(application, "food_licence")
    reviewer = make_reviewer("samr", head=True)
    decide(food.id, None, Decision(StepAction.ACCEPT), reviewer)
    decide(food.id, None, Decision(StepAction.APPROVE, on_commitment=True), reviewer)
    approve_open_steps(application)
    commit()
    licence = next(c for c in _results(application.id) if c.output_key == "food_business_licence")
    assert licence.is_issued and not licence.is_revoked
    record_post_check(food.id, False, "现场核查：无隔油设施，承诺不实", reviewer)
    commit()
    db.session.expire_all()
    licence = db.session.get(Certificate, licence.id)
    assert licence.is_revoked and "承诺不实" in licence.revoke_reason


def test_downloads_are_for_the_holder_the_department_and_auditors_only(app, client):
    operator, application = _completed_restaurant()
    results = _results(application.id)
    licence = next(c for c in results if c.output_key == "drainage_permit")
    stranger = make_operator()
    other_department = make_reviewer("fire")
    own_department = make_reviewer("water")
    auditor = make_auditor()
    commit()
    expected = {operator.username: 200, stranger.username: 404, other_department.username: 404,
                own_department.username: 200, auditor.username: 200}
    for username, status in expected.items():
        client.post("/logout")
        _login(client, username)
        response = client.get(f"/certificates/{licence.id}.pdf")
        assert response.status_code == status, username
        if status == 200:
            assert response.data == operations.file_path(licence).read_bytes()
    client.post("/logout")
    assert client.get(f"/certificates/{licence.id}.pdf").status_code == 302  # to the login page

    _login(client, operator.username)
    detail = client.get(f"/my/applications/{application.reference}").get_data(as_text=True)
    assert all(c.serial in detail for c in results)
    bundle = client.get(f"/my/applications/{application.reference}/results.zip")
    assert bundle.status_code == 200
    with zipfile.ZipFile(io.BytesIO(bundle.data)) as archive:
        names = archive.namelist()
        assert len(names) == len(results) and any("办结通知书" in n for n in names)
        assert all(verify_upload(archive.read(n)).status == "valid" for n in names)
    client.post("/logout")
    _login(client, stranger.username)
    assert client.get(f"/my/applications/{application.reference}/results.zip").status_code == 404
    # Staff downloads are audit events (personal data viewed).
    from onestop.audit.models import AuditEvent

    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.tag == "certificate:downloaded")) == 2


def test_issuing_again_changes_nothing(app):
    _operator, application = _completed_restaurant()
    before = [(c.id, c.serial, c.sha256) for c in _results(application.id)]
    from onestop.certificates.jobs import issue_certificates, seal_certificates

    for _ in range(2):
        issue_certificates(application.id)
        seal_certificates(application.id)
        commit()
    assert [(c.id, c.serial, c.sha256) for c in _results(application.id)] == before


def test_a_rollback_gives_the_serial_back_and_a_crash_before_storing_leaves_a_reservation(app, monkeypatch):
    operator = make_operator()
    application = make_application("restaurant_opening", applicant=operator, state="completed")
    application_id = application.id
    # The application ends in this transaction; reserve, then roll everything back.
    commit_jobs = db.session.info.pop("onestop_jobs_pending", None)  # the inline jobs would issue at commit
    commit()
    assert commit_jobs
    reserved = operations.reserve_results(application_id)
    numbers = sorted(c.serial for c in reserved)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == 0
    again = operations.reserve_results(application_id)
    assert sorted(c.serial for c in again) == numbers  # no gap: the rolled-back numbers were given back
    commit()

    # The process dies after the file is written, before the row is updated (simulated by a failure).
    written: list[Path] = []
    real_store = operations._store

    def store_then_fail(data: bytes, serial: str) -> str:
        name = real_store(data, serial)
        written.append(operations.storage_dir() / name)
        raise RuntimeError("power cut")

    monkeypatch.setattr(operations, "_store", store_then_fail)
    with pytest.raises(RuntimeError):
        operations.issue_reserved(application_id)
    db.session.rollback()
    assert written and not any(p.exists() for p in written)  # the unrecorded file went with the transaction
    results = _results(application_id)
    assert {c.state for c in results} == {"pending"}  # numbered reservations, nothing half-issued
    monkeypatch.setattr(operations, "_store", real_store)
    operations.issue_reserved(application_id)
    commit()
    results = _results(application_id)
    assert {c.state for c in results} == {"issued"} and sorted(c.serial for c in results) == numbers


def test_a_character_the_font_lacks_is_reported_not_boxed(app):
    with pytest.raises(MissingGlyphs) as caught:
        check_glyphs(["郑州\U0001F600餐饮", "正常"])
    assert "U+1F600" in str(caught.value)
    check_glyphs(["郑州豫味餐饮管理有限公司 2026-SAMR-000001 ０１２《》（）：；，。"])

    _operator, application = _completed_restaurant("郑州\uE000餐饮有限公司")  # a private-use character
    results = _results(application.id)
    assert {c.state for c in results} == {"pending"}
    assert all("U+E000" in (c.last_error or "") for c in results), [c.last_error for c in results]


def test_startup_check_names_the_harfbuzz_package(monkeypatch):
    from onestop.certificates import rendering

    assert check_environment() == []
    monkeypatch.setattr(rendering, "harfbuzz_subset_available", lambda: False)
    assert any("libharfbuzz-subset0" in p for p in check_environment())


def test_pki_commands(app, tmp_path):
    runner = app.test_cli_runner()
    app.config["ONESTOP_PKI_DIR"] = str(tmp_path / "pki")
    result = runner.invoke(args=["onestop", "pki", "init"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "pki/departments/samr.key").stat().st_mode & 0o077 == 0
    assert "nothing to do" in runner.invoke(args=["onestop", "pki", "init"]).output
    status = runner.invoke(args=["onestop", "pki", "status"])
    assert status.exit_code == 0 and "samr" in status.output and "valid until" in status.output


def test_settings_for_certificates_are_parsed_strictly(tmp_path):
    from onestop.config import ConfigError, load_settings

    base = {"ONESTOP_INSTANCE_PATH": str(tmp_path)}
    assert load_settings(base).tsa_url is None
    assert load_settings({**base, "ONESTOP_TSA_URL": "https://tsa.example.cn/tsr"}).tsa_url == "https://tsa.example.cn/tsr"
    with pytest.raises(ConfigError, match="ONESTOP_TSA_URL"):
        load_settings({**base, "ONESTOP_TSA_URL": "tsa.example.cn"})
    with pytest.raises(ConfigError, match="ONESTOP_PUBLIC_URL"):
        load_settings({**base, "ONESTOP_PUBLIC_URL": "onestop.example.cn"})
    with pytest.raises(ConfigError, match="ONESTOP_PUBLIC_URL"):
        load_settings({**base, "ONESTOP_ENV": "production", "SECRET_KEY": "k" * 40})
    assert load_settings({**base, "ONESTOP_PUBLIC_URL": "https://zwfw.example.cn/"}).public_url == "https://zwfw.example.cn"


@pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL not set (CI sets it and fails when Redis is missing)")
def test_two_rq_workers_at_once_issue_each_result_exactly_once(templates, database_url, backend, tmp_path, pki_dir):
    if backend != "postgresql":
        pytest.skip("concurrent workers need PostgreSQL (CI runs it)")
    from redis import Redis
    from rq import Queue

    from onestop.core.jobs import execute_many

    instance = tmp_path / "instance"
    app = make_app(database_url, instance, with_redis=True, ONESTOP_PKI_DIR=str(pki_dir))
    queue = Queue("onestop", connection=Redis.from_url(REDIS_URL))
    queue.empty()
    with app.app_context():
        operator = make_operator()
        ids = [make_application("restaurant_opening", applicant=operator, state="completed").id for _ in range(4)]
        commit()  # enqueues each application's jobs once (issue_certificates among them)
        for application_id in ids:  # and the same job again: two runs per application, racing
            queue.enqueue(execute_many, [("issue_certificates", (application_id,))])
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL, "ONESTOP_ENV": "testing",
               "ONESTOP_INSTANCE_PATH": str(instance), "ONESTOP_PKI_DIR": str(pki_dir),
               "SECRET_KEY": "test-secret-key-" + "x" * 32, "ONESTOP_ARGON2_PROFILE": "fast-insecure-tests-only"}
        rq = str(Path(sys.executable).with_name("rq"))
        workers = [subprocess.Popen([rq, "worker", "--burst", "--worker-class", "onestop.certificates.worker.PreloadingWorker", "--url", REDIS_URL, "--name", f"certs-{n}-{time.time()}",
                                     "onestop"], cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                   for n in range(2)]
        outputs = [w.communicate(timeout=300)[0].decode() for w in workers]
        assert all(w.returncode == 0 for w in workers), outputs
        db.session.expire_all()
        rows = db.session.scalars(select(Certificate).where(Certificate.application_id.in_(ids))).all()
        assert Counter(r.application_id for r in rows) == dict.fromkeys(ids, 5)  # 4 results + 1 notice each
        assert {r.state for r in rows} == {"issued"}
        per_department = Counter(r.department_id for r in rows)
        for department_id, count in per_department.items():
            numbers = sorted(r.number for r in rows if r.department_id == department_id)
            assert numbers == list(range(1, count + 1))  # gapless
        files = list((instance / "certificates").glob("*.pdf"))
        assert sorted(f.name for f in files) == sorted(r.stored_name for r in rows)  # losers left no file
        db.engine.dispose()


@pytest.fixture
def local_tsa(pki_dir):
    """An RFC 3161 time-stamp authority on localhost (pyHanko's test TSA behind http.server), with a
    time-stamping certificate from our development root."""
    import datetime as dt
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from asn1crypto import keys as asn1_keys
    from asn1crypto import tsp
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    ca_key = serialization.load_pem_private_key((pki_dir / "root-ca.key").read_bytes(), None)
    ca = x509.load_pem_x509_certificate((pki_dir / "root-ca.pem").read_bytes())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # pyHanko's test TSA signs RSA only
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dev TSA")]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .sign(ca_key, hashes.SHA256()))
    stamper = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())))
    requests_seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            requests_seen.append(body)
            answer = stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/", requests_seen
    server.shutdown()


def test_a_configured_time_stamp_authority_makes_the_seals_pades_b_t(app, local_tsa):
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.pdf_embedded import async_validate_pdf_signature

    from onestop.certificates.signing import run_async
    from onestop.certificates.verification import validation_context

    url, seen = local_tsa
    app.config["ONESTOP_TSA_URL"] = url
    _operator, application = _completed_restaurant()
    results = _results(application.id)
    assert {c.signature_level for c in results} == {"PAdES-B-T"} and len(seen) >= len(results)
    data = operations.file_path(results[0]).read_bytes()
    embedded = PdfFileReader(io.BytesIO(data)).embedded_signatures[0]
    context = validation_context()
    status = run_async(lambda: async_validate_pdf_signature(embedded, context))
    assert status.bottom_line and status.timestamp_validity is not None and status.timestamp_validity.intact
    assert verify_upload(data).status == "valid"
