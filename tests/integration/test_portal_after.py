"""After submission: notifications by e-mail and SMS through the one funnel, results and deliveries of
新生儿出生, ratings (好差评) with answers, extension, appeal and the deemed rating in the sweep."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from onestop.applications.models import Application, Notification
from onestop.core.clock import now
from onestop.core.jobs import commit
from onestop.deliveries.models import Delivery
from onestop.deliveries.operations import DeliveryError, mark_delivered, post_result
from onestop.extensions import db
from onestop.jobs.sweep import run_sweep
from onestop.messaging.models import OutboundMessage
from onestop.ratings.models import Rating
from onestop.ratings.operations import RatingError, appeal, decide_appeal, extend, rate, reply
from tests.factories import (
    approve_open_steps,
    department,
    make_application,
    make_operator,
    make_person,
    make_reviewer,
    png_bytes,
    step_of,
)
from tests.integration.portal import fill, hidden, login, logout, submit

SHANGHAI = ZoneInfo("Asia/Shanghai")


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


# -- notifications ---------------------------------------------------------------------------------

def test_every_notice_goes_to_the_message_centre_by_email_and_sms_once(app):
    person = make_person("notify_me")
    make_application("newborn_birth", applicant=person)
    commit()
    notice = db.session.scalar(select(Notification).where(Notification.kind == "submitted"))
    assert notice is not None
    messages = {m.channel: m for m in db.session.scalars(select(OutboundMessage).where(
        OutboundMessage.notification_id == notice.id))}
    # No SMTP configured: the e-mail is kept in the outbox; the SMS goes through the logging sender.
    assert messages["email"].state == "kept" and messages["email"].recipient == "p@example.cn"
    assert "已提交" in messages["email"].subject and "was submitted" in messages["email"].body
    assert messages["sms"].state == "sent" and messages["sms"].transport == "sms-log"
    assert messages["sms"].body.startswith("【一网通办】")
    # Running the job again sends nothing twice.
    from onestop.jobs.notifications import send_messages

    send_messages(notice.id)
    commit()
    assert count(OutboundMessage, OutboundMessage.notification_id == notice.id) == 2


def test_staff_receive_emails_through_the_same_funnel(app):
    reviewer = make_reviewer("health", "health_mail")
    reviewer.email = "reviewer@health.example.cn"
    make_application("newborn_birth")
    commit()
    mail = db.session.scalar(select(OutboundMessage).where(OutboundMessage.user_id == reviewer.id))
    assert mail is not None and mail.channel == "email" and "新待办" in mail.subject
    assert count(OutboundMessage, OutboundMessage.user_id == reviewer.id, OutboundMessage.channel == "sms") == 0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_failing_smtp_server_is_retried_with_backoff_and_then_given_up(app):
    app.config["ONESTOP_SMTP"] = {"ssl": False, "host": "127.0.0.1", "port": _closed_port(), "user": None,
                                  "password": None}
    make_application("newborn_birth", applicant=make_person("smtp_down"))
    commit()
    mail = db.session.scalar(select(OutboundMessage).where(OutboundMessage.channel == "email"))
    assert mail.state == "pending" and mail.attempts == 1 and "ConnectionRefusedError" in mail.last_error
    sms = db.session.scalar(select(OutboundMessage).where(OutboundMessage.channel == "sms"))
    assert sms.state == "sent"  # one unreachable server does not hold back the other channel
    run_sweep()
    db.session.refresh(mail)
    assert mail.attempts == 1  # not yet: the first retry waits a minute
    for minutes in (2, 8, 40, 200):
        with time_machine.travel(now() + timedelta(minutes=minutes)):
            run_sweep()
    db.session.refresh(mail)
    assert mail.state == "failed" and mail.attempts == 5 and mail.sent_at is None


def test_smtp_url_is_parsed_strictly():
    from onestop.config import ConfigError, load_settings

    ok = load_settings({"ONESTOP_SMTP_URL": "smtps://u:p%40ss@mail.example.cn", "ONESTOP_INSTANCE_PATH": "/tmp"})
    assert ok.smtp == {"ssl": True, "host": "mail.example.cn", "port": 465, "user": "u", "password": "p@ss"}
    for bad in ("mail.example.cn", "http://mail.example.cn", "smtp://", "smtp://h:70000", "smtp://h/x?y=1"):
        with pytest.raises(ConfigError) as exc:
            load_settings({"ONESTOP_SMTP_URL": bad, "ONESTOP_INSTANCE_PATH": "/tmp"})
        assert "ONESTOP_SMTP_URL" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        load_settings({"ONESTOP_SMTP_URL": "ftp://u:secret@h", "ONESTOP_INSTANCE_PATH": "/tmp"})
    assert "secret" not in str(exc.value)


# -- 新生儿出生: results and the mailed social-security card --------------------------------------------

def test_newborn_birth_from_the_form_to_the_mailed_card(client):
    make_person("parent", name="刘洋")
    hrss = make_reviewer("hrss", "hrss_mail")
    commit()
    login(client, "parent")
    draft = fill(client, "newborn_birth", {
        "applicant_relation": "mother", "other_parent_name": "陈晨", "other_parent_id": "11010519491231002X",
        "hukou_address": "郑州市金水区经三路25号", "child_name": "刘小满", "child_sex": "female",
        "birth_date": "2026-11-20", "birth_hospital": "zz_maternity", "vaccination_clinic": "jinshui"},
        {"child_photo": (png_bytes(), "baby.png")})
    check = client.get(f"{draft}/check").get_data(as_text=True)
    assert "社会保障卡申领" in check and "郑州市金水区经三路25号" in check
    assert submit(client, draft).status_code == 302
    application = db.session.scalar(select(Application))
    assert [s.item_code for s in application.steps] == [
        "birth_certificate", "hukou_registration", "medical_insurance", "social_security_card",
        "vaccination_certificate"]
    approve_open_steps(application)
    commit()
    db.session.expire_all()
    assert application.state == "completed"
    detail = client.get(f"/my/applications/{application.reference}").get_data(as_text=True)
    assert "各事项办理结果" in detail and "社会保障卡（实体卡）" in detail and "制作中" in detail
    logout(client)

    login(client, "hrss_mail")
    page = client.get("/deliveries/").get_data(as_text=True)
    assert application.reference in page and "郑州市金水区经三路25号" in page
    card = step_of(application, "social_security_card")
    client.post(f"/deliveries/post/{card.id}/social_security_card", data={
        "csrf_token": hidden(page, "csrf_token"), "carrier": "中国邮政EMS", "tracking_number": "EM123456789CN"})
    delivery = db.session.scalar(select(Delivery))
    assert delivery.state == "posted" and delivery.address == "郑州市金水区经三路25号"
    with pytest.raises(DeliveryError):
        post_result(card, "social_security_card", "EMS", "X", hrss)  # posted once only
    mark_delivered(delivery, hrss)
    commit()
    logout(client)
    login(client, "parent")
    detail = client.get(f"/my/applications/{application.reference}").get_data(as_text=True)
    assert "EM123456789CN" in detail and "已送达" in detail
    assert "刘*" in detail  # the recipient's name is masked
    messages = client.get("/messages").get_data(as_text=True)
    assert "已寄出（运单号EM123456789CN）" in messages


def test_a_result_leaves_only_when_the_whole_matter_has_ended(app):
    application = make_application("newborn_birth")
    hrss = make_reviewer("hrss", "hrss_early")
    approve_open_steps(application, rounds=1)  # the birth certificate only
    from onestop.reviews.operations import Decision, decide
    from workflows.states import StepAction

    card = step_of(application, "social_security_card")
    decide(card.id, None, Decision(StepAction.ACCEPT), hrss)
    decide(card.id, None, Decision(StepAction.APPROVE), hrss)
    with pytest.raises(DeliveryError) as exc:
        post_result(card, "social_security_card", "EMS", "E1", hrss)
    assert exc.value.code == "not_ended"
    other = make_reviewer("psb", "psb_nope")
    with pytest.raises(DeliveryError):
        post_result(card, "social_security_card", "EMS", "E1", other)


# -- ratings ----------------------------------------------------------------------------------------

def _completed(applicant=None):
    application = make_application("restaurant_opening", applicant=applicant or make_operator(), state="completed")
    assert application.state == "completed"
    return application


def test_the_applicant_rates_each_department_once_and_sees_the_heads_answer(client):
    operator = make_operator("rater")
    application = _completed(operator)
    head = make_reviewer("samr", "samr_head_r", head=True)
    commit()
    login(client, "rater")
    detail = client.get(f"/my/applications/{application.reference}").get_data(as_text=True)
    assert "服务评价（好差评）" in detail and detail.count('name="level"') == 5 * 3  # samr, fire, water
    response = client.post(f"/my/applications/{application.reference}/ratings/samr", data={
        "csrf_token": hidden(detail, "csrf_token"), "level": "1", "comment": "<b>等了很久</b>"})
    assert response.status_code == 302
    again = client.post(f"/my/applications/{application.reference}/ratings/samr", data={
        "csrf_token": hidden(detail, "csrf_token"), "level": "5"}, follow_redirects=True).get_data(as_text=True)
    assert "您已评价过该部门" in again
    rating = db.session.scalar(select(Rating))
    assert rating.level == 1 and rating.reply_due_at is not None and rating.appeal_due_at is not None
    # Not a department of this application: not found.
    assert client.post(f"/my/applications/{application.reference}/ratings/psb", data={
        "csrf_token": hidden(detail, "csrf_token"), "level": "5"}).status_code == 404
    heads_notice = db.session.scalar(select(Notification).where(Notification.user_id == head.id,
                                                                Notification.kind == "bad_rating"))
    assert heads_notice is not None
    logout(client)

    login(client, "samr_head_r")
    page = client.get("/ratings/head").get_data(as_text=True)
    assert application.reference in page and "&lt;b&gt;等了很久&lt;/b&gt;" in page
    client.post(f"/ratings/{rating.id}/reply", data={"csrf_token": hidden(page, "csrf_token"),
                                                    "text": "已约谈窗口人员并优化流程。"})
    logout(client)
    login(client, "rater")
    detail = client.get(f"/my/applications/{application.reference}").get_data(as_text=True)
    assert "部门答复" in detail and "已约谈窗口人员并优化流程。" in detail


def test_ratings_are_refused_before_the_end_and_to_others(app):
    operator, stranger = make_operator(), make_person()
    application = make_application("restaurant_opening", applicant=operator)
    samr = department("samr").id
    with pytest.raises(RatingError, match="not_ended"):
        rate(application, samr, 5, None, operator)
    approve_open_steps(application)
    with pytest.raises(RatingError, match="forbidden"):
        rate(application, samr, 5, None, stranger)
    with pytest.raises(RatingError, match="level"):
        rate(application, samr, 7, None, operator)


def test_a_bad_rating_is_answered_within_5_working_days_extended_once_and_appealed_within_2(app):
    with time_machine.travel(datetime(2026, 9, 28, 10, tzinfo=SHANGHAI), tick=False):
        operator = make_operator()
        application = _completed(operator)
        head = make_reviewer("samr", head=True)
        reviewer = next(db.session.get(type(operator), t.actor_id) for s in application.steps
                        if s.department.code == "samr" for t in s.transitions if t.action == "approve")
        rating = rate(application, department("samr").id, 2, "态度不好", operator)
        fire_rating = rate(application, department("fire").id, 1, "太慢", operator)
        fire_reviewer = next(db.session.get(type(operator), t.actor_id) for s in application.steps
                             if s.department.code == "fire" for t in s.transitions if t.action == "approve")
        # 5 working days from Monday 28 September, the National Day holiday skipped: 29, 30 Sept, 8, 9, 10 Oct.
        assert rating.reply_due_at.astimezone(SHANGHAI) == datetime(2026, 10, 10, 17, tzinfo=SHANGHAI)
        assert rating.appeal_due_at.astimezone(SHANGHAI) == datetime(2026, 9, 30, 17, tzinfo=SHANGHAI)
        extend(rating, head, "需调取录像核实")
        assert rating.reply_due_at.astimezone(SHANGHAI) == datetime(2026, 10, 13, 17, tzinfo=SHANGHAI)
        with pytest.raises(RatingError, match="no_extension"):
            extend(rating, head, "再延一次")
        appeal(rating, reviewer, "评价内容与办理无关")
        with pytest.raises(RatingError, match="forbidden"):
            decide_appeal(rating, reviewer, True, "x")  # only a head decides
        decide_appeal(rating, head, True, "经核实评价与服务无关")
        assert rating.appeal_state == "upheld" and not rating.counts
        commit()
    with time_machine.travel(datetime(2026, 10, 14, 9, tzinfo=SHANGHAI), tick=False):
        with pytest.raises(RatingError, match="too_late"):
            appeal(fire_rating, fire_reviewer, "late")  # 2 working days have passed
        with pytest.raises(RatingError, match="forbidden"):
            appeal(fire_rating, reviewer, "not mine")  # only the staff who worked on it
        report = run_sweep()
        assert any("answer overdue" in a for a in report.alerts)
        assert not any("answer overdue" in a for a in run_sweep().alerts)  # told once
        reply(rating, head, "已整改")
        commit()
        assert rating.replied_at > rating.reply_due_at  # answered, late: visible as such


def test_no_rating_within_5_working_days_is_deemed_basically_satisfied_once(app):
    with time_machine.travel(datetime(2026, 12, 1, 10, tzinfo=SHANGHAI), tick=False):
        operator = make_operator()
        application = _completed(operator)
        rate(application, department("samr").id, 5, "很好", operator)
        commit()
    with time_machine.travel(datetime(2026, 12, 7, 18, tzinfo=SHANGHAI), tick=False):
        run_sweep()
        assert count(Rating, Rating.deemed.is_(True)) == 0  # 4 working days: not yet
    with time_machine.travel(datetime(2026, 12, 8, 18, tzinfo=SHANGHAI), tick=False):
        report = run_sweep()
        run_sweep()
    deemed = db.session.scalars(select(Rating).where(Rating.deemed.is_(True))).all()
    assert sorted(r.department.code for r in deemed) == ["fire", "water"]
    assert all(r.level == 3 and r.rater_id is None for r in deemed)
    assert sum("deemed 基本满意" in a for a in report.actions) == 2
    from onestop.audit.models import AuditEvent

    event = db.session.scalar(select(AuditEvent).where(AuditEvent.tag == "rating:deemed"))
    assert event.actor_role == "system" and "国办发〔2019〕51号" in event.data["rule"]


def test_a_department_head_page_is_for_heads_only(client):
    make_reviewer("samr", "plain_reviewer")
    make_person("citizen_h")
    commit()
    login(client, "plain_reviewer")
    assert client.get("/ratings/head").status_code == 403
    assert client.get("/ratings/mine").status_code == 200
    logout(client)
    login(client, "citizen_h")
    assert client.get("/ratings/head").status_code == 403
    assert client.get("/deliveries/").status_code == 403
    assert client.get("/admin/outbox").status_code == 403
