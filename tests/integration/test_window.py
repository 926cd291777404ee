"""The service hall's window: look-up, registration, intake with proxy, the one form filled by the clerk,
the acceptance slip, activation codes, results handed over, and who may reach which page."""

from __future__ import annotations

import io
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

from onestop.accounts.models import User, UserKind
from onestop.accounts.operations import create_staff
from onestop.applications.models import Application
from onestop.audit.models import AuditEvent
from onestop.certificates.pki import init_dev_pki
from onestop.core.clock import now
from onestop.core.jobs import commit
from onestop.extensions import db
from onestop.window.models import ActivationCode, Handover, WindowIntake
from tests.conftest import IsolatedClient, make_app
from tests.factories import (
    PASSWORD,
    approve_open_steps,
    id_number,
    make_auditor,
    make_operator,
    make_person,
    make_reviewer,
    pdf_bytes,
)
from tests.integration.portal import field_value, hidden, login, logout, post_step, section_data
from workflows.catalog.schema import load_catalog

COMPANY = {
    "company_name": "郑州新芽科技有限公司", "company_type": "llc", "registered_capital": "100",
    "business_scope": "软件开发；信息技术咨询服务", "company_address": "郑州市金水区经三路25号", "employees": "5",
    "legal_rep_phone": "13800000009", "liaison_phone": "13800000009", "finance_officer_name": "刘会计",
    "finance_officer_phone": "13800000010", "seal_sets": "1", "invoice_type": "electronic",
    "want_housing_fund": True, "want_bank_account": True, "bank_name": "icbc",
}


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pki-window")
    init_dev_pki(root, {d.code: d.name.zh for d in load_catalog().departments}, now=datetime.now(UTC))
    return root


@pytest.fixture
def app(database_url, tmp_path, pki_dir):
    application = make_app(database_url, tmp_path / "instance", ONESTOP_PKI_DIR=str(pki_dir),
                           ONESTOP_SERVICE_HALL="郑州市政务服务中心 综合窗口")
    application.test_client_class = IsolatedClient
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def make_clerk(username: str = "clerk1") -> User:
    return create_staff(username=username, password=PASSWORD, name="窗口受理员", kind=UserKind.WINDOW)


def events(tag: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.tag == tag).order_by(AuditEvent.seq)))


def look_up(client, number: str, name: str, kind: str = "person"):
    page = client.get("/window/").get_data(as_text=True)
    return client.post("/window/", data={"csrf_token": hidden(page, "csrf_token"), "kind": kind, "number": number,
                                         "name": name})


def take_in(client, *, proxy: bool = True, collection: str = "window", bundle: str = "company_establishment"):
    page = client.get("/window/intake").get_data(as_text=True)
    data = {"csrf_token": hidden(page, "csrf_token"), "bundle": bundle, "consent": "y", "prefill_consent": "y",
            "collection": collection, "mail_recipient": "王五", "mail_phone": "13800000011",
            "mail_address": "郑州市金水区经三路25号"}
    if proxy:
        data.update({"has_proxy": "y", "proxy_name": "李四", "proxy_id_number": PROXY_ID, "proxy_relation": "朋友",
                     "proxy_document": (io.BytesIO(pdf_bytes()), "授权委托书.pdf")})
    return client.post("/window/intake", data=data, content_type="multipart/form-data")


PROXY_ID = id_number("19850101")


def fill_and_submit(client, draft_url: str) -> str:
    """The clerk walks the portal's own form (/drafts/...) with the applicant; returns the intake page URL."""
    from onestop.catalog.operations import bundle_of, current_version

    bundle = bundle_of(current_version("company_establishment"))
    for section in bundle.sections:
        page = client.get(f"{draft_url}/{section.key}").get_data(as_text=True)
        data = section_data("company_establishment", section.key, COMPANY)
        for spec in section.fields:
            if spec.key not in data and spec.type.value != "boolean":
                value = field_value(page, spec.key)
                if value:
                    data[spec.key] = value
        response = post_step(client, draft_url, section.key, data)
        assert response.status_code == 302, (section.key, response.get_data(as_text=True)[-3000:])
    files = {"file_articles_of_association": (io.BytesIO(pdf_bytes()), "章程.pdf"),
             "file_premises_proof": (io.BytesIO(pdf_bytes()), "住所证明.pdf")}
    response = post_step(client, draft_url, "materials", {}, files=files)
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    page = client.get(f"{draft_url}/check").get_data(as_text=True)
    response = client.post(f"{draft_url}/submit", data={"csrf_token": hidden(page, "csrf_token")})
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    assert "/window/intakes/" in response.headers["Location"]
    return response.headers["Location"]


