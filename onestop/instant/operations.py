"""Instant approval (信用+秒批) applied to a step that starts; the credit list; the heads' switch.

The rules live in the catalog (workflows.catalog.schema.InstantApproval) and are evaluated by the pure
workflows.instant; this module gathers the facts, records the result with the rule set it was taken
under, and moves the step as a system decision. Operations flush and audit, never commit.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass

from sqlalchemy import delete, select

from onestop.accounts.models import User
from onestop.applications import engine
from onestop.applications.models import Step
from onestop.audit.operations import Actor, record
from onestop.core.clock import now
from onestop.extensions import db
from onestop.instant.models import CREDIT_STATUSES, CreditImport, CreditRecord, InstantSwitch
from onestop.jobs.notifications import notify_applicant
from workflows.catalog.schema import Bundle, Item
from workflows.identity import validate_credit_code, validate_resident_id
from workflows.instant import CreditFacts, evaluate, passed, subjects
from workflows.states import StepAction, StepState


def rule_set_label(bundle: Bundle, item: Item) -> str:
    assert item.instant is not None
    return f"{bundle.code} v{bundle.version} {item.code} #{item.instant.rule_set}"


def is_enabled(bundle_code: str, item_code: str) -> bool:
    switch = db.session.scalar(select(InstantSwitch.enabled).where(
        InstantSwitch.bundle_code == bundle_code, InstantSwitch.item_code == item_code))
    return switch is None or switch


def credit_facts(codes: set[str]) -> dict[str, CreditFacts]:
    if not codes:
        return {}
    rows = db.session.execute(select(CreditRecord.code, CreditRecord.status, CreditRecord.open_penalties)
                              .where(CreditRecord.code.in_(codes))).all()
    return {code: CreditFacts(status, penalties) for code, status, penalties in rows}


def apply_instant_rules(step: Step, item: Item, bundle: Bundle) -> bool:
    """Check a step that has just been received; approve it at once when every rule passes.

    Returns True when the system approved it. Otherwise the step stays in the department's queue, with
    the results kept on it so the reviewer sees which rules failed."""
    if item.instant is None or step.step_state is not StepState.RECEIVED or not is_enabled(bundle.code, item.code):
        return False
    answers = step.application.answer_map
    results = evaluate(item.instant, answers, credit_facts(subjects(item.instant, answers)),
                       {f.key: f.label for f in bundle.fields})
    label = rule_set_label(bundle, item)
    ok = passed(results)
    step.instant_rule_set = label
    step.instant_results = [r.as_dict() for r in results]
    system = Actor.system()
    record("application:step:instant_checked", "step", step.id,
           {"item": item.code, "rule_set": label, "passed": ok, "results": step.instant_results},
           actor=system, department_id=step.department_id)
    if not ok:
        return False
    rule = f"秒批：规则全部通过 (instant approval, every rule passed) — {label}; {item.instant.legal_basis}"
    current = now()
    with db.session.no_autoflush:
        step.accepted_at = current
        if step.clock_start is None:
            step.clock_start = current
    engine.move(step, StepAction.ACCEPT, system, rule=rule, data={"rule_set": label})
    with db.session.no_autoflush:
        step.decided_at = current
        step.reason = "秒批 (instant approval)"
        step.legal_basis = item.instant.legal_basis
    engine.move(step, StepAction.APPROVE, system, rule=rule, data={"rule_set": label})
    notify_applicant(step.application_id, "step_approved", f"{step.item_code}:{step.log_seq}")
    return True


# -- the heads' switch -------------------------------------------------------------------------------

class SwitchError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def set_switch(bundle: Bundle, item_code: str, enabled: bool, reason: str, head: User,
               department_id: int) -> InstantSwitch:
    """Turn an item's instant approval off (or on again). Only a head of the item's department."""
    item = bundle.item(item_code)
    if item.instant is None:
        raise SwitchError("no_rules")
    if not head.is_head_of(department_id):
        raise SwitchError("forbidden")
    if not reason.strip():
        raise SwitchError("reason_required")
    switch = db.session.scalar(select(InstantSwitch).where(
        InstantSwitch.bundle_code == bundle.code, InstantSwitch.item_code == item_code))
    before = switch.enabled if switch is not None else True
    if switch is None:
        switch = InstantSwitch(bundle_code=bundle.code, item_code=item_code)
        db.session.add(switch)
    switch.enabled, switch.reason, switch.changed_by_id, switch.changed_at = enabled, reason.strip(), head.id, now()
    db.session.flush()
    record("instant:switched", "instant_switch", switch.id,
           {"bundle": bundle.code, "item": item_code, "before": before, "after": enabled, "reason": reason.strip()},
           actor=Actor(head.id, "head", department_id), department_id=department_id)
    return switch


# -- the credit list -----------------------------------------------------------------------------------

STATUS_WORDS = {"good": "good", "守信": "good", "watch": "watch", "重点关注": "watch",
                "dishonest": "dishonest", "严重失信": "dishonest", "失信": "dishonest"}
COLUMNS = ("code", "name", "status", "open_penalties")


@dataclass(frozen=True)
class CreditRow:
    code: str
    name: str
    status: str
    open_penalties: int


@dataclass(frozen=True)
class Problem:
    line: int
    kind: str  # encoding | header | code | status | penalties | duplicate
    value: str = ""


class CreditListError(Exception):
    """Every problem of a refused file, each with its line; nothing was imported."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"line {p.line}: {p.kind} {p.value}" for p in problems))
        self.problems = problems


