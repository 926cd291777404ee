"""Read models of the desk: the department queue (tabs, urgency order, filters, search, keyset pages)
and the head's supervision figures.

The queue is read per department, one tab at a time. A tab is a list of *parts*, each one ordered range
of an index (see the Index entries on Step and migration 0020): e.g. "to accept" is first the received
steps whose clock already runs (from receipt), most urgent due date first, then the others by arrival.
A page walks the parts in order with a keyset cursor (part, sort value, id), so page 1 and page 10,000
cost the same: no OFFSET, no sort of the whole backlog. Counts are capped (COUNT_CAP) for the same reason.

Urgency is the due date: the remaining working time of every running step ends at its due_at, which the
engine keeps up to date, so ordering by due_at is ordering by remaining time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import and_, case, func, or_, select, text, tuple_
from sqlalchemy.orm import aliased

from onestop.accounts.models import Department, Enterprise, StaffRole, User
from onestop.applications.models import Application, Step, StepExtension, SupplementRequest
from onestop.catalog.models import BundleVersion
from onestop.clocks.operations import work_calendar
from onestop.core.clock import local_tz, now
from onestop.extensions import db
from onestop.reviews.claims import live_claim_clause
from workflows.calendar import WorkCalendar
from workflows.catalog.schema import Bundle, Item, Mode, TimeLimit
from workflows.clock import Extension, Limit, Unit, compute_due
from workflows.identity import mask_name

TABS = ("to_accept", "in_progress", "waiting", "due_soon", "overdue", "finished")
PAGE_SIZE = 50
COUNT_CAP = 1000  # a tab shows "1000+" beyond this: counting a large backlog exactly costs as much as it
# (a finished tab of a year holds hundreds of thousands of rows) and nobody works by that number.
# The literal text matches the partial index ix_steps_queue_running, so PostgreSQL can use it
# whatever the plan cache does with parameters.
RUNNING = text("steps.state IN ('received', 'accepted')")
DUE_SOON = TimeLimit(amount=Decimal(1), unit=Unit.WORKING_DAYS)  # 临近审限: within one working day


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class QueueFilter:
    bundle: str | None = None
    item: str | None = None
    mode: str | None = None  # ordinary | commitment | rongque (what the item allows)
    received_from: date | None = None
    received_to: date | None = None
    q: str | None = None  # reference number (or its beginning) or the applicant's name

    @property
    def active(self) -> bool:
        return any(v not in (None, "") for v in (self.bundle, self.item, self.mode, self.received_from,
                                                  self.received_to, self.q))


@dataclass(frozen=True)
class _Part:
    where: tuple[Any, ...]
    column: Any  # the sort column (never NULL inside the part)
    descending: bool = False


@dataclass
class QueueRow:
    step: Step
    reference: str
    bundle_code: str
    applicant_name: str
    holder_name: str | None
    holder_id: int | None
    holder_expires_at: datetime | None
    supplement_due_at: datetime | None = None
    remaining: Remaining | None = None


@dataclass
class QueuePage:
    rows: list[QueueRow]
    next_cursor: str | None
    counts: dict[str, int]


@dataclass(frozen=True)
class Remaining:
    """Remaining working time of a running step, in its limit's unit; negative when overdue."""

    amount: Decimal
    unit: Unit
    level: str  # overdue | due_soon | on_time


# -- the catalog side of filters ----------------------------------------------------------------------

def catalog_bundles() -> list[Bundle]:
    return list(current_app.extensions["onestop_catalog"].bundles)


def items_of_department(department_code: str) -> list[tuple[Bundle, Item]]:
    return [(b, i) for b in catalog_bundles() for i in b.items if i.department == department_code]


