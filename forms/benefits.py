"""Forms of 免申即享: the administrator's data import and matching, the enterprise's answer to an offer,
an objection to a public notice (anyone), and the department's check of an objection."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import IntegerField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, Length, NumberRange, Optional

from forms.base import BaseForm, Required


class EnterpriseDataForm(BaseForm):
    file = FileField(_l("Enterprise data (CSV)"), validators=[Required()],
                     description=_l("UTF-8 CSV with the header credit_code,name,year,insured_staff,layoffs,"
                                    "premiums_paid,arrears (money in yuan). The file replaces the records of "
                                    "the years it contains."))


class MatchForm(BaseForm):
    year = IntegerField(_l("Data year"), validators=[Optional(), NumberRange(2000, 2100)],
                        description=_l("Empty: the latest year imported."))


class ConfirmOfferForm(BaseForm):
    """One click: nothing to fill in; the CSRF token is the whole form."""


class DeclineOfferForm(BaseForm):
    reason = TextAreaField(_l("Reason (optional)"), validators=[Optional(), Length(max=1000)])


class ObjectionForm(BaseForm):
    name = StringField(_l("Your name or organisation"), validators=[Required(), Length(max=50)])
    contact = StringField(_l("Phone or e-mail for the reply"), validators=[Required(), Length(max=50)])
    text = TextAreaField(_l("Your objection"), validators=[Required(), Length(min=10, max=4000)],
                         description=_l("Say what is wrong and how you know it. 人社 checks every objection; "
                                        "the notice is paused meanwhile."))


class ResolveObjectionForm(BaseForm):
    outcome = RadioField(_l("Outcome of the check"), validators=[Required(), AnyOf(["dismissed", "upheld"])],
                         choices=[SelectChoice("dismissed", _l("Unfounded: the notice runs on")),
                                  SelectChoice("upheld", _l("Upheld: the refund is not paid"))])
    reason = TextAreaField(_l("Reason"), validators=[Required(), Length(max=2000)])
