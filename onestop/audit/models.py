"""Append-only audit events (全程留痕), chained by hash so any edit or deletion is detected."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from onestop.core.db import UTCDateTime
from onestop.extensions import db

GENESIS_HASH = "0" * 64


class AuditEvent(db.Model):  # type: ignore[name-defined]
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)  # position in the chain, gap-free
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    tag: Mapped[str] = mapped_column(String(100), index=True)  # e.g. application:step:approved
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor_role: Mapped[str] = mapped_column(String(32))  # "system" for rules and sweeps
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    ip: Mapped[str | None] = mapped_column(String(45))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int | None] = mapped_column(index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    def compute_hash(self) -> str:
        return event_hash({name: getattr(self, name) for name in HASHED_FIELDS})


# What an event's hash covers: everything but its id and the hash itself.
HASHED_FIELDS = ("seq", "created_at", "tag", "actor_id", "actor_role", "department_id", "ip", "subject_type",
                 "subject_id", "data", "prev_hash")


def event_hash(event: dict[str, Any]) -> str:
    payload = {name: event[name] for name in HASHED_FIELDS}
    payload["created_at"] = payload["created_at"].isoformat()
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class AuditChainHead(db.Model):  # type: ignore[name-defined]
    """One row: the last link of the chain. Updating it first serialises appends across transactions."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
