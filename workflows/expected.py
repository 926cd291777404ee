"""The expected completion date of an application, from the item graph and the calendar.

Each item is forecast in the order of the graph: an item decided has ended; an item whose clock runs ends
at its due date; an item paused for the applicant ends its remaining limit after resuming now; an item
not started yet starts when the latest of its 前置 items ends (or now) and takes its promised limit. The
application is expected to end when its last item does, and the chain of items that leads there (the
critical path) explains the date. Nothing here reads the clock: `now` is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from workflows.calendar import WorkCalendar
from workflows.catalog.schema import Bundle
from workflows.clock import DueDate, Limit, compute_due
from workflows.measures import levels
from workflows.routing import applicable_items
from workflows.states import PAUSED_STEP_STATES, TERMINAL_STEP_STATES, StepState

Basis = Literal["decided", "due", "paused", "estimated"]


@dataclass(frozen=True)
class KnownStep:
    """What the application knows of an item's step (all datetimes aware)."""

    state: StepState
    clock_start: datetime | None = None
    due_at: datetime | None = None
    decided_at: datetime | None = None
    remaining: Decimal | None = None  # paused steps: the limit left when the clock resumes


@dataclass(frozen=True)
class ItemForecast:
    item: str
    starts: datetime
    ends: datetime
    basis: Basis
    after: str | None  # the 前置 item whose end this item waits for (None: starts at once)
    waits_for_applicant: bool  # the item first waits for the applicant (e.g. filing after a notice)
    due: DueDate | None  # the computation behind an estimated or paused end, for its explanation


@dataclass(frozen=True)
class Forecast:
    ends: datetime | None
    items: tuple[ItemForecast, ...]
    critical_path: tuple[str, ...]  # from the first item to the last one to end
    provisional: bool  # some date falls in a year whose holiday arrangement is not loaded
    paused: bool  # some item waits for the applicant or is suspended: the date moves with it

    def item(self, code: str) -> ItemForecast:
        return next(i for i in self.items if i.item == code)


def forecast(
    bundle: Bundle,
    answers: Mapping[str, Any],
    now: datetime,
    calendar: WorkCalendar,
    steps: Mapping[str, KnownStep] | None = None,
) -> Forecast:
    """Forecast every item of an application (or, with no steps, of a form about to be submitted)."""
    steps = steps or {}
    considered = set(steps) if steps else set(applicable_items(bundle, answers))
    results: dict[str, ItemForecast] = {}
    provisional = False
    paused = False
    for stage in levels(bundle):
        for code in stage:
            if code not in considered:
                continue
            item = bundle.item(code)
            step = steps.get(code)
            prior = [results[r] for r in item.requires if r in results]
            latest = max(prior, key=lambda f: f.ends, default=None)
            start = max(now, latest.ends) if latest is not None else now
            after = latest.item if latest is not None else None
            waits = item.await_applicant is not None
            if step is not None and step.state in TERMINAL_STEP_STATES and step.decided_at is not None:
                results[code] = ItemForecast(code, step.clock_start or step.decided_at, step.decided_at,
                                             "decided", after, False, None)
                continue
            if step is not None and step.state not in PAUSED_STEP_STATES and step.due_at is not None:
                results[code] = ItemForecast(code, step.clock_start or start, step.due_at, "due", after,
                                             False, None)
                continue
            if step is not None and step.state in PAUSED_STEP_STATES and step.remaining is not None:
                # Paused: what is left of the limit counts again from the moment it resumes (now, at best).
                paused = True
                due = compute_due(now, Limit(max(step.remaining, Decimal("0.01")), item.limit.unit), calendar,
                                  start_day_counts=True)
                assert due.due is not None
                provisional = provisional or due.provisional
                results[code] = ItemForecast(code, now, due.due, "paused", None, False, due)
                continue
            if step is not None and step.state is StepState.SUPPLEMENT:
                paused = True  # waiting for the applicant before the clock started
            if step is not None and step.clock_start is not None:
                start = step.clock_start
            due = compute_due(start, Limit(item.limit.amount, item.limit.unit), calendar,
                              start_day_counts=item.start_day_counts)
            assert due.due is not None  # no pauses were given
            provisional = provisional or due.provisional
            paused = paused or waits
            results[code] = ItemForecast(code, start, due.due, "estimated", after, waits, due)
    ordered = tuple(results[i.code] for i in bundle.items if i.code in results)
    if not ordered:
        return Forecast(None, (), (), False, False)
    last = max(ordered, key=lambda f: f.ends)
    path = [last.item]
    while results[path[-1]].after is not None:
        path.append(results[path[-1]].after)  # type: ignore[arg-type]
    return Forecast(last.ends, ordered, tuple(reversed(path)), provisional, paused)
