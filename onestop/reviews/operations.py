"""Decisions of a department on its step, and what its head decides about them.

Every decision locks the parent application, re-reads the step, checks the transition in workflows,
then routes and fans in. Two reviewers racing on one step: the second finds it already decided and
nothing changes (DecisionError "already_decided", naming who decided).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from onestop.accounts.models import User
from onestop.applications import engine
from onestop.applications.models import Application, Step, StepExtension
from onestop.applications.operations import advance, lock_application, lock_application_of_step
from onestop.audit.operations import Actor, record
from onestop.catalog.operations import bundle_of, bundle_of_application
from onestop.core.clock import now
from onestop.extensions import db
from onestop.jobs.notifications import notify_applicant
from onestop.reviews import claims
from workflows.catalog.schema import Bundle, Item, Mode
from workflows.states import InvalidTransition, StepAction, StepState, step_transition


class DecisionError(Exception):
    def __init__(self, code: str, step: Step | None = None, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.step = step
        self.detail = detail


@dataclass(frozen=True)
class Decision:
    action: StepAction
    reason: str | None = None
    legal_basis: str | None = None
    # ACCEPT with 容缺: the non-key materials still missing, and the date they are promised by.
    outstanding: list[str] = field(default_factory=list)
    promised_by: datetime | None = None
    # REQUEST_SUPPLEMENT: every problem at once, [{"kind": "field"|"material", "key", "message"}].
    problems: list[dict[str, str]] = field(default_factory=list)
    # APPROVE on the applicant's commitment (告知承诺制): schedules the post-approval check.
    on_commitment: bool = False


def decide(step_id: int, expected_version: int | None, decision: Decision, reviewer: User) -> Step:
    """Apply one decision. `expected_version` is the step version the reviewer saw (stale page check)."""
    # One statement finds and locks the application through the step; the step is read again under the lock.
    application = lock_application_of_step(step_id)
    if application is None:
        raise DecisionError("not_found")
    step = next(s for s in application.steps if s.id == step_id)
    if not step.can_be_worked_by(reviewer):
        raise DecisionError("forbidden")
    if not step.is_open:
        raise DecisionError("already_decided", step)
    claims.check_for_decision(step, reviewer)  # held by someone else: refused, nothing changes
    if expected_version is not None and step.version_id != expected_version:
        raise DecisionError("changed_meanwhile", step)
    try:
        step_transition(step.step_state, decision.action,
                        resume_to=StepState(step.resume_state) if step.resume_state else None)
    except InvalidTransition:
        raise DecisionError("not_allowed", step) from None
    bundle = bundle_of_application(application)
    item = bundle.item(step.item_code)
    actor = Actor(reviewer.id, reviewer.role_label, step.department_id)
    handler = _HANDLERS.get(decision.action)
    if handler is None:
        raise DecisionError("not_allowed", step)
    handler(step, item, bundle, decision, actor)
    db.session.flush()
    advance(application, bundle, actor)
    notify_applicant(application.id, f"step_{step.state}", f"{step.item_code}:{step.log_seq}")
    return step


def _accept(step: Step, item: Item, bundle: Bundle, decision: Decision, actor: Actor) -> None:
    current = now()
    if decision.outstanding:
        if Mode.RONGQUE not in item.modes:
            raise DecisionError("rongque_not_allowed", step)
        allowed = {m.key for m in bundle.materials if step.item_code in m.items and not m.key_material}
        wrong = set(decision.outstanding) - allowed
        if wrong:
            raise DecisionError("rongque_key_material", step, ", ".join(sorted(wrong)))
        latest = engine.due_after(current, item.supplement_limit)
        if decision.promised_by is None or not current < decision.promised_by <= latest:
            raise DecisionError("rongque_promise_date", step)
    with db.session.no_autoflush:
        step.accepted_at = current
        if step.clock_start is None:
            step.clock_start = current
        if decision.outstanding:
            step.outstanding_materials = sorted(decision.outstanding)
            step.outstanding_due_at = decision.promised_by
    engine.move(step, StepAction.ACCEPT, actor,
                data={"outstanding": decision.outstanding, "promised_by": decision.promised_by})


def _request_supplement(step: Step, item: Item, bundle: Bundle, decision: Decision, actor: Actor) -> None:
    if not decision.problems:
        raise DecisionError("problems_required", step)
    fields = {f.key for f in bundle.fields if step.item_code in f.items}
    materials = {m.key for m in bundle.materials if step.item_code in m.items and not m.held_by_government}
    for problem in decision.problems:
        if not problem.get("message", "").strip():
            raise DecisionError("problem_message_required", step, problem.get("key", ""))
        known = fields if problem.get("kind") == "field" else materials if problem.get("kind") == "material" else None
        # A department may only ask about what its own item needs (data minimisation both ways).
        if known is None or problem.get("key") not in known:
            raise DecisionError("problem_not_in_item", step, str(problem.get("key")))
    engine.request_supplement(step, item, actor, [
        {"kind": p["kind"], "key": p["key"], "message": p["message"].strip()} for p in decision.problems
    ])


def _suspend(step: Step, item: Item, bundle: Bundle, decision: Decision, actor: Actor) -> None:
    if not decision.reason:
        raise DecisionError("reason_required", step)
    engine.open_pause(step, "suspension", decision.reason)
    engine.move(step, StepAction.SUSPEND, actor, data={"reason": decision.reason})


def _resume(step: Step, item: Item, bundle: Bundle, decision: Decision, actor: Actor) -> None:
    if not decision.reason:
        raise DecisionError("reason_required", step)  # why the clock runs again is part of the record
    engine.close_pause(step)
    engine.move(step, StepAction.RESUME, actor, data={"reason": decision.reason})


def _approve(step: Step, item: Item, bundle: Bundle, decision: Decision, actor: Actor) -> None:
    if step.outstanding_materials:
        # 容缺: the case closes only when the promised materials are in ("两证办结").
        raise DecisionError("outstanding_materials", step, ", ".join(step.outstanding_materials))
    if decision.on_commitment and Mode.COMMITMENT not in item.modes:
        raise DecisionError("commitment_not_allowed", step)
    current = now()
    with db.session.no_autoflush:
        step.decided_at = current
        step.decided_by_id = actor.user_id
        step.reason = decision.reason
        step.legal_basis = decision.legal_basis
        if decision.on_commitment:
            assert item.post_check_limit is not None
            step.on_commitment = True
            step.post_check_due_at = engine.due_after(current, item.post_check_limit)
    engine.move(step, StepAction.APPROVE, actor,
                data={"on_commitment": decision.on_commitment, "post_check_due_at": step.post_check_due_at})


def _reject(step: Step, item: Item, bundle: Bundle, decision: Decision, actor: Actor) -> None:
    if not (decision.reason and decision.legal_basis):
        raise DecisionError("reason_required", step)
    with db.session.no_autoflush:
        engine.close_pause(step)
        step.decided_at = now()
        step.decided_by_id = actor.user_id
        step.reason = decision.reason
        step.legal_basis = decision.legal_basis
    engine.move(step, StepAction.REJECT, actor, data={"reason": decision.reason, "legal_basis": decision.legal_basis})


_HANDLERS = {
    StepAction.ACCEPT: _accept,
    StepAction.REQUEST_SUPPLEMENT: _request_supplement,
    StepAction.SUSPEND: _suspend,
    StepAction.RESUME: _resume,
    StepAction.APPROVE: _approve,
    StepAction.REJECT: _reject,
}


# -- extensions (延期) -----------------------------------------------------------------------------------

def request_extension(step_id: int, amount: Decimal, reason: str, reviewer: User) -> StepExtension:
    step = db.session.get(Step, step_id)
    if step is None or not step.can_be_worked_by(reviewer):
        raise DecisionError("forbidden")
    lock_application(step.application_id)
    if not step.is_open or step.clock_start is None:
        raise DecisionError("not_allowed", step)
    item = bundle_of(step.application.bundle_version).item(step.item_code)
    _check_extension_bound(step, item, Decimal(amount))
    if not reason.strip():
        raise DecisionError("reason_required", step)
    extension = StepExtension(step_id=step.id, amount=Decimal(amount), reason=reason.strip(), state="requested",
                              requested_by_id=reviewer.id, requested_at=now())
    db.session.add(extension)
    db.session.flush()
    record("application:step:extension_requested", "step", step.id, {"amount": amount, "reason": reason},
           actor=Actor(reviewer.id, reviewer.role_label, step.department_id), department_id=step.department_id)
    return extension


def _check_extension_bound(step: Step, item: Item, amount: Decimal) -> None:
    if item.max_extension is None:
        raise DecisionError("extension_not_allowed", step)
    if amount <= 0 or Decimal(step.extension_amount) + amount > item.max_extension.amount:
        raise DecisionError("extension_too_long", step, str(item.max_extension.amount))


def decide_extension(extension_id: int, approve: bool, head: User) -> StepExtension:
    """The department head approves or refuses; an approved extension moves the due date and the
    applicant is told."""
    extension = db.session.get(StepExtension, extension_id)
    if extension is None or not head.is_head_of(extension.step.department_id):
        raise DecisionError("forbidden")
    application = lock_application(extension.step.application_id)
    assert application is not None
    step = next(s for s in application.steps if s.id == extension.step_id)
    if extension.state != "requested" or not step.is_open:
        raise DecisionError("already_decided", step)
    actor = Actor(head.id, "head", step.department_id)
    with db.session.no_autoflush:
        extension.decided_by_id, extension.decided_at = head.id, now()
        extension.state = "approved" if approve else "refused"
    if approve:
        item = bundle_of_application(application).item(step.item_code)
        _check_extension_bound(step, item, Decimal(extension.amount))
        before = step.due_at
        step.extension_amount = Decimal(step.extension_amount) + Decimal(extension.amount)
        engine.recompute_due(step)
        record("application:step:extended", "step", step.id,
               {"amount": extension.amount, "due_before": before, "due_after": step.due_at,
                "reason": extension.reason}, actor=actor, department_id=step.department_id)
        notify_applicant(application.id, "step_extended", f"{step.item_code}:{extension.id}")
    else:
        record("application:step:extension_refused", "step", step.id, {"extension": extension.id},
               actor=actor, department_id=step.department_id)
    return extension


# -- post-approval checks (告知承诺制 事后核查) -----------------------------------------------------------

def record_post_check(step_id: int, confirmed: bool, note: str, head: User) -> Step:
    """The outcome of the site check after an approval on commitment: confirmed, or the result is
    revoked because the commitment was false."""
    step = db.session.get(Step, step_id)
    if step is None or not head.is_head_of(step.department_id):
        raise DecisionError("forbidden")
    application: Application | None = lock_application(step.application_id)
    assert application is not None
    if not step.on_commitment or step.post_check_outcome is not None:
        raise DecisionError("not_allowed", step)
    if not note.strip():
        raise DecisionError("reason_required", step)
    step.post_check_outcome = "confirmed" if confirmed else "revoked"
    if not confirmed:
        from onestop.certificates.operations import revoke_for_step

        revoke_for_step(step, f"事后核查发现承诺不实：{note.strip()}", Actor(head.id, "head", step.department_id))
    record(f"application:step:post_check_{step.post_check_outcome}", "step", step.id, {"note": note},
           actor=Actor(head.id, "head", step.department_id), department_id=step.department_id)
    notify_applicant(application.id, f"post_check_{step.post_check_outcome}", step.item_code)
    return step
