"""Subscriptions (administrators), and delivering events: signed, retried with exponential back-off.

A delivery is a POST of the event's JSON with
    X-Onestop-Event-Id   the event's id (the same on every attempt: receivers deduplicate on it)
    X-Onestop-Event      its type
    X-Onestop-Timestamp  Unix seconds of this attempt
    X-Onestop-Signature  sha256=HMAC-SHA256(secret, "<timestamp>.<body>") in hex
Any 2xx is success. Otherwise the delivery waits BACKOFF_BASE * 2^(attempts-1) (capped) and the sweep
sends it again; after MAX_ATTEMPTS it is marked failed, and an administrator may re-send it. A receiver
that cannot be reached costs one attempt per run: its other deliveries wait for the next run, so a
dead receiver never makes a run wait out one time-out per event.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from datetime import timedelta

from sqlalchemy import select

from onestop.accounts.models import User
from onestop.audit.operations import Actor, record
from onestop.core.clock import now
from onestop.core.jobs import after_commit, job
from onestop.extensions import db
from onestop.webhooks.models import EVENTS, WebhookDelivery, WebhookEvent, WebhookSubscription

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=6)
MAX_ATTEMPTS = 12  # about a day and a half of trying
TIMEOUT = (3.05, 10)  # connect, read (seconds)


class WebhookError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def create_subscription(name: str, url: str, events: list[str], admin: User) -> WebhookSubscription:
    if not events or set(events) - set(EVENTS):
        raise WebhookError("bad_events")
    subscription = WebhookSubscription(name=name.strip(), url=url.strip(), secret=secrets.token_hex(32),
                                       events=sorted(set(events)), active=True, created_by_id=admin.id,
                                       created_at=now())
    db.session.add(subscription)
    db.session.flush()
    record("webhook:subscription_created", "webhook_subscription", subscription.id,
           {"name": subscription.name, "url": subscription.url, "events": subscription.events},
           actor=Actor(admin.id, "admin"))
    return subscription


def set_active(subscription: WebhookSubscription, active: bool, admin: User) -> None:
    subscription.active = active
    record("webhook:subscription_" + ("activated" if active else "deactivated"), "webhook_subscription",
           subscription.id, {"name": subscription.name}, actor=Actor(admin.id, "admin"))


def resend(delivery: WebhookDelivery, admin: User) -> None:
    """Send again now (a failed delivery, or one the receiver lost): the same event id and body."""
    delivery.state = "pending"
    delivery.delivered_at = None
    delivery.next_attempt_at = now()
    record("webhook:resend", "webhook_delivery", delivery.id,
           {"event": delivery.event.event_id, "subscription": delivery.subscription_id}, actor=Actor(admin.id, "admin"))
    after_commit("deliver_webhooks", delivery.event.event_id)


def body_of(event: WebhookEvent) -> bytes:
    return json.dumps({"id": event.event_id, "type": event.type, "created_at": event.created_at.isoformat(),
                       "data": event.payload}, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> timedelta:
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def _send(delivery: WebhookDelivery) -> bool:
    """One attempt; False when the receiver could not be reached at all (refused, timed out)."""
    import requests

    event, subscription = delivery.event, delivery.subscription
    current = now()
    timestamp = str(int(current.timestamp()))
    body = body_of(event)
    delivery.attempts += 1
    delivery.last_attempt_at = current
    try:
        response = requests.post(subscription.url, data=body, timeout=TIMEOUT, allow_redirects=False, headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": "onestop-webhooks/1",
            "X-Onestop-Event-Id": event.event_id, "X-Onestop-Event": event.type,
            "X-Onestop-Timestamp": timestamp, "X-Onestop-Signature": signature(subscription.secret, timestamp, body),
        })
        delivery.last_status, delivery.last_error = response.status_code, None
        ok = 200 <= response.status_code < 300
        if not ok:
            delivery.last_error = f"HTTP {response.status_code}: {response.text[:200]}"
    except requests.RequestException as exc:
        delivery.last_status, delivery.last_error, ok = None, f"{type(exc).__name__}: {str(exc)[:300]}", False
        reached = False
    else:
        reached = True
    if ok:
        delivery.state, delivery.delivered_at, delivery.next_attempt_at = "delivered", now(), None
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.state, delivery.next_attempt_at = "failed", None
        log.warning("webhook delivery %s gave up after %d attempts: %s", delivery.id, delivery.attempts,
                    delivery.last_error)
    else:
        delivery.next_attempt_at = current + backoff(delivery.attempts)
    return reached


def _send_all(deliveries: list[WebhookDelivery]) -> int:
    """Attempt each delivery in order; once a receiver cannot be reached, its other deliveries wait for
    the next run (one time-out per receiver and run, not one per event). Returns the attempts made."""
    unreachable: set[int] = set()
    attempted = 0
    for delivery in deliveries:
        if delivery.subscription_id in unreachable:
            continue
        attempted += 1
        if not _send(delivery):
            unreachable.add(delivery.subscription_id)
    return attempted


def _due(stmt: object) -> list[WebhookDelivery]:
    if db.engine.dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=WebhookDelivery, skip_locked=True)  # type: ignore[attr-defined]
    return list(db.session.scalars(stmt))  # type: ignore[arg-type]


@job("deliver_webhooks")
def deliver_webhooks(*event_ids: str) -> None:
    """After commit: the pending deliveries of these events (a delivery another worker holds is
    skipped; a delivered one is never sent again by this job)."""
    stmt = (select(WebhookDelivery).join(WebhookEvent).where(
        WebhookEvent.event_id.in_(event_ids), WebhookDelivery.state == "pending",
        WebhookDelivery.next_attempt_at <= now()).order_by(WebhookDelivery.id))
    _send_all(_due(stmt))


def retry_due(limit: int = 200) -> int:
    """The sweep: deliveries whose next attempt is due, oldest event first (each receiver then gets
    its events in order as far as it can)."""
    stmt = (select(WebhookDelivery).where(WebhookDelivery.state == "pending",
                                          WebhookDelivery.next_attempt_at <= now())
            .order_by(WebhookDelivery.event_id, WebhookDelivery.id).limit(limit))
    return _send_all(_due(stmt))
