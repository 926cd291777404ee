"""Forms of instant approval: the administrator's credit-list import, a head's switch."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import HiddenField, TextAreaField
from wtforms.validators import AnyOf, Length

from forms.base import BaseForm, Required


class CreditListForm(BaseForm):
    file = FileField(_l("Credit list (CSV)"), validators=[Required()],
                     description=_l("UTF-8 CSV with the header code,name,status,open_penalties; status is 守信, "
                                    "重点关注 or 严重失信. The file replaces the whole list."))


class SwitchForm(BaseForm):
    bundle = HiddenField(validators=[Required(), Length(max=64)])
    item = HiddenField(validators=[Required(), Length(max=64)])
    enabled = HiddenField(validators=[AnyOf(["on", "off"])])
    reason = TextAreaField(_l("Reason"), validators=[Required(), Length(max=1000)])
