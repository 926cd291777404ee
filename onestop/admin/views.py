"""The administrator's pages. For now: the working-day calendar."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from forms.admin import CalendarDayForm, CalendarYearForm
from onestop.audit.operations import Actor
from onestop.clocks.models import CalendarDay, CalendarYear
from onestop.clocks.operations import CalendarError, load_year, parse_year_file, set_day, year_status
from onestop.core.clock import local_now
from onestop.core.jobs import commit
from onestop.extensions import db

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def _admins_only() -> None:
    if current_user.kind != "admin":
        abort(403)


def _actor() -> Actor:
    return Actor(current_user.id, "admin")


@bp.route("/calendar", methods=["GET"])
def calendar() -> str:
    today = local_now().date()
    years = db.session.scalars(select(CalendarYear).order_by(CalendarYear.year.desc()).limit(5)).all()
    days = db.session.scalars(select(CalendarDay).where(CalendarDay.day >= today.replace(month=1, day=1))
                              .order_by(CalendarDay.day)).all()
    return render_template("admin/calendar.html", status=year_status(today), years=years, days=days,
                           year_form=CalendarYearForm(), day_form=CalendarDayForm())


@bp.route("/calendar/year", methods=["POST"])
def calendar_year() -> str | Response:
    form = CalendarYearForm()
    if form.validate_on_submit():
        try:
            year, holidays, makeup, source = parse_year_file(form.text.data)
            changed = load_year(year, holidays, makeup, source, _actor())
            commit()
            flash(_("%(year)d loaded; %(n)d due dates were recomputed.", year=year, n=changed), "success")
            return redirect(url_for("admin.calendar"))
        except CalendarError as exc:
            db.session.rollback()
            form.text.errors = [str(exc)]
    return _page_with(year_form=form)


@bp.route("/calendar/day", methods=["POST"])
def calendar_day() -> str | Response:
    form = CalendarDayForm()
    if form.validate_on_submit():
        try:
            changed = set_day(form.day.data, form.kind.data or None, (form.name.data or "").strip(), _actor())
            commit()
            flash(_("Saved; %(n)d due dates were recomputed.", n=changed), "success")
            return redirect(url_for("admin.calendar"))
        except CalendarError as exc:
            db.session.rollback()
            form.day.errors = [str(exc)]
    return _page_with(day_form=form)


def _page_with(**forms: object) -> str:
    today = local_now().date()
    years = db.session.scalars(select(CalendarYear).order_by(CalendarYear.year.desc()).limit(5)).all()
    days = db.session.scalars(select(CalendarDay).where(CalendarDay.day >= today.replace(month=1, day=1))
                              .order_by(CalendarDay.day)).all()
    context = {"year_form": CalendarYearForm(formdata=None), "day_form": CalendarDayForm(formdata=None), **forms}
    return render_template("admin/calendar.html", status=year_status(today), years=years, days=days, **context)
