"""The reviewer's desk: the department queue, claims, the step page, confirmed decisions, bulk
acceptance, extensions; and the head's supervision page (overdue, load, reassignment, extensions,
post-approval checks, quality samples)."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from forms.reviews import (
    BulkAcceptForm,
    ClaimForm,
    DecisionForm,
    ExtensionDecisionForm,
    ExtensionRequestForm,
    FindingForm,
    PostCheckForm,
    ReassignForm,
    SampleForm,
)
from onestop.accounts.models import Department, User
from onestop.applications.models import Application, Material, Step, StepExtension
from onestop.applications.uploads import material_path
from onestop.audit.operations import record
from onestop.catalog.operations import bundle_of
from onestop.core.clock import local_now, local_tz, now, to_local
from onestop.core.i18n import current_lang
from onestop.core.jobs import commit
from onestop.core.templating import step_state
from onestop.extensions import db
from onestop.reviews import claims, queries, sampling
from onestop.reviews import jobs as _jobs  # noqa: F401  (registers the desk's jobs)
from onestop.reviews.bulk import MAX_BULK, bulk_accept, missing_materials, why_not_complete
from onestop.reviews.models import QualitySample, QualitySampleEntry
from onestop.reviews.operations import (
    Decision,
    DecisionError,
    decide,
    decide_extension,
    record_post_check,
    request_extension,
)
from workflows.catalog.schema import Bundle, Item, Mode
from workflows.clock import Unit
from workflows.states import StepAction, StepState, allowed_step_actions

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

_SKIPPED = {
    "not_to_accept": lambda: _("no longer waiting to be accepted"),
    "claimed_by_other": lambda: _("held by another reviewer"),
    "incomplete": lambda: _("materials missing"),
    "forbidden": lambda: _("not your department"),
}


def _staff_required() -> None:
    if not current_user.is_staff:
        abort(403)


def _departments() -> list[Department]:
    """The user's departments, read once per request."""
    if "desk_departments" not in g:
        ids = current_user.department_ids()
        g.desk_departments = list(db.session.scalars(
            select(Department).where(Department.id.in_(ids)).order_by(Department.id)))
    return list(g.desk_departments)


def _department(code: str | None, head: bool = False) -> Department:
    """The department whose queue is shown: one of the user's (the first by default)."""
    departments = _departments()
    if head:
        departments = [d for d in departments if current_user.is_head_of(d.id)]
    if not departments:
        abort(403)
    if not code:
        return departments[0]
    chosen = next((d for d in departments if d.code == code), None)
    if chosen is None:
        abort(404)  # another department's queue does not exist for this user
    return chosen


# -- the queue ---------------------------------------------------------------------------------------------

