"""Which of our languages a message is written in.

CLD2 (``pycld2``, Google's compact language detector, offline and fast) does the work;
this module narrows its answer to the locales we serve and says how sure it is. It is the
one place that knows about CLD2, so the detector can be swapped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import pycld2

_CLD2_TO_OURS = {"pt": "pt_BR", "kmr": "ku"}
"""CLD2 codes that differ from our locale codes."""

_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Guess:
    code: str
    """Our locale code (``fa``, ``pt_BR``…), or ``"un"`` when unknown."""
    confidence: float
    """0 to 1: CLD2's share of the text in that language, zero when it is unreliable."""
    words: int


UNKNOWN = Guess("un", 0.0, 0)
MIN_WORDS = 2
"""Fewer words than this say too little about their language (a name, "ok", a number)."""


def identify(text: str, supported: tuple[str, ...]) -> Guess:
    """The most likely of ``supported`` locales for ``text``."""
    clean = _UNSAFE.sub(" ", unicodedata.normalize("NFC", text)).strip()
    words = len(clean.split())
    if not clean:
        return UNKNOWN
    try:
        reliable, _, details = pycld2.detect(clean, bestEffort=True)
    except pycld2.error:
        return UNKNOWN
    ours = {code.split("_")[0]: code for code in reversed(supported)}
    for _name, code, percent, _score in details:
        mapped = _CLD2_TO_OURS.get(code, code)
        locale = mapped if mapped in supported else ours.get(mapped.split("_")[0])
        if locale:
            return Guess(locale, percent / 100 if reliable else 0.0, words)
    return Guess("un", 0.0, words)


def clearly_in(text: str, supported: tuple[str, ...], *, min_words: int = MIN_WORDS, min_confidence: float = 0.9) -> str | None:
    """The locale ``text`` is clearly written in, or None when it is short or mixed."""
    guess = identify(text, supported)
    if guess.code == "un" or guess.words < min_words or guess.confidence < min_confidence:
        return None
    return guess.code