def _item_codes(department_code: str, flt: QueueFilter) -> list[str] | None:
    """The item codes the filter allows, or None for all. Item codes are unique across the catalog
    (tests/unit check it), so a bundle is the set of its items."""
    pairs = items_of_department(department_code)
    if flt.bundle:
        pairs = [(b, i) for b, i in pairs if b.code == flt.bundle]
    if flt.item:
        pairs = [(b, i) for b, i in pairs if i.code == flt.item]
    if flt.mode == "ordinary":
        pairs = [(b, i) for b, i in pairs if set(i.modes) == {Mode.ORDINARY}]
    elif flt.mode in (Mode.COMMITMENT.value, Mode.RONGQUE.value):
        pairs = [(b, i) for b, i in pairs if Mode(flt.mode) in i.modes]
    if not (flt.bundle or flt.item or flt.mode):
        return None
    return sorted({i.code for _b, i in pairs})


def _local_day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), local_tz()).astimezone(UTC)


def _search(q: str) -> Any:
    """Applications matching the search: the reference number (whole, or its beginning from 8 characters
    on), or the applicant's exact name (person, operator or enterprise)."""
    q = q.strip()
    ref = Application.reference == q
    if len(q) >= 8 and q.isascii() and q.isalnum():
        ref = and_(Application.reference >= q, Application.reference < q + "~")  # prefix, index range
    people = select(User.id).where(User.name == q)
    firms = select(Enterprise.id).where(Enterprise.name == q)
    return select(Application.id).where(or_(ref, Application.applicant_id.in_(people),
                                            Application.enterprise_id.in_(firms)))


def _filters(department: Department, flt: QueueFilter) -> list[Any]:
    clauses: list[Any] = [Step.department_id == department.id]
    codes = _item_codes(department.code, flt)
    if codes is not None:
        clauses.append(Step.item_code.in_(codes) if codes else text("1 = 0"))
    if flt.received_from:
        clauses.append(Step.received_at >= _local_day_start(flt.received_from))
    if flt.received_to:
        clauses.append(Step.received_at < _local_day_start(flt.received_to + timedelta(days=1)))
    if flt.q and flt.q.strip():
        clauses.append(Step.application_id.in_(_search(flt.q)))
    return clauses


# -- tabs ------------------------------------------------------------------------------------------------

def due_soon_until(at: datetime) -> datetime:
    """The end of the due-soon window: one working day from `at`, counting the rest of today."""
    due = compute_due(at, Limit(DUE_SOON.amount, DUE_SOON.unit), work_calendar(), start_day_counts=True)
    return due.due if due.due is not None else at + timedelta(days=1)


def _parts(tab: str, at: datetime, soon: datetime) -> list[_Part]:
    def by_due_then_arrival(state: str) -> list[_Part]:
        return [_Part((Step.state == state, Step.due_at.is_not(None)), Step.due_at),
                _Part((Step.state == state, Step.due_at.is_(None)), Step.received_at)]

    if tab == "to_accept":
        return by_due_then_arrival("received")
    if tab == "in_progress":
        return [*by_due_then_arrival("accepted"), _Part((Step.state == "suspended",), Step.received_at)]
    if tab == "waiting":
        return [_Part((Step.state == "supplement",), Step.received_at)]
    if tab == "due_soon":
        return [_Part((RUNNING, Step.due_at >= at, Step.due_at <= soon), Step.due_at)]
    if tab == "overdue":
        return [_Part((RUNNING, Step.due_at < at), Step.due_at)]
    if tab == "finished":
        return [_Part((Step.decided_at.is_not(None),), Step.decided_at, descending=True)]
    raise ValueError(tab)


def _encode(part: int, value: datetime, step_id: int) -> str:
    micros = int(value.timestamp() * 1_000_000) if value.tzinfo else int(
        value.replace(tzinfo=UTC).timestamp() * 1_000_000)
    return f"{part}.{micros}.{step_id}"


def _decode(cursor: str, parts: int) -> tuple[int, datetime, int]:
    try:
        part_s, micros_s, id_s = cursor.split(".")
        part, micros, step_id = int(part_s), int(micros_s), int(id_s)
    except ValueError:
        raise BadCursor(cursor) from None
    if not 0 <= part < parts or step_id < 0:
        raise BadCursor(cursor)
    return part, datetime.fromtimestamp(micros / 1_000_000, UTC), step_id


