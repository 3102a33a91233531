"""Entity extraction in Rasa's shape ``{entity, value, start, end, extractor, confidence}``.

- ``case_reference``: ``VR-7K3M9Q`` (also typed ``vr 7k3m9q``, ``VR7K3M9Q``), canonical value;
- ``phone``: ``phonenumbers`` (default region BE), value in E.164;
- ``date``: numeric dates (day first, or ISO), day + month name (+ year) in the message's
  language (month names from dateparser's and Babel's data, the span converted by
  ``dateparser`` with ``languages=``), today / tomorrow / yesterday words, and weekdays
  with their "next" / "last" words in each of our languages; value ISO ``YYYY-MM-DD``;
- ``country`` (ISO 3166 alpha-2) and ``language`` (our locale codes): a gazetteer of
  Babel's country and language names in all our languages, the training data's synonym
  tables (native names, nationality words) and annotated examples; exact on folded words
  (no case, no diacritics, Arabic letter variants), with short suffixes ("Sûriyê",
  "საქართველოში", "Сирию") and Arabic prefixes ("والسوري"), and fuzzy (rapidfuzz) for
  typos of longer words that the training data does not know as ordinary words.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import dateparser
import phonenumbers
from babel import Locale
from rapidfuzz import fuzz, process

from .data import LANGUAGES
from .text import REFERENCE, WORD as _WORD, fold

_ALPHABET = set("23456789ABCDEFGHJKMNPQRSTVWXYZ")
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB", "AQ", "BV", "HM", "UM", "TF", "IO", "CP", "DG",
                  "EA", "IC", "TA", "AC"}
_ARABIC_PREFIXES = ("وبال", "وال", "بال", "فال", "كال", "لل", "ال", "و", "ب", "ل", "ف")
_DATEPARSER = {"pt_BR": "pt"}
"""Our locale → dateparser's language, where they differ (dateparser has no Kurmanji)."""

_NEXT = {
    "en": ["next", "coming", "this"], "fr": ["prochain", "prochaine", "qui vient"],
    "nl": ["volgende", "komende", "aanstaande"], "de": ["nachsten", "nachste", "kommenden", "kommende", "naechsten"],
    "es": ["proximo", "que viene", "este"], "pt_BR": ["proxima", "proximo", "que vem", "esta"],
    "ro": ["viitoare", "viitor", "urmatoare", "asta"], "sq": ["e ardhshme", "tjeter", "qe vjen"],
    "tr": ["gelecek", "onumuzdeki", "haftaya", "bu"], "ku": ["bê", "tê", "dahatu", "be", "te"],
    "ru": ["следующий", "следующую", "следующее", "следующей", "в следующий", "в следующую", "этот", "эту"],
    "uk": ["наступний", "наступну", "наступного", "цей", "цю"],
    "ka": ["მომავალ", "შემდეგ"], "ar": ["القادم", "القادمه", "الجاي", "الجايه", "اللي جاي"],
    "fa": ["اينده", "بعد", "بعدي", "ديگه"], "ps": ["راتلونكي", "بل"], "ti": ["ዝመጽእ", "ዝመጽእ"],
    "so": ["soo socda", "dambe", "xiga"],
}
_LAST = {
    "en": ["last", "past"], "fr": ["dernier", "derniere", "passe", "passee"], "nl": ["vorige", "afgelopen"],
    "de": ["letzten", "letzte", "vergangenen", "vergangene"], "es": ["pasado", "pasada"],
    "pt_BR": ["passada", "passado"], "ro": ["trecuta", "trecut"], "sq": ["e kaluar", "e shkuar"],
    "tr": ["gecen", "gectigimiz"], "ku": ["bori", "cuyi"], "ru": ["прошлый", "прошлую", "прошлое", "в прошлый", "в прошлую"],
    "uk": ["минулий", "минулу", "минулого"], "ka": ["გასულ", "წინა"], "ar": ["الماضي", "الماضيه", "اللي فات"],
    "fa": ["گذشته", "قبل"], "ps": ["تيره", "تير"], "ti": ["ዝሓለፈ"], "so": ["hore", "la soo dhaafay", "tagay"],
}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december")
_RELATIVE_DAYS = {"0 day ago": 0, "1 day ago": -1, "2 day ago": -2, "in 1 day": 1, "in 2 day": 2}
_ISO = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_NUMERIC = re.compile(r"(?<![\d.])(\d{1,2})\s?([./-])\s?(\d{1,2})\2(\d{4}|\d{2})(?![\d.])")
_DAY_MONTH = re.compile(r"(?<![\d.:])(\d{1,2})[./](\d{1,2})(?![\d.:/])")


