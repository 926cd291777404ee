"""Critical path, hold-up department, working-day sums and percentiles (workflows.supervision)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.unit.test_clock import build_calendar
from workflows.clock import Pause
from workflows.supervision import Span, critical_path, held_up_by, percentile, ranks, working_days

SH = ZoneInfo("Asia/Shanghai")
CAL = build_calendar()


def t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


def span(item, dept, requires=(), received=None, decided=None, counted="0"):
    return Span(item, dept, tuple(requires), received, decided, Decimal(counted))


def test_the_path_follows_the_prerequisite_that_ended_last():
    spans = [
        span("licence", "samr", (), t(2, 9), t(3, 10), "1"),
        span("food", "samr", ("licence",), t(3, 10), t(6, 9), "2"),
        span("drainage", "water", ("licence",), t(3, 10), t(10, 16), "5"),
        span("sign", "urban", ("licence",), t(3, 10), t(4, 9), "1"),
    ]
    path = critical_path(spans)
    assert [s.item for s in path] == ["licence", "drainage"]
    assert held_up_by(path) == "water"


def test_a_diamond_goes_through_the_later_of_two_prerequisites():
    spans = [
        span("a", "x", (), t(2, 9), t(2, 12), "0.5"),
        span("b", "y", ("a",), t(2, 12), t(4, 17), "2"),
        span("c", "z", ("a",), t(2, 12), t(3, 17), "1"),
        span("d", "x", ("b", "c"), t(4, 17), t(5, 17), "1"),
    ]
    assert [s.item for s in critical_path(spans)] == ["a", "b", "d"]
    # x used 1.5 days on the path, y 2: y held it up.
    assert held_up_by(critical_path(spans)) == "y"


def test_steps_never_received_are_not_on_the_path_and_ties_go_to_the_first_listed():
    spans = [
        span("a", "x", (), t(2, 9), t(3, 9), "1"),
        span("b", "y", (), t(2, 9), t(3, 9), "1"),
        span("c", "z", ("a",), None, t(3, 9)),  # terminated while waiting
    ]
    assert [s.item for s in critical_path(spans)] == ["a"]
    assert critical_path([span("c", "z", (), None, None)]) == []
    assert held_up_by([]) is None


def test_same_department_twice_on_the_path_adds_up():
    path = [span("a", "x", (), t(2, 9), t(2, 12), "1"), span("b", "y", ("a",), t(2, 12), t(4, 9), "1.5"),
            span("c", "x", ("b",), t(4, 9), t(5, 9), "1")]
    assert held_up_by(path) == "x"


def test_working_days_count_office_hours_and_take_pauses_out():
    # Mon 2 Nov 09:00 -> Wed 4 Nov 17:00: three full working days.
    assert working_days(t(2, 9), t(4, 17), CAL) == (Decimal(3), Decimal(0))
    # A weekend is not counted: Fri 6 Nov 09:00 -> Mon 9 Nov 17:00 is two days.
    assert working_days(t(6, 9), t(9, 17), CAL)[0] == Decimal(2)
    # A 补正 from Tue 09:00 to Wed 09:00 pauses one working day.
    counted, paused = working_days(t(2, 9), t(4, 17), CAL, [Pause(t(3, 9), t(4, 9), "supplement")])
    assert (counted, paused) == (Decimal(2), Decimal(1))
    # A morning session is half a day.
    assert working_days(t(2, 9), t(2, 12), CAL)[0] == Decimal("0.5")


@pytest.mark.parametrize(("values", "fraction", "expected"), [
    ([1.0], 0.5, 1.0),
    ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5),
    ([1.0, 2.0, 3.0, 4.0, 10.0], 0.9, 7.6),
    ([0.5, 1.0, 1.5], 0.0, 0.5),
    ([0.5, 1.0, 1.5], 1.0, 1.5),
])
def test_percentile_interpolates_like_percentile_cont(values, fraction, expected):
    assert percentile(values, fraction) == pytest.approx(expected)
    low, high, weight = ranks(len(values), fraction)
    assert values[low] + (values[high] - values[low]) * weight == pytest.approx(expected)


def test_percentile_of_nothing_and_bad_fraction():
    assert percentile([], 0.5) is None
    with pytest.raises(ValueError, match="fraction"):
        percentile([1.0], 1.5)
