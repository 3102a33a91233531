"""``yes_no`` and ``consent``: a yes or a no, typed in the turn's language or clicked.

Consent reads answers exactly as yes/no does; only its message differs, so that an
unclear answer is never taken for agreement."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.i18n import N_, gettext, word_set

from .base import AnswerType, Invalid, Result, Rules, Valid
from .matching import key, keys

# Words people type, "|"-separated, for word_set(); translators add their language's words.
YES_WORDS = N_("yes|y|yeah|yep|yes please|ok|okay|sure|correct|right|of course|agree|i agree")
NO_WORDS = N_("no|n|nope|not|no thanks|incorrect|wrong|disagree|i disagree")


def read_yes_no(answer: str) -> bool | None:
    """True for yes, False for no, None when it is neither or both."""
    text = answer.strip()
    if text in ("yes", "no"):
        return text == "yes"
    answer_key = key(text)
    is_yes = answer_key in keys(word_set(YES_WORDS))
    is_no = answer_key in keys(word_set(NO_WORDS))
    if is_yes == is_no:
        return None
    return is_yes


def validate_yes_no(rules: Rules, answer: str, today: date) -> Result:
    value = read_yes_no(answer)
    if value is None:
        return Invalid(gettext("Please answer yes or no."))
    return Valid(value, display_yes_no(rules, value))


def validate_consent(rules: Rules, answer: str, today: date) -> Result:
    value = read_yes_no(answer)
    if value is None:
        return Invalid(gettext("Please answer yes if you agree, or no if you do not."))
    return Valid(value, display_yes_no(rules, value))


def display_yes_no(rules: Rules, value: Any) -> str:
    return gettext("Yes") if value else gettext("No")


YES_NO = AnswerType(validate_yes_no, display_yes_no, warm_up_answer="yes")
CONSENT = AnswerType(validate_consent, display_yes_no)
