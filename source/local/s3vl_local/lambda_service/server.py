"""The local Lambda service: the Lambda REST API (Invoke and the function management s3vl uses) on HTTP.

Clients reach it as they reach Lambda, with AWS_ENDPOINT_URL_LAMBDA (awscli, boto3) or through the
Aurora shim. Functions persist under the state directory; each invocation runs in a warm worker.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import socket
import threading
import uuid
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from s3vl_local.lambda_service.errors import LambdaApiError, invalid_parameter
from s3vl_local.lambda_service.faults import CONTROL_PATH, FaultInjector
from s3vl_local.lambda_service.functions import (
    LATEST,
    Function,
    FunctionStore,
    function_arn,
    parse_function_ref,
)
from s3vl_local.lambda_service.latency import InvokeLatency
from s3vl_local.lambda_service.lean_http import LeanHttpHandler
from s3vl_local.lambda_service.runtime_api import Invocation
from s3vl_local.lambda_service.workers import FunctionPool, Outcome
from s3vl_local.local_aws import ACCOUNT, REGION

DEFAULT_CONCURRENCY_LIMIT = 10
MAX_SYNC_REQUEST_BYTES = 6 * 1024 * 1024
MAX_ASYNC_REQUEST_BYTES = 1024 * 1024
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
# Lambda retries an asynchronous invocation that fails twice, about one and two minutes later; locally
# the waits are seconds. An event that fails every attempt goes to the function's dead-letter file.
EVENT_RETRY_DELAYS_S = (1.0, 2.0)
DEAD_LETTER_DIR = "dead-letters"  # under the service's state directory
LOG_TYPES = ("None", "Tail")
# What the running service was started with, for `s3vl-local up` and `status` to check that its functions
# call the emulator that runs now (beside CONTROL_PATH; Lambda paths start with a date).
SERVICE_PATH = "/_s3vl/service"

ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"/2015-03-31/functions/(?P<ref>[^/]+)/invocations"), "invoke"),
    ("POST", re.compile(r"/2015-03-31/functions/?"), "create_function"),
    ("GET", re.compile(r"/2015-03-31/functions/?"), "list_functions"),
    ("GET", re.compile(r"/2015-03-31/functions/(?P<ref>[^/]+)"), "get_function"),
    ("GET", re.compile(r"/2015-03-31/functions/(?P<ref>[^/]+)/configuration"), "get_function_configuration"),
    ("PUT", re.compile(r"/2015-03-31/functions/(?P<ref>[^/]+)/code"), "update_function_code"),
    ("PUT", re.compile(r"/2015-03-31/functions/(?P<ref>[^/]+)/configuration"), "update_configuration"),
    ("DELETE", re.compile(r"/2015-03-31/functions/(?P<ref>[^/]+)"), "delete_function"),
    ("PUT", re.compile(r"/2017-10-31/functions/(?P<ref>[^/]+)/concurrency"), "put_function_concurrency"),
    ("DELETE", re.compile(r"/2017-10-31/functions/(?P<ref>[^/]+)/concurrency"), "delete_concurrency"),
    ("GET", re.compile(r"/2019-09-30/functions/(?P<ref>[^/]+)/concurrency"), "get_function_concurrency"),
]


class Response:
    def __init__(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}

    @classmethod
    def json(cls, status: int, document: Any) -> Response:
        return cls(status, json.dumps(document).encode(), {"Content-Type": "application/json"})


class LambdaService:
    """Serves the Lambda API on `host:port` (0 = any free port) from a background thread."""

    def __init__(
        self,
        state_dir: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        function_env: dict[str, str] | None = None,
        concurrency_limit: int = DEFAULT_CONCURRENCY_LIMIT,
        event_retry_delays_s: tuple[float, ...] = EVENT_RETRY_DELAYS_S,
        latency_profile: str = "none",
    ) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.function_env = dict(function_env or {})
        self.concurrency_limit = concurrency_limit
        self.store = FunctionStore(self.state_dir)
        self.log_dir = self.state_dir / "logs"
        self._pools: dict[str, FunctionPool] = {}
        self._pools_lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._log_descriptors: dict[str, int] = {}
        self._background: set[threading.Thread] = set()
        self._event_retry_delays_s = event_retry_delays_s
        self._stopping = threading.Event()  # ends the waits between retries of Event invocations
        self.dead_letter_dir = self.state_dir / DEAD_LETTER_DIR
        self.faults = FaultInjector()  # run-time fault plans, also on CONTROL_PATH
        self.latency = InvokeLatency(latency_profile)  # raises ValueError for an unknown profile
        self._http = _ApiServer((host, port), self)
        self._thread = threading.Thread(target=self._http.serve_forever, name="lambda-service", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LambdaService:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wait for background (Event) invocations, and end every worker process."""
        self._stopping.set()  # an Event waiting to be retried goes to its dead-letter file now
        self.faults.interrupt()  # delayed invocations answer at once
        self._http.shutdown()
        self._http.server_close()
        self._http.end_connections()
        with self._pools_lock:
            pools = list(self._pools.values())
        for pool in pools:
            pool.close()
        for thread in list(self._background):
            thread.join(timeout=30)
        for pool in pools:
            pool.retire_idle()
        with self._log_lock:
            descriptors, self._log_descriptors = self._log_descriptors, {}
        for descriptor in descriptors.values():
            os.close(descriptor)

    def describe(self) -> dict[str, Any]:
        """The settings this service runs with, as GET SERVICE_PATH answers them."""
        return {
            "region": REGION,
            "account": ACCOUNT,
            "function_env": dict(self.function_env),
            "concurrency_limit": self.concurrency_limit,
            "latency_profile": self.latency.profile.name,
            "state_dir": str(self.state_dir.absolute()),
        }

    def dead_letters(self, name: str) -> Path:
        """The function's dead-letter file (its dead-letter queue stand-in): one JSON line per Event
        invocation that failed every attempt, with the message attributes Lambda gives its DLQ."""
        return self.dead_letter_dir / f"{name}.jsonl"

    def function_log(self, name: str) -> Path:
        """The function's log (its CloudWatch log group stand-in): every invocation's START..REPORT."""
        return self.log_dir / f"{name}.log"

    # --- API operations ---------------------------------------------------------------------------

    def invoke(self, ref: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> Response:
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
        pool = self._pool(name)
        if invocation_type == "Event":
            # Lambda queues asynchronous events: over the limit they wait instead of being throttled.
            thread = threading.Thread(target=self._run_event, args=(pool, function, invocation), daemon=True)
            self._background.add(thread)
            thread.start()
            return Response(202, headers={"x-amzn-RequestId": invocation.request_id})
        fault = self.faults.before_invoke(name)  # may wait or throttle; a crash or timeout acts on the worker
        worker = pool.acquire(function, wait=False)
        try:
            self.latency.wait(worker.cold)
            outcome = fault.run(worker, invocation) if fault else worker.invoke(invocation)
        finally:
            pool.release(worker, self._generation(name))
        self._append_log(name, outcome.log)
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

    def create_function(self, body: dict[str, Any]) -> Response:
        function = self.store.create(body)
        return Response.json(201, function.configuration)

    def list_functions(self) -> Response:
        return Response.json(200, {"Functions": [f.configuration for f in self.store.list()]})

    def get_function(self, ref: str, query: dict[str, str]) -> Response:
        function = self._lookup(ref, query)
        document: dict[str, Any] = {
            "Configuration": function.configuration,
            "Code": {
                "RepositoryType": "S3",
                "Location": (self.store.root / function.name / "code.zip").as_uri(),
            },
        }
        if function.reserved_concurrency is not None:
            document["Concurrency"] = {"ReservedConcurrentExecutions": function.reserved_concurrency}
        return Response.json(200, document)

    def get_function_configuration(self, ref: str, query: dict[str, str]) -> Response:
        return Response.json(200, self._lookup(ref, query).configuration)

    def update_function_code(self, ref: str, body: dict[str, Any]) -> Response:
        name = self._unqualified(ref)
        function = self.store.update_code(name, body)
        self._retire(name)
        return Response.json(200, function.configuration)

    def update_configuration(self, ref: str, body: dict[str, Any]) -> Response:
        name = self._unqualified(ref)
        function = self.store.update_configuration(name, body)
        self._retire(name)
        return Response.json(200, function.configuration)

    def delete_function(self, ref: str) -> Response:
        name = self._unqualified(ref)
        self.store.delete(name)
        self._retire(name)
        return Response(204)

    def put_function_concurrency(self, ref: str, body: dict[str, Any]) -> Response:
        reserved = body.get("ReservedConcurrentExecutions")
        if not isinstance(reserved, int):
            raise invalid_parameter("ReservedConcurrentExecutions must be an integer.")
        self.store.set_reserved_concurrency(self._unqualified(ref), reserved)
        return Response.json(200, {"ReservedConcurrentExecutions": reserved})

    def delete_concurrency(self, ref: str) -> Response:
        self.store.set_reserved_concurrency(self._unqualified(ref), None)
        return Response(204)

    def get_function_concurrency(self, ref: str) -> Response:
        function = self.store.get(self._unqualified(ref))
        if function.reserved_concurrency is None:
            return Response.json(200, {})
        return Response.json(200, {"ReservedConcurrentExecutions": function.reserved_concurrency})

    # --- internals --------------------------------------------------------------------------------

    def _lookup(self, ref: str, query: dict[str, str]) -> Function:
        name, qualifier = parse_function_ref(ref, query.get("Qualifier"))
        return self.store.get(name, qualifier)

    def _unqualified(self, ref: str) -> str:
        name, qualifier = parse_function_ref(ref)
        if qualifier:
            raise invalid_parameter("Only the unqualified function ($LATEST) can be changed locally.")
        return name

    def _pool(self, name: str) -> FunctionPool:
        with self._pools_lock:
            pool = self._pools.get(name)
            if pool is None:
                pool = FunctionPool(name, self.concurrency_limit, self.function_env, self.log_dir / name)
                self._pools[name] = pool
            return pool

    def _generation(self, name: str) -> int | None:
        try:
            return self.store.get(name).generation
        except LambdaApiError:
            return None

    def _retire(self, name: str) -> None:
        with self._pools_lock:
            pool = self._pools.get(name)
        if pool is not None:
            pool.retire_idle()

    def _run_event(self, pool: FunctionPool, function: Function, invocation: Invocation) -> None:
        """Run an Event invocation, retried as Lambda retries it (same request id); an event that fails
        every attempt, or cannot run because the service stops, is written to the dead-letter file."""
        try:
            for attempt, delay_s in enumerate((*self._event_retry_delays_s, None), start=1):
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
                    function = self.store.get(function.name)  # a retry runs the code current by then
                except LambdaApiError as exc:
                    self._dead_letter(function.name, invocation, attempt, (exc.error_type, str(exc)))
                    return
        finally:
            self._background.discard(threading.current_thread())

    def _attempt(self, pool: FunctionPool, function: Function, invocation: Invocation) -> Outcome | None:
        """One run of a background invocation, logged; None when the service stops before it can run."""
        try:
            worker = pool.acquire(function, wait=True)
        except LambdaApiError:
            return None
        try:
            outcome = worker.invoke(invocation)
        finally:
            pool.release(worker, self._generation(function.name))
        self._append_log(function.name, outcome.log)
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
        with self._log_lock:
            self.dead_letter_dir.mkdir(parents=True, exist_ok=True)
            with self.dead_letters(name).open("a", encoding="utf-8") as dead_letters:
                dead_letters.write(json.dumps(record) + "\n")

    def _append_log(self, name: str, text: str) -> None:
        # One descriptor per function for the service's life: opening the file for every invocation
        # cost more than writing to it.
        with self._log_lock:
            descriptor = self._log_descriptors.get(name)
            if descriptor is None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                descriptor = os.open(self.function_log(name), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                self._log_descriptors[name] = descriptor
            data = text.encode()
            while data:
                data = data[os.write(descriptor, data) :]


def _error_of(payload: bytes) -> tuple[str, str]:
    """(errorType, errorMessage) of a function error document."""
    try:
        document = json.loads(payload)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        return "Unhandled", payload.decode("utf-8", errors="replace")[:1000]
    return str(document.get("errorType") or "Unhandled"), str(document.get("errorMessage") or "")


def _is_json(body: bytes) -> bool:
    """Whether an Invoke payload parses as JSON. orjson answers for the usual payload in a quarter of the
    stdlib's time (this check was the largest part of the service's work per invocation); what it refuses
    and the stdlib accepts (NaN, lone surrogates, UTF-16) is accepted, as before."""
    try:
        orjson.loads(body)
        return True
    except orjson.JSONDecodeError:
        pass
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


class _ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Each shim session connects on its first invocation (then keeps the connection): with the default
    # backlog of 5, many sessions starting at once overflow it on a busy machine, the kernel drops their
    # SYNs and they hit aws_lambda.connect_timeout_ms.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], service: LambdaService) -> None:
        self.service = service
        # Clients keep connections alive between invocations (the shim does, per session); each has a
        # thread that must not go on serving them once the service stops. Value: serving a request now.
        self._connections: dict[socket.socket, bool] = {}
        self._connections_lock = threading.Lock()
        super().__init__(address, _ApiHandler)

    def track(self, connection: socket.socket, busy: bool | None) -> None:
        """Record a connection as busy, idle (waiting for its next request) or, with None, closed."""
        with self._connections_lock:
            if busy is None:
                self._connections.pop(connection, None)
            else:
                self._connections[connection] = busy

    def end_connections(self) -> None:
        """Close idle connections now, so that their clients find the service gone, and let busy ones
        end after the response they are writing."""
        with self._connections_lock:
            connections = list(self._connections.items())
        for connection, busy in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RD if busy else socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that disconnects early (e.g. a timed-out SQL call) is not a service error."""


class _ApiHandler(LeanHttpHandler):
    protocol_version = "HTTP/1.1"
    server: _ApiServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, busy=False)

    def parse_request(self) -> bool:
        self.server.track(self.connection, busy=True)  # a request line arrived
        return super().parse_request()

    def handle_one_request(self) -> None:
        super().handle_one_request()
        self.server.track(self.connection, busy=False)

    def finish(self) -> None:
        self.server.track(self.connection, busy=None)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging; invocations are logged per function."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()} if parts.query else {}
        try:
            response = self._route(method, parts.path, query, raw)
        except LambdaApiError as error:
            response = Response(
                error.status,
                error.body(),
                {"Content-Type": "application/json", "x-amzn-ErrorType": error.error_type},
            )
        except Exception as exc:  # a defect in the service must still answer, as Lambda's 500 does
            response = Response(
                500,
                json.dumps({"Type": "Service", "Message": f"{type(exc).__name__}: {exc}"}).encode(),
                {"Content-Type": "application/json", "x-amzn-ErrorType": "ServiceException"},
            )
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_headers_and_body(response.body)

    def _route(self, method: str, path: str, query: dict[str, str], raw: bytes) -> Response:
        service = self.server.service
        if path.rstrip("/") == CONTROL_PATH:
            return Response.json(200, service.faults.control(method, path, urlsplit(self.path).query, raw))
        if path.rstrip("/") == SERVICE_PATH and method == "GET":
            return Response.json(200, service.describe())
        for route_method, pattern, operation in ROUTES:
            match = pattern.fullmatch(path)
            if route_method != method or not match:
                continue
            args: list[Any] = [unquote(match["ref"])] if "ref" in pattern.groupindex else []
            if operation == "invoke":
                headers = {k.lower(): v for k, v in self.headers.items()}
                return service.invoke(args[0], query, headers, raw)
            if operation in ("get_function", "get_function_configuration"):
                args.append(query)
            elif method in ("POST", "PUT"):
                args.append(_json_body(raw))
            return getattr(service, operation)(*args)  # type: ignore[no-any-return]
        raise LambdaApiError(404, "UnknownOperationException", f"Unknown operation {method} {path}")


def _json_body(raw: bytes) -> dict[str, Any]:
    try:
        document = json.loads(raw or b"{}")
    except ValueError:
        raise LambdaApiError(
            400, "InvalidRequestContentException", "Could not parse request body into json"
        ) from None
    if not isinstance(document, dict):
        raise LambdaApiError(400, "InvalidRequestContentException", "The request body must be a JSON object")
    return document
