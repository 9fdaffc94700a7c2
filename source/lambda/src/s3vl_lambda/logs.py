"""Structured JSON logs: one line per invocation with ids, counts and latency, never vector data."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from typing import Any

_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}


def _enabled(level: str) -> bool:
    threshold = os.environ.get("S3VL_LOG_LEVEL", "INFO").upper()
    return _LEVELS[level] >= _LEVELS.get(threshold, _LEVELS["INFO"])


def counts(request: Any, result: dict[str, Any] | None) -> dict[str, int]:
    """Sizes of what was asked and answered: list lengths and integer fields, no values."""
    found: dict[str, int] = {}
    if dataclasses.is_dataclass(request):
        for field in dataclasses.fields(request):
            value = getattr(request, field.name)
            if field.name in ("top_k", "max_results"):
                found[field.name] = value
            elif field.name in ("keys", "vectors"):
                found[f"{field.name}_requested"] = len(value)
    for name, value in (result or {}).items():
        if isinstance(value, list):
            found[f"{name}_returned"] = len(value)
            if name == "vectors" and value and isinstance(value[0], dict) and "found" in value[0]:
                found["found"] = sum(1 for item in value if item["found"])
        elif isinstance(value, int) and not isinstance(value, bool) and name != "contract_version":
            found[name] = value
    return found


def invocation(
    *,
    request_id: str,
    operation: str | None,
    index_arn: str | None,
    ok: bool,
    error_code: str | None,
    counts: dict[str, int],
    duration_ms: float,
) -> None:
    level = "INFO" if ok else "WARNING"
    if _enabled(level):
        record = {
            "level": level,
            "message": "s3vl invocation",
            "request_id": request_id,
            "operation": operation,
            "index_arn": index_arn,
            "ok": ok,
            "error_code": error_code,
            "counts": counts,
            "duration_ms": duration_ms,
        }
        # stdout is what Lambda sends to CloudWatch Logs; looked up per call, never cached.
        sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
