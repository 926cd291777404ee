"""The calendar as the database holds it: official 2026 answers, provisional 2027 dates recomputed when
the year is loaded, the administrator's page."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import time_machine
from sqlalchemy import select

from onestop.accounts.models import UserKind
from onestop.accounts.operations import create_staff
from onestop.audit.models import AuditEvent
from onestop.audit.operations import Actor
from onestop.clocks.operations import load_year, set_day, work_calendar, year_status
from onestop.core.jobs import commit
from onestop.extensions import db
from onestop.reviews.operations import Decision, decide
from tests.factories import PASSWORD, make_application, make_reviewer, step_of
from tests.integration.test_web import csrf, login
from workflows.clock import Limit, Unit, compute_due
from workflows.states import StepAction

SH = ZoneInfo("Asia/Shanghai")
YEAR_2027 = """
year: 2027
source: 测试用2027年安排
holidays: {2027-01-01: 元旦}
makeup_workdays: {}
"""


def test_official_2026_arrangement_from_the_database(app):
    calendar = work_calendar()
    due = compute_due(datetime(2026, 9, 29, 10, tzinfo=SH), Limit(Decimal(5), Unit.WORKING_DAYS), calendar)
    assert due.due == datetime(2026, 10, 12, 17, tzinfo=SH) and not due.provisional
    assert calendar.is_working_day(date(2026, 2, 14)) and calendar.is_working_day(date(2026, 2, 28))
    assert not any(calendar.is_working_day(date(2026, 10, d)) for d in range(1, 8))
    assert calendar.holiday_name(date(2026, 10, 1)) == "国庆节"


def accepted_over_new_year(app):
    with time_machine.travel(datetime(2026, 12, 28, 10, tzinfo=SH), tick=False):
        application = make_application("restaurant_opening", state="licence_approved")
        food = step_of(application, "food_licence")
        decide(food.id, None, Decision(StepAction.ACCEPT), make_reviewer("samr"))
        commit()
    return food


def test_due_dates_in_an_unknown_year_are_provisional_and_recomputed_when_it_is_loaded(app):
    food = accepted_over_new_year(app)
    # 2027 is unknown: weekends only, so Dec 29, 30, 31, Jan 1, Jan 4 -> Monday 4 January 17:00.
    assert food.due_provisional and food.due_at == datetime(2027, 1, 4, 17, tzinfo=SH)
    assert [r for r in year_status(date(2026, 11, 22)) if r["year"] == 2027][0]["warn"]
    changed = load_year(2027, {date(2027, 1, 1): "元旦"}, {}, "测试用2027年安排", Actor.system())
    commit()
    db.session.refresh(food)
    assert changed == 1
    assert not food.due_provisional and food.due_at == datetime(2027, 1, 5, 17, tzinfo=SH)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.tag == "application:step:due_recomputed")).one()
    assert event.data["before"].startswith("2027-01-04") and event.data["after"].startswith("2027-01-05")


def test_a_corrected_day_moves_open_due_dates(app):
    with time_machine.travel(datetime(2026, 11, 23, 10, tzinfo=SH), tick=False):
        application = make_application("restaurant_opening", state="licence_approved")
        food = step_of(application, "food_licence")
        decide(food.id, None, Decision(StepAction.ACCEPT), make_reviewer("samr"))
        commit()
    assert food.due_at == datetime(2026, 11, 30, 17, tzinfo=SH)
    set_day(date(2026, 11, 27), "holiday", "临时调整", Actor.system())
    commit()
    db.session.refresh(food)
    assert food.due_at == datetime(2026, 12, 1, 17, tzinfo=SH)
    assert not work_calendar().is_working_day(date(2026, 11, 27))


def test_the_administrator_loads_a_year_on_the_page(client):
    with time_machine.travel(datetime(2026, 11, 22, 10, tzinfo=SH)):  # the 2027 arrangement is due now
        create_staff(username="admin1", password=PASSWORD, name="管理员", kind=UserKind.ADMIN)
        make_reviewer("samr", "samr_cal")
        commit()
        login(client, "samr_cal")
        assert client.get("/admin/calendar").status_code == 403
        client.post("/logout", data={"csrf_token": csrf(client, "/desk/")})
        login(client, "admin1")
        page = client.get("/admin/calendar").get_data(as_text=True)
        assert "尚未载入2027年节假日安排" in page
        bad = client.post("/admin/calendar/year",
                          data={"csrf_token": csrf(client, "/admin/calendar"), "text": "year: x"})
        assert "not a year file" in bad.get_data(as_text=True)
        ok = client.post("/admin/calendar/year", data={"csrf_token": csrf(client, "/admin/calendar"),
                                                       "text": YEAR_2027}, follow_redirects=True)
        assert "2027年已载入" in ok.get_data(as_text=True)
        db.session.expire_all()
        assert not work_calendar().is_working_day(date(2027, 1, 1))
        assert work_calendar().is_known(2027)
