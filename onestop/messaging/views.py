"""The outbox, for administrators: what onestop sent or, without SMTP, kept (development and tests)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from onestop.extensions import db
from onestop.messaging.models import OutboundMessage

bp = Blueprint("messaging", __name__)


@bp.route("/admin/outbox")
@login_required
def outbox() -> str:
    if current_user.kind != "admin":
        abort(403)
    messages = db.session.scalars(select(OutboundMessage).order_by(OutboundMessage.id.desc()).limit(200)).all()
    return render_template("messaging/outbox.html", messages=messages)
