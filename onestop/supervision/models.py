"""Roll-ups the dashboards aggregate: one row per ended application and per ended step, written when
the application ends (fan-in), so a year's figures are SQL aggregates over plain numeric columns and
never a walk over the steps' logs. Working days are counted with the holiday calendar (workflows.clock)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from onestop.applications.models import Step
from onestop.core.db import UTCDateTime
from onestop.extensions import db


class ApplicationTiming(db.Model):  # type: ignore[name-defined]
    __tablename__ = "application_timings"
    __table_args__ = (
        CheckConstraint("elapsed_days >= 0 AND paused_days >= 0", name="non_negative"),
        Index("ix_application_timings_period", "ended_at", "bundle_code"),
    )

    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"),
                                                primary_key=True)
    bundle_code: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(24))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Working days from submission to the end, paused time (补正/中止 on the critical path) excluded;
    # the paused working days apart.
    elapsed_days: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    paused_days: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    on_time: Mapped[bool]  # no step decided after its due date
    held_by_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))  # critical-path department
    critical_path: Mapped[list[str]] = mapped_column(JSON)  # item codes, first first
    supplemented: Mapped[bool]  # at least one 补正 request
    extensions: Mapped[int]  # approved extensions
    rongque: Mapped[int]  # steps accepted with outstanding materials (容缺)
    commitment: Mapped[int]  # steps approved on commitment (告知承诺)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StepTiming(db.Model):  # type: ignore[name-defined]
    __tablename__ = "step_timings"
    __table_args__ = (
        CheckConstraint("counted_days >= 0 AND paused_days >= 0", name="non_negative"),
        Index("ix_step_timings_period", "decided_at", "department_id"),
    )

    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id", ondelete="CASCADE"), primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    bundle_code: Mapped[str] = mapped_column(String(64))
    item_code: Mapped[str] = mapped_column(String(64))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    state: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # From receipt to decision, in working days, paused time apart.
    counted_days: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    paused_days: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    on_time: Mapped[bool | None]  # None: the step's clock never ran (e.g. terminated while waiting)
    extended: Mapped[bool]
    supplemented: Mapped[bool]
    rongque: Mapped[bool]
    commitment: Mapped[bool]


class ExportJob(db.Model):  # type: ignore[name-defined]
    """A large export run by a worker: progress for the bar, the file for the download once done."""

    __tablename__ = "supervision_exports"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name="state"),
        CheckConstraint("fmt IN ('csv', 'xlsx')", name="fmt"),
        CheckConstraint("done_rows >= 0", name="done_rows"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    table: Mapped[str] = mapped_column(String(32))
    fmt: Mapped[str] = mapped_column(String(8))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    total_rows: Mapped[int | None]
    done_rows: Mapped[int] = mapped_column(default=0)
    file_name: Mapped[str | None] = mapped_column(String(128))
    error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TimingHistogram(db.Model):  # type: ignore[name-defined]
    """A maintained roll-up of the two tables above, per local day: how many applications (kind 'app',
    department 0, item '') and steps (kind 'step') ended with each elapsed time, in buckets of 0.01
    working day (about four minutes of office time), with their other counts. A year's percentiles read
    a few hundred thousand of these instead of sorting millions of rows; they are percentile_cont of the
    times rounded to 0.01 working day (means are exact: the sums are kept unrounded)."""

    __tablename__ = "timing_histogram"
    # 'app' and 'step' per day; 'appm' and 'stpm' the same per month (day = the 1st), which months,
    # quarters and years read: a year is then a few tens of thousands of rows.
    __table_args__ = (CheckConstraint("kind IN ('app', 'step', 'appm', 'stpm')", name="kind"),)

    kind: Mapped[str] = mapped_column(String(4), primary_key=True)  # first: a query reads one kind
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    bundle_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    department_id: Mapped[int] = mapped_column(primary_key=True)  # 0 for applications
    item_code: Mapped[str] = mapped_column(String(64), primary_key=True)  # '' for applications
    bucket: Mapped[Decimal] = mapped_column(Numeric(8, 2), primary_key=True)
    n: Mapped[int]
    on_time: Mapped[int]
    on_time_known: Mapped[int]
    elapsed_sum: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    paused_sum: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    paused_n: Mapped[int]  # with any paused time
    extended: Mapped[int]
    supplemented: Mapped[int]
    rongque: Mapped[int]
    commitment: Mapped[int]


# The post-approval checks of a period (告知承诺) and the overdue steps: small partial indexes on the steps,
# so the dashboard reads only those (declared here, with the figures that need them).
Index("ix_steps_commitment_decided", Step.__table__.c.decided_at, Step.__table__.c.post_check_outcome,
      postgresql_where=text("on_commitment"), sqlite_where=text("on_commitment"))
Index("ix_steps_running_due", Step.__table__.c.due_at,
      postgresql_where=text("state IN ('received', 'accepted')"),
      sqlite_where=text("state IN ('received', 'accepted')"))
