"""The window's mutations: look up or register the walk-in applicant, take the matter in (consent,
proxy), mark what was submitted at the window, activation codes, and the hand-over of results.

Operations flush and audit, never commit. A refusal is a WindowError with a stable code the views word.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from onestop.accounts.models import Enterprise, User, UserKind
from onestop.accounts.operations import AccountError, register_enterprise, register_person
from onestop.applications.models import Application, Material
from onestop.audit.operations import Actor, record
from onestop.catalog.operations import bundle_of, current_version
from onestop.certificates.models import Certificate
from onestop.core.clock import local_now, now
from onestop.core.security import hash_password, verify_password
from onestop.drafts.models import Draft
from onestop.drafts.operations import start_draft
from onestop.extensions import db
from onestop.jobs.notifications import notify_applicant
from onestop.window.models import COLLECTION_METHODS, ActivationCode, Handover, ResultCollection, WindowIntake
from workflows.identity import mask_resident_id, validate_credit_code, validate_resident_id

ACTIVATION_LIFETIME = timedelta(days=30)
ACTIVATION_MAX_TRIES = 5
# No 0/O, 1/I/L: the code is read off paper and typed by hand.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_CODE_LENGTH = 10
PROXY_MATERIAL = "window_proxy_authorisation"
COLLECTOR_MATERIAL = "window_collector_authorisation"
ENDED_WITH_RESULTS = ("completed", "partially_completed")


class WindowError(Exception):
    def __init__(self, code: str, field: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.field = field


def clerk_actor(clerk: User) -> Actor:
    return Actor(clerk.id, "window")


def hall() -> str:
    return str(current_app.config["ONESTOP_SERVICE_HALL"])


# -- look-up and registration ------------------------------------------------------------------------------

@dataclass(frozen=True)
class LookUp:
    kind: str  # "person" (resident ID number) | "enterprise" (unified social credit code)
    number: str
    name: str
    applicant: User | None  # None: not registered yet (the clerk may register them)


def _normalised(kind: str, number: str) -> str:
    number = number.strip().upper()
    if kind == "person":
        invalid = validate_resident_id(number, today=local_now().date())
    elif kind == "enterprise":
        invalid = validate_credit_code(number)
    else:
        raise WindowError("unknown_kind", "kind")
    if invalid is not None:
        raise WindowError(f"invalid_{kind}_number", "number")
    return number


def masked_number(kind: str, number: str) -> str:
    return mask_resident_id(number) if kind == "person" else number  # credit codes are public


def look_up(clerk: User, kind: str, number: str, name: str) -> LookUp:
    """Find the applicant by number and check the name the clerk entered from the ID card or licence.

    Every look-up is a staff view of personal data, so it is recorded whatever it finds; a mismatch is
    recorded and refused (the view commits the record before it shows the error)."""
    name = name.strip()
    try:
        number = _normalised(kind, number)
    except WindowError:
        record("window:look_up", "user", None, {"kind": kind, "result": "invalid_number"}, actor=clerk_actor(clerk))
        raise
    applicant: User | None = None
    registered_name: str | None = None
    if kind == "person":
        applicant = db.session.scalar(select(User).where(User.id_number == number))
        if applicant is not None and applicant.kind != UserKind.PERSON:
            record("window:look_up", "user", applicant.id,
                   {"kind": kind, "number": masked_number(kind, number), "result": "not_a_person_account"},
                   actor=clerk_actor(clerk))
            raise WindowError("not_a_person_account", "number")
        registered_name = applicant.name if applicant is not None else None
    else:
        enterprise = db.session.scalar(select(Enterprise).where(Enterprise.credit_code == number))
        if enterprise is not None:
            registered_name = enterprise.name
            applicant = db.session.scalars(select(User).where(User.enterprise_id == enterprise.id)
                                           .order_by(User.id).limit(1)).first()
    result = "found" if registered_name is not None else "not_registered"
    if registered_name is not None and registered_name != name:
        result = "name_mismatch"
    record("window:look_up", "user", applicant.id if applicant is not None else None,
           {"kind": kind, "number": masked_number(kind, number), "result": result}, actor=clerk_actor(clerk))
    if result == "name_mismatch":
        raise WindowError("name_mismatch", "name")
    return LookUp(kind, number, name, applicant)


def _unusable_password() -> str:
    """Accounts opened at the window have no password until the applicant activates them."""
    return secrets.token_urlsafe(32)


def _window_username() -> str:
    for _ in range(20):
        candidate = "w" + "".join(secrets.choice("0123456789") for _ in range(9))
        if db.session.scalar(select(User.id).where(User.username == candidate)) is None:
            return candidate
    raise WindowError("username_space")  # pragma: no cover - 10^9 names


def register_walk_in(
    clerk: User, found: LookUp, *, phone: str, address: str | None = None, legal_representative: str = "",
    operator_name: str = "", operator_id_number: str = "",
) -> User:
    """Open an account for a walk-in applicant the look-up did not find. The applicant sets the
    password later with the activation code printed on the slip."""
    if found.applicant is not None:
        raise WindowError("already_registered")
    actor = clerk_actor(clerk)
    try:
        if found.kind == "person":
            user = register_person(username=_window_username(), password=_unusable_password(), name=found.name,
                                   id_number=found.number, phone=phone, address=address, actor=actor)
        else:
            operator_id_number = _normalised("person", operator_id_number)
            user = register_enterprise(
                username=_window_username(), password=_unusable_password(), credit_code=found.number,
                enterprise_name=found.name, legal_representative=legal_representative.strip(),
                enterprise_address=address, operator_name=operator_name.strip(),
                operator_id_number=operator_id_number, phone=phone, actor=actor)
    except AccountError as exc:
        raise WindowError(exc.code, exc.field) from None
    record("window:account_opened", "user", user.id,
           {"kind": found.kind, "number": masked_number(found.kind, found.number), "hall": hall()}, actor=actor)
    return user


# -- intake ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Proxy:
    """帮办代办: the person applying on the applicant's behalf."""

    name: str
    id_number: str
    relation: str
    authorisation: Material  # the signed authorisation (授权委托书), uploaded as a material


