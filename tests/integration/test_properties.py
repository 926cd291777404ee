"""Property-based: random sequences of decisions, answers, sweeps and passing time, with the invariants

- an application is completed iff all its steps are approved (and ended iff all its steps ended);
- a step's due date never moves earlier than its processing-time log said before;
- paused time is never counted: counted + paused equals the gross working time, and the counted time
  does not grow while the step waits for the applicant or is suspended.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onestop.applications.engine import open_request
from onestop.applications.models import Application
from onestop.applications.operations import AnswerError, answer_supplements, lock_application
from onestop.clocks.operations import work_calendar
from onestop.core.jobs import commit
from onestop.extensions import db
from onestop.jobs.sweep import run_sweep
from onestop.reviews.operations import Decision, DecisionError, decide
from tests.factories import RESTAURANT_ANSWERS, make_application, make_operator, make_reviewer, upload
from workflows.clock import Unit, counted_time
from workflows.states import TERMINAL_STEP_STATES, StepAction, StepState

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 23, 9, tzinfo=SH)

actions = st.lists(
    st.tuples(
        st.sampled_from(["accept", "rongque", "supplement", "approve", "reject", "suspend", "resume",
                         "answer", "sweep", "wait"]),
        st.integers(min_value=0, max_value=3),  # which open step
        st.integers(min_value=1, max_value=40),  # hours to wait
    ),
    min_size=1, max_size=25,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(floor_area=st.sampled_from([80, 300]), sign=st.booleans(), plan=actions)
def test_random_life_cycles_keep_the_invariants(app, floor_area, sign, plan):
    moment = [START]

    def travel():
        return time_machine.travel(moment[0], tick=False)

    with travel():
        operator = make_operator()
        reviewers = {code: make_reviewer(code) for code in ("samr", "fire", "urban", "water")}
        answers = dict(RESTAURANT_ANSWERS, floor_area=floor_area, wants_outdoor_sign=sign,
                       credit_code=operator.enterprise.credit_code, operator_id=operator.id_number)
        if sign:
            answers.update(sign_text="豫味小馆", sign_area=3)
        application = make_application("restaurant_opening", applicant=operator, answers=answers)
        commit()
        app_id = application.id
    for kind, index, hours in plan:
        moment[0] += timedelta(hours=1)
        with travel():
            try:
                _apply(kind, index, hours, app_id, reviewers, operator, moment)
                commit()
            except (DecisionError, AnswerError):
                db.session.rollback()
            db.session.expire_all()
            _check_invariants(db.session.get(Application, app_id))


def _apply(kind, index, hours, app_id, reviewers, operator, moment):
    application = db.session.get(Application, app_id)
    steps = [s for s in application.steps if s.is_open and s.state != "waiting"]
    step = steps[index % len(steps)] if steps else None
    reviewer = reviewers[step.department.code] if step else None
    if kind == "wait":
        moment[0] += timedelta(hours=hours)
    elif kind == "sweep":
        run_sweep()
    elif kind == "answer":
        _answer(application, operator)
    elif step is None:
        return
    elif kind == "accept":
        decide(step.id, None, Decision(StepAction.ACCEPT), reviewer)
    elif kind == "rongque":
        decide(step.id, None, Decision(StepAction.ACCEPT, outstanding=["drainage_plan"],
                                       promised_by=moment[0] + timedelta(days=2)), reviewer)
    elif kind == "supplement":
        key = "floor_plan" if step.item_code in ("food_licence", "fire_check") else "premises_proof"
        if step.item_code in ("outdoor_sign",):
            key = "sign_design"
        decide(step.id, None, Decision(StepAction.REQUEST_SUPPLEMENT, problems=[
            {"kind": "material", "key": key, "message": "请重新提供"}]), reviewer)
    elif kind == "approve":
        decide(step.id, None, Decision(StepAction.APPROVE), reviewer)
    elif kind == "reject":
        decide(step.id, None, Decision(StepAction.REJECT, "不符合条件", "某条例"), reviewer)
    elif kind == "suspend":
        decide(step.id, None, Decision(StepAction.SUSPEND, reason="等待检测"), reviewer)
    elif kind == "resume":
        decide(step.id, None, Decision(StepAction.RESUME, reason="检测完成"), reviewer)


def _answer(application, operator):
    application = lock_application(application.id)
    asked = {p["key"] for s in application.steps if s.state == "supplement" and (r := open_request(s))
             for p in r.problems if p["kind"] == "material"}
    promised = {k for s in application.steps if s.outstanding_materials for k in s.outstanding_materials}
    materials = {key: upload(operator, key) for key in asked | promised}
    answer_supplements(application, operator, {}, materials)


def _check_invariants(application):
    states = [s.step_state for s in application.steps]
    all_approved = all(s is StepState.APPROVED for s in states)
    assert (application.state == "completed") == all_approved
    assert (application.ended_at is not None) == all(s in TERMINAL_STEP_STATES for s in states)
    calendar = work_calendar()
    for step in application.steps:
        log = step.transitions
        dues = [t.due_at for t in log if t.due_at is not None]
        assert dues == sorted(dues), f"due date moved earlier: {dues}"
        for t in log:
            if t.counted is None:
                continue
            gross = counted_time(step.clock_start, t.at, Unit(step.limit_unit), calendar,
                                 start_day_counts=step.start_day_counts)
            assert abs(t.counted + t.paused - gross) < 0.0002
        for before, after in zip(log, log[1:], strict=False):
            if before.to_state in ("supplement", "suspended") and before.counted is not None:
                assert after.counted == before.counted, "time was counted during a pause"
