"""Failures along the chain raise specific SQLSTATEs: Lambda service down, function missing, function
error, function timeout, invocation timeout, S3 Vectors 5xx and unreachable, a function that does not
speak the contract. validate_config() reports the same failures as rows instead of raising."""

from __future__ import annotations

import io
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from .conftest import REPO, SqlStack, emulator_fault, raises_sqlstate

QUERY = "SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3, 0.4, 0.5], 'test-index-5d', top_k => 5)"
ROLE = "arn:aws:iam::000000000000:role/s3vl-sql-tests"

HANDLERS = {
    "raise": "def handler(event, context):\n    raise RuntimeError('boom from the test function')\n",
    "sleep": "import time\n\ndef handler(event, context):\n    time.sleep(3)\n    return {}\n",
    "garbage": "def handler(event, context):\n    return {'hello': 'world'}\n",
    "future": (
        "def handler(event, context):\n    return {'ok': True, 'contract_version': 2, 'result': {}}\n"
    ),
}


class _Unavailable(BaseHTTPRequestHandler):
    """An S3 Vectors endpoint that answers every request with 503 ServiceUnavailableException."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"__type": "ServiceUnavailableException", "message": "try again later"}'
        self.send_response(503)
        self.send_header("x-amzn-ErrorType", "ServiceUnavailableException")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("test_handler.py", source)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def functions(sql_stack: SqlStack, refused_port: int) -> Iterator[dict[str, str]]:
    """Test functions in the local Lambda service, by purpose -> ARN; deleted afterwards."""
    client = sql_stack.lambda_client()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Unavailable)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    real_zip = (REPO / "source" / "lambda" / "build" / "sample-rds-lambda-s3vector.zip").read_bytes()
    specs: dict[str, dict[str, Any]] = {
        name: {"Code": {"ZipFile": _zip(source)}, "Handler": "test_handler.handler", "Timeout": 10}
        for name, source in HANDLERS.items()
    }
    specs["short"] = {**specs["sleep"], "Timeout": 1}
    specs["unavailable"] = {
        "Code": {"ZipFile": real_zip},
        "Handler": "lambda_function.lambda_handler",
        "Timeout": 10,
        "Environment": {
            "Variables": {"AWS_ENDPOINT_URL_S3VECTORS": f"http://127.0.0.1:{server.server_port}"}
        },
    }
    specs["unreachable"] = {
        **specs["unavailable"],
        "Environment": {"Variables": {"AWS_ENDPOINT_URL_S3VECTORS": f"http://127.0.0.1:{refused_port}"}},
    }
    arns: dict[str, str] = {}
    try:
        for purpose, spec in specs.items():
            name = f"s3vl-sql-{purpose}"
            arns[purpose] = client.create_function(
                FunctionName=name, Runtime="python3.11", Role=ROLE, **spec
            )["FunctionArn"]
        yield arns
    finally:
        for purpose in arns:
            client.delete_function(FunctionName=f"s3vl-sql-{purpose}")
        server.shutdown()
        server.server_close()
        thread.join()


def _fails(sql_stack: SqlStack, conn: Any, arn: str, s3vectors_side: bool = False) -> Any:
    """The query's error with s3vl pointed at `arn`; validate_config() must report the failure as rows:
    the invocation itself, or (for a failure behind the function) every registered index."""
    with sql_stack.configured(conn, arn):
        error = raises_sqlstate(conn, QUERY)
        checks = dict(
            (name, status)
            for name, status, *_ in conn.execute("SELECT * FROM s3vl.validate_config_checks()").fetchall()
        )
    assert checks["configuration"] == "ok", checks
    # The original sample's one-row summary says the same.
    with sql_stack.configured(conn, arn):
        is_valid, message = conn.execute(
            "SELECT is_valid, error_message FROM s3vl.validate_config()"
        ).fetchone()
    assert is_valid is False and message, message
    if s3vectors_side:
        assert checks["lambda_invoke"] == "ok", checks
        assert {s for name, s in checks.items() if name.startswith("index:")} == {"fail"}, checks
    else:
        assert checks["lambda_invoke"] == "fail", checks
    return error


def test_lambda_service_down_raises_sv007(conn, refused_port: int) -> None:
    conn.execute(
        "SELECT set_config('aws_lambda.endpoint_url', %s, false)", (f"http://127.0.0.1:{refused_port}",)
    )
    error = raises_sqlstate(conn, QUERY)
    assert error.sqlstate == "SV007"
    assert "could not be reached" in str(error) and "LAMBDA_UNREACHABLE" in error.diag.message_detail
    rows = conn.execute("SELECT check_name, status, detail FROM s3vl.validate_config_checks()").fetchall()
    assert rows[1][:2] == ("lambda_invoke", "fail") and "SV007" in rows[1][2]
    assert all(status == "skipped" for _, status, _ in rows[2:])


def test_function_not_found_raises_sv007(sql_stack: SqlStack, conn) -> None:
    error = _fails(
        sql_stack, conn, "arn:aws:lambda:us-west-2:000000000000:function:s3vl-sql-no-such-function"
    )
    assert error.sqlstate == "SV007" and "LAMBDA_NOT_FOUND" in error.diag.message_detail


def test_function_error_raises_sv006(sql_stack: SqlStack, conn, functions: dict[str, str]) -> None:
    error = _fails(sql_stack, conn, functions["raise"])
    assert error.sqlstate == "SV006"
    assert "the Lambda function failed" in str(error)
    assert "boom from the test function" in error.diag.message_detail
    assert "log" in error.diag.message_hint


def test_validate_config_shows_the_function_error_detail(
    sql_stack: SqlStack, conn, functions: dict[str, str]
) -> None:
    # The error's DETAIL is the clue a user needs (e.g. Runtime.ImportModuleError before deploying code).
    with sql_stack.configured(conn, functions["raise"]):
        rows = conn.execute("SELECT check_name, status, detail FROM s3vl.validate_config_checks()").fetchall()
    invoke = next(row for row in rows if row[0] == "lambda_invoke")
    assert invoke[1] == "fail"
    assert "SV006" in invoke[2] and "boom from the test function" in invoke[2] and "HINT:" in invoke[2]


def test_function_timeout_raises_sv005(sql_stack: SqlStack, conn, functions: dict[str, str]) -> None:
    error = _fails(sql_stack, conn, functions["short"])
    assert error.sqlstate == "SV005" and "LAMBDA_FUNCTION_TIMEOUT" in error.diag.message_detail


def test_invocation_timeout_is_bounded_by_configure(
    sql_stack: SqlStack, conn, functions: dict[str, str]
) -> None:
    conn.execute("SET aws_lambda.request_timeout_ms = 60000")
    with sql_stack.configured(conn, functions["sleep"], timeout_seconds=1):
        error = raises_sqlstate(conn, QUERY)
    assert error.sqlstate == "SV005"
    assert "1 s invocation timeout" in str(error) and "INVOKE_TIMEOUT" in error.diag.message_detail
    assert "timeout_seconds" in error.diag.message_hint
    # The setting was scoped to the invocation: the session's own value is untouched.
    assert conn.execute("SHOW aws_lambda.request_timeout_ms").fetchone()[0] == "60000"


def test_s3vectors_5xx_raises_sv004(sql_stack: SqlStack, conn, functions: dict[str, str]) -> None:
    error = _fails(sql_stack, conn, functions["unavailable"], s3vectors_side=True)
    assert error.sqlstate == "SV004"
    assert "SERVICE_UNAVAILABLE" in error.diag.message_detail
    assert "ServiceUnavailableException" in error.diag.message_detail
    assert "Retry" in error.diag.message_hint


def test_s3vectors_unreachable_raises_sv004(sql_stack: SqlStack, conn, functions: dict[str, str]) -> None:
    error = _fails(sql_stack, conn, functions["unreachable"], s3vectors_side=True)
    assert error.sqlstate == "SV004" and "ENDPOINT_UNREACHABLE" in error.diag.message_detail


@pytest.mark.parametrize("purpose", ["garbage", "future"])
def test_function_off_contract_raises_sv008(
    sql_stack: SqlStack, conn, functions: dict[str, str], purpose: str
) -> None:
    error = _fails(sql_stack, conn, functions[purpose])
    assert error.sqlstate == "SV008" and "matches this s3vl schema" in error.diag.message_hint


def test_healthy_configuration_validates(sql_stack: SqlStack, conn) -> None:
    rows = conn.execute(
        "SELECT check_name, status, detail, latency_ms FROM s3vl.validate_config_checks()"
    ).fetchall()
    statuses = {name: status for name, status, _, _ in rows}
    assert statuses["configuration"] == statuses["lambda_invoke"] == statuses["handler_version"] == "ok"
    for index in sql_stack.indexes.values():
        assert statuses[f"index:{index.name}"] == "ok"
    assert all(
        latency > 0 for name, _, _, latency in rows if name == "lambda_invoke" or name.startswith("index:")
    )


def test_registered_index_deleted_remotely_is_reported(sql_stack: SqlStack, conn) -> None:
    client = sql_stack.s3vectors()
    client.create_index(
        vectorBucketName="s3vl-sql-tests",
        indexName="doomed",
        dataType="float32",
        dimension=2,
        distanceMetric="cosine",
    )
    arn = client.get_index(vectorBucketName="s3vl-sql-tests", indexName="doomed")["index"]["indexArn"]
    conn.execute("SELECT s3vl.register_index('doomed', %s)", (arn,))
    client.delete_index(vectorBucketName="s3vl-sql-tests", indexName="doomed")
    try:
        error = raises_sqlstate(conn, "SELECT * FROM s3vl.query_vectors(ARRAY[1, 0], 'doomed', top_k => 1)")
        assert error.sqlstate == "SV002"
        row = conn.execute(
            "SELECT status, detail FROM s3vl.validate_config_checks() WHERE check_name = 'index:doomed'"
        ).fetchone()
        assert row[0] == "fail" and "unreachable" in row[1]
    finally:
        conn.execute("SELECT s3vl.unregister_index('doomed')")


def test_answers_over_the_payload_limit_are_split(sql_stack: SqlStack, conn) -> None:
    """200 vectors with ~39 KB metadata each: one answer would exceed Lambda's 6 MB, so s3vl halves the
    chunk (get_vectors) or the page (list_vectors) until it fits, and every row arrives."""
    client = sql_stack.s3vectors()
    client.create_index(
        vectorBucketName="s3vl-sql-tests",
        indexName="bulky",
        dataType="float32",
        dimension=4,
        distanceMetric="cosine",
        metadataConfiguration={"nonFilterableMetadataKeys": ["text"]},
    )
    arn = client.get_index(vectorBucketName="s3vl-sql-tests", indexName="bulky")["index"]["indexArn"]
    keys = [f"b{i:03d}" for i in range(200)]
    for start in range(0, 200, 50):
        client.put_vectors(
            vectorBucketName="s3vl-sql-tests",
            indexName="bulky",
            vectors=[
                {"key": k, "data": {"float32": [1.0, 0.5, 0.25, float(i)]}, "metadata": {"text": k * 9000}}
                for i, k in enumerate(keys[start : start + 50], start)
            ],
        )
    conn.execute("SELECT s3vl.register_index('bulky', %s)", (arn,))
    try:
        rows = conn.execute(
            "SELECT vector_id, length(metadata ->> 'text'), found FROM s3vl.get_vectors(%s, 'bulky')", (keys,)
        ).fetchall()
        assert rows == [(k, 36000, True) for k in keys]
        page = conn.execute(
            "SELECT vector_id, response_next_token "
            "FROM s3vl.list_vectors(NULL, 'bulky', 200, NULL, FALSE, TRUE)"
        ).fetchall()
        assert 0 < len(page) < 200 and page[0][1] is not None
        listed = conn.execute(
            "SELECT count(*) FROM s3vl.list_all_vectors('bulky', return_metadata => TRUE)"
        ).fetchone()[0]
        assert listed == 200
    finally:
        conn.execute("SELECT s3vl.unregister_index('bulky')")
        client.delete_index(vectorBucketName="s3vl-sql-tests", indexName="bulky")


@pytest.mark.parametrize(
    ("error", "sqlstate", "code"),
    [
        ("ServiceUnavailableException", "SV004", "SERVICE_UNAVAILABLE"),
        ("InternalServerException", "SV004", "SERVICE_UNAVAILABLE"),
        ("TooManyRequestsException", "SV004", "THROTTLED"),
        ("RequestTimeoutException", "SV005", "AWS_TIMEOUT"),
    ],
)
def test_emulator_faults_raise_their_sqlstate(sql_stack: SqlStack, conn, error: str, sqlstate: str,
                                              code: str) -> None:  # fmt: skip
    with emulator_fault(sql_stack, {"operation": "QueryVectors", "error": error}):
        failure = raises_sqlstate(conn, QUERY)
    assert failure.sqlstate == sqlstate, str(failure)
    assert code in failure.diag.message_detail and error in failure.diag.message_detail
    assert len(conn.execute(QUERY).fetchall()) == 5  # the fault cleared, the same call succeeds


def test_a_transient_fault_is_retried_by_the_function(sql_stack: SqlStack, conn) -> None:
    # A new function: the stack's warm workers have spent their retry quota on the persistent faults above.
    with sql_stack.fresh_function(conn, "s3vl-sql-retry"):
        plan = {"operation": "QueryVectors", "error": "ServiceUnavailableException", "next": 1}
        with emulator_fault(sql_stack, plan) as fault_state:
            assert len(conn.execute(QUERY).fetchall()) == 5
            injected = fault_state()["injected"]
    assert injected == {"QueryVectors": 1}  # the call met the fault and its retry answered
