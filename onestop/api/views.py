"""Pages of the machine interface: the readable API reference, personal API tokens (every user, under
their account) and system tokens (administrators)."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from forms.api import SCOPE_LABELS, RevokeTokenForm, SystemTokenForm, TokenForm
from onestop.accounts.models import User
from onestop.api.models import SCOPES, ApiToken
from onestop.api.tokens import (
    TokenError,
    allowed_scopes,
    create_token,
    revoke_token,
    system_tokens,
    tokens_of,
)
from onestop.core.jobs import commit
from onestop.extensions import db

bp = Blueprint("api_pages", __name__)

_TOKEN_ERRORS = {
    "scope_not_allowed": lambda: _("This account cannot be given one of these scopes."),
    "bad_scopes": lambda: _("Choose at least one scope."),
    "name_required": lambda: _("Give the token a name."),
}


def _choices(scopes: set[str]) -> list[tuple[str, str]]:
    return [(s, str(SCOPE_LABELS[s])) for s in SCOPES if s in scopes]


@bp.route("/api/v1/docs")
def docs() -> str:
    """The API reference, rendered on the server from the OpenAPI document (no scripts from anywhere)."""
    from onestop.api import spec_dict

    spec = spec_dict()
    operations = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            operations.append({"path": path, "method": method.upper(), "op": op,
                               "tag": (op.get("tags") or ["other"])[0]})
    tags = list(spec.get("tags", []))
    return render_template("api/docs.html", spec=spec, operations=operations, tags=tags,
                           schemas=spec.get("components", {}).get("schemas", {}))


@bp.route("/account/api-tokens", methods=["GET", "POST"])
@login_required
def personal_tokens() -> str | Response:
    form = TokenForm()
    form.scopes.choices = _choices(allowed_scopes(current_user))
    secret = None
    if form.validate_on_submit():
        try:
            new = create_token(current_user, form.name.data, form.scopes.data, current_user)
            commit()
            secret = new.secret
            form = TokenForm(formdata=None)
            form.scopes.choices = _choices(allowed_scopes(current_user))
        except TokenError as exc:
            db.session.rollback()
            form.scopes.errors = [_TOKEN_ERRORS.get(exc.code, _TOKEN_ERRORS["bad_scopes"])()]
    return render_template("api/tokens.html", tokens=tokens_of(current_user), form=form, secret=secret,
                           revoke_form=RevokeTokenForm(formdata=None), system=False)


def _revoke(token_id: int, back: str, admin: bool) -> Response:
    if not RevokeTokenForm().validate_on_submit():
        abort(400)
    token = db.session.get(ApiToken, token_id)
    if token is None or (not admin and (token.user_id != current_user.id or token.kind != "personal")):
        abort(404)
    try:
        revoke_token(token, current_user)
        commit()
        flash(_("Token %(prefix)s is revoked; requests with it are refused from now on.", prefix=token.prefix),
              "success")
    except TokenError:
        db.session.rollback()
        flash(_("This token was revoked already."), "error")
    return redirect(back)


@bp.route("/account/api-tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_personal(token_id: int) -> Response:
    return _revoke(token_id, url_for("api_pages.personal_tokens"), admin=False)


def _admin() -> None:
    if current_user.kind != "admin":
        abort(403)


@bp.route("/admin/api-tokens", methods=["GET", "POST"])
@login_required
def admin_tokens() -> str | Response:
    """System tokens: an outside system (the unified intake platform, a department's own approval
    system) acts as the account chosen for it, within the scopes given."""
    _admin()
    form = SystemTokenForm()
    form.scopes.choices = _choices(set(SCOPES))
    secret = None
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.username == form.username.data.strip()))
        if user is None:
            form.username.errors = [_("No account with this user name.")]
        else:
            try:
                new = create_token(user, form.name.data, form.scopes.data, current_user,
                                   system_name=form.system_name.data.strip())
                commit()
                secret = new.secret
                form = SystemTokenForm(formdata=None)
                form.scopes.choices = _choices(set(SCOPES))
            except TokenError as exc:
                db.session.rollback()
                form.scopes.errors = [_TOKEN_ERRORS.get(exc.code, _TOKEN_ERRORS["bad_scopes"])()]
    return render_template("api/tokens.html", tokens=system_tokens(), form=form, secret=secret,
                           revoke_form=RevokeTokenForm(formdata=None), system=True)


@bp.route("/admin/api-tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_system(token_id: int) -> Response:
    _admin()
    return _revoke(token_id, url_for("api_pages.admin_tokens"), admin=True)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


