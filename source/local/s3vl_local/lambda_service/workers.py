"""Warm worker processes that run a function's handler with awslambdaric, one invocation at a time.

A worker is `python -m awslambdaric <handler>` started in the unpacked code directory (the task root)
with Lambda's environment; it talks to its own Runtime API server. The pool keeps idle workers warm,
enforces the concurrency limit and retires workers whose function changed. Output of the worker goes to
a file; the slice written during an invocation, framed by START/END/REPORT lines, is its log.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from s3vl_local.lambda_service.errors import throttled
from s3vl_local.lambda_service.functions import LATEST, Function
from s3vl_local.lambda_service.runtime_api import Invocation, RuntimeApiServer, RuntimeEvent
from s3vl_local.local_aws import REGION

INIT_TIMEOUT_S = 10  # Lambda's limit for the init phase
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
LOG_TAIL_BYTES = 4096
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ASIALOCALLAMBDA00000",
    "AWS_SECRET_ACCESS_KEY": "local-lambda-secret-access-key",
    "AWS_SESSION_TOKEN": "local-lambda-session-token",
}


@dataclass
class Outcome:
    """What an invocation produced: the payload (or error document) and the log."""

    payload: bytes
    function_error: str | None
    log: str

    def log_tail_b64(self) -> str:
        return base64.b64encode(self.log.encode()[-LOG_TAIL_BYTES:]).decode()


def _error_document(request_id: str, error_type: str, message: str) -> bytes:
    document = {"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {message}"}
    return json.dumps(document).encode()


class Worker:
    """One warm process for one generation of one function."""

    def __init__(self, function: Function, function_env: dict[str, str], log_dir: Path) -> None:
        self.function = function
        self.worker_id = uuid.uuid4().hex
        self.api = RuntimeApiServer().start()
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{self.worker_id}.log"
        self.cold = True
        self.init_duration_ms = 0.0
        self.spawned_at = time.monotonic()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "awslambdaric", function.handler],
                cwd=function.code_dir,
                env=self._environment(function_env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a timeout kills the handler's children too
            )
        # Kept open for the worker's life: each invocation reads only what was written since the last,
        # and the memory high-water mark, without opening files on the invocation's path.
        self._output = self.log_path.open("rb")
        self._status = os.open(f"/proc/{self.process.pid}/status", os.O_RDONLY)
        watcher = threading.Thread(
            target=self._watch_exit, name=f"lambda-worker-{self.process.pid}", daemon=True
        )
        watcher.start()

    def _environment(self, function_env: dict[str, str]) -> dict[str, str]:
        function = self.function
        stream = time.strftime("%Y/%m/%d") + f"/[{LATEST}]{self.worker_id}"
        reserved = {
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.configuration['Runtime']}",
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": LATEST,
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "LAMBDA_TASK_ROOT": str(function.code_dir),
            "LAMBDA_RUNTIME_DIR": str(Path(sys.executable).parent),
            "_HANDLER": function.handler,
            **DUMMY_CREDENTIALS,
        }
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TZ": ":UTC"}
        return {**base, **function_env, **function.variables, **reserved}

    def _watch_exit(self) -> None:
        code = self.process.wait()
        self.api.events.put(RuntimeEvent("exit", time.monotonic(), exit_code=code))

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def invoke(self, invocation: Invocation) -> Outcome:
        """Run one invocation; a timeout or crash ends the process (the caller must not reuse it)."""
        request_id = invocation.request_id
        self.api.dispatch(invocation)
        events = self.api.events
        started = ready = None
        deadline = time.monotonic() + INIT_TIMEOUT_S
        output: list[str] = []
        while True:
            try:
                event = events.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                self.kill()
                phase = "Task timed out" if started else "INIT timed out"
                limit = invocation.timeout_s if started else INIT_TIMEOUT_S
                output.append(f"{_timestamp()} {request_id} {phase} after {limit:.2f} seconds")
                status = "timeout"
                message = f"{phase} after {limit:.2f} seconds"
                payload = _error_document(request_id, "Sandbox.Timedout", message)
                break
            if event.kind == "ready":
                ready = event.at
                self.init_duration_ms = (ready - self.spawned_at) * 1000
            elif event.kind == "started" and event.request_id == request_id:
                started = event.at
                deadline = started + invocation.timeout_s
            elif event.kind in ("response", "error") and event.request_id == request_id:
                status = "success" if event.kind == "response" else "error"
                payload = event.body
                break
            elif event.kind == "init_error":
                self.kill()
                status, payload = "error", event.body
                break
            elif event.kind == "exit":
                message = f"Runtime exited with error: {_exit_reason(event.exit_code)}"
                output.append(f"{_timestamp()} {request_id} Error: {message}")
                status = "error"
                payload = _error_document(request_id, "Runtime.ExitError", message)
                break
        ended = time.monotonic()
        function_error = None if status == "success" else "Unhandled"
        if status == "success" and len(payload) > MAX_RESPONSE_BYTES:
            function_error = "Unhandled"
            payload = json.dumps(
                {
                    "errorType": "Function.ResponseSizeTooLarge",
                    "errorMessage": f"Response payload size exceeded maximum allowed payload size "
                    f"({MAX_RESPONSE_BYTES} bytes).",
                }
            ).encode()
        duration_ms = (ended - (started or ready or self.spawned_at)) * 1000
        log = self._frame_log(
            request_id, self._read_new_output() + "".join(f"{line}\n" for line in output), duration_ms, status
        )
        self.cold = False
        return Outcome(payload, function_error, log)

    def _read_new_output(self) -> str:
        return self._output.read().decode("utf-8", errors="replace")

    def _frame_log(self, request_id: str, output: str, duration_ms: float, status: str) -> str:
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {math.ceil(duration_ms)} ms\tMemory Size: {self.function.memory_mb} MB\t"
            f"Max Memory Used: {self._max_memory_mb()} MB"
        )
        if self.cold:
            report += f"\tInit Duration: {self.init_duration_ms:.2f} ms"
        if status == "timeout":
            report += "\tStatus: timeout"
        return (
            f"START RequestId: {request_id} Version: {LATEST}\n{output}"
            f"END RequestId: {request_id}\n{report}\n"
        )

    def _max_memory_mb(self) -> int:
        try:
            status = os.pread(self._status, 8192, 0)  # /proc regenerates the file for every read at 0
        except OSError:  # the process is gone
            return 0
        for line in status.splitlines():
            if line.startswith(b"VmHWM:"):
                return math.ceil(int(line.split()[1]) / 1024)
        return 0

    def kill(self) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        self.kill()
        self.api.close()
        if not self._output.closed:  # stop() may come twice; the descriptor must be closed once
            self._output.close()
            os.close(self._status)
        self.log_path.unlink(missing_ok=True)


def _exit_reason(code: int | None) -> str:
    """Lambda words an exit as Go does: "exit status 3", or "signal: killed" after a SIGKILL."""
    if code is not None and code < 0:
        return f"signal: {(signal.strsignal(-code) or str(-code)).lower()}"
    return f"exit status {code}"


def _timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"


class FunctionPool:
    """Warm workers of one function and its concurrency accounting."""

    def __init__(self, name: str, default_limit: int, function_env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self._default_limit = default_limit
        self._function_env = function_env
        self._log_dir = log_dir
        self._condition = threading.Condition()
        self._idle: list[Worker] = []
        self._busy = 0
        self._closed = False

    def acquire(self, function: Function, wait: bool) -> Worker:
        """A worker for `function`: an idle warm one or a new one; over the limit, wait or raise 429."""
        reserved = function.reserved_concurrency
        limit = self._default_limit if reserved is None else reserved
        with self._condition:
            while self._busy >= limit:
                if not wait or self._closed:
                    raise throttled(reserved is not None)
                self._condition.wait()
            self._busy += 1
            worker = None
            while self._idle and worker is None:
                candidate = self._idle.pop()
                if candidate.function.generation == function.generation and candidate.alive:
                    worker = candidate
                else:
                    threading.Thread(target=candidate.stop, daemon=True).start()
        if worker is None:
            try:
                worker = Worker(function, self._function_env, self._log_dir)
            except BaseException:
                self._release_slot()
                raise
        return worker

    def release(self, worker: Worker, current_generation: int | None) -> None:
        """Return `worker` after an invocation; it stays warm only if healthy and still current."""
        keep = worker.alive and worker.function.generation == current_generation
        with self._condition:
            keep = keep and not self._closed
            if keep:
                self._idle.append(worker)
        if not keep:
            worker.stop()
        self._release_slot()

    def _release_slot(self) -> None:
        with self._condition:
            self._busy -= 1
            self._condition.notify()

    def retire_idle(self) -> None:
        with self._condition:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self.retire_idle()
