"""免申即享 稳岗返还 on the engine: data import (all or nothing), matching that offers once, one-click
confirmation, 人社 review → 公示 of 5 working days (over National Day) with objections → 财政 payment, in
frozen time, with audit events; and who may see and answer what."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from onestop.applications.models import Application, Notification
from onestop.applications.operations import SubmissionError, lock_application, submit
from onestop.audit.models import AuditEvent
from onestop.audit.operations import Actor
from onestop.benefits.models import BenefitOffer, EnterpriseRecord, NoticeObjection
from onestop.benefits.operations import (
    EnterpriseDataError,
    OfferError,
    confirm,
    decline,
    import_enterprise_data,
    lodge_objection,
    match,
    resolve_objection,
)
from onestop.catalog.operations import current_version
from onestop.core.jobs import commit
from onestop.extensions import db
from onestop.instant.operations import import_credit_list
from onestop.jobs.sweep import run_sweep
from onestop.reviews.operations import Decision, decide
from tests.factories import credit_code, make_operator, make_person, make_reviewer, step_of
from tests.integration.test_web import claim_step, csrf, hidden, login
from workflows.states import StepAction

SH = ZoneInfo("Asia/Shanghai")
HEADER = "credit_code,name,year,insured_staff,layoffs,premiums_paid,arrears\n"


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> time_machine.travel:
    return time_machine.travel(datetime(2026, month, day, hour, minute, tzinfo=SH), tick=False)


def version():
    return current_version("job_retention_refund")


def csv_of(*rows: tuple) -> bytes:
    return (HEADER + "".join(",".join(str(c) for c in row) + "\n" for row in rows)).encode()


@pytest.fixture
def world(app):
    """Four enterprises of 2025: two eligible with operators, one eligible without an account, one over the
    layoff limit, one on the dishonesty list (credit list)."""
    with at(9, 21, 9):
        big, small, lone, laid_off, dishonest = (credit_code() for _ in range(5))
        operators = {"big": make_operator("op_big", code=big, enterprise_name="郑州稳岗机械有限公司"),
                     "small": make_operator("op_small", code=small, enterprise_name="郑州小微商贸有限公司"),
                     "laid_off": make_operator("op_laid", code=laid_off, enterprise_name="郑州裁员制造有限公司")}
        operators["big_2"] = make_operator("op_big_2", code=None)
        # A second operator of the same enterprise: moved over to `big`.
        from onestop.accounts.models import Enterprise
        operators["big_2"].enterprise_id = db.session.scalar(select(Enterprise.id).where(Enterprise.credit_code == big))
        import_enterprise_data(csv_of(
            (big, "郑州稳岗机械有限公司", 2025, 1000, 55, "12345.67", "0"),
            (small, "郑州小微商贸有限公司", 2025, 30, 6, "8000.00", ""),
            (lone, "郑州未注册有限公司", 2025, 200, 2, "40000", "0"),
            (laid_off, "郑州裁员制造有限公司", 2025, 31, 6, "9000", "0"),
            (dishonest, "郑州失信有限公司", 2025, 100, 0, "5000", "0"),
        ), "data-2025.csv", Actor.system())
        import_credit_list(f"code,name,status,open_penalties\n{dishonest},郑州失信有限公司,严重失信,0\n".encode(),
                           "credit.csv", Actor.system())
        commit()
    return {"codes": {"big": big, "small": small, "lone": lone, "laid_off": laid_off, "dishonest": dishonest},
            "operators": operators}


def offer_of(code: str) -> BenefitOffer:
    return db.session.scalar(select(BenefitOffer).where(BenefitOffer.credit_code == code))


def tags(subject_type: str, subject_id: int) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.tag).where(
        AuditEvent.subject_type == subject_type, AuditEvent.subject_id == subject_id).order_by(AuditEvent.seq)))


# -- import ---------------------------------------------------------------------------------------------

def test_a_file_with_bad_lines_is_refused_whole_with_each_line_named(app):
    good = credit_code()
    data = csv_of((good, "甲公司", 2025, 10, 0, "100", "0"), ("91410100MA0000000A", "乙", 2025, 1, 0, "1", "0"),
                  (good, "甲公司", 2025, 10, 0, "100", "0"), (credit_code(), "丙", 2025, -1, 0, "1", "0"),
                  (credit_code(), "丁", 2025, 5, 0, "1.234", "0"), (credit_code(), "", 2025, 5, 0, "1", "0"))
    with pytest.raises(EnterpriseDataError) as exc:
        import_enterprise_data(data, "bad.csv", Actor.system())
    assert [(p.line, p.kind) for p in exc.value.problems] == [(3, "code"), (4, "duplicate"), (5, "count"),
                                                              (6, "money"), (7, "name")]
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(EnterpriseRecord)) == 0
    with pytest.raises(EnterpriseDataError) as exc:
        import_enterprise_data(b"code,name\n", "x.csv", Actor.system())
    assert exc.value.problems[0].kind == "header"


def test_an_import_replaces_the_years_it_contains(app):
    a, b = credit_code(), credit_code()
    import_enterprise_data(csv_of((a, "甲", 2024, 10, 0, "100", "0"), (a, "甲", 2025, 10, 0, "100", "0")), "1.csv",
                           Actor.system())
    import_enterprise_data(csv_of((b, "乙", 2025, 20, 1, "200", "0")), "2.csv", Actor.system())
    commit()
    rows = db.session.execute(select(EnterpriseRecord.year, EnterpriseRecord.credit_code)
                              .order_by(EnterpriseRecord.year)).all()
    assert [tuple(r) for r in rows] == [(2024, a), (2025, b)]


def test_the_admin_page_imports_and_shows_line_errors(client):
    from onestop.accounts.models import UserKind
    from onestop.accounts.operations import create_staff
    from tests.factories import PASSWORD

    create_staff(username="admin1", password=PASSWORD, name="管理员", kind=UserKind.ADMIN)
    commit()
    login(client, "admin1")
    token = csrf(client, "/benefits/admin")
    import io
    bad = client.post("/benefits/admin", data={"csrf_token": token, "file": (io.BytesIO(csv_of(
        ("91410100MA0000000A", "乙", 2025, 1, 0, "1", "0"))), "bad.csv")}, content_type="multipart/form-data")
    assert "第2行：91410100MA0000000A 不是有效的统一社会信用代码。" in bad.get_data(as_text=True)
    ok = client.post("/benefits/admin", data={"csrf_token": token, "file": (io.BytesIO(csv_of(
        (credit_code(), "甲", 2025, 10, 0, "100", "0"))), "ok.csv")}, content_type="multipart/form-data")
    assert ok.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(EnterpriseRecord)) == 1
    matched = client.post("/benefits/admin/match", data={"csrf_token": token, "year": ""})
    assert matched.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(BenefitOffer)) == 1


# -- matching ---------------------------------------------------------------------------------------------

def test_match_offers_each_eligible_enterprise_once_with_amount_and_formula(world):
    codes = world["codes"]
    with at(9, 21, 10):
        report = match(version(), Actor.system())
        commit()
    assert report.year == 2025 and report.examined == 5
    assert sorted(report.offered) == sorted([codes["big"], codes["small"], codes["lone"]])
    assert report.without_account == 1
    assert report.not_eligible == {codes["laid_off"]: ["layoff_rate"], codes["dishonest"]: ["not_dishonest"]}
    big = offer_of(codes["big"])
    assert big.amount == Decimal("6172.84") and big.rate == Decimal("0.5")
    assert big.formula_zh.startswith("上年度实际缴纳失业保险费 ¥12,345.67 × 50% = ¥6,172.84")
    assert big.rule_set == "job_retention_refund v1 #1" and big.state == "offered"
    assert offer_of(codes["small"]).amount == Decimal("8000.00")  # 30 staff: 100%
    assert tags("benefit_offer", big.id) == ["benefits:offered"]
    # Both operators of the enterprise are told, once.
    told = db.session.scalars(select(Notification.user_id).where(Notification.kind == "benefit_offered")).all()
    ops = world["operators"]
    assert sorted(told) == sorted([ops["big"].id, ops["big_2"].id, ops["small"].id])

    with at(9, 21, 11):
        again = match(version(), Actor.system())
        commit()
    assert again.offered == [] and again.already == 3
    assert db.session.scalar(select(func.count()).select_from(BenefitOffer)) == 3
    assert db.session.scalar(select(func.count()).where(Notification.kind == "benefit_offered")) == 3


def test_the_cli_imports_and_matches(app, tmp_path):
    path = tmp_path / "data.csv"
    code = credit_code()
    path.write_bytes(csv_of((code, "甲公司", 2025, 10, 0, "100", "0")))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["onestop", "benefits", "import", str(path)])
    assert result.exit_code == 0 and "1 records, years 2025" in result.output
    first = runner.invoke(args=["onestop", "benefits", "match"])
    assert "1 offered now" in first.output, first.output
    second = runner.invoke(args=["onestop", "benefits", "match"])
    assert "0 offered now" in second.output and "1 offered before" in second.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_of(("x", "乙", 2025, 1, 0, "1", "0")))
    refused = runner.invoke(args=["onestop", "benefits", "import", str(bad)])
    assert refused.exit_code == 1 and "line 2: code" in refused.output


# -- the life cycle ----------------------------------------------------------------------------------------

def confirm_on_the_portal(client, username: str, offer: BenefitOffer) -> str:
    login(client, username)
    page = client.get("/benefits/offers").get_data(as_text=True)
    assert "¥6,172.84" in page and "上年度实际缴纳失业保险费" in page
    response = client.post(f"/benefits/offers/{offer.id}/confirm", data={"csrf_token": hidden(page, "csrf_token")})
    assert response.status_code == 302
    return re.search(r"/my/applications/([^/?]+)", response.headers["Location"]).group(1)


def test_confirm_then_review_notice_over_national_day_and_payment(world, client):
    codes = world["codes"]
    with at(9, 21, 10):
        match(version(), Actor.system())
        commit()
    offer = offer_of(codes["big"])
    with at(9, 21, 14):
        reference = confirm_on_the_portal(client, "op_big", offer)
        # A second click changes nothing: the same application.
        again = client.post(f"/benefits/offers/{offer.id}/confirm", data={"csrf_token": csrf(client, "/benefits/offers")})
        assert again.status_code == 302
    application = db.session.scalar(select(Application).where(Application.reference == reference))
    assert db.session.scalar(select(func.count()).select_from(Application)) == 1
    with at(9, 21, 14, 5):
        detail = client.get(f"/my/applications/{reference}").get_data(as_text=True)
    assert "¥6,172.84" in detail and "上年度实际缴纳失业保险费 ¥12,345.67 × 50%" in detail
    db.session.refresh(offer)
    assert offer.state == "confirmed" and offer.application_id == application.id
    answers = application.answer_map
    assert answers["refund_amount"] == "6172.84" and answers["refund_rate"] == "50%"
    assert answers["refund_formula"] == offer.formula_zh
    review = step_of(application, "retention_review")
    assert review.state == "received" and step_of(application, "retention_notice").state == "waiting"

    hrss = make_reviewer("hrss")
    with at(9, 29, 10):  # Tuesday before National Day
        decide(review.id, None, Decision(StepAction.ACCEPT), hrss)
        decide(review.id, None, Decision(StepAction.APPROVE), hrss)
        commit()
    notice = step_of(application, "retention_notice")
    assert notice.state == "accepted"
    # By hand: the day it starts does not count; 30 Sep (1), 1-7 Oct holiday, 8 Oct (2), 9 Oct (3),
    # Saturday 10 Oct is a make-up working day (4), Monday 12 Oct (5): it ends at 17:00 on 12 Oct.
    assert notice.due_at == datetime(2026, 10, 12, 17, tzinfo=SH)
    public = client.get("/benefits/notice").get_data(as_text=True)
    assert "郑州稳岗机械有限公司" in public and "¥6,172.84" in public and "2026-10-12 17:00" in public

    with at(10, 12, 16, 59):
        run_sweep()
    assert step_of(lock_application(application.id), "retention_notice").state == "accepted"
    with at(10, 12, 17, 1):
        report = run_sweep()
    assert any("notice ended" in a for a in report.actions)
    application = lock_application(application.id)
    assert step_of(application, "retention_notice").state == "approved"
    payment = step_of(application, "retention_payment")
    assert payment.state == "received"
    assert "郑州稳岗机械有限公司" not in client.get("/benefits/notice").get_data(as_text=True)
    commit()

    finance = make_reviewer("finance")
    with at(10, 13, 10):
        decide(payment.id, None, Decision(StepAction.ACCEPT), finance)
        decide(payment.id, None, Decision(StepAction.APPROVE, "已拨付至企业缴费账户"), finance)
        commit()
    assert lock_application(application.id).state == "completed"
    notice_tags = tags("step", notice.id)
    assert notice_tags[:3] == ["application:step:waiting", "application:step:received", "application:step:accepted"]
    assert notice_tags[-1] == "application:step:approved"
    system_approval = db.session.scalar(select(AuditEvent).where(
        AuditEvent.subject_type == "step", AuditEvent.subject_id == notice.id,
        AuditEvent.tag == "application:step:approved"))
    assert system_approval.actor_role == "system" and "公示期满无异议" in system_approval.data["rule"]
    assert tags("benefit_offer", offer.id) == ["benefits:offered", "benefits:offer_confirmed"]
    assert "application:completed" in tags("application", application.id)


def in_notice(world, client) -> Application:
    with at(9, 21, 10):
        match(version(), Actor.system())
        commit()
        application = confirm(offer_of(world["codes"]["big"]).id, world["operators"]["big"])
        commit()
    hrss = make_reviewer("hrss", username="hrss_checker")
    review = step_of(application, "retention_review")
    with at(9, 29, 10):
        decide(review.id, None, Decision(StepAction.ACCEPT), hrss)
        decide(review.id, None, Decision(StepAction.APPROVE), hrss)
        commit()
    return application


def test_an_objection_from_the_public_pauses_the_notice_and_a_dismissal_moves_its_end(world, client):
    application = in_notice(world, client)
    with at(10, 8, 10):  # 1 working day and a morning counted (30 Sep, 8 Oct 09-10)
        page = client.get(f"/benefits/notice/{application.reference}/objection")
        assert page.status_code == 200
        sent = client.post(f"/benefits/notice/{application.reference}/objection", data={
            "csrf_token": hidden(page.get_data(as_text=True), "csrf_token"), "name": "李四", "contact": "13900000000",
            "text": "该企业去年实际裁员远多于申报人数，请核查。"})
        assert sent.status_code == 302
    notice = step_of(lock_application(application.id), "retention_notice")
    assert notice.state == "suspended" and notice.due_at is None
    objection = db.session.scalar(select(NoticeObjection))
    assert objection.lodged_by_id is None and objection.state == "open"
    assert "中止：异议核查中" in client.get("/benefits/notice").get_data(as_text=True)
    told = db.session.scalars(select(Notification.kind).where(Notification.application_id == application.id)).all()
    assert "notice_objection" in told and "objection_lodged" in told
    commit()
    with at(10, 13, 10):  # past the original end: a suspended notice does not pass
        run_sweep()
    assert step_of(lock_application(application.id), "retention_notice").state == "suspended"
    commit()

    # 人社 checks it on its page: dismissed two working days later (Tue 13 Oct 10:00).
    with at(10, 13, 10):
        login(client, "hrss_checker")
        page = client.get("/benefits/objections").get_data(as_text=True)
        assert "该企业去年实际裁员" in page and "李四" in page
        viewed = db.session.scalar(select(AuditEvent).where(AuditEvent.tag == "personal_data:viewed",
                                                            AuditEvent.subject_type == "notice_objection"))
        assert viewed.data == {"objections": [objection.id], "fields": ["name", "contact"]}
        done = client.post(f"/benefits/objections/{objection.id}", data={
            "csrf_token": hidden(page, "csrf_token"), "outcome": "dismissed", "reason": "经核查，裁员数据与参保记录一致。"})
        assert done.status_code == 302
    notice = step_of(lock_application(application.id), "retention_notice")
    assert notice.state == "accepted"
    # By hand: paused from Thu 8 Oct 10:00 to Tue 13 Oct 10:00 = 5/6 (8 Oct from 10:00) + 1 (9 Oct) + 1 (Sat
    # 10 Oct, make-up day) + 1 (12 Oct) + 1/6 (13 Oct 09-10) = 4 working days: 12 Oct 17:00 -> 16 Oct 17:00.
    assert notice.due_at == datetime(2026, 10, 16, 17, tzinfo=SH)
    assert tags("notice_objection", objection.id) == ["application:notice:objection_lodged",
                                                      "application:notice:objection_dismissed"]
    with at(10, 16, 16, 55):
        run_sweep()
    assert step_of(lock_application(application.id), "retention_notice").state == "accepted"
    commit()
    with at(10, 16, 17, 5):
        run_sweep()
    application = lock_application(application.id)
    assert step_of(application, "retention_notice").state == "approved"
    assert step_of(application, "retention_payment").state == "received"


def test_an_upheld_objection_refuses_the_refund_and_terminates_the_payment(world, client):
    application = in_notice(world, client)
    with at(10, 9, 10):
        first = lodge_objection(application.id, "举报该企业存在欠缴社会保险费情况。", "王五", "13900000001", None, "127.0.0.1")
        second = lodge_objection(application.id, "同一问题的第二个异议，内容相同。", "赵六", "13900000002",
                                 make_person("objector"), "127.0.0.1")
        commit()
    hrss = db.session.scalar(select(type(world["operators"]["big"])).where(
        type(world["operators"]["big"]).username == "hrss_checker"))
    other = make_reviewer("samr")
    with at(10, 9, 15):
        with pytest.raises(Exception) as refused:
            resolve_objection(first.id, True, "无权处理", other)
        assert getattr(refused.value, "code", "") == "forbidden"
        db.session.rollback()
        resolve_objection(first.id, True, "经核查，该企业存在欠缴，不符合返还条件。", hrss)
        commit()
    application = lock_application(application.id)
    notice = step_of(application, "retention_notice")
    assert notice.state == "rejected" and "欠缴" in notice.reason
    assert step_of(application, "retention_payment").state == "terminated"
    assert application.state == "rejected"
    db.session.refresh(second)
    assert second.state == "closed"
    assert tags("step", notice.id)[-3:] == ["application:step:suspended", "application:step:accepted",
                                            "application:step:rejected"]


def test_a_notice_that_ended_takes_no_objection(world, client):
    application = in_notice(world, client)
    with at(10, 12, 17, 1):
        run_sweep()
    page = client.get(f"/benefits/notice/{application.reference}/objection")
    assert page.status_code == 404


# -- who may do what ----------------------------------------------------------------------------------------

def test_an_enterprise_sees_and_answers_only_its_own_offer(world, client):
    codes = world["codes"]
    with at(9, 21, 10):
        match(version(), Actor.system())
        commit()
    big, small = offer_of(codes["big"]), offer_of(codes["small"])
    login(client, "op_small")
    page = client.get("/benefits/offers").get_data(as_text=True)
    assert "¥8,000.00" in page and "¥6,172.84" not in page
    english = client.get("/benefits/offers?lang=en").get_data(as_text=True)
    assert "Unemployment-insurance premiums actually paid last year ¥8,000.00 × 100%" in english
    assert "Confirm and receive ¥8,000.00" in english
    client.get("/?lang=zh")
    token = hidden(page, "csrf_token")
    assert client.post(f"/benefits/offers/{big.id}/confirm", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/benefits/offers/{big.id}/decline", data={"csrf_token": token}).status_code == 404
    db.session.refresh(big)
    assert big.state == "offered" and big.application_id is None
    # Without the CSRF token nothing happens either.
    client.post(f"/benefits/offers/{small.id}/confirm", data={})
    db.session.refresh(small)
    assert small.state == "offered"
    with pytest.raises(OfferError):
        confirm(big.id, world["operators"]["small"])
    db.session.rollback()
    # A citizen, a reviewer: not their page.
    make_person("citizen1")
    make_reviewer("hrss", username="hrss_x")
    commit()
    for username in ("citizen1", "hrss_x"):
        client.post("/logout", data={"csrf_token": csrf(client, "/")})
        login(client, username)
        assert client.get("/benefits/offers").status_code == 403
        assert client.get("/benefits/admin").status_code == 403


def test_declining_is_recorded_and_final(world, client):
    with at(9, 21, 10):
        match(version(), Actor.system())
        commit()
    small = offer_of(world["codes"]["small"])
    login(client, "op_small")
    token = csrf(client, "/benefits/offers")
    assert client.post(f"/benefits/offers/{small.id}/decline", data={"csrf_token": token, "reason": "本年度不申领"}).status_code == 302
    db.session.refresh(small)
    assert small.state == "declined" and small.decline_reason == "本年度不申领"
    assert tags("benefit_offer", small.id)[-1] == "benefits:offer_declined"
    client.post(f"/benefits/offers/{small.id}/confirm", data={"csrf_token": token})
    db.session.refresh(small)
    assert small.state == "declined" and small.application_id is None
    with pytest.raises(OfferError):
        decline(small.id, world["operators"]["small"], "")


def test_nobody_applies_for_an_offered_benefit_through_a_form(world, client):
    login(client, "op_big")
    response = client.get("/apply/job_retention_refund")
    assert response.status_code == 302 and "/benefits/offers" in response.headers["Location"]
    with pytest.raises(SubmissionError) as exc:
        submit(world["operators"]["big"], version(), {"refund_amount": "999999"}, {}, "typed-by-hand")
    assert exc.value.code == "offer_only"
    guide = client.get("/guide/job_retention_refund").get_data(as_text=True)
    assert "/apply/job_retention_refund" not in guide


def test_the_desk_offers_no_refusal_of_a_notice_open_to_anyone(world, client):
    application = in_notice(world, client)
    notice = step_of(application, "retention_notice")
    with at(9, 30, 10):
        login(client, "hrss_checker")
        page = claim_step(client, notice.id)
    assert "稳岗返还公示" in page and 'value="reject"' not in page


# -- races (PostgreSQL: SQLite serialises writers by itself) --------------------------------------------------

@pytest.fixture
def pg_app(templates, database_url, backend, tmp_path):
    from tests.conftest import make_app

    if backend != "postgresql":
        pytest.skip("the race needs concurrent writers: PostgreSQL (CI runs it)")
    app = make_app(database_url, tmp_path / "instance")
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _race(app, work, n: int = 4) -> list[BaseException]:
    import threading

    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def run() -> None:
        with app.app_context():
            try:
                barrier.wait()
                work()
                commit()
            except BaseException as exc:  # noqa: BLE001 - collected and asserted on
                errors.append(exc)
                db.session.rollback()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_concurrent_matches_offer_each_enterprise_once(pg_app):
    operator = make_operator("op_race")
    codes = [operator.enterprise.credit_code] + [credit_code() for _ in range(59)]
    import_enterprise_data(csv_of(*[(c, f"企业{i}", 2025, 100, 1, "1000", "0") for i, c in enumerate(codes)]),
                           "race.csv", Actor.system())
    commit()
    errors = _race(pg_app, lambda: match(version(), Actor.system()))
    assert errors == []
    assert db.session.scalar(select(func.count()).select_from(BenefitOffer)) == 60
    assert db.session.scalar(select(func.count()).where(AuditEvent.tag == "benefits:offered")) == 60
    assert db.session.scalar(select(func.count()).where(Notification.kind == "benefit_offered")) == 1


def test_concurrent_confirmations_make_one_application(pg_app):
    operator = make_operator("op_click")
    import_enterprise_data(csv_of((operator.enterprise.credit_code, "甲", 2025, 100, 1, "1000", "0")), "c.csv",
                           Actor.system())
    match(version(), Actor.system())
    commit()
    offer_id = db.session.scalar(select(BenefitOffer.id))
    user_id = operator.id

    def click() -> None:
        from onestop.accounts.models import User

        confirm(offer_id, db.session.get(User, user_id))

    errors = _race(pg_app, click)
    assert errors == []
    assert db.session.scalar(select(func.count()).select_from(Application)) == 1
    assert db.session.scalar(select(func.count()).where(AuditEvent.tag == "benefits:offer_confirmed")) == 1


def test_an_objection_checked_after_a_withdrawal_is_recorded_and_moves_nothing(world, client):
    from onestop.applications.operations import withdraw

    application = in_notice(world, client)
    with at(10, 9, 10):
        objection = lodge_objection(application.id, "该企业存在虚报参保人数的情况。", "王五", "13900000001", None, None)
        commit()
    with at(10, 9, 11):
        operator = world["operators"]["big"]
        withdraw(lock_application(application.id), "不再申领", Actor(operator.id, operator.kind))
        commit()
    hrss = make_reviewer("hrss")
    with at(10, 9, 15):
        resolve_objection(objection.id, False, "申请已撤回，不再核查。", hrss)
        commit()
    db.session.refresh(objection)
    assert objection.state == "dismissed"
    application = lock_application(application.id)
    assert application.state == "withdrawn" and step_of(application, "retention_notice").state == "terminated"


def test_a_running_notice_raises_no_due_soon_or_overdue_alert(world, client):
    from onestop.applications.models import StepAlert

    application = in_notice(world, client)
    notice = step_of(application, "retention_notice")
    with at(10, 12, 10):  # the last working day of the notice
        run_sweep()
    assert db.session.scalar(select(func.count()).where(StepAlert.step_id == notice.id)) == 0


def test_the_window_takes_no_intake_of_an_offered_benefit(world):
    from onestop.window.operations import WindowError, start_intake
    from tests.integration.test_window import make_clerk

    with pytest.raises(WindowError) as exc:
        start_intake(make_clerk("clerk_benefit"), world["operators"]["big"], "job_retention_refund", new_account=False,
                     consent=True, prefill_consent=False, proxy=None, collection="online")
    assert exc.value.code == "unknown_bundle"
