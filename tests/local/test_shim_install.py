"""The Aurora aws_lambda shim's surface: signatures, install, settings, grants and network failures.

These run against a real cluster with the shim pointed at a port where nothing listens; calls that reach
a Lambda function are in test_shim_invoke.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from s3vl_local import local_aws
from s3vl_local.aurora_shim import aws_lambda_client
from s3vl_local.aurora_shim.installer import install_shim
from s3vl_local.postgres import PostgresCluster
from sql_errors import sql_error

DB = "shim_surface"


def test_shim_names_the_stacks_region_and_account() -> None:
    # PostgreSQL's Python cannot import local_aws, so the shim's client repeats its identity: it must agree.
    assert aws_lambda_client.LOCAL_REGION == local_aws.REGION
    assert aws_lambda_client.LOCAL_ACCOUNT == local_aws.ACCOUNT


@pytest.fixture(scope="module")
def shim_db(pg_cluster: PostgresCluster, closed_endpoint: str) -> Iterator[str]:
    pg_cluster.create_database(DB)
    install_shim(pg_cluster, DB, closed_endpoint)
    yield pg_cluster.dsn(dbname=DB)


def test_function_surface_matches_aurora(shim_db: str) -> None:
    with psycopg.connect(shim_db) as conn:
        rows = conn.execute(
            "SELECT p.oid::regprocedure::text, pg_get_function_arguments(p.oid) FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN ('aws_lambda', 'aws_commons') "
            "ORDER BY 1"
        ).fetchall()
        arn_type = conn.execute(
            "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) "
            "FROM pg_attribute WHERE attrelid = 'aws_commons._lambda_function_arn_1'::regclass"
        ).fetchone()
    assert [r[0] for r in rows] == [
        "aws_commons.create_lambda_function_arn(text,text)",
        "aws_lambda.invoke(aws_commons._lambda_function_arn_1,json,text,text,json,character varying)",
        "aws_lambda.invoke(aws_commons._lambda_function_arn_1,jsonb,text,text,jsonb,character varying)",
        "aws_lambda.invoke(text,json,text,text,text,json,character varying)",
        "aws_lambda.invoke(text,jsonb,text,text,text,jsonb,character varying)",
    ]
    assert rows[0][1] == "function_name text, region text DEFAULT NULL::text"
    for (_, args), json_type in zip(rows[1:], ["json", "jsonb", "json", "jsonb"], strict=True):
        out = f"OUT status_code integer, OUT payload {json_type}, OUT executed_version text, "
        out += "OUT log_result text"
        assert args.endswith(out)
    assert arn_type == ("function_name text, region text",)


def test_argument_names_and_defaults_match_aurora(shim_db: str) -> None:
    with psycopg.connect(shim_db) as conn:
        args = conn.execute(
            "SELECT pg_get_function_arguments(p.oid) FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'aws_lambda' "
            "AND p.proname = 'invoke' AND 'region' = ANY(p.proargnames) "
            "AND p.proargtypes[1] = 'json'::regtype"
        ).fetchone()
    assert args == (
        "function_name text, payload json, region text DEFAULT NULL::text, "
        "invocation_type text DEFAULT 'RequestResponse'::text, log_type text DEFAULT 'None'::text, "
        "context json DEFAULT NULL::json, qualifier character varying DEFAULT NULL::character varying, "
        "OUT status_code integer, OUT payload json, OUT executed_version text, OUT log_result text",
    )


def test_create_lambda_function_arn_builds_the_composite(shim_db: str) -> None:
    with psycopg.connect(shim_db) as conn:
        row = conn.execute(
            "SELECT (a).function_name, (a).region, (b).region FROM (SELECT "
            "aws_commons.create_lambda_function_arn('my-fn', 'us-west-2') AS a, "
            "aws_commons.create_lambda_function_arn('my-fn') AS b) s"
        ).fetchone()
    assert row == ("my-fn", "us-west-2", None)


def test_install_is_idempotent_and_aurora_create_extension_is_a_no_op(
    pg_cluster: PostgresCluster, shim_db: str, closed_endpoint: str
) -> None:
    install_shim(pg_cluster, DB, closed_endpoint)
    with psycopg.connect(shim_db, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS aws_lambda CASCADE")
        extensions = conn.execute(
            "SELECT extname, extnamespace::regnamespace::text FROM pg_extension "
            "WHERE extname LIKE 'aws_%' ORDER BY 1"
        ).fetchall()
        count = conn.execute("SELECT count(*) FROM pg_proc WHERE proname = 'invoke'").fetchone()
    assert extensions == [("aws_commons", "aws_commons"), ("aws_lambda", "aws_lambda")]
    assert count == (4 + 1,)  # Aurora's four, plus the shim's private aws_lambda_local.invoke


def test_settings_have_aurora_defaults_and_session_overrides(shim_db: str, closed_endpoint: str) -> None:
    with psycopg.connect(shim_db) as conn:
        assert conn.execute("SHOW aws_lambda.connect_timeout_ms").fetchone() == ("1000",)
        assert conn.execute("SHOW aws_lambda.request_timeout_ms").fetchone() == ("3000",)
        assert conn.execute("SHOW aws_lambda.endpoint_url").fetchone() == (closed_endpoint,)
        conn.execute("SET aws_lambda.request_timeout_ms = 250")
        assert conn.execute("SHOW aws_lambda.request_timeout_ms").fetchone() == ("250",)


@pytest.mark.parametrize("value", ["0", "900001", "soon"])
def test_out_of_range_timeout_setting_is_refused(shim_db: str, value: str) -> None:
    error = sql_error(
        shim_db,
        f"SET aws_lambda.request_timeout_ms = '{value}'; SELECT * FROM aws_lambda.invoke('f', '{{}}'::json)",
    )
    assert error.sqlstate == "22023"
    expected = f'invalid value for parameter "aws_lambda.request_timeout_ms": "{value}"'
    assert error.diag.message_primary == expected
    assert "between 1 and 900000" in (error.diag.message_hint or "")


def test_network_failure_raises_invoke_api_failed(shim_db: str, closed_endpoint: str) -> None:
    error = sql_error(shim_db, "SELECT * FROM aws_lambda.invoke('s3vl-vector-query', '{}'::jsonb)")
    assert error.sqlstate == "08001"
    assert error.diag.message_primary == "invoke API failed"
    detail = error.diag.message_detail or ""
    assert detail.startswith("AWS Lambda client returned 'Could not connect to the endpoint URL")
    assert closed_endpoint in detail and "Connection refused" in detail


def test_uncast_payload_is_ambiguous_as_on_aurora(shim_db: str) -> None:
    error = sql_error(shim_db, "SELECT * FROM aws_lambda.invoke('f', '{\"a\": 1}')")
    assert error.sqlstate == "42725"  # ambiguous_function: cast the payload to json or jsonb


def test_role_without_grants_is_refused_and_grants_suffice(shim_db: str) -> None:
    with psycopg.connect(shim_db, autocommit=True) as conn:
        conn.execute("CREATE ROLE shim_nogrant LOGIN")
        conn.execute("CREATE ROLE shim_usage_only LOGIN")
        conn.execute("GRANT USAGE ON SCHEMA aws_lambda TO shim_usage_only")
        conn.execute("CREATE ROLE shim_granted LOGIN")
        conn.execute("GRANT USAGE ON SCHEMA aws_lambda TO shim_granted")
        conn.execute("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA aws_lambda TO shim_granted")
    call = "SELECT * FROM aws_lambda.invoke(aws_commons.create_lambda_function_arn('f'), '{}'::json)"
    no_schema = sql_error(shim_db, call, user="shim_nogrant")
    assert no_schema.sqlstate == "42501"
    assert "schema aws_lambda" in no_schema.diag.message_primary
    no_execute = sql_error(shim_db, call, user="shim_usage_only")
    assert no_execute.sqlstate == "42501"
    assert "function invoke" in no_execute.diag.message_primary
    # With both grants the call gets through to the (closed) endpoint: the grants are all it needs.
    granted = sql_error(shim_db, call, user="shim_granted")
    assert granted.sqlstate == "08001"
    # The private HTTP client is not callable directly.
    private = sql_error(
        shim_db,
        "SELECT * FROM aws_lambda_local.invoke_api('f', NULL, '{}', 'Event', NULL, NULL, NULL, "
        "'http://127.0.0.1:9', NULL, NULL)",
        user="shim_granted",
    )
    assert private.sqlstate == "42501"
