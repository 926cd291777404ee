"""The one form, step by step: a step per section, the materials, then a check of everything before
submitting. Every step is saved on the server when the applicant leaves it (forwards, backwards or to
another step) or presses "save draft", so the form can be resumed later on any device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from forms.builder import BundleForm, build_form, client_rules, display_value
from onestop.applications.expected import form_forecast
from onestop.applications.models import Application, Material
from onestop.applications.operations import SubmissionError
from onestop.applications.uploads import UploadError, check_and_store, upload_error_text
from onestop.audit.operations import Actor
from onestop.catalog.operations import bundle_of, department_map
from onestop.core.clock import local_now
from onestop.core.i18n import current_lang
from onestop.core.jobs import commit
from onestop.drafts.models import Draft
from onestop.drafts.operations import (
    discard,
    draft_materials,
    follow_catalog,
    keep_upload,
    loose_answers,
    save_answers,
    submit_draft,
)
from onestop.extensions import db, limiter
from onestop.window.operations import clerk_actor, may_fill, submitted_at_window
from workflows.catalog.schema import Bundle, FieldType, Section
from workflows.catalog.schema import Material as MaterialSpec
from workflows.routing import applicable_items

bp = Blueprint("drafts", __name__)
bp.add_app_template_global(client_rules, "client_rules")


def _back_to_the_step(message: str) -> Response:
    """A refused request on a step: say why on the same step; the draft holds everything saved before."""
    db.session.rollback()
    flash(message, "error")
    parts = request.path.rstrip("/").split("/")
    if len(parts) >= 4 and parts[1] == "drafts" and parts[3] not in ("submit", "discard"):
        return redirect(request.path)
    if len(parts) >= 3 and parts[1] == "drafts":
        return redirect(f"/drafts/{parts[2]}/{CHECK}")
    return redirect(url_for("applications.mine"))


@bp.errorhandler(CSRFError)
def _expired(error: CSRFError) -> Response:
    return _back_to_the_step(_("This page had expired, so nothing from it was saved. Everything saved before is "
                               "still in your draft: please enter this page again."))


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge) -> Response:
    limit = current_app.config["ONESTOP_UPLOAD_MAX_BYTES"] // (1024 * 1024)
    return _back_to_the_step(_("The files sent at once were too large (each file at most %(mb)d MB). Nothing from "
                               "this page was saved; please send the files again, fewer at a time.", mb=limit))

MATERIALS, CHECK = "materials", "check"


@dataclass(frozen=True)
class StepInfo:
    key: str
    title: str
    section: Section | None


def steps_of(bundle: Bundle) -> list[StepInfo]:
    lang = current_lang()
    steps = [StepInfo(s.key, s.title.get(lang), s) for s in bundle.sections]
    if any(not m.held_by_government for m in bundle.materials):
        steps.append(StepInfo(MATERIALS, _("Materials"), None))
    steps.append(StepInfo(CHECK, _("Check and submit"), None))
    return steps


def _own_draft(public_id: str) -> Draft:
    draft = db.session.scalar(select(Draft).where(Draft.public_id == public_id))
    # Someone else's draft is "not found", as an application is. A window clerk fills the draft of a
    # matter taken in at the window with the applicant (一窗受理): the same form, the same rules.
    if draft is None or draft.state == "discarded" or not (
            draft.is_owned_by(current_user) or (draft.state == "open" and may_fill(draft, current_user))):
        abort(404)
    return draft


def _actor(draft: Draft) -> Actor | None:
    """Who is filling the draft, when it is not the applicant: the window clerk."""
    return clerk_actor(current_user) if current_user.id != draft.applicant_id else None


def _form(bundle: Bundle, draft: Draft) -> BundleForm:
    """The whole form over the draft's answers; a step validates its own fields only."""
    form_class = build_form(bundle, current_lang(), today=local_now().date())
    return form_class(formdata=MultiDict(draft.answers), meta={"csrf": False})


def _visible_materials(bundle: Bundle, answers: dict[str, Any]) -> list[MaterialSpec]:
    return [m for m in bundle.materials
            if not m.held_by_government and (m.show_if is None or m.show_if.holds(answers))]


def _problems(bundle: Bundle, draft: Draft, form: BundleForm) -> dict[str, list[tuple[str, str, str]]]:
    """Every problem of the draft, by step: (anchor id, label, message)."""
    problems: dict[str, list[tuple[str, str, str]]] = {}
    for section in bundle.sections:
        for spec in section.fields:
            field = form[spec.key]
            if not field.validate(form):
                problems.setdefault(section.key, []).extend(
                    (field.id, str(field.label.text), str(e)) for e in field.errors)
    uploads = draft_materials(draft)
    lang = current_lang()
    for spec in _visible_materials(bundle, loose_answers(bundle, draft.answers)):
        if spec.required and spec.key_material and spec.key not in uploads:
            problems.setdefault(MATERIALS, []).append(
                (f"file_{spec.key}", spec.name.get(lang), _("Please upload %(name)s.", name=spec.name.get(lang))))
    return problems


