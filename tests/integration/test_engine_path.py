"""The first end-to-end matter through the operations: fan-out, 前置, decisions, fan-in."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from onestop.applications.models import Application, Notification
from onestop.audit.models import AuditEvent
from onestop.core.jobs import commit
from onestop.extensions import db
from onestop.reviews.operations import Decision, DecisionError, decide
from tests.factories import approve_open_steps, make_application, make_reviewer, step_of
from workflows.states import StepAction

SHANGHAI = ZoneInfo("Asia/Shanghai")


def states(application: Application) -> dict[str, str]:
    return {s.item_code: s.state for s in application.steps}


def test_submission_fans_out_to_items_that_start_now(app):
    application = make_application("restaurant_opening")
    commit()
    # Floor area 350 m² calls for the fire check; no outdoor sign wanted: no sign permit step.
    assert states(application) == {
        "business_licence": "received", "food_licence": "waiting", "fire_check": "waiting",
        "drainage_permit": "waiting",
    }
    assert application.state == "in_progress"
    assert application.reference.startswith("410100")
    assert len(application.query_code) == 6


def test_dependants_start_when_prerequisite_is_approved_and_application_completes_once(app):
    application = make_application("restaurant_opening")
    samr = make_reviewer("samr")
    licence = step_of(application, "business_licence")
    decide(licence.id, None, Decision(StepAction.ACCEPT), samr)
    decide(licence.id, None, Decision(StepAction.APPROVE), samr)
    commit()
    assert states(application) == {
        "business_licence": "approved", "food_licence": "received", "fire_check": "received",
        "drainage_permit": "received",
    }
    approve_open_steps(application)
    commit()
    assert application.state == "completed"
    assert application.ended_at is not None
    completions = db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(
            AuditEvent.tag == "application:completed", AuditEvent.subject_id == application.id
        )
    )
    assert completions == 1
    # The after-commit jobs ran inline: the operator was told of submission and completion.
    kinds = set(db.session.scalars(select(Notification.kind).where(Notification.application_id == application.id)))
    assert {"submitted", "completed", "step_approved"} <= kinds


def test_rejected_prerequisite_terminates_dependants_and_rejects_application(app):
    application = make_application("restaurant_opening")
    samr = make_reviewer("samr")
    licence = step_of(application, "business_licence")
    decide(licence.id, None, Decision(StepAction.REJECT, "经营场所不符合要求", "《市场主体登记管理条例》第十九条"), samr)
    commit()
    assert states(application) == {
        "business_licence": "rejected", "food_licence": "terminated", "fire_check": "terminated",
        "drainage_permit": "terminated",
    }
    assert step_of(application, "food_licence").reason == "prerequisite:business_licence"
    assert application.state == "rejected"


def test_some_rejected_gives_partial_completion(app):
    application = make_application("restaurant_opening", state="licence_approved")
    fire = make_reviewer("fire")
    step = step_of(application, "fire_check")
    decide(step.id, None, Decision(StepAction.ACCEPT), fire)
    decide(step.id, None, Decision(StepAction.REJECT, "疏散通道不足", "《中华人民共和国消防法》第十五条"), fire)
    approve_open_steps(application)
    commit()
    assert application.state == "partially_completed"


def test_rejection_needs_reason_and_legal_basis(app):
    application = make_application("restaurant_opening")
    samr = make_reviewer("samr")
    with pytest.raises(DecisionError) as exc:
        decide(step_of(application, "business_licence").id, None, Decision(StepAction.REJECT, "no basis"), samr)
    assert exc.value.code == "reason_required"


def test_reviewer_of_another_department_cannot_decide(app):
    application = make_application("restaurant_opening")
    water = make_reviewer("water")
    with pytest.raises(DecisionError) as exc:
        decide(step_of(application, "business_licence").id, None, Decision(StepAction.ACCEPT), water)
    assert exc.value.code == "forbidden"
    assert step_of(application, "business_licence").state == "received"


def test_second_decision_on_a_decided_step_is_refused(app):
    application = make_application("restaurant_opening")
    first, second = make_reviewer("samr"), make_reviewer("samr")
    licence = step_of(application, "business_licence")
    decide(licence.id, None, Decision(StepAction.ACCEPT), first)
    decide(licence.id, None, Decision(StepAction.APPROVE), first)
    commit()
    with pytest.raises(DecisionError) as exc:
        decide(licence.id, None, Decision(StepAction.REJECT, "x", "y"), second)
    assert exc.value.code == "already_decided"
    assert exc.value.step.decided_by_id == first.id


def test_company_establishment_half_day_clocks_under_frozen_time(app):
    # Monday 2026-11-23 09:00 in Shanghai: registration is due by 12:00 (0.5 working day from receipt).
    with time_machine.travel(datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI), tick=False):
        application = make_application("company_establishment")
        commit()
        registration = step_of(application, "establishment_registration")
        assert registration.due_at == datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI)
    with time_machine.travel(datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI), tick=False):
        samr = make_reviewer("samr")
        decide(registration.id, None, Decision(StepAction.ACCEPT), samr)
        decide(registration.id, None, Decision(StepAction.APPROVE), samr)
        commit()
    started = [s for s in application.steps if s.item_code != "establishment_registration"]
    assert len(started) == 5  # seal, tax, social insurance, housing fund and bank (both asked for)
    assert {s.due_at for s in started} == {datetime(2026, 11, 23, 17, 0, tzinfo=SHANGHAI)}
