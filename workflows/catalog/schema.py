"""The schema of a bundle (一件事) definition, and its loader.

A bundle is data: guide, fields of the one merged form, materials, the items it fans out to (department,
前置, condition on answers, time limits, modes), outputs and the separate-items baseline. Definitions live
as YAML under workflows/bundles/, one file per bundle, and are validated here: a broken file is refused
with its name, the path inside it and what is wrong.
"""

from __future__ import annotations

import hashlib
import json
from calendar import monthrange
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from workflows.clock import Unit

BUNDLES_DIR = Path(__file__).resolve().parent.parent / "bundles"
DEPARTMENTS_FILE = Path(__file__).resolve().parent.parent / "departments.yaml"

Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class CatalogError(Exception):
    """One or more definition files are invalid; `problems` lists "file: path: message" lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Strict):
    """A text in Simplified Chinese (official names) and English."""

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        return self.en if lang.startswith("en") else self.zh


class TimeLimit(_Strict):
    amount: Decimal = Field(gt=0)
    unit: Unit

    @model_validator(mode="after")
    def _granularity(self) -> TimeLimit:
        if self.unit is Unit.WORKING_DAYS and (self.amount * 2) % 1 != 0:
            raise ValueError("working days are counted in half days (0.5, 1, 1.5 ...)")
        if self.unit is Unit.NATURAL_DAYS and self.amount % 1 != 0:
            raise ValueError("natural days are counted in whole days")
        return self


class Condition(_Strict):
    """A test on one answer, or a combination. Exactly one form is used per node."""

    field: str | None = None
    # months_ago_gte: the answer is a date at least `value` months before the day of submission.
    op: Literal["eq", "ne", "gte", "gt", "lte", "lt", "in", "true", "false", "months_ago_gte"] | None = None
    value: Any = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        forms = [self.field is not None, self.all is not None, self.any is not None]
        if sum(forms) != 1:
            raise ValueError("a condition is either {field, op, value}, {all: [...]} or {any: [...]}")
        if self.field is not None:
            if self.op is None:
                raise ValueError("a condition on a field needs an op")
            if self.op not in {"true", "false"} and self.value is None:
                raise ValueError(f"op {self.op!r} needs a value")
        return self

    def fields(self) -> set[str]:
        if self.field is not None:
            return {self.field}
        return set().union(*(c.fields() for c in (self.all or self.any or [])))

    def holds(self, answers: Mapping[str, Any], today: date | None = None) -> bool:
        """Whether the answers satisfy the condition; date-relative tests need `today` (else False)."""
        if self.all is not None:
            return all(c.holds(answers, today) for c in self.all)
        if self.any is not None:
            return any(c.holds(answers, today) for c in self.any)
        assert self.field is not None
        answer = answers.get(self.field)
        if self.op == "true":
            return answer is True
        if self.op == "false":
            return answer is not True
        if answer is None or answer == "":
            return False
        if self.op == "months_ago_gte":
            if today is None:
                return False
            try:
                answered = date.fromisoformat(str(answer))
            except ValueError:
                return False
            return answered <= months_before(today, int(self.value))
        if self.op == "in":
            return bool(answer in self.value)
        if self.op == "eq":
            return bool(answer == self.value)
        if self.op == "ne":
            return bool(answer != self.value)
        try:
            left, right = Decimal(str(answer)), Decimal(str(self.value))
        except ArithmeticError:
            return False
        return {"gte": left >= right, "gt": left > right, "lte": left <= right, "lt": left < right}[str(self.op)]


def months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier (the 31st becomes the month's last day)."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


class FieldType(StrEnum):
    TEXT = "text"
    TEXTAREA = "textarea"
    NUMBER = "number"
    INTEGER = "integer"
    DATE = "date"
    SELECT = "select"
    BOOLEAN = "boolean"
    RESIDENT_ID = "resident_id"
    CREDIT_CODE = "credit_code"
    PHONE = "phone"
    EMAIL = "email"


class Choice(_Strict):
    value: str
    label: Text


class FormField(_Strict):
    key: Code
    type: FieldType
    label: Text
    help: Text | None = None
    required: bool = True
    min: Decimal | None = None
    max: Decimal | None = None
    max_length: int | None = Field(default=None, gt=0)
    choices: list[Choice] | None = None
    items: list[Code] = Field(min_length=1, description="the items whose departments need this field")
    profile: str | None = Field(default=None, pattern=r"^(person|enterprise|operator)\.[a-z_]+$")
    show_if: Condition | None = None
    personal: bool = False  # personal data: masked in lists, shown only to the items that need it

    @model_validator(mode="after")
    def _choices(self) -> FormField:
        if (self.type is FieldType.SELECT) != bool(self.choices):
            raise ValueError("choices are required for select fields and only for them")
        return self


class Section(_Strict):
    key: Code
    title: Text
    fields: list[FormField] = Field(min_length=1)


class Material(_Strict):
    key: Code
    name: Text
    items: list[Code] = Field(min_length=1)
    key_material: bool = True  # 关键材料: cannot be accepted missing (no 容缺)
    held_by_government: bool = False  # 免提交: the government already holds it and never asks again
    required: bool = True
    show_if: Condition | None = None
    formats: list[Literal["pdf", "jpeg", "png"]] = ["pdf", "jpeg", "png"]
    note: Text | None = None


class Mode(StrEnum):
    ORDINARY = "ordinary"
    COMMITMENT = "commitment"  # 告知承诺制
    RONGQUE = "rongque"  # 容缺受理


class DeemedRule(_Strict):
    """A "deemed" rule (视为): when the department has not acted within `after`, the system acts for it,
    recording the rule and its legal basis. E.g. an application not accepted within 5 working days is
    deemed accepted (《行政许可法》第三十二条); a 公示 period that ends without objection is passed."""

    when: Literal["not_accepted", "notice_ended"]
    after: TimeLimit | None = None  # for not_accepted: counted from receipt
    action: Literal["accept", "approve"]
    legal_basis: str = Field(min_length=1)


class AwaitApplicant(_Strict):
    """The step starts by waiting for the applicant (e.g. filing the closure within 30 days after 公示)."""

    limit: TimeLimit
    message: Text


class InstantRule(_Strict):
    """One test of 秒批 (instant approval by rules). Kinds:
    complete: every field in `fields` is answered;  answer: `condition` holds on the answers;
    credit: the subject (the answer in `subject`, an ID number or credit code) is not on the credit list
    with a status in `refuse`;  no_open_penalties: the subject has no open administrative penalty."""

    key: Code
    name: Text
    kind: Literal["complete", "answer", "credit", "no_open_penalties"]
    fields: list[Code] = []
    condition: Condition | None = None
    subject: Code | None = None
    refuse: list[Literal["dishonest", "watch"]] = ["dishonest"]

    @model_validator(mode="after")
    def _needs(self) -> InstantRule:
        if self.kind == "complete" and not self.fields:
            raise ValueError("a complete rule names its fields")
        if self.kind == "answer" and self.condition is None:
            raise ValueError("an answer rule needs a condition")
        if self.kind in ("credit", "no_open_penalties") and self.subject is None:
            raise ValueError(f"a {self.kind} rule names the answer that identifies its subject")
        return self


class InstantApproval(_Strict):
    """信用+秒批: when the step starts and every rule passes, the system approves it at once; when one
    fails, the step goes to the department's queue with the failed rules. `rule_set` numbers this
    item's rules: decisions record the bundle version and rule set they were taken under."""

    rule_set: int = Field(ge=1)
    rules: list[InstantRule] = Field(min_length=1)
    legal_basis: str = Field(min_length=1)


