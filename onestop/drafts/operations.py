"""Drafts of the one form: start (prefilled with consent), save a step, keep uploads, submit once.

A draft keeps the answers exactly as typed, valid or not, so leaving a page never loses anything; the
rules are applied when the applicant moves on and again, in full, at submission.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from onestop.accounts.models import User
from onestop.applications.models import Application, Material
from onestop.applications.operations import Submitted, submit
from onestop.audit.operations import Actor, record
from onestop.catalog.models import BundleVersion
from onestop.catalog.operations import bundle_of, current_version
from onestop.core.clock import now
from onestop.drafts.models import Draft
from onestop.extensions import db
from onestop.profiles.queries import prefill
from workflows.catalog.schema import Bundle, FieldType

# Longest text kept for one answer: the field's own rules are stricter, this only bounds a draft's size.
MAX_RAW_LENGTH = 5000
# Drafts untouched this long are removed by the sweep, with their uploads.
DRAFT_LIFETIME = timedelta(days=30)


def raw_value(bundle: Bundle, key: str, value: Any) -> str | None:
    """A stored answer as the form field holds it (a checkbox is "y" when ticked, else absent)."""
    if bundle.field(key).type is FieldType.BOOLEAN:
        return "y" if value is True or value == "y" else None
    if value is None:
        return None
    return str(value)


def loose_answers(bundle: Bundle, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Draft answers as the catalog's conditions read them (ticked boxes are True)."""
    answers: dict[str, Any] = {}
    for spec in bundle.fields:
        value = raw.get(spec.key)
        if spec.type is FieldType.BOOLEAN:
            answers[spec.key] = value == "y"
        elif value not in (None, ""):
            answers[spec.key] = value
    return answers


def open_draft(applicant: User, code: str) -> Draft | None:
    return db.session.scalars(select(Draft).where(
        Draft.applicant_id == applicant.id, Draft.bundle_code == code, Draft.state == "open",
    ).order_by(Draft.updated_at.desc()).limit(1)).first()


def start_draft(applicant: User, version: BundleVersion, actor: Actor | None = None) -> Draft:
    """A new draft, prefilled from the profile and the latest earlier application (with consent).
    The actor is the applicant, or the window clerk filling the form with them (一窗受理)."""
    bundle = bundle_of(version)
    values, sources = prefill(applicant, bundle)
    answers: dict[str, Any] = {}
    prefilled: dict[str, Any] = {}
    for key, value in values.items():
        raw = raw_value(bundle, key, value)
        if raw is not None:
            answers[key] = raw
            prefilled[key] = {"source": sources[key], "value": raw}
    current = now()
    draft = Draft(
        public_id=secrets.token_urlsafe(16), applicant_id=applicant.id, bundle_version_id=version.id,
        bundle_code=bundle.code, state="open", answers=answers, prefill=prefilled, step=None,
        idempotency_key=uuid.uuid4().hex, created_at=current, updated_at=current,
    )
    db.session.add(draft)
    db.session.flush()
    record("draft:started", "draft", draft.id,
           {"bundle": bundle.code, "version": version.version, "prefilled": sorted(prefilled)},
           actor=actor or Actor(applicant.id, applicant.kind))
    return draft


def follow_catalog(draft: Draft) -> bool:
    """Move an open draft onto the bundle's current version (answers to fields that are gone are
    dropped); True when it moved, so the applicant can be told to check the form again."""
    version = current_version(draft.bundle_code)
    if version is None or version.id == draft.bundle_version_id:
        return False
    bundle = bundle_of(version)
    keys = {f.key for f in bundle.fields}
    draft.answers = {k: v for k, v in draft.answers.items() if k in keys}
    draft.prefill = {k: v for k, v in draft.prefill.items() if k in keys}
    draft.bundle_version_id = version.id
    draft.updated_at = now()
    record("draft:moved_to_version", "draft", draft.id, {"version": version.version})
    return True


def save_answers(draft: Draft, bundle: Bundle, posted: Mapping[str, str | None], step: str) -> list[str]:
    """Merge the answers of one step into the draft, as typed; return the keys that changed.

    A prefilled answer the applicant changed is no longer marked as prefilled."""
    answers = dict(draft.answers)
    changed = []
    for key, value in posted.items():
        bundle.field(key)  # a step posts only the bundle's own fields
        value = value[:MAX_RAW_LENGTH] if value is not None else None
        if answers.get(key) != value:
            changed.append(key)
        if value is None:
            answers.pop(key, None)
        else:
            answers[key] = value
    draft.answers = answers
    draft.prefill = {k: v for k, v in draft.prefill.items() if answers.get(k) == v["value"]}
    draft.step = step
    draft.updated_at = now()
    if changed:
        record("draft:saved", "draft", draft.id, {"step": step, "fields": sorted(changed)})
    return changed


def draft_materials(draft: Draft) -> dict[str, Material]:
    """The draft's current upload per material (the latest, when one was replaced)."""
    result: dict[str, Material] = {}
    for material in db.session.scalars(select(Material).where(Material.draft_id == draft.id).order_by(Material.id)):
        result[material.material_key] = material
    return result


def keep_upload(draft: Draft, material: Material) -> None:
    """Attach a checked upload to the draft; one it replaces is let go (the sweep removes it later)."""
    for earlier in db.session.scalars(select(Material).where(
            Material.draft_id == draft.id, Material.material_key == material.material_key)):
        earlier.draft_id = None
    material.draft_id = draft.id
    draft.updated_at = now()
    db.session.flush()


def discard(draft: Draft, actor: Actor) -> None:
    draft.state = "discarded"
    draft.updated_at = now()
    for material in db.session.scalars(select(Material).where(Material.draft_id == draft.id)):
        material.draft_id = None  # unattached uploads are removed by the sweep
    record("draft:discarded", "draft", draft.id, actor=actor)


def submit_draft(draft: Draft, applicant: User, answers: Mapping[str, Any], material_ids: Mapping[str, int],
                 actor: Actor | None = None) -> Submitted:
    """Submit the draft's answers (already validated in full) under the draft's idempotency key.

    A second click, a reload or a replayed request finds the application the first one created."""
    if draft.state == "submitted":
        application = db.session.get(Application, draft.application_id)
        assert application is not None
        return Submitted(application, created=False)
    prefilled = {k for k, v in draft.prefill.items() if draft.answers.get(k) == v["value"]}
    result = submit(applicant, draft.bundle_version, answers, material_ids, draft.idempotency_key,
                    prefilled=prefilled, actor=actor)
    draft.state = "submitted"
    draft.application_id = result.application.id
    draft.updated_at = now()
    record("draft:submitted", "draft", draft.id, {"application": result.application.reference},
           actor=actor or Actor(applicant.id, applicant.kind))
    return result


def purge_stale_drafts(limit: int = 500) -> int:
    """Drafts untouched for DRAFT_LIFETIME end as discarded (their uploads then go with the sweep)."""
    cutoff = now() - DRAFT_LIFETIME
    stale = db.session.scalars(select(Draft).where(Draft.state == "open", Draft.updated_at < cutoff).limit(limit)).all()
    for draft in stale:
        discard(draft, Actor.system())
    return len(stale)
