"""The credit list (imported by the administrator) and the per-item switch of instant approval."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from onestop.core.db import UTCDateTime
from onestop.extensions import db

CREDIT_STATUSES = ("good", "watch", "dishonest")


class CreditRecord(db.Model):  # type: ignore[name-defined]
    """One subject on the credit list: a person (ID number) or an enterprise (credit code).

    The list stands for the data the credit platform holds; each import replaces it as a whole."""

    __tablename__ = "credit_records"
    __table_args__ = (
        CheckConstraint("status IN ('good', 'watch', 'dishonest')", name="status"),
        CheckConstraint("open_penalties >= 0", name="open_penalties_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(18), unique=True)  # ID number or unified social credit code
    name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    open_penalties: Mapped[int] = mapped_column(default=0)
    import_id: Mapped[int] = mapped_column(ForeignKey("credit_imports.id"))


class CreditImport(db.Model):  # type: ignore[name-defined]
    __tablename__ = "credit_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int]
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InstantSwitch(db.Model):  # type: ignore[name-defined]
    """A department head's switch of an item's instant approval (on unless a row says off)."""

    __tablename__ = "instant_switches"
    __table_args__ = (UniqueConstraint("bundle_code", "item_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bundle_code: Mapped[str] = mapped_column(String(64))
    item_code: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool]
    reason: Mapped[str] = mapped_column(Text)
    changed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