@dataclass(frozen=True, slots=True)
class Span:
    entity: str
    value: str
    start: int
    end: int
    extractor: str
    confidence: float = 1.0

    def as_dict(self) -> dict[str, object]:
        return {"entity": self.entity, "value": self.value, "start": self.start, "end": self.end,
                "extractor": self.extractor, "confidence": round(self.confidence, 4)}


class EntityExtractor:
    """All the extractors; built once (from the training data's tables) and shared."""

    def __init__(self, synonyms: Iterable[tuple[str, str, str]] = (),
                 known_words: Iterable[str] = (), *, babel: Iterable[tuple[str, str, str]] | None = None) -> None:
        """``synonyms``: (entity, surface text, value) from the training data (synonym
        tables and annotated examples); ``known_words``: folded words of the training
        examples outside any annotation (never fuzzy-matched to a name); ``babel``: the
        names from CLDR (:func:`babel_names`, computed once at training)."""
        self.known = frozenset(known_words)
        self.names: dict[tuple[str, ...], dict[str, str]] = {}
        for entity, surface, value in (babel_names() if babel is None else babel):
            self._add(entity, surface, value, override=False)
        for entity, surface, value in synonyms:
            self._add(entity, surface, value, override=True)
        self.longest = max((len(k) for k in self.names), default=1)
        single = [k[0] for k in self.names if len(k) == 1 and len(k[0]) >= 5]
        self.by_initial: dict[str, list[str]] = {}
        for word in sorted(set(single)):
            self.by_initial.setdefault(word[0], []).append(word)
        self.stems = {w[:-1]: w for w in single if len(w) >= 5}

    def _add(self, entity: str, surface: str, value: str, *, override: bool) -> None:
        if entity == "country" and not (len(value) == 2 and value.isalpha() and value.isupper()):
            return
        if entity == "language" and value not in LANGUAGES:
            return
        key = tuple(fold(w) for w in _WORD.findall(surface))
        if not key or (len(key) == 1 and len(key[0]) < 2):
            return
        slot = self.names.setdefault(key, {})
        if override or entity not in slot:
            slot[entity] = value

    # -- the whole message ---------------------------------------------------------

    def extract(self, text: str, language: str | None, *, today: date | None = None,
                intent: str | None = None) -> list[dict[str, object]]:
        today = today or date.today()
        found: list[Span] = []
        found += references(text)
        found += _without_overlaps(dates(text, language, today), found)
        found += _without_overlaps(phones(text), found)
        found += _without_overlaps(self.names_in(text, intent), found)
        return [s.as_dict() for s in sorted(found, key=lambda s: s.start)]

    # -- countries and languages ------------------------------------------------------

    def names_in(self, text: str, intent: str | None = None) -> list[Span]:
        tokens = [(m.start(), m.end(), _fold_word(m.group())) for m in _WORD.finditer(text)]
        spans: list[Span] = []
        i = 0
        while i < len(tokens):
            match = self._match_at(tokens, i)
            if match is None:
                i += 1
                continue
            length, values, confidence, how = match
            start, end = tokens[i][0], tokens[i + length - 1][1]
            entity = _choose(values, intent)
            spans.append(Span(entity, values[entity], start, end, how, confidence))
            i += length
        return spans

    def _match_at(self, tokens: list[tuple[int, int, str]], i: int
                  ) -> tuple[int, dict[str, str], float, str] | None:
        for length in range(min(self.longest, len(tokens) - i), 0, -1):
            key = tuple(t[2] for t in tokens[i:i + length])
            if key in self.names:
                return length, self.names[key], 1.0, "gazetteer"
        word = tokens[i][2]
        if len(word) < 4 or word.isdigit():
            return None
        for candidate in _variants(word):
            if (candidate,) in self.names:
                return 1, self.names[(candidate,)], 0.9, "gazetteer"
        if word in self.known:
            return None
        for cut in range(1, min(4, len(word) - 4) + 1):  # a suffix: Sûriyê, საქართველოში
            stem = word[:-cut]
            if (stem,) in self.names and len(stem) >= 5:
                return 1, self.names[(stem,)], 0.85, "gazetteer"
            if stem in self.stems:  # Сирию (Сирия), Grecia → Greciei
                return 1, self.names[(self.stems[stem],)], 0.8, "gazetteer"
        if len(word) >= 5:
            pool = self.by_initial.get(word[0], [])
            best = process.extractOne(word, pool, scorer=fuzz.ratio, score_cutoff=85)
            if best is not None:
                return 1, self.names[(best[0],)], best[1] / 100, "rapidfuzz"
        return None


