"""The step life cycle under frozen time: supplements, 容缺, 告知承诺, suspension, extension, withdrawal.

Phases are named by the Shanghai wall clock. The week of 2026-11-23 (Monday) has no holidays.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from onestop.applications.models import StepExtension
from onestop.applications.operations import AnswerError, answer_supplements, lock_application, withdraw
from onestop.audit.operations import Actor
from onestop.core.jobs import commit
from onestop.extensions import db
from onestop.reviews.operations import (
    Decision,
    DecisionError,
    decide,
    decide_extension,
    record_post_check,
    request_extension,
)
from tests.factories import make_application, make_reviewer, step_of, upload
from workflows.states import InvalidTransition, StepAction

SH = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> time_machine.travel:
    return time_machine.travel(datetime(2026, month, day, hour, minute, tzinfo=SH), tick=False)


def sh(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


@pytest.fixture
def restaurant(app):
    """A restaurant application whose licence was approved on Monday 23 November at 09:30."""
    with at(23, 9, 0):
        application = make_application("restaurant_opening")
        samr, fire, water = make_reviewer("samr"), make_reviewer("fire"), make_reviewer("water")
        head = make_reviewer("samr", head=True)
        licence = step_of(application, "business_licence")
        decide(licence.id, None, Decision(StepAction.ACCEPT), samr)
    with at(23, 9, 30):
        decide(licence.id, None, Decision(StepAction.APPROVE), samr)
        commit()
    return application, {"samr": samr, "fire": fire, "water": water, "head": head}


def test_supplements_from_two_departments_are_answered_at_once_and_only_they_resume(restaurant):
    application, staff = restaurant
    food, fire, drainage = (step_of(application, c) for c in ("food_licence", "fire_check", "drainage_permit"))
    with at(23, 10):
        decide(food.id, None, Decision(StepAction.ACCEPT), staff["samr"])
        decide(drainage.id, None, Decision(StepAction.ACCEPT), staff["water"])
        commit()
    # 5 working days from Monday's acceptance: Tuesday to Monday, due Monday 30 November 17:00.
    assert food.due_at == sh(30, 17)
    with at(24, 10):
        decide(food.id, None, Decision(StepAction.REQUEST_SUPPLEMENT, problems=[
            {"kind": "field", "key": "food_safety_manager", "message": "请填写持证食品安全管理员"},
            {"kind": "material", "key": "floor_plan", "message": "平面图未标明加工区"},
        ]), staff["samr"])
        decide(fire.id, None, Decision(StepAction.REQUEST_SUPPLEMENT, problems=[
            {"kind": "material", "key": "fire_safety_plan", "message": "缺少疏散示意图"},
        ]), staff["fire"])
        commit()
    assert (food.state, fire.state, drainage.state) == ("supplement", "supplement", "accepted")
    assert food.due_at is None  # paused: unknown until the applicant answers
    applicant = application.applicant
    with at(25, 15):
        with pytest.raises(AnswerError, match="not_asked"):  # only what was asked may change
            answer_supplements(application, applicant, {"shop_name": "改个名", "food_safety_manager": "钱七"},
                               {"floor_plan": upload(applicant, "floor_plan"),
                                "fire_safety_plan": upload(applicant, "fire_safety_plan")})
        db.session.rollback()
    with at(26, 10):
        application = lock_application(application.id)
        resumed = answer_supplements(application, applicant, {"food_safety_manager": "钱七"},
                                     {"floor_plan": upload(applicant, "floor_plan"),
                                      "fire_safety_plan": upload(applicant, "fire_safety_plan")})
        commit()
    assert {s.item_code for s in resumed} == {"food_licence", "fire_check"}
    food, fire, drainage = (step_of(application, c) for c in ("food_licence", "fire_check", "drainage_permit"))
    assert (food.state, fire.state, drainage.state) == ("accepted", "received", "accepted")
    # Paused Tuesday 10:00 to Thursday 10:00: exactly 2 working days later than before.
    assert food.due_at == sh(2, 17, month=12)
    assert drainage.due_at == sh(30, 17)
    assert application.answer_map["food_safety_manager"] == "钱七"
    log = [(t.action, t.to_state) for t in food.transitions]
    assert log == [("create", "waiting"), ("start", "received"), ("accept", "accepted"),
                   ("request_supplement", "supplement"), ("supplement_received", "accepted")]
    last = food.transitions[-1]
    # Counting began Tuesday 09:00 (the day of acceptance does not count); the pause began at 10:00,
    # one hour of the three-hour morning session: 1/6 of a working day.
    assert last.paused == Decimal("2") and last.counted == Decimal("0.1667")


def test_rongque_accepts_with_missing_non_key_material_and_closes_when_supplied(restaurant):
    application, staff = restaurant
    drainage = step_of(application, "drainage_permit")
    water = staff["water"]
    with at(23, 10):
        with pytest.raises(DecisionError, match="rongque_key_material"):  # a key material cannot be missing
            decide(drainage.id, None, Decision(StepAction.ACCEPT, outstanding=["premises_proof"],
                                               promised_by=sh(27, 17)), water)
        decide(drainage.id, None, Decision(StepAction.ACCEPT, outstanding=["drainage_plan"],
                                           promised_by=sh(27, 17)), water)
        commit()
    assert drainage.outstanding_materials == ["drainage_plan"]
    with at(24, 10):
        with pytest.raises(DecisionError, match="outstanding_materials"):
            decide(drainage.id, None, Decision(StepAction.APPROVE), water)
        db.session.rollback()
        application = lock_application(application.id)
        answer_supplements(application, application.applicant, {},
                           {"drainage_plan": upload(application.applicant, "drainage_plan")})
        commit()
        drainage = step_of(application, "drainage_permit")
        assert drainage.outstanding_materials is None
        decide(drainage.id, None, Decision(StepAction.APPROVE), water)
        commit()
    assert drainage.state == "approved"


def test_rongque_is_refused_where_the_item_does_not_allow_it(restaurant):
    application, staff = restaurant
    fire = step_of(application, "fire_check")
    with at(23, 10), pytest.raises(DecisionError, match="rongque_not_allowed"):
        decide(fire.id, None, Decision(StepAction.ACCEPT, outstanding=["fire_safety_plan"],
                                       promised_by=sh(27, 17)), staff["fire"])


def test_approval_on_commitment_schedules_the_post_check_and_the_head_can_revoke(restaurant):
    application, staff = restaurant
    food = step_of(application, "food_licence")
    with at(23, 10):
        decide(food.id, None, Decision(StepAction.ACCEPT), staff["samr"])
        decide(food.id, None, Decision(StepAction.APPROVE, on_commitment=True), staff["samr"])
        commit()
    assert food.on_commitment and food.post_check_due_at == sh(24, 0, month=12)  # 30 natural days
    with pytest.raises(DecisionError, match="forbidden"):
        record_post_check(food.id, False, "现场核查与承诺不符", staff["samr"])  # a reviewer is not the head
    record_post_check(food.id, False, "现场核查与承诺不符", staff["head"])
    commit()
    assert food.post_check_outcome == "revoked"
    drainage = step_of(application, "drainage_permit")
    with at(23, 11), pytest.raises(DecisionError, match="commitment_not_allowed"):
        decide(drainage.id, None, Decision(StepAction.ACCEPT), staff["water"])
        decide(drainage.id, None, Decision(StepAction.APPROVE, on_commitment=True), staff["water"])


def test_suspension_pauses_the_clock_and_resumption_moves_the_due_date(restaurant):
    application, staff = restaurant
    food = step_of(application, "food_licence")
    with at(23, 10):
        decide(food.id, None, Decision(StepAction.ACCEPT), staff["samr"])
        commit()
    with at(24, 9):
        with pytest.raises(DecisionError, match="reason_required"):
            decide(food.id, None, Decision(StepAction.SUSPEND), staff["samr"])
        decide(food.id, None, Decision(StepAction.SUSPEND, reason="等待检测报告"), staff["samr"])
        commit()
    with at(24, 13):  # three working hours of Tuesday's morning: half a working day paused
        decide(food.id, None, Decision(StepAction.RESUME, reason="检测报告已出"), staff["samr"])
        commit()
    assert food.due_at == sh(1, 12, month=12)  # Monday 30 Nov 17:00 plus half a working day


def test_extension_is_bounded_approved_by_the_head_and_moves_the_due_date(restaurant):
    application, staff = restaurant
    food = step_of(application, "food_licence")
    with at(23, 10):
        decide(food.id, None, Decision(StepAction.ACCEPT), staff["samr"])
        with pytest.raises(DecisionError, match="extension_too_long"):
            request_extension(food.id, Decimal(11), "现场核查需要", staff["samr"])
        extension = request_extension(food.id, Decimal(10), "需组织专家评审", staff["samr"])
        commit()
        with pytest.raises(DecisionError, match="forbidden"):
            decide_extension(extension.id, True, staff["samr"])
        decide_extension(extension.id, True, staff["head"])
        commit()
    assert food.due_at == sh(14, 17, month=12)  # 15 working days from Tuesday 24 November
    with at(23, 11), pytest.raises(DecisionError, match="extension_too_long"):
        request_extension(food.id, Decimal("0.5"), "再延", staff["samr"])  # the bound is for all extensions
    drainage = step_of(application, "drainage_permit")
    with at(23, 11), pytest.raises(DecisionError):
        request_extension(drainage.id, Decimal(1), "未受理", staff["water"])  # no clock yet
    assert db.session.query(StepExtension).filter_by(state="approved").count() == 1


def test_withdrawal_terminates_open_steps_once(restaurant):
    application, _staff = restaurant
    with at(23, 11):
        application = lock_application(application.id)
        withdraw(application, "不再开店", Actor(application.applicant_id, "enterprise"))
        commit()
    assert application.state == "withdrawn"
    assert {s.item_code: s.state for s in application.steps} == {
        "business_licence": "approved", "food_licence": "terminated", "fire_check": "terminated",
        "drainage_permit": "terminated"}
    with pytest.raises(InvalidTransition):
        withdraw(application, "again", Actor(application.applicant_id, "enterprise"))


def test_supplement_problems_must_belong_to_the_item(restaurant):
    application, staff = restaurant
    drainage = step_of(application, "drainage_permit")
    with at(23, 10):
        with pytest.raises(DecisionError, match="problem_not_in_item"):
            decide(drainage.id, None, Decision(StepAction.REQUEST_SUPPLEMENT, problems=[
                {"kind": "field", "key": "food_safety_manager", "message": "x"}]), staff["water"])
        with pytest.raises(DecisionError, match="problems_required"):
            decide(drainage.id, None, Decision(StepAction.REQUEST_SUPPLEMENT), staff["water"])


def test_a_supplement_before_acceptance_does_not_pause_the_later_clock(restaurant):
    application, staff = restaurant
    fire = step_of(application, "fire_check")
    with at(23, 10):
        decide(fire.id, None, Decision(StepAction.REQUEST_SUPPLEMENT, problems=[
            {"kind": "material", "key": "fire_safety_plan", "message": "缺少疏散示意图"}]), staff["fire"])
        commit()
    with at(24, 10):
        application = lock_application(application.id)
        answer_supplements(application, application.applicant, {},
                           {"fire_safety_plan": upload(application.applicant, "fire_safety_plan")})
        commit()
    with at(25, 10):
        fire = step_of(application, "fire_check")
        decide(fire.id, None, Decision(StepAction.ACCEPT), staff["fire"])
        commit()
    # Accepted Wednesday: 5 working days from Thursday, the earlier supplement does not shift it.
    assert fire.due_at == sh(2, 17, month=12)
