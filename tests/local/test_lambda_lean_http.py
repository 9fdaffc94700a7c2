"""The service's own request parsing (lean_http.py) keeps HTTP/1.x semantics: header names in any
case, folded lines, Connection, Expect: 100-continue, and 431 or 400 for what the stdlib refuses."""

from __future__ import annotations

import email.utils
import socket
import time
from urllib.parse import urlsplit

import pytest
from s3vl_local.lambda_service.server import LambdaService

INVOKE = "POST /2015-03-31/functions/no-such-function/invocations"


def exchange(service: LambdaService, request: bytes, wait_for_close: bool = False) -> bytes:
    """Send raw bytes; return what comes back until the response is complete (or the close)."""
    url = urlsplit(service.url)
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(request)
        received = b""
        while True:
            chunk = sock.recv(65536)
            received += chunk
            if not chunk or (not wait_for_close and received.endswith(b"}")):
                return received


def test_header_names_in_any_case_and_folded_lines(lambda_service: LambdaService) -> None:
    body = b"{}"
    answer = exchange(
        lambda_service,
        f"{INVOKE} HTTP/1.1\r\nhost: x\r\nX-Note: a\r\n folded\r\nX-AMZ-INVOCATION-TYPE: DryRun\r\n"
        f"content-length: {len(body)}\r\n\r\n".encode()
        + body,
    )
    assert answer.startswith(b"HTTP/1.1 404 ")  # parsed in full: a valid DryRun looks the function up
    assert b"ResourceNotFoundException" in answer


def test_a_folded_value_keeps_its_line_break_as_with_the_stdlib(lambda_service: LambdaService) -> None:
    answer = exchange(
        lambda_service,
        f"{INVOKE} HTTP/1.1\r\nHost: x\r\nX-Amz-Invocation-Type:\r\n DryRun\r\n"
        "Content-Length: 2\r\n\r\n{}".encode(),
    )
    assert answer.startswith(b"HTTP/1.1 400 ") and b"ValidationException" in answer


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


@pytest.mark.parametrize(
    ("head", "status"),
    [
        ("X-Long: " + "a" * 70000, b" 431 "),
        ("".join(f"X-H{i}: v\r\n" for i in range(101)).rstrip("\r\n"), b" 431 "),
    ],
)
def test_oversized_headers_are_refused_with_431(
    lambda_service: LambdaService, head: str, status: bytes
) -> None:
    answer = exchange(lambda_service, f"{INVOKE} HTTP/1.1\r\n{head}\r\n\r\n".encode(), wait_for_close=True)
    assert status in answer.split(b"\r\n", 1)[0]


@pytest.mark.parametrize("request_line", [f"{INVOKE} HTTP/2.0", f"{INVOKE} HTTP/1.x", "POST /a b HTTP/1.1"])
def test_other_request_lines_get_the_stdlib_errors(lambda_service: LambdaService, request_line: str) -> None:
    answer = exchange(lambda_service, f"{request_line}\r\nHost: x\r\n\r\n".encode(), wait_for_close=True)
    # No status line: the stdlib answers a request it cannot read as HTTP/0.9, with the page alone.
    assert b"<p>Error code: 400</p>" in answer or b"<p>Error code: 505</p>" in answer


def test_date_header_is_the_current_second_in_http_date_format(lambda_service: LambdaService) -> None:
    # The Date value is cached per second: it must still follow the clock.
    before = time.time()
    answers = [exchange(lambda_service, f"{INVOKE} HTTP/1.1\r\nHost: x\r\n\r\n".encode())]
    time.sleep(1.1)
    answers.append(exchange(lambda_service, f"{INVOKE} HTTP/1.1\r\nHost: x\r\n\r\n".encode()))
    after = time.time()
    dates = []
    for answer in answers:
        (line,) = [h for h in answer.split(b"\r\n") if h.lower().startswith(b"date: ")]
        dates.append(email.utils.parsedate_to_datetime(line[6:].decode()).timestamp())
        assert line.endswith(b" GMT")
    assert int(before) <= dates[0] < dates[1] <= after
