"""HTTP front of the emulator: rest-json routing, keep-alive, TCP_NODELAY, modelled JSON errors only."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import response_json
from .catalog import DEFAULT_COMPACT_MIN_BYTES, Catalog
from .errors import InternalServerException, S3VectorsError, ValidationException
from .faults import CONTROL_PREFIX, DropConnection, FaultInjector
from .latency import EmulatorLatency
from .model import validate_input
from .operations import HANDLERS

# PutVectors requests are limited to 20 MiB by the service.
MAX_REQUEST_BYTES = 20 * 1024 * 1024
_TAGS_PREFIX = "/tags/"
_TAG_OPERATIONS = {"GET": "ListTagsForResource", "POST": "TagResource", "DELETE": "UntagResource"}
_DECIMAL = re.compile(r"[0-9]+")
# JSON can only carry a lone surrogate as an escape; parsed pairs become one code point, so any
# surrogate code point left in a parsed string is lone.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")

log = logging.getLogger(__name__)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], catalog: Catalog, faults: FaultInjector) -> None:
        super().__init__(address, _Handler)
        self.catalog = catalog
        self.faults = faults
        self.latency = EmulatorLatency()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: botocore reuses its connections
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Without this, small responses on a kept-alive connection wait ~40 ms for Nagle's algorithm.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_POST(self) -> None:
        self._serve()

    do_GET = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_POST

    def _serve(self) -> None:
        try:
            length = self._content_length()
            if length > MAX_REQUEST_BYTES:
                self.close_connection = True
                raise ValidationException(
                    f"The request body is {length} bytes; the limit is {MAX_REQUEST_BYTES} bytes (20 MiB): "
                    "send fewer vectors per PutVectors call"
                )
            body = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            if url.path == CONTROL_PREFIX or url.path.startswith(CONTROL_PREFIX + "/"):
                payload = self.server.faults.control(self.command, url.path, url.query, body)
            else:
                operation, params = self._route(body)
                self.server.faults.before(operation)  # before validation and the operation: no write
                validate_input(operation, params)
                self.server.latency.before(operation, params)  # may throttle (429) or wait: no write yet
                payload = HANDLERS[operation](self.server.catalog, params)
            status, headers = 200, {}
        except DropConnection:
            self.close_connection = True
            return
        except S3VectorsError as error:
            status, payload, headers = error.status, error.body(), {"x-amzn-ErrorType": error.code}
        except Exception:
            log.exception("unexpected failure serving %s %s", self.command, self.path)
            error = InternalServerException("The emulator failed unexpectedly; see its log for the traceback")
            status, payload, headers = error.status, error.body(), {"x-amzn-ErrorType": error.code}
        data = response_json.encode(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _content_length(self) -> int:
        raw = self.headers.get("Content-Length")
        if raw is None:
            return 0
        if not _DECIMAL.fullmatch(raw.strip()):
            # The body's end is unknown: answer, then close rather than read the rest as a request.
            self.close_connection = True
            raise ValidationException(
                f"The Content-Length header {raw[:40]!a} is not a non-negative decimal integer: "
                "send the body's length in bytes"
            )
        return int(raw)

    def _route(self, body: bytes) -> tuple[str, dict[str, Any]]:
        url = urlsplit(self.path)
        if url.path.startswith(_TAGS_PREFIX) and self.command in _TAG_OPERATIONS:
            operation = _TAG_OPERATIONS[self.command]
            params = _json_object(body) if self.command == "POST" else {}
            params["resourceArn"] = unquote(url.path[len(_TAGS_PREFIX) :])
            if operation == "UntagResource":
                params["tagKeys"] = parse_qs(url.query).get("tagKeys", [])
            return operation, params
        operation = url.path.strip("/")
        if self.command != "POST" or operation not in HANDLERS or operation in _TAG_OPERATIONS.values():
            raise ValidationException(
                f"Unknown operation {self.command} {url.path}: "
                "S3 Vectors operations are POST /<OperationName> "
                f"(one of {', '.join(sorted(set(HANDLERS) - set(_TAG_OPERATIONS.values())))}) or "
                "GET|POST|DELETE /tags/<resourceArn>"
            )
        return operation, _json_object(body)


def _json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        # Strict: json.loads(bytes) would let UTF-8-encoded surrogates (ED A0 80) through.
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValidationException(
            f"The request body is not valid UTF-8 JSON (byte {e.start}: {e.reason}): encode the body as UTF-8"
        ) from None
    try:
        value = json.loads(text)
    except ValueError as e:
        raise ValidationException(f"The request body is not valid JSON: {e}") from None
    except RecursionError:
        raise ValidationException(
            "The request body nests arrays or objects too deeply to parse; send a shallower body"
        ) from None
    if not isinstance(value, dict):
        raise ValidationException("The request body must be a JSON object")
    if _SURROGATE_ESCAPE.search(text):
        _reject_lone_surrogates(value)
    return value


def _reject_lone_surrogates(value: Any) -> None:
    """A lone UTF-16 surrogate (JSON "\\ud800") has no UTF-8 form: no key, name or value may hold one."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found = _SURROGATE.search(item)
            if found:
                raise ValidationException(
                    f"The request contains the lone UTF-16 surrogate {found.group()!a} in the string "
                    f"{item[:60]!a}, which is not valid Unicode: send surrogates only as high-low pairs"
                )
        elif isinstance(item, dict):
            stack += item
            stack += item.values()
        elif isinstance(item, list):
            stack += item


class EmulatorServer:
    """The emulator on 127.0.0.1; in memory when data_dir is None, else durable through a write-ahead log."""

    def __init__(
        self,
        data_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        compact_min_bytes: int | None = DEFAULT_COMPACT_MIN_BYTES,
        latency_profile: str = "none",
    ) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.compact_min_bytes = compact_min_bytes
        self.host, self.port = host, port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.catalog: Catalog | None = None
        # Outlives start/stop, so plans can be set before the first request.
        self.faults = FaultInjector()
        self.latency = EmulatorLatency(latency_profile)  # raises ValueError for an unknown profile

    def start(self) -> EmulatorServer:
        self.catalog = Catalog(self.data_dir, compact_min_bytes=self.compact_min_bytes)
        self.faults.resume()
        self._httpd = _HTTPServer((self.host, self.port), self.catalog, self.faults)
        self._httpd.latency = self.latency
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="s3vectors-emulator", daemon=True
        )
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.faults.interrupt()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.catalog is not None:
            self.catalog.close()
            self.catalog = None
