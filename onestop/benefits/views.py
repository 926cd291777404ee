"""Pages of 免申即享: the enterprise's offers with one-click confirmation; the public 公示 list and
objections (anyone); the department's check of objections; the administrator's data import and match."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from forms.benefits import (
    ConfirmOfferForm,
    DeclineOfferForm,
    EnterpriseDataForm,
    MatchForm,
    ObjectionForm,
    ResolveObjectionForm,
)
from onestop.applications.models import Application, Step
from onestop.applications.operations import SubmissionError
from onestop.audit.operations import Actor, record
from onestop.benefits.models import BenefitOffer, EnterpriseDataImport, EnterpriseRecord, NoticeObjection
from onestop.benefits.operations import (
    EnterpriseDataError,
    ObjectionError,
    OfferError,
    confirm,
    decline,
    import_enterprise_data,
    latest_year,
    lodge_objection,
    match,
    offers_for,
    open_notice_step,
    open_objections,
)
from onestop.catalog.operations import bundle_of, bundle_of_application, current_versions
from onestop.core.jobs import commit
from onestop.extensions import db, limiter
from onestop.instant.operations import Problem
from workflows.catalog.schema import Bundle
from workflows.states import StepState

bp = Blueprint("benefits", __name__, url_prefix="/benefits")


def _offer_bundles() -> dict[str, Bundle]:
    return {v.code: bundle_of(v) for v in current_versions() if bundle_of(v).intake == "offer"}


# -- the enterprise's offers --------------------------------------------------------------------------

def _enterprise_required() -> None:
    if not current_user.is_authenticated or current_user.enterprise_id is None:
        abort(403)


@bp.route("/offers")
@login_required
def offers() -> str:
    _enterprise_required()
    items = offers_for(current_user)
    bundles = _offer_bundles()
    references = dict(db.session.execute(select(Application.id, Application.reference).where(
        Application.id.in_([o.application_id for o in items if o.application_id]))).all()) if items else {}
    return render_template("benefits/offers.html", offers=items, bundles=bundles, references=references,
                           confirm_form=ConfirmOfferForm(formdata=None), decline_form=DeclineOfferForm(formdata=None))


def _offer_error(code: str) -> None:
    if code == "not_found":
        abort(404)  # someone else's offer: its existence is not confirmed either
    flash(_("This offer has already been answered."), "error")


@bp.route("/offers/<int:offer_id>/confirm", methods=["POST"])
@login_required
@limiter.limit("20 per minute")
def confirm_offer(offer_id: int) -> Response:
    _enterprise_required()
    if not ConfirmOfferForm().validate_on_submit():
        flash(_("This page had expired; nothing was changed. Please confirm again."), "error")
        return redirect(url_for("benefits.offers"))
    try:
        application = confirm(offer_id, current_user)
    except OfferError as exc:
        db.session.rollback()
        _offer_error(exc.code)
        return redirect(url_for("benefits.offers"))
    except SubmissionError:
        db.session.rollback()
        flash(_("The refund could not be confirmed now; nothing was changed. Please try again later."), "error")
        return redirect(url_for("benefits.offers"))
    commit()
    flash(_("Confirmed. Your refund is under review: reference %(ref)s.", ref=application.reference), "success")
    return redirect(url_for("applications.detail", reference=application.reference))


@bp.route("/offers/<int:offer_id>/decline", methods=["POST"])
@login_required
@limiter.limit("20 per minute")
def decline_offer(offer_id: int) -> Response:
    _enterprise_required()
    form = DeclineOfferForm()
    if not form.validate_on_submit():
        flash(_("The reason is too long (at most 1000 characters); nothing was changed."), "error")
        return redirect(url_for("benefits.offers"))
    try:
        decline(offer_id, current_user, form.reason.data or "")
    except OfferError as exc:
        db.session.rollback()
        _offer_error(exc.code)
        return redirect(url_for("benefits.offers"))
    commit()
    flash(_("You declined the offer."), "success")
    return redirect(url_for("benefits.offers"))


# -- the public notice (公示) and objections ----------------------------------------------------------

@dataclass(frozen=True)
class NoticeRow:
    reference: str
    enterprise_name: str
    credit_code: str
    amount: Decimal
    benefit: Bundle
    started_at: datetime | None
    ends_at: datetime | None  # None while suspended: the end moves by the time the check takes
    suspended: bool
    provisional: bool


def notice_rows() -> list[NoticeRow]:
    bundles = _offer_bundles()
    notice_items = {i.code for b in bundles.values() for i in b.items if i.kind == "notice" and i.objections == "anyone"}
    if not notice_items:
        return []
    rows = db.session.execute(
        select(Step, Application.reference, BenefitOffer)
        .join(Application, Application.id == Step.application_id)
        .join(BenefitOffer, BenefitOffer.application_id == Application.id)
        .where(Step.item_code.in_(notice_items), Step.state.in_([StepState.ACCEPTED, StepState.SUSPENDED]))
        .order_by(Step.accepted_at, Step.id).limit(500)
    ).all()
    return [NoticeRow(reference, offer.enterprise_name, offer.credit_code, offer.amount, bundles[offer.bundle_code],
                      step.accepted_at, step.due_at if step.step_state is StepState.ACCEPTED else None,
                      step.step_state is StepState.SUSPENDED, step.due_provisional)
            for step, reference, offer in rows if offer.bundle_code in bundles]


@bp.route("/notice")
def notice() -> str:
    """Public: every enterprise in 公示, with its amount and the notice's end (no login)."""
    return render_template("benefits/notice.html", rows=notice_rows())