def _variants(word: str) -> Iterable[str]:
    """Arabic-script words without the clitics they carry (و, ب, ل, ال…)."""
    if "\u0600" <= word[0] <= "\u06ff":
        for prefix in _ARABIC_PREFIXES:
            if word.startswith(prefix) and len(word) - len(prefix) >= 3:
                yield word[len(prefix):]


def _choose(values: dict[str, str], intent: str | None) -> str:
    if len(values) == 1:
        return next(iter(values))
    return "language" if intent == "change_language" else "country"


def _without_overlaps(spans: list[Span], taken: list[Span]) -> list[Span]:
    kept: list[Span] = []
    for span in spans:
        if all(span.end <= t.start or span.start >= t.end for t in taken + kept):
            kept.append(span)
    return kept


@functools.lru_cache(maxsize=1)
def babel_names() -> tuple[tuple[str, str, str], ...]:
    """(entity, name, value): every country's and our languages' names in every one of
    our languages, and each language's own name."""
    found: list[tuple[str, str, str]] = []
    bases = {code.split("_")[0]: code for code in LANGUAGES}
    for ui in (*LANGUAGES, "fa_AF"):
        locale = Locale.parse(ui)
        for code, name in locale.territories.items():
            if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES:
                found.append(("country", name, code))
                for part in re.split(r"\s*[(),]\s*", name):  # "Congo (RDC)" → also "Congo"
                    if part and part != name and len(part) >= 4:
                        found.append(("country", part, code))
        for base, ours in bases.items():
            if base in locale.languages:
                found.append(("language", locale.languages[base], ours))
        for alias, ours in (("prs", "fa"), ("kmr", "ku"), ("pt_BR", "pt_BR"), ("fa_AF", "fa")):
            if alias in locale.languages:
                found.append(("language", locale.languages[alias], ours))
    for code in LANGUAGES:
        found.append(("language", Locale.parse(code).get_display_name(code) or code, code))
        found.append(("language", Locale.parse(code).languages.get(code.split("_")[0], code), code))
    # The CD/CG pair and Côte d'Ivoire read oddly in CLDR's short forms: keep both.
    return tuple(found)


# -- references and phone numbers ---------------------------------------------------------


def references(text: str) -> list[Span]:
    spans = []
    for match in REFERENCE.finditer(text):
        raw = match.group()
        compact = re.sub(r"[\s\-_.]", "", raw).upper()
        exact = raw[:2].isupper() and raw[2:3] == "-" and raw == raw.upper()
        tail = compact[2:]
        if not set(tail) <= _ALPHABET or (not exact and not any(c.isdigit() for c in tail)):
            continue
        spans.append(Span("case_reference", f"{compact[:2]}-{tail}", match.start(), match.end(), "regex",
                          1.0 if exact else 0.9))
    return spans


