"""``intake i18n check``: is every text translated, correctly, in every language we serve?

Texts are extracted afresh from the code and the flows with the mapping in ``babel.cfg``,
so a new text that nobody translated yet is caught even before ``messages.pot`` is
regenerated. Each catalog is then checked entry by entry:

- *missing*: no translation (or a fuzzy one, or the wrong number of plural forms), or a
  content fact written per language (``flows/content/``) without this language;
- *placeholders*: ``{names}`` that differ from the English text, or a broken brace;
- *commands*: a ``/command`` of the English text that the translation lost or renamed;
- *word lists*: a ``|`` list of typed words with an empty alternative;
- *unreviewed*: written by us or a machine and not yet checked by a professional
  translator (translator comment ``# unreviewed: …``);
- *too long*: over Telegram's 4,096 characters for a message, or over
  :data:`BUTTON_LIMIT` for a button label.

Missing translations and placeholder or command mismatches are errors (non-zero exit);
the rest is reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from string import Formatter

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from .content import Content
from .i18n import DEFAULT_LOCALE, TARGET_LOCALES, VARIANTS
from .resources import SOURCE_DIR

ROOT = SOURCE_DIR
"""The source tree: its ``babel.cfg``, code, flows and ``.po`` catalogs (a checkout only)."""
EXTRACTOR = "bot.i18n_extract:extract_flows"
MESSAGE_LIMIT = 4096
"""Telegram's limit for one message (longer texts are split, but one entry should fit)."""
BUTTON_LIMIT = 64
"""Beyond this a button label is cut off on a phone screen."""
UNREVIEWED = "unreviewed"
SLASH_COMMAND = re.compile(r"(?<![\w/])/[a-z_]+")


@dataclass(frozen=True)
class Text:
    """One text of the source: where it is, and whether it shows on a button."""

    msgid: str
    where: str
    button: bool


@dataclass
class LocaleReport:
    code: str
    total: int = 0
    translated: int = 0
    unreviewed: int = 0
    missing: list[str] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    word_lists: list[str] = field(default_factory=list)
    too_long: list[str] = field(default_factory=list)
    no_catalog: bool = False

    @property
    def ok(self) -> bool:
        return not (self.no_catalog or self.missing or self.placeholders or self.commands or self.word_lists)

    def problems(self) -> Iterable[str]:
        if self.no_catalog:
            yield f"{self.code}: no catalog (locales/{self.code}/LC_MESSAGES/messages.po)"
        for kind in ("missing", "placeholders", "commands", "word_lists", "too_long"):
            for item in getattr(self, kind):
                yield f"{self.code}: {kind.replace('_', ' ')}: {item}"


@cache
def source_texts(root: Path = ROOT) -> dict[str, Text]:
    """Every translatable text of the code and the flows (singular msgid for plurals)."""
    with (root / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh, str(root / "babel.cfg"))
    # Refer to the flow extractor by its import path, so that a stale virtualenv
    # (entry points not reinstalled) still checks the flows.
    method_map = [(pattern, EXTRACTOR if method == "intake_flows" else method) for pattern, method in method_map]
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    texts: dict[str, Text] = {}
    for filename, lineno, message, comments, _context in extract_from_dir(
        str(root), method_map, options_map, keywords=keywords, comment_tags=("TRANSLATORS:",)
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        button = any("button" in c for c in comments)
        known = texts.get(msgid)
        texts[msgid] = Text(msgid, known.where if known else f"{filename}:{lineno}", button or bool(known and known.button))
    return texts


@cache
def content_languages(root: Path = ROOT) -> dict[str, frozenset[str]]:
    """Facts whose value is written per language → the languages they are written in."""
    content = Content.load(root / "flows" / "content") if (root / "flows" / "content").is_dir() else None
    if content is None:
        return {}
    return {fact.id: frozenset(fact.value) for fact in content.all() if isinstance(fact.value, dict)}


def catalog_codes() -> list[str]:
    """The locales that need a catalog of their own (English is the source)."""
    return [code for code in TARGET_LOCALES if code != DEFAULT_LOCALE and code not in VARIANTS]


def load_catalog(code: str, root: Path = ROOT) -> Catalog | None:
    path = root / "locales" / code / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return None
    with path.open("rb") as fh:
        return read_po(fh, locale=code)


def forms(message: Message) -> list[str]:
    strings = message.string
    return list(strings) if isinstance(strings, (list, tuple)) else [strings or ""]


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name is not None}


def check_locale(code: str, texts: dict[str, Text] | None = None, root: Path = ROOT) -> LocaleReport:
    texts = source_texts(root) if texts is None else texts
    report = LocaleReport(code, total=len(texts))
    catalog = load_catalog(code, root)
    if catalog is None:
        report.no_catalog = True
        report.missing = sorted(texts)
        return report
    for fact_id, languages in content_languages(root).items():
        if code not in languages:
            report.missing.append(f"content fact {fact_id!r} has no {code} value (flows/content/)")
    entries = {(m.id[0] if m.pluralizable else m.id): m for m in catalog if m.id}
    for msgid, text in texts.items():
        message = entries.get(msgid)
        strings = forms(message) if message is not None else []
        if (
            message is None
            or message.fuzzy
            or not all(s.strip() for s in strings)
            or (message.pluralizable and len(strings) != catalog.num_plurals)
        ):
            report.missing.append(f"{msgid!r} ({text.where})")
            continue
        report.translated += 1
        if any(UNREVIEWED in c for c in message.user_comments):
            report.unreviewed += 1
        _check_message(report, message, strings, text)
    return report


def _check_message(report: LocaleReport, message: Message, strings: list[str], text: Text) -> None:
    ids = list(message.id) if message.pluralizable else [message.id]
    wanted = set().union(*(placeholders(i) for i in ids))
    commands = sorted(SLASH_COMMAND.findall(ids[0]))
    for form in strings:
        try:
            got = placeholders(form)
        except ValueError as exc:
            report.placeholders.append(f"{form!r}: {exc}")
            continue
        # A plural form may leave the number out ("one day" needs no {n}), never add one.
        if got != wanted and not (message.pluralizable and got < wanted):
            report.placeholders.append(f"{ids[0]!r} has {sorted(wanted)}, {form!r} has {sorted(got)}")
        if sorted(SLASH_COMMAND.findall(form)) != commands:
            report.commands.append(f"{form!r} should keep {commands}")
        if "|" in ids[0] and any(not w.strip() for w in form.split("|")):
            report.word_lists.append(f"{ids[0]!r} -> {form!r}")
        limit = BUTTON_LIMIT if text.button else MESSAGE_LIMIT
        if len(form) > limit:
            report.too_long.append(f"{form[:40]!r}… is {len(form)} characters (limit {limit})")


def table(reports: list[LocaleReport]) -> str:
    """One line per locale, like ``pybabel compile --statistics`` but with our checks."""
    header = (
        "locale", "texts", "translated", "missing", "unreviewed",
        "placeholders", "commands", "word lists", "too long",
    )
    rows = [header] + [
        (
            r.code,
            str(r.total),
            str(r.translated),
            "no catalog" if r.no_catalog else str(len(r.missing)),
            str(r.unreviewed),
            str(len(r.placeholders)),
            str(len(r.commands)),
            str(len(r.word_lists)),
            str(len(r.too_long)),
        )
        for r in reports
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
        for row in rows
    ]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])
