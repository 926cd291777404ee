"""Applications (办件), their answers and materials, and the steps (环节) each department works."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onestop.accounts.models import Department, User
from onestop.catalog.models import BundleVersion
from onestop.core.db import UTCDateTime
from onestop.extensions import db
from workflows.states import TERMINAL_STEP_STATES, ApplicationState, StepState


def _in(column: str, values: Any) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


class Application(db.Model):  # type: ignore[name-defined]
    __tablename__ = "applications"
    __table_args__ = (
        CheckConstraint(_in("state", ApplicationState), name="state"),
        # ended_at is set exactly when the application has reached a final state.
        CheckConstraint("(state = 'in_progress') = (ended_at IS NULL)", name="ended_iff_final"),
        CheckConstraint("state != 'withdrawn' OR withdraw_reason IS NOT NULL", name="withdraw_reason"),
        UniqueConstraint("applicant_id", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)  # 办件编号, public
    query_code: Mapped[str] = mapped_column(String(16))  # with the reference: progress without login
    bundle_version_id: Mapped[int] = mapped_column(ForeignKey("bundle_versions.id"))
    applicant_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    state: Mapped[str] = mapped_column(String(24), default=ApplicationState.IN_PROGRESS)
    version_id: Mapped[int] = mapped_column(default=1)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdraw_reason: Mapped[str | None] = mapped_column(Text)

    bundle_version: Mapped[BundleVersion] = relationship()
    applicant: Mapped[User] = relationship(foreign_keys=[applicant_id])
    answers: Mapped[list[Answer]] = relationship(back_populates="application", cascade="all, delete-orphan")
    steps: Mapped[list[Step]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="Step.id"
    )
    materials: Mapped[list[Material]] = relationship(back_populates="application")

    # Optimistic locking: a concurrent writer that read an older version fails instead of overwriting.
    __mapper_args__ = {"version_id_col": version_id}

    @property
    def answer_map(self) -> dict[str, Any]:
        return {a.field: a.value for a in self.answers}

    def is_owned_by(self, user: User) -> bool:
        """The applicant who submitted it, or any operator of the same enterprise."""
        if not user.is_authenticated or not user.is_applicant:
            return False
        if self.enterprise_id is not None:
            return user.enterprise_id == self.enterprise_id
        return self.applicant_id == user.id

    def can_be_seen_by(self, user: User) -> bool:
        if self.is_owned_by(user):
            return True
        if user.is_authenticated and user.is_staff:
            departments = user.department_ids()
            return any(s.department_id in departments for s in self.steps)
        return user.is_authenticated and user.kind in ("auditor", "admin")


class Answer(db.Model):  # type: ignore[name-defined]
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("application_id", "field"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSON)
    prefilled: Mapped[bool] = mapped_column(default=False)  # taken from the profile with consent

    application: Mapped[Application] = relationship(back_populates="answers")


class Material(db.Model):  # type: ignore[name-defined]
    """An uploaded file. Stored outside the web root under a random name; served only after checks."""

    __tablename__ = "materials"
    __table_args__ = (
        CheckConstraint("size > 0", name="size_positive"),
        CheckConstraint("content_type IN ('application/pdf', 'image/jpeg', 'image/png')", name="content_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), index=True)
    # Uploaded into a draft of the one form: kept with the draft until it is submitted or discarded.
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("drafts.id", ondelete="SET NULL"), index=True)
    material_key: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))  # as the applicant named it; display only
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    pages: Mapped[int | None]
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    application: Mapped[Application | None] = relationship(back_populates="materials")


class Step(db.Model):  # type: ignore[name-defined]
    """The work of one department on one item of one application."""

    __tablename__ = "steps"
    __table_args__ = (
        UniqueConstraint("application_id", "item_code"),
        CheckConstraint(_in("state", StepState), name="state"),
        # A step terminated while still waiting for its 前置 was never received.
        CheckConstraint("state IN ('waiting', 'terminated') OR received_at IS NOT NULL", name="received_at"),
        CheckConstraint(
            "state NOT IN ('accepted', 'suspended', 'approved') OR accepted_at IS NOT NULL", name="accepted_at"
        ),
        CheckConstraint(
            "(state IN (" + ", ".join(repr(str(s)) for s in TERMINAL_STEP_STATES) + ")) = (decided_at IS NOT NULL)",
            name="decided_iff_terminal",
        ),
        CheckConstraint("state NOT IN ('rejected', 'terminated') OR reason IS NOT NULL", name="reason"),
        CheckConstraint("state != 'rejected' OR legal_basis IS NOT NULL", name="rejection_basis"),
        CheckConstraint("limit_amount > 0", name="limit_positive"),
        CheckConstraint("extension_amount >= 0", name="extension_non_negative"),
        CheckConstraint("state NOT IN ('accepted', 'suspended', 'approved') OR clock_start IS NOT NULL",
                        name="clock_started"),
        CheckConstraint("(outstanding_materials IS NULL) = (outstanding_due_at IS NULL)", name="rongque_promise"),
        CheckConstraint("NOT on_commitment OR (state = 'approved' AND post_check_due_at IS NOT NULL)",
                        name="commitment_check"),
        CheckConstraint("post_check_outcome IS NULL OR post_check_outcome IN ('confirmed', 'revoked')",
                        name="post_check_outcome"),
        # A claim names its holder and when it was taken; it may expire (claim_expires_at) or, when the
        # head assigned it, be held until released.
        CheckConstraint("(claimed_by_id IS NULL) = (claimed_at IS NULL)", name="claim_holder_time"),
        CheckConstraint("claimed_by_id IS NOT NULL OR claim_expires_at IS NULL", name="claim_expiry_needs_holder"),
        # The department's queue (onestop/reviews/queries.py): one ordered index range per tab.
        Index("ix_steps_queue_due", "department_id", "state", "due_at", "id"),
        Index("ix_steps_queue_received", "department_id", "state", "received_at", "id"),
        Index("ix_steps_queue_decided", "department_id", "decided_at", "id"),
        Index("ix_steps_queue_running", "department_id", "due_at", "id",
              postgresql_where=text("state IN ('received', 'accepted')"),
              sqlite_where=text("state IN ('received', 'accepted')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    item_code: Mapped[str] = mapped_column(String(64))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    state: Mapped[str] = mapped_column(String(16))
    version_id: Mapped[int] = mapped_column(default=1)
    # The item's promised limit, copied at creation so the clock never depends on a later catalog edit.
    limit_amount: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    limit_unit: Mapped[str] = mapped_column(String(16))
    start_day_counts: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_provisional: Mapped[bool] = mapped_column(default=False)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resume_state: Mapped[str | None] = mapped_column(String(16))  # where a supplement returns to
    reason: Mapped[str | None] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    # The legal clock: where it started (acceptance, or receipt where the item says so) and the
    # approved extensions (in the limit's unit). Pauses are in step_pauses. due_at is derived from
    # these and stored, so queues sort and filter on it.
    clock_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    extension_amount: Mapped[Decimal] = mapped_column(Numeric(8, 2), default=Decimal(0), server_default="0")
    # 容缺受理: accepted although these non-key materials are missing; promised by outstanding_due_at.
    outstanding_materials: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    outstanding_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # 告知承诺制: approved on the applicant's commitment; a post-approval check is due.
    on_commitment: Mapped[bool] = mapped_column(default=False, server_default=false())
    post_check_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    post_check_outcome: Mapped[str | None] = mapped_column(String(16))
    # 认领: the reviewer working on the step. Others see who holds it; it lapses at claim_expires_at
    # unless the activity of its holder moves that on (None: assigned by the head, held until released).
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claim_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The head of the processing-time log: its last seq and time. A transition appends the next line and
    # checks the time never goes back without reading the log (the step row is locked with its application).
    log_seq: Mapped[int] = mapped_column(default=0, server_default="0")
    # 秒批: the rule set the step was checked under ("<bundle> v<version> <item> #<rule set>") and each
    # rule's result; kept with the step, so a later rule set never changes what was decided.
    instant_rule_set: Mapped[str | None] = mapped_column(String(128))
    instant_results: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True))
    logged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    application: Mapped[Application] = relationship(back_populates="steps")
    department: Mapped[Department] = relationship()
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    claimed_by: Mapped[User | None] = relationship(foreign_keys=[claimed_by_id])
    pauses: Mapped[list[StepPause]] = relationship(
        back_populates="step", cascade="all, delete-orphan", order_by="StepPause.id"
    )
    supplements: Mapped[list[SupplementRequest]] = relationship(
        back_populates="step", cascade="all, delete-orphan", order_by="SupplementRequest.id"
    )
    transitions: Mapped[list[StepTransition]] = relationship(
        back_populates="step", cascade="all, delete-orphan", order_by="StepTransition.seq"
    )

    __mapper_args__ = {"version_id_col": version_id}

    @property
    def step_state(self) -> StepState:
        return StepState(self.state)

    @property
    def is_open(self) -> bool:
        return self.step_state not in TERMINAL_STEP_STATES

    def can_be_worked_by(self, user: User) -> bool:
        """A reviewer or head of the step's own department, and nobody else."""
        return user.is_authenticated and user.can_work_in(self.department_id)


