"""Typed answers: turn what the applicant typed or clicked into a value, or say what is wrong.

Below the engine (the engine imports this package, never the reverse). One module per
type; :data:`ANSWER_TYPES` names them all, and is where the flow schema learns which
``type`` a question may have.

CONTRACT (used by the flow runner; keep it):
- ``validate(rules, answer, today=...) -> Valid | Invalid``. ``answer`` is the raw text or a
  button payload. ``Valid.value`` is JSON-serialisable (see table); ``Valid.display`` is how
  the value reads back to the applicant in the turn's locale. ``Invalid.message`` is a
  clear, localized sentence saying what is wrong and what would be right.
- ``display(rules, value) -> str`` renders a stored value in the turn's locale (the
  language may have changed since it was given).

| type    | value                          |
|---------|--------------------------------|
| text    | str (trimmed)                  |
| choice  | str, or list[str] if multiple  |
| yes_no  | bool                           |
| date    | ISO date str "YYYY-MM-DD"      |
| number  | int (or float if not integer)  |
| phone   | E.164 str                      |
| email   | normalised str                 |
| country | ISO 3166 alpha-2 str, or an extra choice's value (e.g. "stateless") |
| consent | bool (True only for a clear yes)|
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Any

from bot.i18n import supported_locales, use_locale

from .base import AnswerType, Choice, Invalid, Result, Rules, Valid
from .choice import CHOICE
from .country import COUNTRY
from .dates import DATE
from .email import EMAIL
from .number import NUMBER
from .phone import PHONE
from .text import TEXT
from .yes_no import CONSENT, YES_NO

__all__ = [
    "ANSWER_TYPES",
    "AnswerType",
    "Choice",
    "Invalid",
    "Result",
    "Rules",
    "Valid",
    "answer_type",
    "display",
    "validate",
    "warm_up",
]

ANSWER_TYPES: Mapping[str, AnswerType] = MappingProxyType(
    {
        "text": TEXT,
        "choice": CHOICE,
        "yes_no": YES_NO,
        "date": DATE,
        "number": NUMBER,
        "phone": PHONE,
        "email": EMAIL,
        "country": COUNTRY,
        "consent": CONSENT,
    }
)
"""Every ``expects.type`` (a DESIGN.md contract), in the order the design lists them."""


def answer_type(name: str) -> AnswerType:
    try:
        return ANSWER_TYPES[name]
    except KeyError:
        raise ValueError(f"unknown answer type {name!r}") from None


def validate(rules: Rules, answer: str, *, today: date) -> Result:
    return answer_type(rules.type).validate(rules, answer or "", today)


def display(rules: Rules, value: Any) -> str:
    return answer_type(rules.type).display(rules, value)


def warm_up(today: date) -> None:
    """Load what answers need from CLDR, dateparser and phonenumbers now, when the
    server starts, rather than in some applicant's turn (~0.1 s each the first time,
    during which every other conversation waits)."""
    for locale_code in supported_locales():
        with use_locale(locale_code):
            for name, kind in ANSWER_TYPES.items():
                if kind.warm_up_answer is not None:
                    validate(Rules(name), kind.warm_up_answer, today=today)
