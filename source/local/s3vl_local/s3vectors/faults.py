"""Fault injection: make S3 Vectors operations throttle, fail, drop the connection or be slow, at run time.

A plan per operation name (or "*" for every operation without an active plan of its own) decides, call by
call, whether to inject: always, with a probability drawn from a seeded RNG, or by a schedule consumed in
order. An injected call may wait `delay_ms`, then answers a modelled error or proceeds normally. Errors are
raised before the operation runs, so an injected failure never writes anything.

Plans are set in process through `EmulatorServer.faults` or over HTTP on CONTROL_PATH (see `control`).
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from .errors import S3VectorsError, ValidationException
from .model import service_model

# S3 Vectors operations are POST /<OperationName> or /tags/...: a leading underscore can never be one.
CONTROL_PATH = "/_s3vl/faults"
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

# A delay longer than any client's read timeout is a hang, not a slow service.
MAX_DELAY_MS = 600_000
_FIELDS = ("operation", "error", "delay_ms", "rate", "seed", "schedule", "next", "count", "message")
_SELECTORS = ("rate", "schedule", "next")


class InjectedError(S3VectorsError):
    """A modelled service error answered because a fault plan selected this call."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = int(service_model().shape_for(code).metadata["error"]["httpStatusCode"])


class DropConnection(Exception):
    """The server must close the connection without writing a response."""


