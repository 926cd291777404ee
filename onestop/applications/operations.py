"""Submitting and withdrawing applications, and the engine step shared with decisions.

Operations take models, plain data and an actor; they flush and audit, and never commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from onestop.accounts.models import User
from onestop.applications.models import Answer, Application, Material, Step
from onestop.audit.operations import Actor, record
from onestop.catalog.models import BundleVersion
from onestop.catalog.operations import bundle_of, department_map
from onestop.clocks.operations import work_calendar
from onestop.core.clock import now, to_local
from onestop.core.jobs import after_commit
from onestop.core.refs import application_reference, query_code
from onestop.extensions import db
from workflows.catalog.schema import Bundle, Item
from workflows.clock import Limit, Unit, compute_due
from workflows.outcome import outcome
from workflows.routing import route
from workflows.states import (
    ApplicationAction,
    ApplicationState,
    StepAction,
    StepState,
    application_transition,
    step_transition,
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
    if (bundle.audience == "enterprise") != (applicant.enterprise_id is not None):
        raise SubmissionError("wrong_audience", bundle.audience)

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
    advance(application, bundle, actor or Actor(applicant.id, applicant.kind))
    after_commit("notify_applicant", application.id, "submitted", application.reference)
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


def advance(application: Application, bundle: Bundle, actor: Actor) -> None:
    """Route over the item graph until nothing changes, then fan in at most once.

    Called at submission and after every decision, with the application locked by the caller.
    """
    departments = department_map()
    answers = application.answer_map
    while True:
        steps = {s.item_code: s for s in application.steps}
        decision = route(bundle, answers, {code: s.step_state for code, s in steps.items()})
        new_codes = [c for c in decision.start + decision.wait if c not in steps]
        for code in new_codes:
            item = bundle.item(code)
            step = Step(
                item_code=code, department_id=departments[item.department].id, state=StepState.WAITING,
                limit_amount=item.limit.amount, limit_unit=item.limit.unit.value,
                start_day_counts=item.start_day_counts, created_at=now(),
            )
            application.steps.append(step)
        db.session.flush()
        for code in decision.wait:
            step = _by_code(application, code)
            record("application:step:waiting", "step", step.id,
                   {"item": code, "requires": bundle.item(code).requires},
                   actor=actor, department_id=step.department_id)
        changed = bool(new_codes)
        for code in decision.start:
            _start(steps.get(code) or _by_code(application, code), bundle.item(code), actor)
            changed = True
        for termination in decision.terminate:
            step = steps[termination.item]
            step.decided_at = now()
            step.reason = f"prerequisite:{termination.blocked_by}"
            step.state = step_transition(step.step_state, StepAction.TERMINATE)
            record("application:step:terminated", "step", step.id,
                   {"item": step.item_code, "blocked_by": termination.blocked_by,
                    "rule": "前置事项未获准予，后续事项终止"},
                   actor=Actor.system(), department_id=step.department_id)
            changed = True
        if not changed:
            break
    fan_in(application, actor)


def _by_code(application: Application, code: str) -> Step:
    return next(s for s in application.steps if s.item_code == code)


def _start(step: Step, item: Item, actor: Actor) -> None:
    with db.session.no_autoflush:
        step.received_at = now()
        if item.clock_starts == "receipt":
            set_due(step, step.received_at)
        step.state = step_transition(step.step_state, StepAction.START)
    record("application:step:received", "step", step.id,
           {"item": step.item_code, "due_at": step.due_at}, actor=actor, department_id=step.department_id)
    after_commit("notify_department", step.id)


def set_due(step: Step, start: datetime) -> None:
    due = compute_due(
        start, Limit(Decimal(step.limit_amount), Unit(step.limit_unit)), work_calendar(),
        start_day_counts=step.start_day_counts,
    )
    step.due_at = due.due
    step.due_provisional = due.provisional


def fan_in(application: Application, actor: Actor) -> ApplicationState | None:
    """End the application when every step has ended; the caller holds the application lock."""
    result = outcome(s.step_state for s in application.steps)
    if result is None or application.state != ApplicationState.IN_PROGRESS:
        return None
    application.ended_at = now()
    application.state = application_transition(
        ApplicationState(application.state), ApplicationAction.END, result
    )
    record(f"application:{result.value}", "application", application.id,
           {"steps": {s.item_code: s.state for s in application.steps}}, actor=actor)
    after_commit("notify_applicant", application.id, result.value, application.reference)
    return result


def lock_application(application_id: int) -> Application | None:
    """Load an application for a change; on PostgreSQL the row stays locked until commit.

    Everything that may end the application (decisions, withdrawal) goes through this lock, so the
    fan-in sees every other decision that committed before it.
    """
    stmt = (
        select(Application).where(Application.id == application_id)
        .options(selectinload(Application.steps), selectinload(Application.answers))
        .execution_options(populate_existing=True)
    )
    if db.engine.dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=Application)
    return db.session.scalar(stmt)


def withdraw(application: Application, reason: str, actor: Actor) -> None:
    target = application_transition(
        ApplicationState(application.state), ApplicationAction.WITHDRAW, ApplicationState.WITHDRAWN
    )
    application.withdraw_reason = reason
    application.ended_at = now()
    application.state = target
    for step in application.steps:
        if step.is_open:
            step.decided_at = application.ended_at
            step.reason = "withdrawn"
            step.state = step_transition(step.step_state, StepAction.TERMINATE)
    record("application:withdrawn", "application", application.id, {"reason": reason}, actor=actor)
