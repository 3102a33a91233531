"""``phone``: a valid phone number, national (in the question's region) or international,
stored as E.164."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import phonenumbers

from bot.i18n import gettext

from .base import AnswerType, Invalid, Result, Rules, Valid

_PHONE_CHARS = re.compile(r"^[\d\s+()./\-\u00a0]+$")


def _phone_example(region: str) -> str:
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        return "+32 470 12 34 56"
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def validate_phone(rules: Rules, answer: str, today: date) -> Result:
    text = answer.strip()
    number = None
    if _PHONE_CHARS.match(text):  # letters would be read as a keypad "vanity" number
        try:
            number = phonenumbers.parse(text, rules.default_region)
        except phonenumbers.NumberParseException:
            number = None
    if number is None or not phonenumbers.is_valid_number(number):
        return Invalid(
            gettext(
                "That does not look like a valid phone number. "
                "Please type it with the country code, for example {example}.",
                example=_phone_example(rules.default_region),
            )
        )
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Valid(e164, display_phone(rules, e164))


def display_phone(rules: Rules, value: Any) -> str:
    try:
        number = phonenumbers.parse(str(value), rules.default_region)
    except phonenumbers.NumberParseException:
        return str(value)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


PHONE = AnswerType(validate_phone, display_phone, warm_up_answer="0470 12 34 56")
