"""The later catalog bundles through the engine: a 公示 period that passes or meets an objection, the
applicant's filing window after it, and eligibility refused at submission with the catalog's message."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from onestop.applications.operations import SubmissionError, answer_supplements, lock_application
from onestop.core.jobs import commit
from onestop.extensions import db
from onestop.jobs.sweep import run_sweep
from onestop.reviews.operations import Decision, decide
from tests.factories import (
    answers_for,
    approve_open_steps,
    make_application,
    make_operator,
    make_reviewer,
    step_of,
)
from tests.integration.test_web import hidden, login
from workflows.states import StepAction

SH = ZoneInfo("Asia/Shanghai")


def at(month: int, day: int, hour: int = 10) -> time_machine.travel:
    return time_machine.travel(datetime(2026, month, day, hour, tzinfo=SH), tick=False)


def closure(want_precheck: bool):
    operator = make_operator()
    return make_application("simple_deregistration", applicant=operator,
                            answers=answers_for("simple_deregistration", operator, want_precheck=want_precheck))


def test_notice_runs_twenty_natural_days_then_the_applicant_files_and_samr_decides(app):
    with at(11, 23):
        application = closure(want_precheck=False)
        commit()
    notice = step_of(application, "public_notice")
    assert notice.state == "accepted"  # a 公示 period runs from the moment it starts
    assert notice.due_at == datetime(2026, 12, 14, 0, tzinfo=SH)  # 20 natural days, to the end of 13 Dec
    with at(12, 13, 23):
        assert run_sweep().actions == []
    with at(12, 14, 9):
        run_sweep()
    application = lock_application(application.id)
    assert step_of(application, "public_notice").state == "approved"
    filing = step_of(application, "deregistration_registration")
    assert filing.state == "supplement"  # waiting for the applicant to file, within 30 days
    assert filing.supplements[0].due_at == datetime(2027, 1, 14, 0, tzinfo=SH)
    with at(12, 20):
        answer_supplements(application, application.applicant, {}, {})
        commit()
        filing = step_of(application, "deregistration_registration")
        samr = make_reviewer("samr")
        decide(filing.id, None, Decision(StepAction.ACCEPT), samr)
        decide(filing.id, None, Decision(StepAction.APPROVE), samr)
        commit()
    assert application.state == "completed"


def test_an_objection_during_the_notice_stops_the_closure(app):
    with at(11, 23):
        application = closure(want_precheck=False)
        samr = make_reviewer("samr")
        commit()
    with at(11, 30):
        notice = step_of(application, "public_notice")
        decide(notice.id, None, Decision(StepAction.REJECT, "债权人提出异议", "《市场主体登记管理条例》第三十三条"), samr)
        commit()
    assert step_of(application, "deregistration_registration").state == "terminated"
    assert application.state == "rejected"


def test_an_objection_after_a_passed_pre_check_still_refuses_the_closure(app):
    """Not "partially completed": the pre-check is only a means to the closure (all or nothing)."""
    with at(11, 23):
        application = closure(want_precheck=True)
        approve_open_steps(application, rounds=1)  # the four departments' pre-checks
        commit()
    notice = step_of(application, "public_notice")
    assert notice.state == "accepted"
    with at(11, 30):
        decide(notice.id, None, Decision(StepAction.REJECT, "债权人提出异议", "《市场主体登记管理条例》第三十三条"),
               make_reviewer("samr"))
        commit()
    assert application.state == "rejected"


def test_the_precheck_runs_first_with_thirty_minute_clocks(app):
    with at(11, 23, 9):
        application = closure(want_precheck=True)
        commit()
    checks = [s for s in application.steps if s.item_code.startswith("precheck_")]
    assert len(checks) == 4 and {s.limit_unit for s in checks} == {"minutes"}
    assert step_of(application, "public_notice").state == "waiting"


def test_credit_repair_is_refused_before_the_publication_period_with_the_catalogs_message(app, client):
    with at(11, 23):  # a food penalty of 10 January 2026 may be repaired from 10 January 2027
        operator = make_operator("credit_op")
        commit()
        too_early = answers_for("credit_repair", operator, penalty_category="food", penalty_date="2026-01-10",
                                fulfilment_date="2026-02-01")
        with pytest.raises(SubmissionError, match="not_eligible"):
            make_application("credit_repair", applicant=operator, answers=too_early)
        db.session.rollback()
        login(client, "credit_op")
        from tests.integration.portal import post_step, section_data, start

        draft = start(client, "credit_repair")
        said = post_step(client, draft, "penalty", section_data("credit_repair", "penalty", too_early))
        assert said.status_code == 200 and "最短公示期为1年" in said.get_data(as_text=True)  # said on the step
        page = client.get(f"{draft}/check").get_data(as_text=True)
        assert "最短公示期为1年" in page  # the check page says why, and offers no submission
        assert client.post(f"{draft}/submit", data={"csrf_token": hidden(page, "csrf_token")}).status_code == 302
