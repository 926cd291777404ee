"""Recording and verifying audit events.

`record()` only queues an event on the session; the events are chained and inserted when the
transaction commits, under a lock on the chain head. The lock is therefore held for the commit only,
and an event exists if and only if the change it describes was committed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from onestop.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent, event_hash
from onestop.core.clock import now
from onestop.extensions import db

_PENDING = "onestop_audit_pending"


@dataclass(frozen=True)
class Actor:
    """Who did it. `system` actors name the rule they applied in the event data."""

    user_id: int | None
    role: str
    department_id: int | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(None, "system")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


def current_actor(department_id: int | None = None) -> Actor:
    if has_request_context() and current_user and current_user.is_authenticated:
        return Actor(current_user.id, current_user.role_label, department_id)
    return Actor(None, "anonymous" if has_request_context() else "system", department_id)


def record(
    tag: str,
    subject_type: str,
    subject_id: int | None,
    data: dict[str, Any] | None = None,
    *,
    actor: Actor | None = None,
    department_id: int | None = None,
    session: Session | None = None,
) -> None:
    """Queue an audit event on the session; it is written, chained, when the session commits."""
    actor = actor or current_actor(department_id)
    session = session or db.session()
    ip = request.remote_addr if has_request_context() else None
    # Round-trip through JSON now, so the hash computed at commit equals the one recomputed on read.
    payload = json.loads(json.dumps(_jsonable(data or {}), ensure_ascii=False))
    session.info.setdefault(_PENDING, []).append(
        {
            "created_at": now(),
            "tag": tag,
            "actor_id": actor.user_id,
            "actor_role": actor.role,
            "department_id": department_id if department_id is not None else actor.department_id,
            "ip": ip,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "data": payload,
        }
    )


def _resolve_subject_ids(pending: list[dict[str, Any]]) -> None:
    # Operations may record an event before the subject has its primary key; they pass the object.
    for item in pending:
        subject = item["subject_id"]
        if subject is not None and not isinstance(subject, int):
            item["subject_id"] = subject.id


@event.listens_for(Session, "before_commit")
def _write_pending_events(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()
    _resolve_subject_ids(pending)
    # Taking the head row with an UPDATE (a write lock on every backend) serialises chain appends;
    # RETURNING reads it in the same statement.
    row = session.execute(
        update(AuditChainHead).where(AuditChainHead.id == 1).values(id=1)
        .returning(AuditChainHead.last_seq, AuditChainHead.last_hash)
    ).one_or_none()
    last_seq, last_hash = row if row is not None else (0, GENESIS_HASH)
    events = []
    for item in pending:
        ev = dict(item, seq=last_seq + 1, prev_hash=last_hash)
        ev["hash"] = event_hash(ev)
        events.append(ev)
        last_seq, last_hash = ev["seq"], ev["hash"]
    append = insert(AuditEvent).values(events)
    if row is None:
        session.execute(append)
        session.add(AuditChainHead(id=1, last_seq=last_seq, last_hash=last_hash))
        session.flush()
        return
    move_head = update(AuditChainHead).where(AuditChainHead.id == 1).values(last_seq=last_seq, last_hash=last_hash)
    if session.get_bind().dialect.name == "postgresql":
        # One round trip: the events and the new head in one statement (a data-modifying WITH).
        session.execute(append.add_cte(move_head.cte("move_head")))
    else:
        session.execute(append)
        session.execute(move_head)


@event.listens_for(Session, "after_rollback")
def _drop_pending_events(session: Session) -> None:
    session.info.pop(_PENDING, None)


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at_seq: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.broken_at_seq is None


def verify_chain(session: Session | None = None) -> ChainReport:
    """Walk the chain in order; report the first event whose content, link or position is wrong."""
    session = session or db.session()
    expected_prev, expected_seq, checked = GENESIS_HASH, 1, 0
    # Plain rows, streamed: a long chain is checked in constant memory and nothing enters the session.
    rows = session.execute(
        select(AuditEvent.__table__).order_by(AuditEvent.seq).execution_options(yield_per=2000)
    )
    for row in rows.mappings():
        ev = AuditEvent(**dict(row))
        if ev.seq != expected_seq:
            return ChainReport(checked, expected_seq, f"event {expected_seq} is missing (deleted)")
        if ev.prev_hash != expected_prev:
            return ChainReport(checked, ev.seq, "link to the previous event does not match")
        if ev.compute_hash() != ev.hash:
            return ChainReport(checked, ev.seq, "content was changed after it was recorded")
        expected_prev, expected_seq, checked = ev.hash, ev.seq + 1, checked + 1
    head = session.get(AuditChainHead, 1)
    if head is not None and head.last_seq != checked:
        return ChainReport(checked, checked + 1, f"the chain ends at {checked} but {head.last_seq} were written")
    return ChainReport(checked, None, None)
