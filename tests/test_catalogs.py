"""Every catalog covers every text of the code and the flows, correctly.

Texts are re-extracted with the mapping in ``babel.cfg`` (see :mod:`bot.i18n_check`), so
a new text without a translation fails, by name. To fix: run the two commands at the top
of ``babel.cfg`` and translate the new entries.
"""

from __future__ import annotations

import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.cli import main
from bot.engine import commands
from bot.answers.yes_no import NO_WORDS, YES_WORDS
from bot.i18n import LOCALES_DIR, TARGET_LOCALES, gettext, supported_locales, use_locale, word_set
from bot.i18n_check import EXTRACTOR, catalog_codes, check_locale, source_texts
from bot.resources import SOURCE_DIR


def test_flow_extractor_is_registered() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="babel.extractors")}
    assert names.get("intake_flows") == EXTRACTOR, "run `pip install -e .` to register it"


def test_extraction_finds_code_and_flow_texts() -> None:
    found = source_texts()
    assert "start|menu|main menu|home" in found  # N_() in code
    assert "Please type at least {n} character." in found  # ngettext()
    assert "Return to my country" in found and found["Return to my country"].button  # a flow title
    assert "Which country do you want to return to?" in found  # a flow question
    assert found["I have no nationality (stateless)"].button  # a choice title
    assert "Here is everything in one message you can keep:" in found  # a recap
    assert not any(text.where.startswith("flows/content/") for text in found.values())


def test_every_target_language_is_served() -> None:
    assert supported_locales() == TARGET_LOCALES


@pytest.mark.parametrize("code", catalog_codes())
def test_catalog_is_complete_and_consistent(code: str) -> None:
    report = check_locale(code)
    assert report.ok, "\n".join(report.problems())
    assert report.translated == report.total


@pytest.mark.parametrize("code", catalog_codes())
def test_catalog_compiles_without_errors(code: str, tmp_path: Path) -> None:
    """What ``pybabel compile`` checks (``make run`` compiles every catalog): a text that
    gettext takes for printf (``10% for`` reads as ``% f``) fails it in every language."""
    path = LOCALES_DIR / code / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as po:
        catalog = read_po(po, code)
    errors = [f"{path.name}:{message.lineno}: {error}" for message, found in catalog.check() for error in found]
    assert errors == []
    with (tmp_path / "messages.mo").open("wb") as mo:
        write_mo(mo, catalog)


def test_i18n_check_command_passes_on_the_catalogs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["i18n", "check", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:4] == ["locale", "texts", "translated", "missing"]
    assert {line.split()[0] for line in out.splitlines()[2:-1]} == set(catalog_codes())


def test_i18n_check_catches_missing_and_mismatched_translations(tmp_path: Path) -> None:
    root = SOURCE_DIR
    (tmp_path / "babel.cfg").write_text((root / "babel.cfg").read_text())
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "texts.py").write_text(textwrap.dedent('''
        gettext("Your reference is {reference}.")
        gettext("Type /back to go back.")
        gettext("Hello")
    '''))
    folder = tmp_path / "locales" / "de" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "messages.po").write_text(textwrap.dedent('''
        msgid ""
        msgstr ""
        "Content-Type: text/plain; charset=utf-8\\n"

        # unreviewed: machine-made translation
        msgid "Your reference is {reference}."
        msgstr "Ihre Referenz ist {referenz}."

        msgid "Type /back to go back."
        msgstr "Tippen Sie /zurueck, um zurückzugehen."
    '''))
    source_texts.cache_clear()
    try:
        report = check_locale("de", root=tmp_path)
    finally:
        source_texts.cache_clear()
    assert not report.ok
    assert report.total == 3 and report.translated == 2 and report.unreviewed == 1
    assert report.missing == ["'Hello' (bot/texts.py:4)"]
    assert "{referenz}" in report.placeholders[0]
    assert "/back" in report.commands[0]


def test_french_and_dutch_are_used() -> None:
    with use_locale("fr"):
        assert gettext("Yes") == "Oui"
        assert gettext("I will write in English from now on.") == (
            "J'écrirai en français à partir de maintenant."
        )
    with use_locale("nl"):
        assert gettext("Yes") == "Ja"
        assert gettext("I will write in English from now on.") == (
            "Ik schrijf vanaf nu in het Nederlands."
        )
    assert gettext("Yes") == "Yes"


@pytest.mark.parametrize("code", supported_locales())
def test_word_lists_do_not_clash(code: str) -> None:
    """A word typed alone must mean one command, and never both yes and no."""
    with use_locale(code):
        yes = {commands.normalise(w) for w in word_set(YES_WORDS)}
        no = {commands.normalise(w) for w in word_set(NO_WORDS)}
        assert not yes & no, f"{code}: both yes and no: {sorted(yes & no)}"
        owner: dict[str, str] = {}
        for name, msgid in commands.WORDS.items():
            for word in map(commands.normalise, word_set(msgid)):
                assert owner.setdefault(word, name) == name, (
                    f"{code}: {word!r} means both {owner[word]} and {name}"
                )
