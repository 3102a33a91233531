"""Typed answers: turn what the applicant typed or clicked into a value, or say what is wrong.

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
| consent | bool (True only for a clear yes)|
| date    | ISO date str "YYYY-MM-DD"      |
| number  | int (or float if not integer)  |
| phone   | E.164 str                      |
| email   | normalised str                 |
| country | ISO 3166 alpha-2 str, or an extra choice's value (e.g. "stateless") |
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import dateparser
import phonenumbers
from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_date
from babel.numbers import format_decimal, get_decimal_symbol
from dateparser.data.languages_info import language_order
from email_validator import EmailNotValidError, validate_email
from rapidfuzz import fuzz, process

from bot.i18n import (
    DEFAULT_LOCALE,
    N_,
    current_locale,
    gettext,
    ngettext,
    supported_locales,
    use_locale,
    word_set,
)


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

# Words people type, "|"-separated, for word_set(); translators add their language's words.
YES_WORDS = N_("yes|y|yeah|yep|yes please|ok|okay|sure|correct|right|of course|agree|i agree")
NO_WORDS = N_("no|n|nope|not|no thanks|incorrect|wrong|disagree|i disagree")
AND_WORDS = N_("and")

# Always recognised in multiple-choice answers, whatever the turn's catalog says.
_LIST_WORDS = frozenset({"and", "et", "en", "und"})

_FUZZY_CUTOFF = 85.0
_FUZZY_TIE = 5.0  # candidates this close to the best score make a typo ambiguous
_FUZZY_MIN_LEN = 4


def validate(rules: Rules, answer: str, *, today: date) -> Valid | Invalid:
    return _validator(rules.type)(rules, answer or "", today)


def display(rules: Rules, value: Any) -> str:
    return _renderer(rules.type)(rules, value)


# --------------------------------------------------------------------------- matching keys


_NON_WORD = re.compile(r"[\W_]+")


def _words(text: str) -> list[str]:
    """Case-, accent- and punctuation-insensitive words of ``text``."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return [w for w in _NON_WORD.split(bare.casefold()) if w]


def _key(text: str) -> str:
    return "".join(_words(text))


def _keys(words: Iterable[str]) -> frozenset[str]:
    return frozenset(k for k in map(_key, words) if k)


@dataclass(frozen=True, slots=True)
class _Index:
    """Normalised names → the values they may mean, with fuzzy lookup for typos."""

    exact: Mapping[str, frozenset[str]]
    names: tuple[str, ...]
    targets: tuple[frozenset[str], ...]

    def lookup(self, key: str) -> frozenset[str]:
        return self.exact.get(key, frozenset())

    def fuzzy(self, key: str) -> frozenset[str]:
        if len(key) < _FUZZY_MIN_LEN:
            return frozenset()
        hits = process.extract(
            key, self.names, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF, limit=8
        )
        if not hits:
            return frozenset()
        best = hits[0][1]
        close = (self.targets[i] for _, score, i in hits if score >= best - _FUZZY_TIE)
        return frozenset[str]().union(*close)


def _build_index(
    pairs: Iterable[tuple[str, str]], overrides: Mapping[str, frozenset[str]] | None = None
) -> _Index:
    exact: dict[str, set[str]] = {}
    for name, target in pairs:
        key = _key(name)
        if key:
            exact.setdefault(key, set()).add(target)
    frozen = {k: frozenset(v) for k, v in exact.items()}
    frozen.update(overrides or {})
    return _Index(frozen, tuple(frozen), tuple(frozen.values()))


# --------------------------------------------------------------------------- locale helpers


