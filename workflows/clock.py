"""Statutory time-limit clock (办理时限): due dates, consumed time, status.

Time is always passed in; nothing here reads the system clock.

Model: every unit defines a *counting timeline*, a sequence of intervals
during which the clock runs, each with a constant rate (limit units per
microsecond):

* working days: each session of a working day is worth ``1 / len(sessions)``
  day, spread evenly over that session's minutes (so with 09-12 and 13-17,
  one hour in the morning is 1/6 day and one hour in the afternoon 1/8 day);
* working hours: session minutes of working days, one hour per hour;
* natural days: every calendar day from midnight to midnight (wall clock);
* minutes: real elapsed time.

Pauses are cut out of the timeline, which is why the due date moves by
exactly the paused time *as that unit measures it*. All arithmetic is exact
(``Fraction``); due instants are rounded *up* to the microsecond, and
consumed amounts are rounded to a precision finer than one microsecond of
counted time, so ``counted_time(start, due) == limit + extensions`` exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from workflows.calendar import DayKind, WorkCalendar

__all__ = [
    "DueDate",
    "Explanation",
    "Extension",
    "Limit",
    "Pause",
    "Status",
    "Unit",
    "compute_due",
    "counted_time",
    "remaining",
    "status",
]


class Unit(StrEnum):
    WORKING_DAYS = "working_days"
    NATURAL_DAYS = "natural_days"
    WORKING_HOURS = "working_hours"
    MINUTES = "minutes"


class Status(StrEnum):
    ON_TIME = "on_time"
    WARNING = "warning"
    OVERDUE = "overdue"
    PAUSED = "paused"


PAUSE_KINDS = frozenset({"supplement", "suspension"})

_US = timedelta(microseconds=1)
_ONE_DAY = timedelta(days=1)
_US_PER_MINUTE = 60_000_000
_US_PER_HOUR = 3_600_000_000
_US_PER_DAY = 86_400_000_000
# Limits of hours/minutes may carry this many decimals; reported amounts use
# at least 7 places for those units (see _places), so limits stay exact.
_MAX_LIMIT_PLACES = 6
# Guards against scanning forever (e.g. an open-ended span); no real limit
# comes near 30 years.
_MAX_SCAN_DAYS = 366 * 30
_WORKING_UNITS = frozenset({Unit.WORKING_DAYS, Unit.WORKING_HOURS})


def _require_aware(dt: object, what: str) -> datetime:
    if not isinstance(dt, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {dt!r}")
    return dt


def _as_amount(value: object, what: str) -> Decimal:
    # float is refused: Decimal(0.3) is not 0.3, and time limits are legal values.
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"{what} must be a Decimal (or int), got {type(value).__name__}")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"{what} must be finite, got {amount}")
    return amount


@dataclass(frozen=True)
class Limit:
    """A time limit: ``amount`` of ``unit`` (e.g. 0.5 working days)."""

    amount: Decimal
    unit: Unit

    def __post_init__(self) -> None:
        amount = _as_amount(self.amount, "limit amount")
        unit = Unit(self.unit)
        object.__setattr__(self, "amount", amount)
        object.__setattr__(self, "unit", unit)
        if amount <= 0:
            raise ValueError(f"limit amount must be positive, got {amount}")
        if unit is Unit.WORKING_DAYS and (amount * 2) % 1 != 0:
            raise ValueError(f"working-day limits must be multiples of 0.5, got {amount}")
        if unit is Unit.NATURAL_DAYS and amount % 1 != 0:
            raise ValueError(f"natural-day limits must be whole days, got {amount}")
        exponent = amount.normalize().as_tuple().exponent
        if isinstance(exponent, int) and exponent < -_MAX_LIMIT_PLACES:
            raise ValueError(f"limit amount has more than {_MAX_LIMIT_PLACES} decimal places: {amount}")


@dataclass(frozen=True)
class Pause:
    """Time that does not count: 补正 (supplement) or 中止 (suspension).

    ``end`` None means the case is still paused.
    """

    start: datetime
    end: datetime | None
    kind: str
    reason: str = ""

    def __post_init__(self) -> None:
        _require_aware(self.start, "pause start")
        if self.end is not None:
            _require_aware(self.end, "pause end")
            if self.end < self.start:
                raise ValueError(f"pause ends before it starts: {self.start} > {self.end}")
        if self.kind not in PAUSE_KINDS:
            raise ValueError(f"pause kind must be one of {sorted(PAUSE_KINDS)}, got {self.kind!r}")


@dataclass(frozen=True)
class Extension:
    """An approved extension (延期); ``amount`` must use the limit's unit."""

    amount: Limit
    reason: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Limit):
            raise TypeError("extension amount must be a Limit")


