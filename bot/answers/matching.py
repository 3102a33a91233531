"""Matching what people type against names: case-, accent- and punctuation-blind keys,
and an index that forgives typos unless they are ambiguous."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz, process

FUZZY_CUTOFF = 85.0
FUZZY_TIE = 5.0  # candidates this close to the best score make a typo ambiguous
FUZZY_MIN_LEN = 4

_NON_WORD = re.compile(r"[\W_]+")


def words(text: str) -> list[str]:
    """Case-, accent- and punctuation-insensitive words of ``text``."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return [w for w in _NON_WORD.split(bare.casefold()) if w]


def key(text: str) -> str:
    return "".join(words(text))


def keys(texts: Iterable[str]) -> frozenset[str]:
    return frozenset(k for k in map(key, texts) if k)


@dataclass(frozen=True, slots=True)
class Index:
    """Normalised names → the values they may mean, with fuzzy lookup for typos."""

    exact: Mapping[str, frozenset[str]]
    names: tuple[str, ...]
    targets: tuple[frozenset[str], ...]

    def lookup(self, key: str) -> frozenset[str]:
        return self.exact.get(key, frozenset())

    def fuzzy(self, key: str) -> frozenset[str]:
        if len(key) < FUZZY_MIN_LEN:
            return frozenset()
        hits = process.extract(
            key, self.names, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=8
        )
        if not hits:
            return frozenset()
        best = hits[0][1]
        close = (self.targets[i] for _, score, i in hits if score >= best - FUZZY_TIE)
        return frozenset[str]().union(*close)


def build_index(
    pairs: Iterable[tuple[str, str]], overrides: Mapping[str, frozenset[str]] | None = None
) -> Index:
    """``pairs`` of (name, value); ``overrides`` maps keys to values whatever the names say."""
    exact: dict[str, set[str]] = {}
    for name, target in pairs:
        name_key = key(name)
        if name_key:
            exact.setdefault(name_key, set()).add(target)
    frozen = {k: frozenset(v) for k, v in exact.items()}
    frozen.update(overrides or {})
    return Index(frozen, tuple(frozen), tuple(frozen.values()))