@lru_cache(maxsize=64)
def _babel(code: str) -> Locale:
    try:
        return Locale.parse(code.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return Locale.parse(DEFAULT_LOCALE)


def _locale() -> Locale:
    return _babel(current_locale())


_COMMAS = {"ar": "\u060c ", "fa": "\u060c ", "ps": "\u060c ", "ti": "\u1363 "}
"""The comma between listed answers where the script has its own (، ፣)."""


def _join(items: Iterable[str]) -> str:
    return _COMMAS.get(current_locale().split("_")[0], ", ").join(items)


# --------------------------------------------------------------------------- text


def _validate_text(rules: Rules, answer: str, today: date) -> Result:
    text = answer.strip()
    if not any(ch.isalnum() for ch in text):
        return Invalid(gettext("Please type your answer using letters or numbers."))
    if len(text) < rules.min_length:
        return Invalid(
            ngettext(
                "Please type at least {n} character.",
                "Please type at least {n} characters.",
                rules.min_length,
            )
        )
    if len(text) > rules.max_length:
        return Invalid(
            ngettext(
                "Please keep it to {n} character at most (you typed {count}).",
                "Please keep it to {n} characters at most (you typed {count}).",
                rules.max_length,
                count=len(text),
            )
        )
    return Valid(text, text)


def _display_text(rules: Rules, value: Any) -> str:
    return str(value)


# --------------------------------------------------------------------------- choice


@lru_cache(maxsize=256)
def _choice_index(choices: tuple[Choice, ...], locale: str) -> _Index:
    pairs = [
        (name, c.value) for c in choices for name in (c.shown(), c.title, c.value)
    ]
    return _build_index(pairs)


def _choice_candidates(
    choices: tuple[Choice, ...], text: str, *, numbers: bool = True, fuzzy: bool = True
) -> frozenset[str]:
    text = text.strip()
    for choice in choices:
        if choice.value == text:
            return frozenset({choice.value})
    if numbers and text.isdigit() and 1 <= int(text) <= len(choices):
        return frozenset({choices[int(text) - 1].value})
    key = _key(text)
    if not key:
        return frozenset()
    index = _choice_index(choices, current_locale())
    hits = index.lookup(key)
    return hits or (index.fuzzy(key) if fuzzy else hits)


def _choice_title(choices: Sequence[Choice], value: str) -> str:
    for choice in choices:
        if choice.value == value:
            return choice.shown()
    return str(value)


def _choice_titles(choices: Sequence[Choice], values: Iterable[str]) -> str:
    return _join(_choice_title(choices, v) for v in values)


def _all_titles(choices: Sequence[Choice]) -> str:
    return _choice_titles(choices, (c.value for c in choices))


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
    whole = _choice_candidates(choices, text, fuzzy=False)
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
    exact = _choice_candidates(choices, part, fuzzy=False)
    if len(exact) == 1:
        return exact
    pieces = [_choice_candidates(choices, piece) for piece in _pieces(part)]
    if pieces and all(len(hits) == 1 for hits in pieces):
        return frozenset[str]().union(*pieces)
    whole = _choice_candidates(choices, part)
    return whole if len(whole) == 1 else None


def _pieces(part: str) -> list[str]:
    pieces: list[str] = []
    for piece in _list_separator().split(part):
        numbers = piece.split()
        pieces.extend(numbers if numbers and all(n.isdigit() for n in numbers) else [piece])
    return [p for p in pieces if p.strip()]


def _validate_choice(rules: Rules, answer: str, today: date) -> Result:
    choices = rules.choices
    if rules.multiple:
        values = _multi_values(choices, answer)
        if values:
            ordered = [c.value for c in choices if c.value in values]
            return Valid(ordered, _choice_titles(choices, ordered))
        return Invalid(
            gettext(
                "Please choose one or more of these options, separated by commas: {options}.",
                options=_all_titles(choices),
            )
        )
    hits = _choice_candidates(choices, answer)
    if len(hits) == 1:
        (value,) = hits
        return Valid(value, _choice_title(choices, value))
    if hits:
        ordered = [c.value for c in choices if c.value in hits]
        return Invalid(
            gettext("Which one do you mean: {options}?", options=_choice_titles(choices, ordered))
        )
    return Invalid(
        gettext(
            "Please choose one of these options: {options}.",
            options=_all_titles(choices),
        )
    )


def _display_choice(rules: Rules, value: Any) -> str:
    if isinstance(value, list):
        return _choice_titles(rules.choices, value)
    return _choice_title(rules.choices, value)


# --------------------------------------------------------------------------- yes / no


def _yes_no(answer: str) -> bool | None:
    text = answer.strip()
    if text in ("yes", "no"):
        return text == "yes"
    key = _key(text)
    is_yes, is_no = key in _keys(word_set(YES_WORDS)), key in _keys(word_set(NO_WORDS))
    if is_yes == is_no:
        return None
    return is_yes


def _validate_yes_no(rules: Rules, answer: str, today: date) -> Result:
    value = _yes_no(answer)
    if value is None:
        return Invalid(gettext("Please answer yes or no."))
    return Valid(value, _display_yes_no(rules, value))


def _validate_consent(rules: Rules, answer: str, today: date) -> Result:
    value = _yes_no(answer)
    if value is None:
        return Invalid(gettext("Please answer yes if you agree, or no if you do not."))
    return Valid(value, _display_yes_no(rules, value))


def _display_yes_no(rules: Rules, value: Any) -> str:
    return gettext("Yes") if value else gettext("No")


# --------------------------------------------------------------------------- date


_ISO_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_NUMERIC_DATE = re.compile(r"^(\d{1,2})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{2}|\d{4})$")
_DATEPARSER_LANGUAGES = frozenset(language_order)


def _numeric_date(text: str) -> date | None:
    """Year-first (ISO, what date pickers send) or day-first numeric dates, never month-first."""
    if match := _ISO_DATE.match(text):
        year, month, day = map(int, match.groups())
    elif match := _NUMERIC_DATE.match(text):
        day, month, year = map(int, match.groups())
        if len(match.group(3)) == 2:
            year += 1900 if year >= 69 else 2000  # the strptime %y pivot
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _is_numeric_date(text: str) -> bool:
    return bool(_ISO_DATE.match(text) or _NUMERIC_DATE.match(text))


def _dateparser_languages() -> list[str]:
    language = _locale().language
    return list(dict.fromkeys(lang for lang in (language, "en") if lang in _DATEPARSER_LANGUAGES))


def _parse_date(text: str, today: date) -> date | None:
    if _is_numeric_date(text):
        return _numeric_date(text)
    parsed = dateparser.parse(
        text,
        languages=_dateparser_languages(),
        settings={
            "DATE_ORDER": "DMY",
            "PREFER_DAY_OF_MONTH": "first",
            "RETURN_AS_TIMEZONE_AWARE": False,
            "RELATIVE_BASE": datetime.combine(today, time(12)),
        },
    )
    return parsed.date() if parsed else None


def _long_date(value: date) -> str:
    return format_date(value, format="long", locale=_locale())


def _date_range_error(value: date, low: date | None, high: date | None) -> Invalid | None:
    if low and high and not low <= value <= high:
        return Invalid(
            gettext(
                "Please give a date between {start} and {end}.",
                start=_long_date(low),
                end=_long_date(high),
            )
        )
    if low and value < low:
        return Invalid(gettext("Please give a date on or after {date}.", date=_long_date(low)))
    if high and value > high:
        return Invalid(gettext("Please give a date on or before {date}.", date=_long_date(high)))
    return None


def _validate_date(rules: Rules, answer: str, today: date) -> Result:
    text = answer.strip()
    parsed = _parse_date(text, today) if text else None
    if parsed is None:
        sample = max(min(today, rules.max_date or today), rules.min_date or today)
        return Invalid(
            gettext(
                "I could not read that date. "
                "Please write it as day/month/year, for example {example}.",
                example=sample.strftime("%d/%m/%Y"),
            )
        )
    if error := _date_range_error(parsed, rules.min_date, rules.max_date):
        return error
    return Valid(parsed.isoformat(), _long_date(parsed))


def _display_date(rules: Rules, value: Any) -> str:
    return _long_date(date.fromisoformat(str(value)))


# --------------------------------------------------------------------------- number


_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)*$")
_DIGIT_GROUP_SPACE = re.compile(r"(?<=\d)[\s\u00a0\u202f'’_](?=\d{3}(?!\d))")


