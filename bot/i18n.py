"""Translations, chosen per turn.

The locale of the turn being handled lives in a ``ContextVar`` (never process-wide), so
concurrent conversations in different languages never see each other's language. Message
ids are the English source texts, the gettext way; flows and code both go through
:func:`gettext`. Catalogs are read from ``locales/<lang>/LC_MESSAGES/messages.mo`` when a
compiled file is there and fresh, and otherwise compiled in memory from the ``.po`` file,
so a fresh checkout works without a build step (an installed wheel ships compiled files,
:mod:`bot.resources`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import unicodedata
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError, negotiate_locale
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from . import resources

log = logging.getLogger(__name__)

DEFAULT_LOCALE = "en"
LOCALES_DIR = resources.LOCALES_DIR

TARGET_LOCALES = (
    "en", "fr", "nl", "de", "ar", "fa", "fa_AF", "ps", "ti", "tr",
    "ku", "ru", "uk", "ka", "ro", "pt_BR", "es", "so", "sq",
)
"""The languages we serve (DOMAIN.md §6), in the picker's order.

``fa_AF`` is Dari: it reads the ``fa`` catalog (written Dari and Farsi are one language)
but takes Afghan conventions from CLDR, e.g. country names.
"""

VARIANTS = {"fa_AF": "fa"}
"""Locales without a catalog of their own, and the catalog they read."""

ALIASES = {"prs": "fa_AF", "kmr": "ku", "pt": "pt_BR", "fa_IR": "fa"}
"""Language tags that CLDR does not map to one of ours (ISO 639-3 codes, bare ``pt``)."""

NATIVE_NAMES = {"fa": "فارسی", "fa_AF": "دری"}
"""Picker names where CLDR's own name is not what speakers call their language."""

RTL_LANGUAGES = frozenset({"ar", "fa", "ps", "he", "ur"})
"""Languages written right to left (by their base code: ``fa_AF`` is ``fa``)."""

FSI, PDI = "\u2068", "\u2069"
"""Unicode first-strong and pop directional isolates (UAX #9)."""

BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Marks, embeddings, overrides and isolates: invisible, and never part of what people mean."""

_LEFT_TO_RIGHT_TOKEN = re.compile(
    r"(?P<keep>\u2068[^\u2069]*\u2069|\{[^{}]*\})"  # already isolated; a placeholder
    r"|(?P<token>"
    r"(?<![\w/:])/[A-Za-z_]+(?:@\w+)?"  # a command: /official, /back@IntakeBot (not a URL's path)
    r"|\b[A-Z]{2}-[0-9A-Z]{6}\b"  # a case reference: VR-7K3M9Q
    r"|(?<![\w+])\+?[0-9](?:[0-9 .:/-]*[0-9])?(?!\w)"  # a number, a date, a phone number: 112, +32 2 488 21 11
    r")"
)
"""What a right-to-left text may hold that must keep its own left-to-right order."""

_current: ContextVar[str] = ContextVar("intake_locale", default=DEFAULT_LOCALE)
_reported_missing: set[tuple[str, str]] = set()


def supported_locales() -> tuple[str, ...]:
    """The target locales that have a catalog (English always), in the picker's order."""
    return _supported(LOCALES_DIR)


@lru_cache(maxsize=4)
def _supported(root: Path) -> tuple[str, ...]:
    def has_catalog(code: str) -> bool:
        folder = root / VARIANTS.get(code, code) / "LC_MESSAGES"
        return (folder / "messages.po").exists() or (folder / "messages.mo").exists()

    return tuple(code for code in TARGET_LOCALES if code == DEFAULT_LOCALE or has_catalog(code))


@lru_cache(maxsize=4)
def _by_case(available: tuple[str, ...]) -> dict[str, str]:
    return {code.casefold(): code for code in available}


def negotiate(*hints: str | None) -> str | None:
    """The supported locale that best fits the first usable hint.

    Hints are language tags as channels give them (``fr-BE``, ``pt``, ``fa-AF``, ``prs``).
    The exact tag wins, then our aliases, then Babel's negotiation (with CLDR's aliases);
    then a tag falls back to its language: ``fa-IR`` is Farsi, ``pt-PT`` gets Brazilian Portuguese rather than
    English, ``de-AT`` is German.
    """
    available = supported_locales()
    by_case = _by_case(available)
    for hint in hints:
        if not hint or not isinstance(hint, str):
            continue
        tag = hint.strip().replace("-", "_")
        language = tag.split("_")[0].casefold()
        if tag.casefold() in by_case:
            return by_case[tag.casefold()]
        alias = ALIASES.get(tag) or ALIASES.get(language)
        if alias in available:
            return alias
        found = negotiate_locale([tag], list(available), sep="_")
        if found in available:
            return found
        if language in by_case:
            return by_case[language]
        same_language = [code for code in available if code.split("_")[0].casefold() == language]
        if same_language:
            return same_language[0]
    return None


def catalog_locale(code: str) -> str:
    """The locale whose catalog ``code`` reads (``fa_AF`` reads ``fa``)."""
    return VARIANTS.get(code, code)


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
    if code in NATIVE_NAMES:
        return NATIVE_NAMES[code]
    try:
        name = Locale.parse(code).get_display_name(code) or code
    except (ValueError, UnknownLocaleError):
        return code
    if unicodedata.name(name[:1], "").startswith("GEORGIAN"):
        # Georgian has no capitals in running text (str.upper() gives Mtavruli, which
        # reads as all-caps and which many fonts lack).
        return name
    return name[:1].upper() + name[1:]


