"""The applicant's pages: the one form, my matters, one matter, a material."""

from __future__ import annotations

import hmac
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from forms.accounts import ConsentForm, TrackForm
from forms.builder import BundleForm, WithdrawForm, build_form, build_supplement_form
from onestop.accounts.models import User
from onestop.applications.engine import open_request
from onestop.applications.messages import message_text
from onestop.applications.models import Application, Material, Notification
from onestop.applications.operations import (
    AnswerError,
    SubmissionError,
    answer_supplements,
    lock_application,
    submit,
    withdraw,
)
from onestop.applications.uploads import UploadError, check_and_store, material_path
from onestop.audit.operations import Actor, record
from onestop.catalog.operations import bundle_of, current_version, department_map
from onestop.core.clock import local_now, now
from onestop.core.i18n import current_lang
from onestop.core.jobs import commit
from onestop.extensions import db, limiter
from workflows.catalog.schema import Bundle
from workflows.states import InvalidTransition

bp = Blueprint("applications", __name__)

_UPLOAD_ERRORS = {
    "too_large": lambda: _("The file is larger than the limit."),
    "empty": lambda: _("The file is empty."),
    "wrong_type": lambda: _("Only PDF, JPEG and PNG files are accepted; this file's content is none of them."),
    "broken_pdf": lambda: _("This PDF cannot be opened. Please save it again and upload it."),
}


def profile_values(user: User) -> dict[str, Any]:
    """一人一档 / 一企一档: what the profile can prefill. Empty without the applicant's consent."""
    if user.prefill_consent_at is None:
        return {}
    values: dict[str, Any] = {
        "person.name": user.name, "person.id_number": user.id_number, "person.phone": user.phone,
        "person.email": user.email, "person.address": user.address,
        "operator.name": user.name, "operator.id_number": user.id_number, "operator.phone": user.phone,
    }
    if user.enterprise is not None:
        e = user.enterprise
        values.update({"enterprise.name": e.name, "enterprise.credit_code": e.credit_code,
                       "enterprise.legal_representative": e.legal_representative, "enterprise.address": e.address})
    return {k: v for k, v in values.items() if v}


def _applicant_required() -> None:
    if not current_user.is_applicant:
        abort(403)


def _collect_materials(form: BundleForm, bundle: Bundle, answers: dict[str, Any]) -> tuple[dict[str, int], bool]:
    """Store new uploads, keep earlier ones; return the material ids and whether all is in order."""
    ok = True
    ids: dict[str, int] = {}
    for spec in bundle.materials:
        if spec.held_by_government or (spec.show_if is not None and not spec.show_if.holds(answers)):
            continue
        file_field, kept_field = form[f"file_{spec.key}"], form[f"kept_{spec.key}"]
        upload = request.files.get(file_field.name)
        if upload is not None and upload.filename:
            try:
                material = check_and_store(upload, current_user, spec.key, list(spec.formats))
            except UploadError as exc:
                file_field.errors = [_UPLOAD_ERRORS[exc.code]()]
                ok = False
                continue
            kept_field.data = str(material.id)
        if kept_field.data:
            material = db.session.get(Material, int(kept_field.data)) if kept_field.data.isdigit() else None
            if material is None or material.owner_id != current_user.id or material.material_key != spec.key \
                    or material.application_id is not None:
                kept_field.data = ""
            else:
                ids[spec.key] = material.id
                continue
        # A non-key material may follow later (容缺受理): the department decides whether to accept without it.
        if spec.required and spec.key_material:
            file_field.errors = [_("Please upload %(name)s.", name=spec.name.get(current_lang()))]
            ok = False
    return ids, ok


@bp.route("/apply/<code>", methods=["GET", "POST"])
@login_required
@limiter.limit("30 per minute", methods=["POST"])
def apply(code: str) -> str | Response:
    _applicant_required()
    version = current_version(code)
    if version is None:
        abort(404)
    bundle = bundle_of(version)
    if (bundle.audience == "enterprise") != (current_user.enterprise_id is not None):
        return render_template("applications/wrong_audience.html", bundle=bundle), 403
    form_class = build_form(bundle, current_lang(), today=local_now().date())
    profile = profile_values(current_user)
    if request.method == "GET":
        data = {f.key: profile[f.profile] for f in bundle.fields if f.profile and f.profile in profile}
        form = form_class(data=data | {"idempotency_key": uuid.uuid4().hex})
    else:
        form = form_class()
        key = form.idempotency_key.data or ""
        if not key or len(key) > 64:
            abort(400)
        earlier = db.session.scalar(select(Application).where(
            Application.applicant_id == current_user.id, Application.idempotency_key == key))
        if earlier is not None:  # a second click or a replay: show the first submission
            return redirect(url_for("applications.detail", reference=earlier.reference))
        valid = form.validate_on_submit()
        answers = form.answers() if valid else _safe_raw(form, bundle)
        material_ids, materials_ok = _collect_materials(form, bundle, answers)
        if valid:
            # The matter's own conditions (e.g. the minimum publication period before a credit repair).
            form.form_errors.extend(r.get(current_lang()) for r in bundle.refusals(answers, local_now().date()))
            valid = not form.form_errors
        if valid and materials_ok:
            try:
                result = submit(current_user, version, answers, material_ids, key,
                                prefilled=_prefilled(form, bundle, profile))
            except SubmissionError:
                db.session.rollback()
                abort(400)
            commit()
            flash(_("Submitted. Your reference number is %(ref)s and your query code is %(code)s.",
                    ref=result.application.reference, code=result.application.query_code), "success")
            return redirect(url_for("applications.detail", reference=result.application.reference))
        commit()  # keep the uploads that were accepted, so they need not be sent again
        flash(_("Some answers need your attention; everything you entered is kept."), "error")
    return render_template("applications/apply.html", form=form, bundle=bundle,
                           prefilled=_prefilled(form, bundle, profile),
                           departments=department_map())


