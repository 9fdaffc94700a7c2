"""The Lambda API over HTTP/1.x as clients use it: header names in any case, connections kept alive or
closed as Connection and the HTTP version say, and Expect: 100-continue answered before the body."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest
from s3vl_local.lambda_service.server import LambdaService

INVOKE = "POST /2015-03-31/functions/no-such-function/invocations"


def exchange(service: LambdaService, request: bytes) -> bytes:
    """Send raw bytes; return what comes back until the response is complete."""
    url = urlsplit(service.url)
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(request)
        received = b""
        while True:
            chunk = sock.recv(65536)
            received += chunk
            if not chunk or received.endswith(b"}"):
                return received


def test_header_names_in_any_case(lambda_service: LambdaService) -> None:
    body = b"{}"
    answer = exchange(
        lambda_service,
        f"{INVOKE} HTTP/1.1\r\nhost: x\r\nX-AMZ-INVOCATION-TYPE: Later\r\n"
        f"content-length: {len(body)}\r\n\r\n".encode()
        + body,
    )
    # The invocation type is checked before the function is looked up: read, it is refused.
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"Value 'Later' at 'invocationType'" in answer


def test_expect_100_continue_is_answered_before_the_body(lambda_service: LambdaService) -> None:
    url = urlsplit(lambda_service.url)
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(
            f"{INVOKE} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n".encode()
        )
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(b"{}")
        assert sock.recv(65536).startswith(b"HTTP/1.1 404 ")


@pytest.mark.parametrize(
    ("request_head", "keeps_open"),
    [
        ("HTTP/1.1\r\nHost: x", True),
        ("HTTP/1.1\r\nHost: x\r\nConnection: close", False),
        ("HTTP/1.0\r\nHost: x", False),
        ("HTTP/1.0\r\nHost: x\r\nConnection: keep-alive", True),
    ],
)
def test_connection_is_kept_as_http_says(
    lambda_service: LambdaService, request_head: str, keeps_open: bool
) -> None:
    url = urlsplit(lambda_service.url)
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(f"{INVOKE} {request_head}\r\nContent-Length: 2\r\n\r\n{{}}".encode())
        sock.settimeout(1)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
            closed = True
        except TimeoutError:
            closed = False
    assert b" 404 " in received.split(b"\r\n", 1)[0]
    assert closed is not keeps_open
