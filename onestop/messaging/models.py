"""The outbox of e-mails and text messages. Each notification gives at most one message per channel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from onestop.core.db import UTCDateTime
from onestop.extensions import db


class OutboundMessage(db.Model):  # type: ignore[name-defined]
    """pending -> sent (by SMTP or the SMS gateway) | kept (no SMTP configured: it stays here to read)
    | failed (given up after the last attempt)."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        UniqueConstraint("notification_id", "channel"),
        CheckConstraint("channel IN ('email', 'sms')", name="channel"),
        CheckConstraint("state IN ('pending', 'sent', 'kept', 'failed')", name="state"),
        CheckConstraint("(state IN ('sent', 'kept')) = (sent_at IS NOT NULL)", name="sent_at"),
        CheckConstraint("attempts >= 0", name="attempts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(8), default="pending", index=True)
    transport: Mapped[str | None] = mapped_column(String(16))  # smtp | outbox | sms-log
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