@lru_cache(maxsize=64)
def translations(code: str) -> NullTranslations:
    code = catalog_locale(code)
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


def isolate(value: Any) -> str:
    """``value`` as a bidi-isolated run, so that a Latin fragment (a reference, a phone
    number, an e-mail address, a name) keeps its own direction in a right-to-left text."""
    text = str(value)
    if not text or (text.startswith(FSI) and text.endswith(PDI)):
        return text
    return f"{FSI}{text}{PDI}"


def strip_bidi_controls(text: str) -> str:
    """``text`` without the invisible direction marks a right-to-left text carries (a
    command or a reference copied from one of our messages comes back with them)."""
    return BIDI_CONTROLS.sub("", text)


def isolate_tokens(text: str) -> str:
    """A right-to-left text with its commands, references and numbers isolated.

    Unisolated, ``اكتب /official.`` shows its slash after the word, and a phone number's
    groups in the wrong order; an isolate keeps each such run whole and in its own
    direction, on every channel (the marks are plain characters)."""
    def wrap(match: re.Match[str]) -> str:
        token = match.group("token")
        return f"{FSI}{token}{PDI}" if token else match.group(0)

    return _LEFT_TO_RIGHT_TOKEN.sub(wrap, text)


def _render(source: str, translated: str, params: dict[str, Any]) -> str:
    rtl = is_rtl(_current.get())
    if rtl:
        translated = isolate_tokens(translated)
    if not params:
        return translated
    if rtl:
        params = {key: isolate(value) for key, value in params.items()}
    try:
        return translated.format_map(params)
    except (KeyError, IndexError, ValueError):
        log.error("placeholder mismatch in %s translation of %r", current_locale(), source)
        return source.format_map(params)


class Localized(str):
    """A translated text that remembers its message id and parameters, so that the
    transcript can show staff the same message in their own language (:func:`retranslate`).
    Anything that builds a new string from it (joining, formatting) gets a plain ``str``."""

    msgid: str
    params: dict[str, Any]
    parts: list[Any] | None = None
    """For a text made of several (:func:`joined`): its parts, and ``msgid`` the separator."""

    def source(self) -> dict[str, Any]:
        """The message id and its parameters, JSON-ready (a translated parameter nested)."""
        if self.parts is not None:
            return {"join": self.msgid, "parts": [_param_source(p) for p in self.parts]}
        return {"msgid": self.msgid, "params": {k: _param_source(v) for k, v in self.params.items()}}


def joined(separator: str, parts: list[str]) -> str:
    """``separator.join(parts)`` that remembers its translated parts (see :class:`Localized`)."""
    text = Localized(separator.join(parts))
    text.msgid, text.params, text.parts = separator, {}, list(parts)
    return text


def _param_source(value: Any) -> Any:
    return value.source() if isinstance(value, Localized) else str(value)



def source_of(text: str) -> dict[str, Any] | None:
    """What :meth:`Localized.source` says of ``text``, or None for a plain string."""
    return text.source() if isinstance(text, Localized) else None


def retranslate(source: dict[str, Any], code: str) -> str:
    """A message kept by :meth:`Localized.source`, in locale ``code`` (staff read the
    applicant's transcript in their own language)."""
    with use_locale(code):
        return _retranslate(source)


def _retranslate(source: dict[str, Any]) -> str:
    if "join" in source:
        return str(source["join"]).join(
            _retranslate(p) if isinstance(p, dict) else str(p) for p in source.get("parts") or []
        )
    params = {
        key: _retranslate(value) if isinstance(value, dict) and "msgid" in value else value
        for key, value in (source.get("params") or {}).items()
    }
    return gettext(str(source.get("msgid", "")), **params)


def gettext(msgid: str, /, **params: Any) -> str:
    """Translate ``msgid`` into the turn's locale and fill its ``{named}`` placeholders."""
    if not msgid:
        return ""
    code = _current.get()
    translated = translations(code).gettext(msgid)
    if translated is msgid and code != DEFAULT_LOCALE:
        _report_missing(code, msgid)
    text = Localized(_render(msgid, translated, params))
    text.msgid, text.params = msgid, params
    return text


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


def format_moment(moment: datetime, zone: str = "Europe/Brussels") -> str:
    """A date and time (an appointment) in ``zone``, the way the turn's locale writes it:
    the full date and the short time, joined by CLDR's own pattern."""
    local = moment.astimezone(ZoneInfo(zone))
    try:
        locale = Locale.parse(_current.get())
    except (ValueError, UnknownLocaleError):
        locale = Locale.parse(DEFAULT_LOCALE)
    pattern = str(locale.datetime_formats.get("full", "{1} {0}")).replace("'", "")
    return pattern.format(format_time(local, "short", locale=locale), format_date(local, "full", locale=locale))


def N_(msgid: str) -> str:
    """Mark a text for extraction without translating it yet (translated when shown)."""
    return msgid


def S_(msgid: str) -> str:
    """Mark a staff-facing text (the ``backoffice`` catalogs, not the applicants')."""
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
    "S_",
    "current_locale",
    "format_moment",
    "gettext",
    "is_rtl",
    "isolate",
    "isolate_tokens",
    "native_name",
    "negotiate",
    "ngettext",
    "set_locale",
    "strip_bidi_controls",
    "supported_locales",
    "use_locale",
    "word_set",
]
