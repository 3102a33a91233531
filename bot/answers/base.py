"""What every answer type shares: the rules of a question, the result of reading an
answer, and the pair of functions that make a type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.i18n import gettext


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    title: str
    """An English msgid, translated when shown, unless ``localized`` (computed at run
    time in the applicant's language, like an appointment time)."""
    localized: bool = False

    def shown(self) -> str:
        return self.title if self.localized else gettext(self.title)


@dataclass(frozen=True, slots=True)
class Rules:
    type: str
    choices: tuple[Choice, ...] = ()
    multiple: bool = False
    min_length: int = 1
    max_length: int = 500
    min_value: float | None = None
    max_value: float | None = None
    integer: bool = True
    min_date: date | None = None
    max_date: date | None = None
    default_region: str = "BE"


@dataclass(frozen=True, slots=True)
class Valid:
    value: Any
    display: str


@dataclass(frozen=True, slots=True)
class Invalid:
    message: str


Result = Valid | Invalid

Validate = Callable[[Rules, str, date], Result]
"""``(rules, answer, today)``: ``answer`` is the raw text or button payload, never None."""
Display = Callable[[Rules, Any], str]
"""``(rules, stored value)``: the value as it reads in the turn's locale."""


@dataclass(frozen=True, slots=True)
class AnswerType:
    """One ``expects.type``: how an answer is read and how its stored value is shown."""

    validate: Validate
    display: Display
    warm_up_answer: str | None = None
    """An answer whose first reading loads the data this type needs (CLDR,
    dateparser, phonenumbers), read in every locale at start-up."""
