"""Writing the timing roll-ups: once, when an application ends (fan-in or withdrawal).

Everything here is computed from the stored steps, their pauses and the holiday calendar; nothing is
taken from a caller. `record_application()` replaces earlier rows, so a backfill (or a recomputation
after a calendar correction) gives the same answer as the fan-in did.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select

from onestop.applications.engine import pauses_of
from onestop.applications.models import Application, Step, StepExtension
from onestop.audit.models import AuditEvent
from onestop.catalog.operations import bundle_of
from onestop.clocks.operations import work_calendar
from onestop.core.clock import local_tz, now
from onestop.extensions import db
from onestop.supervision.models import ApplicationTiming, StepTiming, TimingHistogram
from workflows.clock import Pause
from workflows.supervision import Span, critical_path, held_up_by, working_days

Q = Decimal("0.0001")


def _rongque_step_ids(steps: list[Step]) -> set[int]:
    ids = [s.id for s in steps]
    fulfilled = set(db.session.scalars(select(AuditEvent.subject_id).where(
        AuditEvent.subject_type == "step", AuditEvent.subject_id.in_(ids),
        AuditEvent.tag == "application:step:rongque_fulfilled")))
    return fulfilled | {s.id for s in steps if s.outstanding_materials}


def spans_of(application: Application) -> tuple[list[Span], dict[str, list[Pause]]]:
    """The steps as workflows.supervision sees them, in the bundle's item order, with their pauses."""
    calendar = work_calendar()
    bundle = bundle_of(application.bundle_version)
    order = {item.code: i for i, item in enumerate(bundle.items)}
    requires = {item.code: tuple(item.requires) for item in bundle.items}
    spans, pauses = [], {}
    for step in sorted(application.steps, key=lambda s: (order.get(s.item_code, 99), s.id)):
        own = pauses_of(step, since=step.received_at) if step.received_at else []
        counted = paused = Decimal(0)
        if step.received_at is not None:
            end = step.decided_at or now()
            counted, paused = working_days(step.received_at, max(end, step.received_at), calendar, own)
        pauses[step.item_code] = own
        spans.append(Span(step.item_code, step.department.code, requires.get(step.item_code, ()),
                          step.received_at, step.decided_at, counted, paused))
    return spans, pauses


def record_application(application: Application) -> ApplicationTiming | None:
    """Write (or rewrite) the roll-ups of an ended application and its steps."""
    if application.ended_at is None:
        return None
    steps = list(application.steps)
    spans, pauses = spans_of(application)
    by_item = {s.item: s for s in spans}
    path = critical_path(spans)
    path_pauses = [p for span in path for p in pauses[span.item]]
    elapsed, paused = working_days(application.submitted_at, application.ended_at, work_calendar(), path_pauses)
    code = application.bundle_version.code
    approved = list(db.session.scalars(select(StepExtension.step_id).where(
        StepExtension.step_id.in_([s.id for s in steps]), StepExtension.state == "approved")))
    extended, extension_count = set(approved), len(approved)
    rongque = _rongque_step_ids(steps)
    held = held_up_by(path)
    held_id = next((s.department_id for s in steps if s.department.code == held), None)
    # A rewrite first takes the earlier rows out of the histogram.
    old = [*db.session.scalars(select(StepTiming).where(StepTiming.application_id == application.id)),
           *db.session.scalars(select(ApplicationTiming).where(ApplicationTiming.application_id == application.id))]
    histogram: dict[tuple[Any, ...], list[Any]] = {}
    for row in old:
        _contribute(histogram, row, -1)
    db.session.execute(delete(StepTiming).where(StepTiming.application_id == application.id))
    db.session.execute(delete(ApplicationTiming).where(ApplicationTiming.application_id == application.id))
    step_rows = []
    for step in steps:
        if step.decided_at is None:
            continue
        span = by_item[step.item_code]
        on_time = None if step.due_at is None else step.decided_at <= step.due_at
        step_rows.append(StepTiming(
            step_id=step.id, application_id=application.id, bundle_code=code, item_code=step.item_code,
            department_id=step.department_id, state=step.state, received_at=step.received_at,
            decided_at=step.decided_at, counted_days=span.counted.quantize(Q), paused_days=span.paused.quantize(Q),
            on_time=on_time, extended=step.id in extended, supplemented=bool(step.supplements),
            rongque=step.id in rongque, commitment=bool(step.on_commitment)))
    timing = ApplicationTiming(
        application_id=application.id, bundle_code=code, state=application.state,
        submitted_at=application.submitted_at, ended_at=application.ended_at,
        elapsed_days=elapsed.quantize(Q), paused_days=paused.quantize(Q),
        on_time=all(r.on_time is not False for r in step_rows), held_by_id=held_id,
        critical_path=[s.item for s in path], supplemented=any(r.supplemented for r in step_rows),
        extensions=extension_count, rongque=sum(r.rongque for r in step_rows),
        commitment=sum(r.commitment for r in step_rows), computed_at=now())
    db.session.add_all([*step_rows, timing])
    for row in [*step_rows, timing]:
        _contribute(histogram, row, 1)
    _apply(histogram)
    return timing


