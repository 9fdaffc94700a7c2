"""The query_vectors_batch request: many query vectors, sent to one index or to every member of a group.

requests.py exposes the parser under the operation's name, as it does for every operation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import filters, validation
from .contract import LIMITS
from .errors import HandlerError
from .validation import IndexArn

BATCH_QUERIES_MAX = LIMITS["batch_queries_max"]
GROUP_MEMBERS_MAX = LIMITS["group_members_max"]


@dataclass(frozen=True)
class BatchQueryRequest:
    indexes: list[IndexArn]  # one index, or the members of a group in the group's order
    query_vectors: list[list[float]]
    top_k: int
    filter: dict[str, Any] | None
    return_metadata: bool
    first_query_index: int  # the query_index of query_vectors[0], so messages name the caller's position


def query_vectors_batch(event: dict[str, Any]) -> BatchQueryRequest:
    arns = validation.required(event, "index_arns")
    if not isinstance(arns, list):
        raise validation.wrong_type("index_arns", "an array of index ARNs", arns)
    if not 1 <= len(arns) <= GROUP_MEMBERS_MAX or len(set(map(str, arns))) != len(arns):
        raise HandlerError(
            "INVALID_BATCH",
            f"index_arns has {len(arns)} entries ({len(set(map(str, arns)))} distinct); a batch queries 1 to "
            f"{GROUP_MEMBERS_MAX} distinct indexes: pass each member of the group once",
        )
    vectors = validation.required(event, "query_vectors")
    if not isinstance(vectors, list):
        raise validation.wrong_type("query_vectors", "an array of vectors", vectors)
    # One query per vector and index: the work (and the time) of the invocation.
    if not vectors or len(vectors) * len(arns) > BATCH_QUERIES_MAX:
        raise HandlerError(
            "INVALID_BATCH",
            f"query_vectors has {len(vectors)} vectors for {len(arns)} index(es); one invocation runs 1 to "
            f"{BATCH_QUERIES_MAX} queries (vectors x indexes): split the batch over several invocations "
            "(s3vl.query_vectors_batch does)",
        )
    first = validation.integer(event, "first_query_index")
    return BatchQueryRequest(
        indexes=[validation.index_arn(arn) for arn in arns],
        query_vectors=[validation.vector(v, f"query_vectors[{n}]") for n, v in enumerate(vectors)],
        top_k=validation.top_k(event.get("top_k")),
        filter=filters.of_request(event),
        return_metadata=validation.boolean(event, "return_metadata", False),
        first_query_index=1 if first is None else first,
    )
