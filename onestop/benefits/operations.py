"""免申即享: import the enterprise data, match it against a benefit's catalog rules and offer, confirm or
decline an offer, and objections to a 公示 that anyone may lodge.

The rules live in the catalog (workflows.catalog.schema.Benefit) and are evaluated by the pure
workflows.benefits; this module gathers the facts, stores offers with their formula and inputs, and runs
the confirmed offer as an ordinary application on the same engine. Operations flush and audit, never
commit.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from onestop.accounts.models import Enterprise, StaffRole, User
from onestop.applications import engine
from onestop.applications.models import Application, Step
from onestop.applications.operations import advance, lock_application, submit
from onestop.audit.operations import Actor, record
from onestop.benefits.models import BenefitOffer, EnterpriseDataImport, EnterpriseRecord, NoticeObjection
from onestop.catalog.models import BundleVersion
from onestop.catalog.operations import bundle_of, bundle_of_application
from onestop.core.clock import now
from onestop.extensions import db
from onestop.instant.models import CreditRecord
from onestop.instant.operations import Problem
from onestop.jobs.notifications import _notify_many, notify_applicant
from workflows.benefits import EnterpriseFacts, assess, percent
from workflows.catalog.schema import Bundle
from workflows.identity import validate_credit_code
from workflows.states import StepAction, StepState

# -- the enterprise data (stands for what 人社 holds) --------------------------------------------------

COLUMNS = ("credit_code", "name", "year", "insured_staff", "layoffs", "premiums_paid", "arrears")
MAX_MONEY = Decimal("999999999999.99")


@dataclass(frozen=True)
class DataRow:
    credit_code: str
    name: str
    year: int
    insured_staff: int
    layoffs: int
    premiums_paid: Decimal
    arrears: Decimal


class EnterpriseDataError(Exception):
    """Every problem of a refused file, each with its line; nothing was imported.
    Problem kinds: encoding, header, code, name, year, count, money, duplicate."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"line {p.line}: {p.kind} {p.value}".rstrip() for p in problems))
        self.problems = problems


def _money(text: str) -> Decimal | None:
    try:
        value = Decimal(text.replace(",", "")) if text else Decimal(0)
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0 or value > MAX_MONEY or value != value.quantize(Decimal("0.01")):
        return None
    return value.quantize(Decimal("0.01"))


