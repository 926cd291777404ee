"""The reviewer's desk: the department queue, the step page, decisions, extensions."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import case, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from forms.reviews import DecisionForm, ExtensionDecisionForm, ExtensionRequestForm
from onestop.applications.models import Application, Step, StepExtension
from onestop.audit.operations import record
from onestop.catalog.operations import bundle_of
from onestop.core.clock import local_tz
from onestop.core.i18n import current_lang
from onestop.core.jobs import commit
from onestop.extensions import db
from onestop.reviews.operations import Decision, DecisionError, decide, decide_extension, request_extension
from workflows.catalog.schema import Bundle, Item, Mode
from workflows.states import TERMINAL_STEP_STATES, StepAction, StepState, allowed_step_actions

bp = Blueprint("reviews", __name__, url_prefix="/desk")

_ERRORS = {
    "reason_required": lambda: _("Give the reason (and, for a rejection, its legal basis)."),
    "problems_required": lambda: _("Tick at least one field or material and say what is wrong."),
    "problem_message_required": lambda: _("Say what is wrong for every ticked field or material."),
    "problem_not_in_item": lambda: _("A department may only ask about what its own item needs."),
    "rongque_not_allowed": lambda: _("This item does not allow acceptance with materials outstanding."),
    "rongque_key_material": lambda: _("A key material cannot be outstanding."),
    "rongque_promise_date": lambda: _("Give a promise date after today and within the supplement limit."),
    "outstanding_materials": lambda: _("The promised materials have not arrived yet (容缺): approval waits for them."),
    "commitment_not_allowed": lambda: _("This item cannot be approved on commitment."),
    "extension_not_allowed": lambda: _("This item's time limit cannot be extended."),
    "extension_too_long": lambda: _("The extension exceeds what the item allows in total."),
    "not_allowed": lambda: _("This decision is not possible in the step's current state."),
}


def _staff_required() -> None:
    if not current_user.is_staff:
        abort(403)


@bp.route("/")
@login_required
def queue() -> str:
    _staff_required()
    departments = current_user.department_ids()
    open_states = [s.value for s in StepState if s not in TERMINAL_STEP_STATES and s is not StepState.WAITING]
    # Most urgent first: steps with a due date by that date, then those still to accept by arrival.
    steps = db.session.scalars(
        select(Step).options(joinedload(Step.application), joinedload(Step.department))
        .where(Step.department_id.in_(departments), Step.state.in_(open_states))
        .order_by(case((Step.due_at.is_(None), 1), else_=0), Step.due_at, Step.received_at, Step.id)
        .limit(100)
    ).all()
    pending = db.session.scalar(select(StepExtension.id).join(Step).where(
        StepExtension.state == "requested", Step.department_id.in_(current_user.department_ids("head"))).limit(1))
    return render_template("reviews/queue.html", steps=steps, extensions_pending=pending is not None)


def _step_for_staff(step_id: int) -> Step:
    step = db.session.get(Step, step_id)
    # Another department's step is "not found": a reviewer cannot even confirm that it exists.
    if step is None or not step.can_be_worked_by(current_user):
        abort(404)
    return step


@bp.route("/steps/<int:step_id>")
@login_required
def step(step_id: int) -> str:
    _staff_required()
    step = _step_for_staff(step_id)
    return _render_step(step, DecisionForm(version=step.version_id), ExtensionRequestForm(formdata=None))


def _supplement_candidates(bundle: Bundle, item: Item) -> list[tuple[str, str, str]]:
    """(kind, key, label) of everything this item may ask the applicant to correct."""
    lang = current_lang()
    fields = [("field", f.key, f.label.get(lang)) for f in bundle.fields if item.code in f.items]
    materials = [("material", m.key, m.name.get(lang)) for m in bundle.materials
                 if item.code in m.items and not m.held_by_government]
    return fields + materials


def _render_step(step: Step, form: DecisionForm, extension_form: ExtensionRequestForm) -> str:
    application: Application = step.application
    bundle = bundle_of(application.bundle_version)
    item = bundle.item(step.item_code)
    answers = application.answer_map
    # Data minimisation: only the fields and materials this item needs.
    fields = [(f, answers.get(f.key)) for f in bundle.fields if step.item_code in f.items and f.key in answers]
    material_specs = {m.key: m for m in bundle.materials if step.item_code in m.items}
    materials = [m for m in application.materials if m.material_key in material_specs]
    held = [m for m in material_specs.values() if m.held_by_government]
    personal = [f.key for f, _v in fields if f.personal]
    if personal:
        record("personal_data:viewed", "step", step.id,
               {"application": application.reference, "fields": personal}, department_id=step.department_id)
        commit()
    actions = {a.value for a in allowed_step_actions(step.step_state)} - {"start", "terminate", "supplement_received"}
    if item.kind == "notice":
        actions &= {"reject"}  # a 公示 passes by itself; the department records an objection
    lang = current_lang()
    if Mode.RONGQUE in item.modes:
        form.outstanding.choices = [SelectChoice(m.key, m.name.get(lang)) for m in material_specs.values()
                                    if not m.key_material and not m.held_by_government]
    extensions = db.session.scalars(select(StepExtension).where(StepExtension.step_id == step.id)
                                    .order_by(StepExtension.id)).all()
    return render_template(
        "reviews/step.html", step=step, application=application, bundle=bundle, item=item,
        fields=fields, materials=materials, material_specs=material_specs, held=held, form=form,
        actions=actions, candidates=_supplement_candidates(bundle, item), commitment=Mode.COMMITMENT in item.modes,
        extension_form=extension_form, extensions=extensions,
        can_extend=item.max_extension is not None and step.is_open and step.clock_start is not None,
    )


def _problems(bundle: Bundle, item: Item) -> list[dict[str, str]]:
    problems = []
    for kind, key, _label in _supplement_candidates(bundle, item):
        if request.form.get(f"problem_{kind}_{key}"):
            problems.append({"kind": kind, "key": key, "message": request.form.get(f"message_{kind}_{key}", "")})
    return problems


@bp.route("/steps/<int:step_id>/decide", methods=["POST"])
@login_required
def decide_step(step_id: int) -> str | Response:
    _staff_required()
    step = _step_for_staff(step_id)
    form = DecisionForm()
    bundle = bundle_of(step.application.bundle_version)
    item = bundle.item(step.item_code)
    form.outstanding.choices = [SelectChoice(m.key, m.key) for m in bundle.materials if step.item_code in m.items]
    if not form.validate_on_submit():
        return _render_step(step, form, ExtensionRequestForm(formdata=None))
    promised = form.promised_by.data
    decision = Decision(
        StepAction(form.action.data),
        reason=(form.reason.data or "").strip() or None,
        legal_basis=(form.legal_basis.data or "").strip() or None,
        outstanding=list(form.outstanding.data or []) if form.action.data == "accept" else [],
        promised_by=datetime.combine(promised, time(17), local_tz()) if promised else None,
        problems=_problems(bundle, item) if form.action.data == "request_supplement" else [],
        on_commitment=bool(form.on_commitment.data) and form.action.data == "approve",
    )
    expected = int(form.version.data) if (form.version.data or "").isdigit() else None
    try:
        decide(step_id, expected, decision, current_user)
        commit()
    except (DecisionError, StaleDataError) as exc:
        db.session.rollback()
        code = exc.code if isinstance(exc, DecisionError) else "already_decided"
        step = _step_for_staff(step_id)
        db.session.refresh(step)
        if code in _ERRORS and code != "not_allowed":
            form.form_errors.append(_ERRORS[code]())
            return _render_step(step, form, ExtensionRequestForm(formdata=None))
        if code == "already_decided" or not step.is_open:
            who = step.decided_by.name if step.decided_by else _("the system")
            flash(_("This step was already decided by %(who)s; nothing was changed.", who=who), "error")
        elif code == "changed_meanwhile":
            flash(_("This step changed while you were reading it; please check it again."), "error")
        else:
            flash(_ERRORS["not_allowed"](), "error")
        return redirect(url_for("reviews.step", step_id=step_id))
    flash(_("Decision recorded."), "success")
    return redirect(url_for("reviews.step", step_id=step_id))


@bp.route("/steps/<int:step_id>/extension", methods=["POST"])
@login_required
def ask_extension(step_id: int) -> str | Response:
    _staff_required()
    step = _step_for_staff(step_id)
    form = ExtensionRequestForm()
    if form.validate_on_submit():
        try:
            request_extension(step_id, Decimal(form.amount.data), form.reason.data, current_user)
            commit()
            flash(_("Extension requested; the department head decides."), "success")
            return redirect(url_for("reviews.step", step_id=step_id))
        except DecisionError as exc:
            db.session.rollback()
            form.amount.errors = [_ERRORS.get(exc.code, _ERRORS["not_allowed"])()]
    return _render_step(step, DecisionForm(version=step.version_id), form)


@bp.route("/extensions")
@login_required
def extensions() -> str:
    _staff_required()
    heads_of = current_user.department_ids("head")
    if not heads_of:
        abort(403)
    pending = db.session.scalars(
        select(StepExtension).join(Step).options(joinedload(StepExtension.step))
        .where(StepExtension.state == "requested", Step.department_id.in_(heads_of))
        .order_by(StepExtension.requested_at)
    ).all()
    return render_template("reviews/extensions.html", pending=pending, form=ExtensionDecisionForm())


@bp.route("/extensions/<int:extension_id>", methods=["POST"])
@login_required
def decide_extension_view(extension_id: int) -> Response:
    _staff_required()
    form = ExtensionDecisionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        decide_extension(extension_id, form.decision.data == "approve", current_user)
        commit()
        flash(_("Extension approved; the applicant is told the new due date.") if form.decision.data == "approve"
              else _("Extension refused."), "success")
    except DecisionError as exc:
        db.session.rollback()
        if exc.code == "forbidden":
            abort(404)
        flash(_ERRORS.get(exc.code, _ERRORS["not_allowed"])(), "error")
    return redirect(url_for("reviews.extensions"))
