"""Login and registration forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import AnyOf, EqualTo, Length, Optional, Regexp

from forms.base import BaseForm, CreditCode, Required, ResidentId

PHONE = Regexp(r"^1\d{10}$", message=_l("A mobile phone number has 11 digits and starts with 1."))
USERNAME = Regexp(r"^[A-Za-z0-9_.-]{3,64}$",
                  message=_l("Use 3 to 64 letters, digits, dots, dashes or underscores."))
PASSWORD = Length(min=10, max=128, message=_l("A password has at least 10 characters."))


class LoginForm(BaseForm):
    username = StringField(_l("Username"), validators=[Required()])
    password = PasswordField(_l("Password"), validators=[Required()])


class _Credentials(BaseForm):
    username = StringField(_l("Username"), validators=[Required(), USERNAME])
    password = PasswordField(_l("Password"), validators=[Required(), PASSWORD])
    confirm = PasswordField(_l("Repeat the password"),
                            validators=[Required(), EqualTo("password", message=_l("The passwords differ."))])
    phone = StringField(_l("Mobile phone"), validators=[Required(), PHONE])
    email = EmailField(_l("E-mail"), validators=[Optional(), Length(max=200)])
    consent = BooleanField(_l("I agree that onestop reuses my profile data to prefill my applications."))


class PersonRegistrationForm(_Credentials):
    name = StringField(_l("Real name"), validators=[Required(), Length(max=50)])
    id_number = StringField(_l("Resident ID number"), validators=[Required(), ResidentId()])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=200)])


class EnterpriseRegistrationForm(_Credentials):
    credit_code = StringField(_l("Unified social credit code"), validators=[Required(), CreditCode()])
    enterprise_name = StringField(_l("Enterprise name"), validators=[Required(), Length(max=200)])
    legal_representative = StringField(_l("Legal representative"), validators=[Required(), Length(max=50)])
    enterprise_address = StringField(_l("Registered address"), validators=[Optional(), Length(max=200)])
    name = StringField(_l("Operator's real name"), validators=[Required(), Length(max=50)])
    id_number = StringField(_l("Operator's resident ID number"), validators=[Required(), ResidentId()])


class TrackForm(BaseForm):
    reference = StringField(_l("Reference number"), validators=[Required(), Length(max=32)])
    query_code = StringField(_l("Query code"), validators=[Required(), Length(max=16)])


class ConsentForm(BaseForm):
    decision = HiddenField(validators=[AnyOf(("give", "revoke"))])


class ContactForm(BaseForm):
    """The contact details an applicant keeps up to date themselves."""

    phone = StringField(_l("Mobile phone"), validators=[Required(), PHONE])
    email = EmailField(_l("E-mail"), validators=[Optional(), Length(max=200),
                                                Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                                                       message=_l("This is not an e-mail address."))])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=200)])