def walk_in(client, *, proxy: bool = True, collection: str = "window") -> tuple[WindowIntake, str]:
    """A new citizen at the window: look-up finds nobody, registration, intake, form, submission."""
    number = id_number("19920315")
    response = look_up(client, number, "赵六")
    assert response.headers["Location"].endswith("/window/register")
    page = client.get("/window/register").get_data(as_text=True)
    response = client.post("/window/register", data={"csrf_token": hidden(page, "csrf_token"),
                                                      "phone": "13800000009", "address": "郑州市金水区经三路25号"})
    assert response.headers["Location"].endswith("/window/intake"), response.get_data(as_text=True)[-2000:]
    response = take_in(client, proxy=proxy, collection=collection)
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    draft_url = response.headers["Location"].rsplit("/", 1)[0]
    intake_url = fill_and_submit(client, draft_url)
    db.session.expire_all()
    intake = db.session.scalar(select(WindowIntake).order_by(WindowIntake.id.desc()))
    return intake, intake_url


def print_slip(client, intake_url: str):
    page = client.get(intake_url).get_data(as_text=True)
    return client.post(f"{intake_url}/slip.pdf", data={"csrf_token": hidden(page, "csrf_token")})


def slip_code(client, intake_url: str, tmp_path: Path) -> str:
    """Print the slip and read the activation code off it."""
    compact = re.sub(r"\s+", "", pdf_text(print_slip(client, intake_url).data, tmp_path))
    found = re.search(r"([A-Z2-9]{5}-[A-Z2-9]{5})", compact)
    assert found, compact
    return found[1]


def pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "out.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


# -- look-up ------------------------------------------------------------------------------------------------

def test_look_up_refuses_a_name_that_does_not_match_and_records_every_look_up(client):
    person = make_person(name="张三")
    make_clerk()
    commit()
    login(client, "clerk1")
    response = look_up(client, person.id_number, "张四")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "姓名与该号码登记的姓名不一致" in page
    assert "张四" in page  # what was typed is kept
    # A wrong check digit is refused with the portal's own message and recorded too.
    wrong = person.id_number[:17] + ("0" if person.id_number[17] != "0" else "1")
    page = look_up(client, wrong, "张三").get_data(as_text=True)
    assert "校验位不正确" in page
    response = look_up(client, person.id_number, "张三")
    assert response.headers["Location"].endswith("/window/intake")
    results = [e.data["result"] for e in events("window:look_up")]
    assert results == ["name_mismatch", "invalid_number", "found"]
    found = events("window:look_up")[-1]
    assert found.actor_role == "window" and found.subject_id == person.id
    # Personal data in the audit trail is masked.
    assert person.id_number not in str(found.data) and "*" in found.data["number"]


def test_enterprise_look_up_by_credit_code_checks_the_enterprise_name(client):
    operator = make_operator(enterprise_name="郑州豫味餐饮管理有限公司")
    make_clerk()
    commit()
    login(client, "clerk1")
    page = look_up(client, operator.enterprise.credit_code, "别的公司", kind="enterprise").get_data(as_text=True)
    assert "姓名与该号码登记的姓名不一致" in page or "不一致" in page
    response = look_up(client, operator.enterprise.credit_code, "郑州豫味餐饮管理有限公司", kind="enterprise")
    assert response.headers["Location"].endswith("/window/intake")
    page = client.get("/window/intake").get_data(as_text=True)
    assert "开办餐饮店" in page and "新生儿出生" not in page  # only the enterprise's matters


# -- walk-in to slip ----------------------------------------------------------------------------------------