def start_intake(
    clerk: User, applicant: User, bundle_code: str, *, new_account: bool, consent: bool, prefill_consent: bool,
    proxy: Proxy | None, collection: str, mail: dict[str, str] | None = None,
) -> WindowIntake:
    """Take a matter in at the window: the applicant's consent, the proxy if any, how the results reach
    them, and the portal's own draft of the one form, which the clerk then fills with them."""
    if not consent:
        raise WindowError("consent_required", "consent")
    version = current_version(bundle_code)
    if version is None:
        raise WindowError("unknown_bundle", "bundle")
    bundle = bundle_of(version)
    if bundle.intake == "offer":  # 免申即享: offered from data and confirmed by the enterprise, never typed in
        raise WindowError("unknown_bundle", "bundle")
    if (bundle.audience == "enterprise") != (applicant.enterprise_id is not None):
        raise WindowError("wrong_audience", "bundle")
    if collection not in COLLECTION_METHODS:
        raise WindowError("unknown_collection", "collection")
    mail = mail or {}
    if collection == "mail" and not all((mail.get("recipient"), mail.get("phone"), mail.get("address"))):
        raise WindowError("mail_address_required", "mail_address")
    actor = clerk_actor(clerk)
    current = now()
    if prefill_consent and applicant.prefill_consent_at is None:
        applicant.prefill_consent_at = current
        record("account:consent_given", "user", applicant.id, {"at_window": hall()}, actor=actor)
    proxy_id = None
    if proxy is not None:
        proxy_id = _normalised("person", proxy.id_number)
        if not proxy.name.strip() or not proxy.relation.strip():
            raise WindowError("proxy_incomplete", "proxy_name")
        if proxy.authorisation.owner_id != applicant.id or proxy.authorisation.material_key != PROXY_MATERIAL:
            raise WindowError("proxy_document", "proxy_document")
    draft = start_draft(applicant, version, actor=actor)
    intake = WindowIntake(
        hall=hall(), clerk_id=clerk.id, applicant_id=applicant.id, draft_id=draft.id, new_account=new_account,
        consent_at=current, collection=collection,
        proxy_name=proxy.name.strip() if proxy else None, proxy_id_number=proxy_id,
        proxy_relation=proxy.relation.strip() if proxy else None,
        proxy_material_id=proxy.authorisation.id if proxy else None,
        mail_recipient=(mail.get("recipient") or "").strip() or None if collection == "mail" else None,
        mail_phone=(mail.get("phone") or "").strip() or None if collection == "mail" else None,
        mail_address=(mail.get("address") or "").strip() or None if collection == "mail" else None,
        created_at=current,
    )
    db.session.add(intake)
    db.session.flush()
    record("window:intake_started", "window_intake", intake.id,
           {"bundle": bundle.code, "applicant": applicant.id, "hall": intake.hall, "collection": collection,
            "proxy": {"name": intake.proxy_name, "id_number": mask_resident_id(proxy_id),
                      "relation": intake.proxy_relation} if proxy else None,
            "prefill_consent": bool(prefill_consent)}, actor=actor)
    return intake