def _refusals(bundle: Bundle, answers: dict[str, Any], only_answered: bool = False) -> list[str]:
    """The matter's own conditions the answers break (e.g. the minimum publication period before a
    credit repair); with only_answered, just the rules whose fields are all answered already."""
    today = local_now().date()
    return [rule.message.get(current_lang()) for rule in bundle.eligibility
            if (not only_answered or all(answers.get(k) not in (None, "") for k in rule.condition.fields()))
            and not rule.condition.holds(answers, today)]


def _routing_panel(bundle: Bundle, answers: dict[str, Any]) -> dict[str, Any]:
    """Which items and departments the matter goes to with the answers so far."""
    departments = department_map()
    applicable = set(applicable_items(bundle, answers))
    return {"applicable": applicable, "departments": departments,
            "conditions": {i.code: i.condition.model_dump(mode="json", exclude_none=True)
                           for i in bundle.items if i.condition is not None}}


def _deciding_fields(bundle: Bundle) -> dict[str, list[str]]:
    """field key -> items whose condition reads it (the page says the answer decides them)."""
    result: dict[str, list[str]] = {}
    for item in bundle.items:
        if item.condition is not None:
            for key in item.condition.fields():
                result.setdefault(key, []).append(item.code)
    return result


def _render(draft: Draft, bundle: Bundle, step: StepInfo, form: BundleForm, status: int = 200,
            **extra: Any) -> tuple[str, int]:
    answers = loose_answers(bundle, draft.answers)
    steps = steps_of(bundle)
    return render_template(
        "drafts/step.html", draft=draft, bundle=bundle, steps=steps, step=step,
        index=[s.key for s in steps].index(step.key), form=form, answers=answers,
        routing=_routing_panel(bundle, answers), deciding=_deciding_fields(bundle),
        materials=_visible_materials(bundle, answers), uploads=draft_materials(draft),
        upload_limit_mb=_upload_limit_mb(), **extra,
    ), status


