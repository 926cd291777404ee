"""Pure pieces of the portal: reductions against the baseline, the prefill share, the item stages, and the
expected completion forecast over the item graph and the calendar."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.unit.test_clock import build_calendar
from workflows.catalog.schema import load_catalog
from workflows.expected import KnownStep, forecast
from workflows.measures import TARGETS, bundle_steps, levels, prefill_share, reductions
from workflows.states import StepState

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def calendar():
    return build_calendar()


def test_stages_follow_the_prerequisites(catalog):
    assert levels(catalog.bundle("restaurant_opening")) == [
        ["business_licence"], ["food_licence", "fire_check", "outdoor_sign", "drainage_permit"]]
    assert [len(s) for s in levels(catalog.bundle("simple_deregistration"))] == [4, 1, 1]
    assert bundle_steps(catalog.bundle("restaurant_opening")) == 4  # apply, two review rounds, delivery


def test_reductions_of_the_restaurant_bundle(catalog):
    figures = {r.name: r for r in reductions(catalog.bundle("restaurant_opening"))}
    assert (figures["materials"].baseline, figures["materials"].bundle) == (21, 6)
    assert figures["materials"].percent == 71 and figures["materials"].meets_target
    assert figures["steps"].percent == 80 and figures["steps"].target == TARGETS["steps"]
    assert figures["trips"].bundle == 0 and figures["trips"].percent == 100
    assert (figures["time"].baseline, figures["time"].bundle, figures["time"].percent) == (68, 6, 91)
    assert figures["fields"].target is None and figures["fields"].meets_target is None


def test_the_prefill_share_counts_the_fields_every_applicant_sees(catalog):
    bundle = catalog.bundle("restaurant_opening")
    share = prefill_share(bundle, ["enterprise.name", "enterprise.credit_code"])
    assert share.prefilled == ("enterprise_name", "credit_code")
    assert "sign_text" not in share.fields and len(share.fields) == 14
    assert share.percent == 14
    assert prefill_share(bundle, []).percent == 0


def test_a_form_about_to_be_submitted_ends_with_its_longest_chain(catalog, calendar):
    bundle = catalog.bundle("restaurant_opening")
    start = datetime(2026, 9, 29, 10, tzinfo=SH)
    result = forecast(bundle, {"floor_area": 350, "wants_outdoor_sign": False}, start, calendar)
    assert [i.item for i in result.items] == ["business_licence", "food_licence", "fire_check", "drainage_permit"]
    assert result.item("business_licence").ends == datetime(2026, 9, 30, 17, tzinfo=SH)
    # 5 working days after 30 September: the National Day holiday skipped, the make-up Saturday counted.
    assert result.ends == datetime(2026, 10, 13, 17, tzinfo=SH)
    assert result.critical_path == ("business_licence", "food_licence")
    assert not result.paused and not result.provisional


def test_known_steps_decided_running_and_paused(catalog, calendar):
    bundle = catalog.bundle("restaurant_opening")
    now = datetime(2026, 11, 2, 9, tzinfo=SH)
    steps = {
        "business_licence": KnownStep(StepState.APPROVED, datetime(2026, 10, 30, 9, tzinfo=SH),
                                      decided_at=datetime(2026, 10, 30, 15, tzinfo=SH)),
        "food_licence": KnownStep(StepState.SUPPLEMENT, datetime(2026, 10, 30, 16, tzinfo=SH), remaining=Decimal(3)),
        "drainage_permit": KnownStep(StepState.ACCEPTED, datetime(2026, 10, 30, 16, tzinfo=SH),
                                     due_at=datetime(2026, 11, 6, 17, tzinfo=SH)),
    }
    result = forecast(bundle, {"floor_area": 100}, now, calendar, steps)
    assert [i.basis for i in result.items] == ["decided", "paused", "due"]
    # Paused with 3 working days left: if it resumes now (Monday 9:00), today counts.
    assert result.item("food_licence").ends == datetime(2026, 11, 4, 17, tzinfo=SH)
    assert result.ends == datetime(2026, 11, 6, 17, tzinfo=SH) and result.paused


def test_a_notice_and_a_filing_by_the_applicant_are_forecast_in_their_units(catalog, calendar):
    bundle = catalog.bundle("simple_deregistration")
    result = forecast(bundle, {"want_precheck": False}, datetime(2026, 3, 2, 10, tzinfo=SH), calendar)
    notice = result.item("public_notice")
    assert (notice.ends - notice.starts).days == 20  # 20 natural days
    assert result.item("deregistration_registration").waits_for_applicant and result.paused
