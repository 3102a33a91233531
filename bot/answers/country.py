"""``country``: a country one can be a national of, named in any language we know, by
ISO code, by a common alias, or with a typo; or one of the question's extra choices
(e.g. "stateless"). Stored as ISO 3166 alpha-2 (or the extra choice's value)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from functools import lru_cache
from typing import Any

from babel.core import get_global

from bot.i18n import DEFAULT_LOCALE, current_locale, gettext, supported_locales

from . import choice
from .base import AnswerType, Choice, Invalid, Result, Rules, Valid
from .locales import babel_locale, join, turn_locale
from .matching import Index, build_index, key, words

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
    names = babel_locale(DEFAULT_LOCALE).territories
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
        for code, name in babel_locale(locale_code).territories.items():
            if code in codes:
                for variant in _name_variants(name):
                    yield variant, code


def _alias_overrides() -> dict[str, frozenset[str]]:
    overrides = {
        key(alias): frozenset({code}) for code, aliases in _ALIASES.items() for alias in aliases
    }
    overrides.update({key(name): codes for name, codes in _AMBIGUOUS_NAMES.items()})
    return overrides


@lru_cache(maxsize=32)
def _country_index(locale_codes: tuple[str, ...]) -> Index:
    return build_index(_country_pairs(locale_codes), _alias_overrides())


def _primary_country_index() -> Index:
    """Names in the turn's language and English: checked first, so rarer clashes in
    other languages never shadow them."""
    return _country_index(tuple(dict.fromkeys((current_locale(), DEFAULT_LOCALE))))


def _broad_country_index() -> Index:
    codes = {current_locale(), *supported_locales(), *_EXTRA_NAME_LOCALES}
    return _country_index(tuple(sorted(codes)))


def _without_article(text: str) -> str:
    typed = words(text)
    if len(typed) > 1 and typed[0] in _ARTICLES:
        return "".join(typed[1:])
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
    text_keys = [k for k in (key(text), _without_article(text)) if k]
    for index in (_primary_country_index(), _broad_country_index()):
        for text_key in text_keys:
            if hits := (index.fuzzy(text_key) if fuzzy else index.lookup(text_key)):
                return hits
    return frozenset()


def _country_or_extra(
    choices: tuple[Choice, ...], text: str
) -> tuple[str | None, frozenset[str]]:
    """An extra choice's value, or else candidate country codes; exact names in
    either list win over typo matches in the other."""
    for fuzzy in (False, True):
        extra = choice.candidates(choices, text, numbers=False, fuzzy=fuzzy)
        if len(extra) == 1:
            return next(iter(extra)), frozenset()
        if hits := _country_candidates(text, fuzzy=fuzzy):
            return None, hits
    return None, frozenset()


def _country_name(code: str) -> str:
    for locale in (turn_locale(), babel_locale(DEFAULT_LOCALE)):
        if name := locale.territories.get(code):
            return name
    return code


def validate_country(rules: Rules, answer: str, today: date) -> Result:
    text = answer.strip()
    extra, hits = _country_or_extra(rules.choices, text) if text else (None, frozenset())
    if extra is not None:
        return Valid(extra, choice.title(rules.choices, extra))
    if len(hits) == 1:
        (code,) = hits
        return Valid(code, _country_name(code))
    if hits:
        names = sorted(_country_name(code) for code in hits)
        return Invalid(
            gettext(
                "Which country do you mean: {options}? Please type its full name.",
                options=join(names),
            )
        )
    message = gettext(
        "I could not find that country. Please type its full name, for example {example}.",
        example=_country_name("BE"),
    )
    if rules.choices:
        extra_options = choice.all_titles(rules.choices)
        message += " " + gettext("You can also answer: {options}.", options=extra_options)
    return Invalid(message)


def display_country(rules: Rules, value: Any) -> str:
    if any(c.value == value for c in rules.choices):
        return choice.title(rules.choices, value)
    return _country_name(str(value))


COUNTRY = AnswerType(validate_country, display_country, warm_up_answer="Belgium")
