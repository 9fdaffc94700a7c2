"""Payload contract v1 (docs/payload-contract.md): the fields each operation takes, and the envelope."""

from __future__ import annotations

from typing import Any

CONTRACT_VERSION = 1

# Fields every request may carry, whatever the operation.
COMMON_FIELDS = frozenset({"operation", "contract_version", "raise_on_error"})

# operation -> the fields it takes besides COMMON_FIELDS.
OPERATION_FIELDS: dict[str, frozenset[str]] = {
    "health": frozenset({"index_arn"}),
    "get_index": frozenset({"index_arn"}),
    "query_vectors": frozenset({"index_arn", "query_vector", "top_k", "filter", "return_metadata"}),
    "get_vectors": frozenset({"index_arn", "keys", "return_data", "return_metadata"}),
    "list_vectors": frozenset(
        {
            "index_arn",
            "max_results",
            "next_token",
            "segment_count",
            "segment_index",
            "return_data",
            "return_metadata",
        }
    ),
    "put_vectors": frozenset({"index_arn", "vectors"}),
    "delete_vectors": frozenset({"index_arn", "keys"}),
}


def success(operation: str, request_id: str, duration_ms: float, result: dict[str, Any]) -> dict[str, Any]:
    return {
        "ok": True,
        "contract_version": CONTRACT_VERSION,
        "operation": operation,
        "request_id": request_id,
        "duration_ms": duration_ms,
        "result": result,
    }


def failure(
    operation: str | None, request_id: str, duration_ms: float, error: dict[str, Any]
) -> dict[str, Any]:
    return {
        "ok": False,
        "contract_version": CONTRACT_VERSION,
        "operation": operation,
        "request_id": request_id,
        "duration_ms": duration_ms,
        "error": error,
    }
