"""The applicant's rating and the head's and staff's answers to a bad one."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, TextAreaField
from wtforms.validators import AnyOf, Length, Optional

from forms.base import BaseForm, Required


def level_choices() -> list[tuple[str, str]]:
    return [("5", str(_l("Very satisfied"))), ("4", str(_l("Satisfied"))), ("3", str(_l("Basically satisfied"))),
            ("2", str(_l("Dissatisfied"))), ("1", str(_l("Very dissatisfied")))]


class RatingForm(BaseForm):
    level = RadioField(_l("Your rating"), choices=[], validators=[Required()])
    comment = TextAreaField(_l("Comment (optional)"), validators=[Optional(), Length(max=1000)])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.level.choices = level_choices()
        self.level.validators = [Required(), AnyOf(["1", "2", "3", "4", "5"], message=_l("Choose a rating."))]


class ReplyForm(BaseForm):
    text = TextAreaField(_l("Answer to the applicant (what was found, what was remedied)"),
                         validators=[Required(), Length(max=2000)])


class ReasonForm(BaseForm):
    reason = TextAreaField(_l("Reason"), validators=[Required(), Length(max=1000)])


class AppealDecisionForm(BaseForm):
    note = TextAreaField(_l("Reasons for the decision"), validators=[Required(), Length(max=1000)])
