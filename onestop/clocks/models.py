"""The holiday calendar onestop counts working days with: seeded from chinesecalendar, editable."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from onestop.core.db import UTCDateTime
from onestop.extensions import db


class CalendarDay(db.Model):  # type: ignore[name-defined]
    """A named day of the official arrangement: a holiday (weekend days of a holiday included, for the
    explanation) or a make-up workday on a weekend (调休)."""

    __tablename__ = "calendar_days"
    __table_args__ = (CheckConstraint("kind IN ('holiday', 'makeup_workday')", name="kind"),)

    day: Mapped[date] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))


class CalendarYear(db.Model):  # type: ignore[name-defined]
    """A year whose official arrangement is loaded. Years not listed are counted provisionally."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(64))  # "chinesecalendar 1.11.0" or "administrator"
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
