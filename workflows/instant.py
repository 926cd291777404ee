"""信用+秒批: instant approval of a low-risk item by rules, with a human only when a rule does not pass.

Pure: the answers and the credit facts are passed in; the result names every rule with its outcome, so
the decision can be recorded (and shown to the reviewer when the step goes to the queue).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workflows.catalog.schema import InstantApproval, InstantRule, Text


@dataclass(frozen=True)
class CreditFacts:
    """What the credit list says of one subject (an ID number or a credit code)."""

    status: str = "none"  # none (not on the list), good, watch (重点关注), dishonest (严重失信)
    open_penalties: int = 0


@dataclass(frozen=True)
class RuleResult:
    key: str
    passed: bool
    name_zh: str
    name_en: str
    detail_zh: str
    detail_en: str

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "passed": self.passed, "name_zh": self.name_zh, "name_en": self.name_en,
                "detail_zh": self.detail_zh, "detail_en": self.detail_en}


def subjects(instant: InstantApproval, answers: Mapping[str, Any]) -> set[str]:
    """The ID numbers and credit codes whose credit facts the rules need."""
    return {str(answers[r.subject]).upper() for r in instant.rules
            if r.subject is not None and answers.get(r.subject)}


def evaluate(
    instant: InstantApproval,
    answers: Mapping[str, Any],
    credit: Mapping[str, CreditFacts],
    labels: Mapping[str, Text] | None = None,
) -> list[RuleResult]:
    """Every rule's result; `labels` (field key -> its label) words the details for people."""
    return [_evaluate(rule, answers, credit, labels or {}) for rule in instant.rules]


def passed(results: list[RuleResult]) -> bool:
    return all(r.passed for r in results)


_STATUS_ZH = {"none": "无记录", "good": "守信", "watch": "重点关注", "dishonest": "严重失信"}


def _evaluate(
    rule: InstantRule, answers: Mapping[str, Any], credit: Mapping[str, CreditFacts], labels: Mapping[str, Text]
) -> RuleResult:
    def result(ok: bool, zh: str, en: str) -> RuleResult:
        return RuleResult(rule.key, ok, rule.name.zh, rule.name.en, zh, en)

    def zh(key: str) -> str:
        return labels[key].zh if key in labels else key

    def en(key: str) -> str:
        return labels[key].en if key in labels else key

    if rule.kind == "complete":
        missing = [f for f in rule.fields if answers.get(f) in (None, "", [])]
        if missing:
            return result(False, "未填写：" + "、".join(map(zh, missing)), "not answered: " + ", ".join(map(en, missing)))
        return result(True, "信息齐全", "complete")
    if rule.kind == "answer":
        assert rule.condition is not None
        ok = rule.condition.holds(answers)
        keys = sorted(rule.condition.fields())
        shown_zh = "，".join(f"{zh(k)}：{answers.get(k)}" for k in keys)
        shown_en = ", ".join(f"{en(k)}: {answers.get(k)}" for k in keys)
        return result(ok, ("符合（" if ok else "不符合（") + shown_zh + "）", ("met (" if ok else "not met (") + shown_en + ")")
    assert rule.subject is not None
    code = str(answers.get(rule.subject) or "").upper()
    if not code:
        return result(False, "缺少核验对象", "no subject to check")
    facts = credit.get(code, CreditFacts())
    if rule.kind == "credit":
        ok = facts.status not in rule.refuse
        return result(ok, f"信用状态：{_STATUS_ZH.get(facts.status, facts.status)}", f"credit status: {facts.status}")
    ok = facts.open_penalties == 0
    return result(ok, f"未结行政处罚：{facts.open_penalties}件", f"open penalties: {facts.open_penalties}")