def _parse_number(text: str) -> Decimal | None:
    text = _DIGIT_GROUP_SPACE.sub("", text.strip())
    if not _NUMBER.match(text):
        return None
    try:
        return Decimal(_plain_number(text))
    except InvalidOperation:
        return None


def _plain_number(text: str) -> str:
    """``1.234,5`` / ``1,234.5`` / ``3,5`` → a string ``Decimal`` understands."""
    separators = [ch for ch in text if ch in ",."]
    if not separators:
        return text
    if len(set(separators)) == 2:
        decimal_mark = separators[-1]
        group_mark = "." if decimal_mark == "," else ","
        return text.replace(group_mark, "").replace(decimal_mark, ".")
    mark = separators[0]
    if len(separators) > 1:
        return text.replace(mark, "")
    whole, fraction = text.split(mark)
    looks_grouped = len(fraction) == 3 and whole.lstrip("+-") not in ("", "0")
    if looks_grouped and mark != get_decimal_symbol(_locale()):
        return whole + fraction
    return f"{whole}.{fraction}"


def _format_number(value: float | int | Decimal) -> str:
    return format_decimal(value, locale=_locale())


def _number_hint(rules: Rules) -> Invalid:
    low, high = rules.min_value, rules.max_value
    if low is not None and high is not None:
        return Invalid(
            gettext(
                "Please type a number between {min} and {max}.",
                min=_format_number(low),
                max=_format_number(high),
            )
        )
    if low is not None:
        return Invalid(
            gettext("Please type a number that is {min} or more.", min=_format_number(low))
        )
    if high is not None:
        return Invalid(
            gettext("Please type a number that is {max} or less.", max=_format_number(high))
        )
    return Invalid(gettext("Please type a number using digits, for example 3."))


