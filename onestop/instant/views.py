"""Pages of instant approval: the credit list (administrators), the switch of each item (department
heads), and which decisions were automatic (heads, auditors, administrators; read-only)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import case, func, select
from werkzeug.wrappers import Response

from forms.instant import CreditListForm, SwitchForm
from onestop.accounts.models import StaffRoleName
from onestop.applications.models import Application, Step
from onestop.audit.operations import Actor
from onestop.catalog.models import BundleVersion
from onestop.catalog.operations import bundle_of, current_versions, department_ids
from onestop.core.jobs import commit
from onestop.core.templating import text
from onestop.extensions import db
from onestop.instant.models import CreditImport, CreditRecord, InstantSwitch
from onestop.instant.operations import CreditListError, Problem, SwitchError, import_credit_list, set_switch

bp = Blueprint("instant", __name__, url_prefix="/instant")


@bp.before_request
@login_required
def _staff_only() -> None:
    if not (current_user.is_staff or current_user.kind in ("auditor", "admin")):
        abort(403)


def _problem_text(p: Problem) -> str:
    texts = {
        "encoding": _("The file is not a UTF-8 CSV file."),
        "header": _("Line 1: the header must be %(columns)s.", columns=p.value),
        "code": _("Line %(line)d: %(value)s is not a valid resident ID number or credit code.", line=p.line,
                  value=p.value or "—"),
        "status": _("Line %(line)d: the status must be 守信, 重点关注 or 严重失信.", line=p.line),
        "penalties": _("Line %(line)d: open penalties must be a whole number of 0 or more.", line=p.line),
        "duplicate": _("Line %(line)d: %(value)s appears twice.", line=p.line, value=p.value),
    }
    return texts[p.kind]


@bp.route("/credit", methods=["GET", "POST"])
def credit() -> str | Response:
    if current_user.kind != "admin":
        abort(403)
    form = CreditListForm()
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.read(5 * 1024 * 1024 + 1)
        if len(data) > 5 * 1024 * 1024:
            form.file.errors = [_("The file is larger than 5 MB.")]
        else:
            try:
                batch = import_credit_list(data, upload.filename or "credit.csv", Actor(current_user.id, "admin"))
                commit()
                flash(_("Credit list imported: %(n)d subjects.", n=batch.rows), "success")
                return redirect(url_for("instant.credit"))
            except CreditListError as exc:
                db.session.rollback()
                form.file.errors = [_problem_text(p) for p in exc.problems[:50]]
    counts = dict(db.session.execute(select(CreditRecord.status, func.count()).group_by(CreditRecord.status)).all())
    penalties = db.session.scalar(select(func.count()).where(CreditRecord.open_penalties > 0))
    imports = db.session.scalars(select(CreditImport).order_by(CreditImport.id.desc()).limit(10)).all()
    return render_template("instant/credit.html", form=form, counts=counts, penalties=penalties, imports=imports)


def _instant_items() -> list[dict[str, object]]:
    """Every item of a current bundle that carries instant-approval rules, with its switch."""
    switches = {(s.bundle_code, s.item_code): s for s in db.session.scalars(select(InstantSwitch))}
    ids = department_ids()
    rows = []
    for version in current_versions():
        bundle = bundle_of(version)
        for item in bundle.items:
            if item.instant is None:
                continue
            switch = switches.get((bundle.code, item.code))
            rows.append({"bundle": bundle, "item": item, "department_id": ids.get(item.department),
                         "switch": switch, "enabled": switch is None or switch.enabled})
    return rows


@bp.route("/items")
def items() -> str:
    """The switches (heads change those of their departments) and the share of automatic decisions."""
    heads_of = current_user.department_ids(StaffRoleName.HEAD) if current_user.is_staff else set()
    approved = Step.state == "approved"
    automatic = approved & Step.instant_rule_set.is_not(None) & Step.decided_by_id.is_(None)
    shares = db.session.execute(
        select(BundleVersion.code, Step.item_code, func.count().filter(approved),
               func.count().filter(automatic),
               func.count().filter(Step.instant_rule_set.is_not(None) & ~automatic))
        .join(Application, Application.id == Step.application_id)
        .join(BundleVersion, BundleVersion.id == Application.bundle_version_id)
        .where(Step.instant_rule_set.is_not(None) | approved)
        .group_by(BundleVersion.code, Step.item_code)
    ).all()
    share = {(b, i): (total, auto, manual) for b, i, total, auto, manual in shares}
    by_rule_set = db.session.execute(
        select(Step.instant_rule_set, func.count(), func.sum(case((automatic, 1), else_=0)))
        .where(Step.instant_rule_set.is_not(None)).group_by(Step.instant_rule_set).order_by(Step.instant_rule_set)
    ).all()
    return render_template("instant/items.html", rows=_instant_items(), heads_of=heads_of, share=share,
                           by_rule_set=by_rule_set, form=SwitchForm(formdata=None))


@bp.route("/items/switch", methods=["POST"])
def switch() -> Response:
    form = SwitchForm()
    if not form.validate_on_submit():
        flash(_("Please give the reason for the change."), "error")
        return redirect(url_for("instant.items"))
    version = next((v for v in current_versions() if v.code == form.bundle.data), None)
    if version is None:
        abort(404)
    bundle = bundle_of(version)
    try:
        item = bundle.item(form.item.data)
    except KeyError:
        abort(404)
    department_id = department_ids().get(item.department)
    if department_id is None or not current_user.is_staff or not current_user.is_head_of(department_id):
        abort(403)
    try:
        set_switch(bundle, item.code, form.enabled.data == "on", form.reason.data, current_user, department_id)
    except SwitchError:
        abort(400)
    commit()
    flash(_("Instant approval of %(item)s is now on.", item=text(item.name)) if form.enabled.data == "on"
          else _("Instant approval of %(item)s is now off: every new step goes to the queue.", item=text(item.name)),
          "success")
    return redirect(url_for("instant.items"))
