"""Every failure raises a specific SQLSTATE, with cause in the message and the fix in the hint."""

from __future__ import annotations

import json

import pytest

from .conftest import SqlStack, raises_sqlstate

Q5 = "ARRAY[0.1, 0.2, 0.3, 0.4, 0.5]"


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        (
            "SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3, 0.4], 'test-index-5d', NULL, 5)",
            "dimension 5",
        ),
        (
            "SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 'test-index-5d', NULL, 5)",
            "has 6 elements",
        ),
        ("SELECT * FROM s3vl.query_vectors(ARRAY[]::numeric[], 'test-index-5d', NULL, 5)", "empty array"),
        (
            "SELECT * FROM s3vl.query_vectors(ARRAY[[0.1, 0.2, 0.3, 0.4, 0.5]], 'test-index-5d', NULL, 5)",
            "2-dimensional",
        ),
        (
            "SELECT * FROM s3vl.query_vectors("
            "ARRAY[0.1, 'NaN', 0.3, 0.4, 0.5]::float8[], 'test-index-5d', NULL, 5)",
            "NaN",
        ),
        (
            "SELECT * FROM s3vl.query_vectors("
            "ARRAY[0.1, 'Infinity', 0.3, 0.4, 0.5]::float8[], 'test-index-5d', NULL, 5)",
            "Infinity",
        ),
        (
            "SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 3.5e38, 0.3, 0.4, 0.5], 'test-index-5d', NULL, 5)",
            "float32 range",
        ),
        (
            "SELECT * FROM s3vl.query_vectors("
            "ARRAY[0.1, -3.4028235677973366e38, 0.3, 0.4, 0.5]::float8[], 'test-index-5d', NULL, 5)",
            "float32 range",
        ),
        (
            "SELECT * FROM s3vl.query_vectors(ARRAY[0.1, NULL, 0.3, 0.4, 0.5], 'test-index-5d', NULL, 5)",
            "NULL element",
        ),
        ("SELECT * FROM s3vl.query_vectors(NULL, 'test-index-5d', NULL, 5)", "must not be NULL"),
        ("SELECT * FROM s3vl.query_vectors(ARRAY[0, 0, 0, 0, 0], 'test-index-5d', NULL, 5)", "zero vector"),
        (
            "SELECT * FROM s3vl.query_vectors(ARRAY[1e-50, 0, -1e-60, 0, 0], 'test-index-5d', NULL, 5)",
            "zero vector once rounded",
        ),
        (f"SELECT * FROM s3vl.query_vectors({Q5}, NULL, NULL, 5)", "index_name"),
        (f"SELECT * FROM s3vl.query_vectors({Q5}, 'test-index-5d', NULL, 0)", "top_k"),
        (f"SELECT * FROM s3vl.query_vectors({Q5}, 'test-index-5d', NULL, 10001)", "top_k"),
        (f"SELECT * FROM s3vl.query_vectors({Q5}, 'test-index-5d', NULL, NULL)", "top_k"),
        (f"SELECT * FROM s3vl.query_vectors({Q5}, 'test-index-5d', NULL, 5, NULL)", "return_metadata"),
        (f"SELECT * FROM s3vl.query_vectors({Q5}, 'test-index-5d', NULL, 5, TRUE, '[1]')", "metadata_filter"),
        (
            f"SELECT * FROM s3vl.query_vectors({Q5}, 'test-index-5d', NULL, 5, TRUE, '{{}}')",
            "metadata_filter",
        ),
        # Rejected by the Lambda handler (contract codes mapped to 22023).
        (
            f"SELECT * FROM s3vl.query_vectors({Q5}, 'test-index-5d', NULL, 5, TRUE, "
            '\'{"category": {"$regex": "x"}}\')',
            "$regex",
        ),
        (
            f"SELECT * FROM s3vl.query_vectors({Q5}, 'test-index-5d', NULL, 5, TRUE, '{{\"$and\": []}}')",
            "$and",
        ),
        (
            f"SELECT * FROM s3vl.query_vectors({Q5}, 'test-index-5d', NULL, 5, TRUE,"
            f" "
            '\'{"price": {"$gt": "cheap"}}\')',
            "$gt",
        ),
        ("SELECT * FROM s3vl.get_vectors(ARRAY[]::text[], 'test-index-5d')", "empty array"),
        ("SELECT * FROM s3vl.get_vectors(NULL, 'test-index-5d')", "NULL"),
        ("SELECT * FROM s3vl.get_vectors(ARRAY['vec_001', NULL], 'test-index-5d')", "position 2"),
        ("SELECT * FROM s3vl.get_vectors(ARRAY[['a'], ['b']], 'test-index-5d')", "one-dimensional"),
        ("SELECT * FROM s3vl.get_vectors(ARRAY[''], 'test-index-5d')", "0 characters"),
        ("SELECT * FROM s3vl.get_vectors(ARRAY[repeat('k', 1025)], 'test-index-5d')", "1025 characters"),
        ("SELECT * FROM s3vl.list_vectors(NULL, 'test-index-5d', 0)", "max_results"),
        ("SELECT * FROM s3vl.list_vectors(NULL, 'test-index-5d', 1001)", "max_results"),
        ("SELECT * FROM s3vl.list_vectors(NULL, 'test-index-5d', 10, '')", "next_token"),
        ("SELECT * FROM s3vl.list_vectors(NULL, 'test-index-5d', 10, 'not-a-token')", "nextToken"),
        (
            "SELECT * FROM s3vl.list_all_vectors('test-index-5d', segment_count => 17, segment_index => 0)",
            "segment",
        ),
        ("SELECT * FROM s3vl.list_all_vectors('test-index-5d', segment_count => 2)", "segment"),
        ("SELECT s3vl.put_vectors('test-index-5d', ARRAY['a', 'b'], ARRAY[[1, 2, 3, 4, 5]])", "1 rows"),
        ("SELECT s3vl.put_vectors('test-index-5d', ARRAY['a'], ARRAY[[1, 2, 3, 4]])", "dimension 5"),
        (
            "SELECT s3vl.put_vectors('test-index-5d', ARRAY['a', 'a'], "
            "ARRAY[[1, 2, 3, 4, 5], [1, 2, 3, 4, 5]])",
            "repeats",
        ),
        ("SELECT s3vl.put_vectors('test-index-5d', ARRAY['a'], ARRAY[[1, 2, NULL, 4, 5]])", "NULL"),
        ("SELECT s3vl.put_vectors('test-index-5d', ARRAY['a'], ARRAY[[1, 2, 'NaN', 4, 5]]::float8[])", "NaN"),
        ("SELECT s3vl.put_vectors('test-index-5d', ARRAY['a'], ARRAY[[0, 0, 0, 0, 0]])", "zero vector"),
        ("SELECT s3vl.put_vectors('test-index-5d', ARRAY['a'], NULL)", "non-empty"),
        ("SELECT s3vl.put_vectors('test-index-5d', ARRAY['a'], ARRAY[[[1, 2, 3, 4, 5]]])", "3 dimensions"),
        (
            "SELECT s3vl.put_vectors('test-index-5d', ARRAY['a'], ARRAY[[1, 2, 3, 4, 5]], "
            "ARRAY['[1]'::jsonb])",
            "not a JSON object",
        ),
        (
            "SELECT s3vl.put_vectors('test-index-5d', ARRAY['a'], ARRAY[[1, 2, 3, 4, 5]], "
            "ARRAY['{\"k\": null}'::jsonb])",
            "metadata",
        ),
        ("SELECT s3vl.delete_vectors('test-index-5d', ARRAY['a', NULL])", "NULL"),
        ("SELECT s3vl.configure('not-an-arn')", "invalid Lambda function ARN"),
        (
            "SELECT s3vl.configure('arn:aws:lambda:us-west-2:000000000000:function:f', 'eu-west-1')",
            "does not match",
        ),
        (
            "SELECT s3vl.configure('arn:aws:lambda:us-west-2:000000000000:function:f', NULL, 901)",
            "timeout_seconds",
        ),
        ("SELECT s3vl.configure(NULL)", "ARN"),
        (
            "SELECT s3vl.register_index('x''; DROP TABLE s3vl.config; --', "
            "'arn:aws:s3vectors:us-west-2:000000000000:bucket/b/index/i')",
            "invalid index name",
        ),
        (
            "SELECT s3vl.register_index('ok-name', 'arn:aws:s3:::bucket/b/index/i')",
            "invalid S3 Vectors index ARN",
        ),
    ],
)
def test_bad_arguments_raise_22023(conn, sql: str, fragment: str) -> None:
    error = raises_sqlstate(conn, sql)
    assert error.sqlstate == "22023", (error.sqlstate, str(error))
    assert fragment in str(error)
    assert error.diag.message_hint, "every argument error carries a fix in HINT"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM s3vl.query_vectors(ARRAY[1, 2, 3], 'nope')",
        "SELECT * FROM s3vl.query_vectors(ARRAY[1, 2, 3], 'x''; DROP SCHEMA s3vl CASCADE; --')",
        "SELECT * FROM s3vl.get_vectors(ARRAY['a'], 'nope')",
        "SELECT * FROM s3vl.list_vectors(index_name => 'nope')",
        "SELECT * FROM s3vl.list_all_vectors('nope')",
        "SELECT s3vl.put_vectors('nope', ARRAY['a'], ARRAY[[1]])",
        "SELECT s3vl.delete_vectors('nope', ARRAY['a'])",
        "SELECT s3vl.unregister_index('nope')",
    ],
)
def test_unknown_index_raises_42704(conn, sql: str) -> None:
    error = raises_sqlstate(conn, sql)
    assert error.sqlstate == "42704"
    assert "unknown index" in str(error) and "register_index" in error.diag.message_hint
    assert conn.execute("SELECT count(*) FROM s3vl.list_indexes()").fetchone()[0] >= 3


