"""``intake nlu eval --heldout``: the model against messages it never saw in training.

``nlu/eval/<lang>/*.yml`` (Rasa NLU YAML, like the training data, never trained on):

- ``out_of_scope.yml``: everyday requests unrelated to the service (weather, music, films,
  food, shopping, sport, general knowledge, jokes, small talk). Measured: the share that
  the dialogue would route into a journey or to urgent help (``routed``), which should
  be near zero.
- ``realistic.yml``: messages as people type them (long, with context, typos, no
  diacritics, informal, code-switching, Arabizi), under every intent. Measured: intent
  accuracy per language and per intent.

The routing rule mirrors bot/engine/dialogue.py (the NLU does not import the engine):
``urgent_help`` routes whatever its confidence; an intent with a journey or a desk
routes from ``MIDDLING`` (a "Do you mean…?" button) up.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from .data import INTENTS, LANGUAGES, Example, TrainingData, load
from .model import FALLBACK, NLUModel

ROUTING = ("visa_info", "protection_registration", "voluntary_return", "appointment_manage", "case_status",
           "human_handoff")
"""Intents that start a journey or open a desk (dialogue.py: flows by intent and SERVICES)."""
MIDDLING = 0.5
"""dialogue.MIDDLING: from here a journey intent is offered."""
OUT_OF_SCOPE_FILE = "out_of_scope"


def default_heldout_dir() -> Path:
    return Path(__file__).parent / "eval"


def routed(parse: dict[str, Any]) -> bool:
    """Would the dialogue act on this parse (a journey, a desk, urgent help) outside a journey?"""
    intent = parse["intent"]["name"]
    confidence = parse["intent"]["confidence"]
    return intent == "urgent_help" or (intent in ROUTING and confidence >= MIDDLING)


def _kind(example: Example) -> str:
    return "out_of_scope" if Path(example.source).stem == OUT_OF_SCOPE_FILE else "realistic"


def run(model: NLUModel, data: TrainingData) -> dict[str, Any]:
    """Per language: out-of-scope messages routed, out-of-scope recognised as such, and on
    realistic messages the intent accuracy (the decision, or the best guess under a
    fallback, as ``intake nlu eval`` counts it); per intent: accuracy on realistic messages."""
    rows: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    per_intent: dict[str, list[bool]] = defaultdict(list)
    misses: list[str] = []
    for example in sorted(data.examples, key=lambda e: (LANGUAGES.index(e.language)
                                                         if e.language in LANGUAGES else 99, e.source, e.line)):
        parse = model.parse(example.text, language_hint=example.language)
        name = parse["intent"]["name"]
        guess = parse["intent_ranking"][1]["name"] if name == FALLBACK else name
        row = rows[example.language]
        if _kind(example) == "out_of_scope":
            row["routed"].append(routed(parse))
            row["oos"].append(name in ("out_of_scope", FALLBACK))
            if routed(parse):
                misses.append(f"{example.language} out_of_scope → {name} {parse['intent']['confidence']:.2f}: "
                              f"{example.text}")
        else:
            ok = guess == example.intent
            row["correct"].append(ok)
            per_intent[example.intent].append(ok)
            if not ok:
                misses.append(f"{example.language} {example.intent} → {guess}: {example.text}")

    def share(values: list[bool]) -> float | None:
        return sum(values) / len(values) if values else None

    languages = {code: {"oos": len(r["routed"]), "routed": share(r["routed"]), "oos_recognised": share(r["oos"]),
                        "realistic": len(r["correct"]), "accuracy": share(r["correct"])}
                 for code, r in rows.items()}
    every_routed = [v for r in rows.values() for v in r["routed"]]
    every_correct = [v for r in rows.values() for v in r["correct"]]
    return {
        "languages": languages,
        "intents": {i: {"examples": len(per_intent[i]), "accuracy": share(per_intent[i])}
                    for i in INTENTS if per_intent[i]},
        "routed": share(every_routed),
        "oos": len(every_routed),
        "accuracy": share(every_correct),
        "realistic": len(every_correct),
        "misses": misses,
    }


def report(f: dict[str, Any], misses: int = 30) -> str:
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    lines = ["Held-out messages (nlu/eval, never trained on)", "",
             f"{'language':<10}{'oos':>5}{'routed':>8}{'oos/fallback':>14}{'realistic':>11}{'accuracy':>10}"]
    for code, v in f["languages"].items():
        lines.append(f"{code:<10}{v['oos']:>5}{pct(v['routed']):>8}{pct(v['oos_recognised']):>14}"
                     f"{v['realistic']:>11}{pct(v['accuracy']):>10}")
    lines += ["", f"{'intent':<26}{'examples':>9}{'accuracy':>10}"]
    for name, v in f["intents"].items():
        lines.append(f"{name:<26}{v['examples']:>9}{pct(v['accuracy']):>10}")
    accuracies = [v["accuracy"] for v in f["languages"].values() if v["accuracy"] is not None]
    lines += ["", f"out of scope: {pct(f['routed'])} of {f['oos']} messages routed into a journey or urgent help",
              f"realistic: accuracy {pct(f['accuracy'])} on {f['realistic']} messages, "
              f"worst language {pct(min(accuracies) if accuracies else None)}"]
    if f["misses"] and misses:
        lines += ["", f"misses ({len(f['misses'])}, first {min(misses, len(f['misses']))}):"]
        lines += [f"  {m}" for m in f["misses"][:misses]]
    return "\n".join(lines)


def load_heldout(root: Path | None = None, languages: list[str] | None = None) -> TrainingData:
    return load(root or default_heldout_dir(), languages)
