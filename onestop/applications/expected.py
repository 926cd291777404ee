"""Expected completion dates for the pages: the pure forecast of workflows.expected, fed from the database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from onestop.applications import engine
from onestop.applications.models import Application, Step
from onestop.catalog.operations import bundle_of_application
from onestop.clocks.operations import work_calendar
from onestop.core.clock import now
from workflows.catalog.schema import Bundle
from workflows.clock import compute_due, remaining
from workflows.expected import Forecast, KnownStep, forecast
from workflows.states import PAUSED_STEP_STATES


def _left_at_pause(step: Step) -> Decimal | None:
    if step.step_state not in PAUSED_STEP_STATES or step.clock_start is None:
        return None
    due = compute_due(step.clock_start, engine.limit_of(step), work_calendar(), pauses=engine.pauses_of(step),
                      extensions=engine.extensions_of(step), start_day_counts=step.start_day_counts)
    return due.explanation.remaining_at_pause


def application_forecast(application: Application) -> Forecast:
    bundle = bundle_of_application(application)
    known = {
        s.item_code: KnownStep(state=s.step_state, clock_start=s.clock_start,
                               due_at=s.due_at if s.is_open else None, decided_at=s.decided_at,
                               remaining=_left_at_pause(s))
        for s in application.steps
    }
    return forecast(bundle, application.answer_map, _minute(), work_calendar(), known)


def form_forecast(bundle: Bundle, answers: Mapping[str, Any]) -> Forecast:
    """If the form were submitted now."""
    return forecast(bundle, answers, _minute(), work_calendar())


def _minute() -> datetime:
    """An estimate starts from this minute: seconds would only clutter its explanation."""
    return now().replace(second=0, microsecond=0)


@dataclass(frozen=True)
class TimeLeft:
    amount: Decimal  # in the step's limit unit; negative once overdue
    unit: str
    overdue: bool


def time_left(step: Step) -> TimeLeft | None:
    """What is left of the step's limit now (None before its clock starts or once it has ended)."""
    if step.clock_start is None or not step.is_open:
        return None
    left = remaining(step.clock_start, engine.limit_of(step), work_calendar(), now(), pauses=engine.pauses_of(step),
                     extensions=engine.extensions_of(step), start_day_counts=step.start_day_counts)
    return TimeLeft(left, step.limit_unit, left < 0)
