"""What the window records: who was served and how (intake), one-time activation codes for accounts
opened at the window, and every hand-over of results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onestop.accounts.models import User
from onestop.applications.models import Application, Material
from onestop.core.db import UTCDateTime
from onestop.extensions import db

COLLECTION_METHODS = ("online", "window", "mail")


class WindowIntake(db.Model):  # type: ignore[name-defined]
    """一窗受理: one matter taken in at the window for a walk-in applicant, from the look-up to the
    submitted application. The form itself is the portal's draft (drafts.id), filled by the clerk."""

    __tablename__ = "window_intakes"
    __table_args__ = (
        CheckConstraint("collection IN ('online', 'window', 'mail')", name="collection"),
        # 帮办代办: a proxy is named with ID, relation and the authorisation document, or not at all.
        CheckConstraint(
            "(proxy_name IS NULL) = (proxy_id_number IS NULL) AND (proxy_name IS NULL) = (proxy_relation IS NULL)"
            " AND (proxy_name IS NULL) = (proxy_material_id IS NULL)", name="proxy_complete"),
        CheckConstraint("collection != 'mail' OR (mail_recipient IS NOT NULL AND mail_phone IS NOT NULL "
                        "AND mail_address IS NOT NULL)", name="mail_address"),
        CheckConstraint("(application_id IS NULL) = (submitted_at IS NULL)", name="submitted_iff_application"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hall: Mapped[str] = mapped_column(String(100))
    clerk_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id"), unique=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), unique=True)
    new_account: Mapped[bool] = mapped_column(default=False)  # the account was opened at this intake
    # The applicant agreed that the window fills and submits the matter for them (and, if ticked,
    # to prefilling from their profile); the time is the record.
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    proxy_name: Mapped[str | None] = mapped_column(String(50))
    proxy_id_number: Mapped[str | None] = mapped_column(String(18))
    proxy_relation: Mapped[str | None] = mapped_column(String(50))
    proxy_material_id: Mapped[int | None] = mapped_column(ForeignKey("materials.id"))
    # How the results reach the applicant: online only, collected at this window, or mailed.
    collection: Mapped[str] = mapped_column(String(16), default="online")
    mail_recipient: Mapped[str | None] = mapped_column(String(50))
    mail_phone: Mapped[str | None] = mapped_column(String(20))
    mail_address: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    clerk: Mapped[User] = relationship(foreign_keys=[clerk_id])
    applicant: Mapped[User] = relationship(foreign_keys=[applicant_id])
    application: Mapped[Application | None] = relationship()
    proxy_material: Mapped[Material | None] = relationship()

    @property
    def has_proxy(self) -> bool:
        return self.proxy_name is not None

    def can_be_served_by(self, user: Any) -> bool:
        """Any clerk of the window may continue an intake (shifts change); nobody else."""
        return bool(user.is_authenticated and user.is_window_clerk)


class ResultCollection(db.Model):  # type: ignore[name-defined]
    """How the results of an application reach the applicant, beyond the download every applicant has:
    collected at the service hall's window, or mailed (综合窗口出件). Chosen at the window's intake or by
    the applicant on the matter's page, changeable until the results leave."""

    __tablename__ = "result_collections"
    __table_args__ = (
        CheckConstraint("method IN ('online', 'window', 'mail')", name="method"),
        CheckConstraint("(method = 'window') = (hall IS NOT NULL)", name="window_hall"),
        CheckConstraint("method != 'mail' OR (mail_recipient IS NOT NULL AND mail_phone IS NOT NULL "
                        "AND mail_address IS NOT NULL)", name="mail_address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), unique=True)
    method: Mapped[str] = mapped_column(String(16))
    hall: Mapped[str | None] = mapped_column(String(100))
    mail_recipient: Mapped[str | None] = mapped_column(String(50))
    mail_phone: Mapped[str | None] = mapped_column(String(20))
    mail_address: Mapped[str | None] = mapped_column(String(200))
    chosen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    chosen_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    application: Mapped[Application] = relationship()


class ActivationCode(db.Model):  # type: ignore[name-defined]
    """A one-time code printed on the slip of an account opened at the window: with the ID number it
    lets the applicant set a password. Stored hashed (argon2), like passwords; limited in time and tries."""

    __tablename__ = "activation_codes"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        CheckConstraint("expires_at > issued_at", name="expires_after_issue"),
        CheckConstraint("used_at IS NULL OR voided_at IS NULL", name="used_or_voided"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # a reprinted slip voids the earlier code

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class Handover(db.Model):  # type: ignore[name-defined]
    """综合窗口出件: results given to the collector at the window, or mailed with a tracking number."""

    __tablename__ = "window_handovers"
    __table_args__ = (
        CheckConstraint("method IN ('counter', 'mail')", name="method"),
        CheckConstraint("collector_kind IN ('applicant', 'authorised', 'mail')", name="collector_kind"),
        CheckConstraint("(method = 'mail') = (tracking_number IS NOT NULL)", name="mail_tracking"),
        CheckConstraint("(method = 'mail') = (carrier IS NOT NULL)", name="mail_carrier"),
        CheckConstraint("collector_kind != 'authorised' OR authorisation_material_id IS NOT NULL",
                        name="authorised_has_document"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    intake_id: Mapped[int | None] = mapped_column(ForeignKey("window_intakes.id"))
    hall: Mapped[str] = mapped_column(String(100))
    clerk_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    method: Mapped[str] = mapped_column(String(16))
    collector_kind: Mapped[str] = mapped_column(String(16))
    collector_name: Mapped[str] = mapped_column(String(50))
    # Masked: the clerk checked the full number against the ID card; the record needs no more.
    collector_id_masked: Mapped[str | None] = mapped_column(String(18))
    collector_relation: Mapped[str | None] = mapped_column(String(50))
    authorisation_material_id: Mapped[int | None] = mapped_column(ForeignKey("materials.id"))
    carrier: Mapped[str | None] = mapped_column(String(50))
    tracking_number: Mapped[str | None] = mapped_column(String(50))
    # [{"certificate_id": .., "serial": .., "title": ..}]: which results went out
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    handed_at: Mapped[datetime] = mapped_column(UTCDateTime())

    application: Mapped[Application] = relationship()
    clerk: Mapped[User] = relationship(foreign_keys=[clerk_id])
