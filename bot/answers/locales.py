"""The turn's locale as Babel sees it, and how a list of answers is written in it."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from babel import Locale, UnknownLocaleError

from bot.i18n import DEFAULT_LOCALE, current_locale


@lru_cache(maxsize=64)
def babel_locale(code: str) -> Locale:
    try:
        return Locale.parse(code.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return Locale.parse(DEFAULT_LOCALE)


def turn_locale() -> Locale:
    return babel_locale(current_locale())


_COMMAS = {"ar": "\u060c ", "fa": "\u060c ", "ps": "\u060c ", "ti": "\u1363 "}
"""The comma between listed answers where the script has its own (، ፣)."""


def join(items: Iterable[str]) -> str:
    return _COMMAS.get(current_locale().split("_")[0], ", ").join(items)
