"""``number``: a number in figures, with the turn's or the other common decimal mark
and digit grouping, whole unless decimals are allowed, within the question's bounds."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import format_decimal, get_decimal_symbol

from bot.i18n import gettext

from .base import AnswerType, Invalid, Result, Rules, Valid
from .locales import turn_locale

_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)*$")
_DIGIT_GROUP_SPACE = re.compile(r"(?<=\d)[\s\u00a0\u202f'’_](?=\d{3}(?!\d))")


def _parse_number(text: str) -> Decimal | None:
    text = _DIGIT_GROUP_SPACE.sub("", text.strip())
    if not _NUMBER.match(text):
        return None
    try:
        return Decimal(_plain_number(text))
    except InvalidOperation:
        return None


def _plain_number(text: str) -> str:
    """``1.234,5`` / ``1,234.5`` / ``3,5`` → a string ``Decimal`` understands."""
    separators = [ch for ch in text if ch in ",."]
    if not separators:
        return text
    if len(set(separators)) == 2:
        decimal_mark = separators[-1]
        group_mark = "." if decimal_mark == "," else ","
        return text.replace(group_mark, "").replace(decimal_mark, ".")
    mark = separators[0]
    if len(separators) > 1:
        return text.replace(mark, "")
    whole, fraction = text.split(mark)
    looks_grouped = len(fraction) == 3 and whole.lstrip("+-") not in ("", "0")
    if looks_grouped and mark != get_decimal_symbol(turn_locale()):
        return whole + fraction
    return f"{whole}.{fraction}"


def _format_number(value: float | int | Decimal) -> str:
    return format_decimal(value, locale=turn_locale())


def _number_hint(rules: Rules) -> Invalid:
    low, high = rules.min_value, rules.max_value
    if low is not None and high is not None:
        return Invalid(
            gettext(
                "Please type a number between {min} and {max}.",
                min=_format_number(low),
                max=_format_number(high),
            )
        )
    if low is not None:
        return Invalid(
            gettext("Please type a number that is {min} or more.", min=_format_number(low))
        )
    if high is not None:
        return Invalid(
            gettext("Please type a number that is {max} or less.", max=_format_number(high))
        )
    return Invalid(gettext("Please type a number using digits, for example 3."))


def validate_number(rules: Rules, answer: str, today: date) -> Result:
    parsed = _parse_number(answer)
    if parsed is None:
        return _number_hint(rules)
    integral = parsed == parsed.to_integral_value()
    if rules.integer and not integral:
        return Invalid(gettext("Please type a whole number, without decimals."))
    if (rules.min_value is not None and parsed < Decimal(str(rules.min_value))) or (
        rules.max_value is not None and parsed > Decimal(str(rules.max_value))
    ):
        return _number_hint(rules)
    value: int | float = int(parsed) if integral else float(parsed)
    return Valid(value, _format_number(value))


def display_number(rules: Rules, value: Any) -> str:
    return _format_number(value)


NUMBER = AnswerType(validate_number, display_number)
