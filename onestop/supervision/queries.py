"""Read models of the auditors' workspace: the dashboard figures (SQL aggregates over the roll-ups, never
a loop over rows), the drill-down lists behind every figure, and the processing-time log of one
application.

Periods are local calendar periods (Asia/Shanghai by default): closed-case figures count what ended in
the period; volumes count what was submitted in it. Percentiles are PostgreSQL's percentile_cont; on
SQLite the same interpolation is computed in SQL with window functions (see _stats_sqlite).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, select, text
from sqlalchemy.orm import aliased

from onestop.accounts.models import Department
from onestop.applications.models import Application, Step, StepExtension, StepTransition
from onestop.catalog.models import BundleVersion
from onestop.core.clock import local_now, local_tz, now
from onestop.extensions import db
from onestop.ratings.models import BAD, LEVELS, Rating
from onestop.supervision.models import ApplicationTiming, StepTiming, TimingHistogram

AT, ST, TH = ApplicationTiming, StepTiming, TimingHistogram
PERIODS = ("month", "quarter", "year", "custom")
DRILL_PAGE = 100
OVERDUE_LIST = 50
MAX_CUSTOM_DAYS = 366 * 3


class BadRequest(ValueError):
    """A period or scope the auditor typed that cannot be read; the message is shown to them."""


# -- period and scope -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    kind: str
    start: date  # local dates, inclusive
    end: date

    @property
    def start_utc(self) -> datetime:
        return datetime.combine(self.start, time(0), local_tz()).astimezone(UTC)

    @property
    def end_utc(self) -> datetime:  # exclusive
        return datetime.combine(self.end + timedelta(days=1), time(0), local_tz()).astimezone(UTC)

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == "year":
            return str(self.start.year)
        return f"{self.start} – {self.end}"

    def months(self) -> list[tuple[date, date]]:
        """The calendar months the period covers (clipped), for the monthly series."""
        out, first = [], self.start.replace(day=1)
        while first <= self.end:
            following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
            out.append((max(first, self.start), min(following - timedelta(days=1), self.end)))
            first = following
        return out

    def args(self) -> dict[str, str]:
        if self.kind == "custom":
            return {"period": "custom", "from": self.start.isoformat(), "to": self.end.isoformat()}
        return {"period": self.kind, "at": self.start.isoformat()}


def make_period(kind: str, at: date | None = None, start: date | None = None, end: date | None = None) -> Period:
    if kind not in PERIODS:
        raise BadRequest("period")
    if kind == "custom":
        if start is None or end is None or end < start or (end - start).days > MAX_CUSTOM_DAYS:
            raise BadRequest("custom")
        return Period(kind, start, end)
    at = at or local_now().date()
    if kind == "month":
        first = at.replace(day=1)
    elif kind == "quarter":
        first = date(at.year, (at.month - 1) // 3 * 3 + 1, 1)
    else:
        first = date(at.year, 1, 1)
    months = {"month": 1, "quarter": 3, "year": 12}[kind]
    y, m = divmod(first.month - 1 + months, 12)
    last = date(first.year + y, m + 1, 1) - timedelta(days=1)
    return Period(kind, first, last)


def parse_period(args: Any) -> Period:
    def day(name: str) -> date | None:
        raw = (args.get(name) or "").strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw + ("-01" if len(raw) == 7 else ""))
        except ValueError:
            raise BadRequest("date") from None

    return make_period(args.get("period") or "month", day("at"), day("from"), day("to"))


@dataclass(frozen=True)
class Scope:
    bundle: str | None = None
    department: Department | None = None
    item: str | None = None

    def args(self) -> dict[str, str]:
        out = {}
        if self.bundle:
            out["bundle"] = self.bundle
        if self.department is not None:
            out["department"] = self.department.code
        if self.item:
            out["item"] = self.item
        return out


def parse_scope(args: Any) -> Scope:
    bundle = (args.get("bundle") or "").strip() or None
    code = (args.get("department") or "").strip() or None
    item = (args.get("item") or "").strip() or None
    department = None
    if code:
        department = db.session.scalar(select(Department).where(Department.code == code))
        if department is None:
            raise BadRequest("department")
    if bundle and db.session.scalar(select(BundleVersion.id).where(BundleVersion.code == bundle).limit(1)) is None:
        raise BadRequest("bundle")
    return Scope(bundle, department, item)


def _app_clauses(period: Period, scope: Scope) -> list[Any]:
    clauses: list[Any] = [AT.ended_at >= period.start_utc, AT.ended_at < period.end_utc]
    if scope.bundle:
        clauses.append(AT.bundle_code == scope.bundle)
    step_conditions = []
    if scope.department is not None:
        step_conditions.append(ST.department_id == scope.department.id)
    if scope.item:
        step_conditions.append(ST.item_code == scope.item)
    if step_conditions:
        clauses.append(select(ST.step_id).where(ST.application_id == AT.application_id, *step_conditions).exists())
    return clauses


def _step_clauses(period: Period, scope: Scope) -> list[Any]:
    clauses: list[Any] = [ST.decided_at >= period.start_utc, ST.decided_at < period.end_utc]
    if scope.bundle:
        clauses.append(ST.bundle_code == scope.bundle)
    if scope.department is not None:
        clauses.append(ST.department_id == scope.department.id)
    if scope.item:
        clauses.append(ST.item_code == scope.item)
    return clauses


# -- statistics -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stats:
    n: int
    mean: float | None
    p50: float | None
    p90: float | None


def _f(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


def stats_by(value: Any, clauses: Sequence[Any], group: Any = None) -> dict[Any, Stats]:
    """n, mean, p50 and p90 of `value` over the rows matching `clauses`, per `group` (None: one group)."""
    v = cast(value, Float)
    keys = [group] if group is not None else []
    if db.engine.dialect.name == "postgresql":
        rows = [(*row[:-1], *(row[-1] or (None, None))) for row in db.session.execute(
            select(*keys, func.count(), func.avg(v), _percentiles(v)).where(*clauses).group_by(*keys))]
    else:
        rows = _stats_sqlite(v, keys, clauses)
    out = {}
    for row in rows:
        key = row[0] if keys else None
        n, mean, p50, p90 = row[len(keys):]
        if n:
            out[key] = Stats(int(n), _f(mean), _f(p50), _f(p90))
    return out


def _percentiles(v: Any) -> Any:
    # percentile_cont(ARRAY[0.5, 0.9]): one sort of the group gives both.
    from sqlalchemy.dialects.postgresql import ARRAY, array

    return func.percentile_cont(array([0.5, 0.9])).within_group(v).cast(ARRAY(Float))


def _stats_sqlite(v: Any, keys: list[Any], clauses: Sequence[Any]) -> Any:
    # percentile_cont(p) = x[lo] + (x[lo+1] - x[lo]) * w with rank = p * (n - 1), lo = floor(rank),
    # w = rank - lo (workflows.supervision.percentile): read from the row numbers of a window.
    ranked = select(*[k.label("k") for k in keys], v.label("v"),
                    func.row_number().over(partition_by=keys or None, order_by=v).label("rn"),
                    func.count().over(partition_by=keys or None).label("n")).where(*clauses).subquery()
    group = [ranked.c.k] if keys else []
    cols = [*group, func.count(), func.avg(ranked.c.v)]
    for p in (0.5, 0.9):
        rank = (ranked.c.n - 1) * p
        lo = cast(rank, db.Integer) + 1  # 1-based row number of x[lo]; rank >= 0 so CAST floors
        w = rank - cast(rank, db.Integer)
        cols.append(func.sum(case((ranked.c.rn == lo, ranked.c.v * (1 - w)), else_=0))
                    + func.sum(case((ranked.c.rn == lo + 1, ranked.c.v * w), else_=0)))
    return db.session.execute(select(*cols).group_by(*group))


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part * 100 / whole, 1)


# -- the dashboard ----------------------------------------------------------------------------------------

@dataclass
class GroupRow:
    key: str
    label: str
    ended: int
    on_time: int
    on_time_known: int
    counted: Stats
    paused_mean: float | None
    extended: int
    supplemented: int
    rongque: int
    commitment: int

    @property
    def on_time_rate(self) -> float | None:
        return _rate(self.on_time, self.on_time_known)

    @property
    def supplement_rate(self) -> float | None:
        return _rate(self.supplemented, self.ended)


@dataclass
class Dashboard:
    period: Period
    scope: Scope
    submitted: int
    ended: int
    by_state: dict[str, int]
    on_time: int
    elapsed: Stats
    paused_mean: float | None
    paused_total: float | None
    supplemented: int
    extensions: int
    rongque: int
    commitment: int
    held_by: list[tuple[str, str, int]]  # department code, name, applications
    departments: list[GroupRow]
    items: list[GroupRow]
    overdue_count: int
    overdue: list[dict[str, Any]]
    post_checks: dict[str, int]
    ratings: dict[int, int]
    bad_ratings: int
    bad_answered_in_time: int
    monthly: list[dict[str, Any]]
    catalog: list[dict[str, Any]] = field(default_factory=list)

    @property
    def on_time_rate(self) -> float | None:
        return _rate(self.on_time, self.ended)

    @property
    def supplement_rate(self) -> float | None:
        return _rate(self.supplemented, self.ended)

    @property
    def bad_answered_rate(self) -> float | None:
        return _rate(self.bad_answered_in_time, self.bad_ratings)


def _departments() -> dict[int, Department]:
    return {d.id: d for d in db.session.scalars(select(Department))}


def _group_columns() -> list[Any]:
    return [func.count(), func.count().filter(ST.on_time.is_(True)), func.count().filter(ST.on_time.is_not(None)),
            func.avg(cast(ST.paused_days, Float)), func.count().filter(ST.extended.is_(True)),
            func.count().filter(ST.supplemented.is_(True)), func.count().filter(ST.rongque.is_(True)),
            func.count().filter(ST.commitment.is_(True))]


def _group_row(key: Any, labels: dict[Any, tuple[str, str]], counts: Sequence[Any], stats: Stats) -> GroupRow:
    n, on_time, known, paused, extended, supplemented, rongque, commitment = counts
    code, label = labels.get(key, (str(key), str(key)))
    return GroupRow(code, label, int(n), int(on_time), int(known), stats, _f(paused), int(extended),
                    int(supplemented), int(rongque), int(commitment))


def _step_groups(period: Period, scope: Scope, dept_labels: dict[Any, tuple[str, str]],
                 item_labels: dict[Any, tuple[str, str]]) -> tuple[list[GroupRow], list[GroupRow]]:
    """The step figures per department and per item. On PostgreSQL one statement over the roll-up
    (GROUPING SETS, one sort per group for both percentiles); elsewhere one statement per grouping."""
    clauses = _step_clauses(period, scope)
    departments: list[GroupRow] = []
    items: list[GroupRow] = []
    if db.engine.dialect.name == "postgresql":
        v = cast(ST.counted_days, Float)
        rows = db.session.execute(
            select(ST.department_id, ST.item_code, func.grouping(ST.department_id), *_group_columns(),
                   func.avg(v), _percentiles(v))
            .where(*clauses).group_by(func.grouping_sets(ST.department_id, ST.item_code)))
        for dept, item, by_item, *rest in rows:
            counts, (mean, pcts) = rest[:8], rest[8:]
            p50, p90 = pcts or (None, None)
            stats = Stats(int(counts[0]), _f(mean), _f(p50), _f(p90))
            if by_item:
                items.append(_group_row(item, item_labels, counts, stats))
            else:
                departments.append(_group_row(dept, dept_labels, counts, stats))
    else:
        for group, labels, out in ((ST.department_id, dept_labels, departments), (ST.item_code, item_labels, items)):
            stats = stats_by(ST.counted_days, clauses, group)
            for key, *counts in db.session.execute(
                    select(group, *_group_columns()).where(*clauses).group_by(group)):
                out.append(_group_row(key, labels, counts, stats.get(key, Stats(0, None, None, None))))
    return sorted(departments, key=lambda r: r.key), sorted(items, key=lambda r: r.key)


# -- the same figures from the maintained histogram (no department or item in the scope) ------------------

def _hist_clauses(kind: str, period: Period, scope: Scope) -> list[Any]:
    if period.kind == "custom":  # any days: the daily rows
        clauses: list[Any] = [TH.kind == kind, TH.day >= period.start, TH.day <= period.end]
    else:  # whole months: the monthly rows
        clauses = [TH.kind == ("appm" if kind == "app" else "stpm"), TH.day >= period.start, TH.day <= period.end]
    if scope.bundle:
        clauses.append(TH.bundle_code == scope.bundle)
    return clauses


def hist_stats(kind: str, period: Period, scope: Scope, group: Any = None) -> dict[Any, Stats]:
    """n, mean (exact) and p50, p90 (percentile_cont of the 0.01-day buckets) from the histogram: the
    cumulative count of each bucket says which bucket holds rank lo and rank lo + 1."""
    key = group if group is not None else TH.kind
    h = (select(key.label("k"), TH.bucket.label("b"), func.sum(TH.n).label("n"),
                func.sum(TH.elapsed_sum).label("s"))
         .where(*_hist_clauses(kind, period, scope)).group_by(key, TH.bucket).having(func.sum(TH.n) > 0).subquery())
    c = select(h.c.k, h.c.b, h.c.n, h.c.s,
               (func.sum(h.c.n).over(partition_by=h.c.k, order_by=h.c.b) - h.c.n).label("before"),
               func.sum(h.c.n).over(partition_by=h.c.k).label("total")).subquery()
    floor = func.floor if db.engine.dialect.name == "postgresql" else (lambda x: cast(x, db.Integer))
    cols = [c.c.k, func.sum(c.c.n), func.sum(c.c.s) / func.sum(c.c.n)]
    for p in (0.5, 0.9):
        rank = (c.c.total - 1) * p
        lo = floor(rank)
        w = rank - lo
        x_lo = func.max(case((and_(c.c.before <= lo, lo < c.c.before + c.c.n), c.c.b)))
        x_hi = func.max(case((and_(c.c.before <= lo + 1, lo + 1 < c.c.before + c.c.n), c.c.b)))
        cols.append(cast(x_lo, Float) + (cast(func.coalesce(x_hi, x_lo), Float) - cast(x_lo, Float)) * func.max(w))
    out = {}
    for k, n, mean, p50, p90 in db.session.execute(select(*cols).group_by(c.c.k)):
        out[k if group is not None else None] = Stats(int(n), _f(mean), _f(p50), _f(p90))
    return out


def _step_groups_hist(period: Period, scope: Scope, dept_labels: dict[Any, tuple[str, str]],
                      item_labels: dict[Any, tuple[str, str]]) -> tuple[list[GroupRow], list[GroupRow]]:
    out: tuple[list[GroupRow], list[GroupRow]] = ([], [])
    for group, labels, rows in ((TH.department_id, dept_labels, out[0]), (TH.item_code, item_labels, out[1])):
        stats = hist_stats("step", period, scope, group)
        for key, n, on_time, known, paused, extended, supplemented, rongque, commitment in db.session.execute(
                select(group, func.sum(TH.n), func.sum(TH.on_time), func.sum(TH.on_time_known),
                       cast(func.sum(TH.paused_sum), Float) / func.sum(TH.n), func.sum(TH.extended),
                       func.sum(TH.supplemented), func.sum(TH.rongque), func.sum(TH.commitment))
                .where(*_hist_clauses("step", period, scope)).group_by(group).having(func.sum(TH.n) > 0)):
            rows.append(_group_row(key, labels, (n, on_time, known, paused, extended, supplemented, rongque,
                                                 commitment), stats.get(key, Stats(0, None, None, None))))
    return sorted(out[0], key=lambda r: r.key), sorted(out[1], key=lambda r: r.key)


def _overdue_clauses(scope: Scope) -> list[Any]:
    # Running steps (a paused step has no due date); the literal matches the desk's partial index.
    clauses: list[Any] = [text("steps.state IN ('received', 'accepted')"), Step.due_at < now()]
    if scope.department is not None:
        clauses.append(Step.department_id == scope.department.id)
    if scope.item:
        clauses.append(Step.item_code == scope.item)
    if scope.bundle:
        clauses.append(Step.application_id.in_(
            select(Application.id).join(BundleVersion).where(BundleVersion.code == scope.bundle)))
    return clauses


def overdue_steps(scope: Scope, limit: int | None = OVERDUE_LIST) -> tuple[int, list[dict[str, Any]]]:
    """Open steps past their due date now (computed from due dates at read time, never from a sweep)."""
    clauses = _overdue_clauses(scope)
    count = db.session.scalar(select(func.count()).select_from(Step).where(*clauses)) or 0
    query = (select(Step.id, Step.item_code, Step.department_id, Step.state, Step.due_at, Step.received_at,
                    Application.reference, BundleVersion.code)
             .join(Application, Application.id == Step.application_id).join(BundleVersion)
             .where(*clauses).order_by(Step.due_at, Step.id))
    if limit is not None:
        query = query.limit(limit)
    departments = _departments()
    rows = [{"step_id": sid, "item": item, "department": departments[dept].code,
             "department_name": departments[dept].name_zh, "state": state, "due_at": due, "received_at": received,
             "reference": ref, "bundle": code}
            for sid, item, dept, state, due, received, ref, code in db.session.execute(query)]
    return count, rows


def _ratings(period: Period, scope: Scope) -> tuple[dict[int, int], int, int]:
    clauses: list[Any] = [Rating.rated_at >= period.start_utc, Rating.rated_at < period.end_utc,
                          or_appeal_counts()]
    if scope.department is not None:
        clauses.append(Rating.department_id == scope.department.id)
    if scope.bundle:
        clauses.append(Rating.application_id.in_(
            select(Application.id).join(BundleVersion).where(BundleVersion.code == scope.bundle)))
    levels = dict(db.session.execute(select(Rating.level, func.count()).where(*clauses).group_by(Rating.level)).all())
    # Answered within 5 working days: replied by the first due date (an extended one was not).
    bad, in_time = db.session.execute(
        select(func.count(), func.count().filter(Rating.replied_at.is_not(None), Rating.extended.is_(False),
                                                 Rating.replied_at <= Rating.reply_due_at))
        .where(*clauses, Rating.level <= BAD)).one()
    return {level: int(levels.get(level, 0)) for level in sorted(LEVELS, reverse=True)}, int(bad), int(in_time)


def or_appeal_counts() -> Any:
    # An upheld appeal takes the rating out of the department's figures (ratings.models.Rating.counts).
    return (Rating.appeal_state.is_(None)) | (Rating.appeal_state != "upheld")


def _post_checks(period: Period, scope: Scope) -> dict[str, int]:
    clauses: list[Any] = [Step.on_commitment, Step.decided_at >= period.start_utc,
                          Step.decided_at < period.end_utc]
    if scope.department is not None:
        clauses.append(Step.department_id == scope.department.id)
    if scope.item:
        clauses.append(Step.item_code == scope.item)
    if scope.bundle:
        clauses.append(Step.application_id.in_(
            select(Application.id).join(BundleVersion).where(BundleVersion.code == scope.bundle)))
    rows = db.session.execute(select(Step.post_check_outcome, func.count()).where(*clauses)
                              .group_by(Step.post_check_outcome))
    found = {k or "pending": int(v) for k, v in rows}
    return {k: found.get(k, 0) for k in ("pending", "confirmed", "revoked")}


def _submitted(period: Period, scope: Scope) -> int:
    clauses: list[Any] = [Application.submitted_at >= period.start_utc, Application.submitted_at < period.end_utc]
    query = select(func.count()).select_from(Application)
    if scope.bundle:
        query = query.join(BundleVersion)
        clauses.append(BundleVersion.code == scope.bundle)
    step_conditions = []
    if scope.department is not None:
        step_conditions.append(Step.department_id == scope.department.id)
    if scope.item:
        step_conditions.append(Step.item_code == scope.item)
    if step_conditions:
        clauses.append(select(Step.id).where(Step.application_id == Application.id, *step_conditions).exists())
    return int(db.session.scalar(query.where(*clauses)) or 0)


def _month_columns(period: Period) -> list[Any]:
    """Ended and on-time counts per calendar month, as FILTER columns of the summary statement."""
    cols = []
    for first, last in period.months():
        p = Period("custom", first, last)
        in_month = and_(AT.ended_at >= p.start_utc, AT.ended_at < p.end_utc)
        cols += [func.count().filter(in_month), func.count().filter(in_month, AT.on_time.is_(True))]
    return cols


def _hist_month_columns(period: Period) -> list[Any]:
    cols = []
    for first, last in period.months():
        in_month = and_(TH.day >= first, TH.day <= last)
        cols += [func.coalesce(func.sum(TH.n).filter(in_month), 0),
                 func.coalesce(func.sum(TH.on_time).filter(in_month), 0)]
    return cols


def _monthly(period: Period, values: Sequence[Any]) -> list[dict[str, Any]]:
    months = period.months()
    if len(months) < 2:
        return []
    return [{"month": f"{first:%Y-%m}", "start": first, "end": last, "ended": int(values[2 * i]),
             "on_time": int(values[2 * i + 1]), "rate": _rate(int(values[2 * i + 1]), int(values[2 * i]))}
            for i, (first, last) in enumerate(months)]


def catalog_figures(scope: Scope) -> list[dict[str, Any]]:
    """Promised vs statutory limits, steps, materials and prefill against the separate-items baseline
    (workflows.measures), per current bundle."""
    from onestop.applications.measures import figures
    from onestop.catalog.operations import bundle_of, current_versions

    out = []
    for version in current_versions():
        if scope.bundle and version.code != scope.bundle:
            continue
        bundle = bundle_of(version)
        f = figures(bundle)
        statutory = sum((i.statutory_limit.amount for i in bundle.items
                         if i.statutory_limit.unit == i.limit.unit), Decimal(0))
        promised = sum((i.limit.amount for i in bundle.items if i.statutory_limit.unit == i.limit.unit), Decimal(0))
        out.append({"code": version.code, "name": bundle.name.zh if hasattr(bundle.name, "zh") else str(bundle.name),
                    "reductions": f.reductions, "prefill": f.prefill, "statutory": statutory, "promised": promised,
                    "promised_cut": _rate(int((statutory - promised) * 100), int(statutory * 100)) if statutory else None})
    return out


def dashboard(period: Period, scope: Scope) -> Dashboard:
    if db.engine.dialect.name == "postgresql":
        # A year's percentiles sort about a million values per group: in memory, not on disk.
        db.session.execute(text("SET LOCAL work_mem = '64MB'"))
    clauses = _app_clauses(period, scope)
    # Without a department or item in the scope, the maintained histogram answers the counts and the
    # time figures; the outcomes and the hold-up departments come from one grouped pass over the roll-up.
    fast = scope.department is None and not scope.item
    if fast:
        hist = _hist_clauses("app", period, scope)
        row = db.session.execute(
            select(func.coalesce(func.sum(TH.n), 0), func.coalesce(func.sum(TH.on_time), 0),
                   cast(func.sum(TH.paused_sum), Float) / func.nullif(func.sum(TH.n), 0),
                   cast(func.sum(TH.paused_sum), Float), func.coalesce(func.sum(TH.supplemented), 0),
                   func.coalesce(func.sum(TH.extended), 0), func.coalesce(func.sum(TH.rongque), 0),
                   func.coalesce(func.sum(TH.commitment), 0), *_hist_month_columns(period))
            .where(*hist)).one()
        month_values = row[8:]
        elapsed = hist_stats("app", period, scope).get(None, Stats(0, None, None, None))
    else:
        # One pass over the period's roll-ups: the totals and the monthly series.
        row = db.session.execute(
            select(func.count(), func.count().filter(AT.on_time.is_(True)), func.avg(cast(AT.paused_days, Float)),
                   func.sum(cast(AT.paused_days, Float)), func.count().filter(AT.supplemented.is_(True)),
                   func.coalesce(func.sum(AT.extensions), 0), func.coalesce(func.sum(AT.rongque), 0),
                   func.coalesce(func.sum(AT.commitment), 0), *_month_columns(period))
            .where(*clauses)).one()
        month_values = row[8:]
        elapsed = stats_by(AT.elapsed_days, clauses).get(None, Stats(0, None, None, None))
    (ended, on_time, paused_mean, paused_total, supplemented, extensions, rongque, commitment) = row[:8]
    by_state: dict[str, int] = {}
    held_counts: dict[int, int] = {}
    for state, held_id, n in db.session.execute(
            select(AT.state, AT.held_by_id, func.count()).where(*clauses).group_by(AT.state, AT.held_by_id)):
        by_state[state] = by_state.get(state, 0) + int(n)
        if held_id is not None:
            held_counts[held_id] = held_counts.get(held_id, 0) + int(n)
    held = sorted(held_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    departments = _departments()
    dept_labels = {d.id: (d.code, d.name_zh) for d in departments.values()}
    overdue_count, overdue = overdue_steps(scope)
    levels, bad, in_time = _ratings(period, scope)
    by_department, by_item = (_step_groups_hist if fast else _step_groups)(period, scope, dept_labels, item_labels())
    return Dashboard(
        period=period, scope=scope, submitted=_submitted(period, scope), ended=int(ended),
        by_state={k: int(v) for k, v in by_state.items()}, on_time=int(on_time), elapsed=elapsed,
        paused_mean=_f(paused_mean), paused_total=_f(paused_total), supplemented=int(supplemented),
        extensions=int(extensions), rongque=int(rongque), commitment=int(commitment),
        held_by=[(departments[i].code, departments[i].name_zh, int(n)) for i, n in held],
        departments=by_department, items=by_item,
        overdue_count=overdue_count, overdue=overdue, post_checks=_post_checks(period, scope),
        ratings=levels, bad_ratings=bad, bad_answered_in_time=in_time, monthly=_monthly(period, month_values),
        catalog=catalog_figures(scope),
    )


def item_labels() -> dict[Any, tuple[str, str]]:
    """Item codes with their official names, from the bundles in the catalog (an item code is unique)."""
    from onestop.catalog.operations import bundle_of, current_versions

    return {i.code: (i.code, i.name.zh) for v in current_versions() for i in bundle_of(v).items}


# -- drill-down -------------------------------------------------------------------------------------------

# What each figure counts, as a condition on the application roll-up (ApplicationTiming) or on one of its
# steps (StepTiming, within the scope's department and item).
APP_METRICS = {
    "ended": lambda: None,
    "on_time": lambda: AT.on_time.is_(True),
    "late": lambda: AT.on_time.is_(False),
    "supplemented": lambda: AT.supplemented.is_(True),
    "extended": lambda: AT.extensions > 0,
    "rongque": lambda: AT.rongque > 0,
    "commitment": lambda: AT.commitment > 0,
    "paused": lambda: AT.paused_days > 0,
}
STEP_METRICS = {
    "steps": lambda: None,
    "steps_on_time": lambda: ST.on_time.is_(True),
    "steps_late": lambda: ST.on_time.is_(False),
    "steps_extended": lambda: ST.extended.is_(True),
    "steps_supplemented": lambda: ST.supplemented.is_(True),
    "steps_rongque": lambda: ST.rongque.is_(True),
    "steps_commitment": lambda: ST.commitment.is_(True),
}
STATES = ("completed", "partially_completed", "rejected", "withdrawn")
DRILL_COLUMNS = ("reference", "bundle", "state", "submitted_at", "ended_at", "elapsed_days", "paused_days",
                 "on_time", "held_by", "critical_path")


def drill_clauses(period: Period, scope: Scope, show: str) -> list[Any]:
    clauses = _app_clauses(period, scope)
    if show in APP_METRICS:
        extra = APP_METRICS[show]()
        return clauses if extra is None else [*clauses, extra]
    if show in STEP_METRICS:
        extra = STEP_METRICS[show]()
        steps = list(_step_clauses(period, scope)) + ([] if extra is None else [extra])
        return [*clauses, select(ST.step_id).where(ST.application_id == AT.application_id, *steps).exists()]
    if show.startswith("state:") and show[6:] in STATES:
        return [*clauses, AT.state == show[6:]]
    if show.startswith("held:"):
        department = db.session.scalar(select(Department.id).where(Department.code == show[5:]))
        if department is None:
            raise BadRequest("show")
        return [*clauses, AT.held_by_id == department]
    if show.startswith("month:"):
        try:
            first = date.fromisoformat(show[6:] + "-01")
        except ValueError:
            raise BadRequest("show") from None
        month = make_period("month", first)
        return [*clauses, AT.ended_at >= max(month.start_utc, period.start_utc),
                AT.ended_at < min(month.end_utc, period.end_utc)]
    raise BadRequest("show")


def drill_query(period: Period, scope: Scope, show: str, order: str = "ended") -> Any:
    held = aliased(Department)
    ordering = {"ended": (AT.ended_at, AT.application_id),
                "elapsed": (AT.elapsed_days, AT.application_id)}.get(order, (AT.ended_at, AT.application_id))
    return (select(Application.reference, AT.bundle_code, AT.state, AT.submitted_at, AT.ended_at,
                   AT.elapsed_days, AT.paused_days, AT.on_time, held.code, AT.critical_path)
            .join(Application, Application.id == AT.application_id)
            .outerjoin(held, held.id == AT.held_by_id)
            .where(*drill_clauses(period, scope, show)).order_by(*ordering))


def drill_count(period: Period, scope: Scope, show: str) -> int:
    return int(db.session.scalar(select(func.count()).select_from(AT).where(*drill_clauses(period, scope, show))) or 0)


def drill_page(period: Period, scope: Scope, show: str, page: int, order: str = "ended") -> list[dict[str, Any]]:
    rows = db.session.execute(drill_query(period, scope, show, order).limit(DRILL_PAGE)
                              .offset(max(page - 1, 0) * DRILL_PAGE))
    return [dict(zip(DRILL_COLUMNS, row, strict=True)) for row in rows]


def stream_rows(query: Any, batch: int = 2000) -> Iterator[Sequence[Any]]:
    """Rows of a query, fetched in batches on a server-side cursor: memory stays flat for any size."""
    result = db.session.execute(query.execution_options(yield_per=batch))
    yield from result


# -- the processing-time log of one application ----------------------------------------------------------

@dataclass
class StepLog:
    step: Step
    counted: Decimal
    paused: Decimal
    on_time: bool | None
    critical: bool
    transitions: list[StepTransition]
    extensions: list[StepExtension]


@dataclass
class ApplicationLog:
    application: Application
    steps: list[StepLog]
    critical_path: list[str]
    held_by: str | None
    elapsed: Decimal | None
    paused: Decimal | None


def application_log(application: Application) -> ApplicationLog:
    from onestop.clocks.operations import work_calendar
    from onestop.supervision.rollup import spans_of
    from workflows.supervision import critical_path, held_up_by, working_days

    spans, pauses = spans_of(application)
    by_item = {s.item: s for s in spans}
    path = critical_path(spans)
    path_items = [s.item for s in path]
    elapsed = paused = None
    if application.ended_at is not None:
        elapsed, paused = working_days(application.submitted_at, application.ended_at, work_calendar(),
                                       [p for s in path for p in pauses[s.item]])
    extensions: dict[int, list[StepExtension]] = {}
    for ext in db.session.scalars(select(StepExtension).where(
            StepExtension.step_id.in_([s.id for s in application.steps])).order_by(StepExtension.id)):
        extensions.setdefault(ext.step_id, []).append(ext)
    steps = []
    for step in application.steps:
        span = by_item[step.item_code]
        on_time = None
        if step.due_at is not None:
            on_time = (step.decided_at or now()) <= step.due_at
        steps.append(StepLog(step, span.counted, span.paused, on_time, step.item_code in path_items,
                             list(step.transitions), extensions.get(step.id, [])))
    order = {item: i for i, item in enumerate(s.item for s in spans)}
    steps.sort(key=lambda s: (order.get(s.step.item_code, 99), s.step.id))
    return ApplicationLog(application, steps, path_items, held_up_by(path), elapsed, paused)


LOG_COLUMNS = ("item", "department", "seq", "action", "from_state", "to_state", "at", "actor_role", "rule",
               "counted", "paused", "due_at")


def log_rows(log: ApplicationLog) -> list[tuple[Any, ...]]:
    return [(s.step.item_code, s.step.department.code, t.seq, t.action, t.from_state, t.to_state, t.at,
             t.actor_role, t.rule, t.counted, t.paused, t.due_at) for s in log.steps for t in s.transitions]


def find_application(reference: str) -> Application | None:
    return db.session.scalar(select(Application).where(Application.reference == reference.strip()))
