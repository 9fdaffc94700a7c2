"""search_text: full-text (BM25) or hybrid (text + vector, reciprocal rank fusion) QueryVectors with
queryTexts, following pages until top_k results or the end, as query_vectors does."""

from __future__ import annotations

from typing import Any

from .. import nul_escape
from ..clients import client_for
from ..text_requests import SearchTextRequest
from .query import query_pages


def run(request: SearchTextRequest) -> dict[str, Any]:
    client = client_for(request.index.region)
    params: dict[str, Any] = {
        "indexArn": request.index.arn,
        "topK": request.top_k,
        "queryTexts": [{"metadataKey": key, "text": text} for key, text in request.query_texts],
        "returnScores": True,
        "returnMetadata": request.return_metadata,
    }
    if request.query_vector is not None:
        params["queryVector"] = {"float32": request.query_vector}
    if request.filter is not None:
        params["filter"] = request.filter
    found, metric, pages = query_pages("search_text", client, params, request.top_k)
    return {
        "distance_metric": metric,
        "vectors": [_row(item, request) for item in found[: request.top_k]],
        "pages": pages,
    }


def _row(item: Any, request: SearchTextRequest) -> dict[str, Any]:
    scores = item.get("scores") or {}
    bm25 = {entry["metadataKey"]: entry["score"] for entry in scores.get("bm25Scores") or ()}
    fused = scores.get("fused")
    row: dict[str, Any] = {
        "key": nul_escape.encode(item["key"]),
        # A text-only query is ranked by its BM25 total; a hybrid one by the fused RRF score.
        "fused_score": fused if fused is not None else sum(bm25.values()),
        "bm25_scores": bm25,
        "vector_distance": scores.get("vectorDistance"),
    }
    if request.return_metadata:
        row["metadata"] = nul_escape.encode_metadata(item.get("metadata"))
    return row
