"""What auditors (效能监察) measure, as pure functions: how long an application really took, in working
days with paused time apart, and which department held it up (its critical path through the item graph).

The critical path of an ended application is found backwards from the step that ended last: each step
on it started when the last of its 前置 items was approved, so the 前置 that ended last is the one that
held it back. The department "holding the application up" is the one whose steps on that path used the
most working time (time paused for 补正 or 中止 excluded: that was the applicant's or a third party's).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from workflows.calendar import WorkCalendar
from workflows.clock import Pause, Unit, counted_time

__all__ = ["Span", "critical_path", "held_up_by", "percentile", "working_days"]


@dataclass(frozen=True)
class Span:
    """One step as the critical path sees it: when its department received and decided it, and the
    working days it counted (paused time excluded) and paused."""

    item: str
    department: str
    requires: tuple[str, ...]
    received: datetime | None
    decided: datetime | None
    counted: Decimal = Decimal(0)
    paused: Decimal = Decimal(0)


def critical_path(spans: Sequence[Span]) -> list[Span]:
    """The chain of steps that decided when the application ended, first step first.

    Steps never received (terminated while waiting) are not on it. Ties on the end time go to the
    item listed first, so the answer does not depend on the order of the database rows."""
    by_item = {s.item: s for s in spans}
    ended = [s for s in spans if s.decided is not None and s.received is not None]
    if not ended:
        return []
    order = {s.item: i for i, s in enumerate(spans)}

    def last(candidates: list[Span]) -> Span:
        return max(candidates, key=lambda s: (s.decided, -order[s.item]))

    path = [last(ended)]
    seen = {path[0].item}
    while True:
        before = [by_item[r] for r in path[-1].requires
                  if r in by_item and r not in seen and by_item[r].decided is not None
                  and by_item[r].received is not None]
        if not before:
            break
        step = last(before)
        seen.add(step.item)
        path.append(step)
    path.reverse()
    return path


def held_up_by(path: Sequence[Span]) -> str | None:
    """The department whose steps on the critical path counted the most working days (ties: the later)."""
    totals: dict[str, Decimal] = {}
    for span in path:
        totals[span.department] = totals.get(span.department, Decimal(0)) + span.counted
    if not totals:
        return None
    best = max(totals.values())
    return [s.department for s in path if totals[s.department] == best][-1]


def working_days(start: datetime, end: datetime, calendar: WorkCalendar,
                 pauses: Sequence[Pause] = ()) -> tuple[Decimal, Decimal]:
    """(counted, paused) working days between start and end: the office hours that passed, with the
    pauses taken out of the first figure and given as the second. The first day counts from `start`
    (this measures time spent, not a legal limit)."""
    gross = counted_time(start, end, Unit.WORKING_DAYS, calendar, start_day_counts=True)
    if not pauses:
        return gross, Decimal(0)
    net = counted_time(start, end, Unit.WORKING_DAYS, calendar, pauses=pauses, start_day_counts=True)
    return net, gross - net


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """The continuous percentile of PostgreSQL's percentile_cont: linear interpolation between the
    two closest ranks. Used where the database has no such aggregate (SQLite reads just those two)."""
    if not sorted_values:
        return None
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be within [0, 1], got {fraction}")
    rank = fraction * (len(sorted_values) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return float(sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low))


def ranks(count: int, fraction: float) -> tuple[int, int, float]:
    """The two 0-based ranks percentile() reads and the weight of the upper one."""
    rank = fraction * (count - 1)
    return math.floor(rank), math.ceil(rank), rank - math.floor(rank)
