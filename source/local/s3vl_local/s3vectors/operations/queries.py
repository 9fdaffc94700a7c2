"""QueryVectors: vector, full-text and hybrid search, paged by nextToken over a cached full ranking."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import filters, hybrid, index_modes, pagination, validation
from ..catalog import Catalog, Index
from ..errors import ValidationException
from . import resources
from .resources import Request, Response

# "Top-K results per QueryVectors request: up to 100" (service limits); larger topK pages by nextToken.
QUERY_PAGE_SIZE = 100
_QUERY_CACHE_ENTRIES = 8
_OTHER_QUERY = (
    "This nextToken belongs to a different query: repeat the same queryVector, queryTexts, topK, filter "
    "and queryMode with it, or start again without nextToken"
)
_cache_lock = threading.Lock()


def QueryVectors(catalog: Catalog, req: Request) -> Response:
    index = resources.index(catalog, req)
    top_k = req["topK"]
    if top_k > validation.MAX_TOP_K:
        raise ValidationException(f"topK is {top_k}; the maximum is {validation.MAX_TOP_K}")
    texts = req.get("queryTexts") or None
    if texts is None and req.get("queryVector") is None:
        raise ValidationException(
            "Give queryVector (vector search), queryTexts (full-text search) or both (hybrid search)"
        )
    query: np.ndarray | None = None
    if req.get("queryVector") is not None:
        query = validation.vector_data(req["queryVector"], index.dimension, "queryVector")
        validation.reject_zero_for_cosine(query, index.metric, "queryVector")
    mode = req.get("queryMode") or index.mode
    if index.mode == "ENHANCED" and mode == "CLASSIC":
        raise ValidationException("queryMode CLASSIC cannot be used on an ENHANCED index; omit queryMode")
    parsed = (
        hybrid.parse_texts(texts, index.mode, index.metadata_configuration) if texts is not None else None
    )
    document = req.get("filter")
    node = filters.parse_filter(document, index.non_filterable) if document is not None else None
    if (
        node is not None
        and mode == "CLASSIC"
        and filters.uses_operator(node, filters.ENHANCED_ONLY_OPERATORS)
    ):
        raise ValidationException("$startsWith needs ENHANCED query mode; call UpdateIndexMode first")
    query64 = query.astype(np.float64) if query is not None else None
    what = [index.arn, query.tobytes().hex() if query is not None else None, top_k, document, mode]
    if texts is not None:
        what.append(texts)
    fingerprint = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()
    state = pagination.resume(req, "QueryVectors", fingerprint, {"o": int}, _OTHER_QUERY)
    offset = state["o"] if state is not None else 0
    if state is not None and not (0 < offset < top_k and offset % QUERY_PAGE_SIZE == 0):
        raise pagination.invalid("QueryVectors", f"its offset {offset} is not a page of topK {top_k}")
    with index.lock.read():
        ranked = _cached(
            index, fingerprint, lambda: _ranking(index, fingerprint, query64, top_k, node, mode, parsed)
        )
        page = ranked[offset : offset + QUERY_PAGE_SIZE]
        with_distance, with_scores, with_metadata = (
            bool(req.get(f"return{name}")) for name in ("Distance", "Scores", "Metadata")
        )
        if parsed is not None:
            vectors = [hybrid.output(hit, index, with_distance, with_scores, with_metadata) for hit in page]
        else:
            vectors = []
            for distance, key in page:
                item: Response = {"key": key}
                if with_distance:
                    item["distance"] = distance
                if with_metadata:
                    item["metadata"] = index.store.metadata(index.store.rows[key])
                vectors.append(item)
    response: Response = {"vectors": vectors, "distanceMetric": index.metric}
    if offset + QUERY_PAGE_SIZE < len(ranked):
        response["nextToken"] = pagination.encode("QueryVectors", fingerprint, o=offset + QUERY_PAGE_SIZE)
    return response


def _ranking(
    index: Index,
    fingerprint: str,
    query: np.ndarray | None,
    top_k: int,
    node: filters.Node | None,
    mode: str,
    texts: list[tuple[str, str]] | None,
) -> list[Any]:
    """The full top-k ranking: full-text or hybrid with queryTexts (hybrid.py), else by vector, where a
    filter follows the index mode (index_modes.py). Callers hold the index's lock."""
    store = index.store
    mask = store.filter_mask(node) if node is not None else None
    if texts is not None:
        return hybrid.rank(store, query, top_k, mask, texts)
    assert query is not None  # QueryVectors refuses a request with neither queryVector nor queryTexts
    if mask is None:
        return store.search(query, top_k, None)
    return index_modes.filtered_search(store, query, top_k, mask, mode, fingerprint)


def _cached(index: Index, fingerprint: str, compute: Callable[[], list[Any]]) -> list[Any]:
    """A full ranking; multi-page rankings are cached per index state for the later pages."""
    key = (fingerprint, index.store.version)
    with _cache_lock:
        cached = index.query_cache.get(key)
    if cached is not None:
        return cached
    ranked = compute()
    if len(ranked) > QUERY_PAGE_SIZE:
        with _cache_lock:
            index.query_cache[key] = ranked
            while len(index.query_cache) > _QUERY_CACHE_ENTRIES:
                index.query_cache.popitem(last=False)
    return ranked
