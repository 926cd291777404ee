"""The step machinery shared by decisions, the applicant's answers and the sweep.

Every state change of a step goes through `move()`: it asks workflows for the transition, writes the
processing-time log (server time, actor or the system's rule, working time counted and paused so far,
the due date after it) and the audit event. Due dates are recomputed from data (clock start, limit,
pauses, extensions) by `recompute_due()`; nothing here trusts a time given by a caller.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from onestop.applications.models import Step, StepPause, StepTransition, SupplementRequest
from onestop.audit.operations import Actor, record
from onestop.clocks.operations import work_calendar
from onestop.core.clock import now
from onestop.extensions import db
from onestop.jobs.notifications import notify_applicant
from onestop.webhooks.outbox import emit
from workflows.catalog.schema import Item, TimeLimit
from workflows.clock import Extension, Limit, Pause, Unit, compute_due, counted_time
from workflows.states import StepAction, StepState, step_transition


def limit_of(step: Step) -> Limit:
    return Limit(Decimal(step.limit_amount), Unit(step.limit_unit))


def pauses_of(step: Step, since: datetime | None = None) -> list[Pause]:
    """The step's pauses from `since` (default: the clock's start) on, clipped to it: a supplement
    asked before acceptance paused nothing of a clock that starts at acceptance."""
    since = since or step.clock_start
    pauses = []
    for p in step.pauses:
        if since is not None and p.ended_at is not None and p.ended_at <= since:
            continue
        start = max(p.started_at, since) if since is not None else p.started_at
        pauses.append(Pause(start, p.ended_at, p.kind, p.reason))
    return pauses


def extensions_of(step: Step) -> list[Extension]:
    amount = Decimal(step.extension_amount or 0)
    return [Extension(Limit(amount, Unit(step.limit_unit)))] if amount > 0 else []


def recompute_due(step: Step) -> None:
    """due_at from the clock's data; None before the clock starts and while it is paused."""
    if step.clock_start is None:
        step.due_at, step.due_provisional = None, False
        return
    due = compute_due(step.clock_start, limit_of(step), work_calendar(), pauses=pauses_of(step),
                      extensions=extensions_of(step), start_day_counts=step.start_day_counts)
    step.due_at, step.due_provisional = due.due, due.provisional


def explain(step: Step, lang: str) -> list[str]:
    """How the step's due date was computed: start, limit, days skipped, pauses, extensions."""
    if step.clock_start is None:
        return []
    due = compute_due(step.clock_start, limit_of(step), work_calendar(), pauses=pauses_of(step),
                      extensions=extensions_of(step), start_day_counts=step.start_day_counts)
    return due.explanation.lines("en" if lang == "en" else "zh")


def clock_figures(step: Step, at: datetime) -> tuple[Decimal | None, Decimal | None]:
    """Working time counted and paused between the clock's start and `at`, in the limit's unit."""
    if step.clock_start is None or at < step.clock_start:
        return None, None
    calendar, unit = work_calendar(), Unit(step.limit_unit)
    gross = counted_time(step.clock_start, at, unit, calendar, start_day_counts=step.start_day_counts)
    counted = counted_time(step.clock_start, at, unit, calendar, pauses=pauses_of(step),
                           start_day_counts=step.start_day_counts)
    return counted, gross - counted


def due_after(start: datetime, limit: TimeLimit, start_day_counts: bool = False) -> datetime:
    """A plain deadline from now-ish: supplement, 容缺 promise, post-approval check."""
    due = compute_due(start, Limit(limit.amount, limit.unit), work_calendar(), start_day_counts=start_day_counts)
    assert due.due is not None
    return due.due


def move(
    step: Step,
    action: StepAction,
    actor: Actor,
    *,
    rule: str | None = None,
    resume_to: StepState | None = None,
    data: dict[str, Any] | None = None,
) -> StepState:
    """Apply one transition to a step whose other columns the caller has already set."""
    before = step.state
    at = now()
    with db.session.no_autoflush:
        if step.logged_at is not None and at < step.logged_at:
            # The log is in server time and only moves forward: nothing is back-dated (禁止后补流程).
            raise RuntimeError(f"step {step.id}: the server clock is behind the step's last transition")
        new_state = step_transition(step.step_state, action, resume_to=resume_to)
        step.state = new_state
        if step.is_open:
            recompute_due(step)  # None while paused; a decided step keeps its last due date for the record
        counted, paused = clock_figures(step, at)
        _append_log(step, StepTransition(
            action=action.value, from_state=before, to_state=new_state.value, at=at, actor_id=actor.user_id,
            actor_role=actor.role, rule=rule, counted=counted, paused=paused, due_at=step.due_at,
        ))
    record(f"application:step:{new_state.value}", "step", step.id,
           {"item": step.item_code, "action": action.value, "from": before, "to": new_state.value,
            "due_at": step.due_at, "counted": counted, "paused": paused, "rule": rule, **(data or {})},
           actor=actor, department_id=step.department_id)
    if action in DECISIONS:
        emit("step.decided", {"reference": step.application.reference, "step_id": step.id, "item": step.item_code,
                              "department": step.department.code, "action": action.value, "state": new_state.value,
                              "at": at, "by_system": actor.user_id is None, "due_at": step.due_at})
    return new_state


# The transitions other systems are told of as "step.decided" (the department's own acts and the
# system's deemed or instant ones; not the routing moves around them).
DECISIONS = frozenset({StepAction.ACCEPT, StepAction.REQUEST_SUPPLEMENT, StepAction.APPROVE, StepAction.REJECT})


def log_created(step: Step, actor: Actor) -> None:
    """The first line of a step's processing-time log: created, waiting for its 前置 items."""
    _append_log(step, StepTransition(
        action="create", from_state=None, to_state=step.state, at=step.created_at,
        actor_id=actor.user_id, actor_role=actor.role,
    ))


def _append_log(step: Step, line: StepTransition) -> None:
    """Append to the log without loading it: the step row holds the last seq and time."""
    step.log_seq = (step.log_seq or 0) + 1
    step.logged_at = line.at
    line.seq = step.log_seq
    if step.id is None:
        step.transitions.append(line)  # a step not yet flushed: its log collection is new, nothing to load
    else:
        line.step_id = step.id
        db.session.add(line)


def open_pause(step: Step, kind: str, reason: str) -> None:
    if any(p.ended_at is None for p in step.pauses):
        return  # already paused: one pause at a time (a suspension during a supplement adds nothing)
    step.pauses.append(StepPause(kind=kind, reason=reason, started_at=now()))


def close_pause(step: Step) -> None:
    for pause in step.pauses:
        if pause.ended_at is None:
            pause.ended_at = now()


def request_supplement(
    step: Step, item: Item, actor: Actor, problems: list[dict[str, str]], *, rule: str | None = None,
) -> SupplementRequest:
    """一次性告知: one request listing every problem; the clock pauses until the applicant answers."""
    at = now()
    request = SupplementRequest(
        step_id=step.id, application_id=step.application_id, problems=problems, requested_at=at,
        requested_by_id=actor.user_id, due_at=due_after(at, item.supplement_limit),
    )
    step.supplements.append(request)
    step.resume_state = step.state
    open_pause(step, "supplement", "; ".join(p["message"] for p in problems)[:1000])
    move(step, StepAction.REQUEST_SUPPLEMENT, actor, rule=rule,
         data={"problems": problems, "supplement_due_at": request.due_at})
    notify_applicant(step.application_id, "supplement_requested", f"{step.item_code}:{len(step.supplements)}")
    return request


def open_request(step: Step) -> SupplementRequest | None:
    return next((r for r in step.supplements if r.answered_at is None), None)
