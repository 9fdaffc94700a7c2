"""The aws_lambda shim's client for the Lambda Invoke API, run by PL/Python inside a PostgreSQL backend.

aws_lambda_local.invoke_api (extension/aws_lambda--1.0.sql) loads this file once per session from
PostgreSQL's extension directory, where installer.py puts it, and calls `InvokeClient.invoke`. That
Python is the server's (Debian's /usr/bin/python3), not the project's venv: only the standard library.

A failure comes back as a row carrying SQLSTATE, message, DETAIL and HINT for the PL/pgSQL caller to
raise: an error raised inside PL/Python would carry a "plpy.Error: " prefix that Aurora's messages lack.
"""

from __future__ import annotations

import base64
import http.client
import json
import select
import time
import urllib.parse

LOCAL_ACCOUNT = "000000000000"  # = s3vl_local.local_aws.ACCOUNT (tests/local checks)
LOCAL_REGION = "us-west-2"
TIMEOUT_RANGE_MS = (1, 900000)
DEFAULT_CONNECT_TIMEOUT_MS = 1000
DEFAULT_REQUEST_TIMEOUT_MS = 3000

# invoke_api's OUT parameters: status_code, payload, executed_version, log_result, then the error's
# sqlstate, message, detail and hint.
Row = tuple[int | None, str | None, str | None, str | None, str | None, str | None, str | None, str | None]

API_FAILURE_HINTS = {
    "08001": "Check that the local Lambda service runs (s3vl-local status) and aws_lambda.endpoint_url "
    "points at it.",
    "08006": "Check the local Lambda service's log; the connection broke before a response arrived.",
    "57014": "Raise aws_lambda.request_timeout_ms (SET aws_lambda.request_timeout_ms = ...) or make the "
    "call faster.",
    "39000": "Check the function name, qualifier and invocation type; retry later when throttled.",
    "22023": "Pass invocation_type 'RequestResponse', 'Event' or 'DryRun' and log_type 'None' or 'Tail'.",
}


class Failure(Exception):
    """An error for invoke_api's caller to raise, with Aurora's message."""

    def __init__(self, sqlstate: str, message: str, detail: str, hint: str) -> None:
        super().__init__(message)
        self.row: Row = (None, None, None, None, sqlstate, message, detail, hint)


def api_failed(sqlstate: str, detail: str) -> Failure:
    return Failure(
        sqlstate, "invoke API failed", f"AWS Lambda client returned '{detail}'", API_FAILURE_HINTS[sqlstate]
    )


def timeout_ms(raw: str | None, name: str, default: int) -> int:
    """The setting aws_lambda.<name> in milliseconds (its text `raw`), or `default` when unset."""
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    low, high = TIMEOUT_RANGE_MS
    if not low <= value <= high:
        raise Failure(
            "22023",
            f'invalid value for parameter "aws_lambda.{name}": "{raw}"',
            f"aws_lambda.{name} is the timeout in milliseconds for calls to AWS Lambda.",
            f"Use an integer number of milliseconds between {low} and {high}.",
        )
    return value


def function_arn(function_name: str, region: str | None) -> str:
    """The ARN Aurora names in its error messages for `function_name` called in `region`."""
    if function_name.startswith("arn:"):
        return function_name
    if ":function:" in function_name:
        return f"arn:aws:lambda:{region or LOCAL_REGION}:{function_name}"
    return f"arn:aws:lambda:{region or LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{function_name}"


def _readable(conn: http.client.HTTPConnection) -> bool:
    """Whether an idle connection has something to read: the service closed it (EOF) or broke protocol."""
    if conn.sock is None:
        return True
    poller = select.poll()  # not select.select: a backend's descriptors can exceed FD_SETSIZE
    poller.register(conn.sock, select.POLLIN)
    return bool(poller.poll(0))


def _remaining(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.001)