def parse_enterprise_csv(data: bytes) -> list[DataRow]:
    """A UTF-8 CSV (a BOM from Excel is fine) with the header
    credit_code,name,year,insured_staff,layoffs,premiums_paid,arrears (money in yuan, at most 2 decimals;
    an empty arrears is 0). Every line is checked; one bad line refuses the whole file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise EnterpriseDataError([Problem(1, "encoding")]) from None
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or [f.strip() for f in reader.fieldnames] != list(COLUMNS):
        raise EnterpriseDataError([Problem(1, "header", ",".join(COLUMNS))])
    rows: list[DataRow] = []
    problems: list[Problem] = []
    seen: set[tuple[int, str]] = set()
    for line, raw in enumerate(reader, start=2):
        cell = {k: (raw.get(k) or "").strip() for k in COLUMNS}
        code = cell["credit_code"].upper()
        counts = [cell["insured_staff"], cell["layoffs"]]
        premiums, arrears = _money(cell["premiums_paid"] or "x"), _money(cell["arrears"])
        if validate_credit_code(code) is not None:
            problems.append(Problem(line, "code", code))
        elif not cell["name"] or len(cell["name"]) > 200:
            problems.append(Problem(line, "name", cell["name"][:20]))
        elif not (cell["year"].isdigit() and 2000 <= int(cell["year"]) <= 2100):
            problems.append(Problem(line, "year", cell["year"]))
        elif not all(c.isdigit() and int(c) < 10_000_000 for c in counts):
            problems.append(Problem(line, "count", next(c for c in counts if not (c.isdigit() and int(c) < 10_000_000))))
        elif premiums is None or arrears is None:
            problems.append(Problem(line, "money", cell["premiums_paid"] if premiums is None else cell["arrears"]))
        elif (int(cell["year"]), code) in seen:
            problems.append(Problem(line, "duplicate", code))
        else:
            seen.add((int(cell["year"]), code))
            rows.append(DataRow(code, cell["name"], int(cell["year"]), int(counts[0]), int(counts[1]), premiums, arrears))
    if problems:
        raise EnterpriseDataError(problems)
    return rows


def import_enterprise_data(data: bytes, filename: str, actor: Actor) -> EnterpriseDataImport:
    """Replace the records of every year in the file with the file's rows, all or nothing."""
    rows = parse_enterprise_csv(data)
    years = sorted({r.year for r in rows})
    batch = EnterpriseDataImport(filename=filename[:255], sha256=hashlib.sha256(data).hexdigest(), rows=len(rows),
                                 years=years, imported_by_id=actor.user_id, imported_at=now())
    db.session.add(batch)
    db.session.flush()
    if years:
        db.session.execute(delete(EnterpriseRecord).where(EnterpriseRecord.year.in_(years)))
        db.session.execute(EnterpriseRecord.__table__.insert(), [
            {"year": r.year, "credit_code": r.credit_code, "name": r.name, "insured_staff": r.insured_staff,
             "layoffs": r.layoffs, "premiums_paid": r.premiums_paid, "arrears": r.arrears, "import_id": batch.id}
            for r in rows])
    record("benefits:data_imported", "benefit_data_import", batch.id,
           {"filename": batch.filename, "sha256": batch.sha256, "rows": len(rows), "years": years}, actor=actor)
    return batch


def latest_year() -> int | None:
    year: int | None = db.session.scalar(select(func.max(EnterpriseRecord.year)))
    return year


def facts_of(records: list[EnterpriseRecord]) -> list[EnterpriseFacts]:
    """The records with the dishonesty fact from the credit list (status 严重失信), one query."""
    codes = {r.credit_code for r in records}
    dishonest = set(db.session.scalars(select(CreditRecord.code).where(
        CreditRecord.code.in_(codes), CreditRecord.status == "dishonest"))) if codes else set()
    return [EnterpriseFacts(r.credit_code, r.name, r.year, r.insured_staff, r.layoffs, Decimal(r.premiums_paid),
                            Decimal(r.arrears), r.credit_code in dishonest) for r in records]


# -- matching and offers --------------------------------------------------------------------------------

@dataclass
class MatchReport:
    year: int | None = None
    examined: int = 0
    offered: list[str] = field(default_factory=list)  # credit codes offered now
    already: int = 0  # offered by an earlier run
    not_eligible: dict[str, list[str]] = field(default_factory=dict)  # credit code -> failed rule keys
    without_account: int = 0  # offered, but no operator has registered the enterprise yet


def rule_set_label(bundle: Bundle) -> str:
    assert bundle.benefit is not None
    return f"{bundle.code} v{bundle.version} #{bundle.benefit.rule_set}"


