"""The reviewer's decision form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, Length, Optional

from forms.base import BaseForm

ACTIONS = ("accept", "approve", "reject")


class DecisionForm(BaseForm):
    action = SelectField(
        _l("Decision"),
        choices=[SelectChoice("accept", _l("Accept (受理)")), SelectChoice("approve", _l("Approve")),
                 SelectChoice("reject", _l("Reject"))],
        validators=[AnyOf(ACTIONS)],
    )
    version = HiddenField()
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)])
    legal_basis = StringField(_l("Legal basis"), validators=[Optional(), Length(max=500)])
