"""信用+秒批 on the engine: instant approval at the start of a step, the queue when a rule fails, the rule
set kept with each decision, the heads' switch and the administrator's credit list."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine
from sqlalchemy import func, select

from onestop.applications.models import Notification, StepTransition
from onestop.audit.models import AuditEvent
from onestop.audit.operations import Actor
from onestop.catalog.operations import sync_catalog
from onestop.core.jobs import commit
from onestop.extensions import db
from onestop.instant.models import CreditRecord, InstantSwitch
from onestop.instant.operations import CreditListError, import_credit_list
from onestop.reviews.operations import Decision, decide
from tests.factories import (
    COMPANY_ANSWERS,
    PASSWORD,
    approve_open_steps,
    make_application,
    make_auditor,
    make_person,
    make_reviewer,
    step_of,
)
from tests.integration.test_web import csrf, login
from workflows.states import StepAction

SHANGHAI = ZoneInfo("Asia/Shanghai")
INSTANT = ("social_insurance", "housing_fund")


def company(applicant=None, **overrides):
    applicant = applicant or make_person()
    answers = dict(COMPANY_ANSWERS, legal_rep_id=applicant.id_number, **overrides)
    return make_application("company_establishment", applicant=applicant, answers=answers)


def approve_registration(application):
    samr = make_reviewer("samr")
    registration = step_of(application, "establishment_registration")
    decide(registration.id, None, Decision(StepAction.ACCEPT), samr)
    decide(registration.id, None, Decision(StepAction.APPROVE), samr)


def test_clean_company_establishment_completes_within_its_promised_working_day(app):
    # Monday 2026-11-23, 09:00 in Shanghai: submitted; registration decided by a reviewer at 10:00.
    with time_machine.travel(datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI), tick=False):
        staff = {code: make_reviewer(code) for code in ("samr", "psb", "tax", "hrss", "hpf", "bank")}
        application = company()
        commit()
    with time_machine.travel(datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI), tick=False):
        approve_registration(application)
        commit()
        for code in INSTANT:  # approved by the system the moment they started
            step = step_of(application, code)
            assert step.state == "approved" and step.decided_by_id is None
            assert step.decided_at == datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
            assert step.instant_rule_set == f"company_establishment v{_version()} {code} #1"
            assert all(r["passed"] for r in step.instant_results)
            log = db.session.scalars(select(StepTransition).where(StepTransition.step_id == step.id)
                                     .order_by(StepTransition.seq)).all()
            assert [(t.action, t.actor_role) for t in log[-2:]] == [("accept", "system"), ("approve", "system")]
            assert "#1" in log[-1].rule
        others = [s for s in application.steps if s.item_code not in INSTANT and s.is_open]
        assert {s.item_code for s in others} == {"seal_filing", "tax_invoice", "bank_account"}
    with time_machine.travel(datetime(2026, 11, 23, 14, 30, tzinfo=SHANGHAI), tick=False):
        approve_open_steps(application)
        commit()
    assert application.state == "completed"
    assert application.ended_at <= datetime(2026, 11, 23, 17, 0, tzinfo=SHANGHAI)  # 1 working day promised
    # The departments with instant items were never asked to do anything; the others were.
    told = set(db.session.scalars(select(Notification.user_id).where(
        Notification.application_id == application.id, Notification.kind == "step_received")))
    assert told == {staff[code].id for code in ("samr", "psb", "tax", "bank")}


def test_a_failing_rule_sends_the_step_to_the_queue_with_the_reason(app, client):
    hrss = make_reviewer("hrss")
    application = company(employees=101)  # one over the small-employer limit of 100
    approve_registration(application)
    commit()
    social = step_of(application, "social_insurance")
    assert social.state == "received" and social.decided_at is None
    failed = [r["key"] for r in social.instant_results if not r["passed"]]
    assert failed == ["small_employer"]
    assert step_of(application, "housing_fund").state == "approved"  # its own rules do not cap employees
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == hrss.id, Notification.kind == "step_received")) == 1
    login(client, hrss.username)
    page = client.get(f"/desk/steps/{social.id}").get_data(as_text=True)
    assert "秒批规则核验" in page and "未通过" in page and "参保职工不超过100人" in page and "不符合（参保职工人数：101）" in page


def test_credit_list_decides_the_credit_rules(app):
    applicant = make_person()
    csv = f"code,name,status,open_penalties\n{applicant.id_number},{applicant.name},严重失信,0\n".encode()
    import_credit_list(csv, "credit.csv", Actor.system())
    application = company(applicant)
    approve_registration(application)
    commit()
    for code in INSTANT:
        step = step_of(application, code)
        assert step.state == "received"
        assert [r["key"] for r in step.instant_results if not r["passed"]] == ["credit"]
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.tag == "application:step:instant_checked")).all()
    assert len(events) == 2 and all(e.data["passed"] is False for e in events)


def _version() -> int:
    """The current version of 企业开办 (the rule sets are named after it)."""
    from onestop.catalog.operations import current_version

    return current_version("company_establishment").version


def test_a_new_rule_set_does_not_change_decisions_already_taken(app, tmp_path):
    application = company(employees=50)
    approve_registration(application)
    commit()
    old = step_of(application, "social_insurance")
    v = _version()
    assert old.state == "approved" and old.instant_rule_set.startswith(f"company_establishment v{v} ")

    # The next version of the bundle tightens the rule to 10 employees (rule set 2).
    import shutil

    from workflows.catalog.schema import BUNDLES_DIR, DEPARTMENTS_FILE, load_catalog

    folder = tmp_path / "bundles"
    shutil.copytree(BUNDLES_DIR, folder)
    path = folder / "company_establishment.yaml"
    text = path.read_text(encoding="utf-8").replace(f"version: {v} ", f"version: {v + 1} ", 1)
    text = text.replace("value: 100}", "value: 10}").replace("rule_set: 1", "rule_set: 2")
    path.write_text(text, encoding="utf-8")
    sync_catalog(load_catalog(folder, DEPARTMENTS_FILE))
    commit()

    newer = company(employees=50)
    approve_registration(newer)
    commit()
    new = step_of(newer, "social_insurance")
    assert new.state == "received" and new.instant_rule_set == f"company_establishment v{v + 1} social_insurance #2"
    db.session.expire_all()
    assert old.state == "approved" and old.instant_rule_set == f"company_establishment v{v} social_insurance #1"
    assert all(r["passed"] for r in old.instant_results)


def test_a_head_switches_instant_approval_off_and_it_is_audited(app, client):
    head = make_reviewer("hrss", head=True)
    reviewer = make_reviewer("hrss")
    auditor = make_auditor()
    commit()
    data = {"bundle": "company_establishment", "item": "social_insurance", "enabled": "off",
            "reason": "核查期间暂停秒批"}
    for outsider in (reviewer, auditor, make_reviewer("samr", head=True)):
        commit()
        login(client, outsider.username)
        assert client.post("/instant/items/switch", data=dict(data, csrf_token=csrf(client, "/instant/items"))
                           ).status_code == 403
        client.post("/logout", data={"csrf_token": csrf(client, "/instant/items")})
    assert db.session.scalar(select(func.count()).select_from(InstantSwitch)) == 0
    login(client, head.username)
    token = csrf(client, "/instant/items")
    assert client.post("/instant/items/switch", data=dict(data, reason=" ", csrf_token=token)).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(InstantSwitch)) == 0  # a reason is required
    assert client.post("/instant/items/switch", data=dict(data, csrf_token=token)).status_code == 302
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.tag == "instant:switched"))
    assert event.actor_id == head.id and event.data["after"] is False and event.data["reason"] == "核查期间暂停秒批"

    application = company()
    approve_registration(application)
    commit()
    assert step_of(application, "social_insurance").state == "received"  # off: a reviewer decides
    assert step_of(application, "social_insurance").instant_results is None
    assert step_of(application, "housing_fund").state == "approved"  # another item, still on
    page = client.get("/instant/items").get_data(as_text=True)
    assert "已关闭" in page and "核查期间暂停秒批" in page


def test_auditors_see_the_share_of_automatic_decisions(app, client):
    company_app = company()
    approve_registration(company_app)
    approve_open_steps(company_app)
    commit()
    auditor = make_auditor()
    commit()
    login(client, auditor.username)
    page = client.get("/instant/items").get_data(as_text=True)
    assert "已办结1件，其中秒批1件（100%）" in page
    assert f"company_establishment v{_version()} social_insurance #1" in page


def test_credit_list_import_is_all_or_nothing_and_admin_only(app, client):
    person = make_person()
    good = f"code,name,status,open_penalties\n{person.id_number},张三,守信,2\n".encode()
    import_credit_list(good, "a.csv", Actor.system())
    commit()
    bad = (f"code,name,status,open_penalties\n{person.id_number},张三,守信,0\n"
           "123,坏号码,守信,0\n91410100MA0000000X,某公司,不知道,0\n").encode()
    try:
        import_credit_list(bad, "b.csv", Actor.system())
        raise AssertionError("a file with bad lines was imported")
    except CreditListError as exc:
        assert [(p.line, p.kind) for p in exc.problems] == [(3, "code"), (4, "code")]
    db.session.rollback()
    assert db.session.scalar(select(CreditRecord.open_penalties)) == 2  # the old list stands

    reviewer = make_reviewer("samr")
    commit()
    login(client, reviewer.username)
    assert client.get("/instant/credit").status_code == 403
    client.post("/logout", data={"csrf_token": csrf(client, "/instant/items")})
    from onestop.accounts.models import UserKind
    from onestop.accounts.operations import create_staff

    create_staff(username="admin_t", password=PASSWORD, name="管理员", kind=UserKind.ADMIN)
    commit()
    login(client, "admin_t")
    response = client.post("/instant/credit", data={"file": (io.BytesIO(bad), "b.csv"),
                                                    "csrf_token": csrf(client, "/instant/credit")},
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "第3行" in page and "不是有效的居民身份证号码或统一社会信用代码" in page
    csv = "\ufeffcode,name,status,open_penalties\n91410100MA00000019,郑州某某公司,严重失信,1\n".encode()
    from workflows.identity import credit_code_check_char

    code = "91410100MA0000001" + credit_code_check_char("91410100MA0000001")
    csv = csv.replace(b"91410100MA00000019", code.encode())
    response = client.post("/instant/credit", data={"file": (io.BytesIO(csv), "c.csv"),
                                                    "csrf_token": csrf(client, "/instant/credit")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    assert db.session.scalars(select(CreditRecord.code)).all() == [code]
    assert db.session.scalar(select(AuditEvent.data).where(AuditEvent.tag == "instant:credit_list_imported")
                             .order_by(AuditEvent.seq.desc()).limit(1))["by_status"]["dishonest"] == 1
