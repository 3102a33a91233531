"""``choice``: one of a question's choices (or several, if ``multiple``), named by its
title in the turn's language or in English, its value, its number, or a close typo."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date
from functools import lru_cache
from typing import Any

from bot.i18n import N_, current_locale, gettext, word_set

from .base import AnswerType, Choice, Invalid, Result, Rules, Valid
from .locales import join
from .matching import Index, build_index, key

AND_WORDS = N_("and")

# Always recognised in multiple-choice answers, whatever the turn's catalog says.
_LIST_WORDS = frozenset({"and", "et", "en", "und"})


@lru_cache(maxsize=256)
def _choice_index(choices: tuple[Choice, ...], locale: str) -> Index:
    pairs = [
        (name, c.value) for c in choices for name in (c.shown(), c.title, c.value)
    ]
    return build_index(pairs)


def candidates(
    choices: tuple[Choice, ...], text: str, *, numbers: bool = True, fuzzy: bool = True
) -> frozenset[str]:
    """The values ``text`` may mean: one if it is clear, several if it is ambiguous."""
    text = text.strip()
    for choice in choices:
        if choice.value == text:
            return frozenset({choice.value})
    if numbers and text.isdigit() and 1 <= int(text) <= len(choices):
        return frozenset({choices[int(text) - 1].value})
    text_key = key(text)
    if not text_key:
        return frozenset()
    index = _choice_index(choices, current_locale())
    hits = index.lookup(text_key)
    return hits or (index.fuzzy(text_key) if fuzzy else hits)


def title(choices: Sequence[Choice], value: str) -> str:
    for choice in choices:
        if choice.value == value:
            return choice.shown()
    return str(value)


def _titles(choices: Sequence[Choice], values: Iterable[str]) -> str:
    return join(title(choices, v) for v in values)


def all_titles(choices: Sequence[Choice]) -> str:
    return _titles(choices, (c.value for c in choices))


_LIST_PUNCTUATION = re.compile("[,;/+&\n\u060c\u061b\u1363\u1364\u3001]+")
"""Commas and semicolons of the scripts we serve: Latin, Arabic (، ؛), Ethiopic (፣ ፤)."""


def _list_separator() -> re.Pattern[str]:
    return _separator_pattern(_LIST_WORDS | word_set(AND_WORDS))


@lru_cache(maxsize=32)
def _separator_pattern(words: frozenset[str]) -> re.Pattern[str]:
    alternatives = "|".join(sorted(map(re.escape, words), key=len, reverse=True))
    return re.compile(rf"\s+(?:{alternatives})\s+", re.IGNORECASE)


def _multi_values(choices: tuple[Choice, ...], text: str) -> frozenset[str] | None:
    """Every choice named in ``text``, or None if some part names no single choice."""
    whole = candidates(choices, text, fuzzy=False)
    if len(whole) == 1:
        return whole
    found: set[str] = set()
    for part in filter(None, (p.strip() for p in _LIST_PUNCTUATION.split(text))):
        hits = _part_values(choices, part)
        if hits is None:
            return None
        found |= hits
    return frozenset(found) or None


def _part_values(choices: tuple[Choice, ...], part: str) -> frozenset[str] | None:
    """One comma-separated part: a title, or several joined by "and"/"et"/"en" or spaces
    between numbers. Typos are only forgiven once splitting has failed, so that a long
    fuzzy match never swallows two choices."""
    exact = candidates(choices, part, fuzzy=False)
    if len(exact) == 1:
        return exact
    pieces = [candidates(choices, piece) for piece in _pieces(part)]
    if pieces and all(len(hits) == 1 for hits in pieces):
        return frozenset[str]().union(*pieces)
    whole = candidates(choices, part)
    return whole if len(whole) == 1 else None


def _pieces(part: str) -> list[str]:
    pieces: list[str] = []
    for piece in _list_separator().split(part):
        numbers = piece.split()
        pieces.extend(numbers if numbers and all(n.isdigit() for n in numbers) else [piece])
    return [p for p in pieces if p.strip()]


def validate_choice(rules: Rules, answer: str, today: date) -> Result:
    choices = rules.choices
    if rules.multiple:
        values = _multi_values(choices, answer)
        if values:
            ordered = [c.value for c in choices if c.value in values]
            return Valid(ordered, _titles(choices, ordered))
        return Invalid(
            gettext(
                "Please choose one or more of these options, separated by commas: {options}.",
                options=all_titles(choices),
            )
        )
    hits = candidates(choices, answer)
    if len(hits) == 1:
        (value,) = hits
        return Valid(value, title(choices, value))
    if hits:
        ordered = [c.value for c in choices if c.value in hits]
        return Invalid(
            gettext("Which one do you mean: {options}?", options=_titles(choices, ordered))
        )
    return Invalid(
        gettext(
            "Please choose one of these options: {options}.",
            options=all_titles(choices),
        )
    )


def display_choice(rules: Rules, value: Any) -> str:
    if isinstance(value, list):
        return _titles(rules.choices, value)
    return title(rules.choices, value)


CHOICE = AnswerType(validate_choice, display_choice)
