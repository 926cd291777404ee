"""Large exports as a job: rows streamed from the database into the file, progress written on its own
connection (so the bar moves while the job's transaction is still open), the file kept for download."""

from __future__ import annotations

import os
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update
from werkzeug.datastructures import MultiDict

from onestop.core.clock import now
from onestop.core.jobs import job
from onestop.extensions import db
from onestop.supervision import exports, queries
from onestop.supervision.models import ExportJob

TABLES = ("applications",)


def export_dir() -> str:
    path = os.path.join(current_app.instance_path, "exports")
    os.makedirs(path, exist_ok=True)
    return path


def _progress(job_id: int, **values: Any) -> None:
    with db.engine.begin() as conn:
        conn.execute(update(ExportJob).where(ExportJob.id == job_id).values(**values))


@job("supervision_export")
def run_export(job_id: int) -> None:
    export = db.session.get(ExportJob, job_id)
    if export is None or export.state == "done":
        return  # idempotent: a second run of a finished export does nothing
    args = MultiDict(export.params)
    try:
        period, scope = queries.parse_period(args), queries.parse_scope(args)
        show = args.get("show") or "ended"
        query = queries.drill_query(period, scope, show, args.get("order") or "ended")
        total = int(db.session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    except queries.BadRequest as exc:
        _progress(job_id, state="failed", error=str(exc), finished_at=now())
        return
    _progress(job_id, state="running", total_rows=total, done_rows=0)
    name = f"export-{job_id}.{export.fmt}"
    path = os.path.join(export_dir(), name)
    rows = queries.stream_rows(query)
    if export.fmt == "xlsx":
        done = exports.write_xlsx(path, f"applications {period.label}", queries.DRILL_COLUMNS, rows,
                                  progress=lambda n: _progress(job_id, done_rows=n))
    else:
        done = 0
        with open(path, "wb") as f:
            for chunk in exports.csv_stream(queries.DRILL_COLUMNS, _counting(rows, job_id)):
                f.write(chunk)
        done = total
    _progress(job_id, state="done", done_rows=done, file_name=name, finished_at=now())


def _counting(rows: Any, job_id: int, every: int = 5000) -> Any:
    for n, row in enumerate(rows, 1):
        if n % every == 0:
            _progress(job_id, done_rows=n)
        yield row
