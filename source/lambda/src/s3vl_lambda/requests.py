"""Typed requests: one parser per operation turns a validated event into what the operation runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import filters, limits, validation
from .batch_request import query_vectors_batch as query_vectors_batch
from .contract import OPERATIONS
from .errors import HandlerError
from .query_request import VectorQuery
from .rank_request import rank_vectors as rank_vectors
from .text_requests import configure_text_search as configure_text_search
from .text_requests import search_text as search_text
from .text_requests import set_index_mode as set_index_mode
from .validation import IndexArn


@dataclass(frozen=True)
class HealthRequest:
    index: IndexArn | None


@dataclass(frozen=True)
class GetIndexRequest:
    index: IndexArn


class QueryRequest(VectorQuery[list[float]]):
    """query_vectors: one query vector, its fields those of every vector query."""


@dataclass(frozen=True)
class GetVectorsRequest:
    index: IndexArn
    keys: list[str]
    return_data: bool
    return_metadata: bool


@dataclass(frozen=True)
class ListRequest:
    index: IndexArn
    max_results: int
    next_token: str | None
    segment: tuple[int, int] | None  # (count, index)
    return_data: bool
    return_metadata: bool


@dataclass(frozen=True)
class VectorToPut:
    key: str
    data: list[float]
    metadata: dict[str, Any] | None


@dataclass(frozen=True)
class PutRequest:
    index: IndexArn
    vectors: list[VectorToPut]


@dataclass(frozen=True)
class DeleteRequest:
    index: IndexArn
    keys: list[str]


def health(event: dict[str, Any]) -> HealthRequest:
    given = event.get("index_arn")
    return HealthRequest(None if given is None else validation.index_arn(given))


def get_index(event: dict[str, Any]) -> GetIndexRequest:
    return GetIndexRequest(validation.required_index(event))


def query_vectors(event: dict[str, Any]) -> QueryRequest:
    index = validation.required_index(event)
    vector = validation.vector(validation.required(event, "query_vector"), "query_vector")
    return QueryRequest(
        index=index,
        query_vector=vector,
        top_k=validation.top_k(event.get("top_k")),
        filter=filters.of_request(event),
        return_metadata=validation.boolean(event, "return_metadata", False),
    )


def get_vectors(event: dict[str, Any]) -> GetVectorsRequest:
    index = validation.required_index(event)
    return GetVectorsRequest(
        index=index,
        keys=validation.keys(validation.required(event, "keys"), "keys"),
        return_data=validation.boolean(event, "return_data", True),
        return_metadata=validation.boolean(event, "return_metadata", True),
    )


def list_vectors(event: dict[str, Any]) -> ListRequest:
    index = validation.required_index(event)
    service = limits.service()
    max_results = validation.integer(event, "max_results")
    low, high = service.list_max_results
    if max_results is not None and not low <= max_results <= high:
        raise HandlerError(
            "INVALID_MAX_RESULTS",
            f"max_results must be between {low} and {high}, got {max_results}: pass a value in range",
        )
    return ListRequest(
        index=index,
        max_results=500 if max_results is None else max_results,
        next_token=validation.next_token(event.get("next_token"), service.list_next_token_max),
        segment=_segment(event, service.segment_count_max),
        return_data=validation.boolean(event, "return_data", False),
        return_metadata=validation.boolean(event, "return_metadata", False),
    )


def _segment(event: dict[str, Any], count_max: int) -> tuple[int, int] | None:
    count = validation.integer(event, "segment_count")
    position = validation.integer(event, "segment_index")
    if count is None and position is None:
        return None
    if count is None or position is None:
        raise HandlerError(
            "INVALID_SEGMENT",
            "segment_count and segment_index go together: pass both (or neither) to scan one segment",
        )
    if not 1 <= count <= count_max or not 0 <= position < count:
        raise HandlerError(
            "INVALID_SEGMENT",
            f"segment_count must be 1..{count_max} and segment_index 0..segment_count-1, got "
            f"{count} and {position}: pass values in range",
        )
    return count, position


def put_vectors(event: dict[str, Any]) -> PutRequest:
    index = validation.required_index(event)
    raw = validation.required(event, "vectors")
    if not isinstance(raw, list):
        raise validation.wrong_type("vectors", "an array of {key, data, metadata} objects", raw)
    if not raw:
        raise HandlerError("EMPTY_KEYS", "vectors is empty: pass at least one vector to write")
    return PutRequest(index, [_vector_to_put(item, f"vectors[{n}]") for n, item in enumerate(raw)])


_VECTOR_FIELDS = frozenset({"key", "data", "metadata"})


def _vector_to_put(item: Any, name: str) -> VectorToPut:
    if not isinstance(item, dict):
        raise validation.wrong_type(name, "an object {key, data, metadata}", item)
    unknown = sorted(set(item) - _VECTOR_FIELDS)
    if unknown:
        raise HandlerError(
            "UNKNOWN_FIELD", f"{name} has unknown field(s) {', '.join(unknown)}: use key, data and metadata"
        )
    for field in ("key", "data"):
        if item.get(field) is None:
            raise HandlerError("MISSING_FIELD", f"{name}.{field} is required: add it")
    return VectorToPut(
        key=validation.key(item["key"], f"{name}.key"),
        data=validation.vector(item["data"], f"{name}.data"),
        metadata=validation.metadata(item.get("metadata"), f"{name}.metadata"),
    )


def delete_vectors(event: dict[str, Any]) -> DeleteRequest:
    index = validation.required_index(event)
    return DeleteRequest(index, validation.keys(validation.required(event, "keys"), "keys"))


# Each contract operation is parsed by the function of this module that bears its name (those of
# batch_request, rank_request and text_requests are imported under theirs).
PARSERS: dict[str, Callable[[dict[str, Any]], Any]] = {name: globals()[name] for name in OPERATIONS}