def _validate_number(rules: Rules, answer: str, today: date) -> Result:
    parsed = _parse_number(answer)
    if parsed is None:
        return _number_hint(rules)
    integral = parsed == parsed.to_integral_value()
    if rules.integer and not integral:
        return Invalid(gettext("Please type a whole number, without decimals."))
    if (rules.min_value is not None and parsed < Decimal(str(rules.min_value))) or (
        rules.max_value is not None and parsed > Decimal(str(rules.max_value))
    ):
        return _number_hint(rules)
    value: int | float = int(parsed) if integral else float(parsed)
    return Valid(value, _format_number(value))


def _display_number(rules: Rules, value: Any) -> str:
    return _format_number(value)


# --------------------------------------------------------------------------- phone


_PHONE_CHARS = re.compile(r"^[\d\s+()./\-\u00a0]+$")


def _phone_example(region: str) -> str:
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        return "+32 470 12 34 56"
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _validate_phone(rules: Rules, answer: str, today: date) -> Result:
    text = answer.strip()
    number = None
    if _PHONE_CHARS.match(text):  # letters would be read as a keypad "vanity" number
        try:
            number = phonenumbers.parse(text, rules.default_region)
        except phonenumbers.NumberParseException:
            number = None
    if number is None or not phonenumbers.is_valid_number(number):
        return Invalid(
            gettext(
                "That does not look like a valid phone number. "
                "Please type it with the country code, for example {example}.",
                example=_phone_example(rules.default_region),
            )
        )
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Valid(e164, _display_phone(rules, e164))


def _display_phone(rules: Rules, value: Any) -> str:
    try:
        number = phonenumbers.parse(str(value), rules.default_region)
    except phonenumbers.NumberParseException:
        return str(value)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# --------------------------------------------------------------------------- email


def _validate_email(rules: Rules, answer: str, today: date) -> Result:
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


# --------------------------------------------------------------------------- country


