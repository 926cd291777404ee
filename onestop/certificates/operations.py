"""Issuing and revoking certificates. Operations flush and audit; the jobs and views commit.

Issuing runs in two jobs after an application ends (统一出件: all results of the application together):

1. `reserve_results` (short transaction, under the application's lock): one row per result due (one
   certificate per approved item with an output, plus the application's 办结通知书), each with the next
   serial of its department. The serial and the row are written together, so a rollback leaves no gap,
   and a second run finds the rows and reserves nothing.
2. `issue_reserved` (no lock held while rendering): render, seal, store the file, and turn each pending row
   into an issued one in the same transaction. A crash before that commit leaves the reservation pending
   (a number with no document, never downloadable or verifiable); the retry issues it under the same
   serial. Two workers racing on one row: the conditional update lets exactly one of them issue it.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flask import current_app
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from onestop.accounts.models import Department, User
from onestop.applications.models import Step
from onestop.applications.operations import lock_application
from onestop.audit.operations import Actor, record
from onestop.catalog.operations import bundle_of, department_map
from onestop.certificates import documents
from onestop.certificates.models import Certificate, CertificateSerial
from onestop.core.clock import local_now, now, to_local
from onestop.extensions import db
from onestop.jobs.notifications import notify_applicant
from onestop.webhooks.outbox import emit
from workflows.catalog.schema import Bundle, Output

log = logging.getLogger(__name__)

ENDED_WITH_RESULTS = ("completed", "partially_completed")


class CertificateError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def output_of(bundle: Bundle, item_code: str) -> Output | None:
    return next((o for o in bundle.outputs if o.item == item_code), None)


def serial_text(year: int, department_code: str, number: int) -> str:
    """Year + department code + sequence: 2026-SAMR-000123."""
    return f"{year}-{department_code.upper()}-{number:06d}"


# -- 1. reservation -------------------------------------------------------------------------------------

def reserve_results(application_id: int) -> list[Certificate]:
    """Reserve a numbered row for every result the ended application is due; return the new ones."""
    application = lock_application(application_id)
    if application is None or application.state not in ENDED_WITH_RESULTS:
        return []
    bundle = bundle_of(application.bundle_version)
    existing = set(db.session.scalars(select(Certificate.output_key).where(
        Certificate.application_id == application.id)))
    departments = {d.id: d for d in department_map().values()}
    lead = next(d for d in departments.values() if d.code == bundle.lead_department)
    due: list[tuple[Department, Step | None, str, str, str]] = []
    for step in application.steps:
        output = output_of(bundle, step.item_code) if step.state == "approved" else None
        if output is not None and output.key not in existing:
            due.append((departments[step.department_id], step, output.key, output.template, output.name.zh))
    if documents.COMPLETION_NOTICE not in existing:
        due.append((lead, None, documents.COMPLETION_NOTICE, documents.COMPLETION_NOTICE, documents.NOTICE_TITLE))
    if not due:
        return []
    today = local_now().date()
    holder = documents.holder_of(bundle, application.answer_map, application.applicant.name,
                                 application.applicant.enterprise)
    created = []
    # Serial counters are taken in department order, so two reservations never wait for each other.
    # Within a department, results in item order and the notice last.
    for department, step, key, template, title in sorted(
            due, key=lambda d: (d[0].id, d[1] is None, d[1].id if d[1] is not None else 0)):
        number = _next_number(department.id, today.year)
        holder_code = holder.code
        if template == "business_licence" and holder_code is None:
            # 企业设立登记 assigns the new company its unified social credit code.
            holder_code = documents.new_credit_code(current_app.config.get("ONESTOP_REGION_CODE", "410100"),
                                                    today.year * 100000 + number)
        years = documents.VALIDITY_YEARS.get(template)
        certificate = Certificate(
            token=secrets.token_urlsafe(12), kind="notice" if step is None else "certificate",
            application_id=application.id, step_id=step.id if step else None, output_key=key,
            template=template, title=title, department_id=department.id, year=today.year, number=number,
            serial=serial_text(today.year, department.code, number), holder_name=holder.name,
            holder_code=holder_code, state="pending", reserved_at=now(), valid_from=today,
            valid_until=documents.add_years(today, years) if years else None,
        )
        db.session.add(certificate)
        created.append(certificate)
    db.session.flush()
    for certificate in created:
        record("certificate:reserved", "certificate", certificate.id,
               {"serial": certificate.serial, "application": application.reference, "output": certificate.output_key},
               actor=Actor.system(), department_id=certificate.department_id)
    return created


def _next_number(department_id: int, year: int) -> int:
    """The department's next serial for the year. The counter row stays locked until commit, so numbers
    are given in commit order and a rolled-back transaction gives its number back."""
    bump = (update(CertificateSerial)
            .where(CertificateSerial.department_id == department_id, CertificateSerial.year == year)
            .values(last_number=CertificateSerial.last_number + 1)
            .returning(CertificateSerial.last_number))
    number = db.session.execute(bump).scalar_one_or_none()
    if number is None:
        # The year's first number: create the row; a concurrent creator wins harmlessly.
        if db.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        db.session.execute(insert(CertificateSerial).values(department_id=department_id, year=year, last_number=0)
                           .on_conflict_do_nothing())
        number = db.session.execute(bump).scalar_one()
    return int(number)


# -- 2. issuing -------------------------------------------------------------------------------------------

_WRITTEN = "onestop_certificate_files"


@event.listens_for(Session, "after_rollback")
def _remove_uncommitted_files(session: Session) -> None:
    # A transaction that stored files and then rolled back takes its files with it.
    for path in session.info.pop(_WRITTEN, []):
        Path(path).unlink(missing_ok=True)


@event.listens_for(Session, "after_commit")
def _keep_committed_files(session: Session) -> None:
    session.info.pop(_WRITTEN, None)


def storage_dir() -> Path:
    return Path(current_app.config["ONESTOP_CERTIFICATE_DIR"])


def file_path(certificate: Certificate) -> Path:
    assert certificate.stored_name is not None
    return storage_dir() / certificate.stored_name


def _store(data: bytes, serial: str) -> str:
    """Write the file fully (fsync) under a name no other attempt uses, then return the name."""
    directory = storage_dir()
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{serial}-{secrets.token_hex(6)}.pdf"
    temporary = directory / f".{name}.part"
    with open(temporary, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, directory / name)
    db.session().info.setdefault(_WRITTEN, []).append(str(directory / name))
    return name


@dataclass(frozen=True)
class IssueReport:
    issued: list[str]
    failed: dict[str, str]


def issue_reserved(application_id: int) -> IssueReport:
    """Render, seal and store every pending result of the application (certificates, then the notice)."""
    from onestop.certificates.pki import PkiError
    from onestop.certificates.rendering import RenderError
    from onestop.certificates.service import sign_document

    stmt = (select(Certificate).where(Certificate.application_id == application_id,
                                      Certificate.state == "pending", Certificate.revoked_at.is_(None))
            .order_by(Certificate.kind, Certificate.id))
    if db.engine.dialect.name == "postgresql":
        # Rows another worker is sealing right now are skipped: it will issue them.
        stmt = stmt.with_for_update(skip_locked=True)
    issued: list[str] = []
    failed: dict[str, str] = {}
    for certificate in db.session.scalars(stmt).all():
        try:
            sealed = sign_document(certificate)
        except (RenderError, PkiError) as exc:
            # Deterministic (a character the font lacks, a department without a seal certificate):
            # retrying cannot help. The reservation stays pending with the reason, shown on the
            # department's page; `flask onestop certificates issue` issues it once the cause is fixed.
            if certificate.last_error == str(exc):
                failed[certificate.serial] = str(exc)
                continue  # recorded already
            certificate.last_error = str(exc)
            failed[certificate.serial] = str(exc)
            record("certificate:render_failed", "certificate", certificate.id,
                   {"serial": certificate.serial, "error": str(exc)}, actor=Actor.system(),
                   department_id=certificate.department_id)
            continue
        name = _store(sealed.pdf, certificate.serial)
        result = db.session.execute(
            update(Certificate).where(Certificate.id == certificate.id, Certificate.state == "pending")
            .values(state="issued", issued_at=sealed.signed_at, sha256=sealed.sha256, size=len(sealed.pdf),
                    stored_name=name, key_id=sealed.key_id, signature_level=sealed.level, last_error=None)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # another worker issued it first
            continue
        issued.append(certificate.serial)
        record("certificate:issued", "certificate", certificate.id,
               {"serial": certificate.serial, "sha256": sealed.sha256, "key_id": sealed.key_id,
                "level": sealed.level, "output": certificate.output_key},
               actor=Actor.system(), department_id=certificate.department_id)
        emit("certificate.issued", {"serial": certificate.serial, "reference": certificate.application.reference,
                                    "title": certificate.title, "kind": certificate.kind,
                                    "department": certificate.department.code, "issued_at": sealed.signed_at,
                                    "sha256": sealed.sha256, "verify_url": _verify_url(certificate.token)})
    db.session.flush()
    db.session.expire_all()  # the issued rows were updated in SQL, around the identity map
    if issued:  # the message is written in the same transaction as the certificates
        notify_applicant(application_id, "certificates_issued", ",".join(sorted(issued)))
    return IssueReport(issued, failed)


# -- revocation ---------------------------------------------------------------------------------------------

def revoke(certificate: Certificate, reason: str, head: User) -> Certificate:
    """The department head withdraws a result, with the reason; the holder is told."""
    if not certificate.can_be_revoked_by(head):
        raise CertificateError("forbidden")
    if not reason.strip():
        raise CertificateError("reason_required")
    return _revoke(certificate, reason.strip(), Actor(head.id, "head", certificate.department_id))


def revoke_for_step(step: Step, reason: str, actor: Actor) -> Certificate | None:
    """A result revoked by its item's outcome (the post-approval check found the commitment false)."""
    certificate = db.session.scalar(select(Certificate).where(Certificate.step_id == step.id))
    if certificate is None or certificate.is_revoked:
        return None
    return _revoke(certificate, reason, actor)


def _revoke(certificate: Certificate, reason: str, actor: Actor) -> Certificate:
    if certificate.is_revoked:
        raise CertificateError("already_revoked")
    certificate.revoked_at = now()
    certificate.revoked_by_id = actor.user_id
    certificate.revoke_reason = reason
    record("certificate:revoked", "certificate", certificate.id,
           {"serial": certificate.serial, "reason": reason}, actor=actor, department_id=certificate.department_id)
    notify_applicant(certificate.application_id, "certificate_revoked", certificate.serial)
    emit("certificate.revoked", {"serial": certificate.serial, "reference": certificate.application.reference,
                                 "department": certificate.department.code, "revoked_at": certificate.revoked_at,
                                 "reason": reason})
    return certificate


def _verify_url(token: str) -> str:
    from onestop.certificates.service import verify_url

    return verify_url(token)


def local_issue_date(certificate: Certificate) -> date:
    moment = certificate.issued_at or certificate.reserved_at
    local = to_local(moment)
    assert local is not None
    return local.date()
