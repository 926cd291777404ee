"""The department's page for physical results: post them (carrier and tracking number), then record
their arrival or return. Staff of the department that issues the result only."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from forms.deliveries import PostForm, ReturnForm
from onestop.applications.models import Step
from onestop.audit.operations import record
from onestop.catalog.operations import bundle_of
from onestop.core.jobs import commit
from onestop.deliveries.models import Delivery
from onestop.deliveries.operations import DeliveryError, mark_delivered, mark_returned, post_result
from onestop.deliveries.queries import to_post
from onestop.extensions import db

bp = Blueprint("deliveries", __name__, url_prefix="/deliveries")

_ERRORS = {
    "not_ended": lambda: _("All results leave together: this matter has not ended yet."),
    "already_posted": lambda: _("This result was posted already."),
    "no_address": lambda: _("The application has no delivery address."),
    "not_on_its_way": lambda: _("This result is not on its way."),
    "note_required": lambda: _("Say why it came back."),
}


def _message(exc: DeliveryError) -> str:
    text = _ERRORS.get(exc.code)
    return text() if text else exc.code


def _staff() -> None:
    if not current_user.is_staff:
        abort(403)


@bp.route("/")
@login_required
def index() -> str:
    _staff()
    rows = to_post(current_user.department_ids())
    if rows:  # recipients' names, phones and addresses are personal data: the view is recorded
        record("delivery:list_viewed", "delivery", None, {"applications": sorted({a.reference for a, _r in rows})})
        commit()
    return render_template("deliveries/index.html", rows=rows, post_form=PostForm(), return_form=ReturnForm(),
                           bundle_of=bundle_of)


@bp.route("/post/<int:step_id>/<output_key>", methods=["POST"])
@login_required
def post(step_id: int, output_key: str) -> Response:
    _staff()
    step = db.session.get(Step, step_id)
    if step is None or not step.can_be_worked_by(current_user):
        abort(404)
    form = PostForm()
    if not form.validate_on_submit():
        flash(_("Give the carrier and the tracking number."), "error")
        return redirect(url_for("deliveries.index"))
    try:
        post_result(step, output_key, form.carrier.data, form.tracking_number.data, current_user)
        commit()
    except DeliveryError as exc:
        db.session.rollback()
        flash(_message(exc), "error")
    else:
        flash(_("Posted; the applicant is told the tracking number."), "success")
    return redirect(url_for("deliveries.index"))


@bp.route("/<int:delivery_id>/<outcome>", methods=["POST"])
@login_required
def arrive(delivery_id: int, outcome: str) -> Response:
    _staff()
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None or not current_user.can_work_in(delivery.department_id) or outcome not in ("delivered", "returned"):
        abort(404)
    try:
        if outcome == "delivered":
            mark_delivered(delivery, current_user)
        else:
            form = ReturnForm()
            mark_returned(delivery, form.note.data or "" if form.validate_on_submit() else "", current_user)
        commit()
    except DeliveryError as exc:
        db.session.rollback()
        flash(_message(exc), "error")
    else:
        flash(_("Recorded."), "success")
    return redirect(request.referrer if request.referrer and request.referrer.startswith(request.host_url)
                    else url_for("deliveries.index"))
