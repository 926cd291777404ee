"""Checking and storing uploaded materials.

The type is read from the content, never from the name; a PDF must parse and have pages; files are
stored outside the web root under a random name, with their SHA-256.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from pathlib import Path

import filetype
from flask import current_app
from flask_babel import gettext as _
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from werkzeug.datastructures import FileStorage

from onestop.accounts.models import User
from onestop.applications.models import Material
from onestop.audit.operations import record
from onestop.core.clock import now
from onestop.extensions import db

FORMATS = {"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png"}


class UploadError(Exception):
    """Why a file was refused: "too_large", "empty", "wrong_type", "broken_pdf"."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def check_and_store(upload: FileStorage, owner: User, material_key: str, allowed: list[str]) -> Material:
    limit = current_app.config["ONESTOP_UPLOAD_MAX_BYTES"]
    content = upload.stream.read(limit + 1)
    if len(content) > limit:
        raise UploadError("too_large")
    if not content:
        raise UploadError("empty")
    kind = filetype.guess(content)
    content_type = kind.mime if kind else None
    if content_type not in {FORMATS[f] for f in allowed}:
        raise UploadError("wrong_type")
    pages = None
    if content_type == "application/pdf":
        try:
            reader = PdfReader(io.BytesIO(content), strict=False)
            pages = len(reader.pages)
        except (PyPdfError, ValueError, KeyError, OSError):
            raise UploadError("broken_pdf") from None
        if pages == 0:
            raise UploadError("broken_pdf")
    stored_name = secrets.token_hex(16)
    path = Path(current_app.config["ONESTOP_UPLOAD_DIR"]) / stored_name
    path.write_bytes(content)
    material = Material(
        owner_id=owner.id, material_key=material_key, filename=(upload.filename or "")[:255],
        stored_name=stored_name, content_type=content_type, size=len(content),
        sha256=hashlib.sha256(content).hexdigest(), pages=pages, uploaded_at=now(),
    )
    db.session.add(material)
    db.session.flush()
    record("material:uploaded", "material", material.id,
           {"key": material_key, "sha256": material.sha256, "size": material.size, "pages": pages})
    return material


def material_path(material: Material) -> Path:
    return Path(current_app.config["ONESTOP_UPLOAD_DIR"]) / material.stored_name


_FORMAT_NAMES = {"pdf": "PDF", "jpeg": "JPEG", "png": "PNG"}


def upload_error_text(error: UploadError, formats: list[str] | tuple[str, ...] = ("pdf", "jpeg", "png")) -> str:
    """Why a file was refused, in the reader's language, with what would be accepted."""
    if error.code == "too_large":
        limit = current_app.config["ONESTOP_UPLOAD_MAX_BYTES"] // (1024 * 1024)
        return _("The file is larger than %(mb)d MB. Please make it smaller (e.g. scan at a lower resolution).", mb=limit)
    if error.code == "empty":
        return _("The file is empty.")
    if error.code == "broken_pdf":
        return _("This PDF cannot be opened. Please save it again and upload it.")
    from onestop.core.i18n import current_lang

    names = ("、" if current_lang() == "zh" else ", ").join(_FORMAT_NAMES[f] for f in formats)
    return _("Only %(formats)s files are accepted; this file's content is none of them, whatever its name says.",
             formats=names)
