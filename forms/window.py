"""Forms of the service hall's window: look-up, registration, intake, hand-over; and activation."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import BooleanField, PasswordField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import EqualTo, Length, Optional

from forms.accounts import PASSWORD, PHONE
from forms.base import BaseForm, CreditCode, Required, ResidentId


class LookUpForm(BaseForm):
    kind = RadioField(_l("Applicant"), choices=[SelectChoice("person", _l("Natural person (resident ID number)")),
                                                SelectChoice("enterprise", _l("Enterprise (unified social credit code)"))],
                      default="person", validators=[Required()])
    number = StringField(_l("ID number or credit code"), validators=[Required(), Length(max=18)])
    name = StringField(_l("Name as on the ID card or business licence"), validators=[Required(), Length(max=200)])

    def validate_number(self, field: StringField) -> None:
        # The check digit (GB 11643) or check character (GB 32100), with the portal's own messages.
        (ResidentId() if self.kind.data == "person" else CreditCode())(self, field)


class RegisterForm(BaseForm):
    phone = StringField(_l("Mobile phone"), validators=[Required(), PHONE])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=200)])
    # Enterprises only: who acts for it (经办人).
    legal_representative = StringField(_l("Legal representative"), validators=[Optional(), Length(max=50)])
    operator_name = StringField(_l("Operator's real name"), validators=[Optional(), Length(max=50)])
    operator_id_number = StringField(_l("Operator's resident ID number"), validators=[Optional(), ResidentId()])


class IntakeForm(BaseForm):
    bundle = SelectField(_l("Matter"), validators=[Required()])
    consent = BooleanField(_l("The applicant agrees that the window fills in and submits this matter for them, "
                              "and that the data are used to handle it."))
    prefill_consent = BooleanField(_l("The applicant agrees that their profile data prefill the form."))
    has_proxy = BooleanField(_l("Someone applies on the applicant's behalf (帮办代办)"))
    proxy_name = StringField(_l("Proxy's name"), validators=[Optional(), Length(max=50)])
    proxy_id_number = StringField(_l("Proxy's resident ID number"), validators=[Optional(), ResidentId()])
    proxy_relation = StringField(_l("Relation to the applicant"), validators=[Optional(), Length(max=50)])
    proxy_document = FileField(_l("Signed authorisation (PDF or image)"))
    collection = RadioField(_l("How the results reach the applicant"),
                            choices=[SelectChoice("online", _l("Online only (download)")),
                                     SelectChoice("window", _l("Collected at this window")),
                                     SelectChoice("mail", _l("Mailed to the applicant"))], default="online", validators=[Required()])
    mail_recipient = StringField(_l("Recipient"), validators=[Optional(), Length(max=50)])
    mail_phone = StringField(_l("Recipient's phone"), validators=[Optional(), PHONE])
    mail_address = StringField(_l("Mailing address"), validators=[Optional(), Length(max=200)])


class CollectionForm(BaseForm):
    """The applicant's own choice, on the matter's page."""

    method = RadioField(_l("How would you like to receive the results?"),
                        choices=[SelectChoice("online", _l("Download online only")),
                                 SelectChoice("window", _l("Collect them at the service hall's window")),
                                 SelectChoice("mail", _l("Have them mailed to me"))],
                        validators=[Required()])
    mail_recipient = StringField(_l("Recipient"), validators=[Optional(), Length(max=50)])
    mail_phone = StringField(_l("Recipient's phone"), validators=[Optional(), PHONE])
    mail_address = StringField(_l("Mailing address"), validators=[Optional(), Length(max=200)])


class HandoverForm(BaseForm):
    collector_kind = RadioField(_l("Collector"), choices=[SelectChoice("applicant", _l("The applicant in person")),
                                                          SelectChoice("authorised", _l("An authorised person")),
                                                          SelectChoice("mail", _l("Mail the results"))],
                                default="applicant", validators=[Required()])
    collector_name = StringField(_l("Collector's name"), validators=[Optional(), Length(max=50)])
    collector_id_number = StringField(_l("Collector's resident ID number"), validators=[Optional(), Length(max=18)])
    collector_relation = StringField(_l("Relation to the applicant"), validators=[Optional(), Length(max=50)])
    collector_document = FileField(_l("Signed authorisation (PDF or image)"))
    carrier = StringField(_l("Carrier"), default="中国邮政EMS", validators=[Optional(), Length(max=50)])  # as deliveries
    tracking_number = StringField(_l("Tracking number"), validators=[Optional(), Length(max=50)])


class SlipForm(BaseForm):
    """Printing the slip issues a new activation code (it changes state): a POST with CSRF."""


class ActivationForm(BaseForm):
    code = StringField(_l("Activation code"), validators=[Required(), Length(max=20)])
    id_number = StringField(_l("Resident ID number"), validators=[Required(), Length(max=18)])
    password = PasswordField(_l("New password"), validators=[Required(), PASSWORD])
    confirm = PasswordField(_l("Repeat the password"),
                            validators=[Required(), EqualTo("password", message=_l("The passwords differ."))])
