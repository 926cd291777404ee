"""The base form and validators shared by every area. Forms validate input; they never touch the database."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, Form
from wtforms.validators import StopValidation, ValidationError

from workflows.identity import validate_credit_code, validate_resident_id


class BaseForm(FlaskForm):
    """CSRF-protected; error messages come from Flask-Babel, Chinese first."""


def _id_messages() -> dict[str, Any]:
    return {
        "length": _l("A resident ID number has 18 characters."),
        "characters": _l("A resident ID number has 17 digits followed by a digit or X."),
        "birth_date": _l("The birth date inside this ID number is not a real date."),
        "check": _l("This ID number's check digit is wrong: please check each digit."),
    }


def _credit_messages() -> dict[str, Any]:
    return {
        "length": _l("A unified social credit code has 18 characters."),
        "characters": _l("A unified social credit code uses digits and capital letters except I, O, Z, S and V."),
        "check": _l("This credit code's check character is wrong: please check each character."),
    }


class ResidentId:
    """GB 11643: 18 characters, a real birth date, the right check digit."""

    def __init__(self, today: date | None = None) -> None:
        self.today = today

    def __call__(self, form: Form, field: Field) -> None:
        if not field.data:
            return
        field.data = field.data.strip().upper()
        problem = validate_resident_id(field.data, today=self.today)
        if problem is not None:
            raise ValidationError(str(_id_messages()[problem.code]))


class CreditCode:
    """GB 32100: 18 characters from the code's alphabet, the right check character."""

    def __call__(self, form: Form, field: Field) -> None:
        if not field.data:
            return
        field.data = field.data.strip().upper()
        problem = validate_credit_code(field.data)
        if problem is not None:
            raise ValidationError(str(_credit_messages()[problem.code]))


class Required:
    """Required with a message that names the field; blank strings count as missing."""

    field_flags = {"required": True}

    def __call__(self, form: Form, field: Field) -> None:
        data = field.data
        missing = data is None or (isinstance(data, str) and not data.strip())
        if field.type == "BooleanField":
            missing = not data  # a required checkbox (a commitment, a consent) must be ticked
        if missing:
            field.errors[:] = []
            raise StopValidation(str(_l("Please fill in %(label)s.", label=field.label.text)))
