"""Messages to applicants and staff in the site's message centre (站内消息).

A message is written in the same transaction as the change it tells of (a transactional outbox): a
committed change always has its message, a rolled-back one never has. Operations call these functions
directly; delivery beyond the site reads the rows after commit: each new message becomes an e-mail
(users with an address, staff included) and a text message (applicants), sent by the job
`send_messages` at most once per channel and retried by the sweep (onestop.messaging). Each message has
a dedupe key, and a second insert of the same key is ignored, so a function that runs twice (a retried
job, a sweep) writes nothing twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from onestop.accounts.models import StaffRole, User
from onestop.applications.models import Application, Notification, Step
from onestop.core.clock import now
from onestop.core.jobs import after_commit, job
from onestop.extensions import db
from onestop.messaging.models import OutboundMessage
from onestop.messaging.operations import deliver, queue_for


def _insert_ignoring_duplicates(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    inserted = db.session.scalars(insert(Notification).values(rows).on_conflict_do_nothing(
        index_elements=["dedupe_key"]).returning(Notification.id)).all()
    if inserted:
        # E-mail and SMS leave only once the messages are committed; a duplicate (not inserted) sends nothing.
        after_commit("send_messages", *sorted(inserted))


@job("send_messages")
def send_messages(*notification_ids: int) -> None:
    """The e-mail and the text message of each new message: queued in the outbox (once per channel) and
    sent; a failed send is counted and retried by the sweep, never repeated after success."""
    for notification in db.session.scalars(select(Notification).where(Notification.id.in_(notification_ids))):
        queued = set(db.session.scalars(select(OutboundMessage.channel).where(
            OutboundMessage.notification_id == notification.id)))
        user = db.session.get(User, notification.user_id)
        if user is not None and not queued:
            queue_for(notification, user)
    db.session.flush()
    stmt = select(OutboundMessage).where(OutboundMessage.notification_id.in_(notification_ids),
                                         OutboundMessage.state == "pending").order_by(OutboundMessage.id)
    if db.engine.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)  # a concurrent retry takes the others
    for message in db.session.scalars(stmt):
        deliver(message)


@job("notify_rating")
def notify_rating(rating_id: int, kind: str) -> None:
    """A bad rating, an appeal or an overdue answer: the heads of the department are told."""
    from onestop.ratings.models import Rating

    rating = db.session.get(Rating, rating_id)
    if rating is None:
        return
    application = db.session.get(Application, rating.application_id)
    heads = db.session.scalars(select(StaffRole.user_id).distinct().where(
        StaffRole.department_id == rating.department_id, StaffRole.role == "head")).all()
    _notify_many(
        (user_id, rating.application_id, kind, f"rating:{rating.id}:{kind}:{user_id}",
         {"reference": application.reference if application else "", "rating": str(rating.id)})
        for user_id in heads
    )


def _notify(user_id: int, application_id: int | None, kind: str, dedupe_key: str, data: dict[str, str]) -> None:
    _notify_many([(user_id, application_id, kind, dedupe_key, data)])


def _dedupe_key(key: str) -> str:
    """Keys longer than the column (128) are replaced by their SHA-256: PostgreSQL would refuse the insert
    and roll back the change the message tells of (SQLite would silently store the long key)."""
    if len(key) <= 128:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _notify_many(messages: Iterable[tuple[int, int | None, str, str, dict[str, str]]]) -> None:
    created = now()
    _insert_ignoring_duplicates([
        {"user_id": user_id, "application_id": application_id, "kind": kind, "dedupe_key": _dedupe_key(key),
         "data": data, "created_at": created}
        for user_id, application_id, kind, key, data in messages
    ])


@job("notify_applicant")
def notify_applicant(application_id: int, kind: str, detail: str) -> None:
    if kind == "step_supplement":
        return  # the request itself sends "supplement_requested", with the to-do list: one notice, not two
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
