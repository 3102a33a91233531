"""``email``: an address that looks deliverable, normalised (no DNS lookup)."""

from __future__ import annotations

from datetime import date

from email_validator import EmailNotValidError, validate_email

from bot.i18n import gettext

from .base import AnswerType, Invalid, Result, Rules, Valid
from .text import display_text


def validate_email_address(rules: Rules, answer: str, today: date) -> Result:
    try:
        email = validate_email(answer.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        return Invalid(
            gettext(
                "That does not look like a valid email address. "
                "Please check it, for example name@example.com."
            )
        )
    return Valid(email, email)


EMAIL = AnswerType(validate_email_address, display_text)