def _prefilled(form: BundleForm, bundle: Bundle, profile: dict[str, Any]) -> set[str]:
    """Fields whose value is still the one the profile gave (the applicant may have changed it)."""
    return {f.key for f in bundle.fields
            if f.profile and f.profile in profile and form[f.key].data == profile[f.profile]}


def _safe_raw(form: BundleForm, bundle: Bundle) -> dict[str, Any]:
    return {f.key: form[f.key].data for f in bundle.fields if form[f.key].data not in (None, "")}


@bp.route("/my/applications")
@login_required
def mine() -> str:
    _applicant_required()
    owner = (Application.enterprise_id == current_user.enterprise_id) if current_user.enterprise_id \
        else (Application.applicant_id == current_user.id)
    applications = db.session.scalars(
        select(Application).where(owner).order_by(Application.submitted_at.desc()).limit(200)
    ).all()
    return render_template("applications/mine.html", applications=applications)


def _own_application(reference: str) -> Application:
    application = db.session.scalar(select(Application).where(Application.reference == reference))
    # Someone else's application is "not found": its existence is not confirmed either.
    if application is None or not application.is_owned_by(current_user):
        abort(404)
    return application


def _todo(application: Application) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """一次性告知, merged: every open request of every department, and the keys to answer."""
    items: list[dict[str, Any]] = []
    fields: list[str] = []
    materials: list[str] = []
    for step in application.steps:
        request_ = open_request(step) if step.state == "supplement" else None
        if request_ is not None:
            for problem in request_.problems:
                items.append({"step": step, "request": request_, **problem})
                target = fields if problem["kind"] == "field" else materials if problem["kind"] == "material" else None
                if target is not None and problem["key"] not in target:
                    target.append(problem["key"])
        for key in step.outstanding_materials or []:
            items.append({"step": step, "request": None, "kind": "promised", "key": key,
                          "message": _("Promised when the department accepted (容缺)"), "due_at": step.outstanding_due_at})
            if key not in materials:
                materials.append(key)
    return items, fields, materials


def _supplement_form(application: Application, bundle: Bundle, formdata: Any = None,
                     todo: tuple[list[dict[str, Any]], list[str], list[str]] | None = None) -> Any:
    _items, fields, materials = todo or _todo(application)
    if not fields and not materials:
        return None
    form_class = build_supplement_form(bundle, fields, materials, current_lang(), today=local_now().date())
    answers = application.answer_map
    return form_class(formdata=formdata, data={k: answers.get(k) for k in fields}) if formdata is not None \
        else form_class(data={k: answers.get(k) for k in fields})


@bp.route("/my/applications/<reference>")
@login_required
def detail(reference: str) -> str:
    application = _own_application(reference)
    return _render_detail(application)


def _render_detail(application: Application, supplement_form: Any = None, withdraw_form: Any = None) -> str:
    bundle = bundle_of(application.bundle_version)
    todo, _fields, _materials = _todo(application)
    return render_template(
        "applications/detail.html", application=application, bundle=bundle,
        departments={d.id: d for d in department_map().values()}, todo=todo,
        asked_materials={t["key"] for t in todo if t["kind"] == "material"},
        supplement_form=supplement_form or _supplement_form(application, bundle),
        withdraw_form=withdraw_form or WithdrawForm(formdata=None),
        can_withdraw=application.state == "in_progress",
    )


