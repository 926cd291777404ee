"""Changes to a profile: facts shared by other registers, and the applicant's consent to reuse them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from onestop.accounts.models import Enterprise, User
from onestop.audit.operations import Actor, record
from onestop.core.clock import now
from onestop.extensions import db
from onestop.profiles.models import ProfileEntry
from onestop.profiles.queries import PROFILE_KEYS
from workflows.identity import mask_resident_id


def share_fact(owner: User | Enterprise, key: str, value: Any, source: str, actor: Actor | None = None) -> ProfileEntry:
    """Store (or update) one fact of a person's or an enterprise's profile, as a register shares it."""
    if key not in PROFILE_KEYS:
        raise KeyError(key)
    is_enterprise = isinstance(owner, Enterprise)
    if key.startswith("enterprise.") != is_enterprise:
        raise ValueError(f"{key} belongs to {'a person' if is_enterprise else 'an enterprise'}")
    column = ProfileEntry.enterprise_id if is_enterprise else ProfileEntry.user_id
    entry = db.session.scalar(select(ProfileEntry).where(column == owner.id, ProfileEntry.key == key))
    if entry is None:
        entry = ProfileEntry(key=key, enterprise_id=owner.id if is_enterprise else None,
                             user_id=None if is_enterprise else owner.id)
        db.session.add(entry)
    entry.value, entry.source, entry.updated_at = value, source, now()
    db.session.flush()
    shown = mask_resident_id(str(value)) if PROFILE_KEYS[key].masked else value
    record("profile:fact_shared", "enterprise" if is_enterprise else "user", owner.id,
           {"key": key, "value": shown, "source": source}, actor=actor or Actor.system())
    return entry


def set_consent(user: User, give: bool) -> None:
    """一次申报、多次复用 only with consent; revocable at any time, effective for the next form."""
    user.prefill_consent_at = now() if give else None
    record("account:consent_given" if give else "account:consent_revoked", "user", user.id,
           actor=Actor(user.id, user.kind))


def update_contact(user: User, phone: str, email: str | None, address: str | None) -> dict[str, Any]:
    """The applicant corrects their own contact data; returns what changed (for the audit event)."""
    changes = {}
    for name, value in (("phone", phone), ("email", email), ("address", address)):
        if getattr(user, name) != value:
            changes[name] = {"before": getattr(user, name), "after": value}
            setattr(user, name, value)
    if changes:
        record("profile:contact_updated", "user", user.id, {"fields": sorted(changes)}, actor=Actor(user.id, user.kind))
    return changes
