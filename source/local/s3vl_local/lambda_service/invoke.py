"""The Invoke API: RequestResponse in a warm worker, Event handed to the background, DryRun checked only."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass

from s3vl_local.lambda_service.errors import LambdaApiError
from s3vl_local.lambda_service.events import EventInvocations
from s3vl_local.lambda_service.faults import FaultInjector
from s3vl_local.lambda_service.functions import LATEST, FunctionStore, function_arn, parse_function_ref
from s3vl_local.lambda_service.http_base import Response
from s3vl_local.lambda_service.latency import InvokeLatency
from s3vl_local.lambda_service.logs import FunctionLogs
from s3vl_local.lambda_service.pools import FunctionPools
from s3vl_local.lambda_service.runtime_api import Invocation

MAX_SYNC_REQUEST_BYTES = 6 * 1024 * 1024
MAX_ASYNC_REQUEST_BYTES = 1024 * 1024
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
LOG_TYPES = ("None", "Tail")


@dataclass
class InvokeApi:
    store: FunctionStore
    pools: FunctionPools
    events: EventInvocations
    logs: FunctionLogs
    faults: FaultInjector
    latency: InvokeLatency

    def invoke(self, ref: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> Response:
        """`headers` with lower-case names."""
        name, qualifier = parse_function_ref(ref, query.get("Qualifier"))
        invocation_type = headers.get("x-amz-invocation-type") or "RequestResponse"
        log_type = headers.get("x-amz-log-type") or "None"
        if invocation_type not in INVOCATION_TYPES:
            raise _enum_error(invocation_type, "invocationType", INVOCATION_TYPES)
        if log_type not in LOG_TYPES:
            raise _enum_error(log_type, "logType", LOG_TYPES)
        function = self.store.get(name, qualifier)
        limit = MAX_ASYNC_REQUEST_BYTES if invocation_type == "Event" else MAX_SYNC_REQUEST_BYTES
        if len(body) > limit:
            raise LambdaApiError(
                413,
                "RequestTooLargeException",
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
            )
        if not _is_json(body or b"null"):
            message = "Could not parse request body into json"
            raise LambdaApiError(400, "InvalidRequestContentException", message)
        if invocation_type == "DryRun":
            return Response(204)
        invocation = Invocation(
            request_id=str(uuid.uuid4()),
            payload=body or b"{}",
            invoked_function_arn=function_arn(name, qualifier),
            timeout_s=function.timeout_s,
            client_context=_client_context(headers.get("x-amz-client-context")),
        )
        if invocation_type == "Event":
            self.events.start(function, invocation)
            return Response(202, headers={"x-amzn-RequestId": invocation.request_id})
        # May wait or throttle; a crash or timeout acts on the worker.
        fault = self.faults.before_invoke(name)
        pool = self.pools.get(name)
        worker = pool.acquire(function, wait=False)
        try:
            self.latency.wait(worker.cold)
            outcome = fault.run(worker, invocation) if fault else worker.invoke(invocation)
        finally:
            self.pools.release(pool, worker)
        self.logs.append(name, outcome.log)
        response_headers = {
            "Content-Type": "application/json",
            "X-Amz-Executed-Version": LATEST,
            "x-amzn-RequestId": invocation.request_id,
        }
        if outcome.function_error:
            response_headers["X-Amz-Function-Error"] = outcome.function_error
        if log_type == "Tail":
            response_headers["X-Amz-Log-Result"] = outcome.log_tail_b64()
        return Response(200, outcome.payload, response_headers)


def _is_json(body: bytes) -> bool:
    """Whether an Invoke payload parses as JSON, as Python's json reads it: NaN, lone surrogate escapes
    and UTF-16 or UTF-32 text are accepted."""
    try:
        json.loads(body, parse_float=str)  # only whether it parses matters: numbers stay text
        return True
    except ValueError:
        return False


def _client_context(header: str | None) -> str | None:
    """X-Amz-Client-Context is base64 of a JSON object; the runtime receives the JSON itself."""
    if header is None:
        return None
    try:
        document = json.loads(base64.b64decode(header, validate=True))
    except (binascii.Error, ValueError):
        document = None
    if not isinstance(document, dict):
        message = "Client context must be a valid Base64-encoded JSON object."
        raise LambdaApiError(400, "InvalidRequestContentException", message)
    return json.dumps(document)


def _enum_error(value: str, field: str, allowed: tuple[str, ...]) -> LambdaApiError:
    return LambdaApiError(
        400,
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
        f"Member must satisfy enum value set: [{', '.join(allowed)}]",
    )
