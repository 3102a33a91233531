"""Translations, chosen per turn.

The locale of the turn being handled lives in a ``ContextVar`` (never process-wide), so
concurrent conversations in different languages never see each other's language. Message
ids are the English source texts, the gettext way; flows and code both go through
:func:`gettext`. Catalogs are read from ``locales/<lang>/LC_MESSAGES/messages.mo`` when a
compiled file is there and fresh, and otherwise compiled in memory from the ``.po`` file,
so a fresh checkout works without a build step.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

log = logging.getLogger(__name__)

DEFAULT_LOCALE = "en"
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"

RTL_LANGUAGES = frozenset({"ar", "fa", "ps", "he", "ur"})
"""Languages written right to left (by their base code: ``fa_AF`` is ``fa``)."""

_current: ContextVar[str] = ContextVar("intake_locale", default=DEFAULT_LOCALE)
_reported_missing: set[tuple[str, str]] = set()


def supported_locales() -> tuple[str, ...]:
    """English plus every locale that has a catalog, in a stable order."""
    return _supported(LOCALES_DIR)


@lru_cache(maxsize=4)
def _supported(root: Path) -> tuple[str, ...]:
    found = sorted(p.parent.parent.name for p in root.glob("*/LC_MESSAGES/messages.po"))
    return (DEFAULT_LOCALE, *[code for code in found if code != DEFAULT_LOCALE])


def negotiate(*hints: str | None) -> str | None:
    """The supported locale that best fits the hints (``fr-BE``, ``pt_BR``, ``nl``…)."""
    available = supported_locales()
    for hint in hints:
        if not hint:
            continue
        wanted = [hint.replace("-", "_"), hint.replace("-", "_").split("_")[0]]
        found = negotiate_locale(wanted, list(available), sep="_")
        if found:
            return found
    return None


def current_locale() -> str:
    return _current.get()


@contextlib.contextmanager
def use_locale(code: str) -> Iterator[None]:
    token = _current.set(code)
    try:
        yield
    finally:
        _current.reset(token)


def set_locale(code: str) -> None:
    _current.set(code)


def is_rtl(code: str | None) -> bool:
    return bool(code) and code.replace("-", "_").split("_")[0].lower() in RTL_LANGUAGES  # type: ignore[union-attr]


def native_name(code: str) -> str:
    """A language's name in its own language and script (for the language picker)."""
    try:
        name = Locale.parse(code).get_display_name(code) or code
    except (ValueError, UnknownLocaleError):
        return code
    return name[:1].upper() + name[1:]


@lru_cache(maxsize=64)
def translations(code: str) -> NullTranslations:
    if code == DEFAULT_LOCALE:
        return NullTranslations()
    folder = LOCALES_DIR / code / "LC_MESSAGES"
    po, mo = folder / "messages.po", folder / "messages.mo"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fh:
            return Translations(fp=fh)
    if not po.exists():
        log.warning("no catalog for locale %s; using English", code)
        return NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=code)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf)


def _render(source: str, translated: str, params: dict[str, Any]) -> str:
    if not params:
        return translated
    try:
        return translated.format_map(params)
    except (KeyError, IndexError, ValueError):
        log.error("placeholder mismatch in %s translation of %r", current_locale(), source)
        return source.format_map(params)


def gettext(msgid: str, /, **params: Any) -> str:
    """Translate ``msgid`` into the turn's locale and fill its ``{named}`` placeholders."""
    if not msgid:
        return ""
    code = _current.get()
    translated = translations(code).gettext(msgid)
    if translated is msgid and code != DEFAULT_LOCALE:
        _report_missing(code, msgid)
    return _render(msgid, translated, params)


def ngettext(singular: str, plural: str, n: int, /, **params: Any) -> str:
    code = _current.get()
    translated = translations(code).ngettext(singular, plural, n)
    params.setdefault("n", n)
    source = singular if n == 1 else plural
    return _render(source, translated, params)


def _report_missing(code: str, msgid: str) -> None:
    key = (code, msgid)
    if key not in _reported_missing:
        _reported_missing.add(key)
        log.warning("missing %s translation for %r; showing English", code, msgid[:60])


def N_(msgid: str) -> str:
    """Mark a text for extraction without translating it yet (translated when shown)."""
    return msgid


def word_set(msgid: str) -> frozenset[str]:
    """Words that mean one thing in the turn's language, plus their English originals.

    Catalog entries such as ``"back|previous"`` hold ``|``-separated alternatives, so
    translators add the words people really type.
    """
    words = set(msgid.split("|"))
    words.update(gettext(msgid).split("|"))
    return frozenset(w.strip().casefold() for w in words if w.strip())


__all__ = [
    "DEFAULT_LOCALE",
    "N_",
    "current_locale",
    "gettext",
    "is_rtl",
    "native_name",
    "negotiate",
    "ngettext",
    "set_locale",
    "supported_locales",
    "use_locale",
    "word_set",
]
