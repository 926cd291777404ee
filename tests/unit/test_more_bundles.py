"""The closure, utility-connection and credit-repair bundles: catalog data and routing, no database."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from workflows.catalog.schema import Mode, load_catalog
from workflows.clock import Unit
from workflows.routing import applicable_items, route
from workflows.states import StepState as S

PRECHECKS = ["precheck_samr", "precheck_tax", "precheck_hrss", "precheck_hpf"]
UTILITIES = {"want_power": "power_connection", "want_water": "water_connection",
             "want_gas": "gas_connection", "want_network": "network_connection"}
SEVERE = ["food", "drug", "special_equipment", "work_safety", "fire"]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def closure(catalog):
    return catalog.bundle("simple_deregistration")


@pytest.fixture(scope="module")
def utilities(catalog):
    return catalog.bundle("utility_connection")


@pytest.fixture(scope="module")
def repair(catalog):
    return catalog.bundle("credit_repair")


@pytest.mark.parametrize(("code", "lead"), [
    ("simple_deregistration", "samr"), ("utility_connection", "power"), ("credit_repair", "credit")])
def test_bundle_loads(catalog, code, lead):
    bundle = catalog.bundle(code)
    assert bundle.version >= 1
    assert bundle.audience == "enterprise"
    assert bundle.lead_department == lead
    for item in bundle.items:
        assert catalog.department(item.department)
        assert item.output is None or item.output in {o.key for o in bundle.outputs}


# -- 企业简易注销 ----------------------------------------------------------------------------------------

def test_closure_with_precheck_starts_the_four_checks_and_the_notice_waits(closure):
    decision = route(closure, {"want_precheck": True}, {})
    assert decision.start == PRECHECKS
    assert decision.wait == ["public_notice", "deregistration_registration"]
    assert decision.not_applicable == []


def test_closure_without_precheck_starts_the_notice_at_once(closure):
    for answers in ({"want_precheck": False}, {}):
        decision = route(closure, answers, {})
        assert decision.start == ["public_notice"]
        assert decision.wait == ["deregistration_registration"]
        assert decision.not_applicable == PRECHECKS


def test_closure_notice_starts_when_all_four_checks_passed(closure):
    answers = {"want_precheck": True}
    steps = dict.fromkeys(PRECHECKS[:3], S.APPROVED) | {
        "precheck_hpf": S.ACCEPTED, "public_notice": S.WAITING, "deregistration_registration": S.WAITING}
    assert route(closure, answers, steps).start == []
    steps["precheck_hpf"] = S.APPROVED
    assert route(closure, answers, steps).start == ["public_notice"]


def test_closure_a_failed_check_or_an_objection_stops_the_closure(closure):
    answers = {"want_precheck": True}
    steps = dict.fromkeys(PRECHECKS, S.APPROVED) | {
        "precheck_tax": S.REJECTED, "public_notice": S.WAITING, "deregistration_registration": S.WAITING}
    assert [(t.item, t.blocked_by) for t in route(closure, answers, steps).terminate] == [
        ("public_notice", "precheck_tax")]
    objection = {"public_notice": S.REJECTED, "deregistration_registration": S.WAITING}
    assert [(t.item, t.blocked_by) for t in route(closure, {}, objection).terminate] == [
        ("deregistration_registration", "public_notice")]
    passed = {"public_notice": S.APPROVED, "deregistration_registration": S.WAITING}
    assert route(closure, {}, passed).start == ["deregistration_registration"]


def test_closure_prechecks_are_30_minutes_with_8_checks_valid_10_working_days(closure):
    checks = {}
    for code in PRECHECKS:
        item = closure.item(code)
        assert (item.limit.amount, item.limit.unit) == (Decimal(30), Unit.MINUTES)
        assert item.statutory_limit.unit is Unit.MINUTES
        assert (item.result_validity.amount, item.result_validity.unit) == (Decimal(10), Unit.WORKING_DAYS)
        assert item.condition is not None and item.condition.fields() == {"want_precheck"}
        checks[item.department] = len(item.checks)
    assert checks == {"samr": 4, "tax": 2, "hrss": 1, "hpf": 1}
    assert closure.field("want_precheck").type.value == "boolean"


def test_closure_notice_is_20_natural_days_and_passes_when_it_ends(closure):
    notice = closure.item("public_notice")
    assert notice.kind == "notice"
    assert notice.department == "samr"
    assert notice.requires == PRECHECKS
    assert (notice.limit.amount, notice.limit.unit) == (Decimal(20), Unit.NATURAL_DAYS)
    rules = [r for r in notice.deemed if r.when == "notice_ended"]
    assert len(rules) == 1 and rules[0].action == "approve" and rules[0].legal_basis


def test_closure_registration_waits_30_days_for_the_applicant_then_samr_decides(closure):
    item = closure.item("deregistration_registration")
    assert item.requires == ["public_notice"]
    assert item.await_applicant is not None
    assert (item.await_applicant.limit.amount, item.await_applicant.limit.unit) == (Decimal(30), Unit.NATURAL_DAYS)
    assert "30日" in item.await_applicant.message.zh
    assert (item.limit.amount, item.limit.unit) == (Decimal(1), Unit.WORKING_DAYS)
    assert (item.statutory_limit.amount, item.statutory_limit.unit) == (Decimal(3), Unit.WORKING_DAYS)
    assert item.output == "deregistration_notice"
    assert {o.key: o.name.zh for o in closure.outputs} == {"deregistration_notice": "准予简易注销登记通知书"}


def test_closure_commitment_of_all_investors_is_a_key_material(closure):
    materials = {m.key: m for m in closure.materials}
    commitment = materials["investors_commitment"]
    assert commitment.key_material and not commitment.held_by_government and commitment.required
    assert "public_notice" in commitment.items
    asked = [m.key for m in closure.materials if not m.held_by_government]
    assert asked == ["investors_commitment"]


# -- 水电气网联合报装 ------------------------------------------------------------------------------------

@pytest.mark.parametrize("wanted", [["want_power"], ["want_water", "want_gas"], list(UTILITIES)])
def test_utility_conditions_switch_items_and_all_start_in_parallel(utilities, wanted):
    answers = {key: key in wanted for key in UTILITIES}
    expected = [UTILITIES[k] for k in UTILITIES if k in wanted]
    assert applicable_items(utilities, answers) == expected
    decision = route(utilities, answers, {})
    assert decision.start == expected
    assert decision.wait == []
    assert sorted(decision.not_applicable) == sorted(set(UTILITIES.values()) - set(expected))
    assert utilities.refusals(answers, date(2026, 5, 20)) == []


def test_utility_nothing_chosen_is_refused(utilities):
    for answers in ({}, dict.fromkeys(UTILITIES, False)):
        refusals = utilities.refusals(answers, date(2026, 5, 20))
        assert len(refusals) == 1 and "至少选择一项" in refusals[0].zh


def test_utility_limits_and_departments(utilities):
    expected = {"power_connection": ("power", Decimal(5)), "water_connection": ("watersupply", Decimal("2.5")),
                "gas_connection": ("gas", Decimal("2.5")), "network_connection": ("telecom", Decimal(3))}
    for code, (department, amount) in expected.items():
        item = utilities.item(code)
        assert item.department == department
        assert (item.limit.amount, item.limit.unit) == (amount, Unit.WORKING_DAYS)
        assert item.clock_starts == "acceptance"
        assert item.output is not None
    assert utilities.guide.promised_limit.amount == max(a for _, a in expected.values())


def test_utility_power_is_closed_with_two_documents_and_identity_alone_accepts(utilities):
    power = utilities.item("power_connection")
    assert power.modes == [Mode.ORDINARY, Mode.RONGQUE]
    materials = {m.key: m for m in utilities.materials}
    for key in ("business_licence", "legal_rep_id_card"):
        assert materials[key].held_by_government and materials[key].key_material
        assert "power_connection" in materials[key].items
    proof = materials["property_proof"]
    assert not proof.key_material and not proof.held_by_government
    assert "power_connection" in proof.items
    # Only non-key materials may be missing under 容缺: what power may accept without is the property proof.
    missing_allowed = {m.key for m in utilities.materials if "power_connection" in m.items and not m.key_material}
    assert missing_allowed == {"property_proof"}


# -- 信用修复 --------------------------------------------------------------------------------------------

def _penalty(category: str, decided: date, authority: str = "samr", fulfilled: date | None = None) -> dict:
    return {"penalty_category": category, "penalty_date": decided.isoformat(), "penalty_authority": authority,
            "fulfilment_date": (fulfilled or decided).isoformat()}


TODAY = date(2026, 5, 20)


def test_repair_general_penalty_after_exactly_3_months_is_allowed_one_day_less_refused(repair):
    assert repair.refusals(_penalty("general", date(2026, 2, 20)), TODAY) == []
    refusals = repair.refusals(_penalty("general", date(2026, 2, 21)), TODAY)
    assert len(refusals) == 1
    assert "3个月" in refusals[0].zh and "3 months" in refusals[0].en


@pytest.mark.parametrize("category", SEVERE)
def test_repair_food_drugs_equipment_safety_fire_need_12_months(repair, category):
    assert repair.refusals(_penalty(category, date(2025, 5, 20)), TODAY) == []
    one_day_less = repair.refusals(_penalty(category, date(2025, 5, 21)), TODAY)
    eleven_months = repair.refusals(_penalty(category, date(2025, 6, 20)), TODAY)
    for refusals in (one_day_less, eleven_months):
        assert len(refusals) == 1
        assert "1年" in refusals[0].zh and "1 year" in refusals[0].en
    # 3 months are not enough in these fields.
    assert len(repair.refusals(_penalty(category, date(2026, 2, 20)), TODAY)) == 1


def test_repair_month_end_boundary(repair):
    # 3 months before 31 May is 28 February (the month has no 31st).
    end_of_may = date(2026, 5, 31)
    assert repair.refusals(_penalty("general", date(2026, 2, 28)), end_of_may) == []
    assert len(repair.refusals(_penalty("general", date(2026, 3, 1)), end_of_may)) == 1


def test_repair_penalty_not_yet_fulfilled_or_dates_missing_is_refused(repair):
    future = _penalty("general", date(2025, 1, 10), fulfilled=TODAY + timedelta(days=1))
    refusals = repair.refusals(future, TODAY)
    assert len(refusals) == 1 and "履行完毕日期" in refusals[0].zh
    assert repair.refusals(_penalty("general", date(2025, 1, 10), fulfilled=TODAY), TODAY) == []
    # Without a category the stricter 1-year rule applies; without dates nothing is allowed.
    assert len(repair.refusals({"penalty_date": "2026-01-20", "fulfilment_date": "2026-01-20"}, TODAY)) == 1
    assert len(repair.refusals({}, TODAY)) == 3


def test_repair_exactly_one_confirmation_by_the_chosen_department_runs_with_the_review(repair):
    choices = [c.value for c in repair.field("penalty_authority").choices]
    assert {"samr", "fire"} <= set(choices)
    confirmations = [i.code for i in repair.items if i.code.startswith("confirm_")]
    assert sorted(confirmations) == sorted(f"confirm_{c}" for c in choices)
    for choice in choices:
        answers = _penalty("general", date(2025, 1, 10), authority=choice)
        decision = route(repair, answers, {})
        assert decision.start == [f"confirm_{choice}", "credit_review"]
        assert decision.wait == []
        assert repair.item(f"confirm_{choice}").department == choice


def test_repair_review_decides_within_10_working_days_from_3_materials(repair):
    review = repair.item("credit_review")
    assert review.department == "credit" and review.requires == []
    assert (review.limit.amount, review.limit.unit) == (Decimal(10), Unit.WORKING_DAYS)
    assert review.output == "credit_repair_decision"
    assert {o.key: o.name.zh for o in repair.outputs} == {"credit_repair_decision": "信用修复决定书"}
    assert [m.name.zh for m in repair.materials] == ["信用修复申请书", "行政处罚履行完毕证明", "信用承诺书"]
    assert all(m.key_material and not m.held_by_government for m in repair.materials)
    assert repair.field("penalty_category").type.value == "select"
    assert repair.field("penalty_date").type.value == "date"
