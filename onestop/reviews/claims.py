"""Claims (认领): a reviewer takes a step before working on it, so two people never work one step.

A claim is three columns on the step: who holds it, since when, and when it lapses. Every activity of
the holder on the step (opening it, deciding) moves the lapse time on by ONESTOP_CLAIM_IDLE_MINUTES; a
step its holder left alone that long is free again, read from the data at request time (no sweep needed).
A claim the department head assigned has no lapse time: it is held until released, reassigned or
decided.

Claims change with one conditional UPDATE each, so two reviewers claiming at the same instant cannot
both win, on PostgreSQL and SQLite alike. They do not bump the step's version: claiming does not make a
reviewer's open decision form stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update

from onestop.accounts.models import StaffRole, User
from onestop.applications.models import Step
from onestop.audit.operations import Actor, record
from onestop.core.clock import now
from onestop.extensions import db


class ClaimError(Exception):
    def __init__(self, code: str, holder: User | None = None) -> None:
        super().__init__(code if holder is None else f"{code}: {holder.name}")
        self.code = code
        self.holder = holder


@dataclass(frozen=True)
class Claim:
    holder_id: int
    since: datetime
    expires_at: datetime | None  # None: assigned by the head


def idle_limit() -> timedelta:
    return timedelta(minutes=int(current_app.config.get("ONESTOP_CLAIM_IDLE_MINUTES", 30)))


def live_claim(step: Step, at: datetime | None = None) -> Claim | None:
    """The claim in force on the step, or None when it is free (never claimed, released, lapsed)."""
    at = at or now()
    if step.claimed_by_id is None or step.claimed_at is None:
        return None
    if step.claim_expires_at is not None and step.claim_expires_at <= at:
        return None
    return Claim(step.claimed_by_id, step.claimed_at, step.claim_expires_at)


def live_claim_clause(at: datetime) -> object:
    """SQL: the step's claim is in force at `at` (for queues and loads)."""
    return and_(Step.claimed_by_id.is_not(None),
                or_(Step.claim_expires_at.is_(None), Step.claim_expires_at > at))


def holds(step: Step, user: User) -> bool:
    claim = live_claim(step)
    return claim is not None and claim.holder_id == user.id


def _actor(user: User, step: Step) -> Actor:
    return Actor(user.id, user.role_label, step.department_id)


def claim(step: Step, reviewer: User) -> None:
    """Take a free step (or renew one's own claim). Refused when another person holds it."""
    if not step.is_open or not step.can_be_worked_by(reviewer):
        raise ClaimError("not_allowed")
    if holds(step, reviewer):
        touch(step, reviewer)
        return
    current = now()
    taken = db.session.execute(
        update(Step).where(
            Step.id == step.id,
            Step.decided_at.is_(None),
            or_(Step.claimed_by_id.is_(None), Step.claimed_by_id == reviewer.id,
                Step.claim_expires_at <= current),
        ).values(claimed_by_id=reviewer.id, claimed_at=current, claim_expires_at=current + idle_limit())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(step)
    if not taken:
        holder = db.session.get(User, step.claimed_by_id) if step.claimed_by_id else None
        raise ClaimError("held" if holder is not None else "not_allowed", holder)
    record("application:step:claimed", "step", step.id, {"item": step.item_code, "expires_at": step.claim_expires_at},
           actor=_actor(reviewer, step), department_id=step.department_id)


def touch(step: Step, user: User) -> None:
    """The holder is active on the step: the claim lapses later. Head-assigned claims do not lapse."""
    if not holds(step, user) or step.claim_expires_at is None:
        return
    db.session.execute(
        update(Step).where(Step.id == step.id, Step.claimed_by_id == user.id, Step.claim_expires_at.is_not(None))
        .values(claim_expires_at=now() + idle_limit()).execution_options(synchronize_session=False)
    )
    db.session.refresh(step)


def release(step: Step, user: User) -> None:
    """The holder gives the step back to the department's queue."""
    if not holds(step, user):
        raise ClaimError("not_holder")
    db.session.execute(
        update(Step).where(Step.id == step.id, Step.claimed_by_id == user.id)
        .values(claimed_by_id=None, claimed_at=None, claim_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(step)
    record("application:step:released", "step", step.id, {"item": step.item_code},
           actor=_actor(user, step), department_id=step.department_id)


def reviewers_of(department_id: int) -> list[User]:
    """Who may hold a step of the department: its reviewers and heads, active accounts only."""
    # Users load with their staff roles (a joined collection): unique() folds the joined rows.
    return list(db.session.scalars(
        select(User).where(User.is_active_account, User.id.in_(
            select(StaffRole.user_id).where(StaffRole.department_id == department_id)))
        .order_by(User.name, User.id)
    ).unique())


def reassign(step: Step, to_user_id: int | None, head: User, reason: str) -> None:
    """The department head gives the step to a reviewer of the department (held until released), or
    frees it (to_user_id None). Audited with the previous holder; the new holder is told."""
    if not head.is_head_of(step.department_id):
        raise ClaimError("forbidden")
    if not step.is_open:
        raise ClaimError("not_allowed")
    if not reason.strip():
        raise ClaimError("reason_required")
    target = db.session.get(User, to_user_id) if to_user_id is not None else None
    if to_user_id is not None and (target is None or not target.is_active or not target.can_work_in(step.department_id)):
        raise ClaimError("not_in_department")
    before = live_claim(step)
    current = now()
    db.session.execute(
        update(Step).where(Step.id == step.id, Step.decided_at.is_(None))
        .values(claimed_by_id=to_user_id, claimed_at=current if to_user_id else None, claim_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(step)
    record("application:step:reassigned", "step", step.id,
           {"item": step.item_code, "from": before.holder_id if before else None, "to": to_user_id,
            "reason": reason.strip()},
           actor=Actor(head.id, "head", step.department_id), department_id=step.department_id)
    if to_user_id is not None:
        # The message is written with the change (the message centre's outbox), as decisions do.
        from onestop.reviews.jobs import notify_assigned

        notify_assigned(step.id, to_user_id, current.isoformat())


def check_for_decision(step: Step, reviewer: User) -> None:
    """Called by decide() under the application lock: a step held by someone else cannot be decided by
    this reviewer. A free step may be decided (system callers, bulk acceptance); the desk's pages
    additionally ask the reviewer to claim first."""
    from onestop.reviews.operations import DecisionError

    claim_ = live_claim(step)
    if claim_ is not None and claim_.holder_id != reviewer.id:
        holder = db.session.get(User, claim_.holder_id)
        raise DecisionError("claimed_by_other", step, holder.name if holder else "")