def parse_credit_csv(data: bytes) -> list[CreditRow]:
    """A UTF-8 CSV (a BOM from Excel is fine) with the header code,name,status,open_penalties."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CreditListError([Problem(1, "encoding")]) from None
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or [f.strip() for f in reader.fieldnames] != list(COLUMNS):
        raise CreditListError([Problem(1, "header", ",".join(COLUMNS))])
    rows: list[CreditRow] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for line, raw in enumerate(reader, start=2):
        code = (raw.get("code") or "").strip().upper()
        word = (raw.get("status") or "").strip()
        status = STATUS_WORDS.get(word.lower()) or STATUS_WORDS.get(word)
        penalties = (raw.get("open_penalties") or "0").strip()
        if validate_resident_id(code) is not None and validate_credit_code(code) is not None:
            problems.append(Problem(line, "code", code))
        elif status not in CREDIT_STATUSES:
            problems.append(Problem(line, "status", word))
        elif not penalties.isdigit():
            problems.append(Problem(line, "penalties", penalties))
        elif code in seen:
            problems.append(Problem(line, "duplicate", code))
        else:
            seen.add(code)
            rows.append(CreditRow(code, (raw.get("name") or "").strip()[:100], str(status), int(penalties)))
    if problems:
        raise CreditListError(problems)
    return rows


def import_credit_list(data: bytes, filename: str, actor: Actor) -> CreditImport:
    """Replace the credit list with the file's rows, all or nothing."""
    rows = parse_credit_csv(data)
    batch = CreditImport(filename=filename[:255], sha256=hashlib.sha256(data).hexdigest(), rows=len(rows),
                         imported_by_id=actor.user_id, imported_at=now())
    db.session.add(batch)
    db.session.flush()
    db.session.execute(delete(CreditRecord))
    if rows:
        db.session.execute(CreditRecord.__table__.insert(), [
            {"code": r.code, "name": r.name, "status": r.status, "open_penalties": r.open_penalties,
             "import_id": batch.id} for r in rows])
    counts = {s: sum(1 for r in rows if r.status == s) for s in CREDIT_STATUSES}
    record("instant:credit_list_imported", "credit_import", batch.id,
           {"filename": batch.filename, "sha256": batch.sha256, "rows": len(rows), "by_status": counts,
            "with_open_penalties": sum(1 for r in rows if r.open_penalties)}, actor=actor)
    return batch
