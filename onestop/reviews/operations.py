"""Decisions of a department on its step: accept, approve, reject.

Every decision locks the parent application, re-reads the step, checks the transition in workflows,
then routes and fans in. Two reviewers racing on one step: the second finds it already decided and
nothing changes (DecisionError "already_decided", naming who decided).
"""

from __future__ import annotations

from dataclasses import dataclass

from onestop.accounts.models import User
from onestop.applications.models import Step
from onestop.applications.operations import advance, lock_application, set_due
from onestop.audit.operations import Actor, record
from onestop.catalog.operations import bundle_of
from onestop.core.clock import now
from onestop.core.jobs import after_commit
from onestop.extensions import db
from workflows.states import InvalidTransition, StepAction, StepState, step_transition


class DecisionError(Exception):
    def __init__(self, code: str, step: Step | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.step = step


@dataclass(frozen=True)
class Decision:
    action: StepAction
    reason: str | None = None
    legal_basis: str | None = None


def decide(step_id: int, expected_version: int | None, decision: Decision, reviewer: User) -> Step:
    """Apply one decision. `expected_version` is the step version the reviewer saw (stale page check)."""
    step = db.session.get(Step, step_id)
    if step is None:
        raise DecisionError("not_found")
    if not step.can_be_worked_by(reviewer):
        raise DecisionError("forbidden")
    application = lock_application(step.application_id)
    assert application is not None
    step = next(s for s in application.steps if s.id == step_id)
    if not step.is_open:
        raise DecisionError("already_decided", step)
    if expected_version is not None and step.version_id != expected_version:
        raise DecisionError("changed_meanwhile", step)
    if decision.action is StepAction.REJECT and not (decision.reason and decision.legal_basis):
        raise DecisionError("reason_required", step)
    try:
        new_state = step_transition(step.step_state, decision.action)
    except InvalidTransition:
        raise DecisionError("not_allowed", step) from None

    actor = Actor(reviewer.id, reviewer.role_label, step.department_id)
    before = step.state
    current = now()
    bundle = bundle_of(application.bundle_version)
    # The columns a state needs are set before the state itself (the CHECK constraints demand both).
    with db.session.no_autoflush:
        if decision.action is StepAction.ACCEPT:
            step.accepted_at = current
            if bundle.item(step.item_code).clock_starts == "acceptance":
                set_due(step, current)
        if new_state in (StepState.APPROVED, StepState.REJECTED):
            step.decided_at = current
            step.decided_by_id = reviewer.id
            step.reason = decision.reason
            step.legal_basis = decision.legal_basis
        step.state = new_state
    record(f"application:step:{new_state.value}", "step", step.id,
           {"item": step.item_code, "from": before, "to": new_state.value, "reason": decision.reason,
            "legal_basis": decision.legal_basis, "due_at": step.due_at},
           actor=actor, department_id=step.department_id)
    db.session.flush()
    advance(application, bundle, actor)
    after_commit("notify_applicant", application.id, f"step_{new_state.value}", step.item_code)
    return step
