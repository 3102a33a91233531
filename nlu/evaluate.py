"""``intake nlu eval``: a report like ``rasa test nlu``, cross-validated.

Stratified k-fold over (intent, language): each fold trains the whole pipeline
(features, classifier, calibration, urgent threshold, language model) on the other folds
and parses the held-out examples. Reported: precision, recall and F1 per intent, accuracy
per language, the most frequent confusions with examples, ``urgent_help`` recall,
calibration (expected calibration error, fallback rate), language identification on
held-out messages of 3+ words, and "leave one language out": trained without a
language, how sure is the model on it? (It should not be: low confidence → fallback.)
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import numpy as np

from . import langid
from .data import INTENTS, LANGUAGES, Example, TrainingData
from .model import FALLBACK, Config, NLUModel, train, training_examples

DEFAULT_LEAVE_OUT = ["ka", "ku", "so", "ti"]
LANGID_MIN_WORDS = 3


def _subset(data: TrainingData, examples: list[Example]) -> TrainingData:
    """A TrainingData with only ``examples`` (synonyms kept: they are tables, not examples)."""
    from .data import LanguageData

    out = TrainingData()
    for code, lang in data.languages.items():
        out.languages[code] = LanguageData(code, synonyms=dict(lang.synonyms))
    for example in examples:
        out.languages[example.language].examples.append(example)
    return out


def _folds(examples: list[Example], k: int) -> list[np.ndarray]:
    from sklearn.model_selection import StratifiedKFold

    strata = [f"{e.intent}|{e.language}" for e in examples]
    counts = Counter(strata)
    # strata smaller than k go to the intent's stratum (sklearn needs k members per class)
    strata = [s if counts[s] >= k else s.split("|")[0] for s in strata]
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=0)
    return [test for _, test in splitter.split(np.zeros(len(strata)), strata)]


def _predict(model: NLUModel, examples: list[Example]) -> dict[str, Any]:
    texts = [e.text for e in examples]
    p, urgency = model.intent_probabilities_and_urgency(texts)
    decided = [model.decide(row, float(u)) for row, u in zip(p, urgency)]
    classes = model.intent_model.classes
    best = [classes[int(np.argmax(row))] for row in p]
    # accuracy counts the decision before the fallback: the intent the model would pick
    predicted = [name if name != FALLBACK else best[i] for i, (name, _) in enumerate(decided)]
    confidence = [float(p[i].max()) if name == FALLBACK else conf for i, (name, conf) in enumerate(decided)]
    fallback = [name == FALLBACK for name, _ in decided]
    languages, ngram_only, cld2_only = [], [], []
    supported = tuple(c for c in LANGUAGES if c in model.language_model.languages)
    lp = model.language_model.probability_matrix(texts)
    for i, text in enumerate(texts):
        probs = dict(zip(model.language_model.languages, lp[i]))
        cld2 = langid._cld2(text)
        languages.append(langid.combine(probs, cld2, supported, len(text.split())).code)
        ngram_only.append(max(probs, key=lambda c: probs[c]))
        cld2_only.append(langid._cld2_only(cld2, supported, 0).code)
    return {"predicted": predicted, "confidence": confidence, "fallback": fallback, "language": languages,
            "ngram": ngram_only, "cld2": cld2_only}


def _prf(truth: list[str], predicted: list[str], labels: list[str]) -> dict[str, dict[str, float]]:
    out = {}
    for label in labels:
        tp = sum(1 for t, p in zip(truth, predicted) if t == label and p == label)
        fp = sum(1 for t, p in zip(truth, predicted) if t != label and p == label)
        fn = sum(1 for t, p in zip(truth, predicted) if t == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[label] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
    return out


def _ece(confidence: list[float], correct: list[bool], bins: int = 10) -> float:
    c = np.asarray(confidence)
    ok = np.asarray(correct, dtype=float)
    total = 0.0
    for b in range(bins):
        mask = (c > b / bins) & (c <= (b + 1) / bins)
        if mask.any():
            total += mask.mean() * abs(c[mask].mean() - ok[mask].mean())
    return float(total)


def run(data: TrainingData, *, folds: int = 5, leave_out: list[str] | None = None,
        config: Config | None = None) -> dict[str, Any]:
    config = config or Config()
    examples = training_examples(data)
    n = len(examples)
    predicted: list[str] = [""] * n
    confidence = [0.0] * n
    fallback = [False] * n
    language = [""] * n
    ngram = [""] * n
    cld2 = [""] * n
    thresholds = []
    for test in _folds(examples, folds):
        test_set = set(test.tolist())
        model = train(_subset(data, [e for i, e in enumerate(examples) if i not in test_set]), config)
        thresholds.append(model.urgent_threshold)
        out = _predict(model, [examples[i] for i in test])
        for j, i in enumerate(test):
            predicted[i], confidence[i], fallback[i] = out["predicted"][j], out["confidence"][j], out["fallback"][j]
            language[i], ngram[i], cld2[i] = out["language"][j], out["ngram"][j], out["cld2"][j]
    truth = [e.intent for e in examples]
    correct = [t == p for t, p in zip(truth, predicted)]
    per_intent = _prf(truth, predicted, [i for i in INTENTS if i in set(truth)])
    per_language: dict[str, dict[str, float]] = {}
    for code in sorted({e.language for e in examples}, key=lambda c: LANGUAGES.index(c) if c in LANGUAGES else 99):
        idx = [i for i, e in enumerate(examples) if e.language == code]
        t = [truth[i] for i in idx]
        p = [predicted[i] for i in idx]
        prf = _prf(t, p, sorted(set(t)))
        urgent = [i for i in idx if truth[i] == "urgent_help"]
        long_idx = [i for i in idx if len(examples[i].text.split()) >= LANGID_MIN_WORDS]
        per_language[code] = {
            "examples": len(idx),
            "accuracy": float(np.mean([correct[i] for i in idx])),
            "macro_f1": float(np.mean([v["f1"] for v in prf.values()])),
            "urgent_recall": float(np.mean([predicted[i] == "urgent_help" for i in urgent])) if urgent else 0.0,
            "langid": float(np.mean([language[i] == code for i in long_idx])) if long_idx else 0.0,
            "langid_ngram": float(np.mean([ngram[i] == code for i in long_idx])) if long_idx else 0.0,
            "langid_cld2": float(np.mean([cld2[i] == code for i in long_idx])) if long_idx else 0.0,
        }
    confusions: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
    for i, e in enumerate(examples):
        if not correct[i]:
            confusions[(e.intent, predicted[i])].append(f"{e.text} ({e.language})")
    urgent = [i for i, t in enumerate(truth) if t == "urgent_help"]
    flagged = [i for i, p in enumerate(predicted) if p == "urgent_help"]
    long_idx = [i for i, e in enumerate(examples) if len(e.text.split()) >= LANGID_MIN_WORDS]
    accepted = [i for i in range(n) if not fallback[i]]
    figures: dict[str, Any] = {
        "examples": n,
        "folds": folds,
        "accuracy": float(np.mean(correct)),
        "macro_f1": float(np.mean([v["f1"] for v in per_intent.values()])),
        "urgent_recall": float(np.mean([predicted[i] == "urgent_help" for i in urgent])) if urgent else 0.0,
        "urgent_precision": float(np.mean([truth[i] == "urgent_help" for i in flagged])) if flagged else 0.0,
        "urgent_thresholds": thresholds,
        "fallback_threshold": config.fallback_threshold,
        "fallback_rate": float(np.mean(fallback)),
        "accuracy_accepted": float(np.mean([correct[i] for i in accepted])) if accepted else 0.0,
        "mean_confidence": float(np.mean(confidence)),
        "ece": _ece(confidence, correct),
        "langid_accuracy": float(np.mean([language[i] == examples[i].language for i in long_idx])),
        "langid_ngram_accuracy": float(np.mean([ngram[i] == examples[i].language for i in long_idx])),
        "langid_cld2_accuracy": float(np.mean([cld2[i] == examples[i].language for i in long_idx])),
        "langid_messages": len(long_idx),
        "per_intent": per_intent,
        "per_language": per_language,
        "confusions": [{"intent": a, "predicted": b, "count": len(v), "examples": v[:3]}
                       for (a, b), v in sorted(confusions.items(), key=lambda kv: (-len(kv[1]), kv[0]))],
        "leave_one_language_out": [],
    }
    for code in leave_out or []:
        if code not in {e.language for e in examples}:
            continue
        held = [e for e in examples if e.language == code]
        model = train(_subset(data, [e for e in examples if e.language != code]), config)
        out = _predict(model, held)
        ok = [t.intent == p for t, p in zip(held, out["predicted"])]
        in_language = [confidence[i] for i, e in enumerate(examples) if e.language == code]
        figures["leave_one_language_out"].append({
            "language": code,
            "examples": len(held),
            "accuracy": float(np.mean(ok)),
            "mean_confidence": float(np.mean(out["confidence"])),
            "confident_share": float(np.mean([c >= 0.8 for c in out["confidence"]])),
            "fallback_rate": float(np.mean(out["fallback"])),
            "accuracy_accepted": float(np.mean([o for o, f in zip(ok, out["fallback"]) if not f]))
            if not all(out["fallback"]) else 0.0,
            "ece": _ece(out["confidence"], ok),
            "in_language_mean_confidence": float(np.mean(in_language)),
            "in_language_accuracy": per_language[code]["accuracy"],
        })
    return figures


def report(f: dict[str, Any], confusions: int = 15) -> str:
    lines = [f"Intent classification, {f['folds']}-fold cross-validation, {f['examples']} examples", ""]
    lines.append(f"{'intent':<26}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}")
    for name, v in f["per_intent"].items():
        lines.append(f"{name:<26}{v['precision']:>10.3f}{v['recall']:>8.3f}{v['f1']:>8.3f}{v['support']:>9}")
    lines.append("")
    lines.append(f"{'language':<10}{'examples':>9}{'accuracy':>10}{'macro f1':>10}{'urgent rec':>12}"
                 f"{'langid':>8}{'(ngram':>8}{'cld2)':>7}")
    for code, v in f["per_language"].items():
        lines.append(f"{code:<10}{v['examples']:>9}{v['accuracy']:>10.3f}{v['macro_f1']:>10.3f}"
                     f"{v['urgent_recall']:>12.3f}{v['langid']:>8.3f}{v['langid_ngram']:>8.3f}{v['langid_cld2']:>7.3f}")
    lines.append("")
    lines.append(f"most frequent confusions (of {sum(c['count'] for c in f['confusions'])} errors):")
    for c in f["confusions"][:confusions]:
        lines.append(f"  {c['count']:>4}  {c['intent']} → {c['predicted']}: " + " | ".join(c["examples"]))
    lines.append("")
    lines.append(f"accuracy {f['accuracy']:.3f}   macro F1 {f['macro_f1']:.3f}   "
                 f"worst language {min(v['accuracy'] for v in f['per_language'].values()):.3f}")
    lines.append(f"urgent_help recall {f['urgent_recall']:.3f} (precision {f['urgent_precision']:.3f}; "
                 f"thresholds {', '.join(f'{t:.2f}' for t in f['urgent_thresholds'])})")
    lines.append(f"calibration: mean confidence {f['mean_confidence']:.3f}, ECE {f['ece']:.3f}; "
                 f"fallback below {f['fallback_threshold']}: {f['fallback_rate']:.1%} of messages, "
                 f"accuracy of the rest {f['accuracy_accepted']:.3f}")
    lines.append(f"language identification on {f['langid_messages']} messages of {LANGID_MIN_WORDS}+ words: "
                 f"{f['langid_accuracy']:.3f} (n-gram model alone {f['langid_ngram_accuracy']:.3f}, "
                 f"CLD2 alone {f['langid_cld2_accuracy']:.3f})")
    if f["leave_one_language_out"]:
        lines.append("")
        lines.append("leave one language out (trained without it; confidence should be low):")
        lines.append(f"  {'language':<10}{'accuracy':>9}{'mean conf':>11}{'conf≥0.8':>10}{'fallback':>10}"
                     f"{'ECE':>7}   {'in-language: accuracy, mean conf':<}")
        for v in f["leave_one_language_out"]:
            lines.append(f"  {v['language']:<10}{v['accuracy']:>9.3f}{v['mean_confidence']:>11.3f}"
                         f"{v['confident_share']:>10.1%}{v['fallback_rate']:>10.1%}{v['ece']:>7.3f}"
                         f"   {v['in_language_accuracy']:.3f}, {v['in_language_mean_confidence']:.3f}")
    return "\n".join(lines)
