"""The one merged form (一表申请): a WTForms class built from a bundle definition.

Fields hidden by a `show_if` condition are neither required nor stored. Materials are file fields; a
material accepted on an earlier attempt is carried in a hidden field so a rejected upload elsewhere on
the page never makes the applicant upload it again.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    Field,
    FileField,
    Form,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional, Regexp, StopValidation

from forms.base import BaseForm, CreditCode, Required, ResidentId
from workflows.catalog.schema import Bundle, Condition, FieldType, FormField

_PHONE = Regexp(r"^1\d{10}$", message=_l("A mobile phone number has 11 digits and starts with 1."))
_EMAIL = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("This is not an e-mail address."))


def _raw_answers(form: Form, bundle: Bundle) -> dict[str, Any]:
    return {f.key: form[f.key].data for f in bundle.fields}


class _WhenShown:
    """First validator of every field: a hidden field is dropped and never validated."""

    def __init__(self, bundle: Bundle, condition: Condition | None) -> None:
        self.bundle = bundle
        self.condition = condition

    def __call__(self, form: Form, field: Field) -> None:
        if self.condition is not None and not self.condition.holds(_raw_answers(form, self.bundle)):
            field.errors[:] = []
            raise StopValidation()


class _Parsed:
    """A number or date that could not be read gets one message in the user's language (WTForms would
    add its own English one, and "required" would wrongly say the field is empty)."""

    def __call__(self, form: Form, field: Field) -> None:
        if field.process_errors:
            field.errors[:] = []
            message = _l("Enter a date as YYYY-MM-DD.") if field.type == "DateField" else _l("Enter a number.")
            raise StopValidation(str(message))


def _validators(bundle: Bundle, spec: FormField, today: date | None) -> list[Any]:
    chain: list[Any] = [_WhenShown(bundle, spec.show_if), _Parsed()]
    chain.append(Required() if spec.required else Optional())
    if spec.max_length:
        chain.append(Length(max=spec.max_length, message=_l("At most %(max)d characters.", max=spec.max_length)))
    if spec.min is not None or spec.max is not None:
        chain.append(NumberRange(
            min=spec.min, max=spec.max,
            message=_l("Enter a number from %(min)s to %(max)s.", min=spec.min, max=spec.max),
        ))
    extra = {
        FieldType.RESIDENT_ID: [ResidentId(today)],
        FieldType.CREDIT_CODE: [CreditCode()],
        FieldType.PHONE: [_PHONE],
        FieldType.EMAIL: [_EMAIL],
    }
    return chain + extra.get(spec.type, [])


def _field(bundle: Bundle, spec: FormField, lang: str, today: date | None) -> Field:
    label = spec.label.get(lang)
    description = spec.help.get(lang) if spec.help else ""
    validators = _validators(bundle, spec, today)
    kwargs: dict[str, Any] = {"label": label, "description": description, "validators": validators}
    if spec.type is FieldType.TEXTAREA:
        return TextAreaField(**kwargs)
    if spec.type is FieldType.NUMBER:
        return DecimalField(places=None, **kwargs)
    if spec.type is FieldType.INTEGER:
        return IntegerField(**kwargs)
    if spec.type is FieldType.DATE:
        return DateField(**kwargs)
    if spec.type is FieldType.BOOLEAN:
        return BooleanField(**kwargs)
    if spec.type is FieldType.SELECT:
        assert spec.choices is not None
        choices = [SelectChoice("", str(_l("Please choose")))] + [
            SelectChoice(c.value, c.label.get(lang)) for c in spec.choices
        ]
        return SelectField(choices=choices, validate_choice=False, **kwargs)
    return StringField(**kwargs)


class BundleForm(BaseForm):
    """Base of every generated form; the fields are added by build_form()."""

    bundle: Bundle
    idempotency_key = HiddenField()

    def visible(self, spec: FormField) -> bool:
        return spec.show_if is None or spec.show_if.holds(_raw_answers(self, self.bundle))

    def answers(self) -> dict[str, Any]:
        """JSON-ready answers of the visible fields; call after validate()."""
        result: dict[str, Any] = {}
        for spec in self.bundle.fields:
            if not self.visible(spec):
                continue
            value = self[spec.key].data
            if isinstance(value, Decimal):
                value = int(value) if value == value.to_integral_value() else float(value)
            elif isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, str):
                value = value.strip()
            if value in ("", None):
                continue
            result[spec.key] = value
        return result


def build_form(bundle: Bundle, lang: str, *, today: date | None = None) -> type[BundleForm]:
    attrs: dict[str, Any] = {"bundle": bundle}
    for spec in bundle.fields:
        attrs[spec.key] = _field(bundle, spec, lang, today)
    for material in bundle.materials:
        if material.held_by_government:
            continue
        attrs[f"file_{material.key}"] = FileField(material.name.get(lang))
        attrs[f"kept_{material.key}"] = HiddenField()
    return type(f"{bundle.code.title().replace('_', '')}Form", (BundleForm,), attrs)


class SupplementForm(BaseForm):
    """The applicant's answer to every open supplement request at once; fields added by the builder."""


