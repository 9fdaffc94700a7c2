"""Fault injection: make S3 Vectors operations throttle, fail, drop the connection or be slow, at run time.

A plan per operation name (or "*" for every operation without an active plan of its own) decides, call by
call, whether to inject: always, with a probability drawn from a seeded RNG, or by a schedule consumed in
order (the plan machinery, shared with the Lambda service, is s3vl_local/fault_plans.py). An injected call
may wait `delay_ms`, then answers a modelled error or proceeds normally. Errors are raised before the
operation runs, so an injected failure never writes anything.

Plans are set in process through `EmulatorServer.faults` or over HTTP on CONTROL_PATH (see `control`).
"""

from __future__ import annotations

from typing import Any

from ..fault_plans import CONTROL_PATH, FaultPlans
from .errors import S3VectorsError, ValidationException
from .model import service_model

# S3 Vectors operations are POST /<OperationName> or /tags/...: a leading underscore can never be one.
CONTROL_PREFIX = "/_s3vl"

# The retryable errors of the service model; their HTTP statuses come from the model too.
MODELLED_ERRORS = (
    "TooManyRequestsException",
    "ServiceUnavailableException",
    "InternalServerException",
    "RequestTimeoutException",
)
# Not an error response: the server closes the connection without answering (a network failure).
CLOSE_CONNECTION = "CloseConnection"
ERROR_KINDS = (*MODELLED_ERRORS, CLOSE_CONNECTION)


class InjectedError(S3VectorsError):
    """A modelled service error answered because a fault plan selected this call."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = int(service_model().shape_for(code).metadata["error"]["httpStatusCode"])


class DropConnection(Exception):
    """The server must close the connection without writing a response."""


class FaultInjector(FaultPlans):
    """The active fault plans of one emulator and the count of faults injected per operation; thread-safe."""

    TARGET = "operation"
    EFFECT = "error"
    EFFECTS = ERROR_KINDS
    EXTRA_FIELDS = ("message",)
    DOCS = "docs/s3vectors-emulator.md"

    def is_target(self, name: str) -> bool:
        return name in service_model().operation_names

    def target_kind(self) -> str:
        return f"an S3 Vectors operation name ({', '.join(sorted(service_model().operation_names))})"

    def check_extra(self, spec: dict[str, Any], prefix: str) -> None:
        if spec["message"] is not None and (not isinstance(spec["message"], str) or not spec["message"]):
            raise self.invalid(f"{prefix}message", f"must be a non-empty string, got {spec['message']!r}")

    def plan_error(self, path: str, problem: str, message: str) -> ValidationException:
        return ValidationException(message, field_list=[{"path": path, "message": problem}])

    def request_error(self, message: str) -> ValidationException:
        return ValidationException(message)

    def json_error(self, error: ValueError) -> ValidationException:
        return ValidationException(f"The fault plan is not valid JSON: {error}")

    def stopping_error(self) -> InjectedError:
        return InjectedError("ServiceUnavailableException", "The emulator is stopping; retry elsewhere")

    def before(self, operation: str) -> None:
        """Called before an operation runs: may wait, then raise InjectedError or DropConnection."""
        spec = self.inject(operation)
        if spec is None:
            return
        error = spec["error"]
        if error == CLOSE_CONNECTION:
            raise DropConnection(operation)
        if error is not None:
            raise InjectedError(
                error,
                spec["message"]
                or f"Injected fault: {error} for {operation} (a fault plan on {CONTROL_PATH})",
            )