SkippedDay = tuple[date, str, str | None]


@dataclass(frozen=True)
class Explanation:
    """Everything needed to justify a due date to an applicant or auditor.

    Datetimes are in the calendar's time zone. ``skipped_days`` lists the
    weekends and holidays inside the counted span that did not count (only
    for working units; natural units count every day). ``paused`` is the
    counted time that fell inside pauses, measured as the unit measures time
    (working time for working units); ``paused_amount`` is the same in the
    limit's unit.
    """

    start: datetime
    counting_starts: datetime
    unit: Unit
    limit: Decimal
    extensions: Decimal
    due: datetime | None
    provisional: bool
    skipped_days: tuple[SkippedDay, ...]
    pauses: tuple[Pause, ...]
    paused: timedelta
    paused_amount: Decimal
    start_day_counts: bool = False
    makeup_days: tuple[tuple[date, str | None], ...] = ()
    extension_items: tuple[Extension, ...] = ()
    provisional_years: tuple[int, ...] = ()
    # Set only while paused (due is None): what is left once the case resumes.
    remaining_at_pause: Decimal | None = None

    @property
    def total(self) -> Decimal:
        return self.limit + self.extensions

    def lines(self, lang: str = "zh") -> list[str]:
        if lang == "zh":
            return _lines_zh(self)
        if lang == "en":
            return _lines_en(self)
        raise ValueError(f"unsupported language {lang!r}; use 'zh' or 'en'")


@dataclass(frozen=True)
class DueDate:
    """``due`` is None while an open pause prevents knowing it."""

    due: datetime | None
    explanation: Explanation
    provisional: bool


# --------------------------------------------------------------------------
# Counting timeline
# --------------------------------------------------------------------------

# [start, end) during which the clock runs, and limit units per microsecond.
_Piece = tuple[datetime, datetime, Fraction]
_Interval = tuple[datetime, datetime | None]


def _us(td: timedelta) -> int:
    return td // _US


