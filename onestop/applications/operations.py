"""Submitting and withdrawing applications, and the engine step shared with decisions.

Operations take models, plain data and an actor; they flush and audit, and never commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from onestop.accounts.models import User
from onestop.applications import engine
from onestop.applications.models import Answer, Application, Material, Step
from onestop.audit.operations import Actor, record
from onestop.catalog.models import BundleVersion
from onestop.catalog.operations import bundle_of, bundle_of_application, department_ids
from onestop.core.clock import local_now, now, to_local
from onestop.core.jobs import after_commit
from onestop.core.refs import application_reference, query_code
from onestop.extensions import db
from onestop.instant.operations import apply_instant_rules
from onestop.jobs.notifications import notify_applicant, notify_departments
from onestop.webhooks.outbox import emit
from workflows.catalog.schema import Bundle, Item
from workflows.outcome import outcome
from workflows.routing import route
from workflows.states import (
    ApplicationAction,
    ApplicationState,
    StepAction,
    StepState,
    application_transition,
)


class SubmissionError(Exception):
    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Submitted:
    application: Application
    created: bool  # False when the idempotency key matched an earlier submission


def submit(
    applicant: User,
    version: BundleVersion,
    answers: Mapping[str, Any],
    material_ids: Mapping[str, int],
    idempotency_key: str,
    *,
    prefilled: set[str] | None = None,
    actor: Actor | None = None,
    via_offer: bool = False,
) -> Submitted:
    """Store the one form and the one set of materials, pin the bundle version, fan out to the items.

    The same idempotency key from the same applicant returns the application it created first: a double
    click, a reload or a replayed request never makes a second application.
    """
    existing = db.session.scalar(
        select(Application).where(
            Application.applicant_id == applicant.id, Application.idempotency_key == idempotency_key
        )
    )
    if existing is not None:
        return Submitted(existing, created=False)
    bundle = bundle_of(version)
    if not applicant.is_applicant:
        raise SubmissionError("not_an_applicant")
    if (bundle.intake == "offer") != via_offer:
        # 免申即享: only a confirmed offer (onestop.benefits) creates such an application; its answers are
        # the figures the government computed, never typed.
        raise SubmissionError("offer_only" if via_offer is False else "not_an_offer")
    if (bundle.audience == "enterprise") != (applicant.enterprise_id is not None):
        raise SubmissionError("wrong_audience", bundle.audience)
    refusals = bundle.refusals(answers, local_now().date())
    if refusals:
        raise SubmissionError("not_eligible", "; ".join(r.zh for r in refusals))

    current = now()
    application = Application(
        reference="pending", query_code=query_code(), bundle_version=version, applicant_id=applicant.id,
        enterprise_id=applicant.enterprise_id, state=ApplicationState.IN_PROGRESS,
        idempotency_key=idempotency_key, submitted_at=current,
    )
    db.session.add(application)
    prefilled = prefilled or set()
    for key, value in answers.items():
        bundle.field(key)  # unknown keys are a programming error: the form is built from the bundle
        application.answers.append(Answer(field=key, value=value, prefilled=key in prefilled))
    _attach_materials(application, applicant, bundle, material_ids)
    db.session.flush()
    application.reference = application_reference(
        current_app.config.get("ONESTOP_REGION_CODE", "410100"), to_local(current), application.id  # type: ignore[arg-type]
    )
    record("application:submitted", "application", application.id,
           {"bundle": bundle.code, "version": version.version, "reference": application.reference,
            "materials": sorted(material_ids)}, actor=actor)
    advance(application, bundle, actor or Actor(applicant.id, applicant.kind), answers=answers)
    notify_applicant(application.id, "submitted", application.reference)
    emit("application.submitted", {"reference": application.reference, "bundle": bundle.code,
                                   "version": version.version, "submitted_at": application.submitted_at,
                                   "steps": {s.item_code: s.state for s in application.steps}})
    return Submitted(application, created=True)


def _attach_materials(
    application: Application, applicant: User, bundle: Bundle, material_ids: Mapping[str, int]
) -> None:
    keys = {m.key for m in bundle.materials}
    for key, material_id in material_ids.items():
        if key not in keys:
            raise SubmissionError("unknown_material", key)
        material = db.session.get(Material, material_id)
        # Only the applicant's own, not yet used uploads: an id in a form field grants nothing.
        if material is None or material.owner_id != applicant.id or material.application_id is not None:
            raise SubmissionError("material_not_available", key)
        if material.material_key != key:
            raise SubmissionError("material_key_mismatch", key)
        material.application = application


def advance(
    application: Application, bundle: Bundle, actor: Actor, *, answers: Mapping[str, Any] | None = None
) -> None:
    """Route over the item graph until nothing changes, then fan in at most once.

    Called at submission and after every decision, with the application locked by the caller. At
    submission the answers decide which items apply, and every item that applies gets a step (started
    or waiting for its 前置); afterwards the items that apply are those with steps, so a decision routes
    without reading the answers.
    """
    departments = department_ids()
    started: list[Step] = []
    while True:
        steps = {s.item_code: s for s in application.steps}
        decision = route(bundle, answers or {}, {code: s.step_state for code, s in steps.items()},
                         applicable=None if answers is not None else steps.keys())
        new_codes = [c for c in decision.start + decision.wait if c not in steps]
        for code in new_codes:
            item = bundle.item(code)
            if item.department not in departments:
                departments = department_ids(refresh=True)
            step = Step(
                item_code=code, department_id=departments[item.department], state=StepState.WAITING,
                limit_amount=item.limit.amount, limit_unit=item.limit.unit.value,
                start_day_counts=item.start_day_counts, created_at=now(), pauses=[], supplements=[],
            )
            application.steps.append(step)
            engine.log_created(step, actor)
        if new_codes:
            db.session.flush()
        for code in decision.wait:
            step = _by_code(application, code)
            record("application:step:waiting", "step", step.id,
                   {"item": code, "requires": bundle.item(code).requires},
                   actor=actor, department_id=step.department_id)
        changed = bool(new_codes)
        for code in decision.start:
            step = steps.get(code) or _by_code(application, code)
            _start(step, bundle.item(code), actor)
            if not apply_instant_rules(step, bundle.item(code), bundle):
                started.append(step)  # a reviewer's turn: the department is told
            changed = True
        for termination in decision.terminate:
            terminate(steps[termination.item], f"prerequisite:{termination.blocked_by}", Actor.system(),
                      rule="前置事项未获准予，后续事项终止 (a prerequisite item was not approved)")
            changed = True
        if not changed:
            break
    notify_departments(started)
    fan_in(application, actor)


def _by_code(application: Application, code: str) -> Step:
    return next(s for s in application.steps if s.item_code == code)


def _start(step: Step, item: Item, actor: Actor) -> None:
    """WAITING -> RECEIVED, then what the item asks for at once: a 公示 period starts running, or the
    step first waits for the applicant (e.g. filing the closure after the notice)."""
    with db.session.no_autoflush:
        step.received_at = now()
        if item.clock_starts == "receipt" or item.kind == "notice":
            step.clock_start = step.received_at
    engine.move(step, StepAction.START, actor)
    if item.kind == "notice":
        step.accepted_at = step.received_at
        engine.move(step, StepAction.ACCEPT, Actor.system(), rule="公示期开始 (the public notice period starts)")
    elif item.await_applicant is not None:
        engine.request_supplement(
            step, item, Actor.system(),
            [{"kind": "action", "key": item.code, "message": item.await_applicant.message.zh}],
            rule="待申请人办理 (waiting for the applicant)",
        )
        request = step.supplements[-1]
        request.due_at = engine.due_after(request.requested_at, item.await_applicant.limit)


def fan_in(application: Application, actor: Actor) -> ApplicationState | None:
    """End the application when every step has ended; the caller holds the application lock."""
    result = outcome((s.step_state for s in application.steps),
                     all_or_nothing=bundle_of_application(application).all_or_nothing)
    if result is None or application.state != ApplicationState.IN_PROGRESS:
        return None
    application.ended_at = now()
    application.state = application_transition(
        ApplicationState(application.state), ApplicationAction.END, result
    )
    record(f"application:{result.value}", "application", application.id,
           {"steps": {s.item_code: s.state for s in application.steps}}, actor=actor)
    from onestop.supervision.rollup import record_application  # the auditors' roll-up, written once here

    record_application(application)
    notify_applicant(application.id, result.value, application.reference)
    emit("application.completed", {"reference": application.reference, "outcome": result.value,
                                   "ended_at": application.ended_at,
                                   "steps": {s.item_code: s.state for s in application.steps}})
    after_commit("issue_certificates", application.id)
    return result


def _locking(stmt: Any) -> Any:
    # Steps (with their pauses, which the clock reads) are what routing and fan-in need; a step's log is
    # never read to append to it, and the answers only at submission. The steps must come from a second
    # statement, issued once the lock is held: a join in the locking statement would return the rows of
    # the snapshot taken before waiting for the lock (READ COMMITTED), and miss a decision committed
    # meanwhile (the concurrency test catches exactly that).
    stmt = stmt.options(selectinload(Application.steps).joinedload(Step.pauses)).execution_options(
        populate_existing=True)
    if db.engine.dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=Application)
    return stmt


def lock_application(application_id: int) -> Application | None:
    """Load an application for a change; on PostgreSQL the row stays locked until commit.

    Everything that may end the application (decisions, withdrawal) goes through this lock, so the
    fan-in sees every other decision that committed before it.
    """
    return db.session.scalar(_locking(select(Application).where(Application.id == application_id)))


def lock_application_of_step(step_id: int) -> Application | None:
    """The same lock, found from one of its steps in the same statement."""
    return db.session.scalar(_locking(select(Application).where(
        Application.id == select(Step.application_id).where(Step.id == step_id).scalar_subquery()
    )))


def withdraw(application: Application, reason: str, actor: Actor) -> None:
    """撤回 by the applicant before completion: open steps end as terminated, with the reason."""
    target = application_transition(
        ApplicationState(application.state), ApplicationAction.WITHDRAW, ApplicationState.WITHDRAWN
    )
    for step in application.steps:
        if step.is_open:
            terminate(step, "withdrawn", actor, rule="申请人撤回 (withdrawn by the applicant)")
    application.withdraw_reason = reason
    application.ended_at = now()
    application.state = target
    record("application:withdrawn", "application", application.id, {"reason": reason}, actor=actor)
    from onestop.supervision.rollup import record_application

    record_application(application)
    notify_applicant(application.id, "withdrawn", application.reference)
    emit("application.withdrawn", {"reference": application.reference, "ended_at": application.ended_at})


def terminate(step: Step, reason: str, actor: Actor, *, rule: str) -> None:
    with db.session.no_autoflush:
        engine.close_pause(step)
        step.decided_at = now()
        step.reason = reason
    engine.move(step, StepAction.TERMINATE, actor, rule=rule)


class AnswerError(Exception):
    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


def answer_supplements(
    application: Application, applicant: User, answers: Mapping[str, Any], material_ids: Mapping[str, int],
) -> list[Step]:
    """The applicant answers every open supplement request at once (the merged to-do list).

    Only what was asked may change; only the departments that asked resume. Materials a step accepted
    under 容缺 may be supplied here too, which closes that promise.
    """
    if not application.is_owned_by(applicant) or application.state != ApplicationState.IN_PROGRESS:
        raise AnswerError("not_allowed")
    bundle = bundle_of(application.bundle_version)
    open_steps = [(s, r) for s in application.steps
                  if s.step_state is StepState.SUPPLEMENT and (r := engine.open_request(s)) is not None]
    asked_fields = {p["key"] for _, r in open_steps for p in r.problems if p["kind"] == "field"}
    asked_materials = {p["key"] for _, r in open_steps for p in r.problems if p["kind"] == "material"}
    promised = {k for s in application.steps if s.outstanding_materials for k in s.outstanding_materials}
    if not open_steps and not promised:
        raise AnswerError("nothing_asked")
    extra = (set(answers) - asked_fields) | (set(material_ids) - asked_materials - promised)
    if extra:
        raise AnswerError("not_asked", ", ".join(sorted(extra)))
    missing = (asked_fields - set(answers)) | (asked_materials - set(material_ids))
    if missing:
        raise AnswerError("incomplete", ", ".join(sorted(missing)))
    current = {a.field: a for a in application.answers}
    changes = {}
    for key, value in answers.items():
        bundle.field(key)
        changes[key] = {"before": current[key].value if key in current else None, "after": value}
        if key in current:
            current[key].value, current[key].prefilled = value, False
        else:
            application.answers.append(Answer(field=key, value=value))
    _attach_materials(application, applicant, bundle, material_ids)
    actor = Actor(applicant.id, applicant.kind)
    record("application:supplemented", "application", application.id,
           {"fields": changes, "materials": sorted(material_ids)}, actor=actor)
    resumed = []
    for step, request in open_steps:
        with db.session.no_autoflush:
            request.answered_at = now()
            engine.close_pause(step)
        engine.move(step, StepAction.SUPPLEMENT_RECEIVED, actor, resume_to=StepState(step.resume_state))
        step.resume_state = None
        resumed.append(step)
    notify_departments(resumed)
    for step in application.steps:
        if step.outstanding_materials and set(step.outstanding_materials) <= set(material_ids):
            record("application:step:rongque_fulfilled", "step", step.id,
                   {"materials": step.outstanding_materials}, actor=actor, department_id=step.department_id)
            step.outstanding_materials, step.outstanding_due_at = None, None
    return resumed
