"""Sparse n-gram features and linear models that save as plain arrays.

scikit-learn and scipy fit them; at run time a model is a vocabulary, an idf vector and a
weight matrix applied with numpy alone (one message: :meth:`FeatureSet.vector`,
:meth:`LinearModel.scores_one`), so a saved model loads without pickle (``numpy.load``
with ``allow_pickle=False``), quickly, and without importing scikit-learn.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_SPACES = re.compile(r"\s\s+")
_TOKEN = re.compile(r"(?u)\b\w+\b")


def char_wb_ngrams(text: str, low: int, high: int) -> list[str]:
    """Character n-grams within words, padded with a space (scikit-learn's ``char_wb``)."""
    ngrams: list[str] = []
    append = ngrams.append
    for w in _SPACES.sub(" ", text).split():
        w = " " + w + " "
        length = len(w)
        for n in range(low, high + 1):
            offset = 0
            append(w[offset:offset + n])
            while offset + n < length:
                offset += 1
                append(w[offset:offset + n])
            if offset == 0:  # a short word counts once
                break
    return ngrams


def word_ngrams(text: str, low: int, high: int) -> list[str]:
    """Word n-grams of ``\\w+`` tokens (scikit-learn's ``word`` analyzer)."""
    original = _TOKEN.findall(text)
    tokens = list(original) if low == 1 else []
    for n in range(max(low, 2), min(high + 1, len(original) + 1)):
        for i in range(len(original) - n + 1):
            tokens.append(" ".join(original[i:i + n]))
    return tokens


@dataclass(slots=True)
class NgramFeatures:
    """Tf-idf (sublinear tf, l2 norm) over character or word n-grams."""

    analyzer: str  # "char_wb", "char" or "word"
    low: int
    high: int
    min_df: int = 1
    terms: list[str] = field(default_factory=list)
    idf: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    _vectorizer: Any = None
    _index: dict[str, int] | None = None

    def analyze(self, text: str) -> list[str]:
        if self.analyzer == "word":
            return word_ngrams(text, self.low, self.high)
        return char_wb_ngrams(text, self.low, self.high)

    def _make(self, vocabulary: dict[str, int] | None = None) -> Any:
        from sklearn.feature_extraction.text import CountVectorizer

        return CountVectorizer(analyzer=self.analyze, min_df=1 if vocabulary is not None else self.min_df,
                               vocabulary=vocabulary, dtype=np.float32)

    def fit(self, texts: Sequence[str]) -> NgramFeatures:
        self.fit_transform(texts)
        return self

    def fit_transform(self, texts: Sequence[str]) -> Any:
        vectorizer = self._make()
        counts = vectorizer.fit_transform(texts).tocsr()
        vocabulary = vectorizer.vocabulary_
        self.terms = [""] * len(vocabulary)
        for term, index in vocabulary.items():
            self.terms[index] = term
        df = np.bincount(counts.indices, minlength=len(self.terms))
        self.idf = (np.log((1 + len(texts)) / (1 + df)) + 1).astype(np.float32)
        self._vectorizer = self._make(vocabulary)
        return self._weigh(counts)

    @property
    def size(self) -> int:
        return len(self.terms)

    def vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """One text's tf-idf, l2-normalised, as (column indices, weights): the fast path
        for a single message (no scipy matrices)."""
        if self._index is None:
            self._index = {t: i for i, t in enumerate(self.terms)}
        index = self._index
        counts: dict[int, int] = {}
        for gram in self.analyze(text):
            column = index.get(gram)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        if not counts:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        weights = np.log1p(np.fromiter(counts.values(), dtype=np.float32, count=len(counts))) * self.idf[columns]
        return columns, weights / np.float32(np.sqrt(np.dot(weights, weights)) or 1.0)

    def counts(self, texts: Sequence[str]) -> Any:
        if self._vectorizer is None:
            self._vectorizer = self._make(self._index or {t: i for i, t in enumerate(self.terms)})
        return self._vectorizer.transform(texts)

    def transform(self, texts: Sequence[str]) -> Any:
        return self._weigh(self.counts(texts).tocsr())

    def _weigh(self, counts: Any) -> Any:
        counts.data = (np.log1p(counts.data) * self.idf[counts.indices]).astype(np.float32)
        return _l2(counts)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        joined = "\n".join(self.terms).encode("utf-8")
        return {
            f"{prefix}.terms": np.frombuffer(joined, dtype=np.uint8),
            f"{prefix}.idf": self.idf.astype(np.float32),
            f"{prefix}.config": np.array([self.low, self.high, self.min_df], dtype=np.int32),
        }

    @classmethod
    def from_arrays(cls, prefix: str, analyzer: str, arrays: dict[str, np.ndarray]) -> NgramFeatures:
        low, high, min_df = (int(x) for x in arrays[f"{prefix}.config"])
        raw = arrays[f"{prefix}.terms"].tobytes().decode("utf-8")
        terms = raw.split("\n") if raw else []
        return cls(analyzer, low, high, min_df, terms, arrays[f"{prefix}.idf"])


@dataclass(slots=True)
class FeatureSet:
    """Several :class:`NgramFeatures` over (possibly different) views of the text,
    side by side, the whole row l2-normalised."""

    blocks: list[tuple[str, NgramFeatures]]  # (view name, features)
    views: dict[str, Callable[[str], str]]

    def fit(self, texts: Sequence[str]) -> FeatureSet:
        self.fit_transform(texts)
        return self

    def fit_transform(self, texts: Sequence[str]) -> Any:
        cache: dict[str, list[str]] = {}
        parts = []
        for view, block in self.blocks:
            if view not in cache:
                cache[view] = [self.views[view](t) for t in texts]
            parts.append(block.fit_transform(cache[view]))
        from scipy import sparse

        return _l2(sparse.hstack(parts, format="csr", dtype=np.float32))

    @property
    def size(self) -> int:
        return sum(block.size for _, block in self.blocks)

    def transform(self, texts: Sequence[str]) -> Any:
        cache: dict[str, list[str]] = {}
        parts = []
        for view, block in self.blocks:
            if view not in cache:
                cache[view] = [self.views[view](t) for t in texts]
            parts.append(block.transform(cache[view]))
        from scipy import sparse

        return _l2(sparse.hstack(parts, format="csr", dtype=np.float32))

    def vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`transform` of one text as (column indices, weights), without scipy."""
        columns, weights = [], []
        offset = 0
        views: dict[str, str] = {}
        for view, block in self.blocks:
            if view not in views:
                views[view] = self.views[view](text)
            c, w = block.vector(views[view])
            columns.append(c + offset)
            weights.append(w)
            offset += block.size
        column = np.concatenate(columns)
        weight = np.concatenate(weights)
        norm = np.sqrt(np.dot(weight, weight))
        return column, (weight / norm if norm else weight)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {}
        for i, (_, block) in enumerate(self.blocks):
            arrays.update(block.to_arrays(f"{prefix}.{i}"))
        return arrays

    @classmethod
    def from_arrays(cls, prefix: str, spec: list[tuple[str, str]], views: dict[str, Callable[[str], str]],
                    arrays: dict[str, np.ndarray]) -> FeatureSet:
        blocks = [(view, NgramFeatures.from_arrays(f"{prefix}.{i}", analyzer, arrays))
                  for i, (view, analyzer) in enumerate(spec)]
        return cls(blocks, views)

    def spec(self) -> list[tuple[str, str]]:
        return [(view, block.analyzer) for view, block in self.blocks]


@dataclass(slots=True)
class LinearModel:
    """Class scores ``X @ coef + intercept``; probabilities are their softmax at a
    temperature fitted on held-out scores (calibration)."""

    classes: list[str]
    coef: np.ndarray  # (n_features, n_classes), float32; saved sparse (most n-grams weigh 0)
    intercept: np.ndarray
    temperature: float = 1.0

    @classmethod
    def fit(cls, X: Any, y: Sequence[str], *, alpha: float = 3e-5, epochs: int = 15,
            kind: str = "sgd") -> LinearModel:
        """A linear SVM (hinge loss), one class against the rest. ``sgd``: stochastic
        gradient descent, the classes fitted in parallel on two cores, deterministic
        (fixed seeds, fixed epochs); ``svm``: liblinear's exact solver, one core."""
        classes = sorted(set(y))
        if kind == "sgd":
            from sklearn.linear_model import SGDClassifier

            model = SGDClassifier(loss="hinge", alpha=alpha, max_iter=epochs, tol=None, random_state=0, n_jobs=2)
        else:
            from sklearn.svm import LinearSVC

            model = LinearSVC(C=1 / (alpha * X.shape[0]), random_state=0, max_iter=5000, tol=1e-3)
        model.fit(X, list(y))
        coef = np.asarray(model.coef_, dtype=np.float32)
        intercept = np.asarray(model.intercept_, dtype=np.float32)
        if len(classes) == 2:  # sklearn keeps one row for two classes
            coef = np.vstack([-coef[0], coef[0]])
            intercept = np.array([-intercept[0], intercept[0]], dtype=np.float32)
        assert list(model.classes_) == classes
        coef[np.abs(coef) < 1e-4] = 0.0
        return cls(classes, np.ascontiguousarray(coef.T), intercept)

    def scores(self, X: Any) -> np.ndarray:
        """Scores of the rows of a scipy sparse matrix."""
        return np.asarray(X @ self.coef) + self.intercept

    def scores_one(self, columns: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """The scores of one vector from :meth:`FeatureSet.vector`."""
        return weights @ self.coef[columns] + self.intercept

    def proba_one(self, columns: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return softmax(self.scores_one(columns, weights).astype(np.float64) / self.temperature)

    def proba(self, X: Any) -> np.ndarray:
        return softmax(self.scores(X) / self.temperature)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        rows, cols = np.nonzero(self.coef)
        indptr = np.zeros(self.coef.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=self.coef.shape[0]), out=indptr[1:])
        return {
            f"{prefix}.data": self.coef[rows, cols].astype(np.float32),
            f"{prefix}.indices": cols.astype(np.int32),
            f"{prefix}.indptr": indptr,
            f"{prefix}.shape": np.array(self.coef.shape, dtype=np.int64),
            f"{prefix}.intercept": self.intercept.astype(np.float32),
            f"{prefix}.temperature": np.array([self.temperature], dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, prefix: str, classes: list[str], arrays: dict[str, np.ndarray]) -> LinearModel:
        shape = tuple(int(x) for x in arrays[f"{prefix}.shape"])
        indptr = arrays[f"{prefix}.indptr"]
        coef = np.zeros(shape, dtype=np.float32)
        rows = np.repeat(np.arange(shape[0]), np.diff(indptr))
        coef[rows, arrays[f"{prefix}.indices"]] = arrays[f"{prefix}.data"]
        return cls(classes, coef, arrays[f"{prefix}.intercept"], float(arrays[f"{prefix}.temperature"][0]))


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def fit_temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of held-out scores."""
    best, best_nll = 1.0, float("inf")
    grid = np.exp(np.linspace(np.log(0.02), np.log(20.0), 121))
    rows = np.arange(len(truth))
    for t in grid:
        p = softmax(scores / t)
        nll = -float(np.mean(np.log(p[rows, truth] + 1e-12)))
        if nll < best_nll:
            best, best_nll = float(t), nll
    return best


def _l2(matrix: Any) -> Any:
    """Rows of a scipy CSR matrix scaled to unit length."""
    matrix = matrix.tocsr()
    lengths = np.diff(matrix.indptr)
    rows = np.repeat(np.arange(matrix.shape[0]), lengths)
    norms = np.sqrt(np.bincount(rows, weights=matrix.data.astype(np.float64) ** 2, minlength=matrix.shape[0]))
    norms[norms == 0] = 1.0
    matrix.data = (matrix.data / np.repeat(norms, lengths)).astype(np.float32)
    return matrix
