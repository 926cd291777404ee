"""How e-mails and text messages leave: SMTP when ONESTOP_SMTP_URL is set, otherwise they stay in the
outbox table (administrators read them at /admin/outbox); text messages go through an
SmsSender, whose default implementation only logs (plug a gateway in with `set_sms_sender`)."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any, Protocol

from flask import current_app

from workflows.identity import mask_phone

log = logging.getLogger(__name__)
SMTP_TIMEOUT_S = 15


class SmsSender(Protocol):
    name: str

    def send(self, phone: str, text: str) -> None: ...


class LoggingSmsSender:
    """Writes the message to the log (phone masked): enough until a government SMS gateway is wired in."""

    name = "sms-log"

    def send(self, phone: str, text: str) -> None:
        log.info("SMS to %s: %s", mask_phone(phone), text)


def set_sms_sender(app: Any, sender: SmsSender) -> None:
    app.extensions["onestop_sms"] = sender


def sms_sender() -> SmsSender:
    sender = current_app.extensions.get("onestop_sms")
    return sender if sender is not None else LoggingSmsSender()


def smtp_configured() -> bool:
    return bool(current_app.config.get("ONESTOP_SMTP"))


def send_email(to: str, subject: str, body: str, message_id: str) -> None:
    """Send through the configured SMTP server; raises on failure (the caller counts the attempt)."""
    config = current_app.config["ONESTOP_SMTP"]
    message = EmailMessage()
    message["From"] = formataddr(("一网通办 onestop", current_app.config["ONESTOP_MAIL_FROM"]))
    message["To"] = to
    message["Subject"] = subject
    # A stable Message-ID per outbox row: a resend after a lost acknowledgement is recognisable.
    message["Message-ID"] = make_msgid(idstring=message_id, domain=current_app.config["ONESTOP_MAIL_FROM"].split("@")[1])
    message.set_content(body)
    context = ssl.create_default_context()
    if config["ssl"]:
        server: smtplib.SMTP = smtplib.SMTP_SSL(config["host"], config["port"], timeout=SMTP_TIMEOUT_S, context=context)
    else:
        server = smtplib.SMTP(config["host"], config["port"], timeout=SMTP_TIMEOUT_S)
    with server:
        if not config["ssl"]:
            server.ehlo()
            if server.has_extn("starttls") or config["port"] == 587:
                server.starttls(context=context)
                server.ehlo()
        if config["user"]:
            server.login(config["user"], config["password"] or "")
        server.send_message(message)
