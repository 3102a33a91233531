"""The French and Dutch catalogs cover every text of the code and the flows, correctly.

Texts are re-extracted here with the mapping in ``babel.cfg``, so a new text without a
translation fails, by name. To fix: run the two commands at the top of ``babel.cfg`` and
translate the new entries.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from string import Formatter

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from bot.engine import commands
from bot.engine.validators import NO_WORDS, YES_WORDS
from bot.i18n import gettext, use_locale, word_set

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("fr", "nl")
EXTRACTOR = "bot.i18n_extract:extract_flows"
SLASH_COMMAND = re.compile(r"(?<![\w/])/[a-z_]+")


@cache
def extracted() -> dict[str, str]:
    """msgid (singular for plurals) → where it was found, from code and flows."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh, str(ROOT / "babel.cfg"))
    # The entry point name is checked on its own below; here, do not depend on the
    # virtualenv's metadata being fresh.
    method_map = [(p, EXTRACTOR if m == "intake_flows" else m) for p, m in method_map]
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords, comment_tags=("TRANSLATORS:",)
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        found.setdefault(msgid, f"{filename}:{lineno}")
    return found


@cache
def catalog(code: str) -> Catalog:
    with (ROOT / "locales" / code / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=code)


def translated(code: str) -> list[Message]:
    return [m for m in catalog(code) if m.id and not m.fuzzy]


def forms(message: Message) -> list[str]:
    strings = message.string
    return list(strings) if isinstance(strings, (list, tuple)) else [strings or ""]


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name is not None}


def test_flow_extractor_is_registered() -> None:
    names = {ep.name: ep.value for ep in entry_points(group="babel.extractors")}
    assert names.get("intake_flows") == EXTRACTOR, "run `pip install -e .` to register it"


def test_extraction_finds_code_and_flow_texts() -> None:
    found = extracted()
    assert "start|menu|main menu|home" in found  # N_() in code
    assert "Please type at least {n} character." in found  # ngettext()
    assert "Return to my country" in found  # a flow title
    assert "Which country do you want to return to?" in found  # a flow question
    assert "I have no nationality (stateless)" in found  # a choice title
    assert not any(where.startswith("flows/content/") for where in found.values())


def test_every_text_is_translated() -> None:
    for code in LOCALES:
        wanted_forms = catalog(code).num_plurals
        done = {
            (m.id[0] if m.pluralizable else m.id)
            for m in translated(code)
            if all(s.strip() for s in forms(m))
            and (not m.pluralizable or len(forms(m)) == wanted_forms)
        }
        missing = [f"{msgid!r} ({where})" for msgid, where in extracted().items() if msgid not in done]
        assert not missing, f"{code}: {len(missing)} texts without translation:\n" + "\n".join(
            missing
        )


def test_translations_keep_placeholders() -> None:
    problems = []
    for code in LOCALES:
        for message in translated(code):
            ids = list(message.id) if message.pluralizable else [message.id]
            wanted = set().union(*(placeholders(i) for i in ids))
            for form in forms(message):
                if not form:
                    continue
                try:
                    got = placeholders(form)
                except ValueError as exc:
                    problems.append(f"{code}: {form!r}: {exc}")
                    continue
                if got != wanted:
                    problems.append(f"{code}: {ids[0]!r} has {sorted(wanted)}, {form!r} has {sorted(got)}")
    assert not problems, "\n".join(problems)


def test_translations_keep_slash_commands() -> None:
    """``/start``, ``/forget``… are typed as they are, in every language."""
    problems = []
    for code in LOCALES:
        for message in translated(code):
            source = message.id[0] if message.pluralizable else message.id
            wanted = sorted(SLASH_COMMAND.findall(source))
            for form in forms(message):
                if form and sorted(SLASH_COMMAND.findall(form)) != wanted:
                    problems.append(f"{code}: {form!r} should keep {wanted}")
    assert not problems, "\n".join(problems)


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


def test_word_lists_stay_word_lists() -> None:
    problems = []
    for code in LOCALES:
        for message in translated(code):
            if message.pluralizable or "|" not in message.id:
                continue
            words = message.string.split("|")
            if "|" not in message.string or any(not w.strip() or w != w.strip() for w in words):
                problems.append(f"{code}: {message.id!r} -> {message.string!r}")
    assert not problems, "\n".join(problems)


def test_word_lists_do_not_clash() -> None:
    """A word typed alone must mean one command, and never both yes and no."""
    for code in ("en", *LOCALES):
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