class _Timeline:
    def __init__(self, unit: Unit, calendar: WorkCalendar, start: datetime, start_day_counts: bool) -> None:
        self.unit = unit
        self.calendar = calendar
        # Minutes are real elapsed time, so they live on UTC; everything else
        # is defined by the local wall clock (dates, office hours).
        self.tz: tzinfo = UTC if unit is Unit.MINUTES else calendar.tz
        self.start = start.astimezone(self.tz)
        self.start_local = start.astimezone(calendar.tz)
        self.origin = self._origin(start_day_counts)
        self.places = _places(unit, calendar)

    def _origin(self, start_day_counts: bool) -> datetime:
        cal = self.calendar
        if self.unit is Unit.WORKING_DAYS and not start_day_counts:
            first = cal.next_working_day(self.start_local.date())
            return datetime.combine(first, cal.sessions[0].start, tzinfo=cal.tz)
        if self.unit is Unit.NATURAL_DAYS and not start_day_counts:
            return datetime.combine(self.start_local.date() + _ONE_DAY, time(0), tzinfo=cal.tz)
        return self.start

    def local(self, dt: datetime) -> datetime:
        return dt.astimezone(self.tz)

    def segments(self) -> Iterator[_Piece]:
        origin = self.origin
        if self.unit is Unit.MINUTES:
            rate = Fraction(1, _US_PER_MINUTE)
            for k in range(_MAX_SCAN_DAYS):
                yield origin + k * _ONE_DAY, origin + (k + 1) * _ONE_DAY, rate
        elif self.unit is Unit.NATURAL_DAYS:
            tz = self.calendar.tz
            d = origin.date()
            for _ in range(_MAX_SCAN_DAYS):
                nxt = d + _ONE_DAY
                a = datetime.combine(d, time(0), tzinfo=tz)
                b = datetime.combine(nxt, time(0), tzinfo=tz)
                yield max(a, origin), b, Fraction(1, _us(b - a))
                d = nxt
        else:
            yield from self._working_segments()
            return
        raise ValueError(f"time span exceeds {_MAX_SCAN_DAYS} days")

    def _working_segments(self) -> Iterator[_Piece]:
        cal = self.calendar
        tz = cal.tz
        origin = self.origin
        rates = _session_rates(self.unit, cal)
        d = origin.date()
        for _ in range(_MAX_SCAN_DAYS):
            if cal.is_working_day(d):
                for session, rate in zip(cal.sessions, rates, strict=True):
                    b = datetime.combine(d, session.end, tzinfo=tz)
                    if b <= origin:
                        continue
                    a = datetime.combine(d, session.start, tzinfo=tz)
                    yield max(a, origin), b, rate
            d += _ONE_DAY
        raise ValueError(f"time span exceeds {_MAX_SCAN_DAYS} days")

    def pieces(self, merged_pauses: Sequence[_Interval]) -> Iterator[_Piece]:
        """Timeline segments minus pauses; stops for good at an open pause."""
        i = 0
        n = len(merged_pauses)
        for seg_start, seg_end, rate in self.segments():
            cur = seg_start
            while cur < seg_end:
                while i < n:
                    p_end = merged_pauses[i][1]
                    if p_end is None or p_end > cur:
                        break
                    i += 1
                if i == n or merged_pauses[i][0] >= seg_end:
                    yield cur, seg_end, rate
                    break
                p_start, p_end = merged_pauses[i]
                if p_start > cur:
                    yield cur, p_start, rate
                if p_end is None:
                    return
                cur = max(cur, p_end)

    def merge(self, pauses: Sequence[Pause]) -> list[_Interval]:
        """Union of pause intervals, so overlaps are never subtracted twice."""
        items = sorted(
            ((self.local(p.start), None if p.end is None else self.local(p.end)) for p in pauses),
            key=lambda iv: iv[0],
        )
        merged: list[_Interval] = []
        for s, e in items:
            if merged:
                last_s, last_e = merged[-1]
                if last_e is None:
                    break
                if s <= last_e:
                    merged[-1] = (last_s, None if e is None else max(last_e, e))
                    continue
            merged.append((s, e))
        return merged


def _session_rates(unit: Unit, cal: WorkCalendar) -> tuple[Fraction, ...]:
    if unit is Unit.WORKING_HOURS:
        return tuple(Fraction(1, _US_PER_HOUR) for _ in cal.sessions)
    n = len(cal.sessions)
    return tuple(Fraction(1, n * _us(s.length)) for s in cal.sessions)


def _places(unit: Unit, cal: WorkCalendar) -> int:
    """Decimal places for reported amounts.

    The finest precision at which one microsecond of counted time is still
    under half a unit in the last place, so the microsecond rounding of the
    due instant never shows up in ``counted_time``. This gives 10 places for
    working and natural days, 9 for hours and 7 for minutes, enough to hold
    any valid limit exactly.
    """
    if unit in _WORKING_UNITS:
        max_rate = max(_session_rates(unit, cal))
    elif unit is Unit.NATURAL_DAYS:
        # 23 hours covers a DST spring-forward day in zones that have one.
        max_rate = Fraction(1, 23 * _US_PER_HOUR)
    else:
        max_rate = Fraction(1, _US_PER_MINUTE)
    places = 0
    while Fraction(1, 10 ** (places + 1)) > 2 * max_rate:
        places += 1
    return places


def _sum_until(pieces: Iterator[_Piece], until: datetime) -> tuple[Fraction, int]:
    """(units, microseconds) counted on ``pieces`` before ``until``."""
    units = Fraction(0)
    micros = 0
    for a, b, rate in pieces:
        if a >= until:
            break
        n = _us(min(b, until) - a)
        units += rate * n
        micros += n
    return units, micros


