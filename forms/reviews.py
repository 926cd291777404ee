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
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from forms.base import BaseForm, Required

ACTIONS = ("accept", "request_supplement", "suspend", "resume", "approve", "reject")


class DecisionForm(BaseForm):
    action = HiddenField(validators=[AnyOf(ACTIONS, message=_l("Choose a decision."))])
    version = HiddenField()
    confirmed = HiddenField()  # the second press, on the confirmation page
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


class ClaimForm(BaseForm):
    """Claim or release: nothing but the CSRF token."""


class ReassignForm(BaseForm):
    to_user = SelectField(_l("Give the step to"), choices=[], validate_choice=True)
    reassign_reason = StringField(_l("Why"), validators=[Required(), Length(max=500)])


class PostCheckForm(BaseForm):
    outcome = HiddenField(validators=[AnyOf(("confirmed", "revoked"))])
    note = TextAreaField(_l("What the check found"), validators=[Required(), Length(max=2000)])


class SampleForm(BaseForm):
    period_start = DateField(_l("Closed from"), validators=[Required()])
    period_end = DateField(_l("Closed until"), validators=[Required()])
    rate_percent = IntegerField(_l("Share sampled, in percent"), default=5, validators=[Required(), NumberRange(min=5, max=100)])


class FindingForm(BaseForm):
    verdict = SelectField(_l("Verdict"), choices=[
        SelectChoice("sound", _l("Sound")), SelectChoice("minor", _l("Minor shortcomings")),
        SelectChoice("serious", _l("Serious shortcomings"))])
    finding = TextAreaField(_l("Finding"), validators=[Required(), Length(max=2000)])


class BulkAcceptForm(BaseForm):
    confirmed = HiddenField()
