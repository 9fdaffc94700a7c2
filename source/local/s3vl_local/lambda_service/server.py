"""The local Lambda service: the Lambda REST API (Invoke and the function management s3vl uses) on HTTP.

Clients reach it as they reach Lambda, with AWS_ENDPOINT_URL_LAMBDA (awscli, boto3) or through the
Aurora shim. Functions persist under the state directory; each invocation runs in a warm worker. This
module holds the HTTP server and its routing; the APIs are invoke.py and management.py.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from s3vl_local.lambda_service.errors import LambdaApiError
from s3vl_local.lambda_service.events import EVENT_RETRY_DELAYS_S, EventInvocations
from s3vl_local.lambda_service.faults import CONTROL_PATH, FaultInjector
from s3vl_local.lambda_service.functions import FunctionStore
from s3vl_local.lambda_service.http_base import KeepAliveHandler, Response
from s3vl_local.lambda_service.invoke import InvokeApi
from s3vl_local.lambda_service.latency import InvokeLatency
from s3vl_local.lambda_service.logs import LOG_DIR, FunctionLogs
from s3vl_local.lambda_service.management import FunctionApi
from s3vl_local.lambda_service.pools import FunctionPools
from s3vl_local.local_aws import ACCOUNT, REGION

DEFAULT_CONCURRENCY_LIMIT = 10
LAMBDA_ENDPOINT_ENV = "AWS_ENDPOINT_URL_LAMBDA"
# What the running service was started with, for `s3vl-local up` and `status` to check that its functions
# call the emulator that runs now (beside CONTROL_PATH; Lambda paths start with a date).
SERVICE_PATH = "/_s3vl/service"

# (method, path, operation): "invoke" is InvokeApi's, the others FunctionApi's methods of that name.
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
        self.latency = InvokeLatency(latency_profile)  # raises ValueError for an unknown profile
        self._http = _ApiServer((host, port), self)  # bound now, served from start()
        # A function reaches Lambda (to invoke itself: rank_vectors' slices) where clients reach it: here.
        self.function_env = {LAMBDA_ENDPOINT_ENV: self.url, **(function_env or {})}
        self.concurrency_limit = concurrency_limit
        self.store = FunctionStore(self.state_dir)
        self.log_dir = self.state_dir / LOG_DIR
        self.logs = FunctionLogs(self.state_dir)
        self.pools = FunctionPools(self.store, concurrency_limit, self.function_env, self.log_dir)
        self.events = EventInvocations(
            self.state_dir, self.store, self.pools, self.logs, event_retry_delays_s
        )
        self.faults = FaultInjector()  # run-time fault plans, also on CONTROL_PATH
        self.invoke_api = InvokeApi(self.store, self.pools, self.events, self.logs, self.faults, self.latency)
        self.function_api = FunctionApi(self.store, self.pools)
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
        self.events.stop()  # an Event waiting to be retried goes to its dead-letter file now
        self.faults.interrupt()  # delayed invocations answer at once
        self._http.shutdown()
        self._http.server_close()
        self._http.end_connections()
        self.pools.close()
        self.events.join()
        self.pools.retire_all()
        self.logs.close()

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
        return self.events.dead_letters(name)

    def function_log(self, name: str) -> Path:
        return self.logs.path(name)

    def route(self, method: str, path: str, query: str, headers: dict[str, str], raw: bytes) -> Response:
        """The response to one request; `headers` with lower-case names."""
        if path.rstrip("/") == CONTROL_PATH:
            return Response.json(200, self.faults.control(method, path, query, raw))
        if path.rstrip("/") == SERVICE_PATH and method == "GET":
            return Response.json(200, self.describe())
        parameters = {k: v[-1] for k, v in parse_qs(query).items()} if query else {}
        for route_method, pattern, operation in ROUTES:
            match = pattern.fullmatch(path)
            if route_method != method or not match:
                continue
            args: list[Any] = [unquote(match["ref"])] if "ref" in pattern.groupindex else []
            if operation == "invoke":
                return self.invoke_api.invoke(args[0], parameters, headers, raw)
            if operation in ("get_function", "get_function_configuration"):
                args.append(parameters)
            elif method in ("POST", "PUT"):
                args.append(_json_body(raw))
            return getattr(self.function_api, operation)(*args)  # type: ignore[no-any-return]
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


class _ApiHandler(KeepAliveHandler):
    server: _ApiServer

    def setup(self) -> None:
        super().setup()
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
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            response = self.server.service.route(method, parts.path, parts.query, headers, raw)
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
        self.send(response)
