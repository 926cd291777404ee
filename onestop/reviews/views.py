"""The reviewer's desk: the department queue, the step page and decisions."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import case, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from forms.reviews import DecisionForm
from onestop.applications.models import Application, Step
from onestop.audit.operations import record
from onestop.catalog.operations import bundle_of
from onestop.core.jobs import commit
from onestop.extensions import db
from onestop.reviews.operations import Decision, DecisionError, decide
from workflows.states import TERMINAL_STEP_STATES, StepAction, StepState, allowed_step_actions

bp = Blueprint("reviews", __name__, url_prefix="/desk")


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
    return render_template("reviews/queue.html", steps=steps)


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
    return _render_step(step, DecisionForm(version=step.version_id))


def _render_step(step: Step, form: DecisionForm) -> str:
    application: Application = step.application
    bundle = bundle_of(application.bundle_version)
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
    actions = {a.value for a in allowed_step_actions(step.step_state)}
    form.action.choices = [c for c in form.action.choices if c.value in actions]  # only what the state allows
    return render_template(
        "reviews/step.html", step=step, application=application, bundle=bundle, item=bundle.item(step.item_code),
        fields=fields, materials=materials, material_specs=material_specs, held=held, form=form,
    )


@bp.route("/steps/<int:step_id>/decide", methods=["POST"])
@login_required
def decide_step(step_id: int) -> str | Response:
    _staff_required()
    step = _step_for_staff(step_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        return _render_step(step, form)
    decision = Decision(StepAction(form.action.data), (form.reason.data or "").strip() or None,
                        (form.legal_basis.data or "").strip() or None)
    expected = int(form.version.data) if (form.version.data or "").isdigit() else None
    try:
        decide(step_id, expected, decision, current_user)
        commit()
    except (DecisionError, StaleDataError) as exc:
        db.session.rollback()
        code = exc.code if isinstance(exc, DecisionError) else "already_decided"
        step = _step_for_staff(step_id)
        db.session.refresh(step)
        if code == "reason_required":
            form.reason.errors = [_("A rejection needs the reason and its legal basis.")]
            return _render_step(step, form)
        if code == "already_decided" or not step.is_open:
            who = step.decided_by.name if step.decided_by else _("the system")
            flash(_("This step was already decided by %(who)s; nothing was changed.", who=who), "error")
        elif code == "changed_meanwhile":
            flash(_("This step changed while you were reading it; please check it again."), "error")
        else:
            flash(_("This decision is not possible in the step's current state."), "error")
        return redirect(url_for("reviews.step", step_id=step_id))
    flash(_("Decision recorded."), "success")
    return redirect(url_for("reviews.step", step_id=step_id))
