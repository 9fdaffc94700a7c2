"""Asynchronous (Event) invocations: run in the background, retried as Lambda retries them, and written
to the function's dead-letter file when every attempt fails."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from s3vl_local.lambda_service.errors import LambdaApiError
from s3vl_local.lambda_service.functions import Function, FunctionStore
from s3vl_local.lambda_service.logs import FunctionLogs
from s3vl_local.lambda_service.pools import FunctionPools
from s3vl_local.lambda_service.runtime_api import Invocation
from s3vl_local.lambda_service.workers import FunctionPool, Outcome

# Lambda retries an asynchronous invocation that fails twice, about one and two minutes later; locally
# the waits are seconds. An event that fails every attempt goes to the function's dead-letter file.
EVENT_RETRY_DELAYS_S = (1.0, 2.0)
DEAD_LETTER_DIR = "dead-letters"  # under the service's state directory


class EventInvocations:
    def __init__(
        self,
        state_dir: Path,
        store: FunctionStore,
        pools: FunctionPools,
        logs: FunctionLogs,
        retry_delays_s: tuple[float, ...] = EVENT_RETRY_DELAYS_S,
    ) -> None:
        self.dead_letter_dir = state_dir / DEAD_LETTER_DIR
        self._store = store
        self._pools = pools
        self._logs = logs
        self._retry_delays_s = retry_delays_s
        self._background: set[threading.Thread] = set()
        self._stopping = threading.Event()  # ends the waits between retries
        self._dead_letter_lock = threading.Lock()

    def dead_letters(self, name: str) -> Path:
        """The function's dead-letter file (its dead-letter queue stand-in): one JSON line per Event
        invocation that failed every attempt, with the message attributes Lambda gives its DLQ."""
        return self.dead_letter_dir / f"{name}.jsonl"

    def start(self, function: Function, invocation: Invocation) -> None:
        # Lambda queues asynchronous events: over the limit they wait instead of being throttled.
        pool = self._pools.get(function.name)
        thread = threading.Thread(target=self._run, args=(pool, function, invocation), daemon=True)
        self._background.add(thread)
        thread.start()

    def stop(self) -> None:
        """An event waiting to be retried goes to its dead-letter file now."""
        self._stopping.set()

    def join(self) -> None:
        for thread in list(self._background):
            thread.join(timeout=30)

    def _run(self, pool: FunctionPool, function: Function, invocation: Invocation) -> None:
        """Run an Event invocation, retried as Lambda retries it (same request id); an event that fails
        every attempt, or cannot run because the service stops, is written to the dead-letter file."""
        try:
            for attempt, delay_s in enumerate((*self._retry_delays_s, None), start=1):
                outcome = self._attempt(pool, function, invocation)
                if outcome is None:
                    stopped = ("ServiceStopped", "the local Lambda service stopped before the event ran")
                    self._dead_letter(function.name, invocation, attempt - 1, stopped)
                    return
                if outcome.function_error is None:
                    return
                if delay_s is None or self._stopping.wait(delay_s):
                    self._dead_letter(function.name, invocation, attempt, _error_of(outcome.payload))
                    return
                try:
                    function = self._store.get(function.name)  # a retry runs the code current by then
                except LambdaApiError as exc:
                    self._dead_letter(function.name, invocation, attempt, (exc.error_type, str(exc)))
                    return
        finally:
            self._background.discard(threading.current_thread())

    def _attempt(self, pool: FunctionPool, function: Function, invocation: Invocation) -> Outcome | None:
        """One run of the invocation, logged; None when the service stops before it can run."""
        try:
            worker = pool.acquire(function, wait=True)
        except LambdaApiError:
            return None
        try:
            outcome = worker.invoke(invocation)
        finally:
            self._pools.release(pool, worker)
        self._logs.append(function.name, outcome.log)
        return outcome

    def _dead_letter(self, name: str, invocation: Invocation, attempts: int, error: tuple[str, str]) -> None:
        record = {
            "RequestID": invocation.request_id,
            "FunctionArn": invocation.invoked_function_arn,
            "ErrorCode": error[0],
            "ErrorMessage": error[1],
            "Attempts": attempts,
            "Body": invocation.payload.decode("utf-8", errors="replace"),
        }
        with self._dead_letter_lock:
            self.dead_letter_dir.mkdir(parents=True, exist_ok=True)
            with self.dead_letters(name).open("a", encoding="utf-8") as dead_letters:
                dead_letters.write(json.dumps(record) + "\n")


def _error_of(payload: bytes) -> tuple[str, str]:
    """(errorType, errorMessage) of a function error document."""
    try:
        document = json.loads(payload)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        return "Unhandled", payload.decode("utf-8", errors="replace")[:1000]
    return str(document.get("errorType") or "Unhandled"), str(document.get("errorMessage") or "")
