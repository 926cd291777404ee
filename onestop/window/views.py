"""Pages of the service hall's window (window clerks only), and the public account activation page.

Flow: look up (or register) the walk-in applicant -> take the matter in (consent, proxy, how results
reach them) -> the portal's own form, filled by the clerk (/drafts/...) -> the acceptance slip (PDF).
Later: results ready at the window -> check the collector -> record the hand-over -> print the results.
"""

from __future__ import annotations

import io
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from forms.window import (
    ActivationForm,
    CollectionForm,
    HandoverForm,
    IntakeForm,
    LookUpForm,
    RegisterForm,
    SlipForm,
)
from onestop.accounts.models import User
from onestop.applications.models import Application
from onestop.applications.uploads import UploadError, check_and_store, upload_error_text
from onestop.audit.operations import record
from onestop.catalog.operations import bundle_of, current_versions
from onestop.certificates.models import Certificate
from onestop.certificates.operations import file_path
from onestop.core.clock import local_now
from onestop.core.i18n import current_lang
from onestop.core.jobs import commit
from onestop.extensions import db, limiter
from onestop.window import queries
from onestop.window.models import ActivationCode, ResultCollection, WindowIntake
from onestop.window.operations import (
    COLLECTOR_MATERIAL,
    PROXY_MATERIAL,
    Collector,
    LookUp,
    Proxy,
    WindowError,
    activate,
    choose_collection,
    clerk_actor,
    collection_of,
    hand_over,
    handovers_of,
    issue_activation_code,
    issued_results,
    look_up,
    masked_number,
    register_walk_in,
    start_intake,
)
from onestop.window.slip import render_slip, slip_values

bp = Blueprint("window", __name__, url_prefix="/window")
public_bp = Blueprint("activation", __name__)

_SESSION_APPLICANT = "window_applicant"  # {"id": user id, "new": opened at the window}
_SESSION_PENDING = "window_pending"  # a look-up that found nobody: {"kind", "number", "name"}
FORMATS = ["pdf", "jpeg", "png"]


def _errors() -> dict[str, Any]:
    return {
        "invalid_person_number": lambda: _("This is not a valid resident ID number."),
        "invalid_enterprise_number": lambda: _("This is not a valid unified social credit code."),
        "name_mismatch": lambda: _("The name does not match the one registered for this number. Check the ID card "
                                   "or licence and enter the name exactly as printed."),
        "not_a_person_account": lambda: _("This ID number belongs to an enterprise operator's account; look up the "
                                          "enterprise by its credit code instead."),
        "already_registered": lambda: _("This applicant is registered already."),
        "id_number_taken": lambda: _("An account with this ID number exists already."),
        "username_taken": lambda: _("This username is taken."),
        "enterprise_name_mismatch": lambda: _("This credit code is registered under another enterprise name."),
        "consent_required": lambda: _("The applicant's consent is needed before the window can take the matter in."),
        "unknown_bundle": lambda: _("Choose a matter."),
        "wrong_audience": lambda: _("This matter is not for this kind of applicant."),
        "mail_address_required": lambda: _("Mailed results need a recipient, a phone number and an address."),
        "proxy_incomplete": lambda: _("Give the proxy's name, ID number and relation to the applicant."),
        "proxy_document": lambda: _("Upload the signed authorisation of the proxy."),
        "not_ready": lambda: _("This matter has not ended with results yet."),
        "no_results": lambda: _("No result of this matter is issued yet."),
        "already_handed_over": lambda: _("The results of this matter were handed over already."),
        "collector_mismatch": lambda: _("The collector's name or ID number does not match the applicant. An "
                                        "authorised person must bring a signed authorisation."),
        "collector_incomplete": lambda: _("Give the collector's name, ID number and relation to the applicant."),
        "collector_document": lambda: _("Upload the signed authorisation of the collector."),
        "no_results_to_deliver": lambda: _("This matter has no results to deliver."),
        "unknown_collection": lambda: _("Choose how the results reach the applicant."),
        "not_for_mail": lambda: _("The applicant did not choose to have the results mailed."),
        "tracking_required": lambda: _("Give the carrier and the tracking number."),
        "activation_invalid": lambda: _("The activation code or the ID number is wrong."),
        "activation_expired": lambda: _("This activation code has expired. Please ask the window for a new slip."),
        "activation_locked": lambda: _("Too many wrong codes: this activation code no longer works. Please ask the "
                                       "window for a new slip."),
    }


def _message(exc: WindowError) -> str:
    text = _errors().get(exc.code)
    return text() if text else exc.code


def _attach(form: Any, exc: WindowError) -> None:
    target = getattr(form, exc.field or "", None)
    if target is not None:
        target.errors = [*target.errors, _message(exc)]
    else:
        form.form_errors.append(_message(exc))


