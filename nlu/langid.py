"""Which of our languages a message is written in.

Two detectors, combined:

- CLD2 (``pycld2``, Google's compact language detector, offline and fast) knows ~80
  languages and says when a text is in none of ours; but it reads Kurmanji as English,
  and Arabizi, Finglish or Latin-script Georgian as anything;
- a character n-gram model trained on our own NLU data (:class:`NgramLanguageModel`,
  part of the trained NLU model), which knows exactly our 18 locales in the way their
  speakers type (with and without diacritics, Latin-script Arabic, Georgian, Farsi…).

The n-gram model's calibrated probabilities are the base; CLD2's verdict multiplies the
language it names when it is reliable, and lowers every confidence when it reliably
names a language we do not serve (less so when the n-gram model is sure: CLD2 has
never seen Arabizi). Without a trained model (none installed), CLD2 alone
answers, as before. This module is the one place that knows about CLD2, so the detector
can be swapped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pycld2


_CLD2_TO_OURS = {"pt": "pt_BR", "kmr": "ku"}
"""CLD2 codes that differ from our locale codes."""

_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

CLD2_BOOST = 3.0
"""How much a reliable CLD2 verdict multiplies the n-gram model's probability of it."""


@dataclass(frozen=True, slots=True)
class Guess:
    code: str
    """Our locale code (``fa``, ``pt_BR``…), or ``"un"`` when unknown."""
    confidence: float
    """0 to 1: how sure the detectors are (with CLD2 alone: its share of the text in
    that language, zero when it is unreliable)."""
    words: int


UNKNOWN = Guess("un", 0.0, 0)
MIN_WORDS = 2
"""Fewer words than this say too little about their language (a name, "ok", a number)."""


class NgramLanguageModel:
    """Character 1–4-grams → calibrated probabilities over the languages it was trained
    on. Built by :mod:`nlu.model` (it needs scikit-learn only to train)."""

    def __init__(self, features, model) -> None:  # type: ignore[no-untyped-def]
        self.features = features  # nlu.linear.FeatureSet
        self.model = model  # nlu.linear.LinearModel
        self.languages: tuple[str, ...] = tuple(model.classes)

    def probabilities(self, text: str) -> dict[str, float]:
        p = self.model.proba_one(*self.features.vector(text))
        return dict(zip(self.languages, (float(x) for x in p)))

    def probability_matrix(self, texts: Sequence[str]) -> np.ndarray:
        return self.model.proba(self.features.transform(list(texts)))


def identify(text: str, supported: tuple[str, ...], *, model: NgramLanguageModel | None = None,
             hint: str | None = None) -> Guess:
    """The most likely of ``supported`` locales for ``text``.

    Without ``model`` (an n-gram model trained with the NLU) CLD2 decides alone;
    ``hint`` (the channel's language) tips the balance when the text says little."""
    clean = _UNSAFE.sub(" ", unicodedata.normalize("NFC", text)).strip()
    words = len(clean.split())
    if not clean:
        return UNKNOWN
    cld2 = _cld2(clean)
    if model is None:
        return _cld2_only(cld2, supported, words)
    return combine(model.probabilities(clean), cld2, supported, words, hint)


def combine(probabilities: dict[str, float], cld2: tuple[bool, list[tuple[str, int]]] | None,
            supported: tuple[str, ...], words: int, hint: str | None = None) -> Guess:
    """The n-gram model's probabilities, reweighted by CLD2's verdict (see the module).

    The n-gram model speaks only for the languages it was trained on: when CLD2 reliably
    names another of ``supported`` first, CLD2 answers alone."""
    scores = {code: probabilities[code] for code in supported if code in probabilities}
    foreign = 0.0
    if cld2 is not None:
        reliable, details = cld2
        ours = _ours(supported)
        for code, percent in details:
            if percent <= 0:
                continue
            locale = _map(code, supported, ours)
            if locale is None:
                if reliable and code not in ("un", "xx"):
                    foreign += percent / 100
                continue
            if reliable and locale not in scores and not foreign and percent >= 50:
                return Guess(locale, percent / 100, words)
            if reliable and locale in scores:
                scores[locale] *= 1 + CLD2_BOOST * percent / 100
    if hint:
        hinted = hint if hint in scores else _ours(supported).get(hint.split("_")[0].split("-")[0])
        if hinted:
            scores[hinted] *= 2.0
    total = sum(scores.values())
    if total <= 0:
        return Guess("un", 0.0, words)
    code = max(scores, key=lambda c: scores[c])
    p = scores[code] / total
    # CLD2 naming a language we do not serve lowers the confidence, the less the surer the
    # n-gram model is: CLD2 reads Arabizi, Finglish or Latin-script Georgian as Afar,
    # Sanskrit or Malay "reliably", while Italian read as Spanish should stay unsure.
    return Guess(code, p * (1 - min(foreign, 1.0) * (1 - p)), words)


def clearly_in(text: str, supported: tuple[str, ...], *, min_words: int = MIN_WORDS, min_confidence: float = 0.9,
               model: NgramLanguageModel | None = None) -> str | None:
    """The locale ``text`` is clearly written in, or None when it is short or mixed."""
    guess = identify(text, supported, model=model)
    if guess.code == "un" or guess.words < min_words or guess.confidence < min_confidence:
        return None
    return guess.code


class LanguageIdentifier:
    """What the dialogue is handed to tell the language of a first typed sentence: CLD2,
    with the NLU's n-gram model when one is given (``EmbeddedNLU.language_identifier``)."""

    min_words = MIN_WORDS

    def __init__(self, model: NgramLanguageModel | None = None) -> None:
        self.model = model

    def clearly_in(self, text: str, supported: tuple[str, ...]) -> str | None:
        return clearly_in(text, supported, model=self.model)


def _cld2(clean: str) -> tuple[bool, list[tuple[str, int]]] | None:
    try:
        reliable, _, details = pycld2.detect(clean, bestEffort=True)
    except pycld2.error:
        return None
    return reliable, [(code, percent) for _name, code, percent, _score in details]


def _ours(supported: tuple[str, ...]) -> dict[str, str]:
    return {code.split("_")[0]: code for code in reversed(supported)}


def _map(code: str, supported: tuple[str, ...], ours: dict[str, str]) -> str | None:
    mapped = _CLD2_TO_OURS.get(code, code)
    return mapped if mapped in supported else ours.get(mapped.split("_")[0])


def _cld2_only(cld2: tuple[bool, list[tuple[str, int]]] | None, supported: tuple[str, ...], words: int) -> Guess:
    if cld2 is None:
        return UNKNOWN
    reliable, details = cld2
    ours = _ours(supported)
    for code, percent in details:
        locale = _map(code, supported, ours)
        if locale:
            return Guess(locale, percent / 100 if reliable else 0.0, words)
    return Guess("un", 0.0, words)
