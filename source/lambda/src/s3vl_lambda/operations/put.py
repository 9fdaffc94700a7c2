"""put_vectors: PutVectors calls of at most 500 vectors and 20 MiB each, sent one after another."""

from __future__ import annotations

import json
from typing import Any

from .. import limits
from ..clients import client_for
from ..errors import HandlerError
from ..requests import PutRequest, VectorToPut
from .aws_call import call

# Room for the request's own JSON around the vectors (indexArn, brackets).
_ENVELOPE_BYTES = 4096


def plan_batches(vectors: list[VectorToPut], max_items: int, max_bytes: int) -> list[list[dict[str, Any]]]:
    """Split vectors into PutVectors payloads, each within max_items and max_bytes of JSON."""
    batches: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    current_bytes = _ENVELOPE_BYTES
    for vector in vectors:
        item: dict[str, Any] = {"key": vector.key, "data": {"float32": vector.data}}
        if vector.metadata is not None:
            item["metadata"] = vector.metadata
        size = len(json.dumps(item).encode()) + 1  # +1 for the separating comma
        if current and (len(current) >= max_items or current_bytes + size > max_bytes):
            batches.append(current)
            current, current_bytes = [], _ENVELOPE_BYTES
        current.append(item)
        current_bytes += size
    if current:
        batches.append(current)
    return batches


def run(request: PutRequest) -> dict[str, Any]:
    client = client_for(request.index.region)
    batches = plan_batches(request.vectors, limits.service().put_batch, limits.PUT_REQUEST_BYTES)
    written = 0
    # Sequential on purpose: S3 Vectors limits writes per index, and a failure then leaves a clear
    # prefix written (PutVectors overwrites by key, so retrying the whole request is safe).
    for batch in batches:
        try:
            call("put_vectors", "PutVectors", client.put_vectors, indexArn=request.index.arn, vectors=batch)
        except HandlerError as exc:
            exc.note_applied(
                written,
                len(request.vectors),
                "vectors were written",
                "PutVectors overwrites by key, so the whole request can be retried",
            )
            raise
        written += len(batch)
    return {"written": written, "batches": len(batches)}