def test_walk_in_with_proxy_submits_through_the_portal_form_and_prints_the_slip(client, tmp_path, artifacts):
    make_clerk()
    commit()
    login(client, "clerk1")
    intake, intake_url = walk_in(client)
    application = intake.application
    assert application is not None and application.applicant_id == intake.applicant_id
    assert intake.proxy_name == "李四" and intake.proxy_id_number == PROXY_ID
    assert intake.proxy_material.material_key == "window_proxy_authorisation"
    assert intake.proxy_material.owner_id == intake.applicant_id and intake.new_account
    assert intake.proxy_material.application_id == application.id  # kept with the application it authorised
    # The application records it came in at the window, by whom, with the proxy (masked).
    submitted = events("window:submitted")
    assert len(submitted) == 1 and submitted[0].subject_id == application.id
    assert submitted[0].actor_role == "window" and submitted[0].data["proxy"]["name"] == "李四"
    assert PROXY_ID not in str(submitted[0].data)
    assert [e.actor_role for e in events("application:submitted")] == ["window"]
    # The clerk's uploads belong to the applicant's application.
    assert {m.material_key for m in application.materials} == {"articles_of_association", "premises_proof",
                                                               "window_proxy_authorisation"}
    assert all(m.owner_id == application.applicant_id for m in application.materials)

    response = print_slip(client, intake_url)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    text = pdf_text(response.data, tmp_path)
    (artifacts / "window-slip.pdf").write_bytes(response.data)
    compact = re.sub(r"\s+", "", text)  # letter-spaced titles come out as 受 理 回 执
    assert "受理回执" in compact and application.reference in text and application.query_code in text
    assert "企业开办" in compact and "郑州市政务服务中心综合窗口" in compact and "窗口受理员" in compact
    assert "预计办结时间" in compact and "企业设立登记" in compact and "李四" in compact
    applicant = db.session.get(User, intake.applicant_id)
    assert applicant.masked_id_number in text and applicant.id_number not in text
    code = re.search(r"([A-Z2-9]{5}-[A-Z2-9]{5})", compact)
    assert code, text
    assert applicant.username in text and "/track?reference=" in text
    assert [e.data["activation_code_issued"] for e in events("window:slip_printed")] == [True]


def test_the_applicant_activates_the_account_and_sees_the_application(client, tmp_path):
    make_clerk()
    commit()
    login(client, "clerk1")
    intake, intake_url = walk_in(client)
    first = slip_code(client, intake_url, tmp_path)
    code = slip_code(client, intake_url, tmp_path)
    logout(client)
    applicant = db.session.get(User, intake.applicant_id)

    def activate(code_typed: str, number: str = applicant.id_number):
        page = client.get("/activate").get_data(as_text=True)
        return client.post("/activate", data={"csrf_token": hidden(page, "csrf_token"), "code": code_typed,
                                              "id_number": number, "password": "a new password 1",
                                              "confirm": "a new password 1"})

    # The first slip's code was voided by the reprint: only the paper in hand works.
    assert "激活码或身份证号码有误" in activate(first).get_data(as_text=True)
    response = activate(code.lower().replace("-", " "))  # typed loosely
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    assert "激活码或身份证号码有误" in activate(code).get_data(as_text=True)  # one time only
    login(client, applicant.username, "a new password 1")
    page = client.get("/my/applications").get_data(as_text=True)
    assert intake.application.reference in page
    page = client.get(f"/my/applications/{intake.application.reference}").get_data(as_text=True)
    assert "窗口协助下提交" in page and "代办人：李四（朋友）" in page
    assert [e.tag for e in events("account:activated")] == ["account:activated"]


def test_activation_codes_allow_five_tries_and_lapse_after_30_days(client, tmp_path):
    make_clerk()
    commit()
    login(client, "clerk1")
    intake, intake_url = walk_in(client, proxy=False, collection="online")
    code = slip_code(client, intake_url, tmp_path)
    logout(client)
    applicant = db.session.get(User, intake.applicant_id)

    def activate(code_typed: str):
        page = client.get("/activate").get_data(as_text=True)
        return client.post("/activate", data={"csrf_token": hidden(page, "csrf_token"), "code": code_typed,
                                              "id_number": applicant.id_number, "password": "a new password 1",
                                              "confirm": "a new password 1"}).get_data(as_text=True)

    for _ in range(4):
        assert "激活码或身份证号码有误" in activate("AAAAA-AAAAA")
    assert "激活码已失效" in activate("AAAAA-AAAAA")  # the fifth wrong try voids it
    assert "激活码已失效" in activate(code)  # even the right code is refused now
    db.session.expire_all()
    row = db.session.scalar(select(ActivationCode).where(ActivationCode.user_id == applicant.id))
    assert row.attempts == 5 and row.voided_at is not None and row.code_hash.startswith("$argon2")
    assert code.replace("-", "") not in row.code_hash

    # A new slip, then 30 days pass.
    login(client, "clerk1")
    code = slip_code(client, intake_url, tmp_path)
    logout(client)
    with time_machine.travel(now() + timedelta(days=30, minutes=1)):
        assert "激活码已过期" in activate(code)
    assert {e.data.get("why") for e in events("account:activation_failed")} >= {"wrong_code", "expired",
                                                                                 "too_many_tries"}


