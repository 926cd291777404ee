"""Login, logout and registration pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from forms.accounts import EnterpriseRegistrationForm, LoginForm, PersonRegistrationForm
from onestop.accounts.models import User
from onestop.accounts.operations import AccountError, authenticate, register_enterprise, register_person
from onestop.audit.operations import record
from onestop.core.clock import local_now, now
from onestop.core.jobs import commit
from onestop.extensions import db, limiter, login_manager

bp = Blueprint("accounts", __name__)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def _load(user_id: str) -> User | None:
        user = db.session.get(User, int(user_id))
        return user if user is not None and user.is_active_account else None


def home_for(user: User) -> str:
    if user.is_staff:
        return url_for("reviews.queue")
    if user.is_window_clerk:
        return url_for("window.index")
    if user.is_applicant:
        return url_for("applications.mine")
    return url_for("catalog.index")


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and target.startswith("/") else None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def login() -> str | Response:
    form = LoginForm()
    if form.validate_on_submit():
        result = authenticate(form.username.data.strip(), form.password.data)
        commit()  # failures and lock-outs are recorded even though the login is refused
        if result.user is not None:
            session.clear()
            session.permanent = True  # idle timeout: PERMANENT_SESSION_LIFETIME, refreshed per request
            login_user(result.user)
            return redirect(_safe_next(request.args.get("next")) or home_for(result.user))
        if result.refusal == "locked":
            form.form_errors.append(_("Too many wrong passwords: this account is locked for %(minutes)d minutes.",
                                      minutes=result.locked_minutes))
        elif result.refusal == "disabled":
            form.form_errors.append(_("This account is disabled. Please contact the service centre."))
        else:
            form.form_errors.append(_("The username or the password is wrong."))
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    record("account:logout", "user", current_user.id)
    commit()
    logout_user()
    session.clear()
    flash(_("You have logged out."), "info")
    return redirect(url_for("catalog.index"))


_ACCOUNT_ERRORS = {
    "username_taken": lambda: _("This username is taken."),
    "id_number_taken": lambda: _("An account with this ID number exists already. Please log in."),
    "enterprise_name_mismatch": lambda: _("This credit code is registered under another enterprise name."),
}


@bp.route("/register", methods=["GET"])
def register() -> str:
    return render_template("accounts/register_choice.html")


@bp.route("/register/<kind>", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def register_kind(kind: str) -> str | Response:
    if kind not in ("person", "enterprise"):
        abort(404)
    form = PersonRegistrationForm() if kind == "person" else EnterpriseRegistrationForm()
    if isinstance(form, PersonRegistrationForm):
        form.id_number.validators[-1].today = local_now().date()
    if form.validate_on_submit():
        try:
            common = {"username": form.username.data.strip(), "password": form.password.data,
                      "phone": form.phone.data, "email": form.email.data or None}
            if isinstance(form, PersonRegistrationForm):
                user = register_person(name=form.name.data.strip(), id_number=form.id_number.data,
                                       address=form.address.data or None, **common)
            else:
                user = register_enterprise(
                    credit_code=form.credit_code.data, enterprise_name=form.enterprise_name.data.strip(),
                    legal_representative=form.legal_representative.data.strip(),
                    enterprise_address=form.enterprise_address.data or None,
                    operator_name=form.name.data.strip(), operator_id_number=form.id_number.data, **common,
                )
            if form.consent.data:
                user.prefill_consent_at = now()
                record("account:consent_given", "user", user.id, actor=None)
            commit()
        except AccountError as exc:
            db.session.rollback()
            target = getattr(form, exc.field or "", None)
            message = _ACCOUNT_ERRORS[exc.code]() if exc.code in _ACCOUNT_ERRORS else exc.code
            if target is not None:
                target.errors = [*target.errors, message]
            else:
                form.form_errors.append(message)
        else:
            session.clear()
            session.permanent = True
            login_user(user)
            flash(_("Your account is ready."), "success")
            return redirect(home_for(user))
    return render_template("accounts/register.html", form=form, kind=kind)
