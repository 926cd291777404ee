"""Sealing PDFs: a small interface, and its pyHanko implementation over the department key files.

`SealSigner` is all the issuing code knows. The file-based implementation signs PAdES B-B with
pyHanko, or B-T when a time-stamp authority is configured (ONESTOP_TSA_URL). A certified signing
service (for example an SM2 e-seal service under GB/T 38540, which pyHanko cannot produce) plugs in by
implementing `SealSigner` and returning it from `seal_signer()`.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from flask import current_app

from onestop.certificates.pki import PkiError, PkiPaths, fingerprint

T = TypeVar("T")


def run_async(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run one of pyHanko's coroutines to completion from synchronous code. pyHanko's own synchronous
    wrappers fail when the calling thread already runs an event loop, so that case uses a helper thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


# The seal's box on the page, in PDF points from the bottom-left corner; the print templates draw the
# seal exactly here (see templates/certificates/_page.html), so the signature widget lies on it.
SEAL_BOX = (381, 96, 501, 216)
SEAL_FIELD = "DepartmentSeal"


@dataclass(frozen=True)
class SealRequest:
    reason: str  # shown by PDF readers; carries the serial so a damaged file still names its record
    location: str
    contact: str


class SealSigner(Protocol):
    key_id: str  # SHA-256 fingerprint of the signing certificate
    level: str  # PAdES-B-B or PAdES-B-T

    def sign(self, pdf: bytes, request: SealRequest) -> bytes: ...


class PyHankoSealSigner:
    def __init__(self, key_path: Path, cert_path: Path, chain: list[Path], tsa_url: str | None) -> None:
        from pyhanko.sign import signers

        self.key_id = fingerprint(cert_path.read_bytes())
        self.level = "PAdES-B-T" if tsa_url else "PAdES-B-B"
        self._signer = signers.SimpleSigner.load(str(key_path), str(cert_path),
                                                 ca_chain_files=tuple(str(p) for p in chain))
        if self._signer is None:
            raise PkiError(f"cannot load the signing key {key_path} with {cert_path}")
        self._timestamper: Any = None
        if tsa_url:
            from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper

            self._timestamper = RequestsHTTPTimeStamper(tsa_url, timeout=10)

    def sign(self, pdf: bytes, request: SealRequest) -> bytes:
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter
        from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner
        from pyhanko.stamp import TextStampStyle

        meta = PdfSignatureMetadata(
            field_name=SEAL_FIELD, md_algorithm="sha256", subfilter=SigSeedSubFilter.PADES,
            reason=request.reason, location=request.location, contact_info=request.contact,
            use_pades_lta=False,
        )
        # The widget lies on the printed seal: clicking the seal in a reader opens the signature. Its
        # own appearance is empty (the seal is part of the signed page), so nothing is drawn twice.
        signer = PdfSigner(meta, signer=self._signer, timestamper=self._timestamper,
                           new_field_spec=SigFieldSpec(SEAL_FIELD, on_page=0, box=SEAL_BOX),
                           stamp_style=TextStampStyle(stamp_text=" ", border_width=0))
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        output = run_async(lambda: signer.async_sign_pdf(writer))
        return bytes(output.getvalue())


_cache: dict[tuple[str, str, str | None], tuple[float, PyHankoSealSigner]] = {}
_cache_lock = threading.Lock()


def seal_signer(department_code: str) -> SealSigner:
    """The signer of a department's seal. Loaded once per process (and again if the files change)."""
    paths = PkiPaths(Path(current_app.config["ONESTOP_PKI_DIR"]))
    key, cert = paths.department_key(department_code), paths.department_cert(department_code)
    if not (key.exists() and cert.exists()):
        raise PkiError(f"no seal certificate for department {department_code!r} in {paths.root} "
                       "(development: run `flask onestop pki init`)")
    tsa = current_app.config.get("ONESTOP_TSA_URL")
    stamp = max(key.stat().st_mtime, cert.stat().st_mtime)
    cache_key = (str(key), str(cert), tsa)
    with _cache_lock:
        cached = _cache.get(cache_key)
        if cached is None or cached[0] != stamp:
            chain = [paths.ca_cert] if paths.ca_cert.exists() else []
            cached = _cache[cache_key] = (stamp, PyHankoSealSigner(key, cert, chain, tsa))
    return cached[1]