def _application_in_notice(reference: str) -> Application:
    application = db.session.scalar(select(Application).where(Application.reference == reference))
    if application is None or open_notice_step(application, bundle_of_application(application)) is None:
        abort(404)
    return application


@bp.route("/notice/<reference>/objection", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def objection(reference: str) -> str | Response:
    """Anyone may object during the 公示, logged in or not; the notice is paused while 人社 checks it."""
    application = _application_in_notice(reference)
    offer = db.session.scalar(select(BenefitOffer).where(BenefitOffer.application_id == application.id))
    form = ObjectionForm()
    if request.method == "GET" and current_user.is_authenticated:
        form.name.data = form.name.data or current_user.name
    if form.validate_on_submit():
        try:
            lodge_objection(application.id, form.text.data, form.name.data, form.contact.data,
                            current_user if current_user.is_authenticated else None, request.remote_addr)
        except ObjectionError:
            db.session.rollback()
            flash(_("The notice of this enterprise has ended; an objection can no longer be lodged."), "error")
            return redirect(url_for("benefits.notice"))
        commit()
        flash(_("Your objection was received. 人社 checks it and replies to the contact you gave; the notice is "
                "paused meanwhile."), "success")
        return redirect(url_for("benefits.notice"))
    return render_template("benefits/objection.html", form=form, application=application, offer=offer)


# -- the department checks objections -----------------------------------------------------------------

@bp.route("/objections", methods=["GET"])
@login_required
def objections() -> str:
    if not current_user.is_staff:
        abort(403)
    items = open_objections(current_user.department_ids())
    references = dict(db.session.execute(select(Application.id, Application.reference).where(
        Application.id.in_([o.application_id for o in items]))).all()) if items else {}
    offers = {o.application_id: o for o in db.session.scalars(select(BenefitOffer).where(
        BenefitOffer.application_id.in_([o.application_id for o in items])))} if items else {}
    if items:
        # The objectors' names and contacts are personal data seen by staff: the view is recorded.
        record("personal_data:viewed", "notice_objection", None,
               {"objections": [o.id for o in items], "fields": ["name", "contact"]})
        commit()
    return render_template("benefits/objections.html", objections=items, references=references, offers=offers,
                           form=ResolveObjectionForm(formdata=None))


@bp.route("/objections/<int:objection_id>", methods=["POST"])
@login_required
@limiter.limit("60 per minute")
def resolve(objection_id: int) -> Response:
    if not current_user.is_staff:
        abort(403)
    item = db.session.get(NoticeObjection, objection_id)
    if item is None or not current_user.can_work_in(item.step.department_id):
        abort(404)
    form = ResolveObjectionForm()
    if not form.validate_on_submit():
        flash(_("Choose the outcome and give the reason; nothing was changed."), "error")
        return redirect(url_for("benefits.objections"))
    from onestop.benefits.operations import resolve_objection

    try:
        resolve_objection(objection_id, form.outcome.data == "upheld", form.reason.data, current_user)
    except ObjectionError:
        db.session.rollback()
        flash(_("This objection has already been checked."), "error")
        return redirect(url_for("benefits.objections"))
    commit()
    flash(_("Objection upheld: the refund is not paid.") if form.outcome.data == "upheld"
          else _("Objection dismissed."), "success")
    return redirect(url_for("benefits.objections"))


# -- the administrator: data and matching --------------------------------------------------------------

def _problem_text(p: Problem) -> str:
    texts = {
        "encoding": lambda: _("The file is not a UTF-8 CSV file."),
        "header": lambda: _("Line 1: the header must be %(columns)s.", columns=p.value),
        "code": lambda: _("Line %(line)d: %(value)s is not a valid unified social credit code.", line=p.line,
                          value=p.value or "—"),
        "name": lambda: _("Line %(line)d: the enterprise name is missing or longer than 200 characters.", line=p.line),
        "year": lambda: _("Line %(line)d: the year must be a year such as 2025.", line=p.line),
        "count": lambda: _("Line %(line)d: insured staff and layoffs must be whole numbers of 0 or more.", line=p.line),
        "money": lambda: _("Line %(line)d: %(value)s is not an amount in yuan (0 or more, at most 2 decimals).",
                           line=p.line, value=p.value or "—"),
        "duplicate": lambda: _("Line %(line)d: %(value)s appears twice for the same year.", line=p.line, value=p.value),
    }
    return texts[p.kind]()


def _admin_required() -> None:
    if current_user.kind != "admin":
        abort(403)


@bp.route("/admin", methods=["GET", "POST"])
@login_required
def admin() -> str | Response:
    _admin_required()
    form = EnterpriseDataForm()
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.read(5 * 1024 * 1024 + 1)
        if len(data) > 5 * 1024 * 1024:
            form.file.errors = [_("The file is larger than 5 MB.")]
        else:
            try:
                batch = import_enterprise_data(data, upload.filename or "enterprises.csv",
                                               Actor(current_user.id, "admin"))
                commit()
                flash(_("Enterprise data imported: %(n)d records.", n=batch.rows), "success")
                return redirect(url_for("benefits.admin"))
            except EnterpriseDataError as exc:
                db.session.rollback()
                form.file.errors = [_problem_text(p) for p in exc.problems[:50]]
    imports = db.session.scalars(select(EnterpriseDataImport).order_by(EnterpriseDataImport.id.desc()).limit(10)).all()
    counts = dict(db.session.execute(select(EnterpriseRecord.year, db.func.count()).group_by(EnterpriseRecord.year)
                                     .order_by(EnterpriseRecord.year.desc())).all())
    offers = db.session.execute(select(BenefitOffer.bundle_code, BenefitOffer.data_year, BenefitOffer.state,
                                       db.func.count(), db.func.sum(BenefitOffer.amount))
                                .group_by(BenefitOffer.bundle_code, BenefitOffer.data_year, BenefitOffer.state)
                                .order_by(BenefitOffer.data_year.desc())).all()
    return render_template("benefits/admin.html", form=form, match_form=MatchForm(formdata=None), imports=imports,
                           counts=counts, offers=offers, bundles=_offer_bundles(), latest=latest_year())


@bp.route("/admin/match", methods=["POST"])
@login_required
def admin_match() -> Response:
    _admin_required()
    form = MatchForm()
    if not form.validate_on_submit():
        flash(_("The data year must be a year such as 2025."), "error")
        return redirect(url_for("benefits.admin"))
    total = 0
    for version in current_versions():
        if bundle_of(version).intake == "offer":
            report = match(version, Actor(current_user.id, "admin"), form.year.data)
            total += len(report.offered)
    commit()
    flash(_("Matching done: %(n)d new offers.", n=total), "success")
    return redirect(url_for("benefits.admin"))