def _find_due(pieces: Iterator[_Piece], target: Fraction) -> datetime | None:
    """Earliest microsecond at which ``target`` units have been counted."""
    acc = Fraction(0)
    for a, b, rate in pieces:
        gain = rate * _us(b - a)
        if acc + gain >= target:
            return a + timedelta(microseconds=math.ceil((target - acc) / rate))
        acc += gain
    return None


def _to_decimal(value: Fraction, places: int) -> Decimal:
    scaled = round(value * 10**places)
    return _clean(Decimal(f"{scaled}e-{places}"))


def _clean(d: Decimal) -> Decimal:
    if d == d.to_integral_value():
        return d.quantize(Decimal(1))
    return d.normalize()


# --------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------


def _check_common(start: datetime, calendar: WorkCalendar, pauses: Sequence[Pause]) -> None:
    _require_aware(start, "start")
    if not isinstance(calendar, WorkCalendar):
        raise TypeError("calendar must be a WorkCalendar")
    for p in pauses:
        if not isinstance(p, Pause):
            raise TypeError(f"pauses must be Pause instances, got {p!r}")
        if p.start < start:
            raise ValueError(f"pause starts before the case start: {p.start} < {start}")


def _total(limit: Limit, extensions: Sequence[Extension]) -> Decimal:
    if not isinstance(limit, Limit):
        raise TypeError("limit must be a Limit")
    total = limit.amount
    for ext in extensions:
        if not isinstance(ext, Extension):
            raise TypeError(f"extensions must be Extension instances, got {ext!r}")
        if ext.amount.unit is not limit.unit:
            raise ValueError(f"extension unit {ext.amount.unit} differs from the limit's unit {limit.unit}")
        total += ext.amount.amount
    return total


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def compute_due(
    start: datetime,
    limit: Limit,
    calendar: WorkCalendar,
    *,
    pauses: Sequence[Pause] = (),
    extensions: Sequence[Extension] = (),
    start_day_counts: bool = False,
) -> DueDate:
    """Due instant of ``limit`` (+ ``extensions``) counted from ``start``.

    Days-based limits skip the day of acceptance unless ``start_day_counts``;
    hours and minutes always count from the start instant. A pause that is
    still open makes ``due`` None, unless the limit was already reached
    before that pause began.
    """
    _check_common(start, calendar, pauses)
    total = _total(limit, extensions)
    unit = limit.unit
    tl = _Timeline(unit, calendar, start, start_day_counts)
    merged = tl.merge(pauses)

    due = _find_due(tl.pieces(merged), Fraction(total))
    counting_starts = next(tl.segments())[0]

    if due is not None:
        horizon = due
        remaining_at_pause = None
    else:
        open_start = merged[-1][0]  # only an open pause can stop the search
        horizon = max(open_start, counting_starts)
        counted_units, _ = _sum_until(tl.pieces(merged), horizon)
        remaining_at_pause = _clean(total - _to_decimal(counted_units, tl.places))

    full_units, full_us = _sum_until(tl.segments(), horizon)
    net_units, net_us = _sum_until(tl.pieces(merged), horizon)

    tz = calendar.tz
    horizon_day = horizon.astimezone(tz).date()
    skipped: tuple[SkippedDay, ...] = ()
    makeups: tuple[tuple[date, str | None], ...] = ()
    provisional_years: tuple[int, ...] = ()
    if unit in _WORKING_UNITS:
        first_day = tl.start_local.date()
        if unit is Unit.WORKING_DAYS and not start_day_counts:
            first_day += _ONE_DAY
        skipped, makeups = _span_days(calendar, first_day, horizon_day)
        last_examined = max(horizon_day, counting_starts.astimezone(tz).date())
        provisional_years = calendar.unknown_years(tl.start_local.date(), last_examined)
    provisional = bool(provisional_years)

    explanation = Explanation(
        start=tl.start_local,
        counting_starts=counting_starts.astimezone(tz),
        unit=unit,
        limit=_clean(limit.amount),
        extensions=_clean(total - limit.amount),
        due=None if due is None else due.astimezone(tz),
        provisional=provisional,
        skipped_days=skipped,
        pauses=tuple(sorted(pauses, key=lambda p: p.start)),
        paused=timedelta(microseconds=full_us - net_us),
        paused_amount=_to_decimal(full_units - net_units, tl.places),
        start_day_counts=start_day_counts,
        makeup_days=makeups,
        extension_items=tuple(extensions),
        provisional_years=provisional_years,
        remaining_at_pause=remaining_at_pause,
    )
    return DueDate(due=explanation.due, explanation=explanation, provisional=provisional)