class Item(_Strict):
    code: Code
    name: Text
    department: Code
    requires: list[Code] = []  # 前置 items, approved before this one starts
    condition: Condition | None = None  # the item applies only when the answers call for it
    limit: TimeLimit  # 承诺时限
    statutory_limit: TimeLimit  # 法定时限
    start_day_counts: bool = False  # the day the clock starts counts (e.g. half-day same-day limits)
    # The legal clock normally starts at acceptance (受理); some promises run from receipt (即收即办).
    clock_starts: Literal["acceptance", "receipt"] = "acceptance"
    # review: a department decides; notice: a 公示 period that passes unless someone objects.
    kind: Literal["review", "notice"] = "review"
    # Who lodges an objection (异议) during a notice: "department": the department records it on its desk
    # as a refusal (the closure stops); "anyone": anyone (logged in or the public) lodges it on the public
    # notice page; the notice is suspended (中止, its end moves by the paused time) until the department
    # has checked the objection: dismissed, the notice runs on; upheld, the step is refused.
    objections: Literal["department", "anyone"] = "department"
    modes: list[Mode] = [Mode.ORDINARY]
    post_check_limit: TimeLimit | None = None  # 告知承诺: the site check after approval
    supplement_limit: TimeLimit = TimeLimit(amount=Decimal(10), unit=Unit.WORKING_DAYS)
    max_extension: TimeLimit | None = None  # 延期: the most the head may add in total (None: no extension)
    warn_remaining: TimeLimit | None = None  # 临近审限预警 when this much remains (default: clock's rule)
    deemed: list[DeemedRule] = []
    await_applicant: AwaitApplicant | None = None
    result_validity: TimeLimit | None = None  # the result lapses after this (e.g. a pre-check result)
    checks: list[Text] = []  # what the department verifies, shown in the merged result
    instant: InstantApproval | None = None  # 秒批 rules (None: always a reviewer)
    output: Code | None = None
    legal_basis: str = Field(min_length=1)
    fee: Text | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Item:
        if Mode.COMMITMENT in self.modes and self.post_check_limit is None:
            raise ValueError("an item that allows 告知承诺 needs post_check_limit")
        for name in ("max_extension", "warn_remaining"):
            value = getattr(self, name)
            if value is not None and value.unit != self.limit.unit:
                raise ValueError(f"{name} must be in the unit of the limit")
        if self.kind == "notice" and not any(r.when == "notice_ended" for r in self.deemed):
            raise ValueError("a notice item needs a deemed rule for when the notice ends")
        if self.objections == "anyone" and self.kind != "notice":
            raise ValueError("only a notice item takes objections from anyone")
        for rule in self.deemed:
            if rule.when == "not_accepted" and rule.after is None:
                raise ValueError("a not_accepted rule needs `after`")
        return self


