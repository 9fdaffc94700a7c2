"""Fault injection: make synchronous invocations crash, time out, be throttled or be slow, at run time.

The plans work as the S3 Vectors emulator's (both are s3vl_local/fault_plans.py): a plan per function name
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
import os
import signal

from s3vl_local.fault_plans import CONTROL_PATH as CONTROL_PATH  # the server and tests take it from here
from s3vl_local.fault_plans import FaultPlans
from s3vl_local.lambda_service.errors import LambdaApiError, throttled
from s3vl_local.lambda_service.functions import NAME
from s3vl_local.lambda_service.runtime_api import Invocation
from s3vl_local.lambda_service.workers import INIT_TIMEOUT_S, Outcome, Worker

FAULTS = ("crash", "timeout", "throttle")


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


class FaultInjector(FaultPlans):
    """The active fault plans of one Lambda service and the count of faults injected per function."""

    TARGET = "function"
    EFFECT = "fault"
    EFFECTS = FAULTS
    DOCS = "docs/local-stack.md (Reliability)"

    def is_target(self, name: str) -> bool:
        return NAME.fullmatch(name) is not None

    def target_kind(self) -> str:
        return "a function name"

    def plan_error(self, path: str, problem: str, message: str) -> LambdaApiError:
        return LambdaApiError(400, "InvalidParameterValueException", message)

    def request_error(self, message: str) -> LambdaApiError:
        return LambdaApiError(400, "InvalidRequestContentException", message)

    def json_error(self, error: ValueError) -> Exception:
        return self.invalid("/", f"is not valid JSON ({error})")

    def stopping_error(self) -> LambdaApiError:
        return LambdaApiError(503, "ServiceException", "The Lambda service is stopping; retry elsewhere")

    def before_invoke(self, function: str) -> WorkerFault | None:
        """Called before a synchronous invocation takes a worker: may wait, may raise 429, and returns
        the crash or timeout to apply to the worker, if any."""
        spec = self.inject(function)
        if spec is None:
            return None
        if spec["fault"] == "throttle":
            raise throttled(reserved=False)
        return WorkerFault(spec["fault"]) if spec["fault"] else None