def _parse_date(raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _filter_from_args(department: Department) -> queries.QueueFilter:
    args = request.args
    pairs = queries.items_of_department(department.code)
    bundle = args.get("bundle") if args.get("bundle") in {b.code for b, _i in pairs} else None
    item = args.get("item") if args.get("item") in {i.code for _b, i in pairs} else None
    mode = args.get("mode") if args.get("mode") in ("ordinary", "commitment", "rongque") else None
    q = (args.get("q") or "").strip()[:64] or None
    return queries.QueueFilter(bundle=bundle, item=item, mode=mode, received_from=_parse_date(args.get("from")),
                               received_to=_parse_date(args.get("to")), q=q)


def _filter_args(department: Department, flt: queries.QueueFilter) -> dict[str, str]:
    raw = {"dept": department.code, "bundle": flt.bundle, "item": flt.item, "mode": flt.mode,
           "from": flt.received_from.isoformat() if flt.received_from else None,
           "to": flt.received_to.isoformat() if flt.received_to else None, "q": flt.q}
    return {k: v for k, v in raw.items() if v}


@bp.route("/")
@login_required
def queue() -> str:
    _staff_required()
    department = _department(request.args.get("dept"))
    flt = _filter_from_args(department)
    tab = request.args.get("tab")
    if tab not in queries.TABS:
        tab = None
    try:
        page = queries.queue_page(department, tab or "to_accept", flt, request.args.get("after"))
    except queries.BadCursor:
        abort(400)
    if tab is None and flt.q:
        # A search shows the first tab where the matter is, rather than an empty "to accept".
        tab = next((t for t in queries.TABS if page.counts.get(t)), "to_accept")
        if tab != "to_accept":
            page = queries.queue_page(department, tab, flt)
    tab = tab or "to_accept"
    items = queries.items_of_department(department.code)
    pending = db.session.scalar(select(StepExtension.id).join(Step).where(
        StepExtension.state == "requested", Step.department_id == department.id).limit(1)) \
        if current_user.is_head_of(department.id) else None
    return render_template(
        "reviews/queue.html", department=department, departments=_departments(), tab=tab, tabs=queries.TABS,
        page=page, flt=flt, args=_filter_args(department, flt), items=items,
        bundles=list({b.code: b for b, _i in items}.values()), extensions_pending=pending is not None,
        count_cap=queries.COUNT_CAP, bulk_form=BulkAcceptForm(formdata=None), now=now(),
        is_head=current_user.is_head_of(department.id),
    )


@bp.route("/bulk-accept", methods=["POST"])
@login_required
def bulk_accept_view() -> str | Response:
    """First press: the list to confirm, with the steps that cannot be accepted in bulk and why. Second
    press (confirmed): each step accepted as its own decision."""
    _staff_required()
    form = BulkAcceptForm()
    if not form.validate_on_submit():
        abort(400)
    ids = [int(v) for v in request.form.getlist("step") if v.isdigit()][:MAX_BULK]
    steps = [s for s in (db.session.get(Step, i) for i in ids) if s is not None and s.can_be_worked_by(current_user)]
    back = url_for("reviews.queue", dept=request.form.get("dept") or None, tab="to_accept")
    if not steps:
        flash(_("Tick the steps to accept first."), "error")
        return redirect(back)
    if not form.confirmed.data:
        checks = [(s, why_not_complete(s, current_user), missing_materials(s)) for s in steps]
        return render_template("reviews/bulk_confirm.html", checks=checks, form=form, back=back,
                               skipped_text=_SKIPPED)
    result = bulk_accept([s.id for s in steps], current_user)
    commit()
    flash(_("%(n)d step(s) accepted; the applicants are told.", n=len(result.accepted)), "success")
    for step, reason in result.skipped:
        flash(_("%(ref)s was not accepted: %(why)s.", ref=step.application.reference,
                why=_SKIPPED.get(reason, _ERRORS["not_allowed"])()), "error")
    return redirect(back)


# -- the step page -----------------------------------------------------------------------------------------

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
    claims.touch(step, current_user)
    return _render_step(step, DecisionForm(version=step.version_id), ExtensionRequestForm(formdata=None, prefix="extension"))


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
        # A 公示 passes by itself; the department records an objection, unless objections come from anyone
        # (then they are lodged and checked on their own pages, onestop.benefits).
        actions &= {"reject"} if item.objections == "department" else set()
    lang = current_lang()
    if Mode.RONGQUE in item.modes:
        form.outstanding.choices = [SelectChoice(m.key, m.name.get(lang)) for m in material_specs.values()
                                    if not m.key_material and not m.held_by_government]
    extensions = db.session.scalars(select(StepExtension).where(StepExtension.step_id == step.id)
                                    .order_by(StepExtension.id)).all()
    claim = claims.live_claim(step)
    holder = db.session.get(User, claim.holder_id) if claim else None
    is_head = current_user.is_head_of(step.department_id)
    reassign_form = None
    if is_head and step.is_open:
        reassign_form = ReassignForm(formdata=None)
        reassign_form.to_user.choices = _reassign_choices(step)
    current = now()
    return render_template(
        "reviews/step.html", step=step, application=application, bundle=bundle, item=item,
        fields=fields, materials=materials, material_specs=material_specs, held=held, form=form,
        actions=actions, candidates=_supplement_candidates(bundle, item), commitment=Mode.COMMITMENT in item.modes,
        extension_form=extension_form, extensions=extensions,
        can_extend=item.max_extension is not None and step.is_open and step.clock_start is not None,
        claim=claim, holder=holder, holds=claim is not None and claim.holder_id == current_user.id,
        claim_form=ClaimForm(formdata=None), reassign_form=reassign_form,
        remaining=queries.remaining_of(step, current), others=queries.other_departments(step),
        lang=lang,
    )


def _reassign_choices(step: Step) -> list[SelectChoice]:
    return [SelectChoice("", _("Nobody (back to the queue)"))] + [
        SelectChoice(str(u.id), u.name) for u in claims.reviewers_of(step.department_id)]


@bp.route("/steps/<int:step_id>/claim", methods=["POST"])
@login_required
def claim_step(step_id: int) -> Response:
    _staff_required()
    step = _step_for_staff(step_id)
    if not ClaimForm().validate_on_submit():
        abort(400)
    try:
        claims.claim(step, current_user)
        commit()
        flash(_("You hold this step now; others see that you are working on it."), "success")
    except claims.ClaimError as exc:
        db.session.rollback()
        if exc.holder is not None:
            flash(_("%(who)s is working on this step; it cannot be claimed.", who=exc.holder.name), "error")
        else:
            flash(_ERRORS["not_allowed"](), "error")
    return redirect(url_for("reviews.step", step_id=step_id))


@bp.route("/steps/<int:step_id>/release", methods=["POST"])
@login_required
def release_step(step_id: int) -> Response:
    _staff_required()
    step = _step_for_staff(step_id)
    if not ClaimForm().validate_on_submit():
        abort(400)
    try:
        claims.release(step, current_user)
        commit()
        flash(_("The step is back in the department's queue."), "success")
    except claims.ClaimError:
        db.session.rollback()
        flash(_("You do not hold this step."), "error")
    return redirect(url_for("reviews.step", step_id=step_id))


@bp.route("/steps/<int:step_id>/reassign", methods=["POST"])
@login_required
def reassign_step(step_id: int) -> Response:
    _staff_required()
    step = _step_for_staff(step_id)
    if not current_user.is_head_of(step.department_id):
        abort(403)
    form = ReassignForm()
    form.to_user.choices = _reassign_choices(step)
    if not form.validate_on_submit():
        flash(_("Choose who takes the step and say why."), "error")
        return redirect(url_for("reviews.step", step_id=step_id))
    try:
        claims.reassign(step, int(form.to_user.data) if form.to_user.data else None, current_user,
                        form.reassign_reason.data)
        commit()
        flash(_("The step was reassigned."), "success")
    except claims.ClaimError:
        db.session.rollback()
        flash(_ERRORS["not_allowed"](), "error")
    return redirect(request.form.get("next") if request.form.get("next") == url_for("reviews.supervision")
                    else url_for("reviews.step", step_id=step_id))


@bp.route("/steps/<int:step_id>/materials/<int:material_id>")
@login_required
def step_material(step_id: int, material_id: int) -> Response:
    """A material of the step's application that the step's item needs, for the inline preview.

    Only this step's own materials (data minimisation); each view is an audit event; served with headers
    that let only this site frame it and keep the browser from guessing its type."""
    _staff_required()
    step = _step_for_staff(step_id)
    material = db.session.get(Material, material_id)
    bundle = bundle_of(step.application.bundle_version)
    needed = {m.key for m in bundle.materials if step.item_code in m.items}
    if material is None or material.application_id != step.application_id or material.material_key not in needed:
        abort(404)
    record("material:viewed", "material", material.id,
           {"application": step.application.reference, "step": step.id, "key": material.material_key},
           department_id=step.department_id)
    commit()
    response = send_file(material_path(material), mimetype=material.content_type,
                         download_name=material.filename or "material",
                         as_attachment=request.args.get("download") == "1", max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; frame-ancestors 'self'"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


# -- decisions: a form, a confirmation page, then the decision ----------------------------------------------

def _problems(bundle: Bundle, item: Item) -> list[dict[str, str]]:
    problems = []
    for kind, key, _label in _supplement_candidates(bundle, item):
        if request.form.get(f"problem_{kind}_{key}"):
            problems.append({"kind": kind, "key": key, "message": request.form.get(f"message_{kind}_{key}", "")})
    return problems


def _decision_from(form: DecisionForm, bundle: Bundle, item: Item) -> Decision:
    promised = form.promised_by.data
    return Decision(
        StepAction(form.action.data),
        reason=(form.reason.data or "").strip() or None,
        legal_basis=(form.legal_basis.data or "").strip() or None,
        outstanding=list(form.outstanding.data or []) if form.action.data == "accept" else [],
        promised_by=datetime.combine(promised, time(17), local_tz()) if promised else None,
        problems=_problems(bundle, item) if form.action.data == "request_supplement" else [],
        on_commitment=bool(form.on_commitment.data) and form.action.data == "approve",
    )


def _already_decided(step_id: int) -> Response:
    step = _step_for_staff(step_id)
    db.session.refresh(step)
    who = step.decided_by.name if step.decided_by else _("the system")
    flash(_("This step was already decided by %(who)s; nothing was changed.", who=who), "error")
    return redirect(url_for("reviews.step", step_id=step_id))


@bp.route("/steps/<int:step_id>/decide", methods=["POST"])
@login_required
def decide_step(step_id: int) -> str | Response:
    _staff_required()
    step = _step_for_staff(step_id)
    form = DecisionForm()
    bundle = bundle_of(step.application.bundle_version)
    item = bundle.item(step.item_code)
    form.outstanding.choices = [SelectChoice(m.key, m.name.get(current_lang())) for m in bundle.materials
                                if step.item_code in m.items]
    if request.form.get("edit"):  # back from the confirmation page, with everything as typed
        return _render_step(step, form, ExtensionRequestForm(formdata=None, prefix="extension"))
    if not form.validate_on_submit():
        return _render_step(step, form, ExtensionRequestForm(formdata=None, prefix="extension"))
    if not step.is_open:
        return _already_decided(step_id)
    if not claims.holds(step, current_user):
        claim = claims.live_claim(step)
        holder = db.session.get(User, claim.holder_id) if claim else None
        flash(_("%(who)s is working on this step; it cannot be claimed.", who=holder.name) if holder
              else _("Claim the step before deciding: others then see that you are working on it."), "error")
        return redirect(url_for("reviews.step", step_id=step_id))
    decision = _decision_from(form, bundle, item)
    expected = int(form.version.data) if (form.version.data or "").isdigit() else None
    confirmed = form.confirmed.data == "1"
    try:
        decide(step_id, expected, decision, current_user)
        if confirmed:
            commit()
        else:
            # A dry run: the confirmation page only offers what would go through. Nothing is kept: the
            # rollback drops the changes, their audit events and their messages.
            db.session.rollback()
    except (DecisionError, StaleDataError) as exc:
        db.session.rollback()
        code = exc.code if isinstance(exc, DecisionError) else "already_decided"
        step = _step_for_staff(step_id)
        db.session.refresh(step)
        if code in _ERRORS and code != "not_allowed":
            form.form_errors.append(_ERRORS[code]())
            return _render_step(step, form, ExtensionRequestForm(formdata=None, prefix="extension"))
        if code == "already_decided" or not step.is_open:
            return _already_decided(step_id)
        if code == "claimed_by_other":
            flash(_("%(who)s is working on this step; it cannot be claimed.", who=exc.detail if isinstance(exc, DecisionError) else ""), "error")
        elif code == "changed_meanwhile":
            flash(_("This step changed while you were reading it; please check it again."), "error")
        else:
            flash(_ERRORS["not_allowed"](), "error")
        return redirect(url_for("reviews.step", step_id=step_id))
    if not confirmed:
        step = _step_for_staff(step_id)
        hidden = [(k, v) for k, values in request.form.lists() if k not in ("csrf_token", "confirmed", "edit")
                  for v in values]
        labels = {key: label for _kind, key, label in _supplement_candidates(bundle, item)}
        return render_template("reviews/confirm.html", step=step, item=item, decision=decision, hidden=hidden,
                               form=form, labels=labels, material_names={m.key: m.name for m in bundle.materials})
    flash(_("Decision recorded; the applicant is told."), "success")
    return redirect(url_for("reviews.step", step_id=step_id))


@bp.route("/steps/<int:step_id>/extension", methods=["POST"])
@login_required
def ask_extension(step_id: int) -> str | Response:
    _staff_required()
    step = _step_for_staff(step_id)
    form = ExtensionRequestForm(prefix="extension")
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


# -- the head -------------------------------------------------------------------------------------------------

def _head_department() -> Department:
    _staff_required()
    return _department(request.values.get("dept"), head=True)


@bp.route("/supervision")
@login_required
def supervision() -> str:
    department = _head_department()
    view = queries.supervision(department)
    samples = db.session.scalars(select(QualitySample).where(QualitySample.department_id == department.id)
                                 .order_by(QualitySample.id.desc()).limit(10)).all()
    today = local_now().date()
    sample_form = SampleForm(formdata=None, period_start=today.replace(day=1) if today.day > 1 else today,
                             period_end=today)
    if today.day > 1:
        sample_form.period_end.data = date.fromordinal(today.toordinal() - 1)
    else:
        last = date.fromordinal(today.toordinal() - 1)
        sample_form.period_start.data, sample_form.period_end.data = last.replace(day=1), last
    return render_template(
        "reviews/supervision.html", department=department, view=view, samples=samples,
        sample_form=sample_form, post_check_form=PostCheckForm(formdata=None),
        extension_form=ExtensionDecisionForm(formdata=None), preview=queries.extension_preview,
        users=_names({e.requested_by_id for e in view.extensions}),
        ratings_endpoint="ratings.head" if "ratings.head" in current_app.view_functions else None,
        departments=[d for d in _departments() if current_user.is_head_of(d.id)], current=now(),
    )


@bp.route("/extensions")
@login_required
def extensions() -> str:
    _staff_required()
    heads_of = current_user.department_ids("head")
    if not heads_of:
        abort(403)
    pending = db.session.scalars(
        select(StepExtension).join(Step).where(StepExtension.state == "requested", Step.department_id.in_(heads_of))
        .order_by(StepExtension.requested_at)
    ).all()
    return render_template("reviews/extensions.html", pending=pending, form=ExtensionDecisionForm(),
                           preview=queries.extension_preview, users=_names({e.requested_by_id for e in pending}))


def _names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


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
    back = request.form.get("next")
    return redirect(back if back in (url_for("reviews.supervision"),) else url_for("reviews.extensions"))


@bp.route("/post-checks/<int:step_id>", methods=["POST"])
@login_required
def post_check(step_id: int) -> Response:
    """告知承诺 事后核查: the head records the outcome; a false commitment revokes the result."""
    _staff_required()
    step = _step_for_staff(step_id)
    if not current_user.is_head_of(step.department_id):
        abort(403)
    form = PostCheckForm()
    if not form.validate_on_submit():
        flash(_("Say what the check found."), "error")
    else:
        try:
            record_post_check(step_id, form.outcome.data == "confirmed", form.note.data, current_user)
            commit()
            flash(_("Post-approval check recorded; the applicant is told."), "success")
        except DecisionError:
            db.session.rollback()
            flash(_ERRORS["not_allowed"](), "error")
    return redirect(url_for("reviews.supervision", dept=step.department.code) + "#post-checks")


@bp.route("/samples", methods=["POST"])
@login_required
def draw_sample() -> Response:
    department = _head_department()
    form = SampleForm()
    if not form.validate_on_submit():
        flash(_("Give a period that has ended and a share of at least %(rate)d%%.", rate=sampling.MIN_RATE), "error")
        return redirect(url_for("reviews.supervision", dept=department.code) + "#samples")
    try:
        sample = sampling.draw(department, form.period_start.data, form.period_end.data, form.rate_percent.data,
                               current_user)
        commit()
    except sampling.SampleError:
        db.session.rollback()
        flash(_("Give a period that has ended and a share of at least %(rate)d%%.", rate=sampling.MIN_RATE), "error")
        return redirect(url_for("reviews.supervision", dept=department.code) + "#samples")
    return redirect(url_for("reviews.sample", sample_id=sample.id))


def _own_sample(sample_id: int) -> QualitySample:
    _staff_required()
    sample = db.session.get(QualitySample, sample_id)
    if sample is None or not current_user.is_head_of(sample.department_id):
        abort(404)
    return sample


@bp.route("/samples/<int:sample_id>")
@login_required
def sample(sample_id: int) -> str:
    sample = _own_sample(sample_id)
    reproducible, _again = sampling.redraw(sample)
    return render_template("reviews/sample.html", sample=sample, reproducible=reproducible,
                           finding_form=FindingForm(formdata=None))


@bp.route("/samples/<int:sample_id>/entries/<int:entry_id>", methods=["POST"])
@login_required
def record_finding(sample_id: int, entry_id: int) -> Response:
    sample = _own_sample(sample_id)
    entry = db.session.get(QualitySampleEntry, entry_id)
    if entry is None or entry.sample_id != sample.id:
        abort(404)
    form = FindingForm()
    if not form.validate_on_submit():
        flash(_("Choose a verdict and write the finding."), "error")
    else:
        try:
            sampling.record_finding(entry, form.verdict.data, form.finding.data, current_user)
            commit()
            flash(_("Finding recorded."), "success")
        except sampling.SampleError:
            db.session.rollback()
            flash(_("Choose a verdict and write the finding."), "error")
    return redirect(url_for("reviews.sample", sample_id=sample.id) + f"#entry-{entry.id}")


@bp.app_template_global("desk_labels")
def desk_labels() -> dict[str, Any]:
    """Texts a queue page repeats on every line, translated once per request (a translation lookup
    costs as much as the rest of a line)."""
    labels = g.get("desk_labels")
    if labels is None:
        labels = g.desk_labels = {
            "states": {s.value: step_state(s.value) for s in StepState},
            "tabs": {"to_accept": _("To accept"), "in_progress": _("In progress"),
                     "waiting": _("Waiting for the applicant"), "due_soon": _("Due soon"), "overdue": _("Overdue"),
                     "finished": _("Finished")},
            # Formats, filled per line (gettext without arguments returns the format itself).
            "units": {"working_days": _("%(n)s working days"), "natural_days": _("%(n)s days"),
                      "working_hours": _("%(n)s working hours"), "minutes": _("%(n)s minutes")},
            "overdue": _("Overdue by %(time)s"), "due_soon": _("Due soon: %(time)s left"),
            "on_time": _("%(time)s left"), "due_now": _("Due now"),
        }
    return labels


@bp.app_template_filter("desk_time")
def desk_time(value: datetime | None) -> str:
    """yyyy-MM-dd HH:mm in local time, as the site's local_time filter writes it, without a locale lookup
    per call (a queue page writes a hundred of them)."""
    local = to_local(value)
    return local.strftime("%Y-%m-%d %H:%M") if local is not None else ""


@bp.app_template_filter("remaining")
def remaining_text(value: queries.Remaining | None) -> str:
    """Remaining working time in words: the colour on the page only repeats what these words say."""
    if value is None:
        return ""
    labels = desk_labels()
    amount = abs(value.amount)
    amount = amount.quantize(Decimal(1)) if value.unit is Unit.MINUTES else amount.quantize(Decimal("0.1"))
    if amount == 0 and value.level != "overdue":
        return str(labels["due_now"])
    words = labels["units"][value.unit.value] % {"n": format(amount.normalize(), "f")}
    return str(labels[value.level] % {"time": words})


@bp.app_template_global("catalog_item")
def catalog_item(bundle_code: str, item_code: str) -> str:
    """An item's name in the page's language (item codes are unique across the catalog)."""
    for bundle in queries.catalog_bundles():
        if bundle.code == bundle_code:
            for item in bundle.items:
                if item.code == item_code:
                    return item.name.get(current_lang())
    return item_code
