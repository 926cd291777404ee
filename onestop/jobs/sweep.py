"""The periodic sweep: deemed actions, expired supplements and 容缺 promises, warnings and escalation.

Correctness never depends on it: due dates and overdue are data, read at request time. The sweep only
acts where a rule says the system acts (with the rule and its legal basis in the processing-time log)
and tells people. It is idempotent: each step is handled in its own transaction under the application
lock, transitions happen only while their condition holds, and each alert is a unique row, so a second
run over the same state changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from onestop.applications import engine
from onestop.applications.models import Material, Step, StepAlert
from onestop.applications.operations import advance, lock_application
from onestop.applications.uploads import material_path
from onestop.audit.operations import Actor, record
from onestop.catalog.operations import bundle_of_application
from onestop.clocks.operations import work_calendar
from onestop.core.clock import now
from onestop.core.jobs import commit, job
from onestop.extensions import db
from onestop.jobs.notifications import notify_applicant, notify_staff
from workflows.catalog.schema import Item
from workflows.clock import Limit, Status, Unit, counted_time, remaining, status
from workflows.states import StepAction, StepState

log = logging.getLogger(__name__)

NOT_SUPPLEMENTED_BASIS = "《中华人民共和国行政许可法》第三十二条（申请材料不齐全，逾期未补正）"
# Escalation thresholds of DOMAIN.md §4: a reminder at 3 and a formal notice at 10 working days overdue.
REMINDER_DAYS, FORMAL_NOTICE_DAYS = Decimal(3), Decimal(10)


@dataclass
class SweepReport:
    steps_examined: int = 0
    actions: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)


@job("sweep")
def sweep_job() -> None:
    report = run_sweep()
    log.info("sweep: %d steps, %d actions, %d alerts", report.steps_examined, len(report.actions),
             len(report.alerts))


# Uploads kept for a form that was never submitted are removed after this long (the applicant had
# the rest of the day to fix the form).
ORPHAN_UPLOAD_AGE = timedelta(hours=24)


def remove_orphan_uploads(report: SweepReport) -> None:
    """Files uploaded with a form that was never submitted: attached to no application and no open draft."""
    cutoff = now() - ORPHAN_UPLOAD_AGE
    orphans = db.session.scalars(select(Material).where(
        Material.application_id.is_(None), Material.draft_id.is_(None), Material.uploaded_at < cutoff).limit(1000)).all()
    for material in orphans:
        path = material_path(material)
        record("material:removed_unused", "material", material.id,
               {"key": material.material_key, "sha256": material.sha256, "uploaded_at": material.uploaded_at},
               actor=Actor.system())
        db.session.delete(material)
        db.session.flush()
        path.unlink(missing_ok=True)  # after the row is gone from this transaction; a crash leaves a file only
        report.actions.append(f"material {material.id}: unused upload removed")
    commit()


def run_sweep() -> SweepReport:
    report = SweepReport()
    remove_orphan_uploads(report)
    open_states = [StepState.RECEIVED, StepState.ACCEPTED, StepState.SUPPLEMENT, StepState.SUSPENDED]
    step_ids = list(db.session.scalars(select(Step.id).where(Step.state.in_(open_states)).order_by(Step.id)))
    # Approved on commitment with the post-approval check still to record.
    step_ids += list(db.session.scalars(select(Step.id).where(
        Step.on_commitment.is_(True), Step.post_check_outcome.is_(None)).order_by(Step.id)))
    db.session.rollback()
    for step_id in step_ids:
        report.steps_examined += 1
        try:
            _sweep_step(step_id, report)
            commit()
        except Exception:
            db.session.rollback()
            log.exception("sweep: step %s failed; it is retried on the next run", step_id)
    _sweep_portal(report)
    return report


def _sweep_portal(report: SweepReport) -> None:
    """The applicant-facing duties: stale drafts, deemed ratings, overdue answers to bad ratings, and
    e-mails or text messages whose retry time has come. Each in its own transaction."""
    from onestop.drafts.operations import purge_stale_drafts
    from onestop.messaging.operations import retry_due
    from onestop.ratings.operations import alert_overdue_answers, deem_ratings

    def drafts() -> None:
        if (n := purge_stale_drafts()):
            report.actions.append(f"{n} drafts untouched for 30 days discarded")

    def ratings() -> None:
        for rating in deem_ratings():
            report.actions.append(f"rating {rating.id}: deemed 基本满意 (application {rating.application_id})")

    def answers() -> None:
        for rating in alert_overdue_answers():
            report.alerts.append(f"rating {rating.id}: answer overdue")

    def messages() -> None:
        if (n := retry_due()):
            report.actions.append(f"{n} e-mails or text messages retried")

    def webhooks() -> None:
        from onestop.webhooks.operations import retry_due as retry_webhooks

        if (n := retry_webhooks()):
            report.actions.append(f"{n} webhook deliveries attempted")

    for duty in (drafts, ratings, answers, messages, webhooks):
        try:
            duty()
            commit()
        except Exception:
            db.session.rollback()
            log.exception("sweep: %s failed; it is retried on the next run", duty.__name__)


def _warn_applicant(step: Step, report: SweepReport) -> None:
    """1 working day before a supplement request is due, the applicant is reminded (once per request)."""
    request = engine.open_request(step) if step.step_state is StepState.SUPPLEMENT else None
    if request is None or request.due_at <= now():
        return
    left = counted_time(now(), request.due_at, Unit.WORKING_DAYS, work_calendar())
    if left > 1:
        return
    kind = f"supplement_soon_{request.id}"
    if db.session.scalar(select(StepAlert.id).where(StepAlert.step_id == step.id, StepAlert.kind == kind)):
        return
    try:
        with db.session.begin_nested():
            db.session.add(StepAlert(step_id=step.id, kind=kind, created_at=now()))
    except IntegrityError:
        return
    notify_applicant(step.application_id, "supplement_due_soon", str(request.id))
    report.alerts.append(f"step {step.id}: supplement due soon")


def _sweep_step(step_id: int, report: SweepReport) -> None:
    step = db.session.get(Step, step_id)
    if step is None:
        return
    application = lock_application(step.application_id)
    assert application is not None
    step = next(s for s in application.steps if s.id == step_id)
    bundle = bundle_of_application(application)
    item = bundle.item(step.item_code)
    if _act(step, item, report):
        db.session.flush()
        advance(application, bundle, Actor.system())
    _alert(step, item, report)
    _warn_applicant(step, report)


def _act(step: Step, item: Item, report: SweepReport) -> bool:
    """At most one system transition per step and run; True when one happened."""
    current = now()
    system = Actor.system()
    if step.step_state is StepState.RECEIVED:
        for rule in item.deemed:
            if rule.when == "not_accepted" and rule.after is not None and step.received_at is not None:
                waited = counted_time(step.received_at, current, rule.after.unit, work_calendar(),
                                      pauses=engine.pauses_of(step, since=step.received_at))
                if waited >= rule.after.amount:
                    with db.session.no_autoflush:
                        step.accepted_at = current
                        if step.clock_start is None:
                            step.clock_start = current
                    engine.move(step, StepAction.ACCEPT, system,
                                rule=f"逾期未受理，视为受理 (deemed accepted) — {rule.legal_basis}")
                    report.actions.append(f"step {step.id}: deemed accepted")
                    return True
    if step.step_state is StepState.ACCEPTED and item.kind == "notice" and step.due_at and step.due_at <= current:
        rule = next(r for r in item.deemed if r.when == "notice_ended")
        with db.session.no_autoflush:
            step.decided_at = current
        engine.move(step, StepAction.APPROVE, system, rule=f"公示期满无异议 (notice ended without objection) — {rule.legal_basis}")
        report.actions.append(f"step {step.id}: notice ended")
        return True
    if step.step_state is StepState.SUPPLEMENT:
        request = engine.open_request(step)
        if request is not None and request.due_at <= current:
            with db.session.no_autoflush:
                engine.close_pause(step)
                step.decided_at = current
                step.reason = "逾期未补正 (not supplemented in time)"
                step.legal_basis = NOT_SUPPLEMENTED_BASIS
            engine.move(step, StepAction.REJECT, system, rule=f"补正期限届满未补正 — {NOT_SUPPLEMENTED_BASIS}")
            notify_applicant(step.application_id, "not_supplemented", step.item_code)
            report.actions.append(f"step {step.id}: not supplemented")
            return True
    if (step.step_state is StepState.ACCEPTED and step.outstanding_materials and step.outstanding_due_at
            and step.outstanding_due_at <= current):
        engine.request_supplement(step, item, system, [
            {"kind": "material", "key": key, "message": "容缺受理承诺的材料逾期未补齐，请补充"}
            for key in step.outstanding_materials
        ], rule="容缺承诺期限届满，转入补正 (the 容缺 promise expired)")
        report.actions.append(f"step {step.id}: 容缺 promise expired")
        return True
    return False


def _alert(step: Step, item: Item, report: SweepReport) -> None:
    current = now()
    if step.on_commitment and step.post_check_outcome is None and step.post_check_due_at is not None:
        if step.post_check_due_at <= current:
            _raise(step, "post_check_due", report)
        return
    if step.clock_start is None or step.step_state not in (StepState.ACCEPTED, StepState.RECEIVED):
        return
    if item.kind == "notice":
        return  # a 公示 is waiting time, not a department's work: it ends by itself (above), never "due soon"
    limit = engine.limit_of(step)
    calendar = work_calendar()
    kwargs = {"pauses": engine.pauses_of(step), "extensions": engine.extensions_of(step),
              "start_day_counts": step.start_day_counts}
    warn = item.warn_remaining.amount if item.warn_remaining else _default_warning(limit)
    state = status(step.clock_start, limit, calendar, current, warn_remaining=warn, **kwargs)
    if state is Status.WARNING:
        _raise(step, "warning", report)
    elif state is Status.OVERDUE:
        _raise(step, "overdue", report)
        late = -remaining(step.clock_start, limit, calendar, current, **kwargs)
        late_days = late if limit.unit is Unit.WORKING_DAYS else None
        if late_days is not None and late_days >= REMINDER_DAYS:
            _raise(step, "overdue_3", report)
        if late_days is not None and late_days >= FORMAL_NOTICE_DAYS:
            _raise(step, "overdue_10", report)


def _default_warning(limit: Limit) -> Decimal:
    """1 working day, or 20% of the limit when that is less (a half-day limit is not "due soon" at once)."""
    fifth = limit.amount / 5
    if limit.unit is Unit.WORKING_DAYS:
        return min(Decimal(1), fifth)
    return fifth


def _raise(step: Step, kind: str, report: SweepReport) -> None:
    if db.session.scalar(select(StepAlert.id).where(StepAlert.step_id == step.id, StepAlert.kind == kind)):
        return
    try:
        with db.session.begin_nested():
            db.session.add(StepAlert(step_id=step.id, kind=kind, created_at=now()))
    except IntegrityError:
        return  # another sweep raised it a moment ago
    record(f"application:step:alert_{kind}", "step", step.id, {"due_at": step.due_at},
           actor=Actor.system(), department_id=step.department_id)
    # Warnings go to the reviewers; overdue goes up to the head (escalation).
    notify_staff(step.id, kind, "head" if kind != "warning" else "reviewer")
    report.alerts.append(f"step {step.id}: {kind}")