def _page_ids(base: list[Any], parts: list[_Part], cursor: str | None, size: int) -> tuple[list[int], str | None]:
    """Walk the parts from the cursor; return up to `size` step ids and the cursor of the next page."""
    start_part, after = 0, None
    if cursor:
        start_part, value, after_id = _decode(cursor, len(parts))
        after = (value, after_id)
    found: list[tuple[int, int, datetime]] = []
    for index in range(start_part, len(parts)):
        part = parts[index]
        need = size + 1 - len(found)
        if need <= 0:
            break
        stmt = select(Step.id, part.column).where(*base, *part.where)
        if after is not None and index == start_part:
            key = tuple_(part.column, Step.id)
            stmt = stmt.where(key < tuple_(*after) if part.descending else key > tuple_(*after))
        order = (part.column.desc(), Step.id.desc()) if part.descending else (part.column, Step.id)
        for step_id, value in db.session.execute(stmt.order_by(*order).limit(need)):
            found.append((index, step_id, value))
    next_cursor = None
    if len(found) > size:
        index, step_id, value = found[size - 1]
        next_cursor = _encode(index, value, step_id)
        found = found[:size]
    return [step_id for _i, step_id, _v in found], next_cursor


def _capped(clauses: Sequence[Any]) -> Any:
    inner = select(Step.id).where(*clauses).limit(COUNT_CAP + 1).subquery()
    return select(func.count()).select_from(inner).scalar_subquery()


def _capped_count(clauses: Sequence[Any]) -> int:
    return int(db.session.scalar(select(_capped(clauses))) or 0)


def tab_counts(department: Department, flt: QueueFilter, at: datetime, soon: datetime) -> dict[str, int]:
    """Every tab's count (each capped) in one statement: one round trip, each part one index range."""
    base = _filters(department, flt)
    columns, owners = [], []
    for tab in TABS:
        for part in _parts(tab, at, soon):
            columns.append(_capped([*base, *part.where]))
            owners.append(tab)
    counts = dict.fromkeys(TABS, 0)
    for tab, n in zip(owners, db.session.execute(select(*columns)).one(), strict=True):
        counts[tab] = min(COUNT_CAP + 1, counts[tab] + int(n or 0))
    return counts


def queue_page(department: Department, tab: str, flt: QueueFilter, cursor: str | None = None,
               size: int = PAGE_SIZE, with_counts: bool = True) -> QueuePage:
    at = now()
    soon = due_soon_until(at)
    base = _filters(department, flt)
    ids, next_cursor = _page_ids(base, _parts(tab, at, soon), cursor, size)
    rows = _rows(ids)
    for row in rows:
        row.remaining = remaining_of(row.step, at, soon)
    counts = tab_counts(department, flt, at, soon) if with_counts else {}
    return QueuePage(rows, next_cursor, counts)


def _rows(ids: list[int]) -> list[QueueRow]:
    """What a queue line shows, for one page of steps, in one query (plus one for open supplements)."""
    if not ids:
        return []
    applicant, holder = aliased(User), aliased(User)
    stmt = (
        select(Step, Application.reference, BundleVersion.code, applicant.name, Enterprise.name,
               holder.name)
        .join(Application, Application.id == Step.application_id)
        .join(BundleVersion, BundleVersion.id == Application.bundle_version_id)
        .join(applicant, applicant.id == Application.applicant_id)
        .outerjoin(Enterprise, Enterprise.id == Application.enterprise_id)
        .outerjoin(holder, holder.id == Step.claimed_by_id)
        .where(Step.id.in_(ids))
    )
    at = now()
    by_id = {}
    for step, reference, code, person, firm, holder_name in db.session.execute(stmt):
        live = step.claimed_by_id is not None and (step.claim_expires_at is None or step.claim_expires_at > at)
        # An enterprise's name is public; a person's is masked in lists (shown in full on the step page).
        by_id[step.id] = QueueRow(step, reference, code, firm or mask_name(person), holder_name if live else None,
                                  step.claimed_by_id if live else None, step.claim_expires_at if live else None)
    waiting = [i for i in ids if by_id[i].step.state == "supplement"]
    if waiting:
        for step_id, due in db.session.execute(select(SupplementRequest.step_id, SupplementRequest.due_at).where(
                SupplementRequest.step_id.in_(waiting), SupplementRequest.answered_at.is_(None))):
            by_id[step_id].supplement_due_at = due
    return [by_id[i] for i in ids]


