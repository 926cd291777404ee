"""The working calendar: seeded from chinesecalendar, kept in the database, handed to workflows.clock."""

from __future__ import annotations

from datetime import date, timedelta
from importlib.metadata import version

from sqlalchemy import delete, func, select

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
        recompute_provisional(actor or Actor.system())
    return loaded


_cache: dict[str, tuple[tuple[object, ...], WorkCalendar]] = {}


def work_calendar() -> WorkCalendar:
    """The calendar as the database has it now; rebuilt only when a year or a day was changed.

    Checked once per transaction (the session's info is cleared at commit and rollback)."""
    info = db.session().info
    cached_here = info.get("onestop_calendar")
    if cached_here is not None:
        return cached_here  # type: ignore[no-any-return]
    calendar = _current_calendar()
    info["onestop_calendar"] = calendar
    return calendar


def _current_calendar() -> WorkCalendar:
    # Loading a year and correcting a day both touch calendar_years.loaded_at, so this one cheap query
    # tells whether any process changed the calendar since it was cached.
    stamp = tuple(db.session.execute(
        select(func.count(CalendarYear.year), func.max(CalendarYear.loaded_at))
    ).one())
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


class CalendarError(Exception):
    pass


def year_status(today: date) -> list[dict[str, object]]:
    """This year and the next: whether the official arrangement is loaded (the next one is published
    around November, so from then on a missing year is a warning to the administrator)."""
    known = {y.year: y for y in db.session.scalars(select(CalendarYear))}
    rows = []
    for year in (today.year, today.year + 1):
        loaded = known.get(year)
        rows.append({"year": year, "loaded": loaded is not None,
                     "source": loaded.source if loaded else None,
                     "warn": loaded is None and (year == today.year or today.month >= 11)})
    return rows


def load_year(year: int, holidays: dict[date, str], makeup_workdays: dict[date, str], source: str,
              actor: Actor) -> int:
    """Load (or replace) one year's arrangement, then recompute every provisional due date.

    Returns the number of steps whose due date was recomputed."""
    for day in [*holidays, *makeup_workdays]:
        if day.year != year:
            raise CalendarError(f"{day} is not in {year}")
    overlap = set(holidays) & set(makeup_workdays)
    if overlap:
        raise CalendarError(f"both a holiday and a make-up workday: {', '.join(map(str, sorted(overlap)))}")
    for day in makeup_workdays:
        if day.weekday() < 5:
            raise CalendarError(f"{day} is a weekday; a make-up workday falls on a weekend")
    db.session.execute(delete(CalendarDay).where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)))
    db.session.execute(delete(CalendarYear).where(CalendarYear.year == year))
    for day, name in holidays.items():
        db.session.add(CalendarDay(day=day, kind="holiday", name=name))
    for day, name in makeup_workdays.items():
        db.session.add(CalendarDay(day=day, kind="makeup_workday", name=name))
    db.session.add(CalendarYear(year=year, source=source[:64], loaded_at=now()))
    db.session.flush()
    record("calendar:year_loaded", "calendar", year,
           {"year": year, "source": source, "holidays": len(holidays), "makeup_workdays": len(makeup_workdays)},
           actor=actor)
    return recompute_provisional(actor)


def set_day(day: date, kind: str | None, name: str, actor: Actor) -> int:
    """The administrator's correction of one day (kind None removes the exception)."""
    if kind not in (None, "holiday", "makeup_workday"):
        raise CalendarError(f"unknown kind {kind!r}")
    year = db.session.get(CalendarYear, day.year)
    if year is None:
        raise CalendarError(f"{day.year} is not loaded; load the year first")
    year.loaded_at = now()  # marks the calendar as changed for every process's cached copy
    row = db.session.get(CalendarDay, day)
    before = {"kind": row.kind, "name": row.name} if row else None
    if kind is None:
        if row is not None:
            db.session.delete(row)
    elif row is None:
        db.session.add(CalendarDay(day=day, kind=kind, name=name))
    else:
        row.kind, row.name = kind, name
    db.session.flush()
    record("calendar:day_set", "calendar", day.year, {"day": day, "before": before,
                                                       "after": {"kind": kind, "name": name} if kind else None},
           actor=actor)
    return recompute_open(actor)


def recompute_provisional(actor: Actor) -> int:
    from onestop.applications.models import Step

    return _recompute(select(Step).where(Step.due_provisional.is_(True)), actor)


def recompute_open(actor: Actor) -> int:
    """After a correction any open due date may move: recompute them all (and say which moved)."""
    from onestop.applications.models import Step

    return _recompute(select(Step).where(Step.clock_start.is_not(None), Step.decided_at.is_(None)), actor)


def _recompute(query: object, actor: Actor) -> int:
    from onestop.applications import engine

    changed = 0
    for step in db.session.scalars(query):  # type: ignore[call-overload]
        if not step.is_open:
            continue
        before, was_provisional = step.due_at, step.due_provisional
        engine.recompute_due(step)
        if (step.due_at, step.due_provisional) != (before, was_provisional):
            changed += 1
            record("application:step:due_recomputed", "step", step.id,
                   {"before": before, "after": step.due_at, "provisional": step.due_provisional},
                   actor=actor, department_id=step.department_id)
    return changed


def parse_year_file(text: str) -> tuple[int, dict[date, str], dict[date, str], str]:
    """A year's arrangement as the administrator types it from the State Council notice:

        year: 2027
        source: 国务院办公厅关于2027年部分节假日安排的通知
        holidays: {2027-01-01: 元旦, ...}
        makeup_workdays: {2027-02-07: 春节, ...}
    """
    import yaml

    try:
        data = yaml.safe_load(text)
        year = int(data["year"])
        holidays = {_as_date(k): str(v) for k, v in (data.get("holidays") or {}).items()}
        makeup = {_as_date(k): str(v) for k, v in (data.get("makeup_workdays") or {}).items()}
        source = str(data.get("source") or "administrator")
    except (yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CalendarError(f"not a year file: {exc}") from None
    return year, holidays, makeup, source


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
