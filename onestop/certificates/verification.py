"""Checking a certificate: by its QR token, or by an uploaded file (signature, hash and record).

The answer to an upload is one verdict with the precise reason:

* valid          - the file is exactly the one we issued, and the certificate stands
* revoked        - the file is ours, but the department withdrew the certificate (when, why)
* altered        - the file was changed after it was sealed (signature broken, or content added after it)
* unknown_signer - the seal was not made by any of our departments' certificates
* not_issued     - no seal at all, or a sound seal of ours on a file we have no record of
* unreadable     - not a PDF we can read
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from onestop.certificates.models import Certificate
from onestop.certificates.pki import PkiPaths
from onestop.extensions import db

log = logging.getLogger(__name__)

SERIAL_IN_REASON = re.compile(r"(\d{4}-[A-Z0-9]+-\d{6})\s*$")


@dataclass
class SignatureCheck:
    present: bool
    intact: bool = False  # the signed bytes hash to what the signature says
    whole_file: bool = False  # nothing was added after the signature
    trusted: bool = False  # the signer's certificate chains to our root
    signer: str = ""
    key_id: str = ""
    signed_at: datetime | None = None
    reason: str = ""
    problem: str = ""


@dataclass
class Verdict:
    status: str
    certificate: Certificate | None = None
    signature: SignatureCheck | None = None
    details: list[str] = field(default_factory=list)


@lru_cache(maxsize=4)
def _validation_material(pki_dir: str, stamp: float) -> tuple[list[Any], list[Any]]:
    from asn1crypto import crl as asn1_crl
    from asn1crypto import pem
    from pyhanko.keys import load_cert_from_pemder

    paths = PkiPaths(Path(pki_dir))
    roots = [load_cert_from_pemder(str(paths.ca_cert))] if paths.ca_cert.exists() else []
    crls = []
    if paths.crl.exists():
        data = paths.crl.read_bytes()
        if pem.detect(data):
            _, _, data = pem.unarmor(data)
        crls.append(asn1_crl.CertificateList.load(data))
    return roots, crls


def validation_context() -> Any:
    from pyhanko_certvalidator import ValidationContext

    pki = PkiPaths(Path(current_app.config["ONESTOP_PKI_DIR"]))
    stamp = max((p.stat().st_mtime for p in (pki.ca_cert, pki.crl) if p.exists()), default=0.0)
    roots, crls = _validation_material(str(pki.root), stamp)
    # Offline: our root and CRL are given; nothing is fetched from the network.
    return ValidationContext(trust_roots=roots, crls=crls, allow_fetching=False, revocation_mode="soft-fail")


def check_signature(data: bytes) -> SignatureCheck:
    """Validate the (last) embedded signature with pyHanko against our trust root, offline."""
    from pyhanko.pdf_utils.misc import PdfReadError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.pdf_embedded import async_validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    from onestop.certificates.signing import run_async

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = reader.embedded_signatures
    except (PdfReadError, ValueError, KeyError, IndexError, TypeError) as exc:
        return SignatureCheck(present=False, problem=f"unreadable: {exc}")
    if not signatures:
        return SignatureCheck(present=False)
    embedded = signatures[-1]
    check = SignatureCheck(present=True)
    try:
        check.reason = str(embedded.sig_object.get("/Reason", ""))
    except Exception:  # noqa: BLE001 - a damaged dictionary just has no usable reason
        check.reason = ""
    try:
        context = validation_context()
        status = run_async(lambda: async_validate_pdf_signature(embedded, context))
    except Exception as exc:  # noqa: BLE001 - a damaged signature is reported, not raised
        check.problem = f"{type(exc).__name__}: {exc}"
        return check
    check.intact = bool(status.intact and status.valid)
    check.whole_file = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    check.trusted = bool(status.trusted)
    cert = status.signing_cert
    check.signer = cert.subject.human_friendly if cert is not None else ""
    check.key_id = cert.sha256.hex() if cert is not None else ""
    check.signed_at = status.signer_reported_dt
    return check


def verify_upload(data: bytes) -> Verdict:
    if not data.startswith(b"%PDF-"):
        return Verdict("unreadable", details=["not a PDF file"])
    digest = hashlib.sha256(data).hexdigest()
    record = db.session.scalar(select(Certificate).where(Certificate.sha256 == digest,
                                                          Certificate.state == "issued"))
    signature = check_signature(data)
    if record is not None:
        # Byte for byte the file we issued: its seal is sound by construction (checked anyway).
        status = "revoked" if record.is_revoked else "valid"
        return Verdict(status, record, signature)
    if signature.problem.startswith("unreadable"):
        return Verdict("unreadable", signature=signature, details=[signature.problem])
    claimed = _claimed_record(signature.reason)
    if not signature.present:
        return Verdict("not_issued", claimed, signature)
    if not signature.trusted and signature.intact:
        return Verdict("unknown_signer", claimed, signature)
    if not signature.intact or not signature.whole_file:
        return Verdict("altered", claimed, signature)
    # A sound seal of one of our departments over a file we never recorded (another installation, or
    # a key used outside onestop): not issued here.
    return Verdict("not_issued", claimed, signature)


def _claimed_record(reason: str) -> Certificate | None:
    """The record a sealed file names in its signature's reason (which carries the serial)."""
    match = SERIAL_IN_REASON.search(reason or "")
    if match is None:
        return None
    return db.session.scalar(select(Certificate).where(Certificate.serial == match.group(1)))
