"""aws_lambda.invoke through the shim and the local Lambda service: every overload and argument form,
Aurora's pitfalls, and errors raised as Aurora raises them."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from lambda_test_zips import create_function
from s3vl_local import local_aws
from s3vl_local.aurora_shim.installer import install_shim
from s3vl_local.lambda_service.server import LambdaService
from s3vl_local.postgres import PostgresCluster
from sql_errors import sql_error

DB = "shim_invoke"
FN = "shim-behaviours"
ARN = f"arn:aws:lambda:us-west-2:000000000000:function:{FN}"


@pytest.fixture(scope="module")
def dsn(pg_cluster: PostgresCluster, lambda_service: LambdaService) -> Iterator[str]:
    client = local_aws.client("lambda", lambda_service.url)
    create_function(client, FN, Timeout=2)
    pg_cluster.create_database(DB)
    install_shim(pg_cluster, DB, lambda_service.url)
    yield pg_cluster.dsn(dbname=DB)
    client.delete_function(FunctionName=FN)


def one(dsn: str, sql: str, *params: Any) -> tuple[Any, ...]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    return tuple(row)


K = "'{\"k\": 1}'"
MAKE_ARN = "aws_commons.create_lambda_function_arn"


@pytest.mark.parametrize(
    ("call", "payload_type"),
    [
        (f"aws_lambda.invoke({MAKE_ARN}('{FN}'), {K}::json)", "json"),
        (f"aws_lambda.invoke({MAKE_ARN}('{FN}', 'us-west-2'), {K}::jsonb)", "jsonb"),
        (f"aws_lambda.invoke('{FN}', {K}::json)", "json"),
        (f"aws_lambda.invoke('{FN}', {K}::jsonb)", "jsonb"),
        (f"aws_lambda.invoke('{ARN}', {K}::json)", "json"),
        (f"aws_lambda.invoke('000000000000:function:{FN}', {K}::jsonb, 'us-west-2')", "jsonb"),
        (f"aws_lambda.invoke('({FN},us-west-2)'::aws_commons._lambda_function_arn_1, {K}::json)", "json"),
    ],
)
def test_every_overload_returns_aurora_columns(dsn: str, call: str, payload_type: str) -> None:
    status, payload, version, log_result, typ = one(
        dsn,
        f"SELECT status_code, payload, executed_version, log_result, pg_typeof(payload)::text FROM {call}",
    )
    assert (status, version, log_result, typ) == (200, "$LATEST", None, payload_type)
    assert payload["echo"] == {"k": 1}
    assert payload["invoked_function_arn"] == ARN or payload["invoked_function_arn"].endswith(
        f":function:{FN}"
    )


def test_select_payload_form_used_by_the_schema(dsn: str) -> None:
    (payload,) = one(
        dsn, "SELECT payload FROM aws_lambda.invoke(%s::text, %s::jsonb)", FN, json.dumps({"x": [1, 2]})
    )
    assert payload["echo"] == {"x": [1, 2]}


def test_named_invocation_types_event_and_dry_run(dsn: str) -> None:
    event = one(dsn, f"SELECT * FROM aws_lambda.invoke('{FN}', '{{}}'::json, invocation_type => 'Event')")
    assert event == (202, None, None, None)
    dry_run = one(
        dsn,
        f"SELECT * FROM aws_lambda.invoke({MAKE_ARN}('{FN}'), '{{}}'::jsonb, 'DryRun')",
    )
    assert dry_run == (204, None, None, None)


def test_log_type_tail_context_and_qualifier(dsn: str) -> None:
    status, payload, log_result = one(
        dsn,
        f"SELECT status_code, payload, log_result FROM aws_lambda.invoke("
        f"'{FN}', '{{\"t\": 1}}'::jsonb, log_type => 'Tail', "
        """context => '{"custom": {"caller": "sql"}}'::jsonb, qualifier => '$LATEST')""",
    )
    assert status == 200
    assert payload["client_context_custom"] == {"caller": "sql"}
    log = base64.b64decode(log_result).decode()
    assert log.startswith("START RequestId: ") and "REPORT RequestId: " in log


def test_pitfall_third_positional_argument_is_region_not_invocation_type(dsn: str) -> None:
    # 'Event' lands in region: the call is synchronous (200, a payload), not an Event (202).
    status, payload = one(
        dsn, f"SELECT status_code, payload FROM aws_lambda.invoke('{FN}', '{{}}'::json, 'Event')"
    )
    assert status == 200 and payload["echo"] == {}
    # ...and Aurora names that region in its error messages.
    err = sql_error(
        dsn, f"SELECT * FROM aws_lambda.invoke('{FN}', '{{\"raise\": \"x\"}}'::json, 'us-west-2')"
    )
    assert f'"arn:aws:lambda:us-west-2:000000000000:function:{FN}"' in (err.diag.message_detail or "")


def test_pitfall_quoted_composite_literal_resolves_to_the_text_overload(dsn: str) -> None:
    err = sql_error(dsn, f"SELECT * FROM aws_lambda.invoke('({FN},us-west-2)', '{{}}'::json)")
    assert err.sqlstate == "39000"
    assert err.diag.message_primary == "invoke API failed"
    assert "ValidationException" in (err.diag.message_detail or "")
    assert f"({FN},us-west-2)" in (err.diag.message_detail or "")


def test_function_error_raises_lambda_invocation_failed(dsn: str) -> None:
    err = sql_error(
        dsn, f"SELECT * FROM aws_lambda.invoke('{FN}', '{{\"raise\": \"index missing\"}}'::jsonb)"
    )
    assert err.sqlstate == "38000"
    assert err.diag.message_primary == "lambda invocation failed"
    assert (
        err.diag.message_detail == f'"{ARN}" returned error "Unhandled", details: "ValueError: index missing"'
    )


def test_function_timeout_raises_lambda_invocation_failed(dsn: str) -> None:
    err = sql_error(
        dsn,
        f"SELECT * FROM aws_lambda.invoke('{FN}', '{{\"sleep\": 10}}'::json)",
        setup="SET aws_lambda.request_timeout_ms = 8000",
    )
    assert err.sqlstate == "38000"
    assert "Sandbox.Timedout" in (err.diag.message_detail or "")
    assert "Task timed out after 2.00 seconds" in (err.diag.message_detail or "")


def test_crash_raises_lambda_invocation_failed(dsn: str) -> None:
    err = sql_error(dsn, f"SELECT * FROM aws_lambda.invoke('{FN}', '{{\"exit\": 7}}'::json)")
    assert err.sqlstate == "38000"
    assert "Runtime.ExitError: RequestId: " in (err.diag.message_detail or "")
    assert "exit status 7" in (err.diag.message_detail or "")


def test_request_timeout_setting_bounds_a_synchronous_call(dsn: str) -> None:
    err = sql_error(
        dsn,
        f"SELECT * FROM aws_lambda.invoke('{FN}', '{{\"sleep\": 1}}'::json)",
        setup="SET aws_lambda.request_timeout_ms = 200",
    )
    assert err.sqlstate == "57014"
    assert err.diag.message_primary == "invoke API failed"
    assert "Read timeout" in (err.diag.message_detail or "")
    assert "after 200 ms (aws_lambda.request_timeout_ms)" in (err.diag.message_detail or "")


def test_unknown_function_and_qualifier_raise_invoke_api_failed(dsn: str) -> None:
    missing = sql_error(dsn, "SELECT * FROM aws_lambda.invoke('no-such-function', '{}'::json)")
    assert missing.sqlstate == "39000"
    assert "ResourceNotFoundException: Function not found" in (missing.diag.message_detail or "")
    bad_type = sql_error(
        dsn, f"SELECT * FROM aws_lambda.invoke('{FN}', '{{}}'::json, invocation_type => 'event')"
    )
    assert bad_type.sqlstate == "39000"
    assert "ValidationException" in (bad_type.diag.message_detail or "")
    version = sql_error(dsn, f"SELECT * FROM aws_lambda.invoke('{FN}', '{{}}'::json, qualifier => '3')")
    assert f"Function not found: {ARN}:3" in (version.diag.message_detail or "")


def test_an_invocation_is_not_undone_by_rollback(dsn: str, lambda_service: LambdaService) -> None:
    marker = "rolled-back-but-ran"
    with psycopg.connect(dsn) as conn:
        conn.execute(f"SELECT * FROM aws_lambda.invoke('{FN}', %s::json)", (json.dumps({"m": marker}),))
        conn.rollback()
    assert marker in lambda_service.function_log(FN).read_text()


def test_callers_search_path_cannot_redirect_the_security_definer_shim(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS hijack")
        conn.execute(
            "CREATE OR REPLACE FUNCTION hijack.current_setting(text, boolean) RETURNS text "
            "LANGUAGE sql AS $$ SELECT 'http://127.0.0.1:1' $$"
        )
        conn.execute("SET search_path = hijack, pg_catalog, public")
        (payload,) = conn.execute(
            f"SELECT payload FROM aws_lambda.invoke('{FN}', '{{\"safe\": 1}}'::json)"
        ).fetchone()
        conn.execute("DROP SCHEMA hijack CASCADE")
    assert payload["echo"] == {"safe": 1}
