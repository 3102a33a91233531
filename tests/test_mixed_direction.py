"""Commands, references and numbers keep their own direction inside right-to-left text,
and come back as commands when copied with the marks that keep them so.

(How it looks in a browser at 360 px: test_webchat_scripts_browser.py.)
"""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from bot.cases.references import normalise as normalise_reference
from bot.engine import Engine
from bot.engine.commands import Command, parse
from bot.i18n import (
    FSI,
    LOCALES_DIR,
    PDI,
    catalog_locale,
    gettext,
    isolate_tokens,
    strip_bidi_controls,
    translations,
    use_locale,
)

from .chat import Chat

RTL_LOCALES = ("ar", "fa", "fa_AF", "ps")
COMMAND = re.compile(r"(?<![\w/:])/[a-z_]+")


def texts_with_commands(code: str) -> list[str]:
    """The msgids whose translation in ``code`` names a /command."""
    with (LOCALES_DIR / catalog_locale(code) / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh)
    return [
        message.id for message in catalog
        if message.id and isinstance(message.id, str) and isinstance(message.string, str)
        and COMMAND.search(message.string)
    ]


@pytest.mark.parametrize("code", RTL_LOCALES)
def test_every_command_in_right_to_left_text_is_isolated(code: str) -> None:
    msgids = texts_with_commands(code)
    assert len(msgids) >= 2, f"the {code} catalog names hardly any command"
    with use_locale(code):
        for msgid in msgids:
            text = gettext(msgid)
            commands = list(COMMAND.finditer(text))
            assert commands, msgid
            for command in commands:
                before, after = text[: command.start()], text[command.end():]
                assert before.endswith(FSI) and after.startswith(PDI), (
                    f"{command.group()} is not isolated in the {code} text of {msgid!r}: {text!r}"
                )
            # Nothing else changed: without the marks it is the catalog's text.
            assert strip_bidi_controls(text) == translations(code).gettext(msgid)


def test_left_to_right_text_is_left_as_it_is() -> None:
    for code in ("en", "fr", "ti"):
        with use_locale(code):
            for msgid in texts_with_commands("ar"):
                assert FSI not in gettext(msgid)


@pytest.mark.parametrize(("text", "expected"), [
    ("اكتب /official.", f"اكتب {FSI}/official{PDI}."),
    ("اكتب /back@IntakeBot", f"اكتب {FSI}/back@IntakeBot{PDI}"),
    ("مرجعك VR-7K3M9Q.", f"مرجعك {FSI}VR-7K3M9Q{PDI}."),
    ("اتصل بـ 112 أو +32 2 488 21 11.", f"اتصل بـ {FSI}112{PDI} أو {FSI}+32 2 488 21 11{PDI}."),
    ("في 15/01/2027.", f"في {FSI}15/01/2027{PDI}."),
    # Left alone: placeholders (their values are isolated when filled), what is isolated
    # already, a web address's path, Arabic-Indic digits (they are right-to-left's own).
    ("مرجعك {reference}.", "مرجعك {reference}."),
    (f"اكتب {FSI}/help{PDI}.", f"اكتب {FSI}/help{PDI}."),
    ("https://example.org/help", "https://example.org/help"),
    ("١١٢", "١١٢"),
])
def test_tokens_that_keep_their_own_direction(text: str, expected: str) -> None:
    assert isolate_tokens(text) == expected


def test_a_filled_in_value_is_isolated_once() -> None:
    with use_locale("ar"):
        text = gettext("Your reference is {reference}.", reference="VR-7K3M9Q")
    assert text.count(FSI) == text.count(PDI) == 1


@pytest.mark.parametrize("typed", [
    f"{FSI}/official{PDI}",
    f"{FSI}/official{PDI}.",
    "\u200f/official",
    "\u202b/official\u202c",
    f"\u2067{FSI}/official{PDI}\u2069",
])
def test_a_command_copied_with_direction_marks_is_understood(typed: str) -> None:
    with use_locale("ar"):
        command = parse(typed.rstrip("."))
    assert command == Command("official")


def test_a_typed_command_word_and_a_reference_with_marks_are_understood() -> None:
    with use_locale("ar"):
        assert parse(f"{FSI}112{PDI}") == Command("urgent_help", typed=True)
    assert normalise_reference(f"{FSI}VR-7K3M9Q{PDI}") == "VR-7K3M9Q"


async def test_a_command_copied_from_an_arabic_message_works_in_the_conversation(engine: Engine) -> None:
    chat = Chat(engine, lang="ar")
    await chat.say("/start")
    await chat.say(f"{FSI}/help{PDI}")
    with use_locale("ar"):
        assert "/official" in chat.text
        assert f"{FSI}/official{PDI}" in chat.text
