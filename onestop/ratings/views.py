"""Rating pages: the applicant rates a department; the head answers bad ratings (within 5 working days,
one extension of 2) and decides appeals; a staff member appeals a bad rating of their work."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from forms.ratings import AppealDecisionForm, RatingForm, ReasonForm, ReplyForm
from onestop.accounts.models import Department, StaffRoleName
from onestop.applications.models import Application
from onestop.core.clock import now
from onestop.core.jobs import commit
from onestop.extensions import db, limiter
from onestop.ratings.models import BAD, Rating
from onestop.ratings.operations import RatingError, appeal, decide_appeal, extend, rate, reply, staff_rated
from onestop.ratings.queries import bad_ratings, pending_appeals

bp = Blueprint("ratings", __name__)

_ERRORS = {
    "not_ended": lambda: _("A department can be rated once the matter has ended."),
    "already_rated": lambda: _("You have rated this department already."),
    "already_replied": lambda: _("This rating was answered already."),
    "no_extension": lambda: _("The one extension was used already, or the rating is answered."),
    "too_late": lambda: _("The time for this has passed."),
    "text_required": lambda: _("Please write the text."),
    "no_appeal": lambda: _("This rating cannot be appealed (any more)."),
    "own_appeal": lambda: _("Another head must decide your own appeal."),
}


def _error(exc: RatingError) -> None:
    db.session.rollback()
    if exc.code in ("forbidden", "not_rateable", "not_bad"):
        abort(404)
    flash(_ERRORS.get(exc.code, lambda: exc.code)(), "error")


@bp.route("/my/applications/<reference>/ratings/<department_code>", methods=["POST"])
@login_required
@limiter.limit("20 per minute")
def rate_view(reference: str, department_code: str) -> Response:
    application = db.session.scalar(select(Application).where(Application.reference == reference))
    department = db.session.scalar(select(Department).where(Department.code == department_code))
    if application is None or department is None or not application.is_owned_by(current_user):
        abort(404)
    form = RatingForm()
    target = url_for("applications.detail", reference=reference) + "#ratings"
    if not form.validate_on_submit():
        flash(_("Choose one of the five levels."), "error")
        return redirect(target)
    try:
        rating = rate(application, department.id, int(form.level.data), form.comment.data, current_user)
        commit()
    except RatingError as exc:
        _error(exc)
        return redirect(target)
    flash(_("Thank you for your rating.") + (" " + _("The department head will answer within 5 working days.")
                                             if rating.level <= BAD else ""), "success")
    return redirect(target)


def _head_departments() -> set[int]:
    departments = current_user.department_ids(StaffRoleName.HEAD) if current_user.is_staff else set()
    if not departments:
        abort(403)
    return departments


@bp.route("/ratings/head")
@login_required
def head() -> str:
    """The head's page: bad ratings to answer (earliest due first), appeals to decide, answered ones."""
    departments = _head_departments()
    return render_template("ratings/head.html", waiting=bad_ratings(departments), answered=bad_ratings(departments, answered=True, limit=30),
                           appeals=pending_appeals(departments), reply_form=ReplyForm(), reason_form=ReasonForm(),
                           decision_form=AppealDecisionForm(), applications=_applications, now_utc=now())


def _applications(rating: Rating) -> Application:
    return db.session.get(Application, rating.application_id)


def _head_rating(rating_id: int) -> Rating:
    rating = db.session.get(Rating, rating_id)
    if rating is None or not current_user.is_staff or not current_user.is_head_of(rating.department_id):
        abort(404)
    return rating


@bp.route("/ratings/<int:rating_id>/reply", methods=["POST"])
@login_required
def reply_view(rating_id: int) -> Response:
    rating = _head_rating(rating_id)
    form = ReplyForm()
    if not form.validate_on_submit():
        flash(_("Please write the text."), "error")
        return redirect(url_for("ratings.head"))
    try:
        reply(rating, current_user, form.text.data)
        commit()
        flash(_("Answer sent to the applicant."), "success")
    except RatingError as exc:
        _error(exc)
    return redirect(url_for("ratings.head"))


@bp.route("/ratings/<int:rating_id>/extend", methods=["POST"])
@login_required
def extend_view(rating_id: int) -> Response:
    rating = _head_rating(rating_id)
    form = ReasonForm()
    try:
        extend(rating, current_user, form.reason.data or "" if form.validate_on_submit() else "")
        commit()
        flash(_("The time to answer was extended by 2 working days."), "success")
    except RatingError as exc:
        _error(exc)
    return redirect(url_for("ratings.head"))


@bp.route("/ratings/<int:rating_id>/appeal-decision/<outcome>", methods=["POST"])
@login_required
def appeal_decision(rating_id: int, outcome: str) -> Response:
    rating = _head_rating(rating_id)
    if outcome not in ("upheld", "dismissed"):
        abort(404)
    form = AppealDecisionForm()
    try:
        decide_appeal(rating, current_user, outcome == "upheld", form.note.data or "" if form.validate_on_submit() else "")
        commit()
        flash(_("The appeal was decided."), "success")
    except RatingError as exc:
        _error(exc)
    return redirect(url_for("ratings.head"))


@bp.route("/ratings/mine")
@login_required
def staff_view() -> str:
    """A staff member's bad ratings (of applications they worked on), with the appeal open for 2 working days."""
    if not current_user.is_staff:
        abort(403)
    ratings = [r for r in bad_ratings(current_user.department_ids(), limit=200)
               + bad_ratings(current_user.department_ids(), answered=True, limit=200)
               if current_user.id in staff_rated(r)]
    return render_template("ratings/staff.html", ratings=ratings, reason_form=ReasonForm(), applications=_applications,
                           now_utc=now())


@bp.route("/ratings/<int:rating_id>/appeal", methods=["POST"])
@login_required
def appeal_view(rating_id: int) -> Response:
    rating = db.session.get(Rating, rating_id)
    if rating is None or not current_user.is_staff:
        abort(404)
    form = ReasonForm()
    try:
        appeal(rating, current_user, form.reason.data or "" if form.validate_on_submit() else "")
        commit()
        flash(_("Your appeal was sent to the department head."), "success")
    except RatingError as exc:
        _error(exc)
    return redirect(url_for("ratings.staff_view"))