# Codes Babel knows that are not countries one can be a national of.
_NOT_COUNTRIES = frozenset(
    {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"}
)
# Locales whose country names are always understood, whatever the turn's language.
_EXTRA_NAME_LOCALES = ("en", "fr", "nl", "de", "es", "pt", "ar", "ru", "tr")
# Leading articles people type before a country name, in any of those languages.
_ARTICLES = frozenset({"the", "la", "le", "les", "l", "de", "het", "el", "die", "der"})

_ALIASES: dict[str, tuple[str, ...]] = {
    "CD": (
        "DR Congo", "DRC", "RDC", "Congo (Kinshasa)", "Democratic Republic of the Congo",
        "Democratic Republic of Congo", "République démocratique du Congo", "Zaire",
    ),
    "CG": ("Congo (Brazzaville)", "Republic of the Congo", "Congo Republic"),
    "CI": ("Ivory Coast", "Cote d'Ivoire"),
    "TR": ("Türkiye", "Turkey", "Turkiye"),
    "RU": ("Russia", "Russian Federation"),
    "GB": (
        "UK", "U.K.", "England", "Scotland", "Wales", "Northern Ireland", "Great Britain",
        "Britain",
    ),
    "US": ("USA", "U.S.A.", "US", "America", "United States of America"),
    "NL": ("Holland", "The Netherlands"),
    "GN": ("Guinea Conakry", "Guinée Conakry"),
    "CZ": ("Czech Republic",),
    "SZ": ("Swaziland",),
    "MK": ("Macedonia",),
    "CV": ("Cabo Verde",),
    "TL": ("East Timor",),
    "PS": ("Palestine",),
    "VA": ("Vatican",),
    "AE": ("UAE", "Emirates"),
    "BA": ("Bosnia",),
    "HK": ("Hong Kong",),
    "MO": ("Macau", "Macao"),
    "KR": ("Korea, South", "Republic of Korea"),
    "KP": ("Korea, North",),
    "MD": ("Moldova", "Moldau", "Moldawien", "Moldavia", "Moldavie", "Moldavië"),
    "GE": ("Sakartvelo",),
}
# Names that fit several countries: the applicant is asked to be more precise.
_AMBIGUOUS_NAMES: dict[str, frozenset[str]] = {
    "congo": frozenset({"CD", "CG"}),
    "korea": frozenset({"KR", "KP"}),
    "virgin islands": frozenset({"VG", "VI"}),
}


@lru_cache(maxsize=1)
def _country_codes() -> frozenset[str]:
    names = _babel(DEFAULT_LOCALE).territories
    return frozenset(
        code for code in names if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    )


@lru_cache(maxsize=1)
def _alpha3() -> dict[str, str]:
    codes = _country_codes()
    aliases: dict[str, list[str]] = get_global("territory_aliases")
    return {
        alias: targets[0]
        for alias, targets in aliases.items()
        if len(alias) == 3 and alias.isalpha() and len(targets) == 1 and targets[0] in codes
    }


def _name_variants(name: str) -> Iterable[str]:
    """``Myanmar (Burma)`` is also ``Myanmar`` and ``Burma``."""
    yield name
    if match := re.fullmatch(r"\s*(.+?)\s*\((.+)\)\s*", name):
        yield from match.groups()


def _country_pairs(locale_codes: Iterable[str]) -> Iterable[tuple[str, str]]:
    codes = _country_codes()
    for locale_code in locale_codes:
        for code, name in _babel(locale_code).territories.items():
            if code in codes:
                for variant in _name_variants(name):
                    yield variant, code


def _alias_overrides() -> dict[str, frozenset[str]]:
    overrides = {
        _key(alias): frozenset({code}) for code, aliases in _ALIASES.items() for alias in aliases
    }
    overrides.update({_key(name): codes for name, codes in _AMBIGUOUS_NAMES.items()})
    return overrides


@lru_cache(maxsize=32)
def _country_index(locale_codes: tuple[str, ...]) -> _Index:
    return _build_index(_country_pairs(locale_codes), _alias_overrides())


def warm_up(today: date) -> None:
    """Load what answers need from CLDR, dateparser and phonenumbers now, when the
    server starts, rather than in some applicant's turn (~0.1 s each the first time,
    during which every other conversation waits)."""
    samples = {"country": "Belgium", "date": "1 2 2000", "phone": "0470 12 34 56", "yes_no": "yes"}
    for locale_code in supported_locales():
        with use_locale(locale_code):
            for kind, answer in samples.items():
                validate(Rules(kind), answer, today=today)


def _primary_country_index() -> _Index:
    """Names in the turn's language and English: checked first, so rarer clashes in
    other languages never shadow them."""
    return _country_index(tuple(dict.fromkeys((current_locale(), DEFAULT_LOCALE))))


def _broad_country_index() -> _Index:
    codes = {current_locale(), *supported_locales(), *_EXTRA_NAME_LOCALES}
    return _country_index(tuple(sorted(codes)))


def _without_article(text: str) -> str:
    words = _words(text)
    if len(words) > 1 and words[0] in _ARTICLES:
        return "".join(words[1:])
    return ""


def _country_by_code(text: str) -> str | None:
    if len(text) == 2 and text.isascii() and text.upper() in _country_codes():
        return text.upper()
    if len(text) == 3 and text.isascii() and text.isupper():
        return _alpha3().get(text)
    return None


def _country_candidates(text: str, *, fuzzy: bool) -> frozenset[str]:
    if code := _country_by_code(text):
        return frozenset({code})
    keys = [k for k in (_key(text), _without_article(text)) if k]
    for index in (_primary_country_index(), _broad_country_index()):
        for key in keys:
            if hits := (index.fuzzy(key) if fuzzy else index.lookup(key)):
                return hits
    return frozenset()


def _country_or_extra(
    choices: tuple[Choice, ...], text: str
) -> tuple[str | None, frozenset[str]]:
    """An extra choice's value, or else candidate country codes; exact names in
    either list win over typo matches in the other."""
    for fuzzy in (False, True):
        extra = _choice_candidates(choices, text, numbers=False, fuzzy=fuzzy)
        if len(extra) == 1:
            return next(iter(extra)), frozenset()
        if hits := _country_candidates(text, fuzzy=fuzzy):
            return None, hits
    return None, frozenset()


def _country_name(code: str) -> str:
    return _locale().territories.get(code) or _babel(DEFAULT_LOCALE).territories.get(code) or code


def _validate_country(rules: Rules, answer: str, today: date) -> Result:
    text = answer.strip()
    extra, hits = _country_or_extra(rules.choices, text) if text else (None, frozenset())
    if extra is not None:
        return Valid(extra, _choice_title(rules.choices, extra))
    if len(hits) == 1:
        (code,) = hits
        return Valid(code, _country_name(code))
    if hits:
        names = sorted(_country_name(code) for code in hits)
        return Invalid(
            gettext(
                "Which country do you mean: {options}? Please type its full name.",
                options=_join(names),
            )
        )
    message = gettext(
        "I could not find that country. Please type its full name, for example {example}.",
        example=_country_name("BE"),
    )
    if rules.choices:
        extra_options = _all_titles(rules.choices)
        message += " " + gettext("You can also answer: {options}.", options=extra_options)
    return Invalid(message)


def _display_country(rules: Rules, value: Any) -> str:
    if any(c.value == value for c in rules.choices):
        return _choice_title(rules.choices, value)
    return _country_name(str(value))


# --------------------------------------------------------------------------- dispatch


_Validator = Callable[[Rules, str, date], Result]
_Renderer = Callable[[Rules, Any], str]

_TYPES: dict[str, tuple[_Validator, _Renderer]] = {
    "text": (_validate_text, _display_text),
    "choice": (_validate_choice, _display_choice),
    "yes_no": (_validate_yes_no, _display_yes_no),
    "consent": (_validate_consent, _display_yes_no),
    "date": (_validate_date, _display_date),
    "number": (_validate_number, _display_number),
    "phone": (_validate_phone, _display_phone),
    "email": (_validate_email, _display_text),
    "country": (_validate_country, _display_country),
}


def _handlers(kind: str) -> tuple[_Validator, _Renderer]:
    try:
        return _TYPES[kind]
    except KeyError:
        raise ValueError(f"unknown answer type {kind!r}") from None


def _validator(kind: str) -> _Validator:
    return _handlers(kind)[0]


def _renderer(kind: str) -> _Renderer:
    return _handlers(kind)[1]