@bp.before_request
@login_required
def _clerks_only() -> None:
    if not current_user.is_window_clerk:
        abort(403)


# -- look-up and registration ------------------------------------------------------------------------------

@bp.route("/", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"], key_func=lambda: f"window-lookup:{current_user.get_id()}")
def index() -> str | Response:
    form = LookUpForm()
    if form.validate_on_submit():
        try:
            found = look_up(current_user, form.kind.data, form.number.data, form.name.data)
        except WindowError as exc:
            commit()  # the refused look-up is recorded too
            _attach(form, exc)
        else:
            commit()
            session.pop(_SESSION_APPLICANT, None)
            if found.applicant is None:
                session[_SESSION_PENDING] = {"kind": found.kind, "number": found.number, "name": found.name}
                return redirect(url_for("window.register"))
            session.pop(_SESSION_PENDING, None)
            session[_SESSION_APPLICANT] = {"id": found.applicant.id, "new": False}
            return redirect(url_for("window.intake"))
    elif request.method == "POST" and form.number.errors:
        record("window:look_up", "user", None, {"kind": form.kind.data, "result": "invalid_number"},
               actor=clerk_actor(current_user))
        commit()
    return render_template("window/index.html", form=form, intakes=queries.recent_intakes(),
                           ready=len(queries.ready_for_handover()))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def register() -> str | Response:
    pending = session.get(_SESSION_PENDING)
    if not pending:
        return redirect(url_for("window.index"))
    form = RegisterForm()
    form.operator_id_number.validators[-1].today = local_now().date()
    if form.validate_on_submit():
        found = LookUp(pending["kind"], pending["number"], pending["name"], None)
        if found.kind == "enterprise" and not (form.legal_representative.data and form.operator_name.data
                                               and form.operator_id_number.data):
            form.form_errors.append(_("An enterprise needs its legal representative and the operator acting for it."))
        else:
            try:
                user = register_walk_in(current_user, found, phone=form.phone.data, address=form.address.data or None,
                                        legal_representative=form.legal_representative.data or "",
                                        operator_name=form.operator_name.data or "",
                                        operator_id_number=form.operator_id_number.data or "")
                commit()
            except WindowError as exc:
                db.session.rollback()
                _attach(form, exc)
            else:
                session.pop(_SESSION_PENDING, None)
                session[_SESSION_APPLICANT] = {"id": user.id, "new": True}
                flash(_("The account is opened. The applicant activates it with the code printed on the slip."),
                      "success")
                return redirect(url_for("window.intake"))
    return render_template("window/register.html", form=form, pending=pending,
                           masked=masked_number(pending["kind"], pending["number"]))


# -- intake ------------------------------------------------------------------------------------------------

def _session_applicant() -> tuple[User, bool] | None:
    held = session.get(_SESSION_APPLICANT)
    user = db.session.get(User, held["id"]) if held else None
    return (user, bool(held["new"])) if user is not None and user.is_applicant else None


@bp.route("/intake", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def intake() -> str | Response:
    held = _session_applicant()
    if held is None:
        flash(_("Look the applicant up first."), "info")
        return redirect(url_for("window.index"))
    applicant, new_account = held
    lang = current_lang()
    audience = "enterprise" if applicant.enterprise_id is not None else "person"
    bundles = [bundle_of(v) for v in current_versions()]
    form = IntakeForm()
    form.bundle.choices = [SelectChoice("", _("Choose a matter"))] + [
        SelectChoice(b.code, b.name.get(lang)) for b in bundles
        if b.audience == audience and b.intake == "form"]  # 免申即享 benefits are offered, never applied for
    form.proxy_id_number.validators[-1].today = local_now().date()
    if request.method == "GET":
        form.mail_recipient.data = applicant.name
        form.mail_phone.data = applicant.phone
        form.mail_address.data = applicant.address
        form.prefill_consent.data = applicant.prefill_consent_at is not None
    if form.validate_on_submit():
        proxy = None
        ok = True
        if form.has_proxy.data:
            upload = request.files.get("proxy_document")
            if not (form.proxy_name.data and form.proxy_id_number.data and form.proxy_relation.data):
                form.proxy_name.errors = [_message(WindowError("proxy_incomplete"))]
                ok = False
            elif upload is None or not upload.filename:
                form.proxy_document.errors = [_message(WindowError("proxy_document"))]
                ok = False
            else:
                try:
                    document = check_and_store(upload, applicant, PROXY_MATERIAL, FORMATS)
                except UploadError as exc:
                    form.proxy_document.errors = [upload_error_text(exc, FORMATS)]
                    ok = False
                else:
                    proxy = Proxy(form.proxy_name.data, form.proxy_id_number.data, form.proxy_relation.data, document)
        if ok:
            try:
                taken = start_intake(
                    current_user, applicant, form.bundle.data, new_account=new_account, consent=form.consent.data,
                    prefill_consent=form.prefill_consent.data, proxy=proxy, collection=form.collection.data,
                    mail={"recipient": form.mail_recipient.data or "", "phone": form.mail_phone.data or "",
                          "address": form.mail_address.data or ""})
                draft_id = taken.draft_id
                commit()
            except WindowError as exc:
                db.session.rollback()
                _attach(form, exc)
            else:
                session.pop(_SESSION_APPLICANT, None)
                from onestop.drafts.models import Draft

                draft = db.session.get(Draft, draft_id)
                bundle = bundle_of(draft.bundle_version)
                return redirect(url_for("drafts.step", public_id=draft.public_id, step_key=bundle.sections[0].key))
    return render_template("window/intake.html", form=form, applicant=applicant, new_account=new_account)


def _intake_or_404(intake_id: int) -> WindowIntake:
    found = db.session.get(WindowIntake, intake_id)
    if found is None or not found.can_be_served_by(current_user):
        abort(404)
    return found


@bp.route("/intakes/<int:intake_id>")
def intake_page(intake_id: int) -> str:
    """The matter as taken in: continue the form, or print the acceptance slip once submitted."""
    taken = _intake_or_404(intake_id)
    from onestop.drafts.models import Draft

    draft = db.session.get(Draft, taken.draft_id)
    bundle = bundle_of(draft.bundle_version)
    values = slip_values(taken, None) if taken.application is not None else None
    return render_template("window/intake_page.html", intake=taken, draft=draft, bundle=bundle, slip=values,
                           form=SlipForm(), first_step=bundle.sections[0].key)


@bp.route("/intakes/<int:intake_id>/slip.pdf", methods=["POST"])
@limiter.limit("20 per minute")
def slip_pdf(intake_id: int) -> Response:
    """受理回执 as PDF. For an account opened here, printing issues a new activation code (voiding any
    earlier one): the code exists only on the paper handed to the applicant."""
    taken = _intake_or_404(intake_id)
    form = SlipForm()
    if taken.application is None or not form.validate_on_submit():
        abort(400)
    code = issue_activation_code(taken, current_user)
    until = None
    if code is not None:
        until = db.session.scalars(select(ActivationCode.expires_at).where(
            ActivationCode.user_id == taken.applicant_id).order_by(ActivationCode.id.desc()).limit(1)).first()
    pdf = render_slip(slip_values(taken, code, until))
    record("window:slip_printed", "application", taken.application_id,
           {"reference": taken.application.reference, "activation_code_issued": code is not None},
           actor=clerk_actor(current_user))
    commit()
    response = send_file(io.BytesIO(pdf), mimetype="application/pdf", as_attachment=False,
                         download_name=f"受理回执-{taken.application.reference}.pdf", max_age=0)
    response.headers["Cache-Control"] = "no-store"  # it may carry an activation code
    return response


# -- results at the window (综合窗口出件) ----------------------------------------------------------------------

@bp.route("/results")
def results() -> str:
    ready = queries.ready_for_handover()
    return render_template("window/results.html", ready=ready, handovers=queries.recent_handovers())


def _application_at_window(reference: str) -> tuple[Application, ResultCollection | None]:
    """A matter the window deals with: taken in here, or whose results are to be collected here or mailed."""
    application = db.session.scalar(select(Application).where(Application.reference == reference))
    if application is None:
        abort(404)
    collection = collection_of(application.id)
    if queries.intake_for(application.id) is None and (collection is None or collection.method == "online"):
        abort(404)
    return application, collection


@bp.route("/results/<reference>", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def handover(reference: str) -> str | Response:
    application, collection = _application_at_window(reference)
    form = HandoverForm()
    if request.method == "GET":
        form.collector_kind.data = "mail" if collection is not None and collection.method == "mail" else "applicant"
    if form.validate_on_submit():
        kind = form.collector_kind.data
        document = None
        ok = True
        if kind == "authorised":
            upload = request.files.get("collector_document")
            if upload is None or not upload.filename:
                form.collector_document.errors = [_message(WindowError("collector_document"))]
                ok = False
            else:
                try:
                    document = check_and_store(upload, application.applicant, COLLECTOR_MATERIAL, FORMATS)
                except UploadError as exc:
                    form.collector_document.errors = [upload_error_text(exc, FORMATS)]
                    ok = False
        if ok:
            try:
                hand_over(current_user, application, Collector(
                    kind=kind, name=form.collector_name.data or "", id_number=form.collector_id_number.data or "",
                    relation=form.collector_relation.data or "", authorisation=document,
                    carrier=form.carrier.data or "", tracking_number=form.tracking_number.data or ""))
            except WindowError as exc:
                if exc.code == "collector_mismatch":
                    commit()  # the refusal is recorded
                else:
                    db.session.rollback()
                _attach(form, exc)
            else:
                commit()
                flash(_("The hand-over is recorded."), "success")
                return redirect(url_for("window.handover", reference=reference))
    record("window:results_viewed", "application", application.id, {"reference": reference},
           actor=clerk_actor(current_user))
    commit()
    return render_template("window/handover.html", application=application, collection=collection, form=form,
                           bundle=bundle_of(application.bundle_version), certificates=issued_results(application),
                           handovers=handovers_of(application.id))


def _certificates_of(application: Application) -> list[Certificate]:
    certificates = issued_results(application)
    if not certificates:
        abort(404)
    return certificates


@bp.route("/results/<reference>/certificates/<int:certificate_id>.pdf")
def certificate_pdf(reference: str, certificate_id: int) -> Response:
    """A signed result as issued, to print at the window."""
    application, _taken = _application_at_window(reference)
    certificate = next((c for c in _certificates_of(application) if c.id == certificate_id), None)
    if certificate is None:
        abort(404)
    record("certificate:printed_at_window", "certificate", certificate.id, {"serial": certificate.serial},
           actor=clerk_actor(current_user))
    commit()
    return send_file(file_path(certificate), mimetype="application/pdf", as_attachment=False,
                     download_name=f"{certificate.title}-{certificate.serial}.pdf", max_age=0)


@bp.route("/results/<reference>/print.pdf")
def print_all(reference: str) -> Response:
    """Every result in one file, for one print job. The paper copies carry the seals as printed; the
    electronic signatures stay in the separate PDFs (merging pages does not keep them)."""
    from pypdf import PdfWriter

    application, _taken = _application_at_window(reference)
    certificates = _certificates_of(application)
    writer = PdfWriter()
    for certificate in certificates:
        writer.append(str(file_path(certificate)))
    out = io.BytesIO()
    writer.write(out)
    out.seek(0)
    record("window:results_printed", "application", application.id,
           {"reference": reference, "results": [c.serial for c in certificates]}, actor=clerk_actor(current_user))
    commit()
    return send_file(out, mimetype="application/pdf", as_attachment=False,
                     download_name=f"{reference}-办理结果.pdf", max_age=0)


# -- the applicant's result-delivery choice -----------------------------------------------------------------

@public_bp.app_template_global("result_collection")
def _result_collection(application: Application) -> dict[str, Any]:
    """For the applicant's matter page: the current choice, the hand-overs, and the form to change it."""
    row = collection_of(application.id)
    form = CollectionForm(prefix="collection")
    form.method.data = row.method if row is not None else "online"
    if row is not None and row.method == "mail":
        form.mail_recipient.data, form.mail_phone.data, form.mail_address.data = (
            row.mail_recipient, row.mail_phone, row.mail_address)
    else:
        user = application.applicant
        form.mail_recipient.data, form.mail_phone.data, form.mail_address.data = user.name, user.phone, user.address
    handovers = handovers_of(application.id)
    open_ = application.state not in ("withdrawn", "rejected") and not handovers
    return {"row": row, "handovers": handovers, "form": form if open_ else None,
            "intake": queries.intake_for(application.id),
            "hall": current_app.config["ONESTOP_SERVICE_HALL"]}


@public_bp.route("/my/applications/<reference>/collection", methods=["POST"])
@login_required
@limiter.limit("20 per minute")
def choose_collection_view(reference: str) -> Response:
    application = db.session.scalar(select(Application).where(Application.reference == reference))
    if application is None or not application.is_owned_by(current_user):
        abort(404)
    form = CollectionForm(prefix="collection")
    target = url_for("applications.detail", reference=reference) + "#collection"
    if not form.validate_on_submit():
        flash(" ".join(str(e) for errors in form.errors.values() for e in errors), "error")
        return redirect(target)
    try:
        choose_collection(application, form.method.data,
                          {"recipient": form.mail_recipient.data or "", "phone": form.mail_phone.data or "",
                           "address": form.mail_address.data or ""}, current_user)
        commit()
    except WindowError as exc:
        db.session.rollback()
        flash(_message(exc), "error")
    else:
        flash(_("Your choice of how to receive the results is saved."), "success")
    return redirect(target)


# -- activation (public) -----------------------------------------------------------------------------------

@public_bp.route("/activate", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def activate_page() -> str | Response:
    """An account opened at the window: the code on the slip and the ID number set the password."""
    form = ActivationForm()
    if form.validate_on_submit():
        try:
            user = activate(form.code.data, form.id_number.data, form.password.data)
        except WindowError as exc:
            commit()  # failed tries count and are recorded
            _attach(form, exc)
        else:
            commit()
            flash(_("Your account is activated. Log in with the username on your slip (%(username)s) and the new "
                    "password.", username=user.username), "success")
            return redirect(url_for("accounts.login"))
    return render_template("window/activate.html", form=form)