def intake_of_draft(draft: Draft) -> WindowIntake | None:
    return db.session.scalar(select(WindowIntake).where(WindowIntake.draft_id == draft.id))


def may_fill(draft: Draft, user: Any) -> bool:
    """A window clerk may fill (and submit) a draft taken in at the window, while it is open."""
    if not (user.is_authenticated and user.is_window_clerk) or draft.state != "open":
        return False
    intake = intake_of_draft(draft)
    return intake is not None and intake.can_be_served_by(user)


def submitted_at_window(draft: Draft, application: Application, clerk: User) -> WindowIntake:
    """The application records that it came in at the window, by whom, and for whom by proxy."""
    intake = intake_of_draft(draft)
    if intake is None:
        raise WindowError("not_a_window_draft")
    if intake.application_id is None:
        intake.application_id = application.id
        intake.submitted_at = now()
        if intake.proxy_material is not None:  # the authorisation stays with the application it authorised
            intake.proxy_material.application_id = application.id
        choose_collection(application, intake.collection,
                          {"recipient": intake.mail_recipient or "", "phone": intake.mail_phone or "",
                           "address": intake.mail_address or ""}, clerk, actor=clerk_actor(clerk))
        record("window:submitted", "application", application.id,
               {"reference": application.reference, "hall": intake.hall, "clerk": clerk.id, "intake": intake.id,
                "proxy": {"name": intake.proxy_name, "id_number": mask_resident_id(intake.proxy_id_number),
                          "relation": intake.proxy_relation} if intake.has_proxy else None},
               actor=clerk_actor(clerk))
    return intake


def collection_of(application_id: int) -> ResultCollection | None:
    return db.session.scalar(select(ResultCollection).where(ResultCollection.application_id == application_id))


def choose_collection(application: Application, method: str, mail: dict[str, str] | None, by: User,
                      actor: Actor | None = None) -> ResultCollection:
    """The result-delivery choice: online only, collected at the service hall's window, or mailed.
    Open until the results have left (a hand-over is final); a withdrawn or rejected matter has none."""
    if method not in COLLECTION_METHODS:
        raise WindowError("unknown_collection", "collection")
    if application.state in ("withdrawn", "rejected"):
        raise WindowError("no_results_to_deliver")
    if handovers_of(application.id):
        raise WindowError("already_handed_over")
    mail = {k: (v or "").strip() for k, v in (mail or {}).items()}
    if method == "mail" and not all((mail.get("recipient"), mail.get("phone"), mail.get("address"))):
        raise WindowError("mail_address_required", "mail_address")
    row = collection_of(application.id)
    if row is None:
        row = ResultCollection(application_id=application.id)
        db.session.add(row)
    row.method = method
    row.hall = hall() if method == "window" else None
    row.mail_recipient = mail.get("recipient") or None if method == "mail" else None
    row.mail_phone = mail.get("phone") or None if method == "mail" else None
    row.mail_address = mail.get("address") or None if method == "mail" else None
    row.chosen_at = now()
    row.chosen_by_id = by.id
    db.session.flush()
    record("application:collection_chosen", "application", application.id,
           {"reference": application.reference, "method": method, "hall": row.hall}, actor=actor)
    return row


