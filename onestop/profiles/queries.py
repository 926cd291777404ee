"""What a profile holds, and what it fills in on a form (only with the applicant's consent).

A profile key names one fact: person.* (a natural person), operator.* (an enterprise's operator, from
the account), enterprise.* (the enterprise). The account columns give the basics; other registers share
further facts as ProfileEntry rows. A bundle field names the key it may be filled from (`profile:`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from onestop.accounts.models import User
from onestop.applications.models import Application
from onestop.extensions import db
from onestop.profiles.models import ProfileEntry
from workflows.catalog.schema import Bundle


@dataclass(frozen=True)
class ProfileKey:
    key: str
    label: Any  # lazy text
    source: str  # where the fact usually comes from (see profiles.models.SOURCES)
    masked: bool = False  # shown masked on the profile page (ID numbers)


# Every fact a profile can hold. A bundle field's `profile:` must name one of these (a test checks it).
PROFILE_KEYS: dict[str, ProfileKey] = {k.key: k for k in [
    ProfileKey("person.name", _l("Real name"), "registration"),
    ProfileKey("person.id_number", _l("Resident ID number"), "registration", masked=True),
    ProfileKey("person.phone", _l("Mobile phone"), "registration", masked=True),
    ProfileKey("person.email", _l("E-mail"), "registration"),
    ProfileKey("person.address", _l("Address"), "registration"),
    ProfileKey("person.hukou_address", _l("Household registration address"), "population_register"),
    ProfileKey("person.spouse_name", _l("Spouse's name"), "marriage_register"),
    ProfileKey("person.spouse_id_number", _l("Spouse's ID number"), "marriage_register", masked=True),
    ProfileKey("operator.name", _l("Operator's real name"), "registration"),
    ProfileKey("operator.id_number", _l("Operator's resident ID number"), "registration", masked=True),
    ProfileKey("operator.phone", _l("Mobile phone"), "registration", masked=True),
    ProfileKey("enterprise.name", _l("Enterprise name"), "registration"),
    ProfileKey("enterprise.credit_code", _l("Unified social credit code"), "registration"),
    ProfileKey("enterprise.legal_representative", _l("Legal representative"), "registration"),
    ProfileKey("enterprise.address", _l("Registered address"), "registration"),
    ProfileKey("enterprise.type", _l("Type of enterprise"), "market_register"),
    ProfileKey("enterprise.penalty_decision_no", _l("Latest administrative penalty: decision number"), "credit_platform"),
    ProfileKey("enterprise.penalty_authority", _l("Latest administrative penalty: department"), "credit_platform"),
    ProfileKey("enterprise.penalty_category", _l("Latest administrative penalty: field"), "credit_platform"),
    ProfileKey("enterprise.penalty_date", _l("Latest administrative penalty: date"), "credit_platform"),
]}


def keys_for(audience: str) -> list[str]:
    """The keys a complete profile of this audience holds (an operator's account holds person data too)."""
    prefixes = ("person.",) if audience == "person" else ("operator.", "enterprise.")
    return [k for k in PROFILE_KEYS if k.startswith(prefixes)]


@dataclass(frozen=True)
class Fact:
    key: str
    value: Any
    source: str


def profile_facts(user: User) -> dict[str, Fact]:
    """Everything the profile holds for this applicant (consent or not: this is what the page shows)."""
    facts: dict[str, Fact] = {}

    def put(key: str, value: Any, source: str = "registration") -> None:
        if value not in (None, ""):
            facts[key] = Fact(key, value, source)

    prefix = "operator." if user.enterprise_id is not None else "person."
    put(prefix + "name", user.name)
    put(prefix + "id_number", user.id_number)
    put(prefix + "phone", user.phone)
    if user.enterprise_id is None:
        put("person.email", user.email)
        put("person.address", user.address)
    else:
        e = user.enterprise
        put("enterprise.name", e.name)
        put("enterprise.credit_code", e.credit_code)
        put("enterprise.legal_representative", e.legal_representative)
        put("enterprise.address", e.address)
    owners = [ProfileEntry.user_id == user.id]
    if user.enterprise_id is not None:
        owners.append(ProfileEntry.enterprise_id == user.enterprise_id)
    for entry in db.session.scalars(select(ProfileEntry).where(or_(*owners)).order_by(ProfileEntry.key)):
        put(entry.key, entry.value, entry.source)
    return facts


def profile_values(user: User) -> dict[str, Any]:
    """一人一档 / 一企一档 as values to prefill; empty without the applicant's consent."""
    if user.prefill_consent_at is None:
        return {}
    return {key: fact.value for key, fact in profile_facts(user).items()}


def earlier_answers(user: User, bundle_code: str) -> tuple[str | None, dict[str, Any]]:
    """The answers of the applicant's latest application of the same matter (the enterprise's, for an
    operator): (its reference, answers). Reused only with consent, like the profile."""
    if user.prefill_consent_at is None:
        return None, {}
    from onestop.catalog.models import BundleVersion

    owner = (Application.enterprise_id == user.enterprise_id) if user.enterprise_id is not None \
        else (Application.applicant_id == user.id)
    application = db.session.scalars(
        select(Application).join(BundleVersion, Application.bundle_version_id == BundleVersion.id)
        .where(owner, BundleVersion.code == bundle_code).order_by(Application.submitted_at.desc()).limit(1)
    ).first()
    if application is None:
        return None, {}
    return application.reference, application.answer_map


def prefill(user: User, bundle: Bundle) -> tuple[dict[str, Any], dict[str, str]]:
    """Values for the one form and where each came from: "profile", or "application:<reference>" for
    answers reused from the applicant's latest application of the same matter. Profile first: it is
    the government's data; an earlier answer fills only what the profile cannot."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    profile = profile_values(user)
    for spec in bundle.fields:
        if spec.profile and spec.profile in profile:
            values[spec.key], sources[spec.key] = profile[spec.profile], "profile"
    reference, answers = earlier_answers(user, bundle.code)
    for spec in bundle.fields:
        if spec.key not in values and spec.key in answers and answers[spec.key] not in (None, ""):
            values[spec.key], sources[spec.key] = answers[spec.key], f"application:{reference}"
    return values, sources
