"""The shim's HTTP client (aurora_shim/aws_lambda_client.py) on its own, against a small HTTP server on
127.0.0.1 that answers as the Lambda Invoke API does: the row it returns for each answer, the SQLSTATEs of
its failures, its timeouts and when it reuses its connection."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from s3vl_local.aurora_shim.aws_lambda_client import InvokeClient, Row, function_arn

ARN = "arn:aws:lambda:us-west-2:000000000000:function:{}"


class InvokeApi(BaseHTTPRequestHandler):
    """Behaves as the function named in the path asks; `echo` returns what it received."""

    protocol_version = "HTTP/1.1"
    server: Server

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def log_message(self, *args: object) -> None:
        pass  # keeps the test output quiet

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        function = self.path.split("/")[3]
        self.server.requests += 1
        if function == "slow":
            time.sleep(0.5)
        if function == "missing":
            error = {"Message": "Function not found: x", "Type": "User"}
            headers = {"x-amzn-ErrorType": "ResourceNotFoundException:http://internal"}
            self._answer(404, json.dumps(error).encode(), headers)
        elif function == "raises":
            error = {"errorType": "ValueError", "errorMessage": "boom"}
            self._answer(200, json.dumps(error).encode(), {"X-Amz-Function-Error": "Unhandled"})
        elif function == "truncated":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            self.close_connection = True
        elif function == "event":
            self._answer(202, b"", {})
        else:
            echo = {"path": self.path, "headers": dict(self.headers), "body": body.decode()}
            headers = {"X-Amz-Executed-Version": "$LATEST", "X-Amz-Log-Result": "bG9n"}
            if function == "close":
                headers["Connection"] = "close"
            self._answer(200, json.dumps(echo).encode(), headers)
            # `drop` closes the connection after answering without saying so, as a stopped service does.
            self.close_connection = function in ("close", "drop")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    connections = 0
    requests = 0
    closed = 0

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        super().shutdown_request(request)
        self.closed += 1

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # `slow` answers a client that timed out and left: the broken pipe is expected


@pytest.fixture
def server() -> Iterator[Server]:
    started = Server(("127.0.0.1", 0), InvokeApi)
    thread = threading.Thread(target=started.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield started
    finally:
        started.shutdown()
        started.server_close()
        thread.join()


def _url(server: Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def _invoke(
    client: InvokeClient,
    endpoint: str,
    function: str = "echo",
    *,
    payload: str | None = '{"k": 1}',
    invocation_type: str = "RequestResponse",
    log_type: str | None = None,
    context: str | None = None,
    qualifier: str | None = None,
    region: str | None = None,
    connect_timeout_ms: str | None = None,
    request_timeout_ms: str | None = None,
) -> Row:
    return client.invoke(
        function,
        region,
        payload,
        invocation_type,
        log_type,
        context,
        qualifier,
        endpoint,
        connect_timeout_ms,
        request_timeout_ms,
    )


def _error(row: Row) -> tuple[str | None, str | None, str | None]:
    assert row[:4] == (None, None, None, None)
    assert row[7], "every failure carries a hint"
    return row[4], row[5], row[6]


def test_an_answer_becomes_the_row_and_the_request_carries_every_argument(server: Server) -> None:
    row = _invoke(
        InvokeClient(),
        _url(server),
        "my fn",
        log_type="Tail",
        context='{"custom": 1}',
        qualifier="$LATEST",
    )
    status, payload, version, log_result = row[:4]
    assert (status, version, log_result, row[4:]) == (200, "$LATEST", "bG9n", (None,) * 4)
    assert payload is not None
    echo = json.loads(payload)
    assert echo["path"] == "/2015-03-31/functions/my%20fn/invocations?Qualifier=%24LATEST"
    assert echo["body"] == '{"k": 1}'
    headers = {name.lower(): value for name, value in echo["headers"].items()}
    assert headers["x-amz-invocation-type"] == "RequestResponse"
    assert headers["x-amz-log-type"] == "Tail"
    assert base64.b64decode(headers["x-amz-client-context"]) == b'{"custom": 1}'


def test_a_null_payload_is_sent_as_json_null_and_an_empty_answer_is_null(server: Server) -> None:
    client = InvokeClient()
    echo = _invoke(client, _url(server), payload=None)[1]
    assert echo is not None and json.loads(echo)["body"] == "null"
    assert _invoke(client, _url(server), "event", invocation_type="Event")[:2] == (202, None)


def test_one_connection_carries_the_sessions_calls(server: Server) -> None:
    client = InvokeClient()
    for _ in range(3):
        assert _invoke(client, _url(server))[0] == 200
    assert server.connections == 1


def test_a_connection_the_service_closed_is_replaced_before_sending(server: Server) -> None:
    client = InvokeClient()
    for closed, function in enumerate(("close", "drop"), start=1):
        assert _invoke(client, _url(server), function)[0] == 200
        deadline = time.monotonic() + 5
        while server.closed < closed and time.monotonic() < deadline:
            time.sleep(0.005)  # the next call must find the connection closed, not race the close
    for _ in range(2):
        assert _invoke(client, _url(server))[0] == 200
    assert (server.connections, server.requests) == (3, 4)


def test_a_request_timeout_fails_with_57014_and_the_next_call_gets_its_own_answer(server: Server) -> None:
    client = InvokeClient()
    sqlstate, message, detail = _error(_invoke(client, _url(server), "slow", request_timeout_ms="100"))
    assert (sqlstate, message) == ("57014", "invoke API failed")
    assert detail == (
        f'AWS Lambda client returned \'Read timeout on endpoint URL: "{_url(server)}" after 100 ms'
        " (aws_lambda.request_timeout_ms)'"
    )
    row = _invoke(client, _url(server), payload='{"call": 2}')
    assert row[1] is not None and json.loads(row[1])["body"] == '{"call": 2}'
    assert server.connections == 2


def test_nothing_listening_fails_with_08001(refused_port: int) -> None:
    endpoint = f"http://127.0.0.1:{refused_port}"
    sqlstate, message, detail = _error(_invoke(InvokeClient(), endpoint))
    assert (sqlstate, message) == ("08001", "invoke API failed")
    assert detail is not None
    assert detail.startswith(
        f'AWS Lambda client returned \'Could not connect to the endpoint URL: "{endpoint}"'
    )
    assert "Connection refused" in detail


def test_a_response_cut_short_fails_with_08006(server: Server) -> None:
    sqlstate, _, detail = _error(_invoke(InvokeClient(), _url(server), "truncated"))
    assert sqlstate == "08006"
    assert detail is not None and f'Connection to the endpoint URL "{_url(server)}" failed' in detail


def test_an_api_error_fails_with_39000_naming_its_type_and_message(server: Server) -> None:
    sqlstate, _, detail = _error(_invoke(InvokeClient(), _url(server), "missing"))
    assert sqlstate == "39000"
    assert (
        detail == "AWS Lambda client returned 'ResourceNotFoundException: Function not found: x (HTTP 404)'"
    )


def test_a_function_error_fails_with_38000_naming_the_arn(server: Server) -> None:
    sqlstate, message, detail = _error(_invoke(InvokeClient(), _url(server), "raises", region="eu-west-1"))
    assert (sqlstate, message) == ("38000", "lambda invocation failed")
    arn = "arn:aws:lambda:eu-west-1:000000000000:function:raises"
    assert detail == f'"{arn}" returned error "Unhandled", details: "ValueError: boom"'


def test_a_header_value_with_a_line_break_is_refused_with_22023(server: Server) -> None:
    sqlstate, _, detail = _error(_invoke(InvokeClient(), _url(server), log_type="Tail\r\nX-Evil: 1"))
    assert sqlstate == "22023"
    assert detail is not None and "Invalid header value" in detail
    assert server.requests == 0


@pytest.mark.parametrize(
    ("arguments", "sqlstate", "message"),
    [
        (
            {"request_timeout_ms": "0"},
            "22023",
            'invalid value for parameter "aws_lambda.request_timeout_ms": "0"',
        ),
        (
            {"connect_timeout_ms": "soon"},
            "22023",
            'invalid value for parameter "aws_lambda.connect_timeout_ms": "soon"',
        ),
        ({"endpoint": ""}, "55000", "invoke API failed"),
        ({"function": ""}, "22004", "invoke API failed"),
    ],
)
def test_arguments_are_checked_before_a_connection_is_made(
    server: Server, arguments: dict[str, str], sqlstate: str, message: str
) -> None:
    endpoint = arguments.pop("endpoint", _url(server))
    assert _error(_invoke(InvokeClient(), endpoint, **arguments))[:2] == (sqlstate, message)
    assert server.connections == 0


@pytest.mark.parametrize(
    ("name", "region", "arn"),
    [
        ("f", None, ARN.format("f")),
        ("f", "eu-west-1", "arn:aws:lambda:eu-west-1:000000000000:function:f"),
        ("111122223333:function:f", None, "arn:aws:lambda:us-west-2:111122223333:function:f"),
        (ARN.format("g"), "eu-west-1", ARN.format("g")),
    ],
)
def test_function_arn_is_the_one_aurora_names(name: str, region: str | None, arn: str) -> None:
    assert function_arn(name, region) == arn
