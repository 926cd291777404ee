"""The administrator's webhook pages: subscriptions, the delivery log, re-sending."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from forms.api import PlainForm, SubscriptionForm
from onestop.core.jobs import commit
from onestop.extensions import db
from onestop.webhooks.models import EVENTS, WebhookDelivery, WebhookSubscription
from onestop.webhooks.operations import create_subscription, resend, set_active

bp = Blueprint("webhooks", __name__, url_prefix="/admin/webhooks")


@bp.before_request
@login_required
def _admins_only() -> None:
    if current_user.kind != "admin":
        abort(403)


@bp.route("/", methods=["GET", "POST"])
def index() -> str | Response:
    form = SubscriptionForm()
    form.events.choices = [(e, e) for e in EVENTS]
    created = None
    if form.validate_on_submit():
        created = create_subscription(form.name.data, form.url.data, form.events.data, current_user)
        commit()
        form = SubscriptionForm(formdata=None)
        form.events.choices = [(e, e) for e in EVENTS]
    subscriptions = db.session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id.desc())).all()
    return render_template("webhooks/index.html", form=form, subscriptions=subscriptions, created=created,
                           button=PlainForm(formdata=None))


@bp.route("/<int:subscription_id>")
def log(subscription_id: int) -> str:
    subscription = db.session.get(WebhookSubscription, subscription_id)
    if subscription is None:
        abort(404)
    deliveries = db.session.scalars(select(WebhookDelivery).options(joinedload(WebhookDelivery.event))
                                    .where(WebhookDelivery.subscription_id == subscription.id)
                                    .order_by(WebhookDelivery.id.desc()).limit(200)).all()
    return render_template("webhooks/log.html", subscription=subscription, deliveries=deliveries,
                           button=PlainForm(formdata=None))


@bp.route("/<int:subscription_id>/active", methods=["POST"])
def toggle(subscription_id: int) -> Response:
    subscription = db.session.get(WebhookSubscription, subscription_id)
    if subscription is None or not PlainForm().validate_on_submit():
        abort(404 if subscription is None else 400)
    set_active(subscription, not subscription.active, current_user)
    commit()
    flash(_("The subscription is active.") if subscription.active else _("The subscription is paused."), "success")
    return redirect(url_for("webhooks.index"))


@bp.route("/deliveries/<int:delivery_id>/resend", methods=["POST"])
def resend_view(delivery_id: int) -> Response:
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or not PlainForm().validate_on_submit():
        abort(404 if delivery is None else 400)
    resend(delivery, current_user)
    commit()
    flash(_("The event was sent again (with the same event id)."), "success")
    return redirect(url_for("webhooks.log", subscription_id=delivery.subscription_id))
