"""The staff UI's texts live in the ``backoffice`` catalogs (en source; fr, nl, de), never
in the applicants' catalogs, and every one of them is translated."""

from __future__ import annotations

from pathlib import Path
from string import Formatter

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from bot.backoffice.i18n import staff_language, staff_translations
from bot.resources import SOURCE_DIR as PROJECT_ROOT
from bot.i18n_check import source_texts


def _staff_texts() -> set[str]:
    cfg = PROJECT_ROOT / "babel-backoffice.cfg"
    with cfg.open() as fh:
        method_map, options_map = parse_mapping_cfg(fh, str(cfg))
    found = extract_from_dir(str(PROJECT_ROOT), method_map, options_map, keywords={"S_": None, "_": None})
    return {message for _f, _l, message, _c, _ctx in found if isinstance(message, str)}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name}


@pytest.mark.parametrize("code", ["fr", "nl", "de"])
def test_every_staff_text_is_translated_with_its_placeholders(code: str) -> None:
    texts = _staff_texts()
    assert {"Audit log", "Voluntary return", "Departed"} <= texts
    with Path(PROJECT_ROOT / "locales" / code / "LC_MESSAGES" / "backoffice.po").open("rb") as fh:
        catalog = read_po(fh, locale=code)
    for text in texts:
        message = catalog.get(text)
        assert message is not None and message.string and not message.fuzzy, f"{code}: untranslated {text!r}"
        assert _fields(message.string) == _fields(text), f"{code}: placeholders of {text!r}"
        assert any("unreviewed" in c for c in message.user_comments), f"{code}: {text!r} not marked unreviewed"


def test_the_applicant_catalogs_get_no_staff_text() -> None:
    applicant = set(source_texts())
    assert not {"Audit log", "Internal notes", "Eligibility checked by a person"} & applicant


def test_the_staff_language_comes_from_the_profile_else_the_browser() -> None:
    assert staff_language("de", "fr-BE,fr;q=0.9") == "de"
    assert staff_language(None, "nl-BE,nl;q=0.9,en;q=0.5") == "nl"
    assert staff_language(None, "ar,tr") == "en"
    assert staff_translations("fr").gettext("Cases") == "Dossiers"
