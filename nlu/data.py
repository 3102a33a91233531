"""Training data in Rasa's NLU YAML format (``version: "3.1"``), one folder per language.

``nlu/data/<lang>/*.yml`` holds ``intent`` blocks (examples, with Rasa's entity
annotations ``[text](entity)``, ``[text](entity:value)`` and
``[text]{"entity": "...", "value": "..."}``), ``synonym`` blocks (a value and the words
that mean it), and ``regex`` and ``lookup`` blocks (read and kept, not needed by the
embedded pipeline). Loading never raises on bad content: every problem becomes a
:class:`Problem` with its file and, where known, its line, so ``intake nlu validate`` can
report them all and training can go on with what is readable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

INTENTS = (
    "greet", "goodbye", "affirm", "deny", "visa_info", "protection_registration",
    "voluntary_return", "appointment_manage", "case_status", "human_handoff",
    "change_language", "help", "privacy", "urgent_help", "out_of_scope",
)
"""The fixed intent contract (DESIGN.md, NLU)."""

LANGUAGES = (
    "en", "fr", "nl", "de", "ar", "fa", "ps", "ti", "tr", "ku", "ru", "uk", "ka", "ro",
    "pt_BR", "es", "so", "sq",
)
"""Our locale codes, in the order of the language picker."""

ENTITIES = ("country", "language", "date", "phone", "case_reference")

# Rasa's own pattern (rasa/shared/nlu/training_data/entities_parser.py), slightly relaxed.
_ANNOTATION = re.compile(
    r"\[(?P<text>[^\]]+?)\]"
    r"(?:\((?P<entity>[^:)]+?)(?::(?P<value>[^)]+))?\)"
    r"|\{(?P<dict>[^}]+?)\}"
    r"|\[(?P<dicts>.*?)\])"
)


@dataclass(frozen=True, slots=True)
class Entity:
    entity: str
    value: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    intent: str
    language: str
    entities: tuple[Entity, ...] = ()
    line: int = 0
    source: str = ""


@dataclass(frozen=True, slots=True)
class Problem:
    language: str
    kind: str
    """``yaml``, ``format``, ``unknown_intent``, ``duplicate``, ``empty_intent``,
    ``missing_intent``, ``too_few``, ``annotation``."""
    message: str
    source: str = ""
    line: int = 0
    error: bool = True

    def __str__(self) -> str:
        where = self.source + (f":{self.line}" if self.line else "")
        level = "error" if self.error else "warning"
        return f"{level}: {where or self.language}: {self.message}"


@dataclass(slots=True)
class LanguageData:
    language: str
    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)
    """Variant text (as written) → value, e.g. ``"Sakartvelo"`` → ``"GE"``."""
    regexes: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    declared: set[str] = field(default_factory=set)
    """Intent names that have a block, even an empty one."""
    problems: list[Problem] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


@dataclass(slots=True)
class TrainingData:
    languages: dict[str, LanguageData] = field(default_factory=dict)

    @property
    def examples(self) -> list[Example]:
        return [e for data in self.languages.values() for e in data.examples]

    @property
    def problems(self) -> list[Problem]:
        return [p for data in self.languages.values() for p in data.problems]

    def files(self) -> list[Path]:
        return [f for data in self.languages.values() for f in data.files]


def default_data_dir() -> Path:
    return Path(__file__).resolve().parent / "data"


def data_files(root: Path) -> list[Path]:
    """Every training file under ``root`` (``<lang>/*.yml``), sorted."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*/*.y*ml") if p.suffix in (".yml", ".yaml"))


def load(root: Path | None = None, languages: Iterable[str] | None = None) -> TrainingData:
    """All languages under ``root`` (default ``nlu/data``), or only ``languages``."""
    root = root or default_data_dir()
    wanted = set(languages) if languages else None
    data = TrainingData()
    for path in data_files(root):
        language = path.parent.name
        if wanted is not None and language not in wanted:
            continue
        lang = data.languages.setdefault(language, LanguageData(language))
        lang.files.append(path)
        load_file(path, lang)
    return data


def load_file(path: Path, into: LanguageData) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        into.problems.append(Problem(into.language, "yaml", f"cannot read: {exc}", str(path)))
        return
    load_text(text, into, str(path))


def load_text(text: str, into: LanguageData, source: str = "") -> None:
    """Read one Rasa NLU YAML document into ``into``; problems are recorded, not raised."""
    lang = into.language
    try:
        document = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        into.problems.append(Problem(lang, "yaml", f"YAML error: {getattr(exc, 'problem', exc)}", source,
                                     mark.line + 1 if mark else 0))
        return
    if not isinstance(document, dict) or not isinstance(document.get("nlu"), list):
        into.problems.append(Problem(lang, "format", 'expected a mapping with an "nlu" list', source))
        return
    for item in document["nlu"]:
        line = getattr(item, "line", 0)
        if not isinstance(item, dict):
            into.problems.append(Problem(lang, "format", "an nlu item must be a mapping", source, line))
            continue
        kinds = [k for k in ("intent", "synonym", "regex", "lookup") if k in item]
        if len(kinds) != 1:
            into.problems.append(Problem(
                lang, "format", "an nlu item needs exactly one of intent, synonym, regex, lookup", source, line))
            continue
        kind = kinds[0]
        name = item[kind]
        if not isinstance(name, str) or not name.strip():
            into.problems.append(Problem(lang, "format", f"{kind} needs a name", source, line))
            continue
        examples = _examples(item.get("examples"), lang, source, line, into.problems, name)
        if examples is None:
            continue
        if kind == "intent":
            into.declared.add(name)
            if not examples:
                into.problems.append(Problem(lang, "empty_intent", f"intent {name} has no examples", source, line))
            for raw, ex_line in examples:
                parsed = parse_annotations(raw)
                if parsed is None:
                    into.problems.append(Problem(lang, "annotation", f"bad entity annotation in {raw!r}",
                                                 source, ex_line))
                    continue
                plain, entities = parsed
                if not plain.strip():
                    into.problems.append(Problem(lang, "format", f"empty example in intent {name}", source, ex_line))
                    continue
                into.examples.append(Example(plain, name, lang, tuple(entities), ex_line, source))
        elif kind == "synonym":
            for raw, _ in examples:
                into.synonyms[raw] = str(name)
        elif kind == "regex":
            into.regexes.setdefault(name, []).extend(raw for raw, _ in examples)
        else:
            into.lookups.setdefault(name, []).extend(raw for raw, _ in examples)


def parse_annotations(text: str) -> tuple[str, list[Entity]] | None:
    """``"go to [Syria](country:SY)"`` → (``"go to Syria"``, [Entity(country, SY, 6, 11)]),
    or None when an annotation cannot be read."""
    entities: list[Entity] = []
    plain: list[str] = []
    offset = 0
    last = 0
    for match in _ANNOTATION.finditer(text):
        plain.append(text[last:match.start()])
        offset += match.start() - last
        surface = match.group("text")
        specs: list[dict[str, object]]
        if match.group("dict") is not None:
            try:
                spec = json.loads("{" + match.group("dict") + "}")
            except json.JSONDecodeError:
                return None
            specs = [spec] if isinstance(spec, dict) else []
        elif match.group("dicts") is not None:
            try:
                loaded = json.loads("[" + match.group("dicts") + "]")
            except json.JSONDecodeError:
                return None
            specs = [s for s in loaded if isinstance(s, dict)] if isinstance(loaded, list) else []
        else:
            specs = [{"entity": match.group("entity").strip(),
                      **({"value": match.group("value").strip()} if match.group("value") else {})}]
        if not specs or any(not isinstance(s.get("entity"), str) or not s["entity"] for s in specs):
            return None
        for spec in specs:
            entities.append(Entity(str(spec["entity"]), str(spec.get("value", surface)), offset,
                                   offset + len(surface), surface))
        plain.append(surface)
        offset += len(surface)
        last = match.end()
    plain.append(text[last:])
    return "".join(plain), entities


def _examples(
    raw: object, lang: str, source: str, line: int, problems: list[Problem], name: str
) -> list[tuple[str, int]] | None:
    """The example strings of one block with their (approximate) line numbers."""
    if raw is None:
        return []
    found: list[tuple[str, int]] = []
    if isinstance(raw, str):
        for i, row in enumerate(raw.splitlines()):
            stripped = row.strip()
            if not stripped:
                continue
            if not stripped.startswith("-"):
                problems.append(Problem(lang, "format", f"in {name}: an example line must start with '- ': "
                                        f"{stripped[:40]!r}", source, line + 2 + i))
                continue
            example = stripped[1:].strip()
            if not example:
                problems.append(Problem(lang, "format", f"empty example in {name}", source, line + 2 + i))
                continue
            found.append((example, line + 2 + i))
        return found
    if isinstance(raw, list):  # Rasa also allows a list of strings or {text: ...}
        for entry in raw:
            text = entry.get("text") if isinstance(entry, dict) else entry
            if not isinstance(text, str) or not text.strip():
                problems.append(Problem(lang, "format", f"empty or malformed example in {name}", source, line))
                continue
            found.append((text.strip(), getattr(entry, "line", line)))
        return found
    problems.append(Problem(lang, "format", f"examples of {name} must be a block of '- ' lines", source, line))
    return None


class _LineDict(dict):  # type: ignore[type-arg]
    line = 0


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader whose mappings remember their (1-based) line."""

    def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
        mapping = _LineDict(super().construct_mapping(node, deep=deep))
        mapping.line = node.start_mark.line + 1
        return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_mapping)
