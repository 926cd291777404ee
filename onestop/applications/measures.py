"""The catalog's figures for the pages: reductions against the separate-items baseline and the share of
fields a profile fills in, per bundle."""

from __future__ import annotations

from dataclasses import dataclass

from onestop.accounts.models import User
from onestop.catalog.operations import bundle_of, current_versions
from onestop.profiles.queries import keys_for, profile_values
from workflows.catalog.schema import Bundle
from workflows.measures import PrefillShare, Reduction, prefill_share, reductions


@dataclass(frozen=True)
class BundleFigures:
    bundle: Bundle
    reductions: list[Reduction]
    prefill: PrefillShare  # with a complete profile


def figures(bundle: Bundle) -> BundleFigures:
    return BundleFigures(bundle, reductions(bundle), prefill_share(bundle, keys_for(bundle.audience)))


def bundle_prefill_overview(user: User) -> list[tuple[Bundle, PrefillShare]]:
    """For each matter this applicant may apply for: what their own profile fills in today."""
    audience = "enterprise" if user.enterprise_id is not None else "person"
    held = [k for k, v in profile_values(user).items() if v not in (None, "")]
    result = []
    for version in current_versions():
        bundle = bundle_of(version)
        if bundle.audience == audience:
            result.append((bundle, prefill_share(bundle, held)))
    return result
