"""query_vectors: nearest neighbours, following QueryVectors pages until top_k results or the end."""

from __future__ import annotations

from typing import Any

from .. import nul_escape
from ..clients import client_for
from ..requests import QueryRequest
from .aws_call import call


def similarity(metric: str | None, distance: float | None) -> float | None:
    """The contract's similarity: higher is closer.

    cosine: 1 - distance (the service's cosine distance), -1..1 and 1.0 for the same direction.
    euclidean: 1 / (1 + distance), 0..1, monotone decreasing in distance.
    None when the service gave no distance or a metric this handler does not know.
    """
    if distance is None:
        return None
    if metric == "cosine":
        return 1.0 - distance
    if metric == "euclidean":
        return 1.0 / (1.0 + distance)
    return None


def query_pages(
    operation: str, client: Any, params: dict[str, Any], top_k: int
) -> tuple[list[Any], str | None, int]:
    """QueryVectors pages until top_k results or the end: the results, the index's metric, the page count.

    Every follow-up page repeats the same request with the page's token; operation names the
    contract operation that errors are reported under (query_vectors, search_text).
    """
    found: list[Any] = []
    pages = 0
    metric: str | None = None
    token: str | None = None
    while True:
        page = params if token is None else {**params, "nextToken": token}
        response: Any = call(operation, "QueryVectors", client.query_vectors, **page)
        pages += 1
        metric = response.get("distanceMetric") or metric
        found.extend(response.get("vectors") or ())
        token = response.get("nextToken")
        if len(found) >= top_k or not token:
            break
    return found, metric, pages


def run(request: QueryRequest, client: Any = None) -> dict[str, Any]:
    # query_vectors_batch passes its own client (operations/batch.py).
    client = client or client_for(request.index.region)
    params: dict[str, Any] = {
        "indexArn": request.index.arn,
        "topK": request.top_k,
        "queryVector": {"float32": request.query_vector},
        "returnDistance": True,
        "returnMetadata": request.return_metadata,
    }
    if request.filter is not None:
        params["filter"] = request.filter
    found, metric, pages = query_pages("query_vectors", client, params, request.top_k)
    vectors = []
    for item in found[: request.top_k]:
        distance = item.get("distance")
        row: dict[str, Any] = {
            "key": nul_escape.encode(item["key"]),
            "distance": distance,
            "similarity": similarity(metric, distance),
        }
        if request.return_metadata:
            row["metadata"] = nul_escape.encode_metadata(item.get("metadata"))
        vectors.append(row)
    return {"distance_metric": metric, "vectors": vectors, "pages": pages}
