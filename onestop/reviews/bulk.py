"""Bulk acceptance (批量受理): several complete steps accepted at once, each one its own decision.

Only safe where nothing needs judging: the step is waiting to be accepted, no correction is pending and
every material its item requires is in. Each step goes through decide() (lock, claim check, transition,
audit event, message to the applicant); a step that does not qualify is left as it is and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from onestop.accounts.models import User
from onestop.applications.models import Step
from onestop.catalog.operations import bundle_of
from onestop.extensions import db
from onestop.reviews import claims
from onestop.reviews.operations import Decision, DecisionError, decide
from workflows.states import StepAction

MAX_BULK = 100


@dataclass
class BulkResult:
    accepted: list[Step] = field(default_factory=list)
    skipped: list[tuple[Step, str]] = field(default_factory=list)  # (step, reason code)


def missing_materials(step: Step) -> list[str]:
    """Keys of the materials the step's item requires (as the answers call for them) that are not in."""
    application = step.application
    bundle = bundle_of(application.bundle_version)
    answers = application.answer_map
    have = {m.material_key for m in application.materials}
    return [m.key for m in bundle.materials
            if step.item_code in m.items and m.required and not m.held_by_government
            and (m.show_if is None or m.show_if.holds(answers)) and m.key not in have]


def why_not_complete(step: Step, reviewer: User) -> str | None:
    """None when the step can be accepted in bulk, else the reason code."""
    if not step.can_be_worked_by(reviewer):
        return "forbidden"
    if step.state != "received":
        return "not_to_accept"
    claim = claims.live_claim(step)
    if claim is not None and claim.holder_id != reviewer.id:
        return "claimed_by_other"
    if missing_materials(step):
        return "incomplete"
    return None


def bulk_accept(step_ids: list[int], reviewer: User) -> BulkResult:
    result = BulkResult()
    for step_id in dict.fromkeys(step_ids[:MAX_BULK]):
        step = db.session.get(Step, step_id)
        if step is None or not step.can_be_worked_by(reviewer):
            continue  # another department's step is not even named
        reason = why_not_complete(step, reviewer)
        if reason is not None:
            result.skipped.append((step, reason))
            continue
        try:
            # decide() raises before it changes anything, so a refused step leaves no trace but the report.
            result.accepted.append(decide(step.id, None, Decision(StepAction.ACCEPT), reviewer))
        except DecisionError as exc:
            result.skipped.append((step, exc.code))
    return result