# -- results at the window ----------------------------------------------------------------------------------

def _complete(application_id: int) -> Application:
    application = db.session.get(Application, application_id)
    approve_open_steps(application)
    commit()  # the results are issued inline after this commit
    db.session.expire_all()
    return db.session.get(Application, application_id)


def test_results_are_handed_over_to_the_checked_collector_and_recorded(client, tmp_path):
    make_clerk()
    commit()
    login(client, "clerk1")
    intake, _url = walk_in(client)
    assert "RESULTS-NOT-READY" not in client.get("/window/results").get_data(as_text=True)
    assert intake.application.reference not in client.get("/window/results").get_data(as_text=True)
    application = _complete(intake.application_id)
    assert application.state == "completed"
    listing = client.get("/window/results").get_data(as_text=True)
    assert application.reference in listing
    applicant = db.session.get(User, intake.applicant_id)
    assert applicant.id_number not in listing

    url = f"/window/results/{application.reference}"
    page = client.get(url).get_data(as_text=True)
    assert "营业执照" in page
    # The combined print: every issued result in one PDF.
    printed = client.get(f"{url}/print.pdf")
    assert printed.status_code == 200 and printed.data.startswith(b"%PDF")
    from pypdf import PdfReader

    from onestop.window.operations import issued_results

    results = issued_results(application)
    assert len(results) >= 6  # 企业开办's results and the 办结通知书
    assert len(PdfReader(io.BytesIO(printed.data)).pages) >= len(results)
    assert "办结通知书" in re.sub(r"\s+", "", pdf_text(printed.data, tmp_path))

    def hand(**data):
        page = client.get(url).get_data(as_text=True)
        body = {"csrf_token": hidden(page, "csrf_token"), **data}
        return client.post(url, data=body, content_type="multipart/form-data")

    # The applicant's own name with someone else's ID number is refused (and recorded).
    page = hand(collector_kind="applicant", collector_name=applicant.name, collector_id_number=PROXY_ID)
    assert "领取人姓名或身份证号码与申请人不符" in page.get_data(as_text=True)
    # An authorised person must bring the signed authorisation.
    page = hand(collector_kind="authorised", collector_name="李四", collector_id_number=PROXY_ID,
                collector_relation="朋友")
    assert "请上传领取人的授权委托书" in page.get_data(as_text=True)
    response = hand(collector_kind="authorised", collector_name="李四", collector_id_number=PROXY_ID,
                    collector_relation="朋友", collector_document=(io.BytesIO(pdf_bytes()), "授权.pdf"))
    assert response.status_code == 302
    db.session.expire_all()
    handover = db.session.scalar(select(Handover))
    assert handover.collector_kind == "authorised" and handover.collector_name == "李四"
    assert handover.collector_id_masked == PROXY_ID[:6] + "********" + PROXY_ID[-4:]
    assert any("营业执照" in r["title"] for r in handover.results) and handover.hall == "郑州市政务服务中心 综合窗口"
    recorded = events("window:results_handed_over")
    assert len(recorded) == 1 and recorded[0].data["collector"]["name"] == "李四" and recorded[0].actor_role == "window"
    assert [e.tag for e in events("window:collector_refused")] == ["window:collector_refused"]
    # Handed over once: gone from the list, and a second hand-over is refused.
    assert application.reference not in client.get("/window/results").get_data(as_text=True).split("最近出件")[0]
    page = hand(collector_kind="applicant", collector_name=applicant.name, collector_id_number=applicant.id_number)
    assert db.session.scalar(select(Handover.id).where(Handover.id != handover.id)) is None
    assert "李四" in page.get_data(as_text=True)


