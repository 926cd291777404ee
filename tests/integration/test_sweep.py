"""The sweep under frozen time: deemed acceptance, expired supplements and 容缺 promises, warnings,
escalation, reminders. Every test also runs the sweep twice and checks the second run changes nothing."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine
from sqlalchemy import func, select

from onestop.applications.models import Notification, StepAlert
from onestop.audit.models import AuditEvent
from onestop.core.jobs import commit
from onestop.extensions import db
from onestop.jobs.sweep import run_sweep
from onestop.reviews.operations import Decision, decide
from tests.factories import make_application, make_reviewer, step_of
from workflows.states import StepAction

SH = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> time_machine.travel:
    return time_machine.travel(datetime(2026, month, day, hour, minute, tzinfo=SH), tick=False)


def events() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def sweep_twice():
    first = run_sweep()
    before = events()
    second = run_sweep()
    assert second.actions == [] and second.alerts == [], "a second sweep must change nothing"
    assert events() == before
    db.session.expire_all()
    return first


def test_an_application_not_accepted_in_five_working_days_is_deemed_accepted(app):
    with at(23, 9):
        application = make_application("restaurant_opening")
        commit()
    licence = step_of(application, "business_licence")
    with at(30, 16):
        assert run_sweep().actions == []
    with at(1, 9, 30, month=12):
        report = sweep_twice()
    assert report.actions == [f"step {licence.id}: deemed accepted"]
    licence = step_of(application, "business_licence")
    assert licence.state == "accepted"
    last = licence.transitions[-1]
    assert last.actor_role == "system" and "《中华人民共和国行政许可法》第三十二条" in last.rule


def test_a_supplement_not_answered_in_time_ends_the_step(app):
    with at(23, 9):
        application = make_application("restaurant_opening", state="licence_approved")
        samr = make_reviewer("samr")
        food = step_of(application, "food_licence")
        decide(food.id, None, Decision(StepAction.REQUEST_SUPPLEMENT, problems=[
            {"kind": "field", "key": "food_safety_manager", "message": "请补充"}]), samr)
        commit()
    request = food.supplements[0]
    assert request.due_at == datetime(2026, 12, 7, 17, tzinfo=SH)  # 10 working days from Tuesday
    with at(7, 16, month=12):
        assert run_sweep().actions == []
    with at(8, 9, 30, month=12):
        sweep_twice()
    food = step_of(application, "food_licence")
    assert food.state == "rejected" and "逾期未补正" in food.reason
    assert food.pauses[0].ended_at is not None


def test_an_expired_rongque_promise_turns_into_a_supplement_request(app):
    with at(23, 9):
        application = make_application("restaurant_opening", state="licence_approved")
        water = make_reviewer("water")
        drainage = step_of(application, "drainage_permit")
        decide(drainage.id, None, Decision(StepAction.ACCEPT, outstanding=["drainage_plan"],
                                           promised_by=datetime(2026, 11, 25, 17, tzinfo=SH)), water)
        commit()
    with at(25, 16):
        assert run_sweep().actions == []
    with at(25, 17, 1):
        sweep_twice()
    drainage = step_of(application, "drainage_permit")
    assert drainage.state == "supplement"
    assert drainage.supplements[-1].problems[0]["key"] == "drainage_plan"


def test_warning_escalation_and_reminders_are_sent_once_each(app):
    with at(23, 9):
        application = make_application("restaurant_opening", state="licence_approved")
        samr, head = make_reviewer("samr"), make_reviewer("samr", head=True)
    with at(23, 10):
        food = step_of(application, "food_licence")
        decide(food.id, None, Decision(StepAction.ACCEPT), samr)
        commit()
    assert food.due_at == datetime(2026, 11, 30, 17, tzinfo=SH)

    def alerts() -> set[str]:
        return set(db.session.scalars(select(StepAlert.kind).where(StepAlert.step_id == food.id)))

    with at(27, 10):
        run_sweep()
    assert alerts() == set()
    with at(30, 10):  # less than one working day left
        sweep_twice()
    assert alerts() == {"warning"}
    with at(1, 10, month=12):
        sweep_twice()
    assert alerts() == {"warning", "overdue"}
    with at(4, 10, month=12):  # three full working days overdue
        sweep_twice()
    assert alerts() == {"warning", "overdue", "overdue_3"}
    with at(15, 10, month=12):
        sweep_twice()
    assert alerts() == {"warning", "overdue", "overdue_3", "overdue_10"}
    kinds = db.session.scalars(select(Notification.kind).where(Notification.user_id == head.id)).all()
    assert sorted(k for k in kinds if k.startswith("step_overdue")) == ["step_overdue", "step_overdue_10", "step_overdue_3"]
    reviewer_kinds = db.session.scalars(select(Notification.kind).where(Notification.user_id == samr.id)).all()
    assert "step_warning" in reviewer_kinds and "step_overdue" not in reviewer_kinds


def test_half_day_items_are_not_due_soon_from_their_first_minute(app):
    with at(23, 9):
        application = make_application("company_establishment")
        commit()
    with at(23, 9, 30):
        run_sweep()
    registration = step_of(application, "establishment_registration")
    assert db.session.scalar(select(func.count()).select_from(StepAlert).where(StepAlert.step_id == registration.id)) == 0
    with at(23, 11, 30):  # 0.1 of a working day left: inside the 20% warning band
        run_sweep()
    assert db.session.scalars(select(StepAlert.kind).where(StepAlert.step_id == registration.id)).all() == ["warning"]


def test_the_sweep_command(app):
    with at(23, 9):
        make_application("restaurant_opening")
        commit()
    with at(2, 10, month=12):
        result = app.test_cli_runner().invoke(args=["onestop", "sweep"])
    assert result.exit_code == 0 and "1 actions" in result.output and "deemed accepted" in result.output


def test_uploads_of_a_form_never_submitted_are_removed_after_a_day(app):
    from onestop.applications.models import Material
    from onestop.applications.uploads import material_path
    from tests.factories import make_operator, upload

    with at(23, 9):
        operator = make_operator()
        orphan = db.session.get(Material, upload(operator, "floor_plan"))
        application = make_application("restaurant_opening", applicant=operator)
        commit()
    path = material_path(orphan)
    used = application.materials[0]
    assert path.exists()
    with at(24, 8, 59):
        run_sweep()
    assert path.exists()  # less than a day old
    with at(24, 9, 1):
        report = sweep_twice()
    assert report.actions == [f"material {orphan.id}: unused upload removed"]
    assert not path.exists() and db.session.get(Material, orphan.id) is None
    assert material_path(used).exists()  # attached materials stay