def build_supplement_form(
    bundle: Bundle, field_keys: list[str], material_keys: list[str], lang: str, *, today: date | None = None,
) -> type[SupplementForm]:
    """Only what the departments asked for: those fields (required now) and those materials."""
    attrs: dict[str, Any] = {}
    for key in field_keys:
        spec = bundle.field(key).model_copy(update={"show_if": None, "required": True})
        attrs[key] = _field(bundle, spec, lang, today)
    for key in material_keys:
        material = next(m for m in bundle.materials if m.key == key)
        attrs[f"file_{key}"] = FileField(material.name.get(lang))
    return type("SupplementAnswerForm", (SupplementForm,), attrs)


class WithdrawForm(BaseForm):
    reason = TextAreaField(_l("Why do you withdraw?"), validators=[Required(), Length(max=1000)])


def display_value(spec: FormField, field: Field, lang: str) -> str:
    """An answer as the summary page shows it: a choice's label, yes or no, the text as typed."""
    if spec.type is FieldType.BOOLEAN:
        return str(_l("Yes") if field.data else _l("No"))
    raw = field.raw_data[0] if field.raw_data else (field.data if field.data is not None else "")
    if spec.type is FieldType.SELECT and spec.choices:
        return next((c.label.get(lang) for c in spec.choices if c.value == raw), str(raw))
    return str(raw)


def client_rules(spec: FormField, field: Field) -> dict[str, str]:
    """The cheap rules of a field as data attributes, with the server's own messages, so the browser
    can point out a mistake before sending (static/js/forms.js); the server checks everything again."""
    label = field.label.text
    rules: dict[str, str] = {}
    if spec.required and spec.type is not FieldType.BOOLEAN:
        rules["data-msg-required"] = str(_l("Please fill in %(label)s.", label=label))
    if spec.max_length:
        rules["data-maxlength"] = str(spec.max_length)
        rules["data-msg-maxlength"] = str(_l("At most %(max)d characters.", max=spec.max_length))
    if spec.type in (FieldType.NUMBER, FieldType.INTEGER):
        rules["data-number"] = spec.type.value
        rules["data-msg-number"] = str(_l("Enter a number."))
    if spec.min is not None or spec.max is not None:
        rules["data-min"] = "" if spec.min is None else str(spec.min)
        rules["data-max"] = "" if spec.max is None else str(spec.max)
        rules["data-msg-range"] = str(_l("Enter a number from %(min)s to %(max)s.", min=spec.min, max=spec.max))
    if spec.type is FieldType.DATE:
        rules["data-date"] = "1"
        rules["data-msg-date"] = str(_l("Enter a date as YYYY-MM-DD."))
    if spec.type is FieldType.PHONE:
        rules["data-pattern"] = r"^1\d{10}$"
        rules["data-msg-pattern"] = str(_PHONE.message)
    if spec.type is FieldType.EMAIL:
        rules["data-pattern"] = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
        rules["data-msg-pattern"] = str(_EMAIL.message)
    if spec.type in (FieldType.RESIDENT_ID, FieldType.CREDIT_CODE):
        from forms.base import _credit_messages, _id_messages

        messages = _id_messages() if spec.type is FieldType.RESIDENT_ID else _credit_messages()
        rules["data-check"] = spec.type.value
        rules["data-msg-length"] = str(messages["length"])
        rules["data-msg-characters"] = str(messages["characters"])
        rules["data-msg-check"] = str(messages["check"])
    return rules