def phones(text: str, region: str = "BE") -> list[Span]:
    spans = []
    if sum(c.isdigit() for c in text) < 6:
        return spans
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
        value = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        spans.append(Span("phone", value, match.start, match.end, "phonenumbers"))
    return spans


# -- dates --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _DateWords:
    weekdays: dict[str, int]
    months: dict[str, int]
    relative: dict[str, int]
    next: tuple[str, ...]
    last: tuple[str, ...]
    pattern: re.Pattern[str]
    month_pattern: re.Pattern[str] | None


@functools.lru_cache(maxsize=64)
def _date_words(language: str) -> _DateWords:
    weekdays: dict[str, int] = {}
    months: dict[str, int] = {}
    relative: dict[str, int] = {}
    for lang in dict.fromkeys((language, "en")):
        info = _dateparser_info(_DATEPARSER.get(lang, lang))
        for i, day in enumerate(_WEEKDAYS):
            for name in info.get(day, []):
                if len(fold(name)) >= 4 or not fold(name).isascii():
                    weekdays.setdefault(fold(name), i)
        for i, month in enumerate(_MONTHS, start=1):
            for name in info.get(month, []):
                if len(fold(name)) >= 3:
                    months.setdefault(fold(name), i)
        for key, shift in _RELATIVE_DAYS.items():
            for name in info.get("relative-type", {}).get(key, []):
                relative.setdefault(fold(name), shift)
        try:
            locale = Locale.parse(lang)
        except (ValueError, LookupError):
            continue
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for i, name in locale.days[context][width].items():
                    if len(fold(name)) >= 4 or not fold(name).isascii():
                        weekdays.setdefault(fold(name), i)
                        if len(fold(name)) >= 5:  # среда → в среду, Kurmanji sêşem → sêşemê
                            weekdays.setdefault(fold(name)[:-1], i)
                for i, name in locale.months[context][width].items():
                    if len(fold(name).rstrip(".")) >= 3:
                        months.setdefault(fold(name).rstrip("."), i)
    nxt = tuple(fold(w) for w in _NEXT.get(language, []) + _NEXT["en"])
    last = tuple(fold(w) for w in _LAST.get(language, []) + _LAST["en"])

    def alternation(words: Iterable[str]) -> str:
        return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True) if w)

    modifiers = alternation(nxt + last)
    day_names = alternation(weekdays)
    rel = alternation(relative)
    pieces = []
    if day_names:
        # (next|last)? (on|le|el…)? WEEKDAY (next|last)?
        pieces.append(rf"(?:(?P<pre>{modifiers})\s+)?(?P<weekday>{day_names})\w{{0,3}}(?:\s+(?P<post>{modifiers}))?")
    if rel:
        pieces.append(rf"(?P<relative>{rel})")
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(pieces) + r")(?!\w)") if pieces else re.compile(r"(?!x)x")
    month_pattern = None
    if months:
        month_names = alternation(months)
        month_pattern = re.compile(
            rf"(?<!\w)(?:(?P<d1>\d{{1,2}})(?:st|nd|rd|th|er|e|º|\.)?\s*(?:de\s+|of\s+)?(?P<m1>{month_names})\.?"
            rf"(?:\s*(?:de\s+|,\s*)?(?P<y1>\d{{4}}))?"
            rf"|(?P<m2>{month_names})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?(?:\s*,?\s*(?P<y2>\d{{4}}))?)(?!\w)"
        )
    return _DateWords(weekdays, months, relative, nxt, last, pattern, month_pattern)


@functools.lru_cache(maxsize=64)
def _dateparser_info(code: str) -> dict:  # type: ignore[type-arg]
    import importlib

    try:
        return importlib.import_module(f"dateparser.data.date_translation_data.{code}").info  # type: ignore[no-any-return]
    except ImportError:
        return {}


@functools.lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    return " " if ch.isspace() else fold(ch)


@functools.lru_cache(maxsize=65536)
def _fold_word(word: str) -> str:
    return fold(word)