def test_injection_strings_are_data(sql_stack: SqlStack, conn) -> None:
    hostile = ["'; DROP SCHEMA s3vl CASCADE; --", '" OR 1=1 --', "$$; SELECT 1; $$", "vec_001' OR '1'='1"]
    rows = conn.execute(
        "SELECT vector_id, found FROM s3vl.get_vectors(%s, 'test-index-5d')", (hostile,)
    ).fetchall()
    assert rows == [(h, False) for h in hostile]
    error = raises_sqlstate(
        conn,
        "SELECT * FROM s3vl.query_vectors(ARRAY[1, 2, 3, 4, 5], 'test-index-5d', NULL, 5, TRUE, %s::jsonb)",
        (json.dumps({"'; DROP TABLE x; --": {"$where": "1"}}),),
    )
    assert error.sqlstate == "22023"
    filtered = conn.execute(
        "SELECT count(*) FROM s3vl.query_vectors(ARRAY[1, 2, 3, 4, 5], 'test-index-5d', NULL, 5, TRUE, "
        "%s::jsonb)",
        (json.dumps({"category": "x' OR '1'='1"}),),
    ).fetchone()[0]
    assert filtered == 0  # a filter that matches nothing is a valid empty answer, not a failure
    assert conn.execute("SELECT count(*) FROM s3vl.list_indexes()").fetchone()[0] >= 3