def match(version: BundleVersion, actor: Actor, year: int | None = None) -> MatchReport:
    """Offer the benefit to every eligible enterprise of the data year (default: the latest imported).

    Idempotent: an enterprise already offered this benefit for this year (whatever it answered) is not
    offered again; the unique key (bundle, year, credit code) makes a concurrent second run fail rather
    than offer twice."""
    bundle = bundle_of(version)
    if bundle.benefit is None:
        raise ValueError(f"{bundle.code} is not a 免申即享 benefit")
    report = MatchReport(year=year if year is not None else latest_year())
    if report.year is None:
        return report
    records = list(db.session.scalars(select(EnterpriseRecord).where(EnterpriseRecord.year == report.year)
                                      .order_by(EnterpriseRecord.credit_code)))
    offered = set(db.session.scalars(select(BenefitOffer.credit_code).where(
        BenefitOffer.bundle_code == bundle.code, BenefitOffer.data_year == report.year)))
    enterprises = {e.credit_code: e for e in db.session.scalars(
        select(Enterprise).where(Enterprise.credit_code.in_({r.credit_code for r in records})))} if records else {}
    label = rule_set_label(bundle)
    for facts in facts_of(records):
        report.examined += 1
        if facts.credit_code in offered:
            report.already += 1
            continue
        result = assess(bundle.benefit, facts)
        if not result.eligible:
            report.not_eligible[facts.credit_code] = [r.key for r in result.failed()]
            continue
        assert result.amount is not None and result.rate is not None
        enterprise = enterprises.get(facts.credit_code)
        offer = BenefitOffer(
            bundle_code=bundle.code, bundle_version_id=version.id, rule_set=label, data_year=facts.year,
            credit_code=facts.credit_code, enterprise_name=facts.name,
            enterprise_id=enterprise.id if enterprise else None, amount=result.amount, rate=result.rate,
            formula_zh=result.formula_zh, formula_en=result.formula_en,
            inputs={"insured_staff": facts.insured_staff, "layoffs": facts.layoffs,
                    "premiums_paid": str(facts.premiums_paid), "arrears": str(facts.arrears),
                    "dishonest": facts.dishonest, "small": result.small},
            results=[r.as_dict() for r in result.results], state="offered", offered_at=now(),
        )
        try:
            with db.session.begin_nested():
                db.session.add(offer)
                db.session.flush()
        except IntegrityError:  # a concurrent run offered it a moment ago
            report.already += 1
            continue
        record("benefits:offered", "benefit_offer", offer.id,
               {"bundle": bundle.code, "rule_set": label, "year": facts.year, "credit_code": facts.credit_code,
                "amount": result.amount, "formula": result.formula_zh, "inputs": offer.inputs,
                "results": offer.results}, actor=actor)
        report.offered.append(facts.credit_code)
        if enterprise is None:
            report.without_account += 1
        else:
            _tell_enterprise(offer, enterprise.id, "benefit_offered")
    return report


def _tell_enterprise(offer: BenefitOffer, enterprise_id: int, kind: str) -> None:
    """Every operator of the enterprise, once per offer and kind (the message centre, e-mail, SMS)."""
    users = db.session.scalars(select(User.id).where(User.enterprise_id == enterprise_id)).all()
    _notify_many(
        (user_id, offer.application_id, kind, f"offer:{offer.id}:{kind}:{user_id}",
         {"reference": "", "offer": str(offer.id), "amount": f"{offer.amount:.2f}"})
        for user_id in users
    )


def offers_for(user: User) -> list[BenefitOffer]:
    if user.enterprise is None:
        return []
    return list(db.session.scalars(select(BenefitOffer).where(BenefitOffer.credit_code == user.enterprise.credit_code)
                                   .order_by(BenefitOffer.offered_at.desc(), BenefitOffer.id.desc())))


class OfferError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _lock_offer(offer_id: int) -> BenefitOffer | None:
    stmt = select(BenefitOffer).where(BenefitOffer.id == offer_id).execution_options(populate_existing=True)
    if db.engine.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return db.session.scalar(stmt)


