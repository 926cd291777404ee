"""Resident ID numbers (GB 11643-1999) and unified social credit codes (GB 32100-2015).

Validation returns a reason code instead of raising, so forms and the catalog can word the message in
the user's language. Masking lives here too: lists, public pages and logs show only masked numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

# GB 32100: 31 characters (digits and capital letters without I, O, Z, S, V).
_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


@dataclass(frozen=True)
class Invalid:
    """Why a number was refused: a stable code plus the detail needed to explain it."""

    code: str  # "length" | "characters" | "birth_date" | "check"
    expected: str = ""


def validate_resident_id(value: str, *, today: date | None = None) -> Invalid | None:
    """None when `value` is a valid 18-digit resident ID number; otherwise why not.

    `today` bounds the birth date (no one is born in the future); callers pass the clock's date.
    """
    number = value.strip().upper()
    if len(number) != 18:
        return Invalid("length")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        return Invalid("characters")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return Invalid("birth_date")
    if born.year < 1900 or (today is not None and born > today):
        return Invalid("birth_date")
    expected = resident_id_check_digit(number[:17])
    if number[17] != expected:
        return Invalid("check", expected)
    return None


def validate_credit_code(value: str) -> Invalid | None:
    """None when `value` is a valid 18-character unified social credit code; otherwise why not."""
    code = value.strip().upper()
    if len(code) != 18:
        return Invalid("length")
    if any(c not in _CREDIT_ALPHABET for c in code):
        return Invalid("characters")
    expected = credit_code_check_char(code[:17])
    if code[17] != expected:
        return Invalid("check", expected)
    return None


def resident_id_check_digit(first17: str) -> str:
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def credit_code_check_char(first17: str) -> str:
    total = sum(_CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return _CREDIT_ALPHABET[(31 - total % 31) % 31]


def mask_resident_id(value: str | None) -> str:
    """410105********123X -> keeps the region and the last four characters."""
    if not value:
        return ""
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def mask_phone(value: str | None) -> str:
    if not value:
        return ""
    return value[:3] + "****" + value[-4:] if len(value) >= 11 else "*" * len(value)


def mask_name(value: str | None) -> str:
    """张三丰 -> 张**; names of enterprises are public and are not masked."""
    if not value:
        return ""
    return value[0] + "*" * (len(value) - 1)
