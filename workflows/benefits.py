"""免申即享: a benefit that finds its applicants — eligibility and amount from the government's data.

Pure: the rules come from the catalog (workflows.catalog.schema.Benefit), the enterprise's facts are
passed in. Every rule's result names its inputs, and the amount comes with its formula written out in
Chinese and English, so an offer shows exactly how it was computed (DOMAIN.md §5.6).

Comparisons are exact: a rate such as layoffs / insured staff is a Fraction compared with the catalog's
Decimal limit, so 55 layoffs of 1,000 staff is exactly 5.5% (eligible at a limit of 5.5%) and 56 is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from workflows.catalog.schema import Benefit, BenefitRule
from workflows.instant import RuleResult  # one rule result, for instant approval and for benefits

_FACT_NAMES = {
    "insured_staff": ("参保职工人数", "insured staff"),
    "layoffs": ("裁员人数", "layoffs"),
    "premiums_paid": ("实际缴纳失业保险费", "unemployment-insurance premiums paid"),
    "arrears": ("欠缴社会保险费", "premium arrears"),
    "dishonest": ("严重失信主体名单", "serious dishonesty list"),
}
_OPS = {"gte": "≥", "gt": ">", "lte": "≤", "lt": "<", "eq": "="}
_MONEY_FACTS = {"premiums_paid", "arrears"}


@dataclass(frozen=True)
class EnterpriseFacts:
    """What the government holds on one enterprise for one data year (imported; see onestop.benefits)."""

    credit_code: str
    name: str
    year: int
    insured_staff: int
    layoffs: int
    premiums_paid: Decimal  # yuan
    arrears: Decimal  # yuan owed; 0 when none
    dishonest: bool  # on the serious dishonesty list (严重失信主体名单)

    def value(self, fact: str) -> int | Decimal | bool:
        value: int | Decimal | bool = getattr(self, fact)
        return value


@dataclass(frozen=True)
class Assessment:
    """The outcome for one enterprise: every rule's result, and the amount when all pass."""

    small: bool  # small or micro enterprise (insured staff at most the catalog's threshold)
    results: tuple[RuleResult, ...]
    amount: Decimal | None  # None when not eligible
    rate: Decimal | None
    formula_zh: str
    formula_en: str

    @property
    def eligible(self) -> bool:
        return all(r.passed for r in self.results)

    def failed(self) -> list[RuleResult]:
        return [r for r in self.results if not r.passed]


def is_small(benefit: Benefit, facts: EnterpriseFacts) -> bool:
    return facts.insured_staff <= benefit.small_enterprise_max_staff


def money(amount: Decimal) -> str:
    """¥1,234.50: two decimals, thousands separated (the same in both languages)."""
    return f"¥{amount:,.2f}"


def percent(rate: Decimal | Fraction) -> str:
    """A rate as a percentage, without trailing zeros (0.055 -> 5.5%, 1 -> 100%)."""
    value = Decimal(rate.numerator) / Decimal(rate.denominator) if isinstance(rate, Fraction) else rate
    text = f"{(value * 100).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"


def _shown(fact: str, value: int | Decimal | bool) -> str:
    if fact in _MONEY_FACTS:
        assert isinstance(value, Decimal)
        return money(value)
    return str(value)


def _compare(op: str, left: Fraction, right: Fraction) -> bool:
    return {"gte": left >= right, "gt": left > right, "lte": left <= right, "lt": left < right,
            "eq": left == right}[op]