class InvokeClient:
    """One session's client. It keeps its connection to the service alive between calls: a new TCP
    connection and service thread per call cost more than the rest of the shim."""

    def __init__(self) -> None:
        self._kept: tuple[str, http.client.HTTPConnection] | None = None

    def invoke(
        self,
        function_name: str | None,
        region: str | None,
        request_payload: str | None,
        invocation_type: str | None,
        log_type: str | None,
        context: str | None,
        qualifier: str | None,
        endpoint_url: str | None,
        connect_timeout_ms: str | None,
        request_timeout_ms: str | None,
    ) -> Row:
        """Invoke the function; every argument is invoke_api's (the settings as their text, or NULL)."""
        try:
            connect_timeout = timeout_ms(connect_timeout_ms, "connect_timeout_ms", DEFAULT_CONNECT_TIMEOUT_MS)
            request_timeout = timeout_ms(request_timeout_ms, "request_timeout_ms", DEFAULT_REQUEST_TIMEOUT_MS)
            if not endpoint_url:
                raise Failure(
                    "55000",
                    "invoke API failed",
                    "aws_lambda.endpoint_url is not set, so the local Lambda service cannot be reached.",
                    "Start the local stack with `s3vl-local up` (or `make up`), which installs the shim "
                    "and sets it.",
                )
            if not function_name:
                raise Failure(
                    "22004",
                    "invoke API failed",
                    "function_name must not be NULL or empty.",
                    "Pass a function name or ARN, e.g. "
                    "aws_commons.create_lambda_function_arn('my-function').",
                )
            path = "/2015-03-31/functions/" + urllib.parse.quote(function_name, safe="") + "/invocations"
            if qualifier is not None:
                path += "?" + urllib.parse.urlencode({"Qualifier": qualifier})
            headers = {"Content-Type": "application/json", "X-Amz-Invocation-Type": str(invocation_type)}
            if log_type is not None:
                headers["X-Amz-Log-Type"] = log_type
            if context is not None:
                headers["X-Amz-Client-Context"] = base64.b64encode(context.encode()).decode()
            body = (request_payload if request_payload is not None else "null").encode()
            response = self._post(endpoint_url, path, body, headers, connect_timeout, request_timeout)
            return _result(function_arn(function_name, region), *response)
        except Failure as failure:
            return failure.row

    def _connection(self, endpoint: str, connect_timeout: int) -> http.client.HTTPConnection:
        """The kept-alive connection to `endpoint`, or a new one.

        An idle connection the service closed (it stopped or restarted) reads as EOF: it is replaced
        before anything is sent, so a request is never sent twice."""
        kept, self._kept = self._kept, None
        if kept is not None:
            kept_endpoint, conn = kept
            if kept_endpoint == endpoint and not _readable(conn):
                return conn
            conn.close()
        url = urllib.parse.urlsplit(endpoint)
        conn = http.client.HTTPConnection(url.hostname or "", url.port or 80, timeout=connect_timeout / 1000)
        try:
            conn.connect()  # sets TCP_NODELAY: a body never waits for the ACK of its headers
        except TimeoutError:
            raise api_failed(
                "08001",
                f'Connect timeout on endpoint URL: "{endpoint}" after {connect_timeout} ms'
                " (aws_lambda.connect_timeout_ms)",
            ) from None
        except OSError as exc:
            raise api_failed("08001", f'Could not connect to the endpoint URL: "{endpoint}": {exc}') from None
        return conn

    def _post(
        self,
        endpoint: str,
        path: str,
        body: bytes,
        headers: dict[str, str],
        connect_timeout: int,
        request_timeout: int,
    ) -> tuple[int, http.client.HTTPResponse, bytes]:
        """POST `body`; every socket wait gets only what is left of request_timeout, connecting included."""
        deadline = time.monotonic() + request_timeout / 1000
        conn = self._connection(endpoint, connect_timeout)
        sock = conn.sock
        assert sock is not None  # connected above
        try:
            sock.settimeout(_remaining(deadline))
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            # The response keeps the socket open even when http.client has let go of it (will_close).
            sock.settimeout(_remaining(deadline))
            response_body = response.read()
        except TimeoutError:
            conn.close()
            raise api_failed(
                "57014",
                f'Read timeout on endpoint URL: "{endpoint}" after {request_timeout} ms'
                " (aws_lambda.request_timeout_ms)",
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise api_failed("08006", f'Connection to the endpoint URL "{endpoint}" failed: {exc}') from None
        except ValueError as exc:  # a header value with CR or LF, refused before anything is sent
            conn.close()
            raise api_failed("22023", str(exc)) from None
        except BaseException:
            conn.close()  # never keep a connection with a request or response half done
            raise
        if conn.sock is not None:  # None once the service said it closes the connection
            self._kept = (endpoint, conn)
        return response.status, response, response_body


def _result(arn: str, status: int, response: http.client.HTTPResponse, response_body: bytes) -> Row:
    """invoke_api's row for the service's answer: the result, or the failure Aurora reports for it."""
    text = response_body.decode("utf-8", errors="replace")
    if status >= 300:
        try:
            error = json.loads(text)
            message = error.get("Message") or error.get("message") or text
        except (ValueError, AttributeError):
            message = text
        error_type = (response.getheader("x-amzn-errortype") or "ServiceException").split(":", 1)[0]
        raise api_failed("39000", f"{error_type}: {message} (HTTP {status})")
    function_error = response.getheader("x-amz-function-error")
    if function_error:
        try:
            error = json.loads(text)
            details = f"{error.get('errorType', 'Error')}: {error.get('errorMessage', '')}"
        except (ValueError, AttributeError):
            details = text
        raise Failure(
            "38000",
            "lambda invocation failed",
            f'"{arn}" returned error "{function_error}", details: "{details}"',
            "The function raised, timed out or crashed: read its log (log_type => 'Tail', or the Lambda "
            "service log).",
        )
    return (
        status,
        text or None,
        response.getheader("x-amz-executed-version"),
        response.getheader("x-amz-log-result"),
        None,
        None,
        None,
        None,
    )