def test_remote_index_missing_raises_sv002(sql_stack: SqlStack, conn) -> None:
    error = raises_sqlstate(
        conn,
        "SELECT s3vl.register_index('ghost', "
        "'arn:aws:s3vectors:us-west-2:000000000000:bucket/s3vl-sql-tests/index/ghost')",
    )
    assert error.sqlstate == "SV002"
    assert "INDEX_NOT_FOUND" in error.diag.message_detail and "NotFoundException" in error.diag.message_detail
    assert "get-index" in error.diag.message_hint
    assert (
        conn.execute("SELECT count(*) FROM s3vl.list_indexes() WHERE index_name = 'ghost'").fetchone()[0] == 0
    )


def test_not_configured_raises_55000(sql_stack: SqlStack) -> None:
    sql_stack.create_database("s3vl_sql_unconfigured")
    try:
        sql_stack.install("s3vl_sql_unconfigured")
        with sql_stack.connect(dbname="s3vl_sql_unconfigured") as other:
            error = raises_sqlstate(
                other,
                "SELECT s3vl.register_index('x', "
                "'arn:aws:s3vectors:us-west-2:000000000000:bucket/bbb/index/iii')",
            )
            assert error.sqlstate == "55000" and "s3vl.configure" in error.diag.message_hint
            checks = other.execute("SELECT check_name, status FROM s3vl.validate_config_checks()").fetchall()
            assert checks[0] == ("configuration", "fail")
            assert {status for _, status in checks[1:]} == {"skipped"}
    finally:
        sql_stack.drop_database("s3vl_sql_unconfigured")


def test_every_contract_error_code_is_mapped(conn) -> None:
    from pathlib import Path

    contract = (Path(__file__).resolve().parents[2] / "docs" / "payload-contract.md").read_text()
    table = contract.split("## Error codes", 1)[1]
    codes = {line.split("`")[1] for line in table.splitlines() if line.startswith("| `")}
    mapped = dict(conn.execute("SELECT error_code, sqlstate FROM s3vl.error_codes()").fetchall())
    assert codes, "the contract lists error codes"
    assert codes <= set(mapped)
    assert all(len(state) == 5 for state in mapped.values())