def _span_days(
    calendar: WorkCalendar, first: date, last: date
) -> tuple[tuple[SkippedDay, ...], tuple[tuple[date, str | None], ...]]:
    skipped: list[SkippedDay] = []
    makeups: list[tuple[date, str | None]] = []
    d = first
    while d <= last:
        kind = calendar.day_kind(d)
        if kind in (DayKind.WEEKEND, DayKind.HOLIDAY):
            skipped.append((d, kind, calendar.holiday_name(d)))
        elif kind == DayKind.MAKEUP_WORKDAY:
            makeups.append((d, calendar.makeup_for(d)))
        d += _ONE_DAY
    return tuple(skipped), tuple(makeups)


def counted_time(
    start: datetime,
    end: datetime,
    limit_unit: Unit,
    calendar: WorkCalendar,
    *,
    pauses: Sequence[Pause] = (),
    start_day_counts: bool = False,
) -> Decimal:
    """How much of a ``limit_unit`` limit has been used between start and end.

    Open pauses are treated as lasting beyond ``end``.
    """
    _check_common(start, calendar, pauses)
    _require_aware(end, "end")
    if end < start:
        raise ValueError(f"end is before start: {end} < {start}")
    tl = _Timeline(Unit(limit_unit), calendar, start, start_day_counts)
    units, _ = _sum_until(tl.pieces(tl.merge(pauses)), tl.local(end))
    return _to_decimal(units, tl.places)


def remaining(
    start: datetime,
    limit: Limit,
    calendar: WorkCalendar,
    at: datetime,
    *,
    pauses: Sequence[Pause] = (),
    extensions: Sequence[Extension] = (),
    start_day_counts: bool = False,
) -> Decimal:
    """Limit + extensions minus time used at ``at``; negative once overdue."""
    total = _total(limit, extensions)
    used = counted_time(start, at, limit.unit, calendar, pauses=pauses, start_day_counts=start_day_counts)
    return _clean(total - used)


def status(
    start: datetime,
    limit: Limit,
    calendar: WorkCalendar,
    at: datetime,
    *,
    pauses: Sequence[Pause] = (),
    extensions: Sequence[Extension] = (),
    start_day_counts: bool = False,
    warn_remaining: Decimal | None = None,
) -> Status:
    """Status at ``at``.

    OVERDUE once more than the limit has been used (it stays overdue while
    paused: pausing does not cure lateness), else PAUSED while ``at`` is inside
    a pause, else WARNING when at most ``warn_remaining`` is left (default: 1
    working day for working-day limits, otherwise 20% of limit+extensions).
    """
    left = remaining(
        start, limit, calendar, at, pauses=pauses, extensions=extensions, start_day_counts=start_day_counts
    )
    if left < 0:
        return Status.OVERDUE
    for p in pauses:
        if p.start <= at and (p.end is None or at < p.end):
            return Status.PAUSED
    if warn_remaining is None:
        if limit.unit is Unit.WORKING_DAYS:
            threshold = Decimal(1)
        else:
            threshold = _total(limit, extensions) * Decimal("0.2")
    else:
        threshold = _as_amount(warn_remaining, "warn_remaining")
        if threshold < 0:
            raise ValueError(f"warn_remaining must not be negative, got {threshold}")
    return Status.WARNING if left <= threshold else Status.ON_TIME


# --------------------------------------------------------------------------
# Human-readable explanation
# --------------------------------------------------------------------------

