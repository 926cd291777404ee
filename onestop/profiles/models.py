"""Profile data beyond the account itself: facts other registers share with onestop, each with its source."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from onestop.core.db import UTCDateTime
from onestop.extensions import db

# Where a fact comes from: the registers that share data with onestop, or the applicant.
SOURCES = ("registration", "population_register", "marriage_register", "market_register", "credit_platform",
           "applicant")


class ProfileEntry(db.Model):  # type: ignore[name-defined]
    """One fact of a person's (user_id) or an enterprise's (enterprise_id) profile, e.g.
    person.hukou_address from the population register."""

    __tablename__ = "profile_entries"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) != (enterprise_id IS NULL)", name="one_owner"),
        CheckConstraint("source IN (" + ", ".join(repr(s) for s in SOURCES) + ")", name="source"),
        UniqueConstraint("user_id", "key"),
        UniqueConstraint("enterprise_id", "key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
