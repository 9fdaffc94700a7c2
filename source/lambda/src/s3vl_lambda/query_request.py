"""The fields a request that queries by vector carries: query_vectors' and search_text's, one class for both,
so the two cannot drift apart (search_text's query vector is optional: without it the query is text only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .validation import IndexArn

Vector = TypeVar("Vector", list[float], list[float] | None)


@dataclass(frozen=True)
class VectorQuery(Generic[Vector]):
    index: IndexArn
    query_vector: Vector
    top_k: int
    filter: dict[str, Any] | None
    return_metadata: bool
