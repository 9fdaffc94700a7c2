"""One module per operation; RUNNERS maps each contract operation to the function that runs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import delete, get, get_index, health, listing, put, query

RUNNERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "health": health.run,
    "get_index": get_index.run,
    "query_vectors": query.run,
    "get_vectors": get.run,
    "list_vectors": listing.run,
    "put_vectors": put.run,
    "delete_vectors": delete.run,
}
