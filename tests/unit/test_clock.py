"""The statutory clock: due dates, pauses, extensions, status, explanations."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from chinese_calendar.constants import Holiday
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.calendar import Session, WorkCalendar
from workflows.clock import (
    Extension,
    Limit,
    Pause,
    Status,
    Unit,
    compute_due,
    counted_time,
    remaining,
    status,
)

SH = ZoneInfo("Asia/Shanghai")
WD, ND, WH, MIN = Unit.WORKING_DAYS, Unit.NATURAL_DAYS, Unit.WORKING_HOURS, Unit.MINUTES


def build_calendar() -> WorkCalendar:
    """The official arrangement as shipped by chinesecalendar (holiday names in Chinese)."""
    zh = {h.value: h.chinese for h in Holiday}
    return WorkCalendar(
        holidays={d: zh.get(n, n) for d, n in chinese_calendar.holidays.items()},
        makeup_workdays={d: zh.get(n, n) for d, n in chinese_calendar.workdays.items()},
        known_years=range(2004, 2027),
    )


CAL = build_calendar()


def at(y: int, m: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, s, tzinfo=SH)


def lim(amount: str | int, unit: Unit) -> Limit:
    return Limit(Decimal(amount), unit)


def due_of(start: datetime, limit: Limit, **kw: object) -> datetime | None:
    return compute_due(start, limit, CAL, **kw).due  # type: ignore[arg-type]


# 2026-03-02 is a Monday in an ordinary week; 2026-03-06 a Friday.
MON = at(2026, 3, 2, 10)


# ---------------------------------------------------------------- working days


def test_five_working_days_over_national_day_2026() -> None:
    result = compute_due(at(2026, 9, 29, 10), lim(5, WD), CAL)
    # 09-30, 10-08, 10-09, 10-10 (Saturday make-up), 10-12
    assert result.due == at(2026, 10, 12, 17)
    assert result.provisional is False
    e = result.explanation
    assert e.counting_starts == at(2026, 9, 30, 9)
    skipped = {d: (kind, name) for d, kind, name in e.skipped_days}
    for day in range(1, 8):
        assert skipped[date(2026, 10, day)] == ("holiday", "国庆节")
    assert skipped[date(2026, 10, 11)] == ("weekend", None)
    assert date(2026, 10, 10) not in skipped
    assert e.makeup_days == ((date(2026, 10, 10), "国庆节"),)


def test_due_is_returned_in_calendar_tz_for_any_input_tz() -> None:
    start_utc = datetime(2026, 9, 29, 2, tzinfo=UTC)  # 10:00 in Shanghai
    due = due_of(start_utc, lim(5, WD))
    assert due == at(2026, 10, 12, 17)
    assert due is not None and due.tzinfo == SH


def test_half_day_from_session_start_ends_at_session_end() -> None:
    start = at(2026, 3, 2, 9)
    assert due_of(start, lim("0.5", WD), start_day_counts=True) == at(2026, 3, 2, 12)
    assert due_of(at(2026, 3, 2, 12), lim("0.5", WD), start_day_counts=True) == at(2026, 3, 2, 17)
    assert due_of(start, lim(1, WD), start_day_counts=True) == at(2026, 3, 2, 17)
    assert counted_time(start, at(2026, 3, 2, 12), WD, CAL, start_day_counts=True) == Decimal("0.5")


def test_half_day_without_start_day_is_next_morning() -> None:
    assert due_of(MON, lim("0.5", WD)) == at(2026, 3, 3, 12)


def test_one_working_day_from_friday_afternoon_counting_start_day() -> None:
    assert due_of(at(2026, 3, 6, 16), lim(1, WD), start_day_counts=True) == at(2026, 3, 9, 16)


def test_fraction_of_session_is_proportional_to_that_session() -> None:
    start = at(2026, 3, 2, 10, 30)  # half way through the 3-hour morning session
    assert due_of(start, lim("0.5", WD), start_day_counts=True) == at(2026, 3, 2, 15)
    assert counted_time(start, at(2026, 3, 2, 12), WD, CAL, start_day_counts=True) == Decimal("0.25")
    assert counted_time(start, at(2026, 3, 2, 15), WD, CAL, start_day_counts=True) == Decimal("0.5")


def test_company_registration_half_day_from_afternoon() -> None:
    # 14:00-17:00 is 3/8 of a day; the remaining 1/8 is 45 minutes of the 3-hour morning.
    assert due_of(at(2026, 3, 2, 14), lim("0.5", WD), start_day_counts=True) == at(2026, 3, 3, 9, 45)


def test_start_outside_office_hours_counts_from_next_session() -> None:
    assert due_of(at(2026, 3, 2, 18), lim("0.5", WD), start_day_counts=True) == at(2026, 3, 3, 12)
    assert due_of(at(2026, 3, 2, 12, 30), lim("0.5", WD), start_day_counts=True) == at(2026, 3, 2, 17)
    result = compute_due(at(2026, 3, 2, 7), lim(1, WD), CAL, start_day_counts=True)
    assert result.explanation.counting_starts == at(2026, 3, 2, 9)


def test_acceptance_on_a_saturday_counts_from_monday() -> None:
    assert due_of(at(2026, 3, 7, 10), lim(1, WD)) == at(2026, 3, 9, 17)


def test_single_session_calendar() -> None:
    one = [Session(time(9), time(17))]
    cal = WorkCalendar(holidays={}, makeup_workdays={}, known_years=[2026], sessions=one)
    result = compute_due(at(2026, 3, 2, 9), lim("0.5", WD), cal, start_day_counts=True)
    assert result.due == at(2026, 3, 2, 13)


# ---------------------------------------------------------------- pauses


def test_two_day_supplement_moves_due_by_two_working_days() -> None:
    base = due_of(MON, lim(5, WD))
    assert base == at(2026, 3, 9, 17)
    pause = Pause(at(2026, 3, 4, 9), at(2026, 3, 6, 9), "supplement", "营业执照复印件不清晰")
    result = compute_due(MON, lim(5, WD), CAL, pauses=[pause])
    assert result.due == at(2026, 3, 11, 17)
    assert result.explanation.paused_amount == Decimal(2)
    assert result.explanation.paused == timedelta(hours=14)


def test_pause_over_weekend_moves_due_by_working_time_only() -> None:
    weekend = Pause(at(2026, 3, 6, 17), at(2026, 3, 9, 9), "suspension")
    assert due_of(MON, lim(5, WD), pauses=[weekend]) == at(2026, 3, 9, 17)
    # Friday afternoon + Monday morning: one working day although three days pass.
    fri_to_mon = Pause(at(2026, 3, 6, 12), at(2026, 3, 9, 12), "supplement")
    result = compute_due(MON, lim(5, WD), CAL, pauses=[fri_to_mon])
    assert result.due == at(2026, 3, 10, 17)
    assert result.explanation.paused_amount == Decimal(1)


def test_pause_over_national_day_moves_nothing() -> None:
    pause = Pause(at(2026, 9, 30, 17), at(2026, 10, 8, 9), "supplement")
    assert due_of(at(2026, 9, 29, 10), lim(5, WD), pauses=[pause]) == at(2026, 10, 12, 17)


def test_overlapping_pauses_are_not_subtracted_twice() -> None:
    a = Pause(at(2026, 3, 4, 9), at(2026, 3, 5, 12), "supplement")
    b = Pause(at(2026, 3, 5, 9), at(2026, 3, 6, 9), "suspension")
    assert due_of(MON, lim(5, WD), pauses=[a, b]) == at(2026, 3, 11, 17)
    assert due_of(MON, lim(5, WD), pauses=[b, a, a]) == at(2026, 3, 11, 17)
    assert counted_time(MON, at(2026, 3, 6, 9), WD, CAL, pauses=[a, b]) == Decimal(1)


def test_open_pause_leaves_due_unknown() -> None:
    pause = Pause(at(2026, 3, 3, 10), None, "supplement", "缺少股东会决议")
    result = compute_due(MON, lim(5, WD), CAL, pauses=[pause])
    assert result.due is None
    e = result.explanation
    # 09:00-10:00 of the first counted morning is 1/6 day.
    assert e.remaining_at_pause == Decimal("4.8333333333")
    zh = "\n".join(e.lines("zh"))
    assert "暂停" in zh and "补正" in zh and "缺少股东会决议" in zh
    assert "paused" in "\n".join(e.lines("en")).lower()
    assert status(MON, lim(5, WD), CAL, at(2026, 3, 20, 10), pauses=[pause]) is Status.PAUSED


def test_open_pause_after_the_limit_ran_out_keeps_the_due() -> None:
    late = Pause(at(2026, 3, 12, 10), None, "suspension")
    assert due_of(MON, lim(5, WD), pauses=[late]) == at(2026, 3, 9, 17)
    assert status(MON, lim(5, WD), CAL, at(2026, 3, 13, 10), pauses=[late]) is Status.OVERDUE


def test_pause_before_start_is_rejected() -> None:
    with pytest.raises(ValueError):
        compute_due(MON, lim(5, WD), CAL, pauses=[Pause(at(2026, 3, 1), at(2026, 3, 4), "supplement")])


def test_pause_validation() -> None:
    with pytest.raises(ValueError):
        Pause(at(2026, 3, 4), at(2026, 3, 3), "supplement")
    with pytest.raises(ValueError):
        Pause(at(2026, 3, 3), None, "holiday")


# ---------------------------------------------------------------- other units


def test_natural_days_run_through_the_holiday() -> None:
    result = compute_due(at(2026, 9, 29, 10), lim(5, ND), CAL)
    # 09-30 .. 10-04 are the five days; the limit ends at 10-04 24:00.
    assert result.due == at(2026, 10, 5)
    assert result.explanation.skipped_days == ()
    assert "2026-10-04 24:00" in "\n".join(result.explanation.lines("zh"))
    assert due_of(at(2026, 9, 29, 10), lim(5, ND), start_day_counts=True) == at(2026, 10, 4, 10)
    assert counted_time(at(2026, 9, 29, 10), at(2026, 10, 2, 12), ND, CAL) == Decimal("2.5")


def test_natural_days_pause_shifts_by_natural_time() -> None:
    pause = Pause(at(2026, 10, 1, 8), at(2026, 10, 2, 20), "suspension")
    assert due_of(at(2026, 9, 29, 10), lim(5, ND), pauses=[pause]) == at(2026, 10, 6, 12)


def test_working_hours() -> None:
    assert due_of(at(2026, 3, 2, 11), lim(2, WH)) == at(2026, 3, 2, 14)
    assert due_of(at(2026, 3, 6, 16, 30), lim(1, WH)) == at(2026, 3, 9, 9, 30)
    assert due_of(at(2026, 3, 2, 12, 30), lim(1, WH)) == at(2026, 3, 2, 14)
    assert due_of(at(2026, 9, 30, 16), lim(2, WH)) == at(2026, 10, 8, 10)
    # the day of acceptance never matters for hours
    assert due_of(at(2026, 3, 2, 11), lim(2, WH), start_day_counts=True) == at(2026, 3, 2, 14)
    assert counted_time(at(2026, 3, 2, 11), at(2026, 3, 2, 13, 30), WH, CAL) == Decimal("1.5")


def test_thirty_minute_pre_check() -> None:
    assert due_of(at(2026, 3, 6, 16, 50), lim(30, MIN)) == at(2026, 3, 6, 17, 20)
    assert due_of(at(2026, 10, 1, 23, 50), lim(30, MIN)) == at(2026, 10, 2, 0, 20)
    pause = Pause(at(2026, 3, 6, 17), at(2026, 3, 6, 17, 5), "supplement")
    assert due_of(at(2026, 3, 6, 16, 50), lim(30, MIN), pauses=[pause]) == at(2026, 3, 6, 17, 25)


# ---------------------------------------------------------------- extensions


def test_extension_adds_to_the_limit() -> None:
    ext = Extension(lim(2, WD), "需现场核查")
    result = compute_due(at(2026, 9, 29, 10), lim(5, WD), CAL, extensions=[ext])
    assert result.due == at(2026, 10, 14, 17)
    assert result.explanation.extensions == Decimal(2)
    assert any("需现场核查" in line and "7 个工作日" in line for line in result.explanation.lines("zh"))
    assert any("total 7 working days" in line for line in result.explanation.lines("en"))


def test_extension_must_use_the_limit_unit() -> None:
    with pytest.raises(ValueError, match="unit"):
        compute_due(MON, lim(5, WD), CAL, extensions=[Extension(lim(2, ND))])


# ---------------------------------------------------------------- status


def test_remaining_and_status_thresholds() -> None:
    limit = lim(5, WD)  # due 2026-03-09 17:00
    cases = [
        (at(2026, 3, 3, 10), Status.ON_TIME),
        (at(2026, 3, 6, 16, 59), Status.ON_TIME),
        (at(2026, 3, 6, 17), Status.WARNING),  # exactly 1 working day left
        (at(2026, 3, 9, 17), Status.WARNING),
        (at(2026, 3, 9, 20), Status.WARNING),  # no working time has passed since the due instant
        (at(2026, 3, 10, 9, 30), Status.OVERDUE),
    ]
    for when, expected in cases:
        assert status(MON, limit, CAL, when) is expected, when
    assert remaining(MON, limit, CAL, at(2026, 3, 6, 17)) == Decimal(1)
    assert remaining(MON, limit, CAL, at(2026, 3, 10, 10)) == Decimal("-0.1666666667")
    assert status(MON, limit, CAL, at(2026, 3, 5, 17), warn_remaining=Decimal(2)) is Status.WARNING


def test_percentage_warning_for_other_units() -> None:
    start = at(2026, 3, 2, 10)
    limit = lim(30, MIN)  # warn at 20% = 6 minutes left
    assert status(start, limit, CAL, at(2026, 3, 2, 10, 23)) is Status.ON_TIME
    assert status(start, limit, CAL, at(2026, 3, 2, 10, 24)) is Status.WARNING
    assert status(start, limit, CAL, at(2026, 3, 2, 10, 30, 1)) is Status.OVERDUE
    ext = [Extension(lim(20, MIN))]  # 50 minutes: warn at 10 left
    assert status(start, limit, CAL, at(2026, 3, 2, 10, 40), extensions=ext) is Status.WARNING
    assert status(start, limit, CAL, at(2026, 3, 2, 10, 39), extensions=ext) is Status.ON_TIME


def test_status_paused_inside_a_closed_pause() -> None:
    pause = Pause(at(2026, 3, 4, 9), at(2026, 3, 6, 9), "supplement")
    assert status(MON, lim(5, WD), CAL, at(2026, 3, 5, 10), pauses=[pause]) is Status.PAUSED
    assert status(MON, lim(5, WD), CAL, at(2026, 3, 6, 9), pauses=[pause]) is Status.ON_TIME


# ---------------------------------------------------------------- unknown years


def test_2027_is_provisional_and_weekends_only() -> None:
    result = compute_due(at(2026, 12, 28, 10), lim(5, WD), CAL)
    # 12-29, 12-30, 12-31, 2027-01-01 (a Friday: New Year unknown), 01-04
    assert result.due == at(2027, 1, 4, 17)
    assert result.provisional is True
    assert result.explanation.provisional_years == (2027,)
    assert any("暂定" in line for line in result.explanation.lines("zh"))
    assert any("Provisional" in line for line in result.explanation.lines("en"))
    assert compute_due(at(2027, 3, 1, 10), lim(1, WD), CAL).provisional is True
    assert compute_due(at(2026, 12, 1, 10), lim(5, WD), CAL).provisional is False


def test_natural_units_never_depend_on_the_calendar() -> None:
    assert compute_due(at(2026, 12, 28, 10), lim(10, ND), CAL).provisional is False
    assert compute_due(at(2027, 3, 1, 10), lim(30, MIN), CAL).provisional is False


# ---------------------------------------------------------------- explanation


def test_explanation_lines_mention_skipped_holidays() -> None:
    e = compute_due(at(2026, 9, 29, 10), lim(5, WD), CAL).explanation
    zh = "\n".join(e.lines("zh"))
    en = "\n".join(e.lines("en"))
    assert "2026-10-01 至 2026-10-07 国庆节（法定节假日）" in zh
    assert "2026-10-10（国庆节调休）" in zh
    assert "受理当日不计入" in zh
    assert "2026-10-12 17:00" in zh
    assert "2026-10-01 to 2026-10-07 国庆节 (public holiday)" in en
    assert "2026-10-11 (weekend)" in en
    assert "Due: 2026-10-12 17:00" in en
    with pytest.raises(ValueError):
        e.lines("fr")


def test_explanation_lines_mention_pauses() -> None:
    pause = Pause(at(2026, 3, 4, 9), at(2026, 3, 6, 9), "supplement", "补充材料")
    e = compute_due(MON, lim(5, WD), CAL, pauses=[pause]).explanation
    zh = "\n".join(e.lines("zh"))
    assert "补正" in zh and "补充材料" in zh and "2 个工作日" in zh
    assert "2 working days" in "\n".join(e.lines("en"))


# ---------------------------------------------------------------- validation


def test_naive_datetimes_are_rejected() -> None:
    naive = datetime(2026, 3, 2, 10)
    with pytest.raises(ValueError, match="aware"):
        compute_due(naive, lim(5, WD), CAL)
    with pytest.raises(ValueError, match="aware"):
        counted_time(MON, naive, WD, CAL)
    with pytest.raises(ValueError, match="aware"):
        status(MON, lim(5, WD), CAL, naive)
    with pytest.raises(ValueError, match="aware"):
        Pause(naive, None, "supplement")


@pytest.mark.parametrize(
    ("amount", "unit"),
    [("0.3", WD), ("0", WD), ("-1", WD), ("1.5", ND), ("0.0000001", MIN), ("NaN", WH)],
)
def test_invalid_limits_are_rejected(amount: str, unit: Unit) -> None:
    with pytest.raises(ValueError):
        Limit(Decimal(amount), unit)


def test_float_amounts_are_refused() -> None:
    with pytest.raises(TypeError):
        Limit(0.5, WD)  # type: ignore[arg-type]


def test_end_before_start_is_rejected() -> None:
    with pytest.raises(ValueError):
        counted_time(MON, MON - timedelta(seconds=1), WD, CAL)


# ---------------------------------------------------------------- properties

START = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31)).map(
    lambda d: d.replace(tzinfo=SH)
)
LIMITS = st.one_of(
    st.integers(1, 16).map(lambda k: Limit(Decimal(k) / 2, WD)),
    st.integers(1, 40).map(lambda k: Limit(Decimal(k), ND)),
    st.integers(1, 4000).map(lambda k: Limit(Decimal(k) / 100, WH)),
    st.integers(1, 6000).map(lambda k: Limit(Decimal(k) / 100, MIN)),
)
SPAN = st.integers(0, 6 * 86_400_000_000).map(lambda us: timedelta(microseconds=us))


@st.composite
def cases(draw: st.DrawFn) -> tuple[datetime, Limit, list[Pause], list[Extension], bool]:
    start = draw(START)
    limit = draw(LIMITS)
    pauses = []
    cursor = start
    for _ in range(draw(st.integers(0, 3))):
        p_start = cursor + draw(SPAN)
        p_end = p_start + draw(SPAN)
        pauses.append(Pause(p_start, p_end, draw(st.sampled_from(["supplement", "suspension"]))))
        cursor = p_end
    extensions = [
        Extension(Limit(limit.amount * k, limit.unit)) for k in draw(st.lists(st.integers(1, 2), max_size=2))
    ]
    return start, limit, pauses, extensions, draw(st.booleans())


@settings(max_examples=150, deadline=None)
@given(case=cases())
def test_pauses_only_ever_delay_and_counted_time_hits_the_limit_exactly(
    case: tuple[datetime, Limit, list[Pause], list[Extension], bool],
) -> None:
    start, limit, pauses, extensions, sdc = case
    total = limit.amount + sum((e.amount.amount for e in extensions), Decimal(0))
    plain = compute_due(start, limit, CAL, extensions=extensions, start_day_counts=sdc).due
    result = compute_due(start, limit, CAL, pauses=pauses, extensions=extensions, start_day_counts=sdc)
    due = result.due
    assert plain is not None and due is not None
    # (a) pauses never bring the due date forward
    assert due >= plain
    # (b) at the due instant exactly the limit (+ extensions) has been used
    assert counted_time(start, due, limit.unit, CAL, pauses=pauses, start_day_counts=sdc) == total
    assert counted_time(start, plain, limit.unit, CAL, start_day_counts=sdc) == total
    assert remaining(start, limit, CAL, due, pauses=pauses, extensions=extensions, start_day_counts=sdc) == 0
    # the due date moved by exactly the paused counted time
    unpaused_at_due = counted_time(start, due, limit.unit, CAL, start_day_counts=sdc)
    assert abs(unpaused_at_due - total - result.explanation.paused_amount) <= Decimal("1e-9")
    # (c) nothing is counted inside a pause
    for p in pauses:
        assert p.end is not None
        before = counted_time(start, p.start, limit.unit, CAL, pauses=pauses, start_day_counts=sdc)
        after = counted_time(start, p.end, limit.unit, CAL, pauses=pauses, start_day_counts=sdc)
        assert before == after
        mid = p.start + (p.end - p.start) / 2
        assert counted_time(p.start, mid, limit.unit, CAL, pauses=[p], start_day_counts=True) == 0