HISTOGRAM_VALUES = ("n", "on_time", "on_time_known", "elapsed_sum", "paused_sum", "paused_n", "extended",
                    "supplemented", "rongque", "commitment")
BUCKET = Decimal("0.01")


def _contribute(histogram: dict[tuple[Any, ...], list[Any]], row: ApplicationTiming | StepTiming, sign: int) -> None:
    if isinstance(row, StepTiming):
        key = (row.decided_at.astimezone(local_tz()).date(), "step", row.bundle_code, row.department_id,
               row.item_code, Decimal(row.counted_days).quantize(BUCKET))
        values = [1, row.on_time is True, row.on_time is not None, Decimal(row.counted_days),
                  Decimal(row.paused_days), row.paused_days > 0, row.extended, row.supplemented, row.rongque,
                  row.commitment]
    else:
        key = (row.ended_at.astimezone(local_tz()).date(), "app", row.bundle_code, 0, "",
               Decimal(row.elapsed_days).quantize(BUCKET))
        values = [1, row.on_time, True, Decimal(row.elapsed_days), Decimal(row.paused_days), row.paused_days > 0,
                  row.extensions, row.supplemented, row.rongque, row.commitment]
    monthly = (key[0].replace(day=1), "appm" if key[1] == "app" else "stpm", *key[2:])
    for k in (key, monthly):
        totals = histogram.setdefault(k, [0] * len(HISTOGRAM_VALUES))
        for i, value in enumerate(values):
            totals[i] += sign * (value if isinstance(value, Decimal) else int(value))


def _apply(histogram: dict[tuple[Any, ...], list[Any]]) -> None:
    """Add the contributions: one upsert per bucket (the row lock serialises concurrent fan-ins)."""
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = TimingHistogram.__table__
    for (day, kind, bundle, department, item, bucket), values in histogram.items():
        if not any(values):
            continue
        stmt = insert(table).values(day=day, kind=kind, bundle_code=bundle, department_id=department,
                                    item_code=item, bucket=bucket, **dict(zip(HISTOGRAM_VALUES, values, strict=True)))
        db.session.execute(stmt.on_conflict_do_update(
            index_elements=["kind", "day", "bundle_code", "department_id", "item_code", "bucket"],
            set_={name: table.c[name] + stmt.excluded[name] for name in HISTOGRAM_VALUES}))


def backfill(batch: int = 500) -> int:
    """Roll up every ended application that has no row yet (after the migration, or a restore)."""
    done = 0
    while True:
        ids = db.session.scalars(
            select(Application.id).where(Application.ended_at.is_not(None),
                                         ~select(ApplicationTiming.application_id).where(
                                             ApplicationTiming.application_id == Application.id).exists())
            .order_by(Application.id).limit(batch)).all()
        if not ids:
            return done
        for application in db.session.scalars(select(Application).where(Application.id.in_(ids))):
            record_application(application)
            done += 1
        db.session.flush()