def _invalid(path: str, problem: str) -> ValidationException:
    return ValidationException(
        f"Invalid fault plan: '{path}' {problem}. "
        f"A plan is a JSON object with fields {', '.join(_FIELDS)}; see docs/s3vectors-emulator.md",
        field_list=[{"path": path, "message": problem}],
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class _Plan:
    spec: dict[str, Any]  # the plan as set, normalised (all fields, seed filled in), reported by state()
    schedule: list[bool] | None
    rng: random.Random | None
    position: int = 0
    calls: int = 0
    injected: int = 0

    @property
    def exhausted(self) -> bool:
        count, next_n = self.spec["count"], self.spec["next"]
        if count is not None and self.injected >= count:
            return True
        if next_n is not None and self.calls >= next_n:
            return True
        return self.schedule is not None and self.position >= len(self.schedule)

    def decide(self) -> bool:
        self.calls += 1
        if self.schedule is not None:
            hit = self.schedule[self.position]
            self.position += 1
        elif self.rng is not None:
            hit = self.rng.random() < self.spec["rate"]
        else:
            hit = True
        if hit:
            self.injected += 1
        return hit

    def describe(self) -> dict[str, Any]:
        return {**self.spec, "calls": self.calls, "injected": self.injected, "exhausted": self.exhausted}


def parse_plan(value: Any, prefix: str = "") -> _Plan:
    """Validate one plan (a JSON object); errors name the field as `<prefix><field>`."""
    if not isinstance(value, dict):
        raise _invalid(prefix.rstrip(".") or "/", "must be a JSON object")
    for name in value:
        if name not in _FIELDS:
            raise _invalid(f"{prefix}{name}", "is not a fault plan field")
    spec: dict[str, Any] = {name: value.get(name) for name in _FIELDS}
    operation = spec["operation"]
    operations = service_model().operation_names
    if not isinstance(operation, str) or (operation != "*" and operation not in operations):
        raise _invalid(
            f"{prefix}operation",
            f'must be "*" or an S3 Vectors operation name ({", ".join(sorted(operations))}), '
            f"got {operation!r}",
        )
    if spec["error"] is not None and spec["error"] not in ERROR_KINDS:
        raise _invalid(f"{prefix}error", f"must be one of {', '.join(ERROR_KINDS)}, got {spec['error']!r}")
    delay = spec["delay_ms"] if spec["delay_ms"] is not None else 0
    if not _is_number(delay) or not 0 <= delay <= MAX_DELAY_MS:
        raise _invalid(f"{prefix}delay_ms", f"must be milliseconds from 0 to {MAX_DELAY_MS}, got {delay!r}")
    spec["delay_ms"] = delay
    given = [name for name in _SELECTORS if spec[name] is not None]
    if len(given) > 1:
        raise _invalid(f"{prefix}{given[1]}", f"cannot be combined with '{given[0]}': choose one selection")
    rate, seed, schedule, next_n = spec["rate"], spec["seed"], spec["schedule"], spec["next"]
    if rate is not None and (not _is_number(rate) or not 0 <= rate <= 1):
        raise _invalid(f"{prefix}rate", f"must be a probability between 0 and 1, got {rate!r}")
    if seed is not None and rate is None:
        raise _invalid(f"{prefix}seed", "applies only to 'rate'")
    if seed is not None and not _is_int(seed):
        raise _invalid(f"{prefix}seed", f"must be an integer, got {seed!r}")
    if schedule is not None and (
        not isinstance(schedule, list) or not schedule or not all(isinstance(s, bool) for s in schedule)
    ):
        raise _invalid(f"{prefix}schedule", f"must be a non-empty array of booleans, got {schedule!r}")
    if next_n is not None and (not _is_int(next_n) or next_n < 1):
        raise _invalid(f"{prefix}next", f"must be an integer >= 1, got {next_n!r}")
    if spec["count"] is not None and (not _is_int(spec["count"]) or spec["count"] < 1):
        raise _invalid(f"{prefix}count", f"must be an integer >= 1, got {spec['count']!r}")
    if spec["message"] is not None and (not isinstance(spec["message"], str) or not spec["message"]):
        raise _invalid(f"{prefix}message", f"must be a non-empty string, got {spec['message']!r}")
    if spec["error"] is None and delay == 0:
        raise _invalid(
            f"{prefix}error", "is required unless 'delay_ms' is positive: the plan would do nothing"
        )
    rng = None
    if rate is not None:
        # Without a seed, draw one and report it, so any run can be replayed.
        spec["seed"] = seed if seed is not None else random.SystemRandom().randrange(2**32)
        rng = random.Random(spec["seed"])
    return _Plan(spec=spec, schedule=list(schedule) if schedule is not None else None, rng=rng)


def parse_document(document: Any) -> list[_Plan]:
    """A plan object, or a non-empty array of them (applied together or not at all)."""
    if isinstance(document, list):
        if not document:
            raise _invalid("/", "must be a plan object or a non-empty array of plan objects")
        return [parse_plan(item, f"[{i}].") for i, item in enumerate(document)]
    return [parse_plan(document)]


class FaultInjector:
    """The active fault plans of one emulator and the count of faults injected per operation; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plans: dict[str, _Plan] = {}
        self._injected: Counter[str] = Counter()
        self._interrupted = threading.Event()

    def set(self, operation: str, **fields: Any) -> dict[str, Any]:
        """Set (replace) the plan of `operation` ("*" for all); fields as in the JSON plan. Returns it."""
        plan = parse_plan({"operation": operation, **fields})
        with self._lock:
            self._plans[operation] = plan
            return plan.describe()

    def load(self, document: Any) -> None:
        """Set every plan of a JSON document (one plan object or an array of them); all or nothing."""
        plans = parse_document(document)
        with self._lock:
            for plan in plans:
                self._plans[plan.spec["operation"]] = plan

    def clear(self, operation: str | None = None) -> None:
        """Remove one operation's plan, or every plan and every counter."""
        with self._lock:
            if operation is None:
                self._plans.clear()
                self._injected.clear()
            else:
                self._plans.pop(operation, None)

    def injected(self, operation: str | None = None) -> int:
        """Faults injected into `operation` (through its own plan or "*"), or into all operations."""
        with self._lock:
            return self._injected[operation] if operation is not None else sum(self._injected.values())

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "plans": {name: plan.describe() for name, plan in self._plans.items()},
                "injected": dict(self._injected),
            }

    def before(self, operation: str) -> None:
        """Called before an operation runs: may wait, then raise InjectedError or DropConnection."""
        if not self._plans:  # the common case: no lock taken when nothing is planned
            return
        with self._lock:
            plan = self._active(operation)
            if plan is None or not plan.decide():
                return
            self._injected[operation] += 1
            spec = dict(plan.spec)
        if spec["delay_ms"] and self._interrupted.wait(spec["delay_ms"] / 1000):
            raise InjectedError("ServiceUnavailableException", "The emulator is stopping; retry elsewhere")
        error = spec["error"]
        if error == CLOSE_CONNECTION:
            raise DropConnection(operation)
        if error is not None:
            raise InjectedError(
                error,
                spec["message"]
                or f"Injected fault: {error} for {operation} (a fault plan on {CONTROL_PATH})",
            )

    def _active(self, operation: str) -> _Plan | None:
        for name in (operation, "*"):
            plan = self._plans.get(name)
            if plan is not None and not plan.exhausted:
                return plan
        return None

    def interrupt(self) -> None:
        """Wake every delayed request (they answer 503): the server is stopping."""
        self._interrupted.set()

    def resume(self) -> None:
        self._interrupted.clear()

    def control(self, method: str, path: str, query: str, body: bytes) -> dict[str, Any]:
        """The HTTP API on CONTROL_PATH: GET reads, PUT/POST sets, DELETE clears; each answers the state."""
        if path.rstrip("/") != CONTROL_PATH:
            raise ValidationException(
                f"Unknown control path {path}: fault plans are managed on {CONTROL_PATH}"
            )
        if method in ("PUT", "POST"):
            try:
                document = json.loads(body)
            except ValueError as e:
                raise ValidationException(f"The fault plan is not valid JSON: {e}") from None
            self.load(document)
        elif method == "DELETE":
            operations = parse_qs(query).get("operation")
            self.clear(operations[0] if operations else None)
        elif method != "GET":
            raise ValidationException(
                f"Unsupported method {method} on {CONTROL_PATH}: "
                "use GET (read), PUT or POST (set), DELETE (clear)"
            )
        return self.state()
