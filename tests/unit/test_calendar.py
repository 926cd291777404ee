"""WorkCalendar: State Council arrangement incl. make-up days, unknown-year fallback, sessions."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from chinese_calendar.constants import Holiday
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.calendar import DEFAULT_SESSIONS, Session, WorkCalendar

KNOWN_YEARS = range(2004, 2027)


def build_calendar() -> WorkCalendar:
    """The official arrangement as shipped by chinesecalendar (holiday names in Chinese)."""
    zh = {h.value: h.chinese for h in Holiday}
    return WorkCalendar(
        holidays={d: zh.get(n, n) for d, n in chinese_calendar.holidays.items()},
        makeup_workdays={d: zh.get(n, n) for d, n in chinese_calendar.workdays.items()},
        known_years=KNOWN_YEARS,
    )


CAL = build_calendar()


def test_chinesecalendar_shapes_are_date_to_english_name() -> None:
    assert chinese_calendar.holidays[date(2026, 10, 1)] == "National Day"
    assert chinese_calendar.workdays[date(2026, 10, 10)] == "National Day"
    assert all(type(d) is date for d in chinese_calendar.holidays)


@pytest.mark.parametrize(
    "d",
    [
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    ],
)
def test_2026_makeup_days_are_working_days(d: date) -> None:
    assert d.weekday() >= 5
    assert CAL.is_working_day(d)
    assert CAL.day_kind(d) == "makeup_workday"
    assert CAL.makeup_for(d) is not None
    assert CAL.holiday_name(d) is None


def test_national_day_2026_is_not_working() -> None:
    for day in range(1, 8):
        d = date(2026, 10, day)
        assert not CAL.is_working_day(d)
        assert CAL.day_kind(d) == "holiday"
        assert CAL.holiday_name(d) == "国庆节"


def test_plain_weekday_and_weekend() -> None:
    assert CAL.day_kind(date(2026, 3, 4)) == "workday"
    assert CAL.day_kind(date(2026, 3, 7)) == "weekend"
    assert CAL.holiday_name(date(2026, 3, 7)) is None
    assert not CAL.is_working_day(date(2026, 3, 8))


def test_agrees_with_chinesecalendar_for_every_known_day() -> None:
    d = date(2004, 1, 1)
    while d.year < 2027:
        assert CAL.is_working_day(d) == chinese_calendar.is_workday(d), d
        d += timedelta(days=1)


def test_next_working_day_is_strictly_after() -> None:
    assert CAL.next_working_day(date(2026, 9, 29)) == date(2026, 9, 30)
    assert CAL.next_working_day(date(2026, 9, 30)) == date(2026, 10, 8)
    assert CAL.next_working_day(date(2026, 10, 9)) == date(2026, 10, 10)  # Saturday make-up
    assert CAL.next_working_day(date(2026, 10, 10)) == date(2026, 10, 12)


def test_working_days_between_is_half_open() -> None:
    # 09-30, 10-08, 10-09, 10-10 (make-up), 10-12
    assert CAL.working_days_between(date(2026, 9, 29), date(2026, 10, 12)) == 5
    assert CAL.working_days_between(date(2026, 9, 30), date(2026, 9, 30)) == 0
    assert CAL.working_days_between(date(2026, 10, 12), date(2026, 9, 29)) == 0


@settings(max_examples=60, deadline=None)
@given(
    a=st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31)),
    span=st.integers(min_value=0, max_value=200),
)
def test_working_days_between_matches_day_by_day_count(a: date, span: int) -> None:
    b = a + timedelta(days=span)
    expected = sum(CAL.is_working_day(a + timedelta(days=i)) for i in range(1, span + 1))
    assert CAL.working_days_between(a, b) == expected


def test_unknown_year_falls_back_to_weekends_only() -> None:
    assert CAL.is_known(2026)
    assert not CAL.is_known(2027)
    assert CAL.is_working_day(date(2027, 1, 1))  # a Friday; New Year unknown to us
    assert CAL.day_kind(date(2027, 1, 1)) == "workday"
    assert CAL.day_kind(date(2027, 1, 2)) == "weekend"
    assert CAL.unknown_years(date(2026, 12, 1), date(2028, 1, 1)) == (2027, 2028)
    assert CAL.unknown_years(date(2026, 1, 1), date(2026, 12, 31)) == ()


def test_entries_for_unknown_years_are_ignored() -> None:
    cal = WorkCalendar(
        holidays={date(2027, 1, 1): "元旦", date(2026, 1, 1): "元旦"},
        makeup_workdays={date(2027, 1, 9): "元旦"},
        known_years=[2026],
    )
    assert not cal.is_working_day(date(2026, 1, 1))
    assert cal.is_working_day(date(2027, 1, 1))
    assert not cal.is_working_day(date(2027, 1, 9))


def test_date_both_holiday_and_makeup_is_rejected() -> None:
    with pytest.raises(ValueError, match="both"):
        WorkCalendar(
            holidays={date(2026, 1, 4): "x"}, makeup_workdays={date(2026, 1, 4): "x"}, known_years=[2026]
        )


def test_datetime_is_not_accepted_as_date() -> None:
    with pytest.raises(TypeError):
        CAL.is_working_day(datetime(2026, 10, 1, 9))


def test_defaults() -> None:
    assert CAL.tz == ZoneInfo("Asia/Shanghai")
    assert CAL.sessions == DEFAULT_SESSIONS == (Session(time(9), time(12)), Session(time(13), time(17)))


@pytest.mark.parametrize(
    "sessions",
    [
        (Session(time(9), time(12)), Session(time(11), time(17))),  # overlap
        (Session(time(13), time(17)), Session(time(9), time(12))),  # out of order
        (),
    ],
)
def test_bad_sessions_are_rejected(sessions: tuple[Session, ...]) -> None:
    with pytest.raises(ValueError):
        WorkCalendar(holidays={}, makeup_workdays={}, known_years=[2026], sessions=sessions)


def test_session_must_start_before_it_ends() -> None:
    with pytest.raises(ValueError):
        Session(time(12), time(9))
    with pytest.raises(ValueError):
        Session(time(9), time(9))


def test_adjacent_sessions_are_allowed() -> None:
    cal = WorkCalendar(
        holidays={},
        makeup_workdays={},
        known_years=[2026],
        sessions=[Session(time(9), time(12)), Session(time(12), time(17))],
    )
    assert len(cal.sessions) == 2