_UNIT_ZH = {
    Unit.WORKING_DAYS: "个工作日",
    Unit.NATURAL_DAYS: "个自然日",
    Unit.WORKING_HOURS: "个工作小时",
    Unit.MINUTES: "分钟",
}
_UNIT_EN = {
    Unit.WORKING_DAYS: ("working day", "working days"),
    Unit.NATURAL_DAYS: ("natural day", "natural days"),
    Unit.WORKING_HOURS: ("working hour", "working hours"),
    Unit.MINUTES: ("minute", "minutes"),
}
_KIND_ZH = {DayKind.HOLIDAY: "法定节假日", DayKind.WEEKEND: "周末"}
_KIND_EN = {DayKind.HOLIDAY: "public holiday", DayKind.WEEKEND: "weekend"}
_PAUSE_ZH = {"supplement": "补正", "suspension": "中止"}
_PAUSE_EN = {"supplement": "supplement", "suspension": "suspension"}


def _fmt_dt(dt: datetime) -> str:
    # Seconds when there are any; fractions of a second mean nothing to the people reading this.
    return dt.strftime("%Y-%m-%d %H:%M:%S" if dt.second else "%Y-%m-%d %H:%M")


def _qty_zh(amount: Decimal, unit: Unit) -> str:
    return f"{_clean(amount)} {_UNIT_ZH[unit]}"


def _qty_en(amount: Decimal, unit: Unit) -> str:
    singular, plural = _UNIT_EN[unit]
    return f"{_clean(amount)} {singular if amount == 1 else plural}"


def _runs(days: Sequence[SkippedDay]) -> list[tuple[date, date, str, str | None]]:
    """Group consecutive days of the same kind and name (e.g. a 7-day holiday)."""
    runs: list[tuple[date, date, str, str | None]] = []
    for d, kind, name in days:
        if runs:
            first, last, r_kind, r_name = runs[-1]
            if d == last + _ONE_DAY and (kind, name) == (r_kind, r_name):
                runs[-1] = (first, d, kind, name)
                continue
        runs.append((d, d, kind, name))
    return runs


def _is_midnight(dt: datetime) -> bool:
    return dt.time() == time(0)


def _lines_zh(e: Explanation) -> list[str]:
    u = e.unit
    out = [f"受理时间：{_fmt_dt(e.start)}", f"办理时限：{_qty_zh(e.limit, u)}"]
    if e.extension_items:
        reasons = "；".join(x.reason for x in e.extension_items if x.reason)
        suffix = f"（{reasons}）" if reasons else ""
        out.append(f"延长时限：{_qty_zh(e.extensions, u)}{suffix}，合计 {_qty_zh(e.total, u)}")
    note = ""
    if not e.start_day_counts and u is Unit.WORKING_DAYS:
        note = "（受理当日不计入，自下一个工作日起算）"
    elif not e.start_day_counts and u is Unit.NATURAL_DAYS:
        note = "（受理当日不计入，自次日零时起算）"
    out.append(f"计时起点：{_fmt_dt(e.counting_starts)}{note}")
    if u is Unit.NATURAL_DAYS:
        out.append("按自然日计算，周末和法定节假日照常计入")
    elif u is Unit.MINUTES:
        out.append("按自然时间（分钟）计算")
    if e.skipped_days:
        parts = []
        for first, last, kind, name in _runs(e.skipped_days):
            span = first.isoformat() if first == last else f"{first.isoformat()} 至 {last.isoformat()}"
            label = f"{name}（{_KIND_ZH[kind]}）" if name else f"（{_KIND_ZH[kind]}）"
            parts.append(f"{span} {label}" if name else f"{span}{label}")
        out.append("不计入的非工作日：" + "；".join(parts))
    if e.makeup_days:
        parts = [
            f"{d.isoformat()}（{name}调休）" if name else f"{d.isoformat()}（调休）"
            for d, name in e.makeup_days
        ]
        out.append("计入的调休上班日：" + "；".join(parts))
    for p in e.pauses:
        end = f"至 {_fmt_dt(p.end.astimezone(e.start.tzinfo))}" if p.end else "起，尚未恢复"
        reason = f"；原因：{p.reason}" if p.reason else ""
        out.append(
            f"暂停计时（{_PAUSE_ZH[p.kind]}）：{_fmt_dt(p.start.astimezone(e.start.tzinfo))} {end}{reason}"
        )
    if e.paused:
        out.append(f"暂停期间不计入时限，共 {_qty_zh(e.paused_amount, u)}，到期时间相应顺延")
    if e.due is None:
        left = f"，恢复后剩余 {_qty_zh(e.remaining_at_pause, u)}" if e.remaining_at_pause is not None else ""
        out.append(f"当前处于暂停状态，到期时间待恢复计时后确定{left}")
    else:
        tail = ""
        if u is Unit.NATURAL_DAYS and _is_midnight(e.due):
            tail = f"（即 {(e.due.date() - _ONE_DAY).isoformat()} 24:00）"
        out.append(f"到期时间：{_fmt_dt(e.due)}{tail}")
    if e.provisional:
        years = "、".join(str(y) for y in e.provisional_years)
        out.append(f"注意：尚无 {years} 年节假日安排，暂按周末双休推算，结果为暂定")
    return out


