"""``intake nlu validate``: is the training data complete and consistent?

Errors: YAML or format errors, unknown intents, intents missing or without examples,
the same example under two intents of one language, fewer than ``min_examples``
examples for an intent, entity annotations that cannot be read or that name an unknown
entity or value. Warnings: the same example twice under one intent, languages outside
our set.
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

from .data import ENTITIES, INTENTS, LANGUAGES, LanguageData, Problem, TrainingData, load

MIN_EXAMPLES = 20


def check(data: TrainingData, *, min_examples: int = MIN_EXAMPLES,
          languages: tuple[str, ...] = LANGUAGES) -> list[Problem]:
    problems = list(data.problems)
    for lang in data.languages.values():
        problems.extend(_check_language(lang, min_examples, languages))
    return problems


def _key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def _check_language(lang: LanguageData, min_examples: int, languages: tuple[str, ...]) -> list[Problem]:
    code = lang.language
    source = str(lang.files[0]) if lang.files else ""
    found: list[Problem] = []
    if code not in languages:
        found.append(Problem(code, "language", f"{code} is not one of our languages", source, error=False))
    counts = Counter(e.intent for e in lang.examples)
    for intent in sorted(set(counts) - set(INTENTS)):
        first = next(e for e in lang.examples if e.intent == intent)
        found.append(Problem(code, "unknown_intent", f"unknown intent {intent!r}", first.source, first.line))
    for intent in INTENTS:
        if intent not in lang.declared:
            found.append(Problem(code, "missing_intent", f"intent {intent} is missing", source))
        elif 0 < counts[intent] < min_examples:
            found.append(Problem(code, "too_few", f"intent {intent} has {counts[intent]} examples, "
                                 f"fewer than {min_examples}", source))
    seen: dict[str, tuple[str, int, str]] = {}
    reported: set[tuple[str, str]] = set()
    for example in lang.examples:
        key = _key(example.text)
        if key in seen:
            intent, line, where = seen[key]
            if intent != example.intent:
                pair = (key, example.intent)
                if pair not in reported:
                    reported.add(pair)
                    found.append(Problem(code, "duplicate", f"{example.text!r} is under {intent} (line {line}) "
                                         f"and {example.intent}", example.source, example.line))
            else:
                found.append(Problem(code, "duplicate", f"{example.text!r} appears twice under {intent} "
                                     f"(line {line})", example.source, example.line, error=False))
            continue
        seen[key] = (example.intent, example.line, example.source)
        for entity in example.entities:
            problem = _check_entity(code, example, entity.entity, entity.value)
            if problem:
                found.append(problem)
    return found


def _check_entity(code: str, example, entity: str, value: str) -> Problem | None:  # type: ignore[no-untyped-def]
    if entity not in ENTITIES:
        return Problem(code, "annotation", f"unknown entity {entity!r} in {example.text!r}",
                       example.source, example.line)
    if entity == "country" and not (len(value) == 2 and value.isascii() and value.isupper()):
        return Problem(code, "annotation", f"country value {value!r} is not an ISO alpha-2 code",
                       example.source, example.line)
    if entity == "language" and value not in LANGUAGES:
        return Problem(code, "annotation", f"language value {value!r} is not one of our codes",
                       example.source, example.line)
    return None


def table(data: TrainingData, problems: list[Problem]) -> str:
    """Per language: examples per intent, total, synonyms, annotated entities, errors."""
    short = {
        "greet": "greet", "goodbye": "bye", "affirm": "yes", "deny": "no", "visa_info": "visa",
        "protection_registration": "prot", "voluntary_return": "return", "appointment_manage": "appt",
        "case_status": "status", "human_handoff": "human", "change_language": "lang", "help": "help",
        "privacy": "priv", "urgent_help": "URGENT", "out_of_scope": "oos",
    }
    errors: defaultdict[str, int] = defaultdict(int)
    for p in problems:
        if p.error:
            errors[p.language] += 1
    header = ["lang"] + [short[i] for i in INTENTS] + ["total", "syn", "ents", "errors"]
    rows = [header]
    for code in sorted(data.languages, key=lambda c: (LANGUAGES.index(c) if c in LANGUAGES else 99, c)):
        lang = data.languages[code]
        counts = Counter(e.intent for e in lang.examples)
        annotated = sum(1 for e in lang.examples if e.entities)
        rows.append([code] + [str(counts[i]) for i in INTENTS]
                    + [str(len(lang.examples)), str(len(lang.synonyms)), str(annotated), str(errors[code])])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(r, widths)))
             for r in rows]
    return "\n".join(lines)


def run(root: Path | None = None, *, min_examples: int = MIN_EXAMPLES, languages: list[str] | None = None,
        quiet: bool = False) -> int:
    data = load(root, languages)
    problems = check(data, min_examples=min_examples)
    if not data.languages:
        print(f"no training data under {root}")
        return 1
    expected = list(languages) if languages else list(LANGUAGES)
    for code in expected:
        if code not in data.languages:
            problems.append(Problem(code, "missing_language", f"no training data for {code} "
                                    f"(expected {root}/{code}/nlu.yml)"))
    print(table(data, problems))
    if not quiet:
        for problem in problems:
            print(problem)
    failing = sorted({p.language for p in problems if p.error},
                     key=lambda c: (LANGUAGES.index(c) if c in LANGUAGES else 99, c))
    warnings = sum(1 for p in problems if not p.error)
    total = len(set(data.languages) | set(expected))
    print(f"{total - len(failing)} of {total} languages valid, "
          f"{len(data.examples)} examples, {warnings} warnings"
          + (f"; failing: {', '.join(failing)}" if failing else ""))
    return 1 if failing else 0
