"""The working calendar: seeded from chinesecalendar, kept in the database, handed to workflows.clock."""

from __future__ import annotations

from datetime import date, timedelta
from importlib.metadata import version

from sqlalchemy import func, select

from onestop.audit.operations import Actor, record
from onestop.clocks.models import CalendarDay, CalendarYear
from onestop.core.clock import now
from onestop.extensions import db
from workflows.calendar import WorkCalendar

# chinesecalendar names holidays in English; the calendar shows the official Chinese names.
HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


def seed_from_chinesecalendar(years: range | None = None, actor: Actor | None = None) -> list[int]:
    """Load the official arrangement for every year the package knows and the table lacks.

    Years already in the table are left alone: an administrator's edits win over the package.
    """
    import chinese_calendar

    known = set(db.session.scalars(select(CalendarYear.year)))
    source = f"chinesecalendar {version('chinesecalendar')}"
    loaded: list[int] = []
    for year in years or range(2004, date.today().year + 2):  # noqa: DTZ011 - the range only bounds a probe
        if year in known:
            continue
        try:
            chinese_calendar.is_workday(date(year, 1, 1))
        except NotImplementedError:
            continue  # the package does not know this year (e.g. 2027 before its release)
        day = date(year, 1, 1)
        while day.year == year:
            on_leave, name = chinese_calendar.get_holiday_detail(day)
            weekend = day.weekday() >= 5
            if on_leave and name:
                db.session.add(CalendarDay(day=day, kind="holiday", name=HOLIDAY_NAMES_ZH.get(name, name)))
            elif weekend and not on_leave:
                db.session.add(CalendarDay(day=day, kind="makeup_workday", name=HOLIDAY_NAMES_ZH.get(name or "", "调休上班")))
            day += timedelta(days=1)
        db.session.add(CalendarYear(year=year, source=source, loaded_at=now()))
        loaded.append(year)
    if loaded:
        db.session.flush()
        record("calendar:years_loaded", "calendar", None, {"years": loaded, "source": source},
               actor=actor or Actor.system())
    return loaded


_cache: dict[str, tuple[tuple[object, ...], WorkCalendar]] = {}


def work_calendar() -> WorkCalendar:
    """The calendar as the database has it now; rebuilt only when a year or a day was changed."""
    stamp = tuple(db.session.execute(
        select(func.count(CalendarYear.year), func.max(CalendarYear.loaded_at))
    ).one()) + tuple(db.session.execute(select(func.count(CalendarDay.day))).one())
    key = str(db.engine.url)
    cached = _cache.get(key)
    if cached and cached[0] == stamp:
        return cached[1]
    days = db.session.scalars(select(CalendarDay)).all()
    calendar = WorkCalendar(
        holidays={d.day: d.name for d in days if d.kind == "holiday"},
        makeup_workdays={d.day: d.name for d in days if d.kind == "makeup_workday"},
        known_years=db.session.scalars(select(CalendarYear.year)).all(),
    )
    _cache[key] = (stamp, calendar)
    return calendar
