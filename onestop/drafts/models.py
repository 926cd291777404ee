"""A draft of the one form, kept on the server so it can be resumed on another device."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onestop.accounts.models import User
from onestop.catalog.models import BundleVersion
from onestop.core.db import UTCDateTime
from onestop.extensions import db


class Draft(db.Model):  # type: ignore[name-defined]
    __tablename__ = "drafts"
    __table_args__ = (
        CheckConstraint("state IN ('open', 'submitted', 'discarded')", name="state"),
        # A submitted draft points at the application it became, and only a submitted one does.
        CheckConstraint("(state = 'submitted') = (application_id IS NOT NULL)", name="submitted_iff_application"),
        UniqueConstraint("applicant_id", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)  # in URLs; unguessable
    applicant_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    bundle_version_id: Mapped[int] = mapped_column(ForeignKey("bundle_versions.id"))
    bundle_code: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="open")
    # The answers as typed (form strings), valid or not: a draft never loses what was entered.
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Fields filled in for the applicant, where from and with what (a changed answer is no longer
    # prefilled): {"field": {"source": "profile" | "application:<ref>", "value": "<as in the form>"}}.
    prefill: Mapped[dict[str, Any]] = mapped_column(JSON)
    step: Mapped[str | None] = mapped_column(String(64))  # the last step the applicant was on
    idempotency_key: Mapped[str] = mapped_column(String(64))  # the submission's: a replay finds it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))

    applicant: Mapped[User] = relationship()
    bundle_version: Mapped[BundleVersion] = relationship()

    def is_owned_by(self, user: Any) -> bool:
        return bool(user.is_authenticated and user.is_applicant and user.id == self.applicant_id)
