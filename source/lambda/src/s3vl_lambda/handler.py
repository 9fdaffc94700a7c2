"""The invocation: validate the event, run its operation, wrap the outcome in the contract envelope."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from . import deadline, limits, logs
from .contract import COMMON_FIELDS, CONTRACT_VERSION, OPERATION_FIELDS, OPERATIONS, failure, success
from .errors import HandlerError
from .operations import RUNNERS
from .requests import PARSERS
from .validation import json_type


def handle(event: Any, context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    request_id = str(getattr(context, "aws_request_id", None) or uuid.uuid4())
    # Read before validation so that even an invalid request raises when the caller asked for it.
    raise_on_error = isinstance(event, dict) and event.get("raise_on_error") is True
    operation: str | None = None
    request: Any = None
    result: dict[str, Any] | None = None
    deadline.start(context)
    try:
        operation = _operation(event)
        request = PARSERS[operation](event)
        result = RUNNERS[operation](request)
        envelope = success(operation, request_id, _elapsed_ms(started), result)
        _check_size(envelope, operation)
    except HandlerError as exc:
        envelope = failure(operation, request_id, _elapsed_ms(started), exc.to_dict())
        error: HandlerError | None = exc
    else:
        error = None
    finally:
        deadline.finish()
    named_index = event.get("index_arn") if isinstance(event, dict) else None
    logs.invocation(
        request_id=request_id,
        operation=operation,
        index_arn=named_index[:2048] if isinstance(named_index, str) else None,
        ok=error is None,
        error_code=None if error is None else error.code,
        counts=logs.counts(request, result),
        duration_ms=envelope["duration_ms"],
    )
    if error is not None and raise_on_error:
        raise error
    return envelope


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)


def _operation(event: Any) -> str:
    """Check the request's frame (object, version, operation, fields) and return the operation."""
    if not isinstance(event, dict):
        raise HandlerError(
            "INVALID_REQUEST",
            f"the event is a JSON {json_type(event)}, not an object: send "
            '{"operation": ..., <fields>} as described in docs/payload-contract.md',
        )
    version = event.get("contract_version")
    if version is not None and (type(version) is not int or version != CONTRACT_VERSION):
        raise HandlerError(
            "UNSUPPORTED_CONTRACT_VERSION",
            f"contract_version {json.dumps(version)[:50]} is not supported; this handler speaks version "
            f"{CONTRACT_VERSION}: upgrade the s3vl schema or the function so that they match",
        )
    operation = event.get("operation")
    if not isinstance(operation, str) or operation not in OPERATION_FIELDS:
        named = "missing" if operation is None else json.dumps(operation)[:80]
        raise HandlerError(
            "UNKNOWN_OPERATION",
            f"operation is {named}: use one of {', '.join(sorted(OPERATION_FIELDS))}",
        )
    allowed = COMMON_FIELDS | OPERATION_FIELDS[operation]
    unknown = sorted(str(name) for name in event if name not in allowed)
    if unknown:
        raise HandlerError(
            "UNKNOWN_FIELD",
            f"{operation} does not take {', '.join(unknown)[:300]}: use only {', '.join(sorted(allowed))}",
        )
    if event.get("raise_on_error") is not None and not isinstance(event["raise_on_error"], bool):
        raise HandlerError(
            "INVALID_FIELD_TYPE",
            f"raise_on_error must be a boolean, got {json_type(event['raise_on_error'])}: send true or false",
        )
    return operation


def _check_size(envelope: dict[str, Any], operation: str) -> None:
    size = len(json.dumps(envelope).encode())
    if size > limits.LAMBDA_RESPONSE_BYTES:
        raise HandlerError(
            "RESPONSE_TOO_LARGE",
            f"the {operation} response would be {size} bytes, over Lambda's "
            f"{limits.LAMBDA_RESPONSE_BYTES}-byte synchronous response limit: "
            f"{OPERATIONS[operation].reduce}",
        )
