"""The embedded NLU model: train, save, load, parse.

- intents: one multilingual linear classifier (linear SVM) over tf-idf character
  1–5-grams (within words) and word 1–2-grams of the folded text (no case, no
  diacritics, Arabic letter variants unified, references and long numbers as
  placeholders). Its scores become probabilities by a softmax at a temperature fitted
  on out-of-fold scores (so a confidence of 0.8 is right about 80% of the time), and
  ``urgent_help`` wins whenever its probability reaches a threshold fitted the same way
  for a recall of 99% (safety first). Below ``fallback_threshold`` the intent is
  Rasa's ``nlu_fallback``.
- language: :mod:`nlu.langid` (CLD2 and a character n-gram model trained here).
- entities: :mod:`nlu.entities`.

Training is deterministic (fixed folds and solver seeds, sorted inputs). The saved model
is one ``.npz`` of plain arrays and a JSON header, loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from . import langid
from .data import INTENTS, LANGUAGES, Example, TrainingData
from .entities import EntityExtractor, babel_names
from .linear import FeatureSet, LinearModel, NgramFeatures, fit_temperature, softmax
from .text import WORD, clean, fold, for_intent, for_language

log = logging.getLogger(__name__)

FORMAT = 3
FALLBACK = "nlu_fallback"
VIEWS = {"intent": for_intent, "language": for_language}


@dataclass(frozen=True, slots=True)
class Config:
    alpha: float = 1.5e-5
    """Regularisation of the intent SVM (lower fits the training data more closely)."""
    epochs: int = 15
    char_max: int = 5
    word_max: int = 2
    min_df: int = 1
    language_alpha: float = 3e-5
    calibration_folds: int = 3
    coverage_knee: float = 0.6
    """Below this share of known words, the intent scores shrink toward "no idea"
    (by the square of share / knee): a message in a language or jargon the model never
    saw gets a low confidence, not a confident guess."""
    fallback_threshold: float = 0.3
    """Below this confidence the intent is ``nlu_fallback`` (Rasa's FallbackClassifier)."""
    urgent_recall: float = 0.99
    """The out-of-fold recall the ``urgent_help`` threshold is fitted for."""
    urgent_threshold_bounds: tuple[float, float] = (0.08, 0.5)
    ranking_length: int = 10


@dataclass(slots=True)
class Trained:
    """What training measured along the way (printed by ``intake nlu train``)."""

    examples: int = 0
    languages: list[str] = field(default_factory=list)
    seconds: float = 0.0
    intent_features: int = 0
    language_features: int = 0
    temperature: float = 1.0
    urgent_threshold: float = 0.5
    language_temperature: float = 1.0


class NLUModel:
    def __init__(self, intent_features: FeatureSet, intent_model: LinearModel,
                 language_model: langid.NgramLanguageModel, entities: EntityExtractor, *,
                 config: Config, urgent_threshold: float, raw_temperature: float = 1.0, fingerprint: str = "",
                 trained: Trained | None = None, entity_tables: dict | None = None) -> None:  # type: ignore[type-arg]
        self.intent_features = intent_features
        self.intent_model = intent_model
        self.language_model = language_model
        self.entities = entities
        self.config = config
        self.urgent_threshold = urgent_threshold
        self.raw_temperature = raw_temperature
        """The temperature of the unshrunk scores, on which the urgent_help threshold is."""
        self.fingerprint = fingerprint
        self.trained = trained or Trained()
        self._entity_tables = entity_tables or {}
        self._known_words: frozenset[str] | None = None
        self._urgent = intent_model.classes.index("urgent_help") if "urgent_help" in intent_model.classes else -1
        self.supported = tuple(c for c in LANGUAGES if c in language_model.languages) or tuple(
            language_model.languages)

    # -- parsing ------------------------------------------------------------------------

    @property
    def known_words(self) -> frozenset[str]:
        if self._known_words is None:
            block = next(b for _, b in self.intent_features.blocks if b.analyzer == "word")
            self._known_words = frozenset(t for t in block.terms if " " not in t)
        return self._known_words

    def intent_probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, shrunk toward uniform for unfamiliar words."""
        return self.intent_probabilities_and_urgency(texts)[0]

    def intent_probabilities_and_urgency(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, P(urgent_help) before shrinking) of several texts."""
        scores = self.intent_model.scores(self.intent_features.transform(list(texts))).astype(np.float64)
        shrink = np.array([self.shrink(t) for t in texts])
        p = softmax(scores * shrink[:, None] / self.intent_model.temperature)
        raw = softmax(scores / self.raw_temperature)
        return p, (raw[:, self._urgent] if self._urgent >= 0 else np.zeros(len(texts)))

    def shrink(self, text: str) -> float:
        return shrink_factor(coverage(self.known_words, text), self.config.coverage_knee)

    def decide(self, p: np.ndarray, urgency: float | None = None) -> tuple[str, float]:
        """(intent, confidence) from one row of probabilities: urgent_help first (when its
        probability before shrinking, ``urgency``, reaches the threshold: safety does not
        wait for familiar words), then the most probable, then the fallback."""
        classes = self.intent_model.classes
        urgency = float(p[self._urgent]) if urgency is None and self._urgent >= 0 else urgency
        if self._urgent >= 0 and urgency is not None and urgency >= self.urgent_threshold:
            return "urgent_help", float(p[self._urgent])
        best = int(np.argmax(p))
        if p[best] < self.config.fallback_threshold:
            return FALLBACK, self.config.fallback_threshold
        return classes[best], float(p[best])

    def _classify(self, cleaned: str) -> tuple[np.ndarray, str, float]:
        scores = self.intent_model.scores_one(*self.intent_features.vector(cleaned)).astype(np.float64)
        p = softmax(scores * self.shrink(cleaned) / self.intent_model.temperature)
        urgency = float(softmax(scores / self.raw_temperature)[self._urgent]) if self._urgent >= 0 else None
        name, confidence = self.decide(p, urgency)
        return p, name, confidence

    def intent(self, text: str) -> tuple[str | None, float]:
        """(intent, confidence) of one message, as :meth:`parse` decides them, without
        what costs the rest of a parse (the language and the entities): the check, in a
        journey, whether an answer is rather a wish (urgent help first)."""
        cleaned = clean(text)
        if not cleaned:
            return None, 0.0
        _, name, confidence = self._classify(cleaned)
        return name, round(confidence, 4)

    def parse(self, text: str, language_hint: str | None = None, *, today: date | None = None) -> dict:  # type: ignore[type-arg]
        """Rasa's parse shape for one message."""
        cleaned = clean(text)
        if not cleaned:
            return {"text": text, "language": {"code": language_hint or "un", "confidence": 0.0},
                    "intent": {"name": None, "confidence": 0.0}, "intent_ranking": [], "entities": []}
        guess = langid.identify(cleaned, self.supported, model=self.language_model, hint=language_hint)
        p, name, confidence = self._classify(cleaned)
        order = np.argsort(-p, kind="stable")[: self.config.ranking_length]
        ranking = [{"name": self.intent_model.classes[i], "confidence": round(float(p[i]), 4)} for i in order]
        if name == FALLBACK:
            ranking.insert(0, {"name": FALLBACK, "confidence": round(confidence, 4)})
        elif name != ranking[0]["name"]:  # urgent_help promoted
            ranking = [r for r in ranking if r["name"] != name]
            ranking.insert(0, {"name": name, "confidence": round(confidence, 4)})
        language = guess.code
        if language_hint and (guess.code == "un" or guess.confidence < 0.5):
            entity_language = language_hint
        else:
            entity_language = language if language != "un" else (language_hint or "en")
        top = ranking[0]["name"] if name == FALLBACK and len(ranking) > 1 else name
        entities = self.entities.extract(text, _base_locale(entity_language), today=today,
                                         intent=ranking[1]["name"] if top == FALLBACK else name)
        return {
            "text": text,
            "language": {"code": language, "confidence": round(guess.confidence, 4)},
            "intent": {"name": name, "confidence": round(confidence, 4)},
            "intent_ranking": ranking,
            "entities": entities,
        }

    # -- saving and loading -----------------------------------------------------------

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {
            "format": FORMAT,
            "fingerprint": self.fingerprint,
            "config": asdict(self.config),
            "urgent_threshold": self.urgent_threshold,
            "raw_temperature": self.raw_temperature,
            "intents": self.intent_model.classes,
            "languages": list(self.language_model.languages),
            "intent_spec": self.intent_features.spec(),
            "language_spec": self.language_model.features.spec(),
            "trained": asdict(self.trained),
            "entities": self._entity_tables,
        }
        arrays: dict[str, np.ndarray] = {
            "header": np.frombuffer(json.dumps(header, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)}
        arrays.update(self.intent_features.to_arrays("if"))
        arrays.update(self.intent_model.to_arrays("im"))
        arrays.update(self.language_model.features.to_arrays("lf"))
        arrays.update(self.language_model.model.to_arrays("lm"))
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> NLUModel:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        header = json.loads(arrays["header"].tobytes().decode("utf-8"))
        if header.get("format") != FORMAT:
            raise ValueError(f"{path}: model format {header.get('format')}, expected {FORMAT}: train again")
        config = Config(**{**header["config"],
                           "urgent_threshold_bounds": tuple(header["config"]["urgent_threshold_bounds"])})
        intent_features = FeatureSet.from_arrays("if", [tuple(s) for s in header["intent_spec"]], VIEWS, arrays)
        intent_model = LinearModel.from_arrays("im", header["intents"], arrays)
        language_features = FeatureSet.from_arrays("lf", [tuple(s) for s in header["language_spec"]], VIEWS, arrays)
        language_model = LinearModel.from_arrays("lm", header["languages"], arrays)
        tables = header["entities"]
        entities = EntityExtractor([tuple(s) for s in tables["synonyms"]], tables["known"],
                                   babel=[tuple(s) for s in tables["babel"]])
        model = cls(intent_features, intent_model, langid.NgramLanguageModel(language_features, language_model),
                    entities, config=config, urgent_threshold=header["urgent_threshold"],
                    raw_temperature=header["raw_temperature"],
                    fingerprint=header["fingerprint"], trained=Trained(**header["trained"]), entity_tables=tables)
        model.parse("warm up: hello")  # builds the lookup tables now, not on the first message
        return model


def _words(text: str) -> list[str]:
    return [w for w in WORD.findall(for_intent(text)) if not w.isdigit()]


def coverage(known: frozenset[str] | set[str], text: str) -> float:
    """The share of the message's words (not numbers) seen in training."""
    words = _words(text)
    return sum(w in known for w in words) / len(words) if words else 1.0


def shrink_factor(share: float, knee: float) -> float:
    """1 from ``knee`` up, then down with the square, never quite 0 (the order of the
    intents is kept, only the confidence falls)."""
    return max(0.02, min(1.0, share / knee) ** 2) if knee > 0 else 1.0


def _base_locale(code: str) -> str:
    if code in LANGUAGES:
        return code
    base = code.replace("-", "_").split("_")[0]
    return next((c for c in LANGUAGES if c.split("_")[0] == base), "en")


# -- training ------------------------------------------------------------------------------


def fingerprint(data: TrainingData, config: Config) -> str:
    digest = hashlib.sha256(json.dumps(asdict(config), sort_keys=True).encode())
    for example in sorted(data.examples, key=lambda e: (e.language, e.intent, e.text)):
        digest.update(f"{example.language}\t{example.intent}\t{example.text}\n".encode())
    for code in sorted(data.languages):
        for surface, value in sorted(data.languages[code].synonyms.items()):
            digest.update(f"{code}\t{surface}\t{value}\n".encode())
    return digest.hexdigest()[:16]


def training_examples(data: TrainingData) -> list[Example]:
    """The examples to learn from: known intents only, each (language, text) once, in a
    fixed order (training does not depend on file order)."""
    seen: set[tuple[str, str, str]] = set()
    kept = []
    for example in sorted(data.examples, key=lambda e: (e.language, e.intent, e.text)):
        key = (example.language, example.intent, fold(example.text))
        if example.intent in INTENTS and key not in seen:
            seen.add(key)
            kept.append(example)
    return kept


def intent_feature_set(config: Config) -> FeatureSet:
    return FeatureSet([("intent", NgramFeatures("char_wb", 1, config.char_max, config.min_df)),
                       ("intent", NgramFeatures("word", 1, config.word_max, config.min_df))], VIEWS)


def language_feature_set() -> FeatureSet:
    return FeatureSet([("language", NgramFeatures("char_wb", 1, 4))], VIEWS)


def _folds(labels: Sequence[str], k: int) -> list[np.ndarray]:
    """Deterministic stratified fold numbers (round robin within each label)."""
    from sklearn.model_selection import StratifiedKFold

    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    k = max(2, min(k, min(counts.values()) if counts else 2))
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=0)
    return [test for _, test in splitter.split(np.zeros(len(labels)), list(labels))]


def _out_of_fold_scores(X, labels: list[str], classes: list[str], k: int, alpha: float,  # type: ignore[no-untyped-def]
                        epochs: int, texts: list[str] | None = None, knee: float = 0.0,
                        shrink: list | None = None) -> np.ndarray:  # type: ignore[type-arg]
    """Scores of each example by a model trained on the other folds (the features'
    vocabulary and idf come from all examples: unseen n-grams weigh nothing anyway),
    and (with ``texts``, into ``shrink``) each fold's shrink factors: the share of the
    example's words the other folds know."""
    shrink = shrink if shrink is not None else []
    scores = np.full((X.shape[0], len(classes)), -10.0, dtype=np.float64)
    labels_arr = np.array(labels)
    for test in _folds(labels, k):
        train = np.setdiff1d(np.arange(X.shape[0]), test)
        model = LinearModel.fit(X[train], labels_arr[train], alpha=alpha, epochs=epochs)
        fold_scores = model.scores(X[test])
        for j, cls in enumerate(model.classes):
            scores[test, classes.index(cls)] = fold_scores[:, j]
        if texts is not None and knee > 0:
            known = {w for i in train for w in _words(texts[i])}
            shrink.append((test, np.array([shrink_factor(coverage(known, texts[i]), knee) for i in test])))
    return scores


def urgent_threshold_for(p_urgent: np.ndarray, is_urgent: np.ndarray, recall: float,
                         bounds: tuple[float, float]) -> float:
    """The highest threshold on P(urgent_help) that still finds ``recall`` of the urgent
    messages, within ``bounds``."""
    low, high = bounds
    if not is_urgent.any():
        return high
    values = np.sort(p_urgent[is_urgent])
    index = int(np.floor((1 - recall) * len(values)))
    return float(min(high, max(low, values[index] - 1e-6)))


def train(data: TrainingData, config: Config | None = None, *, calibrate: bool = True) -> NLUModel:
    config = config or Config()
    started = time.perf_counter()
    examples = training_examples(data)
    if not examples:
        raise ValueError("no training examples")
    texts = [e.text for e in examples]
    intents = [e.intent for e in examples]
    classes = sorted(set(intents))
    languages = [e.language for e in examples]

    intent_features = intent_feature_set(config)
    X = intent_features.fit_transform(texts)
    intent_model = LinearModel.fit(X, intents, alpha=config.alpha, epochs=config.epochs)
    urgent_threshold = config.urgent_threshold_bounds[1]
    raw_temperature = 1.0
    if calibrate and len(examples) >= 2 * len(classes):
        folds: list = []  # type: ignore[type-arg]
        oof = _out_of_fold_scores(X, intents, classes, config.calibration_folds, config.alpha, config.epochs,
                                  texts, config.coverage_knee, folds)
        factors = np.ones(len(texts))
        for test, values in folds:
            factors[test] = values
        truth = np.array([classes.index(i) for i in intents])
        intent_model.temperature = fit_temperature(oof * factors[:, None], truth)
        raw_temperature = fit_temperature(oof, truth)
        if "urgent_help" in classes:
            p = softmax(oof / raw_temperature)
            u = classes.index("urgent_help")
            urgent_threshold = urgent_threshold_for(p[:, u], truth == u, config.urgent_recall,
                                                    config.urgent_threshold_bounds)
    del X

    language_classes = sorted(set(languages))
    language_features = language_feature_set()
    XL = language_features.fit_transform(texts)
    language_model = LinearModel.fit(XL, languages, alpha=config.language_alpha, epochs=config.epochs)
    if calibrate and len(language_classes) > 1:
        oof = _out_of_fold_scores(XL, languages, language_classes, config.calibration_folds,
                                  config.language_alpha, config.epochs)
        truth = np.array([language_classes.index(x) for x in languages])
        language_model.temperature = fit_temperature(oof, truth)
    del XL

    tables = entity_tables(data, examples)
    entities = EntityExtractor([tuple(s) for s in tables["synonyms"]], tables["known"],
                               babel=[tuple(s) for s in tables["babel"]])
    trained = Trained(
        examples=len(examples), languages=sorted(set(languages)), seconds=round(time.perf_counter() - started, 2),
        intent_features=intent_features.size, language_features=language_features.size,
        temperature=intent_model.temperature, urgent_threshold=urgent_threshold,
        language_temperature=language_model.temperature,
    )
    return NLUModel(intent_features, intent_model, langid.NgramLanguageModel(language_features, language_model),
                    entities, config=config, urgent_threshold=urgent_threshold, raw_temperature=raw_temperature,
                    fingerprint=fingerprint(data, config), trained=trained, entity_tables=tables)


def entity_tables(data: TrainingData, examples: Sequence[Example]) -> dict[str, list]:  # type: ignore[type-arg]
    """What the entity extractor needs from the data, in JSON-ready lists."""
    synonyms: list[tuple[str, str, str]] = []
    for code in sorted(data.languages):
        for surface, value in sorted(data.languages[code].synonyms.items()):
            if len(value) == 2 and value.isalpha() and value.isupper():
                synonyms.append(("country", surface, value))
            elif value in LANGUAGES:
                synonyms.append(("language", surface, value))
    known: set[str] = set()
    for example in examples:
        for entity in example.entities:
            if entity.entity in ("country", "language"):
                synonyms.append((entity.entity, entity.text, entity.value))
        masked = example.text
        for entity in example.entities:
            masked = masked[:entity.start] + " " * (entity.end - entity.start) + masked[entity.end:]
        known.update(fold(w) for w in WORD.findall(masked))
    names = {fold(s) for _, s, _ in synonyms}
    return {
        "synonyms": sorted(set(synonyms)),
        "known": sorted(known - names),
        "babel": [list(x) for x in babel_names()],
    }
