"""What the service's HTTP servers (the Lambda API and each worker's Runtime API) share: the response a
handler answers with, and a keep-alive HTTP/1.1 handler on the standard library's parsing."""

from __future__ import annotations

import json
import socket
from http.server import BaseHTTPRequestHandler
from typing import Any


class Response:
    def __init__(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}

    @classmethod
    def json(cls, status: int, document: Any) -> Response:
        return cls(status, json.dumps(document).encode(), {"Content-Type": "application/json"})


class KeepAliveHandler(BaseHTTPRequestHandler):
    # Clients keep their connection between requests: the shim per session, awslambdaric per worker.
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Requests and responses are small: Nagle's algorithm would hold each back for the previous ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging: each invocation is logged in its function's log."""

    def send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)
