"""Certificate pages: public verification (QR and upload), downloads, the department's list and revocation."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from forms.certificates import RevokeForm, VerifyUploadForm
from onestop.applications.models import Application
from onestop.audit.operations import record
from onestop.certificates.models import Certificate
from onestop.certificates.operations import CertificateError, file_path, revoke
from onestop.certificates.verification import verify_upload
from onestop.core.jobs import commit
from onestop.extensions import db, limiter

bp = Blueprint("certificates", __name__)

MAX_UPLOAD = 10 * 1024 * 1024


def mask_holder(name: str) -> str:
    """Enough to recognise the holder, not enough to harvest names: 郑州豫味****有限公司, 张*."""
    if len(name) <= 3:
        return name[0] + "*" * (len(name) - 1)
    keep_head, keep_tail = (4, 4) if len(name) > 10 else (1, 2) if len(name) <= 6 else (2, 3)
    return name[:keep_head] + "*" * (len(name) - keep_head - keep_tail) + name[-keep_tail:]


def mask_code(code: str | None) -> str:
    return f"{code[:4]}{'*' * (len(code) - 8)}{code[-4:]}" if code and len(code) > 8 else ""


def public_view(certificate: Certificate | None) -> dict[str, Any] | None:
    """What the public page shows of a certificate: plain values, holder masked."""
    if certificate is None:
        return None
    return {
        "title": certificate.title, "serial": certificate.serial, "issuer": certificate.department.name_zh,
        "issuer_en": certificate.department.name_en, "holder": mask_holder(certificate.holder_name),
        "holder_code": mask_code(certificate.holder_code), "issued_at": certificate.issued_at,
        "valid_from": certificate.valid_from, "valid_until": certificate.valid_until,
        "issued": certificate.is_issued, "revoked": certificate.is_revoked,
        "revoked_at": certificate.revoked_at, "revoke_reason": certificate.revoke_reason,
        "item": certificate.step.item_code if certificate.step else None,
    }


@bp.route("/verify/<token>")
@limiter.limit("60 per minute")
def verify_token(token: str) -> str:
    """The page a certificate's QR code opens: valid, revoked or unknown. No login."""
    certificate = db.session.scalar(select(Certificate).where(Certificate.token == token[:32]))
    if certificate is not None and not certificate.is_issued:
        certificate = None  # a reserved number is not a certificate yet
    status = "unknown" if certificate is None else "revoked" if certificate.is_revoked else "valid"
    return render_template("certificates/verify.html", status=status, cert=public_view(certificate),
                           form=VerifyUploadForm(formdata=None)), (200 if certificate else 404)


@bp.route("/verify", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def verify_file() -> str | tuple[str, int]:
    """Anyone uploads a PDF; onestop says whether it is ours, intact and standing, and if not, why."""
    form = VerifyUploadForm()
    verdict = None
    if form.validate_on_submit():
        data = form.document.data.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            form.document.errors = [_("The file is larger than the limit.")]
        else:
            verdict = verify_upload(data)
    return render_template("certificates/verify_file.html", form=form, verdict=verdict,
                           cert=public_view(verdict.certificate) if verdict else None)


def _downloadable(certificate_id: int) -> Certificate:
    certificate = db.session.get(Certificate, certificate_id)
    # Someone else's certificate is "not found": its existence is not confirmed either.
    if certificate is None or not certificate.can_be_downloaded_by(current_user):
        abort(404)
    return certificate


def _record_staff_download(certificates: list[Certificate]) -> None:
    if not current_user.is_applicant:
        for c in certificates:
            record("certificate:downloaded", "certificate", c.id, {"serial": c.serial},
                   department_id=c.department_id)
        commit()


@bp.route("/certificates/<int:certificate_id>.pdf")
@login_required
def download(certificate_id: int) -> Response:
    certificate = _downloadable(certificate_id)
    _record_staff_download([certificate])
    return send_file(file_path(certificate), mimetype="application/pdf", as_attachment=True,
                     download_name=f"{certificate.title}-{certificate.serial}.pdf", max_age=0)


@bp.route("/my/applications/<reference>/results.zip")
@login_required
def download_all(reference: str) -> Response:
    """统一出件: every issued result of the application in one file (each PDF stays sealed as issued)."""
    application = db.session.scalar(select(Application).where(Application.reference == reference))
    if application is None or not application.is_owned_by(current_user):
        abort(404)
    certificates = list(db.session.scalars(select(Certificate).where(
        Certificate.application_id == application.id, Certificate.state == "issued")
        .order_by(Certificate.kind, Certificate.id)))
    if not certificates:
        abort(404)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for c in certificates:
            prefix = "（已撤销）" if c.is_revoked else ""
            archive.write(file_path(c), f"{prefix}{c.title}-{c.serial}.pdf")
    buffer.seek(0)
    return send_file(buffer, mimetype="application/zip", as_attachment=True,
                     download_name=f"{application.reference}-办理结果.zip", max_age=0)


# -- the department's certificates ---------------------------------------------------------------------

def _staff_or_auditor() -> set[int] | None:
    """The departments whose certificates the user may list; None means all (auditors)."""
    if current_user.kind == "auditor":
        return None
    if not current_user.is_staff:
        abort(403)
    return current_user.department_ids()


@bp.route("/desk/certificates")
@login_required
def department_list() -> str:
    departments = _staff_or_auditor()
    query = (select(Certificate).options(joinedload(Certificate.department), joinedload(Certificate.application))
             .order_by(Certificate.id.desc()).limit(200))
    if departments is not None:
        query = query.where(Certificate.department_id.in_(departments))
    wanted = request.args.get("q", "").strip()
    if wanted:
        query = query.where(Certificate.serial == wanted.upper())
    certificates = db.session.scalars(query).all()
    return render_template("certificates/department.html", certificates=certificates, q=wanted)


@bp.route("/desk/certificates/<int:certificate_id>/revoke", methods=["POST"])
@login_required
def revoke_view(certificate_id: int) -> str | Response:
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None or not (current_user.is_staff and current_user.can_work_in(certificate.department_id)):
        abort(404)
    form = RevokeForm()
    if not form.validate_on_submit():
        flash(_("Give the reason for the revocation."), "error")
        return redirect(url_for("certificates.department_list"))
    try:
        revoke(certificate, form.reason.data, current_user)
        commit()
    except CertificateError as exc:
        db.session.rollback()
        if exc.code == "forbidden":
            abort(403)
        flash(_("This certificate was revoked already."), "error")
    else:
        flash(_("Certificate %(serial)s is revoked; the holder and the verification page show it now.",
                serial=certificate.serial), "success")
    return redirect(url_for("certificates.department_list"))


def application_results(application: Application) -> dict[str, Any]:
    """The applicant's results for templates/certificates/_results.html: plain values only."""
    rows = db.session.scalars(select(Certificate).where(Certificate.application_id == application.id)
                              .order_by(Certificate.kind, Certificate.id)).all()
    return {
        "items": [{"id": c.id, "title": c.title, "serial": c.serial, "issued": c.is_issued,
                   "issued_at": c.issued_at, "revoked": c.is_revoked, "revoked_at": c.revoked_at,
                   "revoke_reason": c.revoke_reason, "valid_until": c.valid_until,
                   "notice": c.kind == "notice", "token": c.token} for c in rows],
        "any_issued": any(c.is_issued for c in rows),
        "pending": any(not c.is_issued for c in rows),
        "due": application.state in ("completed", "partially_completed"),
        "reference": application.reference,
    }