def intake_of_application(application_id: int) -> WindowIntake | None:
    return db.session.scalar(select(WindowIntake).where(WindowIntake.application_id == application_id))


# -- activation codes --------------------------------------------------------------------------------------

def _normalised_code(code: str) -> str:
    return "".join(c for c in code.upper() if c.isalnum())


def is_activated(user: User) -> bool:
    return db.session.scalar(select(ActivationCode.id).where(
        ActivationCode.user_id == user.id, ActivationCode.used_at.is_not(None)).limit(1)) is not None


def issue_activation_code(intake: WindowIntake, clerk: User) -> str | None:
    """A new one-time code for an account opened at this intake (None when there is nothing to activate).
    Printing the slip again issues a new code and voids the earlier one: only paper in hand works."""
    applicant = intake.applicant
    # Any slip of an applicant whose account was opened at the window carries a code until it is activated
    # (they may come back with a second matter before activating).
    opened_here = intake.new_account or db.session.scalar(select(WindowIntake.id).where(
        WindowIntake.applicant_id == applicant.id, WindowIntake.new_account.is_(True)).limit(1)) is not None
    if not opened_here or is_activated(applicant):
        return None
    current = now()
    for earlier in db.session.scalars(select(ActivationCode).where(
            ActivationCode.user_id == applicant.id, ActivationCode.used_at.is_(None),
            ActivationCode.voided_at.is_(None))):
        earlier.voided_at = current
    code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
    row = ActivationCode(user_id=applicant.id, code_hash=hash_password(code), issued_at=current,
                         issued_by_id=clerk.id, expires_at=current + ACTIVATION_LIFETIME, attempts=0)
    db.session.add(row)
    db.session.flush()
    record("account:activation_code_issued", "user", applicant.id,
           {"code_id": row.id, "expires_at": row.expires_at, "intake": intake.id}, actor=clerk_actor(clerk))
    return f"{code[:5]}-{code[5:]}"


def activate(code: str, id_number: str, password: str) -> User:
    """Code + ID number -> the password is set. Five wrong codes void the code; it lapses after 30 days."""
    number = id_number.strip().upper()
    user = db.session.scalar(select(User).where(User.id_number == number)) if number else None
    live = None
    if user is not None:
        live = db.session.scalars(select(ActivationCode).where(
            ActivationCode.user_id == user.id, ActivationCode.used_at.is_(None),
            ActivationCode.voided_at.is_(None)).order_by(ActivationCode.id.desc()).limit(1)).first()
    current = now()
    if user is None or live is None:
        latest = db.session.scalars(select(ActivationCode).where(ActivationCode.user_id == user.id)
                                    .order_by(ActivationCode.id.desc()).limit(1)).first() if user else None
        if latest is not None and latest.voided_at is not None and latest.attempts >= ACTIVATION_MAX_TRIES:
            record("account:activation_failed", "user", user.id, {"why": "too_many_tries", "code_id": latest.id})
            raise WindowError("activation_locked", "code")
        record("account:activation_failed", "user", user.id if user else None, {"why": "no_code"})
        raise WindowError("activation_invalid", "code")
    if live.expires_at <= current:
        record("account:activation_failed", "user", user.id, {"why": "expired", "code_id": live.id})
        raise WindowError("activation_expired", "code")
    if live.attempts >= ACTIVATION_MAX_TRIES:
        record("account:activation_failed", "user", user.id, {"why": "too_many_tries", "code_id": live.id})
        raise WindowError("activation_locked", "code")
    if not verify_password(live.code_hash, _normalised_code(code)):
        live.attempts += 1
        if live.attempts >= ACTIVATION_MAX_TRIES:
            live.voided_at = current
            record("account:activation_code_voided", "user", user.id, {"why": "too_many_tries", "code_id": live.id})
            raise WindowError("activation_locked", "code")
        record("account:activation_failed", "user", user.id, {"why": "wrong_code", "attempts": live.attempts})
        raise WindowError("activation_invalid", "code")
    live.used_at = current
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    record("account:activated", "user", user.id, {"code_id": live.id}, actor=Actor(user.id, user.kind))
    return user