def _lines_en(e: Explanation) -> list[str]:
    u = e.unit
    out = [f"Accepted: {_fmt_dt(e.start)}", f"Time limit: {_qty_en(e.limit, u)}"]
    if e.extension_items:
        reasons = "; ".join(x.reason for x in e.extension_items if x.reason)
        suffix = f" ({reasons})" if reasons else ""
        out.append(f"Extended by {_qty_en(e.extensions, u)}{suffix}, total {_qty_en(e.total, u)}")
    note = ""
    if not e.start_day_counts and u is Unit.WORKING_DAYS:
        note = " (day of acceptance not counted; counting starts on the next working day)"
    elif not e.start_day_counts and u is Unit.NATURAL_DAYS:
        note = " (day of acceptance not counted; counting starts at midnight)"
    out.append(f"Counting starts: {_fmt_dt(e.counting_starts)}{note}")
    if u is Unit.NATURAL_DAYS:
        out.append("Natural days: weekends and public holidays count")
    elif u is Unit.MINUTES:
        out.append("Counted in elapsed minutes")
    if e.skipped_days:
        parts = []
        for first, last, kind, name in _runs(e.skipped_days):
            span = first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"
            label = f"{name} ({_KIND_EN[kind]})" if name else f"({_KIND_EN[kind]})"
            parts.append(f"{span} {label}")
        out.append("Non-working days not counted: " + "; ".join(parts))
    if e.makeup_days:
        parts = [
            f"{d.isoformat()} (make-up for {name})" if name else f"{d.isoformat()} (make-up)"
            for d, name in e.makeup_days
        ]
        out.append("Make-up working days counted: " + "; ".join(parts))
    for p in e.pauses:
        end = f"to {_fmt_dt(p.end.astimezone(e.start.tzinfo))}" if p.end else "onwards, not yet resumed"
        reason = f"; reason: {p.reason}" if p.reason else ""
        out.append(
            f"Paused ({_PAUSE_EN[p.kind]}): {_fmt_dt(p.start.astimezone(e.start.tzinfo))} {end}{reason}"
        )
    if e.paused:
        out.append(f"Paused time not counted: {_qty_en(e.paused_amount, u)}; the due date moves accordingly")
    if e.due is None:
        left = (
            f"; {_qty_en(e.remaining_at_pause, u)} left on resumption"
            if e.remaining_at_pause is not None
            else ""
        )
        out.append(f"Currently paused: due date is set when counting resumes{left}")
    else:
        tail = ""
        if u is Unit.NATURAL_DAYS and _is_midnight(e.due):
            tail = f" (i.e. end of {(e.due.date() - _ONE_DAY).isoformat()})"
        out.append(f"Due: {_fmt_dt(e.due)}{tail}")
    if e.provisional:
        years = ", ".join(str(y) for y in e.provisional_years)
        out.append(f"Provisional: no holiday arrangement for {years} yet; weekends only were skipped")
    return out