class Output(_Strict):
    key: Code
    name: Text
    template: Code
    item: Code
    physical: bool = False  # a physical result that is mailed (结果免费寄)


class Baseline(_Strict):
    """Doing the same items separately, without the bundle (for the −60/−70/−80% targets)."""

    materials: int = Field(gt=0)
    steps: int = Field(gt=0)
    trips: int = Field(ge=0)
    fields: int = Field(gt=0)
    time: TimeLimit


class EligibilityRule(_Strict):
    """A rule the answers must meet for the matter to be accepted at all (checked at submission)."""

    condition: Condition
    message: Text


# The facts a 免申即享 benefit reads from the data the government holds on an enterprise (one data year).
BenefitFact = Literal["insured_staff", "layoffs", "premiums_paid", "arrears", "dishonest"]


class BenefitRule(_Strict):
    """One eligibility test of a 免申即享 benefit on an enterprise's data: `fact` (or the rate
    `fact` / `per`, e.g. layoffs per insured staff) compared by `op` with `value`; `small_value`, when
    given, replaces `value` for small and micro enterprises (insured staff at most the benefit's
    `small_enterprise_max_staff`). op "false": a yes/no fact must be no (e.g. on the dishonesty list)."""

    key: Code
    name: Text
    fact: BenefitFact
    per: BenefitFact | None = None
    op: Literal["gte", "gt", "lte", "lt", "eq", "false"]
    value: Decimal | None = None
    small_value: Decimal | None = None

    @model_validator(mode="after")
    def _needs(self) -> BenefitRule:
        if (self.op == "false") != (self.value is None):
            raise ValueError("op 'false' takes no value; every other op needs one")
        if self.op == "false" and (self.per is not None or self.small_value is not None):
            raise ValueError("op 'false' tests a yes/no fact: no `per`, no `small_value`")
        if (self.fact == "dishonest" or self.per == "dishonest") and self.op != "false":
            raise ValueError("the dishonesty fact is yes/no: use op 'false'")
        return self


class BenefitAmount(_Strict):
    """The amount: `base` × `rate` (`small_rate` for small and micro enterprises), rounded half up to
    `round_to`, at most `cap`. `base_label` names the base in the formula shown with every amount."""

    base: BenefitFact
    base_label: Text
    rate: Decimal = Field(gt=0, le=1)
    small_rate: Decimal | None = Field(default=None, gt=0, le=1)
    round_to: Decimal = Decimal("0.01")
    cap: Decimal | None = Field(default=None, gt=0)


