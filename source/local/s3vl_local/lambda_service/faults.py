"""Fault injection: make synchronous invocations crash, time out, be throttled or be slow, at run time.

The design mirrors the S3 Vectors emulator's (s3vl_local/s3vectors/faults.py): a plan per function name
(or "*" for every function without an active plan of its own) decides, invocation by invocation, whether
to inject: always, with a probability drawn from a seeded RNG, or by a schedule consumed in order. An
injected invocation first waits `delay_ms` (before it takes a concurrency slot), then gets its fault:

- throttle: answered 429 TooManyRequestsException, as Lambda does over the concurrency limit;
- crash: the worker's process group is killed (SIGKILL) while its runtime waits for the invocation, so
  the caller gets the function error Runtime.ExitError ("Runtime exited with error: signal: killed");
- timeout: the worker is frozen (SIGSTOP) while its runtime waits for the invocation, so the function's
  own timeout runs out and the worker is killed: the caller gets Sandbox.Timedout ("Task timed out after
  N.00 seconds").

Only RequestResponse invocations are faulted; Event and DryRun invocations run normally. Plans are set in
process through `LambdaService.faults` or over HTTP on CONTROL_PATH (see `control`).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from s3vl_local.lambda_service.errors import LambdaApiError, throttled
from s3vl_local.lambda_service.functions import NAME
from s3vl_local.lambda_service.runtime_api import Invocation
from s3vl_local.lambda_service.workers import INIT_TIMEOUT_S, Outcome, Worker

# Lambda API paths start with a date (/2015-03-31/...): a leading underscore can never be one.
CONTROL_PATH = "/_s3vl/faults"

FAULTS = ("crash", "timeout", "throttle")
# A delay longer than any caller's timeout is a hang, not a slow service.
MAX_DELAY_MS = 600_000
_FIELDS = ("function", "fault", "delay_ms", "rate", "seed", "schedule", "next", "count")
_SELECTORS = ("rate", "schedule", "next")


def _invalid(path: str, problem: str) -> LambdaApiError:
    return LambdaApiError(
        400,
        "InvalidParameterValueException",
        f"Invalid fault plan: '{path}' {problem}. A plan is a JSON object with fields "
        f"{', '.join(_FIELDS)}; see docs/local-stack.md (Reliability)",
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
    function = spec["function"]
    if not isinstance(function, str) or (function != "*" and not NAME.fullmatch(function)):
        raise _invalid(f"{prefix}function", f'must be "*" or a function name, got {function!r}')
    if spec["fault"] is not None and spec["fault"] not in FAULTS:
        raise _invalid(f"{prefix}fault", f"must be one of {', '.join(FAULTS)}, got {spec['fault']!r}")
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
    if spec["fault"] is None and delay == 0:
        raise _invalid(
            f"{prefix}fault", "is required unless 'delay_ms' is positive: the plan would do nothing"
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


class WorkerFault:
    """A crash or timeout chosen for one invocation; `run` replaces Worker.invoke for it."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def run(self, worker: Worker, invocation: Invocation) -> Outcome:
        # Act only once the runtime waits for its next invocation (a worker may still be starting, or
        # finishing its previous one): a worker frozen earlier would never start the invocation and
        # would report an init timeout instead of the function's own.
        worker.api.waiting.wait(INIT_TIMEOUT_S)
        _signal_group(worker, signal.SIGKILL if self.kind == "crash" else signal.SIGSTOP)
        # The worker's own bookkeeping turns the death into Runtime.ExitError, and the frozen worker
        # into Sandbox.Timedout once the function's timeout has passed (it then kills the group).
        return worker.invoke(invocation)


def _signal_group(worker: Worker, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.process.pid, signum)


class FaultInjector:
    """The active fault plans of one Lambda service and the count of faults injected per function."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plans: dict[str, _Plan] = {}
        self._injected: Counter[str] = Counter()
        self._interrupted = threading.Event()

    def set(self, function: str, **fields: Any) -> dict[str, Any]:
        """Set (replace) the plan of `function` ("*" for all); fields as in the JSON plan. Returns it."""
        plan = parse_plan({"function": function, **fields})
        with self._lock:
            self._plans[function] = plan
            return plan.describe()

    def load(self, document: Any) -> None:
        """Set every plan of a JSON document (one plan object or an array of them); all or nothing."""
        plans = parse_document(document)
        with self._lock:
            for plan in plans:
                self._plans[plan.spec["function"]] = plan

    def clear(self, function: str | None = None) -> None:
        """Remove one function's plan, or every plan and every counter."""
        with self._lock:
            if function is None:
                self._plans.clear()
                self._injected.clear()
            else:
                self._plans.pop(function, None)

    def injected(self, function: str | None = None) -> int:
        """Faults injected into `function` (through its own plan or "*"), or into all functions."""
        with self._lock:
            return self._injected[function] if function is not None else sum(self._injected.values())

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "plans": {name: plan.describe() for name, plan in self._plans.items()},
                "injected": dict(self._injected),
            }

    def before_invoke(self, function: str) -> WorkerFault | None:
        """Called before a synchronous invocation takes a worker: may wait, may raise 429, and returns
        the crash or timeout to apply to the worker, if any."""
        if not self._plans:  # the common case: no lock taken when nothing is planned
            return None
        with self._lock:
            plan = self._active(function)
            if plan is None or not plan.decide():
                return None
            self._injected[function] += 1
            spec = dict(plan.spec)
        if spec["delay_ms"] and self._interrupted.wait(spec["delay_ms"] / 1000):
            raise LambdaApiError(503, "ServiceException", "The Lambda service is stopping; retry elsewhere")
        if spec["fault"] == "throttle":
            raise throttled(reserved=False)
        return WorkerFault(spec["fault"]) if spec["fault"] else None

    def _active(self, function: str) -> _Plan | None:
        for name in (function, "*"):
            plan = self._plans.get(name)
            if plan is not None and not plan.exhausted:
                return plan
        return None

    def interrupt(self) -> None:
        """Wake every delayed invocation (they answer 503): the service is stopping."""
        self._interrupted.set()

    def control(self, method: str, query: str, body: bytes) -> dict[str, Any]:
        """The HTTP API on CONTROL_PATH: GET reads, PUT/POST sets, DELETE clears; each answers the state."""
        if method in ("PUT", "POST"):
            try:
                document = json.loads(body)
            except ValueError as e:
                raise _invalid("/", f"is not valid JSON ({e})") from None
            self.load(document)
        elif method == "DELETE":
            functions = parse_qs(query).get("function")
            self.clear(functions[0] if functions else None)
        elif method != "GET":
            raise LambdaApiError(
                400,
                "InvalidRequestContentException",
                f"Unsupported method {method} on {CONTROL_PATH}: "
                "use GET (read), PUT or POST (set), DELETE (clear)",
            )
        return self.state()
