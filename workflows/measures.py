"""What a bundle saves the applicant, computed from its definition alone.

The policy targets (DOMAIN.md §1) compare a bundle with doing the same items separately: materials −60%,
time limit −70%, steps (环节) −80%, and at least 50% of the form's fields generated from data the
government already holds. The separate-items figures are catalog data (`baseline`); the bundle's own
figures are counted here from its items, materials and fields, so a changed definition changes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from workflows.catalog.schema import Bundle, FormField, TimeLimit

# The targets each bundle is measured against (Henan's implementation of 国发〔2024〕3号), as the least
# reduction in percent; "prefill" is the least share of fields generated from the government's data.
TARGETS: dict[str, int] = {"materials": 60, "time": 70, "steps": 80, "prefill": 50}


@dataclass(frozen=True)
class Reduction:
    """One figure of the bundle against the separate-items baseline."""

    name: str  # materials | steps | trips | fields | time
    baseline: Decimal
    bundle: Decimal
    unit: str | None = None  # the time unit (time only)

    @property
    def percent(self) -> int | None:
        """Reduction in whole percent (60 means −60%); None when the baseline is zero."""
        if self.baseline == 0:
            return None
        share = (self.baseline - self.bundle) / self.baseline * 100
        return int(share.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    @property
    def target(self) -> int | None:
        return TARGETS.get(self.name)

    @property
    def meets_target(self) -> bool | None:
        if self.target is None or self.percent is None:
            return None
        return self.percent >= self.target


@dataclass(frozen=True)
class PrefillShare:
    """Fields every applicant sees, and how many of them a complete profile fills in."""

    prefilled: tuple[str, ...]
    fields: tuple[str, ...]

    @property
    def percent(self) -> int:
        if not self.fields:
            return 0
        share = Decimal(len(self.prefilled)) / Decimal(len(self.fields)) * 100
        return int(share.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def always_shown(bundle: Bundle) -> list[FormField]:
    """The fields every applicant of the bundle sees (those behind a `show_if` depend on answers)."""
    return [f for f in bundle.fields if f.show_if is None]


def prefill_share(bundle: Bundle, profile_keys: Iterable[str]) -> PrefillShare:
    """The share of always-shown fields that a profile holding every key in `profile_keys` fills in."""
    known = set(profile_keys)
    shown = always_shown(bundle)
    return PrefillShare(
        prefilled=tuple(f.key for f in shown if f.profile is not None and f.profile in known),
        fields=tuple(f.key for f in shown),
    )


def levels(bundle: Bundle) -> list[list[str]]:
    """Items by stage: an item sits one stage after the latest of its 前置 items (catalog order kept).

    Items in one stage run in parallel; the number of stages is the number of review rounds the
    applicant waits through one after the other.
    """
    depth: dict[str, int] = {}

    def stage(code: str) -> int:
        if code not in depth:
            requires = bundle.item(code).requires
            depth[code] = 1 + max((stage(r) for r in requires), default=-1)
        return depth[code]

    for item in bundle.items:
        stage(item.code)
    result: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for item in bundle.items:
        result[depth[item.code]].append(item.code)
    return result


def bundle_steps(bundle: Bundle) -> int:
    """环节 the applicant goes through: one application, one round of review per stage of the item
    graph (the items of a stage are reviewed in parallel), one delivery of all results (统一出件)."""
    return 1 + len(levels(bundle)) + 1


def bundle_trips(bundle: Bundle) -> int:
    """Visits in person: none, since the bundle is handled online end to end and physical results are
    mailed (结果免费寄). Kept as a function so a bundle with an in-person step can count it here."""
    return 0


def reductions(bundle: Bundle) -> list[Reduction]:
    """Materials, steps, trips, form fields and time limit against the separate-items baseline."""
    base = bundle.baseline
    uploads = sum(1 for m in bundle.materials if not m.held_by_government)
    figures = [
        Reduction("materials", Decimal(base.materials), Decimal(uploads)),
        Reduction("steps", Decimal(base.steps), Decimal(bundle_steps(bundle))),
        Reduction("trips", Decimal(base.trips), Decimal(bundle_trips(bundle))),
        Reduction("fields", Decimal(base.fields), Decimal(len(bundle.fields))),
    ]
    promised: TimeLimit = bundle.guide.promised_limit
    if promised.unit == base.time.unit:
        figures.append(Reduction("time", base.time.amount, promised.amount, promised.unit.value))
    return figures
