"""The reviewer's decision form and the head's extension decision.

The decision form carries every action the step page offers; the pressed button says which one. The
supplement problems are per field or material of the item, so their inputs are named by key and read by
the view (`problem_<kind>_<key>` checkbox, `message_<kind>_<key>` text).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    HiddenField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from forms.base import BaseForm, Required

ACTIONS = ("accept", "request_supplement", "suspend", "resume", "approve", "reject")


class DecisionForm(BaseForm):
    action = HiddenField(validators=[AnyOf(ACTIONS, message=_l("Choose a decision."))])
    version = HiddenField()
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)])
    legal_basis = StringField(_l("Legal basis"), validators=[Optional(), Length(max=500)])
    on_commitment = BooleanField(_l("Approve on the applicant's written commitment (告知承诺制)"))
    outstanding = SelectMultipleField(_l("Materials that may follow later (容缺)"), choices=[],
                                      option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False),
                                      validate_choice=True)
    promised_by = DateField(_l("Promised by"), validators=[Optional()])


class ExtensionRequestForm(BaseForm):
    amount = DecimalField(_l("Extension (in the limit's unit)"), places=None,
                          validators=[Required(), NumberRange(min=0.5, max=365)])
    reason = TextAreaField(_l("Reason"), validators=[Required(), Length(max=2000)])


class ExtensionDecisionForm(BaseForm):
    decision = HiddenField(validators=[AnyOf(("approve", "refuse"))])
