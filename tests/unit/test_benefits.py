"""稳岗返还 rules (免申即享) against hand-computed cases at each boundary (DOMAIN.md §5.6).

Limits from the catalog: layoff rate ≤ 5.5%, ≤ 20% with ≤ 30 insured staff; no arrears; not on the serious
dishonesty list. Amount: 50% of last year's premiums, 100% with ≤ 30 insured staff; half up to the fen.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from workflows.benefits import EnterpriseFacts, assess, money, percent
from workflows.catalog.schema import BUNDLES_DIR, DEPARTMENTS_FILE, CatalogError, load_catalog


@pytest.fixture(scope="module")
def bundle():
    return load_catalog().bundle("job_retention_refund")


@pytest.fixture(scope="module")
def benefit(bundle):
    assert bundle.benefit is not None
    return bundle.benefit


def facts(staff: int = 1000, layoffs: int = 0, premiums: str = "100000.00", arrears: str = "0",
          dishonest: bool = False) -> EnterpriseFacts:
    return EnterpriseFacts("91410100MA0000000X", "测试企业", 2025, staff, layoffs, Decimal(premiums),
                           Decimal(arrears), dishonest)


def failed(benefit, f: EnterpriseFacts) -> list[str]:
    return [r.key for r in assess(benefit, f).failed()]


@pytest.mark.parametrize(("staff", "layoffs", "eligible"), [
    (1000, 54, True),   # 5.4%: under
    (1000, 55, True),   # 5.5%: at the limit (≤)
    (1000, 56, False),  # 5.6%: over
    (2000, 110, True),  # 5.5% exactly again
    (2000, 111, False),  # 5.55%: just over
    (200, 11, True),    # 5.5%
    (200, 12, False),   # 6%
])
def test_layoff_rate_under_at_and_over_the_national_limit(benefit, staff, layoffs, eligible):
    assert ("layoff_rate" not in failed(benefit, facts(staff, layoffs))) is eligible


@pytest.mark.parametrize(("staff", "layoffs", "eligible"), [
    (30, 5, True),    # 16.7%
    (30, 6, True),    # 20%: at the small-enterprise limit
    (30, 7, False),   # 23.3%
    (31, 6, False),   # 19.4%: 31 staff is no longer small, 5.5% applies
    (31, 1, True),    # 3.2%
    (31, 2, False),   # 6.5%
    (10, 2, True),    # 20%
    (10, 3, False),   # 30%
    (1, 0, True),
])
def test_thirty_insured_staff_or_fewer_may_lay_off_up_to_twenty_percent(benefit, staff, layoffs, eligible):
    assert ("layoff_rate" not in failed(benefit, facts(staff, layoffs))) is eligible


def test_the_rate_shows_its_inputs_and_the_limit_that_applied(benefit):
    small = assess(benefit, facts(30, 6)).results
    rule = next(r for r in small if r.key == "layoff_rate")
    assert rule.detail_zh == "裁员人数/参保职工人数 = 6/30 = 20%，标准 ≤ 20%（参保职工30人及以下企业）"
    large = next(r for r in assess(benefit, facts(31, 6)).results if r.key == "layoff_rate")
    assert large.detail_en == "layoffs/insured staff = 6/31 = 19.35%; required ≤ 5.5%"
    assert not large.passed


@pytest.mark.parametrize(("arrears", "eligible"), [("0", True), ("0.00", True), ("0.01", False), ("5000", False)])
def test_any_premium_arrears_refuse(benefit, arrears, eligible):
    assert (failed(benefit, facts(arrears=arrears)) == []) is eligible


def test_the_dishonesty_list_refuses(benefit):
    assert failed(benefit, facts(dishonest=True)) == ["not_dishonest"]
    assert failed(benefit, facts(dishonest=False)) == []


def test_not_insured_or_no_premiums_refuse_and_a_rate_over_no_staff_is_not_computed(benefit):
    result = assess(benefit, facts(staff=0, premiums="0"))
    assert [r.key for r in result.failed()] == ["insured", "premiums_paid", "layoff_rate"]
    assert result.amount is None and result.formula_zh == ""
    assert next(r for r in result.results if r.key == "layoff_rate").detail_en.endswith("cannot be computed")


def test_every_failed_rule_is_named(benefit):
    assert failed(benefit, facts(31, 2, arrears="1", dishonest=True)) == ["layoff_rate", "no_arrears", "not_dishonest"]


@pytest.mark.parametrize(("staff", "premiums", "amount", "rate"), [
    (1000, "100000.00", "50000.00", "0.5"),
    (1000, "12345.67", "6172.84", "0.5"),   # 6172.835 rounds half up to the fen
    (1000, "12345.65", "6172.83", "0.5"),   # 6172.825 -> 6172.83
    (1000, "0.01", "0.01", "0.5"),          # 0.005 -> 0.01
    (1000, "12345.63", "6172.82", "0.5"),   # 6172.815 -> 6172.82
    (31, "12345.67", "6172.84", "0.5"),     # 31 staff: the general rate
    (30, "12345.67", "12345.67", "1.0"),    # 30 staff: 100%
])
def test_amount_rate_and_rounding(benefit, staff, premiums, amount, rate):
    result = assess(benefit, facts(staff, 0, premiums))
    assert result.eligible
    assert result.amount == Decimal(amount) and result.amount.as_tuple().exponent == -2
    assert result.rate == Decimal(rate)


def test_the_formula_is_written_out_in_both_languages(benefit):
    result = assess(benefit, facts(1000, 10, "12345.67"))
    assert result.formula_zh == ("上年度实际缴纳失业保险费 ¥12,345.67 × 50% = ¥6,172.84"
                                 "（6172.835元按四舍五入保留到分）")
    assert result.formula_en == ("Unemployment-insurance premiums actually paid last year ¥12,345.67 × 50% = ¥6,172.84"
                                 " (6172.835 yuan rounded half up to the fen)")
    exact = assess(benefit, facts(20, 1, "8000"))
    assert exact.formula_zh == "上年度实际缴纳失业保险费 ¥8,000.00 × 100%（参保职工30人及以下企业返还比例） = ¥8,000.00"


def test_a_cap_in_the_catalog_limits_the_amount(benefit):
    capped = benefit.model_copy(update={"amount": benefit.amount.model_copy(update={"cap": Decimal("30000")})})
    result = assess(capped, facts(premiums="100000"))
    assert result.amount == Decimal("30000") and "capped at ¥30,000.00" in result.formula_en


def test_money_and_percent():
    assert money(Decimal("1234567.5")) == "¥1,234,567.50"
    assert percent(Decimal("0.055")) == "5.5%" and percent(Decimal("1")) == "100%" and percent(Decimal("0.2")) == "20%"


def test_the_bundle_runs_review_then_a_five_working_day_notice_open_to_anyone_then_payment(bundle):
    review, notice, payment = (bundle.item(c) for c in ("retention_review", "retention_notice", "retention_payment"))
    assert (review.department, review.limit.amount, review.limit.unit) == ("hrss", 3, "working_days")
    assert notice.kind == "notice" and notice.objections == "anyone" and notice.requires == ["retention_review"]
    assert (notice.limit.amount, notice.limit.unit, notice.start_day_counts) == (5, "working_days", False)
    assert (payment.department, payment.requires, payment.limit.amount) == ("finance", ["retention_notice"], 5)
    assert bundle.intake == "offer"


def _copy_with(tmp_path: Path, mutate) -> Path:
    folder = tmp_path / "bundles"
    folder.mkdir()
    for path in BUNDLES_DIR.glob("*.yaml"):
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    target = folder / "job_retention_refund.yaml"
    data = yaml.safe_load(target.read_text(encoding="utf-8"))
    mutate(data)
    target.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d.pop("benefit"), "benefit: an offered matter (intake: offer) needs benefit rules"),
    (lambda d: d["benefit"]["eligibility"][4].update(value=1), "op 'false' takes no value"),
    (lambda d: d["benefit"]["eligibility"][2].update(fact="payroll"), "eligibility.2.fact"),
    (lambda d: d["benefit"]["amount"].update(rate=1.5), "amount.rate"),
    (lambda d: d["sections"][0]["fields"].pop(), "missing refund_formula"),
    (lambda d: d["items"][0].update(objections="anyone"), "only a notice item takes objections from anyone"),
])
def test_broken_benefit_rules_are_refused(tmp_path, mutate, expected):
    with pytest.raises(CatalogError) as exc:
        load_catalog(_copy_with(tmp_path, mutate), DEPARTMENTS_FILE)
    assert any(expected in line for line in exc.value.problems), exc.value.problems



def test_all_or_nothing_bundles_are_rejected_when_any_stage_is_not_approved(bundle):
    from workflows.outcome import outcome
    from workflows.states import ApplicationState, StepState

    approved, rejected, terminated = StepState.APPROVED, StepState.REJECTED, StepState.TERMINATED
    assert bundle.all_or_nothing
    assert outcome([approved, rejected, terminated], all_or_nothing=True) is ApplicationState.REJECTED
    assert outcome([approved, rejected, terminated]) is ApplicationState.PARTIALLY_COMPLETED
    assert outcome([approved] * 3, all_or_nothing=True) is ApplicationState.COMPLETED
    assert outcome([approved, StepState.SUSPENDED, StepState.WAITING], all_or_nothing=True) is None


# -- the 公示 on the clock: pure waiting time in working days, paused by an objection ----------------------

def _calendar():
    from tests.unit.test_clock import build_calendar

    return build_calendar()


def test_the_notice_runs_five_working_days_over_national_day(bundle):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from workflows.clock import Limit, compute_due

    sh = ZoneInfo("Asia/Shanghai")
    notice = bundle.item("retention_notice")
    start = datetime(2026, 9, 29, 10, tzinfo=sh)
    due = compute_due(start, Limit(notice.limit.amount, notice.limit.unit), _calendar(),
                      start_day_counts=notice.start_day_counts)
    # 30 Sep (1), 1-7 Oct holiday, 8 Oct (2), 9 Oct (3), Sat 10 Oct make-up day (4), Mon 12 Oct (5).
    assert due.due == datetime(2026, 10, 12, 17, tzinfo=sh)


def test_an_objection_pause_moves_the_end_by_the_working_time_it_took(bundle):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from workflows.clock import Limit, Pause, compute_due, counted_time

    sh = ZoneInfo("Asia/Shanghai")
    notice = bundle.item("retention_notice")
    start = datetime(2026, 9, 29, 10, tzinfo=sh)
    pause = Pause(datetime(2026, 10, 8, 10, tzinfo=sh), datetime(2026, 10, 13, 10, tzinfo=sh), "suspension", "异议核查")
    limit = Limit(notice.limit.amount, notice.limit.unit)
    due = compute_due(start, limit, _calendar(), pauses=[pause])
    assert due.due == datetime(2026, 10, 16, 17, tzinfo=sh)  # 12 Oct 17:00 + 4 working days paused
    assert counted_time(start, due.due, limit.unit, _calendar(), pauses=[pause]) == 5
    # A pause over a weekend and a holiday only costs the working time inside it.
    weekend = Pause(datetime(2026, 10, 2, 10, tzinfo=sh), datetime(2026, 10, 7, 16, tzinfo=sh), "suspension", "x")
    assert compute_due(start, limit, _calendar(), pauses=[weekend]).due == datetime(2026, 10, 12, 17, tzinfo=sh)


def test_the_forecast_counts_review_notice_and_payment_in_order(bundle):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from workflows.expected import forecast

    sh = ZoneInfo("Asia/Shanghai")
    result = forecast(bundle, {}, datetime(2026, 9, 21, 10, tzinfo=sh), _calendar())
    review, notice, payment = (result.item(c) for c in ("retention_review", "retention_notice", "retention_payment"))
    assert review.ends == datetime(2026, 9, 24, 17, tzinfo=sh)  # 22, 23, 24 Sep
    # 25-27 Sep Mid-Autumn, 1-7 Oct National Day: 28, 29, 30 Sep, 8, 9 Oct.
    assert notice.starts == review.ends and notice.ends == datetime(2026, 10, 9, 17, tzinfo=sh)
    # Saturday 10 Oct is a make-up working day: 10, 12, 13, 14, 15 Oct.
    assert payment.starts == notice.ends and payment.ends == datetime(2026, 10, 15, 17, tzinfo=sh)
