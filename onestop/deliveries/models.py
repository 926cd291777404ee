"""The mailing of a physical result (e.g. the social-security card): address, carrier and status."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onestop.accounts.models import Department
from onestop.core.db import UTCDateTime
from onestop.extensions import db


class Delivery(db.Model):  # type: ignore[name-defined]
    """Created when the department posts the result (all results leave together once the application
    has ended, 统一出件); the address is copied from the application at that moment."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("application_id", "output_key"),
        CheckConstraint("state IN ('posted', 'delivered', 'returned')", name="state"),
        CheckConstraint("(state = 'delivered') = (delivered_at IS NOT NULL)", name="delivered_at"),
        CheckConstraint("(state = 'returned') = (returned_at IS NOT NULL)", name="returned_at"),
        CheckConstraint("state != 'returned' OR note IS NOT NULL", name="returned_note"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    output_key: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    carrier: Mapped[str] = mapped_column(String(50))
    tracking_number: Mapped[str] = mapped_column(String(50))
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    posted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)

    department: Mapped[Department] = relationship()