def remaining_of(step: Step, at: datetime, soon: datetime | None = None) -> Remaining | None:
    """Working time left until the step's due date (negative: how late it is), in the limit's unit."""
    if step.due_at is None or step.decided_at is not None:
        return None
    unit = Unit(step.limit_unit)
    calendar = work_calendar()
    if step.due_at >= at:
        amount = time_between(at, step.due_at, unit, calendar)
        soon = soon or due_soon_until(at)
        return Remaining(amount, unit, "due_soon" if step.due_at <= soon else "on_time")
    return Remaining(-time_between(step.due_at, at, unit, calendar), unit, "overdue")


def time_between(start: datetime, end: datetime, unit: Unit, calendar: WorkCalendar) -> Decimal:
    """The time the clock counts between two instants, to 0.001 of the unit, for display.

    The same measure as workflows.clock.counted_time(start, end, unit, calendar, start_day_counts=True)
    (tests/integration/test_desk.py compares them), in floats over the few days between the two: a
    queue page shows fifty of these, and the exact rational arithmetic of the engine costs ten times as
    much as the rest of a line.
    """
    if unit is Unit.MINUTES:
        return Decimal(round((end - start).total_seconds() / 60, 3)).quantize(Decimal("0.001"))
    tz = calendar.tz
    a, b = start.astimezone(tz), end.astimezone(tz)
    if unit is Unit.NATURAL_DAYS:
        total, day = 0.0, a.date()
        while day <= b.date():
            day_start = datetime.combine(day, time(0), tz)
            day_end = datetime.combine(day + timedelta(days=1), time(0), tz)
            lo, hi = max(day_start, a), min(day_end, b)
            if hi > lo:
                total += (hi - lo) / (day_end - day_start)
            day += timedelta(days=1)
        return Decimal(round(total, 3)).quantize(Decimal("0.001"))
    share = len(calendar.sessions)
    total, day = 0.0, a.date()
    while day <= b.date():
        for s0, s1 in _sessions_on(calendar, day):
            lo, hi = max(s0, a), min(s1, b)
            if hi > lo:
                # A working day is its sessions, each an equal share of the day, whatever its length.
                total += ((hi - lo) / (s1 - s0) / share if unit is Unit.WORKING_DAYS
                          else (hi - lo).total_seconds() / 3600)
        day += timedelta(days=1)
    return Decimal(round(total, 3)).quantize(Decimal("0.001"))


def _sessions_on(calendar: WorkCalendar, day: date) -> tuple[tuple[datetime, datetime], ...]:
    """The day's office sessions as instants (none on a day off). Kept on the calendar object itself: a
    page asks for the same few weeks fifty times, and a changed calendar is a new object."""
    cache: dict[date, tuple[tuple[datetime, datetime], ...]] | None = getattr(calendar, "_desk_sessions", None)
    if cache is None:
        cache = {}
        calendar._desk_sessions = cache  # type: ignore[attr-defined]
    sessions = cache.get(day)
    if sessions is None:
        tz = calendar.tz
        sessions = cache[day] = tuple(
            (datetime.combine(day, s.start, tz), datetime.combine(day, s.end, tz)) for s in calendar.sessions
        ) if calendar.is_working_day(day) else ()
    return sessions