@bp.route("/my/applications/<reference>/supplement", methods=["POST"])
@login_required
@limiter.limit("30 per minute")
def supplement(reference: str) -> str | Response:
    application = _own_application(reference)
    bundle = bundle_of(application.bundle_version)
    todo = _todo(application)
    form = _supplement_form(application, bundle, formdata=request.form, todo=todo)
    if form is None:
        flash(_("Nothing is waiting for your answer."), "info")
        return redirect(url_for("applications.detail", reference=reference))
    valid = form.validate_on_submit()
    items, fields, materials = todo
    material_ids: dict[str, int] = {}
    asked = {p["key"] for p in items if p["kind"] == "material"}
    for key in materials:
        upload = request.files.get(f"file_{key}")
        if upload is None or not upload.filename:
            if key in asked:  # promised 容缺 materials may come later still; asked ones are needed now
                form[f"file_{key}"].errors = [_("Please upload %(name)s.", name=_material_name(bundle, key))]
                valid = False
            continue
        spec = next(m for m in bundle.materials if m.key == key)
        try:
            material_ids[key] = check_and_store(upload, current_user, key, list(spec.formats)).id
        except UploadError as exc:
            form[f"file_{key}"].errors = [_UPLOAD_ERRORS[exc.code]()]
            valid = False
    if valid:
        application = lock_application(application.id)
        try:
            answers = {key: _json_value(form[key].data) for key in fields}
            resumed = answer_supplements(application, current_user, answers, material_ids)
            commit()
        except AnswerError as exc:
            db.session.rollback()
            form.form_errors.append(_("This answer does not match what was asked (%(detail)s).", detail=exc.detail or exc.code))
        else:
            flash(_("Thank you. %(n)d department(s) resumed their work.", n=len(resumed)), "success")
            return redirect(url_for("applications.detail", reference=reference))
    else:
        commit()  # accepted uploads are kept for the next attempt
    return _render_detail(application, supplement_form=form)


def _material_name(bundle: Bundle, key: str) -> str:
    return next(m.name.get(current_lang()) for m in bundle.materials if m.key == key)


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value.strip() if isinstance(value, str) else value


@bp.route("/my/applications/<reference>/withdraw", methods=["POST"])
@login_required
def withdraw_view(reference: str) -> str | Response:
    application = _own_application(reference)
    form = WithdrawForm()
    if not form.validate_on_submit():
        return _render_detail(application, withdraw_form=form)
    application = lock_application(application.id)
    try:
        withdraw(application, form.reason.data.strip(), Actor(current_user.id, current_user.kind))
        commit()
    except InvalidTransition:
        db.session.rollback()
        flash(_("This matter has ended and can no longer be withdrawn."), "error")
    else:
        flash(_("The matter was withdrawn."), "success")
    return redirect(url_for("applications.detail", reference=reference))


@bp.route("/materials/<int:material_id>")
@login_required
def material(material_id: int) -> Response:
    item = db.session.get(Material, material_id)
    if item is None:
        abort(404)
    allowed = item.owner_id == current_user.id
    if not allowed and item.application is not None and current_user.is_staff:
        bundle = bundle_of(item.application.bundle_version)
        spec = next((m for m in bundle.materials if m.key == item.material_key), None)
        # A reviewer sees a material only if one of their department's steps needs it.
        allowed = spec is not None and any(
            s.item_code in spec.items and current_user.can_work_in(s.department_id) for s in item.application.steps
        )
        if allowed:
            record("material:viewed", "material", item.id, {"application": item.application.reference})
            commit()
    if not allowed:
        abort(404)
    return send_file(material_path(item), mimetype=item.content_type, download_name=item.filename or "material",
                     as_attachment=request.args.get("download") == "1", max_age=0)


@bp.route("/messages")
@login_required
def messages() -> str:
    """The message centre; opening it marks what is shown as read."""
    items = db.session.scalars(select(Notification).where(Notification.user_id == current_user.id)
                               .order_by(Notification.id.desc()).limit(100)).all()
    unread = {n.id for n in items if n.read_at is None}
    for n in items:
        if n.read_at is None:
            n.read_at = now()
    commit()
    return render_template("applications/messages.html", items=items, unread=unread, text=message_text)


@bp.route("/track", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def track() -> str:
    """Progress by reference number and query code, without logging in; no personal data shown."""
    form = TrackForm()
    application = None
    if form.validate_on_submit():
        candidate = db.session.scalar(select(Application).where(Application.reference == form.reference.data.strip()))
        code = (form.query_code.data or "").strip().upper()
        if candidate is not None and hmac.compare_digest(candidate.query_code, code):
            application = candidate
        else:
            form.form_errors.append(_("No matter matches this reference number and query code."))
    bundle = bundle_of(application.bundle_version) if application else None
    return render_template("applications/track.html", form=form, application=application, bundle=bundle,
                           departments={d.id: d for d in department_map().values()})


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile() -> str | Response:
    """一人一档 / 一企一档: what onestop holds, and the consent to reuse it (revocable)."""
    _applicant_required()
    form = ConsentForm()
    if form.validate_on_submit():
        give = form.decision.data == "give"
        current_user.prefill_consent_at = now() if give else None
        record("account:consent_given" if give else "account:consent_revoked", "user", current_user.id)
        commit()
        flash(_("Your forms will be prefilled from your profile.") if give
              else _("Consent revoked: your forms will no longer be prefilled."), "success")
        return redirect(url_for("applications.profile"))
    return render_template("applications/profile.html", form=form)