def _folded_with_map(text: str) -> tuple[str, list[int]]:
    """``fold(text)`` character by character, with each folded character's offset in
    ``text`` (folding may change lengths: ß → ss)."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        f = _fold_char(ch)
        out.append(f)
        if len(f) == 1:
            where.append(i)
        else:
            where.extend([i] * len(f))
    where.append(len(text))
    return "".join(out), where


def dates(text: str, language: str | None, today: date) -> list[Span]:
    spans: list[Span] = []
    for match in _ISO.finditer(text):
        _add_date(spans, match.start(), match.end(), _safe_date(*map(int, match.groups())), 1.0)
    for match in _NUMERIC.finditer(text):
        day, _, month, year = match.groups()
        y = int(year) + (0 if len(year) == 4 else (1900 if int(year) >= 69 else 2000))
        _add_date(spans, match.start(), match.end(), _safe_date(y, int(month), int(day)), 1.0)
    for match in _DAY_MONTH.finditer(text):
        day, month = int(match.group(1)), int(match.group(2))
        candidate = _safe_date(today.year, month, day)
        if candidate is not None and candidate < today:
            candidate = _safe_date(today.year + 1, month, day)
        _add_date(spans, match.start(), match.end(), candidate, 0.7)
    words = _date_words(language if language in LANGUAGES else "en")
    folded, where = _folded_with_map(text)
    if words.month_pattern is not None and any(c.isdigit() for c in text):
        for match in words.month_pattern.finditer(folded):
            start, end = where[match.start()], where[match.end()]
            _add_date(spans, start, end, _month_date(match, words, text[start:end], language, today), 1.0)
    for match in words.pattern.finditer(folded):
        start, end = where[match.start()], where[match.end()]
        if match.group("relative"):
            value = today + timedelta(days=words.relative[match.group("relative")])
        else:
            weekday = words.weekdays[match.group("weekday")]
            past = any(m in words.last for m in (match.group("pre"), match.group("post")) if m)
            if past:
                value = today - timedelta(days=(today.weekday() - weekday - 1) % 7 + 1)
            else:
                value = today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)
        _add_date(spans, start, end, value, 0.9)
    return spans


def warm_up(languages: Iterable[str] = LANGUAGES) -> None:
    """Load each language's date words and dateparser's data now (the first month-name
    date of a language otherwise costs dateparser 50–300 ms)."""
    for language in languages:
        try:
            words = _date_words(language)
            if words.months:
                name = min(words.months, key=lambda m: (words.months[m] != 3, len(m)))
                _month_date(words.month_pattern.search(f"3 {name} 2025"), words, f"3 {name} 2025",  # type: ignore[union-attr]
                            language, date(2025, 1, 1))
        except Exception:  # noqa: BLE001 - a warm-up never breaks anything
            continue


def _month_date(match: re.Match[str], words: _DateWords, span: str, language: str | None,
                today: date) -> date | None:
    day = int(match.group("d1") or match.group("d2"))
    month = words.months[match.group("m1") or match.group("m2")]
    year_text = match.group("y1") or match.group("y2")
    parsed = None
    lang = _DATEPARSER.get(language or "en", language or "en")
    if _dateparser_info(lang):
        result = dateparser.parse(span, languages=list(dict.fromkeys([lang, "en"])), settings={
            "DATE_ORDER": "DMY", "PREFER_DATES_FROM": "future", "RETURN_AS_TIMEZONE_AWARE": False,
            "RELATIVE_BASE": datetime.combine(today, time(12)), "REQUIRE_PARTS": ["day", "month"],
        })
        parsed = result.date() if result else None
    if parsed is None or parsed.month != month or parsed.day != day:  # our reading of the span wins
        year = int(year_text) if year_text else today.year
        parsed = _safe_date(year, month, day)
        if parsed is not None and not year_text and parsed < today:
            parsed = _safe_date(year + 1, month, day)
    return parsed


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _add_date(spans: list[Span], start: int, end: int, value: date | None, confidence: float) -> None:
    if value is None or not 1900 <= value.year <= 2100:
        return
    if any(not (end <= s.start or start >= s.end) for s in spans):
        return
    spans.append(Span("date", value.isoformat(), start, end, "dateparser", confidence))
