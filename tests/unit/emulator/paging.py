"""Follow QueryVectors' nextToken: a page holds at most 100 results, as on the service."""

from __future__ import annotations

from typing import Any


def all_pages(client: Any, sel: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """Every result of one query, in order, across its pages (each repeats the same request)."""
    vectors: list[dict[str, Any]] = []
    token = None
    while True:
        extra = {"nextToken": token} if token else {}
        page = client.query_vectors(**sel, **params, **extra)
        vectors += page["vectors"]
        token = page.get("nextToken")
        if not token:
            return vectors