def confirm(offer_id: int, user: User) -> Application:
    """一键申领: the enterprise confirms; the application is created with the offer's figures as answers
    and runs through 人社 review, 公示 and 财政 payment on the engine. A second click returns the same
    application (the offer is locked, and the submission's idempotency key is the offer)."""
    offer = _lock_offer(offer_id)
    if offer is None or not offer.is_for(user):
        raise OfferError("not_found")
    if offer.state == "confirmed":
        application = db.session.get(Application, offer.application_id)
        assert application is not None
        return application
    if offer.state != "offered":
        raise OfferError("already_decided")
    version = db.session.get(BundleVersion, offer.bundle_version_id)
    assert version is not None
    answers = {
        "enterprise_name": offer.enterprise_name, "credit_code": offer.credit_code, "data_year": offer.data_year,
        "insured_staff": offer.inputs["insured_staff"], "layoffs": offer.inputs["layoffs"],
        "premiums_paid": offer.inputs["premiums_paid"], "refund_rate": percent(Decimal(offer.rate)),
        "refund_amount": f"{offer.amount:.2f}", "refund_formula": offer.formula_zh,
    }
    actor = Actor(user.id, user.kind)
    submitted = submit(user, version, answers, {}, f"benefit-offer:{offer.id}", via_offer=True, actor=actor)
    offer.state, offer.decided_at, offer.decided_by_id = "confirmed", now(), user.id
    offer.application_id = submitted.application.id
    offer.enterprise_id = user.enterprise_id
    record("benefits:offer_confirmed", "benefit_offer", offer.id,
           {"application": submitted.application.reference, "amount": offer.amount, "rule_set": offer.rule_set},
           actor=actor)
    return submitted.application


def decline(offer_id: int, user: User, reason: str) -> BenefitOffer:
    offer = _lock_offer(offer_id)
    if offer is None or not offer.is_for(user):
        raise OfferError("not_found")
    if offer.state != "offered":
        raise OfferError("already_decided")
    offer.state, offer.decided_at, offer.decided_by_id = "declined", now(), user.id
    offer.decline_reason = reason.strip()[:1000] or None
    record("benefits:offer_declined", "benefit_offer", offer.id,
           {"reason": offer.decline_reason, "amount": offer.amount}, actor=Actor(user.id, user.kind))
    return offer


# -- objections to a 公示 open to anyone ----------------------------------------------------------------

class ObjectionError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


SUSPENDED_RULE = "公示期内收到异议，公示中止，转人社核查 (an objection was lodged: the notice is suspended for review)"


def open_notice_step(application: Application, bundle: Bundle) -> Step | None:
    """The application's 公示 step that takes objections from anyone, while it runs or is suspended."""
    for step in application.steps:
        item = bundle.item(step.item_code)
        if item.kind == "notice" and item.objections == "anyone" and step.step_state in (
                StepState.ACCEPTED, StepState.SUSPENDED):
            return step
    return None


def lodge_objection(application_id: int, text: str, name: str, contact: str, user: User | None,
                    ip: str | None) -> NoticeObjection:
    """Anyone, logged in or not, during the 公示. The notice is suspended (中止: not counted, its end
    moves by the time the check takes) and the department is told; the enterprise is told it is paused."""
    application = lock_application(application_id)
    if application is None:
        raise ObjectionError("not_found")
    bundle = bundle_of_application(application)
    step = open_notice_step(application, bundle)
    if step is None:
        raise ObjectionError("not_in_notice")
    if not text.strip() or not name.strip() or not contact.strip():
        raise ObjectionError("incomplete")
    objection = NoticeObjection(step_id=step.id, application_id=application.id, lodged_at=now(),
                                lodged_by_id=user.id if user is not None else None, lodged_from=ip,
                                name=name.strip()[:50], contact=contact.strip()[:50], text=text.strip()[:4000],
                                state="open")
    db.session.add(objection)
    db.session.flush()
    actor = Actor(user.id, user.role_label) if user is not None else Actor(None, "public")
    # Who objected stays with the department: the event keeps the objection's id, not the person's contact.
    record("application:notice:objection_lodged", "notice_objection", objection.id,
           {"application": application.reference, "step": step.id, "item": step.item_code}, actor=actor,
           department_id=step.department_id)
    if step.step_state is StepState.ACCEPTED:
        engine.open_pause(step, "suspension", f"异议核查 (objection {objection.id})")
        engine.move(step, StepAction.SUSPEND, Actor.system(), rule=SUSPENDED_RULE, data={"objection": objection.id})
        notify_applicant(application.id, "notice_objection", str(objection.id))
    staff = db.session.scalars(select(StaffRole.user_id).distinct().where(
        StaffRole.department_id == step.department_id)).all()
    _notify_many((user_id, application.id, "objection_lodged", f"objection:{objection.id}:{user_id}",
                  {"reference": application.reference, "objection": str(objection.id)}) for user_id in staff)
    return objection


