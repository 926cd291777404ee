"""Messages of the desk to staff, through the message centre's one funnel (jobs.notifications._notify).

Called in the transaction of the change they tell of; registered as a job too, for a caller that can
only act after commit."""

from __future__ import annotations

from onestop.applications.models import Step
from onestop.core.jobs import job
from onestop.extensions import db
from onestop.jobs.notifications import _notify


@job("notify_assigned")
def notify_assigned(step_id: int, user_id: int, at: str) -> None:
    """The head gave a step to a reviewer. `at` makes each assignment its own message (idempotent per
    assignment, not per step)."""
    step = db.session.get(Step, step_id)
    if step is None:
        return
    _notify(user_id, step.application_id, "step_assigned", f"step:{step.id}:assigned:{user_id}:{at}",
            {"reference": step.application.reference, "item": step.item_code, "step": str(step.id)})