class Notification(db.Model):  # type: ignore[name-defined]
    """The site's message centre (站内消息)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))
    kind: Mapped[str] = mapped_column(String(64))
    # Idempotency: a job that runs twice for the same event writes one message.
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StepPause(db.Model):  # type: ignore[name-defined]
    """A period the legal clock does not count: 补正 (waiting for the applicant) or 中止 (suspension)."""

    __tablename__ = "step_pauses"
    __table_args__ = (
        CheckConstraint("kind IN ('supplement', 'suspension')", name="kind"),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    step: Mapped[Step] = relationship(back_populates="pauses")


class SupplementRequest(db.Model):  # type: ignore[name-defined]
    """一次性告知: everything one department needs corrected, listed at once, answered at once."""

    __tablename__ = "supplement_requests"
    __table_args__ = (CheckConstraint("answered_at IS NULL OR answered_at >= requested_at", name="answered_after"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id", ondelete="CASCADE"), index=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    # [{"kind": "field" | "material", "key": ..., "message": ...}, ...]
    problems: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())  # not answered by then: not supplemented
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    step: Mapped[Step] = relationship(back_populates="supplements")


class StepExtension(db.Model):  # type: ignore[name-defined]
    """延期: asked by a reviewer, decided by the department head, bounded by the item's rule."""

    __tablename__ = "step_extensions"
    __table_args__ = (
        CheckConstraint("state IN ('requested', 'approved', 'refused')", name="state"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("(state = 'requested') = (decided_at IS NULL)", name="decided_iff_not_requested"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(8, 2))  # in the step's limit unit
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="requested")
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    step: Mapped[Step] = relationship()


class StepTransition(db.Model):  # type: ignore[name-defined]
    """The processing-time log: every transition with server time, actor (or the system's rule),
    and the working time counted and paused so far. Written only by operations, never back-dated."""

    __tablename__ = "step_transitions"
    __table_args__ = (UniqueConstraint("step_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int]
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str | None] = mapped_column(Text)  # for system actions: the rule and its legal basis
    counted: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))  # in the limit's unit, so far
    paused: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))  # likewise, time not counted
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the due date after this transition

    step: Mapped[Step] = relationship(back_populates="transitions")


class StepAlert(db.Model):  # type: ignore[name-defined]
    """A notice the sweep sent (warning, overdue escalation, reminders): one row each, so a second
    sweep over the same state sends nothing."""

    __tablename__ = "step_alerts"
    __table_args__ = (UniqueConstraint("step_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