def resolve_objection(objection_id: int, upheld: bool, reason: str, reviewer: User) -> NoticeObjection:
    """The department checks an objection. Dismissed: once no other objection stands, the notice runs
    on for its remaining time. Upheld: the notice step is refused with the reason (the payment after it
    is terminated by routing), and any other open objection is closed with it."""
    objection = db.session.get(NoticeObjection, objection_id)
    if objection is None:
        raise ObjectionError("not_found")
    application = lock_application(objection.application_id)
    assert application is not None
    db.session.refresh(objection)
    step = next(s for s in application.steps if s.id == objection.step_id)
    if not reviewer.can_work_in(step.department_id):
        raise ObjectionError("forbidden")
    if objection.state != "open":
        raise ObjectionError("already_resolved")
    if not reason.strip():
        raise ObjectionError("reason_required")
    current = now()
    actor = Actor(reviewer.id, reviewer.role_label, step.department_id)
    objection.state = "upheld" if upheld else "dismissed"
    objection.resolved_at, objection.resolved_by_id, objection.resolution = current, reviewer.id, reason.strip()
    record(f"application:notice:objection_{objection.state}", "notice_objection", objection.id,
           {"application": application.reference, "step": step.id, "reason": objection.resolution},
           actor=actor, department_id=step.department_id)
    others = list(db.session.scalars(select(NoticeObjection).where(
        NoticeObjection.step_id == step.id, NoticeObjection.state == "open", NoticeObjection.id != objection.id)))
    bundle = bundle_of_application(application)
    if step.step_state is not StepState.SUSPENDED:
        # The notice ended meanwhile (e.g. the enterprise withdrew): the outcome is recorded, nothing moves.
        return objection
    if upheld:
        for other in others:
            other.state, other.resolved_at, other.resolved_by_id = "closed", current, reviewer.id
            other.resolution = f"公示已因异议{objection.id}成立而终止 (the notice ended: objection {objection.id} was upheld)"
        # The state table lets a suspended step only resume; the refusal follows at the same instant, so
        # the clock counts nothing between them and the log shows why it ran again.
        engine.close_pause(step)
        engine.move(step, StepAction.RESUME, actor, rule=f"异议成立 (objection {objection.id} upheld)",
                    data={"objection": objection.id})
        with db.session.no_autoflush:
            step.decided_at, step.decided_by_id = current, reviewer.id
            step.reason = f"公示期异议成立：{objection.resolution}"
            step.legal_basis = bundle.item(step.item_code).legal_basis
        engine.move(step, StepAction.REJECT, actor, rule=f"异议成立，不予通过公示 (objection {objection.id} upheld)",
                    data={"objection": objection.id, "reason": objection.resolution})
        db.session.flush()
        advance(application, bundle, actor)
        notify_applicant(application.id, "step_rejected", f"{step.item_code}:{step.log_seq}")
    elif not others:
        engine.close_pause(step)
        engine.move(step, StepAction.RESUME, actor,
                    rule=f"异议不成立，继续公示 (objection {objection.id} dismissed; the notice runs on)",
                    data={"objection": objection.id})
        notify_applicant(application.id, "notice_resumed", f"{objection.id}")
    return objection


def open_objections(department_ids: set[int]) -> list[NoticeObjection]:
    if not department_ids:
        return []
    return list(db.session.scalars(
        select(NoticeObjection).join(Step, Step.id == NoticeObjection.step_id)
        .where(NoticeObjection.state == "open", Step.department_id.in_(department_ids))
        .order_by(NoticeObjection.lodged_at)))
