"""Messages to applicants and departments, written to the site's message centre after commit.

Idempotent: each message has a dedupe key, so a retried job writes nothing twice.
"""

from __future__ import annotations

from sqlalchemy import select

from onestop.accounts.models import StaffRole, User
from onestop.applications.models import Application, Notification, Step
from onestop.core.clock import now
from onestop.core.jobs import job
from onestop.extensions import db


def _notify(user_id: int, application_id: int | None, kind: str, dedupe_key: str, data: dict[str, str]) -> None:
    if db.session.scalar(select(Notification.id).where(Notification.dedupe_key == dedupe_key)):
        return
    db.session.add(Notification(
        user_id=user_id, application_id=application_id, kind=kind, dedupe_key=dedupe_key, data=data,
        created_at=now(),
    ))


@job("notify_applicant")
def notify_applicant(application_id: int, kind: str, detail: str) -> None:
    application = db.session.get(Application, application_id)
    if application is None:
        return
    recipients = [application.applicant_id]
    if application.enterprise_id is not None:
        # Every operator of the enterprise follows its matters.
        recipients = list(db.session.scalars(select(User.id).where(User.enterprise_id == application.enterprise_id)))
    for user_id in recipients:
        _notify(user_id, application.id, kind, f"app:{application.id}:{kind}:{detail}:{user_id}",
                {"reference": application.reference, "detail": detail})


@job("notify_department")
def notify_department(step_id: int) -> None:
    step = db.session.get(Step, step_id)
    if step is None:
        return
    staff = db.session.scalars(select(StaffRole.user_id).where(StaffRole.department_id == step.department_id)).all()
    for user_id in set(staff):
        _notify(user_id, step.application_id, "step_received", f"step:{step.id}:received:{user_id}",
                {"reference": step.application.reference, "item": step.item_code})


@job("notify_staff")
def notify_staff(step_id: int, kind: str, role: str) -> None:
    """Warnings to the department's reviewers; overdue escalations to its heads."""
    step = db.session.get(Step, step_id)
    if step is None:
        return
    roles = [role] if role == "head" else ["reviewer", "head"]
    staff = db.session.scalars(select(StaffRole.user_id).where(
        StaffRole.department_id == step.department_id, StaffRole.role.in_(roles))).all()
    for user_id in set(staff):
        _notify(user_id, step.application_id, f"step_{kind}", f"step:{step.id}:{kind}:{user_id}",
                {"reference": step.application.reference, "item": step.item_code})