def test_mailed_results_get_a_tracking_number_told_to_the_applicant(client):
    make_clerk()
    commit()
    login(client, "clerk1")
    intake, _url = walk_in(client, proxy=False, collection="mail")
    application = _complete(intake.application_id)
    url = f"/window/results/{application.reference}"
    page = client.get(url).get_data(as_text=True)
    assert "郑州市金水区经三路25号" in page
    response = client.post(url, data={"csrf_token": hidden(page, "csrf_token"), "collector_kind": "mail",
                                      "carrier": "中国邮政EMS", "tracking_number": ""})
    assert "请填写寄递企业和运单号" in response.get_data(as_text=True)
    response = client.post(url, data={"csrf_token": hidden(page, "csrf_token"), "collector_kind": "mail",
                                      "carrier": "中国邮政EMS", "tracking_number": "EM123456789CN"})
    assert response.status_code == 302
    db.session.expire_all()
    handover = db.session.scalar(select(Handover))
    assert handover.method == "mail" and handover.tracking_number == "EM123456789CN"
    from onestop.applications.models import Notification

    kinds = {n.kind: n.data for n in db.session.scalars(select(Notification).where(
        Notification.application_id == application.id))}
    assert kinds["results_mailed"]["detail"].endswith("EM123456789CN")


# -- authorization ------------------------------------------------------------------------------------------

WINDOW_URLS = ["/window/", "/window/intake", "/window/register", "/window/results"]


@pytest.mark.parametrize("role", ["anonymous", "person", "enterprise", "reviewer", "auditor", "admin", "window"])
def test_only_window_clerks_reach_the_window_pages(client, role):
    users = {"person": lambda: make_person(username="u_person"), "enterprise": lambda: make_operator(username="u_op"),
             "reviewer": lambda: make_reviewer("samr", username="u_rev"), "auditor": make_auditor,
             "admin": lambda: create_staff(username="u_admin", password=PASSWORD, name="管理员", kind=UserKind.ADMIN),
             "window": lambda: make_clerk("u_window")}
    if role != "anonymous":
        user = users[role]()
        commit()
        login(client, user.username)
    for url in WINDOW_URLS:
        status = client.get(url).status_code
        if role == "window":
            assert status in (200, 302), url
        elif role == "anonymous":
            assert status == 302 and True, url  # to the login page
        else:
            assert status == 403, (role, url)
    if role != "window":
        assert client.post("/window/", data={"number": "x", "name": "y"}).status_code in (302, 400, 403)


def test_a_clerk_cannot_open_applicants_own_drafts_or_other_pages(client):
    person = make_person(username="owner1")
    make_clerk()
    commit()
    login(client, "owner1")
    response = client.get("/apply/newborn_birth")
    draft_url = response.headers["Location"]
    logout(client)
    login(client, "clerk1")
    assert client.get(draft_url).status_code == 404  # not taken in at the window
    assert client.get("/my/applications").status_code in (302, 403)
    assert client.get("/desk/").status_code in (302, 403, 404)
    assert person.id_number  # the applicant's own draft stays theirs


def test_window_posts_need_the_csrf_token_and_answers_are_escaped(client):
    make_clerk()
    commit()
    login(client, "clerk1")
    assert client.post("/window/", data={"kind": "person", "number": id_number(), "name": "x"}).status_code == 400
    page = look_up(client, id_number(), "<script>alert(1)</script>")
    assert page.status_code == 302
    page = client.get("/window/register").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_the_demo_creates_a_window_clerk(app, tmp_path):
    from onestop.cli import demo

    result = app.test_cli_runner().invoke(demo, ["--password-file", str(tmp_path / "accounts.txt")])
    assert result.exit_code == 0, result.output
    clerk = db.session.scalar(select(User).where(User.username == "window_clerk"))
    assert clerk is not None and clerk.kind == "window"
    assert "window_clerk" in (tmp_path / "accounts.txt").read_text(encoding="utf-8")


