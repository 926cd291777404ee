"""Forms of the machine interface's pages: API tokens and webhook subscriptions."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectMultipleField, StringField, widgets
from wtforms.validators import Length, Regexp

from forms.base import BaseForm, Required

SCOPE_LABELS = {
    "read": _l("read — read your matters, queues and certificates"),
    "apply": _l("apply — submit, answer supplements, withdraw"),
    "decide": _l("decide — decisions on your department's steps"),
    "audit": _l("audit — figures and audit-trail verification"),
}


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class TokenForm(BaseForm):
    name = StringField(_l("Name (what the token is for)"), validators=[Required(), Length(max=100)])
    scopes = MultiCheckboxField(_l("Scopes"), validators=[Required()])


class SystemTokenForm(TokenForm):
    system_name = StringField(_l("System (e.g. 省一体化政务服务平台)"), validators=[Required(), Length(max=100)])
    username = StringField(_l("Account the system acts as (user name)"), validators=[Required(), Length(max=64)])


class RevokeTokenForm(BaseForm):
    pass


class SubscriptionForm(BaseForm):
    name = StringField(_l("Name"), validators=[Required(), Length(max=100)])
    url = StringField(_l("Receiver URL"), validators=[
        Required(), Length(max=500),
        Regexp(r"^https?://[^\s/]+(/\S*)?$", message=_l("Enter an http:// or https:// address."))])
    events = MultiCheckboxField(_l("Events"), validators=[Required()])


class PlainForm(BaseForm):
    """A button with its CSRF token (deactivate, re-send)."""
