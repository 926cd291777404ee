"""Accounts: applicants (natural persons, enterprise operators), staff, auditors, administrators."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onestop.core.db import UTCDateTime
from onestop.extensions import db
from workflows.identity import mask_name, mask_phone, mask_resident_id


class UserKind(StrEnum):
    PERSON = "person"  # 自然人
    ENTERPRISE = "enterprise"  # the operator (经办人) acting for an enterprise
    STAFF = "staff"  # reviewers and heads; their departments are in staff_roles
    AUDITOR = "auditor"  # 效能监察: read-only
    ADMIN = "admin"
    WINDOW = "window"  # 综合窗口: the service hall's comprehensive window (一窗受理, 帮办代办, 出件)


class StaffRoleName(StrEnum):
    REVIEWER = "reviewer"
    HEAD = "head"


class Department(db.Model):  # type: ignore[name-defined]
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200))

    def name(self, lang: str) -> str:
        return self.name_en if lang.startswith("en") else self.name_zh


class Enterprise(db.Model):  # type: ignore[name-defined]
    """一企一档: an enterprise, identified by its unified social credit code."""

    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)  # reviewers search by it
    legal_representative: Mapped[str] = mapped_column(String(50))
    address: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class User(UserMixin, db.Model):  # type: ignore[name-defined]
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("kind IN ('person', 'enterprise', 'staff', 'auditor', 'admin', 'window')", name="kind"),
        # A natural person is identified by the resident ID number; an operator acts for an enterprise.
        CheckConstraint("kind != 'person' OR id_number IS NOT NULL", name="person_has_id_number"),
        CheckConstraint("(kind = 'enterprise') = (enterprise_id IS NOT NULL)", name="enterprise_operator"),
        CheckConstraint("failed_logins >= 0", name="failed_logins_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(50), index=True)  # real name (实名); reviewers search by it
    id_number: Mapped[str | None] = mapped_column(String(18), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(200))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"))
    is_active_account: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # 一次申报、多次复用: profile data prefills forms only while this consent stands (revocable).
    prefill_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    enterprise: Mapped[Enterprise | None] = relationship()
    # Loaded with the user (one statement per request): every staff page checks them.
    staff_roles: Mapped[list[StaffRole]] = relationship(back_populates="user", cascade="all, delete-orphan",
                                                        lazy="joined")

    # Flask-Login reads is_active; a disabled account cannot log in or keep a session.
    @property
    def is_active(self) -> bool:
        return self.is_active_account

    @property
    def is_applicant(self) -> bool:
        return self.kind in (UserKind.PERSON, UserKind.ENTERPRISE)

    @property
    def is_staff(self) -> bool:
        return self.kind == UserKind.STAFF

    @property
    def is_window_clerk(self) -> bool:
        return self.kind == UserKind.WINDOW

    def department_ids(self, role: StaffRoleName | None = None) -> set[int]:
        return {r.department_id for r in self.staff_roles if role is None or r.role == role}

    def is_head_of(self, department_id: int) -> bool:
        return department_id in self.department_ids(StaffRoleName.HEAD)

    def can_work_in(self, department_id: int) -> bool:
        return self.is_staff and department_id in self.department_ids()

    @property
    def role_label(self) -> str:
        if self.is_staff:
            return "head" if self.department_ids(StaffRoleName.HEAD) else "reviewer"
        return self.kind

    @property
    def masked_id_number(self) -> str:
        return mask_resident_id(self.id_number)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)


class StaffRole(db.Model):  # type: ignore[name-defined]
    __tablename__ = "staff_roles"
    __table_args__ = (
        UniqueConstraint("user_id", "department_id", "role"),
        CheckConstraint("role IN ('reviewer', 'head')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))

    user: Mapped[User] = relationship(back_populates="staff_roles")
    department: Mapped[Department] = relationship()