# -- results at the window (综合窗口出件) ----------------------------------------------------------------------

def issued_results(application: Application) -> list[Certificate]:
    """The results that may leave the window: issued and not revoked."""
    return list(db.session.scalars(select(Certificate).where(
        Certificate.application_id == application.id, Certificate.state == "issued",
        Certificate.revoked_at.is_(None)).order_by(Certificate.kind, Certificate.id)))


def handovers_of(application_id: int) -> list[Handover]:
    return list(db.session.scalars(select(Handover).where(Handover.application_id == application_id)
                                   .order_by(Handover.id)))


@dataclass(frozen=True)
class Collector:
    kind: str  # "applicant" | "authorised" | "mail"
    name: str = ""
    id_number: str = ""
    relation: str = ""
    authorisation: Material | None = None
    carrier: str = ""
    tracking_number: str = ""


def hand_over(clerk: User, application: Application, collector: Collector) -> Handover:
    """Record the results leaving the window: to the applicant (checked against the account), to an
    authorised person (ID and the authorisation document), or mailed with carrier and tracking number."""
    if application.state not in ENDED_WITH_RESULTS:
        raise WindowError("not_ready")
    results = issued_results(application)
    if not results:
        raise WindowError("no_results")
    if handovers_of(application.id):
        raise WindowError("already_handed_over")
    intake = intake_of_application(application.id)
    collection = collection_of(application.id)
    applicant = application.applicant
    masked_id = None
    name = collector.name.strip()
    if collector.kind == "applicant":
        number = _normalised("person", collector.id_number)
        holder_id = applicant.id_number
        if name != applicant.name or number != holder_id:
            record("window:collector_refused", "application", application.id,
                   {"reference": application.reference, "collector": mask_resident_id(number)},
                   actor=clerk_actor(clerk))
            raise WindowError("collector_mismatch", "collector_name")
        masked_id = mask_resident_id(number)
    elif collector.kind == "authorised":
        number = _normalised("person", collector.id_number)
        if not name or not collector.relation.strip():
            raise WindowError("collector_incomplete", "collector_name")
        if collector.authorisation is None or collector.authorisation.owner_id != applicant.id:
            raise WindowError("collector_document", "collector_document")
        masked_id = mask_resident_id(number)
    elif collector.kind == "mail":
        if collection is None or collection.method != "mail":
            raise WindowError("not_for_mail")
        if not collector.carrier.strip() or not collector.tracking_number.strip():
            raise WindowError("tracking_required", "tracking_number")
        name = collection.mail_recipient or ""
    else:
        raise WindowError("unknown_collector", "collector_kind")
    handover = Handover(
        application_id=application.id, intake_id=intake.id if intake else None, hall=hall(), clerk_id=clerk.id,
        method="mail" if collector.kind == "mail" else "counter", collector_kind=collector.kind,
        collector_name=name[:50], collector_id_masked=masked_id,
        collector_relation=collector.relation.strip() or None if collector.kind == "authorised" else None,
        authorisation_material_id=collector.authorisation.id if collector.authorisation else None,
        carrier=collector.carrier.strip() or None if collector.kind == "mail" else None,
        tracking_number=collector.tracking_number.strip() or None if collector.kind == "mail" else None,
        results=[{"certificate_id": c.id, "serial": c.serial, "title": c.title} for c in results],
        handed_at=now(),
    )
    db.session.add(handover)
    db.session.flush()
    record("window:results_handed_over", "application", application.id,
           {"reference": application.reference, "handover": handover.id, "method": handover.method,
            "collector": {"kind": collector.kind, "name": handover.collector_name, "id_number": masked_id,
                          "relation": handover.collector_relation},
            "carrier": handover.carrier, "tracking_number": handover.tracking_number,
            "results": [c.serial for c in results], "hall": handover.hall}, actor=clerk_actor(clerk))
    if handover.method == "mail":
        notify_applicant(application.id, "results_mailed", f"window:{handover.tracking_number}")
    else:
        notify_applicant(application.id, "results_handed_over", f"window:{handover.id}")
    return handover
