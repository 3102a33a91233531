"""Blind indexes: finding cases by name, date of birth or phone without those values in clear.

Personal fields stay encrypted (``cases.data_enc``). To find them, each case also gets rows
in ``case_search_terms``: ``(case_id, field, digest)`` where ``digest`` is an HMAC under the
lookup key (``Cipher.lookup_hash``) of a normalised value. A search normalises what staff
typed the same way and looks the digests up; the database never holds the value itself,
and without the lookup key the digests cannot be computed from a guessed name or date.

What is indexed, per case (``terms``):

- ``name``: each word of the applicant's name, NFKC, case-folded, accents stripped, in its
  own script (``"Nino Beridze"`` → ``nino``, ``beridze``), so word order does not matter;
- ``name_latin``: the same word transliterated to Latin with anyascii, when that differs
  (``"Мухаммад"`` → ``mukhammad``; ``"Muhammad"`` → ``muhammad``);
- ``name_sound``: a consonant skeleton of the Latin form (``mhmd`` for Мухаммад, محمد,
  Muhammad and Mohammed alike), which lets spellings and scripts meet where the
  transliteration alone would not; coarse, so a search ranks it last. A Cyrillic word with
  г has a second one with h (Ибрагим meets Ibrahim, Магомед meets Mohammed, and Георгий
  still meets Giorgi);
- ``dob``: the date of birth in ISO form (``1990-05-17``);
- ``phone``: the phone number in E.164 (``+32470123456``).

What a digest gives away: which cases share a value (that is what makes it an index), never
the value. ``SEARCH_INDEX_VERSION`` names this normalisation: when it changes, the rows are
computed again (``intake cases reindex``, also done at start when the stored marker differs).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import phonenumbers
from anyascii import anyascii

NAME, LATIN, SOUND, DOB, PHONE = "name", "name_latin", "name_sound", "dob", "phone"
NAME_FIELDS = (NAME, LATIN, SOUND)
FIELDS = (NAME, LATIN, SOUND, DOB, PHONE)
SEARCH_INDEX_VERSION = "2"
"""Bump when the normalisation below changes: the index is then built again."""
DEFAULT_REGION = "BE"
"""Where a phone number without a country code is read (the flows' default region too)."""
MAX_NAME_WORDS = 8

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_VOWELS = set("aeiouy")
# Spellings of one sound across transliterations (anyascii's Cyrillic "kh" for х, the Arabic
# "gh" for غ, French "ou"…), longest first; then vowels go, and doubled letters.
_SOUNDS = (
    ("sch", "s"), ("tch", "c"), ("dzh", "j"), ("kh", "h"), ("gh", "g"), ("ph", "f"), ("th", "t"),
    ("dh", "d"), ("sh", "s"), ("ch", "c"), ("zh", "j"), ("dj", "j"), ("ck", "k"), ("ts", "c"),
    ("q", "k"), ("x", "ks"), ("w", "v"), ("z", "s"),
)


def fold(text: str) -> str:
    """NFKC, case-folded, combining marks (accents, Arabic short vowels) removed."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFKC", stripped)


def name_words(name: str) -> list[str]:
    """The words of a name, folded (``"  Nino  BERIDZE-Kvaratskhelia "`` → three words)."""
    return _WORD.findall(fold(name))[:MAX_NAME_WORDS]


def latin(word: str) -> str:
    """A folded word in Latin letters (anyascii), lower case, letters and digits only."""
    return "".join(ch for ch in anyascii(word).lower() if ch.isascii() and ch.isalnum())


def sound(word_latin: str) -> str:
    """The consonant skeleton of a Latin word: ``muhammad``, ``mukhammad``, ``mohammed``,
    ``mhmd`` → ``mhmd``; ``ali`` and ``ly`` (علي) → ``l``. A word of vowels only keeps itself."""
    text = "".join(ch for ch in word_latin if "a" <= ch <= "z")
    text = text[:1] + text[1:].replace("w", "u")  # و inside a word is a vowel (ywsf, Yusuf)
    for spelling, replacement in _SOUNDS:
        text = text.replace(spelling, replacement)
    skeleton = "".join(ch for ch in text if ch not in _VOWELS)
    if len(skeleton) > 2 and skeleton.endswith("h"):
        skeleton = skeleton[:-1]  # a silent final h: Fatimah/فاطمة, Aisha(h)
    collapsed = re.sub(r"(.)\1+", r"\1", skeleton)
    return collapsed or word_latin


def birth_date(value: Any) -> str | None:
    """A date of birth as ISO ``YYYY-MM-DD`` (a date, or a string starting with one)."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10]).isoformat()
        except ValueError:
            return None
    return None


def phone_number(value: Any, region: str = DEFAULT_REGION) -> str | None:
    """A phone number in E.164, or None when it is not a possible number."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_CYRILLIC_GHE = re.compile("[\u0433\u0413]")
"""Г, which Russian also writes for the h of Arabic and Turkic names (Ибрагим, Гасан,
Магомед for Ibrahim, Hasan, Muhammad), and anyascii gives as g."""


@dataclass(frozen=True, slots=True)
class WordKeys:
    """One name word in its indexed forms: as written, in Latin letters, and its consonant
    skeleton(s)."""

    folded: str
    latin: str
    sound: str
    other_sounds: tuple[str, ...] = ()
    """Further skeletons the word may stand for: with the h of a Cyrillic г (Ибрагим is
    Ibrahim; Георгий stays Giorgi through ``sound``)."""

    @classmethod
    def of(cls, word: str) -> WordKeys:
        word_latin = latin(word) or word
        main = sound(word_latin)
        others: tuple[str, ...] = ()
        if _CYRILLIC_GHE.search(word):
            as_h = sound(latin(_CYRILLIC_GHE.sub("х", word)) or word_latin)
            others = (as_h,) if as_h != main else ()
        return cls(word, word_latin, main, others)

    @property
    def sounds(self) -> tuple[str, ...]:
        return (self.sound, *self.other_sounds)


def applicant_values(applicant: dict[str, Any] | None) -> Iterator[tuple[str, str]]:
    """The (field, normalised value) pairs indexed for an applicant, without repeats."""
    applicant = applicant or {}
    seen: set[tuple[str, str]] = set()

    def once(field: str, value: str) -> Iterator[tuple[str, str]]:
        if (field, value) not in seen:
            seen.add((field, value))
            yield field, value

    name = applicant.get("name")
    if isinstance(name, str):
        for word in name_words(name):
            keys = WordKeys.of(word)
            yield from once(NAME, keys.folded)
            if keys.latin != keys.folded:
                yield from once(LATIN, keys.latin)
            for skeleton in keys.sounds:
                yield from once(SOUND, skeleton)
    dob = birth_date(applicant.get("date_of_birth"))
    if dob:
        yield from once(DOB, dob)
    phone = phone_number(applicant.get("phone"))
    if phone:
        yield from once(PHONE, phone)


DIGEST_HEX = 32
"""128 bits of the HMAC: no collision in any number of cases this will hold, and half the
size of the indexes that hold them."""


def digest(cipher: Any, field: str, value: str) -> str:
    """The blind index of one value: an HMAC under the lookup key, apart from sender hashes."""
    return str(cipher.lookup_hash("case-search", field, value))[:DIGEST_HEX]


def terms(cipher: Any, case_id: str, applicant: dict[str, Any] | None) -> list[dict[str, str]]:
    """The ``case_search_terms`` rows of a case."""
    return [
        {"case_id": case_id, "field": field, "digest": digest(cipher, field, value)}
        for field, value in applicant_values(applicant)
    ]


def marker(cipher: Any) -> str:
    """What ``key_checks`` keeps under ``search_index``: this version under this lookup key."""
    return str(cipher.lookup_hash("case-search-index", SEARCH_INDEX_VERSION))


# --- what staff typed --------------------------------------------------------------------

_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DAY_FIRST = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$")
_PHONE = re.compile(r"\+?\d[\d\s().-]{5,}\d")


@dataclass(frozen=True, slots=True)
class Query:
    """A search as typed, read into criteria: name words, a date of birth, a phone number,
    a case reference. Every criterion given must match."""

    words: tuple[WordKeys, ...] = ()
    dob: str | None = None
    phone: str | None = None
    reference: str | None = None
    unreadable: tuple[str, ...] = ()
    """Parts that looked like a date or a phone number but are not a valid one."""

    @property
    def empty(self) -> bool:
        return not (self.words or self.dob or self.phone or self.reference)

    def kinds(self) -> list[str]:
        """What was searched, as ids (for the audit log: never the values)."""
        return [k for k, given in (("name", self.words), ("dob", self.dob), ("phone", self.phone),
                                   ("reference", self.reference)) if given]


def _date_of(text: str) -> str | None | bool:
    """ISO date for a date-looking text (day first, as written in Belgium), False for an
    invalid one, None for text that is no date."""
    found = _ISO_DATE.match(text)
    if found:
        year, month, day = (int(g) for g in found.groups())
    else:
        found = _DAY_FIRST.match(text)
        if not found:
            return None
        day, month, year = (int(g) for g in found.groups())
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return False


def parse_query(text: str, reference_of: Any = None, region: str = DEFAULT_REGION) -> Query:
    """Read one search box: dates (``1990-05-17``, ``17/05/1990``, ``17.05.1990``), phone
    numbers (``+32 470 12 34 56``, ``0470123456``), a case reference (``reference_of``
    returns the normalised reference or None), and name words for the rest."""
    text = text.strip()[:200]
    dob: str | None = None
    unreadable: list[str] = []
    rest: list[str] = []
    for part in text.split():
        found = _date_of(part)
        if found is None:
            rest.append(part)
        elif found is False:
            unreadable.append("date")
        elif dob is None:
            dob = found  # type: ignore[assignment]
    remaining = " ".join(rest)
    phone: str | None = None
    match = _PHONE.search(remaining)
    if match:
        phone = phone_number(match.group(0), region)
        if phone is None:
            unreadable.append("phone")
        remaining = (remaining[: match.start()] + " " + remaining[match.end():]).strip()
    reference: str | None = None
    words: list[WordKeys] = []
    for part in remaining.split():
        normalised = reference_of(part) if reference_of is not None else None
        if normalised and reference is None:
            reference = normalised
            continue
        words.extend(WordKeys.of(w) for w in name_words(part))
    return Query(tuple(words[:MAX_NAME_WORDS]), dob, phone, reference, tuple(unreadable))


def word_candidates(cipher: Any, word: WordKeys) -> dict[tuple[str, str], int]:
    """The (field, digest) pairs a case may hold for a searched word, with the strength
    of such a match: 3 the same word, 2 the same once transliterated, 1 a similar sound."""
    found: dict[tuple[str, str], int] = {(SOUND, digest(cipher, SOUND, s)): 1 for s in word.sounds}
    for field in (NAME, LATIN):
        for value in {word.folded, word.latin}:
            found[(field, digest(cipher, field, value))] = 2
    found[(NAME, digest(cipher, NAME, word.folded))] = 3
    return found
