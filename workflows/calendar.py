"""Working-day calendar for time-limit (办理时限) computations.

A day is a working day if it is a listed make-up working day (调休上班), else
if it is not a listed holiday and falls on Monday-Friday. The holiday lists
are only trusted for ``known_years``; any other year falls back to
weekends-only, and callers must flag answers touching it as provisional.

Pure Python: no I/O, no system clock.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

__all__ = [
    "DEFAULT_SESSIONS",
    "DayKind",
    "Session",
    "WorkCalendar",
]

_ONE_DAY = timedelta(days=1)
# The longest official break is 8-9 days; this bound only guards against a
# calendar configured with no working days at all.
_MAX_SCAN_DAYS = 366 * 2


class DayKind:
    """String constants returned by :meth:`WorkCalendar.day_kind`."""

    WORKDAY = "workday"
    MAKEUP_WORKDAY = "makeup_workday"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"


@dataclass(frozen=True)
class Session:
    """One office-hours session, e.g. 09:00-12:00, in the calendar's tz."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("session times must be naive (the calendar's tz applies)")
        if not self.start < self.end:
            raise ValueError(f"session must start before it ends: {self.start}-{self.end}")

    @property
    def length(self) -> timedelta:
        return _as_delta(self.end) - _as_delta(self.start)


def _as_delta(t: time) -> timedelta:
    return timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond)


DEFAULT_SESSIONS: tuple[Session, ...] = (
    Session(time(9), time(12)),
    Session(time(13), time(17)),
)


def _plain_date(d: date, what: str) -> date:
    # datetime is a subclass of date but never equal to one, so dict lookups
    # with a datetime would silently miss every holiday.
    if isinstance(d, datetime):
        raise TypeError(f"{what} must be a date, not a datetime: {d!r}")
    if not isinstance(d, date):
        raise TypeError(f"{what} must be a date: {d!r}")
    return d


def _is_weekend(d: date) -> bool:
    return d.weekday() >= 5


class WorkCalendar:
    """Holiday arrangement plus office hours.

    ``holidays`` maps a date to the holiday's name; ``makeup_workdays`` maps a
    weekend date that is worked to the name of the holiday it compensates.
    Entries outside ``known_years`` are ignored: a year is either vouched for
    as a whole or treated as weekends-only (and provisional), so a year whose
    arrangement is only partly entered never yields a half-right answer.
    """

    tz: ZoneInfo
    sessions: tuple[Session, ...]

    def __init__(
        self,
        *,
        holidays: Mapping[date, str],
        makeup_workdays: Mapping[date, str],
        known_years: Iterable[int],
        sessions: Sequence[Session] = DEFAULT_SESSIONS,
        tz: str = "Asia/Shanghai",
    ) -> None:
        self.tz = ZoneInfo(tz)
        self.sessions = _validate_sessions(sessions)
        self._known_years = frozenset(int(y) for y in known_years)

        self._holidays = self._known_entries(holidays, "holiday")
        self._makeups = self._known_entries(makeup_workdays, "make-up workday")
        both = sorted(self._holidays.keys() & self._makeups.keys())
        if both:
            raise ValueError(f"dates listed as both holiday and make-up workday: {both}")

        # Only the dates that change the Monday-Friday answer matter for
        # counting, so working_days_between can use arithmetic plus bisection.
        self._weekday_holidays = sorted(d for d in self._holidays if not _is_weekend(d))
        self._weekend_makeups = sorted(d for d in self._makeups if _is_weekend(d))

    def _known_entries(self, entries: Mapping[date, str], what: str) -> dict[date, str]:
        result: dict[date, str] = {}
        for d, name in entries.items():
            d = _plain_date(d, f"{what} key")
            if d.year in self._known_years:
                result[d] = str(name)
        return result

    def __repr__(self) -> str:
        years = sorted(self._known_years)
        span = f"{years[0]}-{years[-1]}" if years else "none"
        return f"WorkCalendar(known_years={span}, sessions={len(self.sessions)}, tz={self.tz.key!r})"

    @property
    def known_years(self) -> frozenset[int]:
        return self._known_years

    def is_known(self, year: int) -> bool:
        return year in self._known_years

    def unknown_years(self, a: date, b: date) -> tuple[int, ...]:
        """Years in [a, b] (either order) the calendar has no arrangement for."""
        lo, hi = sorted((a.year, b.year))
        return tuple(y for y in range(lo, hi + 1) if y not in self._known_years)

    def is_working_day(self, d: date) -> bool:
        d = _plain_date(d, "d")
        if d in self._makeups:
            return True
        return not _is_weekend(d) and d not in self._holidays

    def day_kind(self, d: date) -> str:
        """One of "workday", "makeup_workday", "weekend", "holiday"."""
        d = _plain_date(d, "d")
        if d in self._makeups:
            return DayKind.MAKEUP_WORKDAY
        if d in self._holidays:
            return DayKind.HOLIDAY
        return DayKind.WEEKEND if _is_weekend(d) else DayKind.WORKDAY

    def holiday_name(self, d: date) -> str | None:
        return self._holidays.get(_plain_date(d, "d"))

    def makeup_for(self, d: date) -> str | None:
        """Name of the holiday a make-up working day compensates, if it is one."""
        return self._makeups.get(_plain_date(d, "d"))

    def next_working_day(self, d: date) -> date:
        """First working day strictly after ``d``."""
        d = _plain_date(d, "d")
        for _ in range(_MAX_SCAN_DAYS):
            d += _ONE_DAY
            if self.is_working_day(d):
                return d
        raise ValueError(f"no working day within {_MAX_SCAN_DAYS} days after {d}")

    def working_days_between(self, a: date, b: date) -> int:
        """Number of working days in (a, b]; 0 when b <= a."""
        a = _plain_date(a, "a")
        b = _plain_date(b, "b")
        if b <= a:
            return 0
        count = _weekdays_upto(b) - _weekdays_upto(a)
        count -= _count_in(self._weekday_holidays, a, b)
        count += _count_in(self._weekend_makeups, a, b)
        return count


def _weekdays_upto(d: date) -> int:
    """Monday-Friday dates in (epoch, d] for a fixed epoch; only differences matter."""
    n = d.toordinal()  # ordinal 1 (0001-01-01) is a Monday
    full_weeks, rest = divmod(n, 7)
    return full_weeks * 5 + min(rest, 5)


def _count_in(sorted_dates: list[date], a: date, b: date) -> int:
    """Dates in (a, b]."""
    return bisect_right(sorted_dates, b) - bisect_right(sorted_dates, a)


def _validate_sessions(sessions: Sequence[Session]) -> tuple[Session, ...]:
    result = tuple(sessions)
    if not result:
        raise ValueError("at least one office-hours session is required")
    for s in result:
        if not isinstance(s, Session):
            raise TypeError(f"sessions must be Session instances: {s!r}")
    for prev, cur in pairwise(result):
        # Adjacent sessions (12:00-12:00) are fine; overlap or reversed order is
        # a configuration error that would double-count working time.
        if cur.start < prev.end:
            raise ValueError(
                f"sessions overlap or are out of order: {prev.start}-{prev.end} then {cur.start}-{cur.end}"
            )
    return result