def _upload_limit_mb() -> int:
    return int(current_app.config["ONESTOP_UPLOAD_MAX_BYTES"] // (1024 * 1024))


def _posted_answers(bundle: Bundle, section: Section) -> dict[str, str | None]:
    posted: dict[str, str | None] = {}
    for spec in section.fields:
        if spec.type is FieldType.BOOLEAN:
            posted[spec.key] = "y" if request.form.get(spec.key) else None
        else:
            value = request.form.get(spec.key)
            posted[spec.key] = value.strip() if value is not None and value.strip() else None
    return posted


def _save_uploads(draft: Draft, bundle: Bundle, form: BundleForm) -> bool:
    """Check and keep every file sent; a refused file is reported next to its material, the others kept."""
    ok = True
    for spec in _visible_materials(bundle, loose_answers(bundle, draft.answers)):
        upload = request.files.get(f"file_{spec.key}")
        if upload is None or not upload.filename:
            continue
        try:
            material = check_and_store(upload, draft.applicant, spec.key, list(spec.formats))
        except UploadError as exc:
            form[f"file_{spec.key}"].errors = [upload_error_text(exc, spec.formats)]
            ok = False
            continue
        keep_upload(draft, material)
    return ok


@bp.route("/drafts/<public_id>/<step_key>", methods=["GET", "POST"])
@login_required
@limiter.limit("60 per minute", methods=["POST"])
def step(public_id: str, step_key: str) -> Any:
    draft = _own_draft(public_id)
    if draft.state == "submitted":
        application = db.session.get(Application, draft.application_id)
        return redirect(url_for("applications.detail", reference=application.reference))
    if request.method == "GET" and follow_catalog(draft):
        commit()
        flash(_("The form of this matter was updated since you saved the draft; please check your answers."),
              "info")
    bundle = bundle_of(draft.bundle_version)
    steps = steps_of(bundle)
    current = next((s for s in steps if s.key == step_key), None)
    if current is None:
        abort(404)
    if current.key == CHECK:
        return _check(draft, bundle, current)
    if request.method == "GET":
        return _render(draft, bundle, current, _form(bundle, draft))

    action = request.form.get("action", "next")
    ok = True
    if current.section is not None:
        save_answers(draft, bundle, _posted_answers(bundle, current.section), current.key)
        form = _form(bundle, draft)
        if action == "next":
            # Every field is validated (a list, not a generator), so all mistakes show at once.
            ok = all([form[spec.key].validate(form) for spec in current.section.fields])  # noqa: C419
            refused = _refusals(bundle, loose_answers(bundle, draft.answers), only_answered=True) if ok else []
            if refused:  # said at once, on the step where it was answered, not only before submitting
                commit()
                return _render(draft, bundle, current, form, refusals=refused)
    else:
        form = _form(bundle, draft)
        draft.step = current.key
        ok = _save_uploads(draft, bundle, form)
        if ok and action == "next":
            problems = _problems(bundle, draft, form).get(MATERIALS, [])
            for anchor, _label, message in problems:
                form[anchor].errors = [message]
            ok = not problems
    commit()  # what was typed or uploaded is kept, valid or not
    position = [s.key for s in steps].index(current.key)
    if action == "save":
        if ok:
            flash(_("Draft saved. You can continue later on any device from “My matters”."), "success")
            return redirect(url_for("drafts.step", public_id=draft.public_id, step_key=current.key))
        flash(_("Draft saved, except the files that were refused."), "error")
        return _render(draft, bundle, current, form)
    if action == "back":
        return redirect(url_for("drafts.step", public_id=draft.public_id, step_key=steps[max(position - 1, 0)].key))
    if action.startswith("goto:") and action[5:] in {s.key for s in steps}:
        return redirect(url_for("drafts.step", public_id=draft.public_id, step_key=action[5:]))
    if not ok:
        flash(_("Some answers need your attention; everything you entered is kept."), "error")
        return _render(draft, bundle, current, form, status=200, show_errors=True)
    return redirect(url_for("drafts.step", public_id=draft.public_id, step_key=steps[position + 1].key))


def _check(draft: Draft, bundle: Bundle, current: StepInfo) -> Any:
    if request.method == "POST":
        abort(405)
    form = _form(bundle, draft)
    problems = _problems(bundle, draft, form)
    answers = loose_answers(bundle, draft.answers)
    refusals = _refusals(bundle, answers)
    rows = []
    for section in bundle.sections:
        shown = [(spec, display_value(spec, form[spec.key], current_lang())) for spec in section.fields
                 if spec.show_if is None or spec.show_if.holds(answers)]
        rows.append((section, shown))
    return _render(draft, bundle, current, form, problems=problems, refusals=refusals, rows=rows,
                   forecast=form_forecast(bundle, answers))


@bp.route("/drafts/<public_id>/submit", methods=["POST"])
@login_required
@limiter.limit("20 per minute")
def submit(public_id: str) -> Response:
    draft = _own_draft(public_id)
    if draft.state == "submitted":  # a second click or a replay: the first submission stands
        application = db.session.get(Application, draft.application_id)
        return redirect(url_for("applications.receipt", reference=application.reference))
    applicant = draft.applicant
    bundle = bundle_of(draft.bundle_version)
    form = _form(bundle, draft)
    check_url = url_for("drafts.step", public_id=draft.public_id, step_key=CHECK)
    if _problems(bundle, draft, form):
        flash(_("Some answers need your attention before you submit."), "error")
        return redirect(check_url)
    answers = form.answers()
    if bundle.refusals(answers, local_now().date()):
        return redirect(check_url)
    uploads = draft_materials(draft)
    material_ids = {m.key: uploads[m.key].id for m in _visible_materials(bundle, loose_answers(bundle, draft.answers))
                    if m.key in uploads}
    try:
        result = submit_draft(draft, applicant, answers, material_ids, actor=_actor(draft))
        intake = submitted_at_window(draft, result.application, current_user) if _actor(draft) else None
        commit()
    except IntegrityError:
        # The same draft submitted twice at the same instant: the other request created it.
        db.session.rollback()
        application = db.session.scalar(select(Application).where(
            Application.applicant_id == applicant.id, Application.idempotency_key == draft.idempotency_key))
        if application is None:
            raise
        return redirect(url_for("applications.receipt", reference=application.reference))
    except SubmissionError:
        db.session.rollback()
        flash(_("This matter cannot be submitted with these answers. Please check them."), "error")
        return redirect(check_url)
    if intake is not None:  # at the window: on to the acceptance slip
        return redirect(url_for("window.intake_page", intake_id=intake.id))
    return redirect(url_for("applications.receipt", reference=result.application.reference))


@bp.route("/drafts/<public_id>/discard", methods=["POST"])
@login_required
def discard_view(public_id: str) -> Response:
    draft = _own_draft(public_id)
    if draft.state != "open":
        abort(404)
    code = draft.bundle_code
    discard(draft, _actor(draft) or Actor(current_user.id, current_user.kind))
    commit()
    flash(_("The draft was deleted."), "info")
    return redirect(url_for("catalog.guide", code=code))


def material_of_draft(material: Material) -> bool:
    """A draft's upload may be opened by the draft's owner (materials view)."""
    if material.draft_id is None:
        return False
    if material.owner_id == current_user.id:
        return True
    draft = db.session.get(Draft, material.draft_id)
    return draft is not None and may_fill(draft, current_user)
