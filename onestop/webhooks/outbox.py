"""Writing events: `emit()` is called by operations next to the change it tells of, in its transaction.

The event row and one delivery row per subscribed system are inserted with the change, so a committed
change always has its event and a rolled-back one never has (a transactional outbox, as the messages of
onestop.jobs.notifications). Sending happens only after commit (the job `deliver_webhooks`).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from onestop.core.clock import now
from onestop.core.jobs import after_commit
from onestop.extensions import db
from onestop.webhooks.models import EVENTS, WebhookDelivery, WebhookEvent, WebhookSubscription

_SUBSCRIPTIONS = "onestop_webhook_subscriptions"


def _subscriptions() -> list[tuple[int, list[str]]]:
    """(id, events) of the active subscriptions, read once per transaction."""
    session = db.session()
    cached = session.info.get(_SUBSCRIPTIONS)
    if cached is None:
        with session.no_autoflush:
            cached = [(sid, list(events or [])) for sid, events in session.execute(
                select(WebhookSubscription.id, WebhookSubscription.events).where(WebhookSubscription.active))]
        session.info[_SUBSCRIPTIONS] = cached
    return cached


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_SUBSCRIPTIONS, None)


def emit(event_type: str, payload: dict[str, Any]) -> str | None:
    """Queue one event for every subscription that wants it; returns its event id (None: nobody wants it)."""
    assert event_type in EVENTS, event_type
    targets = [sid for sid, events in _subscriptions() if event_type in events]
    if not targets:
        return None
    current = now()
    row = WebhookEvent(event_id=str(uuid.uuid4()), type=event_type, payload=_plain(payload), created_at=current)
    db.session.add(row)
    for sid in targets:
        db.session.add(WebhookDelivery(event=row, subscription_id=sid, state="pending", attempts=0,
                                       next_attempt_at=current, created_at=current))
    after_commit("deliver_webhooks", row.event_id)
    return row.event_id


def _plain(value: Any) -> Any:
    from onestop.audit.operations import _jsonable

    return _jsonable(value)