# -- the step page -----------------------------------------------------------------------------------------

def other_departments(step: Step) -> list[Step]:
    """The application's other steps (read-only on the step page)."""
    return [s for s in step.application.steps if s.id != step.id]


# -- supervision (the head's page) -------------------------------------------------------------------------

@dataclass
class ReviewerLoad:
    user: User
    holding: int = 0  # open steps whose claim they hold now
    holding_overdue: int = 0
    decided_30d: int = 0


@dataclass
class Supervision:
    overdue: list[QueueRow]
    due_soon: list[QueueRow]
    counts: dict[str, int]
    load: list[ReviewerLoad]
    extensions: list[StepExtension]
    post_checks: list[Step]
    unclaimed_open: int = 0


def reviewer_load(department: Department, at: datetime) -> list[ReviewerLoad]:
    staff = db.session.scalars(
        select(User).where(User.is_active_account, User.id.in_(
            select(StaffRole.user_id).where(StaffRole.department_id == department.id)))
        .order_by(User.name, User.id)).unique().all()
    load = {u.id: ReviewerLoad(u) for u in staff}
    open_ = Step.decided_at.is_(None)
    held = db.session.execute(
        select(Step.claimed_by_id, func.count(), func.sum(case((Step.due_at < at, 1), else_=0)))
        .where(Step.department_id == department.id, open_, live_claim_clause(at))
        .group_by(Step.claimed_by_id))
    for user_id, holding, overdue in held:
        if user_id in load:
            load[user_id].holding, load[user_id].holding_overdue = int(holding), int(overdue or 0)
    decided = db.session.execute(
        select(Step.decided_by_id, func.count())
        .where(Step.department_id == department.id, Step.decided_at >= at - timedelta(days=30),
               Step.decided_by_id.is_not(None))
        .group_by(Step.decided_by_id))
    for user_id, n in decided:
        if user_id in load:
            load[user_id].decided_30d = int(n)
    return list(load.values())


def supervision(department: Department, lists: int = 20) -> Supervision:
    at = now()
    soon = due_soon_until(at)
    flt = QueueFilter()
    overdue = queue_page(department, "overdue", flt, size=lists, with_counts=False).rows
    due_soon = queue_page(department, "due_soon", flt, size=lists, with_counts=False).rows
    counts = tab_counts(department, flt, at, soon)
    extensions = list(db.session.scalars(
        select(StepExtension).join(Step).where(StepExtension.state == "requested", Step.department_id == department.id)
        .order_by(StepExtension.requested_at)))
    post_checks = list(db.session.scalars(
        select(Step).where(Step.department_id == department.id, Step.on_commitment.is_(True),
                           Step.post_check_outcome.is_(None))
        .order_by(Step.post_check_due_at, Step.id).limit(100)))
    unclaimed = _capped_count([Step.department_id == department.id, Step.decided_at.is_(None),
                               Step.state != "waiting", ~live_claim_clause(at)])
    return Supervision(overdue, due_soon, counts, reviewer_load(department, at), extensions, post_checks, unclaimed)


def extension_preview(extension: StepExtension) -> datetime | None:
    """The due date the step would have if the head approved the extension (None while paused)."""
    from onestop.applications import engine

    step = extension.step
    if step.clock_start is None or step.due_at is None:
        return None
    total = Decimal(step.extension_amount or 0) + Decimal(extension.amount)
    due = compute_due(step.clock_start, engine.limit_of(step), work_calendar(), pauses=engine.pauses_of(step),
                      extensions=[Extension(Limit(total, Unit(step.limit_unit)))],
                      start_day_counts=step.start_day_counts)
    return due.due


def sample_size(population: int, rate_percent: int) -> int:
    """At least the rate, rounded up: 5% of 41 closed steps is 3 steps, never 2."""
    return min(population, math.ceil(population * rate_percent / 100))
