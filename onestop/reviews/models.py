"""Quality review (抽查): a reproducible random sample of a department's closed steps, and its findings."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onestop.accounts.models import Department, User
from onestop.applications.models import Step
from onestop.core.db import UTCDateTime
from onestop.extensions import db


class QualitySample(db.Model):  # type: ignore[name-defined]
    """One draw. The population (closed steps of the department decided in the period) and the seed
    determine the sample: anyone can draw it again and compare (see reviews.sampling.redraw)."""

    __tablename__ = "quality_samples"
    __table_args__ = (
        CheckConstraint("period_end >= period_start", name="period"),
        CheckConstraint("rate_percent >= 5 AND rate_percent <= 100", name="rate_at_least_5"),
        CheckConstraint("population >= sample_size AND sample_size >= 0", name="sizes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)  # inclusive, local dates
    rate_percent: Mapped[int]
    seed: Mapped[str] = mapped_column(String(64))
    population: Mapped[int]
    sample_size: Mapped[int]
    drawn_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime())

    department: Mapped[Department] = relationship()
    drawn_by: Mapped[User] = relationship()
    entries: Mapped[list[QualitySampleEntry]] = relationship(
        back_populates="sample", cascade="all, delete-orphan", order_by="QualitySampleEntry.id"
    )


class QualitySampleEntry(db.Model):  # type: ignore[name-defined]
    """A sampled step and, once reviewed, the finding."""

    __tablename__ = "quality_sample_entries"
    __table_args__ = (
        UniqueConstraint("sample_id", "step_id"),
        CheckConstraint("verdict IS NULL OR verdict IN ('sound', 'minor', 'serious')", name="verdict"),
        # A finding is complete: verdict, note, who and when, together.
        CheckConstraint("(verdict IS NULL) = (reviewed_at IS NULL) AND (verdict IS NULL) = (finding IS NULL)"
                        " AND (verdict IS NULL) = (reviewed_by_id IS NULL)", name="finding_complete"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("quality_samples.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id"))
    verdict: Mapped[str | None] = mapped_column(String(16))
    finding: Mapped[str | None] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    sample: Mapped[QualitySample] = relationship(back_populates="entries")
    step: Mapped[Step] = relationship()
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
