"""Payload contract (docs/payload-contract.md), read from contract.json: the one machine-readable source of
the operations (fields, IAM actions, size hints), the limits and the error codes. The SQL error table and
the doc tables are generated from the same file (source/lambda/generate_contract.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_DOCUMENT: dict[str, Any] = json.loads((Path(__file__).with_name("contract.json")).read_text("utf-8"))


@dataclass(frozen=True)
class Operation:
    name: str
    fields: frozenset[str]  # besides COMMON_FIELDS
    required: frozenset[str]
    actions: frozenset[str]  # the s3vectors IAM actions its runner may call
    runner: str  # the module of s3vl_lambda.operations that runs it
    reduce: str  # what to ask for less of when the response would be too large


@dataclass(frozen=True)
class ErrorCode:
    code: str
    sqlstate: str
    retryable: bool
    source: str  # "handler" (in the envelope) or "invoke" (detected by SQL around aws_lambda.invoke)
    cause: str
    hint: str


CONTRACT_VERSION: int = _DOCUMENT["contract_version"]
# Fields every request may carry, whatever the operation.
COMMON_FIELDS = frozenset(_DOCUMENT["common_fields"])
LIMITS: dict[str, int] = {name: entry["value"] for name, entry in _DOCUMENT["limits"].items()}


def text(template: str) -> str:
    """A contract text with its {limit} placeholders filled in."""
    return template.format(
        contract_version=CONTRACT_VERSION,
        metadata_total_kib=LIMITS["metadata_total_bytes"] // 1024,
        metadata_filterable_kib=LIMITS["metadata_filterable_bytes"] // 1024,
        lambda_response_mib=LIMITS["lambda_response_bytes"] // (1024 * 1024),
        **LIMITS,
    )


OPERATIONS: dict[str, Operation] = {
    name: Operation(
        name=name,
        fields=frozenset(entry["fields"]),
        required=frozenset(field for field, spec in entry["fields"].items() if spec.get("required")),
        actions=frozenset(entry["actions"]),
        runner=entry["runner"],
        reduce=entry.get("reduce", "ask for less per call"),
    )
    for name, entry in _DOCUMENT["operations"].items()
}
ERRORS: dict[str, ErrorCode] = {
    code: ErrorCode(code, e["sqlstate"], e["retryable"], e["source"], text(e["cause"]), text(e["hint"]))
    for code, e in _DOCUMENT["errors"].items()
}
# operation -> the fields it takes besides COMMON_FIELDS.
OPERATION_FIELDS: dict[str, frozenset[str]] = {name: op.fields for name, op in OPERATIONS.items()}


def document() -> dict[str, Any]:
    """The contract as written (placeholders unfilled), for the generator and the tests."""
    return _DOCUMENT


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
