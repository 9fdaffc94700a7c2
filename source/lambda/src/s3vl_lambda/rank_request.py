"""The rank_vectors request: a query vector, the candidate keys to rank against it, and the index's metric.

requests.py exposes the parser under the operation's name, as it does for every operation. The metric comes
with the request (s3vl's registry read it from S3 Vectors when the index was registered; an index's metric
never changes), so ranking costs GetVectors calls only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import validation, vector_data
from .errors import HandlerError
from .validation import IndexArn

METRICS = ("cosine", "euclidean")


@dataclass(frozen=True)
class RankRequest:
    index: IndexArn
    distance_metric: str
    query_vector: list[float]  # rounded to float32, as the service rounds a query
    keys: list[str]  # as S3 Vectors stores them (unescaped), duplicates allowed
    top_k: int
    return_metadata: bool
    slice: bool  # a slice another invocation sent (rank_slices.py): ranked here, never sliced again


def rank_vectors(event: dict[str, Any]) -> RankRequest:
    index = validation.required_index(event)
    metric = validation.required(event, "distance_metric")
    if metric not in METRICS:
        shown = repr(metric)[:80] if isinstance(metric, str) else validation.json_type(metric)
        raise HandlerError(
            "INVALID_FIELD_TYPE",
            f"distance_metric is {shown}, not one of {', '.join(METRICS)}: send the index's metric as "
            "get_index reports it",
        )
    query = vector_data.exact(validation.vector(validation.required(event, "query_vector"), "query_vector"))
    if metric == "cosine" and not any(query):
        # What QueryVectors answers for it: the zero vector has no direction.
        raise HandlerError(
            "VALIDATION_FAILED",
            "query_vector is the zero vector once rounded to float32, which has no direction on a cosine "
            "index: send a vector with at least one element of magnitude above 1e-45",
        )
    return RankRequest(
        index=index,
        distance_metric=metric,
        query_vector=query,
        keys=validation.keys(validation.required(event, "keys"), "keys"),
        top_k=validation.top_k(event.get("top_k")),
        return_metadata=validation.boolean(event, "return_metadata", False),
        slice=validation.boolean(event, "slice", False),
    )
