"""The Lambda Runtime API for one worker: what awslambdaric inside the worker process polls.

Lambda's contract (2018-06-01): the runtime GETs /runtime/invocation/next (blocking until there is an
event), then POSTs /runtime/invocation/{id}/response or /error; an import failure is POSTed to
/runtime/init/error. Each call is turned into an event on the worker's queue.
"""

from __future__ import annotations

import collections
import contextlib
import queue
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

from s3vl_local.lambda_service.http_base import KeepAliveHandler, Response

PREFIX = "/2018-06-01/runtime"


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    invoked_function_arn: str
    timeout_s: int
    client_context: str | None = None  # the JSON document the caller sent base64-encoded


@dataclass
class RuntimeEvent:
    """Something the worker did: kind is ready, started, response, error, init_error or exit."""

    kind: str
    at: float
    request_id: str | None = None
    body: bytes = b""
    error_type: str | None = None
    exit_code: int | None = None


class RuntimeApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RuntimeApiHandler)
        self.events: queue.Queue[RuntimeEvent] = queue.Queue()
        self._ready_reported = False
        # A GET /next with no invocation yet is parked: `dispatch` answers it from the invoking thread,
        # which saves a hand-off to the connection's thread. An invocation that comes first waits in
        # _pending for the next GET. Both under _lock.
        self._lock = threading.Lock()
        self._parked: _RuntimeApiHandler | None = None
        self._pending: collections.deque[Invocation] = collections.deque()
        self._closed = False
        # Set while the runtime waits in GET /next: faults.py freezes or kills a worker only there.
        self.waiting = threading.Event()
        self._thread = threading.Thread(target=self.serve_forever, name="lambda-runtime-api", daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host!s}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A killed worker drops its connection mid-request; that is expected, not a service error."""

    def start(self) -> RuntimeApiServer:
        self._thread.start()
        return self

    def close(self) -> None:
        with self._lock:
            self._closed = True
            parked, self._parked = self._parked, None
        if parked is not None:  # nobody will answer it: end its connection
            with contextlib.suppress(OSError):
                parked.connection.shutdown(socket.SHUT_RDWR)
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)

    def dispatch(self, invocation: Invocation) -> None:
        """Give `invocation` to the runtime: at once if it waits in GET /next, else at its next GET."""
        with self._lock:
            parked, self._parked = self._parked, None
            if parked is None:
                self._pending.append(invocation)
                return
        self.waiting.clear()
        parked.send_invocation(invocation)

    def take_or_park(self, handler: _RuntimeApiHandler) -> Invocation | None:
        """The pending invocation for a GET /next, or None: then `handler` is parked (or, once the
        server is closed, its connection ends)."""
        with self._lock:
            if self._pending:
                return self._pending.popleft()
            if self._closed:
                handler.close_connection = True
            else:
                self._parked = handler
                self.waiting.set()
            return None

    def unpark(self, handler: _RuntimeApiHandler) -> None:
        with self._lock:
            if self._parked is handler:
                self._parked = None
                self.waiting.clear()

    def next_polled(self) -> None:
        # The first poll marks the end of the worker's init phase (Init Duration).
        if not self._ready_reported:
            self._ready_reported = True
            self.events.put(RuntimeEvent("ready", time.monotonic()))


class _RuntimeApiHandler(KeepAliveHandler):
    server: RuntimeApiServer

    def finish(self) -> None:
        self.server.unpark(self)  # a worker that died while waiting takes nothing more
        super().finish()

    def do_GET(self) -> None:
        if self.path != f"{PREFIX}/invocation/next":
            self._reply(404, b'{"errorMessage": "unknown runtime API path"}')
            return
        self.server.next_polled()
        invocation = self.server.take_or_park(self)
        if invocation is not None:
            self.send_invocation(invocation)
        # Parked: no answer yet. This thread goes on to read the connection's next request, which the
        # runtime sends only after `dispatch` has answered this one from the invoking thread.

    def send_invocation(self, invocation: Invocation) -> None:
        """Answer the GET /next with `invocation`; a worker that died meanwhile reports its exit."""
        deadline_ms = int((time.time() + invocation.timeout_s) * 1000)
        self.server.events.put(RuntimeEvent("started", time.monotonic(), invocation.request_id))
        headers = {
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": invocation.invoked_function_arn,
            "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}",
        }
        if invocation.client_context:
            headers["Lambda-Runtime-Client-Context"] = invocation.client_context
        with contextlib.suppress(OSError):
            self._reply(200, invocation.payload, headers)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = self.path[len(PREFIX) :].strip("/").split("/")
        error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
        now = time.monotonic()
        if parts == ["init", "error"]:
            self.server.events.put(RuntimeEvent("init_error", now, body=body, error_type=error_type))
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            self.server.events.put(RuntimeEvent(parts[2], now, parts[1], body, error_type))
        else:
            self._reply(404, b'{"errorMessage": "unknown runtime API path"}')
            return
        self._reply(202, b'{"status": "OK"}')

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send(Response(status, body, {"Content-Type": "application/json", **(headers or {})}))