class Benefit(_Strict):
    """免申即享: the government finds the eligible enterprises in its own data and offers the benefit;
    the enterprise only confirms (一键申领). The rules decide eligibility and the amount."""

    name: Text
    data: Text  # which data the facts are, e.g. last year's unemployment-insurance records
    small_enterprise_max_staff: int = Field(ge=1)
    eligibility: list[BenefitRule] = Field(min_length=1)
    amount: BenefitAmount
    rule_set: int = Field(ge=1)  # numbers these rules: an offer records the version and rule set it came from
    legal_basis: list[str] = Field(min_length=1)


# The answers an offer's application carries (filled by the system from the offer, never typed).
BENEFIT_ANSWER_FIELDS = ("enterprise_name", "credit_code", "data_year", "insured_staff", "layoffs",
                         "premiums_paid", "refund_rate", "refund_amount", "refund_formula")


class Guide(_Strict):
    summary: Text
    eligibility: Text
    fees: Text
    legal_basis: list[str] = Field(min_length=1)
    promised_limit: TimeLimit
    notes: list[Text] = []


class Bundle(_Strict):
    code: Code
    version: int = Field(ge=1)
    name: Text
    audience: Literal["enterprise", "person"]
    life_event: Text
    lead_department: Code
    guide: Guide
    sections: list[Section] = Field(min_length=1)
    materials: list[Material] = []
    items: list[Item] = Field(min_length=1)
    outputs: list[Output] = []
    baseline: Baseline
    eligibility: list[EligibilityRule] = []
    # form: the applicant fills the one form; offer: 免申即享, the system offers it from data (`benefit`)
    # and the application is created when the enterprise confirms; nobody applies through a form.
    intake: Literal["form", "offer"] = "form"
    benefit: Benefit | None = None
    # The items are stages of one decision (review, notice, payment): the matter is completed only when
    # all are approved, and rejected otherwise (never "partially completed": no stage has a result alone).
    all_or_nothing: bool = False

    # -- lookups -------------------------------------------------------------------------------------
    @property
    def fields(self) -> list[FormField]:
        return [f for s in self.sections for f in s.fields]

    def item(self, code: str) -> Item:
        for item in self.items:
            if item.code == code:
                return item
        raise KeyError(code)

    def field(self, key: str) -> FormField:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)

    def departments(self) -> list[str]:
        return list(dict.fromkeys(i.department for i in self.items))

    def refusals(self, answers: Mapping[str, Any], today: date) -> list[Text]:
        """The eligibility rules the answers break (empty: the matter may be submitted)."""
        return [rule.message for rule in self.eligibility if not rule.condition.holds(answers, today)]

    # -- cross-references ----------------------------------------------------------------------------
    @model_validator(mode="after")
    def _references(self) -> Bundle:
        """Cross-references, each reported with its path inside the file ("items.1.requires: ...")."""
        problems: list[str] = []
        items = {i.code for i in self.items}
        fields = {f.key for f in self.fields}
        for name, keys in (("items", [i.code for i in self.items]), ("fields", [f.key for f in self.fields]),
                           ("materials", [m.key for m in self.materials])):
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            if dupes:
                problems.append(f"{name}: duplicate key {', '.join(dupes)}")
        for si, section in enumerate(self.sections):
            for fi, f in enumerate(section.fields):
                path = f"sections.{si}.fields.{fi}"
                problems += [f"{path}.items: unknown item {c!r}" for c in f.items if c not in items]
                if f.show_if:
                    problems += [f"{path}.show_if: unknown field {k!r}" for k in sorted(f.show_if.fields() - fields)]
        for mi, m in enumerate(self.materials):
            problems += [f"materials.{mi}.items: unknown item {c!r}" for c in m.items if c not in items]
            if m.show_if:
                problems += [f"materials.{mi}.show_if: unknown field {k!r}" for k in sorted(m.show_if.fields() - fields)]
        for ei, rule in enumerate(self.eligibility):
            problems += [f"eligibility.{ei}.condition: unknown field {k!r}"
                         for k in sorted(rule.condition.fields() - fields)]
        outputs = {o.key for o in self.outputs}
        for ii, i in enumerate(self.items):
            problems += [f"items.{ii}.requires: unknown item {c!r}" for c in i.requires if c not in items]
            if i.condition:
                problems += [f"items.{ii}.condition: unknown field {k!r}" for k in sorted(i.condition.fields() - fields)]
            for ri, check in enumerate(i.instant.rules if i.instant else []):
                path = f"items.{ii}.instant.rules.{ri}"
                named = set(check.fields) | ({check.subject} if check.subject else set())
                named |= check.condition.fields() if check.condition else set()
                problems += [f"{path}: unknown field {k!r}" for k in sorted(named - fields)]
            if i.instant and (i.kind == "notice" or i.await_applicant is not None):
                problems.append(f"items.{ii}.instant: only a review item that starts at once can be approved instantly")
            if i.output and i.output not in outputs:
                problems.append(f"items.{ii}.output: unknown output {i.output!r}")
        for oi, o in enumerate(self.outputs):
            if o.item not in items:
                problems.append(f"outputs.{oi}.item: unknown item {o.item!r}")
        if (self.intake == "offer") != (self.benefit is not None):
            problems.append("benefit: an offered matter (intake: offer) needs benefit rules, and only it")
        if self.benefit is not None:
            if self.audience != "enterprise":
                problems.append("benefit: 免申即享 benefits here are for enterprises")
            missing = [k for k in BENEFIT_ANSWER_FIELDS if k not in fields]
            if missing:
                problems.append(f"benefit: the form must hold the offer's fields: missing {', '.join(missing)}")
        cycle = _find_cycle({i.code: i.requires for i in self.items})
        if cycle:
            problems.append("items: the 前置 items form a cycle: " + " -> ".join(cycle))
        if problems:
            raise ValueError(_PROBLEM_SEPARATOR.join(problems))
        return self

    def fingerprint(self) -> str:
        """SHA-256 of what the definition says: a changed file with an unchanged version is caught.

        Defaults are left out, so a new optional setting in the schema does not change the fingerprint
        of files that do not use it."""
        canonical = json.dumps(self.model_dump(mode="json", exclude_defaults=True), sort_keys=True,
                               ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


def _find_cycle(graph: Mapping[str, list[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node):], node]
        if node in done or node not in graph:
            return None
        visiting.append(node)
        for dep in graph[node]:
            found = visit(dep)
            if found:
                return found
        visiting.pop()
        done.add(node)
        return None

    for start in graph:
        found = visit(start)
        if found:
            return found
    return None


class Department(_Strict):
    code: Code
    name: Text
    short: Text | None = None


class Catalog(_Strict):
    departments: list[Department]
    bundles: list[Bundle]

    def bundle(self, code: str) -> Bundle:
        for b in self.bundles:
            if b.code == code:
                return b
        raise KeyError(code)

    def department(self, code: str) -> Department:
        for d in self.departments:
            if d.code == code:
                return d
        raise KeyError(code)


_PROBLEM_SEPARATOR = "\n"


def _format_errors(source: str, error: ValidationError) -> list[str]:
    lines = []
    for e in error.errors():
        path = ".".join(str(p) for p in e["loc"])
        message = str(e["msg"]).removeprefix("Value error, ")
        if not path:  # whole-bundle checks carry their own paths, one problem per line
            lines += [f"{source}: {problem}" for problem in message.split(_PROBLEM_SEPARATOR)]
        else:
            lines.append(f"{source}: {path}: {message}")
    return lines


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogError([f"{path.name}: not valid YAML: {exc}"]) from None


def load_catalog(bundles_dir: Path = BUNDLES_DIR, departments_file: Path = DEPARTMENTS_FILE) -> Catalog:
    """Read and validate every bundle; raise CatalogError listing every problem in every file."""
    problems: list[str] = []
    departments: list[Department] = []
    try:
        raw = _read_yaml(departments_file)
        departments = [Department.model_validate(d) for d in (raw or {}).get("departments", [])]
    except CatalogError as exc:
        problems += exc.problems
    except ValidationError as exc:
        problems += _format_errors(departments_file.name, exc)
    known_departments = {d.code for d in departments}

    bundles: list[Bundle] = []
    for path in sorted(bundles_dir.glob("*.yaml")):
        try:
            bundle = Bundle.model_validate(_read_yaml(path))
        except CatalogError as exc:
            problems += exc.problems
            continue
        except ValidationError as exc:
            problems += _format_errors(path.name, exc)
            continue
        if path.stem != bundle.code:
            problems.append(f"{path.name}: code: {bundle.code!r} does not match the file name")
        for i, item in enumerate(bundle.items):
            if item.department not in known_departments:
                problems.append(f"{path.name}: items.{i}.department: unknown department {item.department!r}")
        if bundle.lead_department not in known_departments:
            problems.append(f"{path.name}: lead_department: unknown department {bundle.lead_department!r}")
        bundles.append(bundle)
    if problems:
        raise CatalogError(problems)
    return Catalog(departments=departments, bundles=bundles)
