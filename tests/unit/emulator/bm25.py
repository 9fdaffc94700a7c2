"""Reference BM25 (k1 = 1.2, b = 0.75, Lucene's idf), the ground truth of the full-text search tests."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Container
from typing import Any


def reference_bm25(
    docs: dict[str, dict[str, Any]],
    field: str,
    terms_of: Callable[[Any], list[str]],
    text: str,
    allowed: Container[str] | None = None,
) -> dict[str, float]:
    """Key -> BM25 of `text` in metadata `field`, over every document holding at least one term there;
    only keys in `allowed` (default: every key) are scored. `terms_of` analyzes a value into terms."""
    counts = {k: Counter(terms_of(m[field])) for k, m in docs.items() if field in m}
    counts = {k: c for k, c in counts.items() if c}
    if not counts:
        return {}
    n, average = len(counts), sum(c.total() for c in counts.values()) / len(counts)
    scores: dict[str, float] = {}
    for term in dict.fromkeys(terms_of(text)):
        df = sum(1 for c in counts.values() if term in c)
        if not df:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for key, c in counts.items():
            if term in c and (allowed is None or key in allowed):
                tf, norm = c[term], 1.2 * (1 - 0.75 + 0.75 * c.total() / average)
                scores[key] = scores.get(key, 0.0) + idf * tf * 2.2 / (tf + norm)
    return scores