def evaluate_rule(benefit: Benefit, rule: BenefitRule, facts: EnterpriseFacts) -> RuleResult:
    def result(ok: bool, zh: str, en: str) -> RuleResult:
        return RuleResult(rule.key, ok, rule.name.zh, rule.name.en, zh, en)

    zh_name, en_name = _FACT_NAMES[rule.fact]
    if rule.op == "false":
        on = bool(facts.value(rule.fact))
        return result(not on, f"{zh_name}：{'是' if on else '否'}", f"{en_name}: {'yes' if on else 'no'}")
    small = is_small(benefit, facts)
    limit = rule.small_value if small and rule.small_value is not None else rule.value
    assert limit is not None
    which_zh = f"（参保职工{benefit.small_enterprise_max_staff}人及以下企业）" if small and rule.small_value is not None else ""
    which_en = (f" (enterprises with {benefit.small_enterprise_max_staff} insured staff or fewer)"
                if small and rule.small_value is not None else "")
    value = facts.value(rule.fact)
    assert not isinstance(value, bool)
    if rule.per is None:
        ok = _compare(rule.op, Fraction(value), Fraction(limit))
        return result(ok, f"{zh_name} {_shown(rule.fact, value)}，标准 {_OPS[rule.op]} {_shown(rule.fact, limit)}{which_zh}",
                      f"{en_name} {_shown(rule.fact, value)}; required {_OPS[rule.op]} {_shown(rule.fact, limit)}{which_en}")
    per_zh, per_en = _FACT_NAMES[rule.per]
    denominator = facts.value(rule.per)
    assert not isinstance(denominator, bool)
    if denominator <= 0:
        return result(False, f"{per_zh}为0，无法计算", f"{per_en} is 0: the rate cannot be computed")
    rate = Fraction(value) / Fraction(denominator)
    ok = _compare(rule.op, rate, Fraction(limit))
    return result(
        ok,
        f"{zh_name}/{per_zh} = {value}/{denominator} = {percent(rate)}，标准 {_OPS[rule.op]} {percent(limit)}{which_zh}",
        f"{en_name}/{per_en} = {value}/{denominator} = {percent(rate)}; required {_OPS[rule.op]} {percent(limit)}{which_en}",
    )


def assess(benefit: Benefit, facts: EnterpriseFacts) -> Assessment:
    """Every eligibility rule's result and, when all pass, the amount with its formula."""
    results = tuple(evaluate_rule(benefit, rule, facts) for rule in benefit.eligibility)
    small = is_small(benefit, facts)
    if not all(r.passed for r in results):
        return Assessment(small, results, None, None, "", "")
    amount, rate, zh, en = compute_amount(benefit, facts)
    return Assessment(small, results, amount, rate, zh, en)


def compute_amount(benefit: Benefit, facts: EnterpriseFacts) -> tuple[Decimal, Decimal, str, str]:
    """(amount, rate, formula in Chinese, formula in English)."""
    rule = benefit.amount
    small = is_small(benefit, facts)
    rate = rule.small_rate if small and rule.small_rate is not None else rule.rate
    base = facts.value(rule.base)
    assert isinstance(base, Decimal | int) and not isinstance(base, bool)
    exact = Decimal(base) * rate
    amount = exact.quantize(rule.round_to, rounding=ROUND_HALF_UP)
    capped = rule.cap is not None and amount > rule.cap
    if capped:
        assert rule.cap is not None
        amount = rule.cap
    which_zh = (f"（参保职工{benefit.small_enterprise_max_staff}人及以下企业返还比例）"
                if small and rule.small_rate is not None else "")
    which_en = (f" (the rate for enterprises with {benefit.small_enterprise_max_staff} insured staff or fewer)"
                if small and rule.small_rate is not None else "")
    zh = f"{rule.base_label.zh} {money(Decimal(base))} × {percent(rate)}{which_zh} = {money(amount)}"
    en = f"{rule.base_label.en} {money(Decimal(base))} × {percent(rate)}{which_en} = {money(amount)}"
    if exact != amount and not capped:
        zh += f"（{exact.normalize():f}元按四舍五入保留到{_unit_zh(rule.round_to)}）"
        en += f" ({exact.normalize():f} yuan rounded half up to {_unit_en(rule.round_to)})"
    if capped:
        assert rule.cap is not None
        zh += f"（不超过上限{money(rule.cap)}）"
        en += f" (capped at {money(rule.cap)})"
    return amount, rate, zh, en


def _unit_zh(step: Decimal) -> str:
    return {Decimal("0.01"): "分", Decimal("0.1"): "角", Decimal("1"): "元"}.get(step, f"{step}元")


def _unit_en(step: Decimal) -> str:
    return {Decimal("0.01"): "the fen", Decimal("0.1"): "the jiao", Decimal("1"): "the yuan"}.get(step, f"{step} yuan")
