"""Messages to applicants and staff in the site's message centre (站内消息).

A message is written in the same transaction as the change it tells of (a transactional outbox): a
committed change always has its message, a rolled-back one never has. Operations call these functions
directly; delivery beyond the site (e-mail, SMS) reads the rows after commit. Each message has a dedupe
key, and a second insert of the same key is ignored, so a function that runs twice (a retried job, a
sweep) writes nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from onestop.accounts.models import StaffRole, User
from onestop.applications.models import Application, Notification, Step
from onestop.core.clock import now
from onestop.core.jobs import job
from onestop.extensions import db


def _insert_ignoring_duplicates(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    db.session.execute(insert(Notification).values(rows).on_conflict_do_nothing(index_elements=["dedupe_key"]))


def _notify(user_id: int, application_id: int | None, kind: str, dedupe_key: str, data: dict[str, str]) -> None:
    _notify_many([(user_id, application_id, kind, dedupe_key, data)])


def _notify_many(messages: Iterable[tuple[int, int | None, str, str, dict[str, str]]]) -> None:
    created = now()
    _insert_ignoring_duplicates([
        {"user_id": user_id, "application_id": application_id, "kind": kind, "dedupe_key": key, "data": data,
         "created_at": created}
        for user_id, application_id, kind, key, data in messages
    ])


@job("notify_applicant")
def notify_applicant(application_id: int, kind: str, detail: str) -> None:
    application = db.session.get(Application, application_id)
    if application is None:
        return
    recipients = [application.applicant_id]
    if application.enterprise_id is not None:
        # Every operator of the enterprise follows its matters.
        recipients = list(db.session.scalars(select(User.id).where(User.enterprise_id == application.enterprise_id)))
    _notify_many(
        (user_id, application.id, kind, f"app:{application.id}:{kind}:{detail}:{user_id}",
         {"reference": application.reference, "detail": detail})
        for user_id in recipients
    )


def notify_departments(steps: list[Step]) -> None:
    """New in the queue: every member of each step's department, one statement to find them all."""
    if not steps:
        return
    staff = db.session.execute(
        select(StaffRole.department_id, StaffRole.user_id).distinct()
        .where(StaffRole.department_id.in_({s.department_id for s in steps}))
    ).all()
    _notify_many(
        (user_id, step.application_id, "step_received", f"step:{step.id}:received:{step.log_seq}:{user_id}",
         {"reference": step.application.reference, "item": step.item_code})
        for step in steps for department_id, user_id in staff if department_id == step.department_id
    )


@job("notify_department")
def notify_department(step_id: int) -> None:
    step = db.session.get(Step, step_id)
    if step is not None:
        notify_departments([step])


@job("notify_staff")
def notify_staff(step_id: int, kind: str, role: str) -> None:
    """Warnings to the department's reviewers; overdue escalations to its heads."""
    step = db.session.get(Step, step_id)
    if step is None:
        return
    roles = [role] if role == "head" else ["reviewer", "head"]
    staff = db.session.scalars(select(StaffRole.user_id).distinct().where(
        StaffRole.department_id == step.department_id, StaffRole.role.in_(roles))).all()
    _notify_many(
        (user_id, step.application_id, f"step_{kind}", f"step:{step.id}:{kind}:{user_id}",
         {"reference": step.application.reference, "item": step.item_code})
        for user_id in staff
    )
