"""The staff UI's language: the ``backoffice`` catalogs (English source, French, Dutch,
German), kept apart from the applicants' ``messages`` catalogs."""

from __future__ import annotations

import io
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from ..i18n import LOCALES_DIR

DOMAIN = "backoffice"
STAFF_LOCALES = ("en", "fr", "nl", "de")


def _own_name(code: str) -> str:
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


STAFF_LANGUAGES = tuple((code, _own_name(code)) for code in STAFF_LOCALES)
"""(code, the language's name in itself: CLDR's), for the language choice."""


@lru_cache(maxsize=8)
def staff_translations(code: str) -> NullTranslations:
    folder = LOCALES_DIR / code / "LC_MESSAGES"
    po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if code == "en" or not (po.exists() or mo.exists()):
        return NullTranslations()
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):  # a wheel ships .mo only
        with mo.open("rb") as fh:
            return Translations(fp=fh, domain=DOMAIN)
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=code, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def staff_language(profile: str | None, accept_language: str | None) -> str:
    """The profile's language, else the browser's best match, else English."""
    if profile in STAFF_LOCALES:
        return profile
    wanted = []
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().replace("-", "_")
        if tag and tag != "*":
            wanted.append(tag)
    try:
        match = Locale.negotiate(wanted, STAFF_LOCALES, sep="_")
    except (ValueError, UnknownLocaleError):
        match = None
    return str(match.language) if match else "en"
