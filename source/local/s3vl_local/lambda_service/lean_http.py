"""HTTP for the service's handlers (the Lambda API and the runtime API) without the email package.

BaseHTTPRequestHandler parses headers with email.parser, which cost more CPU than anything else the
service does per invocation (three requests: the Invoke, and the runtime's GET next and POST response).
LeanHttpHandler reads the same HTTP/1.x requests with a plain line loop and keeps the stdlib's rules:
Connection and Expect: 100-continue handling, 431 for a header line over 64 KiB or more than 100
headers. Any other request line (HTTP/0.9, HTTP/2, malformed) goes to the stdlib parser, which answers
the error it always did. `send_headers_and_body` writes a response in one send, so that its reader
wakes up once for it rather than for the headers and again for the body. The Date header is formatted
once per second rather than for every response (each invocation sends three).
"""

from __future__ import annotations

import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler

MAX_LINE = 65536  # http.client's _MAXLINE
MAX_HEADERS = 100  # http.client's _MAXHEADERS


class RequestHeaders:
    """What the handlers use of email.message.Message: case-insensitive get (first value) and items."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs
        self._first: dict[str, str] = {}
        for name, value in pairs:
            self._first.setdefault(name.lower(), value)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._first.get(name.lower(), default)

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)


class LeanHttpHandler(BaseHTTPRequestHandler):
    # (whole second, its HTTP-date): one tuple, so that threads swap it atomically.
    _date_cache: tuple[int, str] = (0, "")

    def date_time_string(self, timestamp: float | None = None) -> str:
        if timestamp is not None:
            return super().date_time_string(timestamp)
        second = int(time.time())
        cached_second, text = LeanHttpHandler._date_cache
        if cached_second != second:
            text = super().date_time_string(second)
            LeanHttpHandler._date_cache = (second, text)
        return text

    def parse_request(self) -> bool:
        words = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n").split()
        if len(words) != 3 or words[2] not in ("HTTP/1.0", "HTTP/1.1"):
            return super().parse_request()
        self.command, path, self.request_version = words
        self.requestline = " ".join(words)
        self.path = "/" + path.lstrip("/") if path.startswith("//") else path  # as the stdlib does
        pairs: list[tuple[str, str]] = []  # values keep their line ends until the end, as email does
        lines = 0
        while True:
            line = self.rfile.readline(MAX_LINE + 1)
            if len(line) > MAX_LINE:
                detail = f"got more than {MAX_LINE} bytes when reading header line"
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long", detail)
                return False
            if line in (b"\r\n", b"\n", b""):
                break
            lines += 1
            if lines > MAX_HEADERS:
                detail = f"got more than {MAX_HEADERS} headers"
                self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers", detail)
                return False
            text = line.decode("iso-8859-1")
            if text[0] in " \t" and pairs:  # an obsolete folded line continues the previous value
                pairs[-1] = (pairs[-1][0], pairs[-1][1] + text)
                continue
            name, _, value = text.partition(":")
            pairs.append((name, value.lstrip(" \t")))
        pairs = [(name, value.rstrip("\r\n")) for name, value in pairs]
        self.headers = RequestHeaders(pairs)  # type: ignore[assignment]
        connection = (self.headers.get("Connection") or "").lower()
        self.close_connection = self.request_version != "HTTP/1.1" or self.protocol_version < "HTTP/1.1"
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive" and self.protocol_version >= "HTTP/1.1":
            self.close_connection = False
        expect = (self.headers.get("Expect") or "").lower()
        if expect == "100-continue" and self.request_version == "HTTP/1.1" <= self.protocol_version:
            return self.handle_expect_100()
        return True

    def send_headers_and_body(self, body: bytes) -> None:
        """end_headers() and the body in a single write."""
        self._headers_buffer.append(b"\r\n" + body)  # type: ignore[attr-defined]
        self.flush_headers()
