"""The outbox: every notification becomes an e-mail (when the user has an address) and, for applicants,
a text message; each is sent by a job after commit, at most once per channel, and retried with backoff
by the sweep when sending fails."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import or_, select

from onestop.accounts.models import User
from onestop.applications.messages import message_text
from onestop.applications.models import Notification
from onestop.core.clock import now
from onestop.extensions import db
from onestop.messaging.models import OutboundMessage
from onestop.messaging.transports import send_email, sms_sender, smtp_configured

log = logging.getLogger(__name__)
BACKOFF = [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2)]
MAX_ATTEMPTS = len(BACKOFF) + 1


def _texts(notification: Notification) -> tuple[str, str]:
    with force_locale("zh_Hans_CN"):
        zh = message_text(notification)
    with force_locale("en"):
        en = message_text(notification)
    return zh, en


def _link(notification: Notification) -> str | None:
    base = current_app.config.get("ONESTOP_PUBLIC_URL")
    reference = (notification.data or {}).get("reference")
    if not base:
        return None
    return f"{base}/my/applications/{reference}" if reference and notification.kind != "step_received" else f"{base}/messages"


def queue_for(notification: Notification, user: User) -> list[OutboundMessage]:
    """The e-mail and text message of a notification (none for a channel the user has no address for)."""
    zh, en = _texts(notification)
    link = _link(notification)
    messages = []
    if user.email:
        body = "\n".join(filter(None, [zh, f"详情：{link}" if link else "请登录一网通办查看详情。", "", en,
                                        f"Details: {link}" if link else "Log in to onestop for the details."]))
        messages.append(OutboundMessage(notification_id=notification.id, user_id=user.id, channel="email",
                                        recipient=user.email, subject=f"【一网通办】{zh}"[:200], body=body,
                                        state="pending", attempts=0, created_at=now()))
    if user.is_applicant and user.phone:
        messages.append(OutboundMessage(notification_id=notification.id, user_id=user.id, channel="sms",
                                        recipient=user.phone, subject=zh[:200], body=f"【一网通办】{zh}",
                                        state="pending", attempts=0, created_at=now()))
    for message in messages:
        db.session.add(message)
    return messages


def deliver(message: OutboundMessage) -> None:
    """One attempt. Never raises: a failure is counted and retried later, so one unreachable server does
    not undo the messages sent beside it."""
    if message.state != "pending":
        return  # sent, kept or given up already: a retried job sends nothing twice
    try:
        if message.channel == "email":
            if smtp_configured():
                send_email(message.recipient, message.subject, message.body, f"onestop.{message.id}")
                message.transport, message.state = "smtp", "sent"
            else:
                message.transport, message.state = "outbox", "kept"
        else:
            sender = sms_sender()
            sender.send(message.recipient, message.body)
            message.transport, message.state = sender.name, "sent"
        message.sent_at = now()
        message.next_attempt_at = None
    except Exception as exc:  # noqa: BLE001 - any transport failure is retried the same way
        message.attempts += 1
        message.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        if message.attempts >= MAX_ATTEMPTS:
            message.state = "failed"
            message.next_attempt_at = None
            log.error("message %s to %s given up after %d attempts: %s", message.id, message.channel,
                      message.attempts, message.last_error)
        else:
            message.next_attempt_at = now() + BACKOFF[message.attempts - 1]
            log.warning("message %s (%s) failed, retry at %s: %s", message.id, message.channel,
                        message.next_attempt_at, message.last_error)


def retry_due(limit: int = 200) -> int:
    """Pending messages whose retry time has come (or that a lost job never tried)."""
    current = now()
    due = select(OutboundMessage).where(
        OutboundMessage.state == "pending",
        or_(OutboundMessage.next_attempt_at <= current,
            (OutboundMessage.next_attempt_at.is_(None)) & (OutboundMessage.created_at <= current - timedelta(minutes=5))),
    ).order_by(OutboundMessage.id).limit(limit)
    if db.engine.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)  # a message in another run's hands is skipped
    messages = db.session.scalars(due).all()
    for message in messages:
        deliver(message)
    return len(messages)
