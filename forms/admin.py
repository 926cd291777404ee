"""The administrator's forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from forms.base import BaseForm, Required


class CalendarYearForm(BaseForm):
    text = TextAreaField(_l("The year's arrangement (YAML)"), validators=[Required(), Length(max=20000)])


class CalendarDayForm(BaseForm):
    day = DateField(_l("Date"), validators=[Required()])
    kind = SelectField(_l("Kind"), choices=[
        SelectChoice("holiday", _l("Holiday")), SelectChoice("makeup_workday", _l("Make-up workday")),
        SelectChoice("", _l("Ordinary day (remove the exception)"))], validate_choice=True)
    name = StringField(_l("Name"), validators=[Optional(), Length(max=64)])
