"""Full-text-only and hybrid QueryVectors rankings (requests with queryTexts).

- Full-text only (no queryVector): each query text is scored with BM25 against its key's field; a
  vector's relevance is the sum of its BM25 scores over the query texts; vectors matching no term are
  not results. Order: relevance descending, then key ascending.
- Hybrid (queryVector and queryTexts): one ranking per source, each cut to its best topK (the exact
  vector ranking as in a vector-only query; per query text, BM25 descending, key ascending), fused by
  reciprocal rank fusion: fused(v) = sum over the rankings holding v of 1 / (RRF_K + rank), rank from 1.
  Order: fused descending, then key ascending; the best topK are the results.
The filter is applied first, to every source. Statistics for BM25 are index-wide (see text_index).
A query text is analyzed as its key's values are (text_index, analyzers); a key still BUILDING
(text_status) refuses queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import text_status
from .analyzers import has_word
from .errors import ValidationException
from .storage import VectorStore

RRF_K = 60


@dataclass(frozen=True)
class Hit:
    key: str
    distance: float | None  # exact distance to the query vector (hybrid only)
    fused: float | None  # RRF score (hybrid only)
    vector_distance: float | None  # the distance, when the vector ranking holds this vector
    bm25: tuple[tuple[str, float], ...]  # (metadataKey, BM25 score) per query text it matched


def parse_texts(
    texts: list[dict[str, Any]], index_mode: str, metadata_configuration: dict[str, Any]
) -> list[tuple[str, str]]:
    """Check queryTexts against the index; return (metadataKey, text) per entry."""
    if index_mode != "ENHANCED":
        raise ValidationException(
            "queryTexts (full-text and hybrid search) needs an index in ENHANCED mode and this index is "
            f"{index_mode}: call UpdateIndexMode with indexMode ENHANCED, or query with queryVector only"
        )
    searchable = [c["metadataKey"] for c in metadata_configuration.get("textSearchConfigurations", [])]
    parsed: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, entry in enumerate(texts):
        name = entry["metadataKey"]
        if name in seen:
            raise ValidationException(
                f"queryTexts[{i}].metadataKey {name!r} repeats an earlier entry: each entry must target "
                "a distinct searchable metadata key"
            )
        seen.add(name)
        if name not in searchable:
            configured = ", ".join(repr(k) for k in searchable) or "none"
            raise ValidationException(
                f"queryTexts[{i}].metadataKey {name!r} is not full-text searchable on this index "
                f"(searchable keys: {configured}); add it with UpdateMetadataConfiguration "
                "textSearchConfigurations"
            )
        if not has_word(entry["text"]):
            raise ValidationException(
                f"queryTexts[{i}].text has no searchable terms: give at least one word (letters or digits)"
            )
        parsed.append((name, entry["text"]))
    text_status.require_active(metadata_configuration, [name for name, _ in parsed])
    return parsed


def rank(
    store: VectorStore,
    query: np.ndarray | None,
    top_k: int,
    mask: np.ndarray | None,
    texts: list[tuple[str, str]],
) -> list[Hit]:
    text = store.text
    if text is None or any(name not in text.fields for name, _ in texts):
        # The configuration changed between the request's checks and taking the index lock.
        raise ValidationException("A queried metadata key is no longer full-text searchable on this index")
    rows = store.rows
    allowed = (lambda key: bool(mask[rows[key]])) if mask is not None else None
    text_rankings = [text.search(name, query_text, allowed) for name, query_text in texts]
    matched: dict[str, list[tuple[str, float]]] = {}
    for (name, _), ranking in zip(texts, text_rankings, strict=True):
        for score, key in ranking:
            matched.setdefault(key, []).append((name, score))
    if query is None:
        relevance = sorted(
            ((sum(s for _, s in scores), key) for key, scores in matched.items()),
            key=lambda item: (-item[0], item[1]),
        )
        return [Hit(key, None, None, None, tuple(matched[key])) for _, key in relevance[:top_k]]
    vector = store.search(query, top_k, mask)
    fused = reciprocal_rank_fusion(
        [[key for _, key in vector]] + [[key for _, key in ranking[:top_k]] for ranking in text_rankings]
    )[:top_k]
    in_vector = {key: distance for distance, key in vector}
    distances = store.distances([key for _, key in fused], query)
    return [
        Hit(key, distance, score, in_vector.get(key), tuple(matched.get(key, ())))
        for (score, key), distance in zip(fused, distances, strict=True)
    ]


def reciprocal_rank_fusion(rankings: list[list[str]]) -> list[tuple[float, str]]:
    """(fused score, key), fused descending then key ascending."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for position, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + position)
    return sorted(((score, key) for key, score in fused.items()), key=lambda item: (-item[0], item[1]))


def output(hit: Hit, index: Any, return_distance: bool, return_scores: bool, return_metadata: bool) -> dict:
    """One QueryOutputVector for a full-text or hybrid result."""
    item: dict[str, Any] = {"key": hit.key}
    if return_distance and hit.distance is not None:
        item["distance"] = hit.distance
    if return_scores:
        scores: dict[str, Any] = {}
        if hit.fused is not None:
            scores["fused"] = hit.fused
        if hit.bm25:
            scores["bm25Scores"] = [{"metadataKey": name, "score": score} for name, score in hit.bm25]
        if hit.vector_distance is not None:
            scores["vectorDistance"] = hit.vector_distance
        item["scores"] = scores
    if return_metadata:
        item["metadata"] = index.store.metadata(index.store.rows[hit.key])
    return item