def test_an_online_applicant_chooses_collection_at_the_window_and_sees_the_hand_over(client):
    from tests.factories import make_application

    applicant = make_person(username="online1", name="周九")
    stranger = make_person(username="stranger1")
    make_clerk()
    application = make_application("newborn_birth", applicant=applicant)
    commit()
    reference = application.reference
    login(client, "stranger1")
    assert client.post(f"/my/applications/{reference}/collection", data={
        "csrf_token": hidden(client.get("/my/applications").get_data(as_text=True), "csrf_token"),
        "collection-method": "window"}).status_code == 404
    logout(client)
    login(client, "online1")
    page = client.get(f"/my/applications/{reference}").get_data(as_text=True)
    assert "您希望如何领取办理结果" in page and "郑州市政务服务中心 综合窗口" in page
    response = client.post(f"/my/applications/{reference}/collection", data={
        "csrf_token": hidden(page, "csrf_token"), "collection-method": "mail", "collection-mail_recipient": "",
        "collection-mail_phone": "", "collection-mail_address": ""})
    assert "邮寄送达须填写收件人" in client.get(response.headers["Location"]).get_data(as_text=True)
    client.post(f"/my/applications/{reference}/collection", data={
        "csrf_token": hidden(page, "csrf_token"), "collection-method": "window"})
    assert [e.data["method"] for e in events("application:collection_chosen")] == ["window"]
    logout(client)
    _complete(application.id)
    assert stranger.id  # a stranger saw nothing and changed nothing

    login(client, "clerk1")
    assert reference in client.get("/window/results").get_data(as_text=True)
    url = f"/window/results/{reference}"
    page = client.get(url).get_data(as_text=True)
    response = client.post(url, data={"csrf_token": hidden(page, "csrf_token"), "collector_kind": "applicant",
                                      "collector_name": "周九", "collector_id_number": applicant.id_number},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    logout(client)
    login(client, "online1")
    page = client.get(f"/my/applications/{reference}").get_data(as_text=True)
    assert "在郑州市政务服务中心 综合窗口领取" in page and "您希望如何领取办理结果" not in page
    # The choice is closed once the results have left.
    client.post(f"/my/applications/{reference}/collection", data={
        "csrf_token": hidden(page, "csrf_token"), "collection-method": "online"})
    assert [e.data["method"] for e in events("application:collection_chosen")] == ["window"]


def test_look_ups_are_rate_limited(database_url, tmp_path):
    limited = make_app(database_url, tmp_path / "instance-limited", RATELIMIT_ENABLED=True)
    limited.test_client_class = IsolatedClient
    with limited.app_context():
        make_clerk()
        commit()
        client = limited.test_client()
        login(client, "clerk1")
        page = client.get("/window/").get_data(as_text=True)
        token = hidden(page, "csrf_token")
        codes = [client.post("/window/", data={"csrf_token": token, "kind": "person", "number": id_number(),
                                               "name": "张三"}).status_code for _ in range(31)]
        assert codes[:30] == [302] * 30 and codes[30] == 429
        db.session.remove()
        db.engine.dispose()


def test_an_unregistered_enterprise_is_registered_at_the_window_with_its_operator(client):
    from tests.factories import credit_code

    make_clerk()
    commit()
    login(client, "clerk1")
    code = credit_code()
    response = look_up(client, code, "郑州新开五金有限公司", kind="enterprise")
    assert response.headers["Location"].endswith("/window/register")
    page = client.get("/window/register").get_data(as_text=True)
    assert code in page  # credit codes are public
    response = client.post("/window/register", data={"csrf_token": hidden(page, "csrf_token"),
                                                      "phone": "13800000012"})
    assert "企业须填写法定代表人和经办人" in response.get_data(as_text=True)
    operator_id = id_number("19800101")
    response = client.post("/window/register", data={
        "csrf_token": hidden(page, "csrf_token"), "phone": "13800000012", "legal_representative": "吴十",
        "operator_name": "郑十一", "operator_id_number": operator_id})
    assert response.headers["Location"].endswith("/window/intake")
    db.session.expire_all()
    operator = db.session.scalar(select(User).where(User.id_number == operator_id))
    assert operator.kind == "enterprise" and operator.enterprise.credit_code == code
    assert operator.enterprise.name == "郑州新开五金有限公司" and operator.name == "郑十一"
    opened = events("window:account_opened")
    assert len(opened) == 1 and opened[0].actor_role == "window"
    page = client.get("/window/intake").get_data(as_text=True)
    assert "开办餐饮店" in page and "新生儿出生" not in page
