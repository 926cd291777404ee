"""Certificates (电子证照) and the 办结通知书: signed PDFs issued when an application ends.

A row is created with its serial number when the result is due (state `pending`: a reserved number, not a
certificate: nothing can be downloaded or verified), and becomes `issued` in the transaction that records
the signed file's hash. Serials are gapless per department and year: a number exists only as a row.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onestop.accounts.models import Department, User
from onestop.applications.models import Application, Step
from onestop.core.db import UTCDateTime
from onestop.extensions import db


class CertificateSerial(db.Model):  # type: ignore[name-defined]
    """The last serial number a department gave in a year; its row lock serialises allocation."""

    __tablename__ = "certificate_serials"
    __table_args__ = (CheckConstraint("last_number >= 0", name="last_number_non_negative"),)

    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last_number: Mapped[int] = mapped_column(default=0)


class Certificate(db.Model):  # type: ignore[name-defined]
    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("application_id", "output_key"),
        UniqueConstraint("department_id", "year", "number"),
        CheckConstraint("kind IN ('certificate', 'notice')", name="kind"),
        # A certificate is the result of one approved step (one each); the notice is the application's.
        CheckConstraint("(kind = 'certificate') = (step_id IS NOT NULL)", name="step_iff_certificate"),
        CheckConstraint("state IN ('pending', 'issued')", name="state"),
        CheckConstraint("number > 0", name="number_positive"),
        # Issued means the signed file exists and is described completely.
        CheckConstraint(
            "(state = 'issued') = (issued_at IS NOT NULL AND sha256 IS NOT NULL AND stored_name IS NOT NULL "
            "AND key_id IS NOT NULL AND signature_level IS NOT NULL AND size IS NOT NULL)",
            name="issued_complete",
        ),
        CheckConstraint("(revoked_at IS NULL) = (revoke_reason IS NULL)", name="revoked_with_reason"),
        CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", name="validity_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)  # in the QR code; not guessable
    kind: Mapped[str] = mapped_column(String(16))
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("steps.id"), unique=True)
    output_key: Mapped[str] = mapped_column(String(64))  # the catalog output, or 'completion_notice'
    template: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(100))  # the official name of the document
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)  # the issuer
    year: Mapped[int]
    number: Mapped[int]
    serial: Mapped[str] = mapped_column(String(40), unique=True)
    holder_name: Mapped[str] = mapped_column(String(200))
    holder_code: Mapped[str | None] = mapped_column(String(32))  # credit code or resident ID number
    state: Mapped[str] = mapped_column(String(16), default="pending")
    reserved_at: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_from: Mapped[date] = mapped_column(Date())
    valid_until: Mapped[date | None] = mapped_column(Date())  # None: long-term (长期)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    size: Mapped[int | None]
    stored_name: Mapped[str | None] = mapped_column(String(80), unique=True)
    key_id: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the signing certificate
    signature_level: Mapped[str | None] = mapped_column(String(16))  # PAdES-B-B or PAdES-B-T
    last_error: Mapped[str | None] = mapped_column(Text)  # why rendering failed (a missing glyph ...)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoke_reason: Mapped[str | None] = mapped_column(Text)

    application: Mapped[Application] = relationship()
    step: Mapped[Step | None] = relationship()
    department: Mapped[Department] = relationship()
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])

    @property
    def is_issued(self) -> bool:
        return self.state == "issued"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def can_be_downloaded_by(self, user: User) -> bool:
        """The holder (the applicant or an operator of the enterprise), the issuing department's staff,
        auditors. Nobody downloads a number that has no signed file yet."""
        if not self.is_issued or not user.is_authenticated:
            return False
        if self.application.is_owned_by(user):
            return True
        if user.is_staff:
            return user.can_work_in(self.department_id)
        return user.kind == "auditor"

    def can_be_revoked_by(self, user: User) -> bool:
        return user.is_authenticated and user.is_staff and user.is_head_of(self.department_id)
