"""Text normalisation shared by the classifiers and the entity extractors."""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"[\w\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u200c]+")
"""A word, with the combining marks and joiners that belong to it."""
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_REPEATS = re.compile(r"(.)\1{2,}")
_SPACES = re.compile(r"\s+")
REFERENCE = re.compile(r"(?<![A-Za-z0-9])(?:VR|PA|VQ|HC|US)[\s\-_.]?[23456789ABCDEFGHJKMNPQRSTVWXYZ]{6}(?![A-Za-z0-9])",
                       re.IGNORECASE)
_LONG_NUMBER = re.compile(r"\d[\d\s\-./]{4,}\d")
_ARABIZI_DIGIT = re.compile(r"(?<=[a-z])[235679]|[235679](?=[a-z])")
_ARABIZI = {"2": "", "3": "a", "5": "kh", "6": "t", "7": "h", "9": "q"}
"""Arabic written in Latin letters uses digits for the letters Latin lacks (3 = ع,
7 = ح, 2 = ء, 5 = خ, 9 = ق): "7imaye", "b2dar", "3ayez". Spelt with or without them
("himaye", "ayez"), the words meet."""

# Arabic-script letter variants written interchangeably (hamza forms, ta marbuta, alef
# maqsura, Persian/Arabic kaf and yeh), tatweel and Arabic-Indic digits.
_ARABIC = str.maketrans({
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي", "ی": "ي", "ئ": "ي", "ؤ": "و",
    "ک": "ك", "ـ": None, "ې": "ي", "ۍ": "ي",
    **{chr(0x0660 + i): str(i) for i in range(10)},
    **{chr(0x06F0 + i): str(i) for i in range(10)},
})


def clean(text: str) -> str:
    """NFC, no control or bidi characters, single spaces."""
    return _SPACES.sub(" ", _CONTROL.sub(" ", unicodedata.normalize("NFC", text))).strip()


def strip_marks(text: str) -> str:
    """Without diacritics and Arabic harakat (``Sûriyê`` → ``Suriye``); scripts whose
    letters are precomposed (Ge'ez, Georgian) are unchanged."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn"))


def fold(text: str) -> str:
    """The key used to compare words: casefolded, no marks, Arabic variants unified."""
    return strip_marks(clean(text).casefold()).translate(_ARABIC).replace("ı", "i")


def for_intent(text: str) -> str:
    """What the intent classifier reads: folded, references and long numbers as
    placeholders, Arabizi digits inside Latin words as letters, letters repeated for
    emphasis ("pleeease") shortened."""
    text = REFERENCE.sub(" vrref ", clean(text))
    text = _LONG_NUMBER.sub(" 0000 ", text)
    text = _ARABIZI_DIGIT.sub(lambda m: _ARABIZI[m.group()], fold(text))
    return _REPEATS.sub(r"\1\1", text)


def for_language(text: str) -> str:
    """What the language model reads: casefolded, marks kept (they tell languages apart)."""
    text = REFERENCE.sub(" ", clean(text))
    return _REPEATS.sub(r"\1\1", _LONG_NUMBER.sub(" ", text).casefold())
