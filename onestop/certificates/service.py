"""From a reserved certificate row to sealed PDF bytes: plain values -> print template -> PDF -> seal."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from jinja2 import TemplateNotFound
from sqlalchemy import select

from onestop.catalog.operations import bundle_of, department_map
from onestop.certificates import documents, rendering
from onestop.certificates.models import Certificate
from onestop.certificates.signing import SealRequest, seal_signer
from onestop.core.clock import local_now, now, to_local

OUTCOME_ZH = {"approved": "准予", "rejected": "不予批准", "terminated": "终止办理"}
APPLICATION_OUTCOME_ZH = {"completed": "全部办结", "partially_completed": "部分办结"}


@dataclass(frozen=True)
class Sealed:
    pdf: bytes
    sha256: str
    key_id: str
    level: str
    signed_at: datetime


def verify_url(token: str) -> str:
    return f"{current_app.config['ONESTOP_PUBLIC_URL']}/verify/{token}"


def print_values(certificate: Certificate) -> documents.PrintValues:
    application = certificate.application
    bundle = bundle_of(application.bundle_version)
    departments = {d.id: d for d in department_map().values()}
    issuer = departments[certificate.department_id].name_zh
    url = verify_url(certificate.token)
    values = documents.PrintValues(
        template=certificate.template, title=certificate.title, serial=certificate.serial,
        holder_name=certificate.holder_name, holder_code=certificate.holder_code,
        holder_code_label="统一社会信用代码", issuer=issuer,
        issue_date=documents.chinese_date(local_now().date()),
        valid_from=documents.chinese_date(certificate.valid_from),
        valid_until=documents.chinese_date(certificate.valid_until) if certificate.valid_until else "长期",
        verify_url=url, qr_png=documents.qr_png(url), reference=application.reference,
        bundle_name=bundle.name.zh, answers=documents.display_answers(bundle, application.answer_map),
        applicant_name=application.applicant.name, seal_name=issuer,
        seal_chars=documents.seal_characters(issuer, radius=44.5, centre=60),
    )
    if certificate.step is not None:
        item = bundle.item(certificate.step.item_code)
        values.item_name = item.name.zh
        values.legal_basis = item.legal_basis
    else:
        values.outcome = APPLICATION_OUTCOME_ZH.get(application.state, application.state)
        submitted, ended = to_local(application.submitted_at), to_local(application.ended_at)
        values.submitted = documents.chinese_date(submitted.date()) if submitted else ""
        values.ended = documents.chinese_date(ended.date()) if ended else ""
        results = {c.step_id: c for c in current_results(application.id) if c.step_id is not None}
        for step in application.steps:
            result = results.get(step.id)
            decided = to_local(step.decided_at)
            values.items.append({
                "name": bundle.item(step.item_code).name.zh,
                "department": departments[step.department_id].name_zh,
                "outcome": OUTCOME_ZH.get(step.state, step.state),
                "decided": documents.chinese_date(decided.date()) if decided else "",
                "result": f"{result.title}（{result.serial}）" if result else "",
                "reason": (step.reason or "") if step.state in ("rejected", "terminated") and
                          not (step.reason or "").startswith("prerequisite:") else
                          ("所依赖的前置事项未获准予" if (step.reason or "").startswith("prerequisite:") else ""),
            })
    return values


def current_results(application_id: int) -> list[Certificate]:
    from onestop.extensions import db

    return list(db.session.scalars(select(Certificate).where(Certificate.application_id == application_id)
                                   .order_by(Certificate.kind, Certificate.id)))


def render_document(certificate: Certificate) -> bytes:
    """The unsigned PDF of a certificate: glyph coverage checked, then the print template rendered."""
    values = print_values(certificate)
    rendering.check_glyphs(values.texts())
    try:
        template = current_app.jinja_env.get_template(f"certificates/print/{certificate.template}.html")
    except TemplateNotFound:
        raise rendering.RenderError(f"there is no print template for {certificate.template!r}") from None
    # Rendered straight from the environment: no request context processors, plain values only.
    html = template.render(doc=values)
    return rendering.render_pdf(html, title=certificate.title)


def sign_document(certificate: Certificate) -> Sealed:
    signer = seal_signer(certificate.department.code)  # first: no key, no point rendering
    pdf = render_document(certificate)
    signed_at = now()
    sealed = signer.sign(pdf, SealRequest(
        reason=f"{certificate.title} {certificate.serial}",
        location=certificate.department.name_zh,
        contact=verify_url(certificate.token),
    ))
    return Sealed(sealed, hashlib.sha256(sealed).hexdigest(), signer.key_id, signer.level, signed_at)
