"""``text``: free text, trimmed, with letters or digits, within a length."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.i18n import gettext, ngettext

from .base import AnswerType, Invalid, Result, Rules, Valid


def validate_text(rules: Rules, answer: str, today: date) -> Result:
    text = answer.strip()
    if not any(ch.isalnum() for ch in text):
        return Invalid(gettext("Please type your answer using letters or numbers."))
    if len(text) < rules.min_length:
        return Invalid(
            ngettext(
                "Please type at least {n} character.",
                "Please type at least {n} characters.",
                rules.min_length,
            )
        )
    if len(text) > rules.max_length:
        return Invalid(
            ngettext(
                "Please keep it to {n} character at most (you typed {count}).",
                "Please keep it to {n} characters at most (you typed {count}).",
                rules.max_length,
                count=len(text),
            )
        )
    return Valid(text, text)


def display_text(rules: Rules, value: Any) -> str:
    return str(value)


TEXT = AnswerType(validate_text, display_text)
