"""Posting a physical result and recording its return."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import StringField, TextAreaField
from wtforms.validators import Length

from forms.base import BaseForm, Required


class PostForm(BaseForm):
    carrier = StringField(_l("Carrier"), default="中国邮政EMS", validators=[Required(), Length(max=50)])
    tracking_number = StringField(_l("Tracking number"), validators=[Required(), Length(max=50)])


class ReturnForm(BaseForm):
    note = TextAreaField(_l("Why it came back"), validators=[Required(), Length(max=500)])
