"""Enterprise data a benefit is matched on, the offers made from it, and objections to a public notice."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onestop.accounts.models import User
from onestop.core.db import UTCDateTime
from onestop.extensions import db

OFFER_STATES = ("offered", "confirmed", "declined")
OBJECTION_STATES = ("open", "dismissed", "upheld", "closed")


class EnterpriseDataImport(db.Model):  # type: ignore[name-defined]
    __tablename__ = "benefit_data_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int]
    years: Mapped[list[int]] = mapped_column(JSON)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EnterpriseRecord(db.Model):  # type: ignore[name-defined]
    """What 人社 holds on one enterprise for one year (stands for the government's own data). An import
    replaces the records of the years it contains, as a whole."""

    __tablename__ = "benefit_enterprise_records"
    __table_args__ = (
        UniqueConstraint("year", "credit_code"),
        CheckConstraint("insured_staff >= 0 AND layoffs >= 0", name="counts_non_negative"),
        CheckConstraint("premiums_paid >= 0 AND arrears >= 0", name="money_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int]
    credit_code: Mapped[str] = mapped_column(String(18), index=True)
    name: Mapped[str] = mapped_column(String(200))
    insured_staff: Mapped[int]
    layoffs: Mapped[int]
    premiums_paid: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    arrears: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    import_id: Mapped[int] = mapped_column(ForeignKey("benefit_data_imports.id"))


class BenefitOffer(db.Model):  # type: ignore[name-defined]
    """A benefit offered to an enterprise from data (免申即享). One per benefit, data year and enterprise,
    so matching twice offers once. Confirmed, it has its application; declined, a decision time."""

    __tablename__ = "benefit_offers"
    __table_args__ = (
        UniqueConstraint("bundle_code", "data_year", "credit_code"),
        CheckConstraint("state IN ('offered', 'confirmed', 'declined')", name="state"),
        CheckConstraint("(state = 'confirmed') = (application_id IS NOT NULL)", name="confirmed_has_application"),
        CheckConstraint("(state = 'offered') = (decided_at IS NULL)", name="decided_at"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bundle_code: Mapped[str] = mapped_column(String(64))
    bundle_version_id: Mapped[int] = mapped_column(ForeignKey("bundle_versions.id"))
    rule_set: Mapped[str] = mapped_column(String(128))  # "<bundle> v<version> #<rule set>"
    data_year: Mapped[int]
    credit_code: Mapped[str] = mapped_column(String(18), index=True)
    enterprise_name: Mapped[str] = mapped_column(String(200))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    rate: Mapped[Decimal] = mapped_column(Numeric(6, 4))
    formula_zh: Mapped[str] = mapped_column(Text)
    formula_en: Mapped[str] = mapped_column(Text)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)  # the facts, as strings
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # every rule's result
    state: Mapped[str] = mapped_column(String(16), default="offered")
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decline_reason: Mapped[str | None] = mapped_column(Text)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), unique=True)

    def formula(self, lang: str) -> str:
        return self.formula_en if lang.startswith("en") else self.formula_zh

    def is_for(self, user: User) -> bool:
        """Only the operators of the enterprise it was offered to (by credit code)."""
        return bool(user.is_authenticated and user.enterprise is not None
                    and user.enterprise.credit_code == self.credit_code)


class NoticeObjection(db.Model):  # type: ignore[name-defined]
    """An objection (异议) to an application during its 公示, lodged by anyone. While one is open the
    notice is suspended; the item's department dismisses or upholds it with a reason."""

    __tablename__ = "notice_objections"
    __table_args__ = (
        CheckConstraint("state IN ('open', 'dismissed', 'upheld', 'closed')", name="state"),
        CheckConstraint("(state = 'open') = (resolved_at IS NULL)", name="resolved_at"),
        CheckConstraint("state = 'open' OR resolution IS NOT NULL", name="resolution"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id"), index=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    lodged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lodged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the public
    lodged_from: Mapped[str | None] = mapped_column(String(64))  # IP address
    name: Mapped[str] = mapped_column(String(50))
    contact: Mapped[str] = mapped_column(String(50))
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="open")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution: Mapped[str | None] = mapped_column(Text)

    step = relationship("Step")
