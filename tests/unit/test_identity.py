"""GB 11643 resident ID numbers and GB 32100 credit codes."""

from __future__ import annotations

from datetime import date

import pytest

from workflows.identity import (
    credit_code_check_char,
    mask_name,
    mask_phone,
    mask_resident_id,
    resident_id_check_digit,
    validate_credit_code,
    validate_resident_id,
)


@pytest.mark.parametrize("number", ["11010519491231002X", "11010519491231002x", "410105199003070018"])
def test_valid_resident_ids(number):
    assert validate_resident_id(number, today=date(2026, 11, 22)) is None


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("11010519491231002", "length"),
        ("1101051949123100211", "length"),
        ("1101051949123100A1", "characters"),
        ("110105194913310021", "birth_date"),  # month 13
        ("110105202702300016", "birth_date"),  # 30 February
        ("110105189912310011", "birth_date"),  # before 1900
        ("110105194912310021", "check"),
    ],
)
def test_invalid_resident_ids(number, code):
    problem = validate_resident_id(number, today=date(2026, 11, 22))
    assert problem is not None and problem.code == code


def test_birth_date_in_the_future_is_refused():
    first17 = "41010520270101001"
    number = first17 + resident_id_check_digit(first17)
    assert validate_resident_id(number, today=date(2026, 11, 22)).code == "birth_date"
    assert validate_resident_id(number, today=date(2027, 6, 1)) is None


def test_check_digit_error_names_the_expected_digit():
    assert validate_resident_id("110105194912310021").expected == "X"


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91410100MA44F7XH8K", "91110000600037341L"])
def test_valid_credit_codes(code):
    assert validate_credit_code(code) is None


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91350100M000100Y4", "length"),
        ("91350100M000100Y4I", "characters"),  # I is not in the alphabet
        ("91350100M000100Y44", "check"),
    ],
)
def test_invalid_credit_codes(code, reason):
    assert validate_credit_code(code).code == reason


def test_every_single_character_change_of_a_credit_code_is_caught():
    code = "91410100MA44F7XH8K"
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    for i in range(17):
        for c in alphabet:
            if c != code[i]:
                changed = code[:i] + c + code[i + 1:]
                assert validate_credit_code(changed) is not None, changed
    assert credit_code_check_char(code[:17]) == "K"


def test_masking():
    assert mask_resident_id("410105199003070018") == "410105********0018"
    assert mask_phone("13800000001") == "138****0001"
    assert mask_name("张三丰") == "张**"
    assert mask_resident_id(None) == "" and mask_phone("") == ""
