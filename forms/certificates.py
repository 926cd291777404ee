"""Forms of the certificate pages: the public upload check, and the head's revocation."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import TextAreaField
from wtforms.validators import Length

from forms.base import BaseForm, Required


class VerifyUploadForm(BaseForm):
    document = FileField(_l("The certificate (PDF)"), validators=[FileRequired(_l("Choose the PDF file to check."))])


class RevokeForm(BaseForm):
    reason = TextAreaField(_l("Reason for revocation"), validators=[Required(), Length(max=1000)])
