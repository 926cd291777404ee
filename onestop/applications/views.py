"""The applicant's pages: start the one form, my matters, one matter, its receipt, a material, the
message centre, the progress check without login, and the profile."""

from __future__ import annotations

import hmac
from datetime import date
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from forms.accounts import ConsentForm, ContactForm, TrackForm
from forms.builder import WithdrawForm, build_supplement_form
from onestop.applications.engine import open_request
from onestop.applications.expected import application_forecast
from onestop.applications.messages import message_text
from onestop.applications.models import Application, Material, Notification
from onestop.applications.operations import AnswerError, answer_supplements, lock_application, withdraw
from onestop.applications.tracking import timeline
from onestop.applications.uploads import UploadError, check_and_store, material_path, upload_error_text
from onestop.audit.operations import Actor, record
from onestop.catalog.operations import bundle_of, current_version, department_map
from onestop.core.clock import local_now, now
from onestop.core.i18n import current_lang
from onestop.core.jobs import commit
from onestop.drafts.models import Draft
from onestop.drafts.operations import open_draft, start_draft
from onestop.extensions import db, limiter
from onestop.profiles.operations import set_consent, update_contact
from onestop.profiles.queries import PROFILE_KEYS, profile_facts
from workflows.catalog.schema import Bundle
from workflows.states import InvalidTransition

bp = Blueprint("applications", __name__)


def _applicant_required() -> None:
    if not current_user.is_applicant:
        abort(403)


@bp.route("/apply/<code>", methods=["GET", "POST"])
@login_required
@limiter.limit("30 per minute", methods=["POST"])
def apply(code: str) -> str | Response | tuple[str, int]:
    """Start the one form, or resume the open draft of this matter (on any device)."""
    _applicant_required()
    version = current_version(code)
    if version is None:
        abort(404)
    bundle = bundle_of(version)
    if bundle.intake == "offer":
        # 免申即享: nobody fills a form; eligible enterprises receive an offer (onestop.benefits).
        flash(_("No application needed: eligible enterprises receive this benefit as an offer to confirm."), "info")
        return redirect(url_for("benefits.offers") if current_user.enterprise_id else url_for("catalog.guide", code=code))
    if (bundle.audience == "enterprise") != (current_user.enterprise_id is not None):
        return render_template("applications/wrong_audience.html", bundle=bundle), 403
    draft = open_draft(current_user, code)
    if draft is None:
        draft = start_draft(current_user, version)
        commit()
        first = bundle.sections[0].key
        return redirect(url_for("drafts.step", public_id=draft.public_id, step_key=first))
    flash(_("You are continuing the draft you saved on %(when)s.", when=_local(draft.updated_at)), "info")
    return redirect(url_for("drafts.step", public_id=draft.public_id, step_key=draft.step or bundle.sections[0].key))


def _local(value: Any) -> str:
    from onestop.core.templating import local_time

    return local_time(value)


@bp.route("/my/applications")
@login_required
def mine() -> str:
    _applicant_required()
    owner = (Application.enterprise_id == current_user.enterprise_id) if current_user.enterprise_id \
        else (Application.applicant_id == current_user.id)
    applications = db.session.scalars(
        select(Application).where(owner).order_by(Application.submitted_at.desc()).limit(200)
    ).all()
    drafts = db.session.scalars(select(Draft).where(
        Draft.applicant_id == current_user.id, Draft.state == "open").order_by(Draft.updated_at.desc())).all()
    return render_template("applications/mine.html", applications=applications, drafts=drafts,
                           bundles={d.bundle_code: bundle_of(d.bundle_version) for d in drafts})


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
                items.append({"step": step, "request": request_, "due_at": request_.due_at, **problem})
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
    from onestop.deliveries.queries import deliveries_of
    from onestop.ratings.queries import rating_panel

    bundle = bundle_of(application.bundle_version)
    todo, _fields, _materials = _todo(application)
    ended = application.state != "in_progress"
    return render_template(
        "applications/detail.html", application=application, bundle=bundle,
        departments={d.id: d for d in department_map().values()}, todo=todo,
        asked_materials={t["key"] for t in todo if t["kind"] == "material"},
        supplement_form=supplement_form or _supplement_form(application, bundle),
        withdraw_form=withdraw_form or WithdrawForm(formdata=None),
        can_withdraw=application.state == "in_progress",
        tracked=timeline(application), forecast=None if ended else application_forecast(application),
        deliveries=deliveries_of(application, bundle) if ended else [],
        ratings=rating_panel(application) if ended else None,
    )


@bp.route("/my/applications/<reference>/receipt")
@login_required
def receipt(reference: str) -> str:
    """受理回执: the reference number, the query code and the expected completion date, explained."""
    application = _own_application(reference)
    bundle = bundle_of(application.bundle_version)
    return render_template("applications/receipt.html", application=application, bundle=bundle,
                           forecast=application_forecast(application) if application.state == "in_progress" else None,
                           departments={d.id: d for d in department_map().values()},
                           department_codes=department_map())


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
            form[f"file_{key}"].errors = [upload_error_text(exc, spec.formats)]
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
        flash(_("Some answers need your attention; everything you entered is kept."), "error")
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
    # The uploader, and the operators of the enterprise whose application it belongs to.
    allowed = item.owner_id == current_user.id or (
        item.application is not None and item.application.is_owned_by(current_user))
    if not allowed and current_user.is_window_clerk:  # an upload into a draft filled at the window
        from onestop.drafts.views import material_of_draft

        allowed = material_of_draft(item)
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
    if request.method == "GET" and request.args.get("reference"):  # the QR code on the acceptance slip
        form.reference.data = request.args["reference"][:32]
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
                           tracked=timeline(application, public=True) if application else [],
                           forecast=application_forecast(application)
                           if application is not None and application.state == "in_progress" else None)


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile() -> str | Response:
    """一人一档 / 一企一档: what onestop holds and where it came from, and the consent to reuse it."""
    _applicant_required()
    consent = ConsentForm(prefix="consent")
    contact = ContactForm(prefix="contact", obj=current_user if request.method == "GET" else None)
    if request.form.get("consent-decision") and consent.validate_on_submit():
        give = consent.decision.data == "give"
        set_consent(current_user, give)
        commit()
        flash(_("Your forms will be prefilled from your profile.") if give
              else _("Consent revoked: your forms will no longer be prefilled."), "success")
        return redirect(url_for("applications.profile"))
    if request.form.get("contact-submit") and contact.validate_on_submit():
        update_contact(current_user, contact.phone.data, contact.email.data or None, contact.address.data or None)
        commit()
        flash(_("Your contact details were saved."), "success")
        return redirect(url_for("applications.profile"))
    from onestop.applications.measures import bundle_prefill_overview

    return render_template("applications/profile.html", consent=consent, contact=contact,
                           facts=profile_facts(current_user), keys=PROFILE_KEYS,
                           overview=bundle_prefill_overview(current_user))
