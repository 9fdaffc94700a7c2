"""Full-text search over an index's searchable metadata keys: an inverted index per key, scored with BM25.

Each key is analyzed by the analyzer of its configured `language` (analyzers.py), its values and the
query texts alike. A string value is one text; a list value is the concatenation of its string elements;
other values are not indexed. Documents are vector keys, so a delete that moves rows does not touch the
index.

BM25 (the Lucene form), per searchable key, over the vectors whose value has at least one token:
    idf(t)      = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))
    score(d, q) = sum over the distinct terms t of q of
                  idf(t) * tf * (K1 + 1) / (tf + K1 * (1 - B + B * len(d) / avglen))
N, df and avglen are index-wide statistics; a query's filter narrows the candidates, not the statistics.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .analyzers import analyze

K1 = 1.2
B = 0.75


def value_tokens(value: Any, language: str | None) -> list[str]:
    if isinstance(value, str):
        return analyze(value, language)
    if isinstance(value, list):
        return [token for item in value if isinstance(item, str) for token in analyze(item, language)]
    return []


class _Field:
    """The inverted index of one searchable metadata key."""

    def __init__(self, language: str | None) -> None:
        self.language = language
        self.postings: dict[str, dict[str, int]] = {}  # term -> {vector key: term frequency}
        self.terms: dict[str, tuple[str, ...]] = {}  # vector key -> its distinct terms (to unindex it)
        self.lengths: dict[str, int] = {}  # vector key -> token count
        self.total_length = 0

    def add(self, key: str, tokens: list[str]) -> None:
        counts = Counter(tokens)
        for term, tf in counts.items():
            self.postings.setdefault(term, {})[key] = tf
        self.terms[key] = tuple(counts)
        self.lengths[key] = len(tokens)
        self.total_length += len(tokens)

    def remove(self, key: str) -> None:
        terms = self.terms.pop(key, None)
        if terms is None:
            return
        for term in terms:
            docs = self.postings[term]
            del docs[key]
            if not docs:
                del self.postings[term]
        self.total_length -= self.lengths.pop(key)

    def scores(self, terms: Iterable[str], allowed: Callable[[str], bool] | None) -> dict[str, float]:
        n = len(self.lengths)
        if not n:
            return {}
        average = self.total_length / n
        lengths = self.lengths
        result: dict[str, float] = {}
        for term in dict.fromkeys(terms):
            docs = self.postings.get(term)
            if not docs:
                continue
            df = len(docs)
            idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            for key, tf in docs.items():
                if allowed is not None and not allowed(key):
                    continue
                norm = K1 * (1.0 - B + B * lengths[key] / average)
                result[key] = result.get(key, 0.0) + idf * tf * (K1 + 1.0) / (tf + norm)
        return result


class TextIndex:
    """Inverted indexes for the configured searchable keys, kept current by VectorStore.put/delete."""

    def __init__(self, languages: Mapping[str, str | None], keep: dict[str, _Field] | None = None) -> None:
        """languages: searchable key -> its language (None: the default analyzer)."""
        keep = keep or {}
        self.fields: dict[str, _Field] = {}
        for name, language in languages.items():
            kept = keep.get(name)
            self.fields[name] = kept if kept is not None and kept.language == language else _Field(language)

    def put(self, key: str, metadata: dict[str, Any] | None, names: Iterable[str] | None = None) -> None:
        """Index (or re-index, on overwrite) one vector's metadata under the given keys (default all)."""
        for name in self.fields if names is None else names:
            field = self.fields[name]
            field.remove(key)
            tokens = value_tokens(metadata.get(name), field.language) if metadata else []
            if tokens:
                field.add(key, tokens)

    def remove(self, key: str) -> None:
        for field in self.fields.values():
            field.remove(key)

    def search(
        self, metadata_key: str, text: str, allowed: Callable[[str], bool] | None
    ) -> list[tuple[float, str]]:
        """(BM25 score, key) of each allowed vector matching a term of the text (analyzed as the key's
        values are); score descending, key ascending."""
        field = self.fields[metadata_key]
        scores = field.scores(analyze(text, field.language), allowed)
        return sorted(((s, k) for k, s in scores.items()), key=lambda item: (-item[0], item[1]))
