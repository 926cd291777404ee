"""效能监察 pages for auditors: dashboard, drill-down lists, processing-time logs, exports, the audit
trail and the quality samples. Every route is auditor-only and reads; the writes are the auditors' own
audit events (searches, views, exports) and their background export jobs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from onestop.audit.models import AuditEvent
from onestop.audit.operations import record, verify_chain
from onestop.core.clock import local_now, now
from onestop.core.jobs import after_commit, commit
from onestop.extensions import db, limiter
from onestop.reviews.models import QualitySample
from onestop.supervision import charts, exports, queries
from onestop.supervision import jobs as supervision_jobs
from onestop.supervision.models import ExportJob

bp = Blueprint("supervision", __name__, url_prefix="/supervision")

INLINE_EXPORT_MAX = 20_000  # beyond this an export runs as a job with a progress bar
AUDIT_PAGE = 100

BAD_REQUEST = {
    "period": lambda: _("Choose a month, a quarter, a year or a custom period."),
    "custom": lambda: _("A custom period needs a start and an end date, the end not before the start, "
                        "at most three years apart."),
    "date": lambda: _("Dates are written as 2026-11-30 (a month as 2026-11)."),
    "department": lambda: _("There is no such department."),
    "bundle": lambda: _("There is no such matter."),
    "show": lambda: _("That figure cannot be listed."),
}


def auditor_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user.kind != "auditor":
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _period_scope() -> tuple[queries.Period, queries.Scope, str | None]:
    """The period and scope asked for; a wrong one falls back to this month, with the reason."""
    try:
        return queries.parse_period(request.args), queries.parse_scope(request.args), None
    except queries.BadRequest as exc:
        return queries.make_period("month"), queries.Scope(), BAD_REQUEST[str(exc)]()


def _filters() -> dict[str, Any]:
    from onestop.accounts.models import Department
    from onestop.catalog.operations import bundle_of, current_versions

    bundles = [(v.code, bundle_of(v)) for v in current_versions()]
    return {"departments": list(db.session.scalars(select(Department).order_by(Department.code))),
            "bundles": bundles,
            "items": sorted(queries.item_labels().values())}


def _args(period: queries.Period, scope: queries.Scope, **extra: str) -> dict[str, str]:
    return {**period.args(), **scope.args(), **extra}


@bp.route("/")
@auditor_required
def dashboard() -> str:
    period, scope, problem = _period_scope()
    if problem:
        flash(problem, "error")
    view = queries.dashboard(period, scope)
    args = _args(period, scope)

    def link(show: str, **extra: str) -> str:
        return url_for("supervision.applications", **{**args, **extra, "show": show})

    return render_template("supervision/dashboard.html", view=view, args=args,
                           chart=charts.dashboard_charts(view, link), **_filters())


@bp.route("/applications")
@auditor_required
def applications() -> Any:
    reference = (request.args.get("q") or "").strip()
    if reference:
        # Auditors' own searches are audited (who looked for which application).
        record("supervision:searched", "application", None, {"q": reference[:64]})
        found = queries.find_application(reference)
        commit()
        if found is not None:
            return redirect(url_for("supervision.log", reference=found.reference))
        flash(_("No application has the reference %(ref)s.", ref=reference[:64]), "error")
        return redirect(url_for("supervision.dashboard"))
    period, scope, problem = _period_scope()
    show = request.args.get("show") or "ended"
    try:
        queries.drill_clauses(period, scope, show)
    except queries.BadRequest as exc:
        problem = BAD_REQUEST[str(exc)]()
    if problem:
        flash(problem, "error")
        return redirect(url_for("supervision.dashboard"))
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    order = request.args.get("order") or "ended"
    rows = queries.drill_page(period, scope, show, page, order)
    total = queries.drill_count(period, scope, show)
    return render_template("supervision/applications.html", rows=rows, total=total, page=page,
                           pages=max((total + queries.DRILL_PAGE - 1) // queries.DRILL_PAGE, 1), show=show,
                           order=order, period=period, scope=scope, args=_args(period, scope, show=show, order=order),
                           back=_args(period, scope))


@bp.route("/applications/<reference>")
@auditor_required
def log(reference: str) -> str:
    application = queries.find_application(reference)
    if application is None:
        abort(404)
    view = queries.application_log(application)
    record("supervision:log_viewed", "application", application.id, {"reference": application.reference})
    commit()
    return render_template("supervision/log.html", log=view, application=application)


# -- exports ----------------------------------------------------------------------------------------------

def _table(name: str) -> tuple[str, Sequence[str], Any, Callable[[], int]]:
    """(title, columns, rows or a query, count) of an exportable table, from the request's arguments."""
    period, scope, problem = _period_scope()
    if problem:
        abort(400)
    if name == "applications":
        show = request.args.get("show") or "ended"
        try:
            query = queries.drill_query(period, scope, show, request.args.get("order") or "ended")
        except queries.BadRequest:
            abort(400)
        return (f"applications {period.label}", queries.DRILL_COLUMNS, query,
                lambda: queries.drill_count(period, scope, show))
    if name in ("departments", "items"):
        view = queries.dashboard(period, scope)
        groups = view.departments if name == "departments" else view.items
        rows = [(g.key, g.label, g.ended, g.on_time, g.on_time_rate, g.counted.mean, g.counted.p50, g.counted.p90,
                 g.paused_mean, g.extended, g.supplemented, g.supplement_rate, g.rongque, g.commitment)
                for g in groups]
        columns = ("code", "name", "steps_ended", "on_time", "on_time_rate", "working_days_mean", "working_days_p50",
                   "working_days_p90", "paused_days_mean", "extended", "supplemented", "supplement_rate",
                   "rongque", "commitment")
        return f"{name} {period.label}", columns, rows, lambda: len(rows)
    if name == "summary":
        view = queries.dashboard(period, scope)
        rows = charts.summary_rows(view)
        return f"summary {period.label}", ("figure", "value"), rows, lambda: len(rows)
    if name == "overdue":
        count, overdue = queries.overdue_steps(scope, limit=None)
        rows = [(r["reference"], r["bundle"], r["item"], r["department"], r["state"], r["received_at"], r["due_at"])
                for r in overdue]
        return "overdue", ("reference", "bundle", "item", "department", "state", "received_at", "due_at"), rows, \
            lambda: count
    if name == "log":
        application = queries.find_application(request.args.get("reference") or "")
        if application is None:
            abort(404)
        rows = queries.log_rows(queries.application_log(application))
        return f"log {application.reference}", queries.LOG_COLUMNS, rows, lambda: len(rows)
    if name == "audit":
        query = _audit_query()
        return "audit trail", AUDIT_COLUMNS, query, lambda: int(
            db.session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    abort(404)


def _rows(source: Any) -> Iterable[Sequence[Any]]:
    """Rows to stream after the view has returned: a query runs on its own connection (server-side
    cursor, batches), since the response body is written outside the request's context and session."""
    if isinstance(source, list):
        return source
    engine = db.engine

    def generate() -> Iterable[Sequence[Any]]:
        with engine.connect() as conn:
            yield from conn.execution_options(yield_per=2000).execute(source)

    return generate()


@bp.route("/export/<name>.<fmt>")
@auditor_required
@limiter.limit("30 per minute")
def export(name: str, fmt: str) -> Any:
    if fmt not in exports.MIME:
        abort(404)
    title, columns, source, count = _table(name)
    total = count()
    params = dict(request.args.items())
    if total > INLINE_EXPORT_MAX:
        return render_template("supervision/export_large.html", name=name, fmt=fmt, total=total, params=params)
    record("supervision:exported", "export", None, {"table": name, "format": fmt, "rows": total, "args": params})
    commit()
    filename = f"onestop-{name}-{local_now():%Y%m%d-%H%M}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if fmt == "csv":
        return Response(exports.csv_stream(columns, _rows(source)), mimetype=exports.MIME["csv"], headers=headers)
    return Response(exports.xlsx_stream(title, columns, _rows(source)), mimetype=exports.MIME["xlsx"],
                    headers=headers)


@bp.route("/exports", methods=["POST"])
@auditor_required
@limiter.limit("10 per minute")
def start_export() -> Response:
    name, fmt = request.form.get("name", ""), request.form.get("fmt", "")
    if name not in supervision_jobs.TABLES or fmt not in exports.MIME:
        abort(400)
    params = {k: v for k, v in request.form.items() if k.startswith("arg_")}
    job = ExportJob(requested_by_id=current_user.id, table=name, fmt=fmt,
                    params={k[4:]: v for k, v in params.items()}, state="queued", done_rows=0,
                    created_at=now())
    db.session.add(job)
    db.session.flush()
    record("supervision:export_started", "export", job.id, {"table": name, "format": fmt, "args": job.params})
    after_commit("supervision_export", job.id)
    commit()
    return redirect(url_for("supervision.export_status", job_id=job.id))


def _own_job(job_id: int) -> ExportJob:
    job = db.session.get(ExportJob, job_id)
    if job is None or job.requested_by_id != current_user.id:
        abort(404)
    return job


@bp.route("/exports/<int:job_id>")
@auditor_required
def export_status(job_id: int) -> str:
    return render_template("supervision/export_status.html", job=_own_job(job_id))


@bp.route("/exports/<int:job_id>/file")
@auditor_required
def export_file(job_id: int) -> Response:
    job = _own_job(job_id)
    if job.state != "done" or not job.file_name:
        abort(404)
    path = os.path.join(supervision_jobs.export_dir(), job.file_name)
    if not os.path.exists(path):
        abort(404)
    record("supervision:exported", "export", job.id, {"table": job.table, "format": job.fmt,
                                                      "rows": job.done_rows, "args": job.params})
    commit()
    return send_file(path, mimetype=exports.MIME[job.fmt], as_attachment=True,
                     download_name=f"onestop-{job.table}-{job.id}.{job.fmt}")


@bp.route("/report.pdf")
@auditor_required
@limiter.limit("10 per minute")
def report() -> Response:
    from onestop.supervision.report import monthly_report

    period, scope, problem = _period_scope()
    if problem:
        abort(400)
    pdf = monthly_report(period, scope)
    record("supervision:exported", "export", None, {"table": "monthly_report", "format": "pdf",
                                                    "args": {**period.args(), **scope.args()}})
    commit()
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="onestop-report-{period.label}.pdf"'})


# -- the audit trail --------------------------------------------------------------------------------------

AUDIT_COLUMNS = ("seq", "created_at", "tag", "actor_id", "actor_role", "department_id", "ip", "subject_type",
                 "subject_id", "data", "hash")


def _audit_query() -> Any:
    query = select(AuditEvent.seq, AuditEvent.created_at, AuditEvent.tag, AuditEvent.actor_id,
                   AuditEvent.actor_role, AuditEvent.department_id, AuditEvent.ip, AuditEvent.subject_type,
                   AuditEvent.subject_id, AuditEvent.data, AuditEvent.hash).order_by(AuditEvent.seq.desc())
    tag = (request.args.get("tag") or "").strip()
    if tag:
        query = query.where(AuditEvent.tag.startswith(tag[:100], autoescape=True))
    subject = (request.args.get("subject") or "").strip()
    if subject:
        kind, _sep, ident = subject.partition(":")
        query = query.where(AuditEvent.subject_type == kind[:32])
        if ident.isdigit():
            query = query.where(AuditEvent.subject_id == int(ident))
    before = request.args.get("before", type=int)
    if before:
        query = query.where(AuditEvent.seq < before)
    return query


@bp.route("/audit")
@auditor_required
def audit_trail() -> str:
    report = verify_chain()
    query = _audit_query()
    rows = db.session.execute(query.limit(AUDIT_PAGE)).all()
    if request.args.get("tag") or request.args.get("subject"):
        record("supervision:searched", "audit_trail", None,
               {"tag": (request.args.get("tag") or "")[:100], "subject": (request.args.get("subject") or "")[:64]})
        commit()
    broken = None
    if not report.ok:
        broken = db.session.execute(select(AuditEvent).where(AuditEvent.seq == report.broken_at_seq)).scalar()
    return render_template("supervision/audit.html", report=report, rows=rows, broken=broken,
                           problem=_chain_problem(report),
                           next_before=rows[-1].seq if len(rows) == AUDIT_PAGE else None)


def _chain_problem(report: Any) -> str | None:
    """verify_chain's finding in the auditor's language."""
    if report.ok:
        return None
    problem = report.problem or ""
    if "missing" in problem:
        return _("the event is missing (deleted)")
    if "link" in problem:
        return _("its link to the previous event does not match")
    if "content" in problem:
        return _("its content was changed after it was recorded")
    return _("the chain ends before the last event written")


# -- quality samples (抽查), read-only across departments ---------------------------------------------------

@bp.route("/samples")
@auditor_required
def samples() -> str:
    from onestop.reviews import sampling

    rows = db.session.scalars(select(QualitySample).order_by(QualitySample.id.desc()).limit(100)).all()
    checks = {s.id: sampling.redraw(s)[0] for s in rows}
    return render_template("supervision/samples.html", samples=rows, checks=checks)

