"""The original sample's public SQL surface (docs/sql-reference.md, "Which functions are the original's"):
exact signatures, its README's calls verbatim and positionally, on the published sample data, checked
against numpy; and the original's defects done right (found, next token, errors, the Region default)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest

from .conftest import SqlStack, raises_sqlstate

# pg_get_function_arguments / pg_get_function_result of every function of the original, as they must be.
# configure's aws_region defaults to NULL, meaning the ARN's Region (the original's 'us-west-2' default
# ignored the ARN); list_vectors has s3vl's segment arguments after the original's, with defaults.
INDEX_COLUMNS = (
    "TABLE(index_name text, index_arn text, description text, bucket_name text, region text, account_id "
    "text, "
    "created_at timestamp without time zone, updated_at timestamp without time zone, is_active boolean)"
)
SIGNATURES = {
    "configure": (
        "lambda_arn text, aws_region text DEFAULT NULL::text, timeout_seconds integer DEFAULT 30",
        "boolean",
    ),
    "validate_config": (
        "",
        "TABLE(is_valid boolean, lambda_arn text, aws_region text, error_message text, response_time_ms "
        "integer)",
    ),
    "get_config": (
        "",
        "TABLE(lambda_arn text, aws_region text, timeout_seconds integer, created_at timestamp without time "
        "zone, "
        "updated_at timestamp without time zone, config_age_hours numeric, last_validation_status text)",
    ),
    "register_index": (
        "index_name_param text, index_arn_param text, description_param text DEFAULT NULL::text",
        "boolean",
    ),
    "resolve_index_arn": ("index_name_param text", "text"),
    "list_indexes": ("", INDEX_COLUMNS),
    "get_index_info": ("index_name_param text", INDEX_COLUMNS),
    "activate_index": ("index_name_param text", "boolean"),
    "deactivate_index": ("index_name_param text", "boolean"),
    "unregister_index": ("index_name_param text", "boolean"),
    "query_vectors": (
        "query_vector double precision[], index_name text DEFAULT NULL::text, index_arn text DEFAULT "
        "NULL::text, "
        "top_k integer DEFAULT 10, return_metadata boolean DEFAULT true, metadata_filter jsonb DEFAULT "
        "NULL::jsonb",
        "TABLE(vector_id text, distance double precision, similarity_score double precision, metadata jsonb)",
    ),
    "get_vectors": (
        "vector_ids text[], index_name text DEFAULT NULL::text, index_arn text DEFAULT NULL::text, "
        "include_vector_data boolean DEFAULT true, include_metadata boolean DEFAULT true",
        "TABLE(vector_id text, embedding double precision[], metadata jsonb, found boolean)",
    ),
    "list_vectors": (
        "index_arn text DEFAULT NULL::text, index_name text DEFAULT NULL::text, max_results integer DEFAULT "
        "100, "
        "next_token text DEFAULT NULL::text, return_data boolean DEFAULT false, return_metadata boolean "
        "DEFAULT true, "
        "segment_count integer DEFAULT NULL::integer, segment_index integer DEFAULT NULL::integer",
        "TABLE(vector_id text, vector_data double precision[], metadata jsonb, response_next_token text, "
        "total_count integer)",
    ),
}
TYPES = {
    "search_result": (
        "vector_id text, distance double precision, similarity_score double precision, metadata jsonb"
    ),
    "query_result": "vector_id text, found boolean, vector double precision[], metadata jsonb",
    "list_result": "vector_id text, vector_data double precision[], metadata jsonb",
}
BLOG_QUERY = [0.23, -0.41, 0.88, 0.0, 0.03]
JOIN_QUERY = [-0.392024, 0.229378, 0.582031, 0.382919, -0.555263]


@pytest.fixture(scope="module")
def demo(sql_stack: SqlStack) -> Iterator[Any]:
    """The original README's index name, registered with two arguments as its README does."""
    walk = sql_stack.indexes["test-index-5d"]
    with sql_stack.connect() as conn:
        assert conn.execute("SELECT s3vl.register_index('demo-index', %s)", (walk.arn,)).fetchone() == (True,)
    yield walk
    with sql_stack.connect() as conn:
        conn.execute("SELECT s3vl.unregister_index('demo-index')")


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_signature_is_the_originals(conn: psycopg.Connection[Any], name: str) -> None:
    rows = conn.execute(
        "SELECT pg_get_function_arguments(p.oid), pg_get_function_result(p.oid) FROM pg_proc p "
        "WHERE p.pronamespace = 's3vl'::regnamespace AND p.proname = %s",
        (name,),
    ).fetchall()
    assert rows == [SIGNATURES[name]], "one function, no overload, with the original's shape"


def test_the_originals_row_types_exist(conn: psycopg.Connection[Any]) -> None:
    for name, fields in TYPES.items():
        got = conn.execute(
            "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) "
            "FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0",
            (f"s3vl.{name}",),
        ).fetchone()
        assert got == (fields,)


def test_version(conn: psycopg.Connection[Any]) -> None:
    assert conn.execute("SELECT s3vl.version()").fetchone() == ("2.0.0",)


def test_readme_query(conn: psycopg.Connection[Any], demo: Any) -> None:
    rows = conn.execute(
        "SELECT vector_id, similarity_score, distance, metadata FROM s3vl.query_vectors("
        "query_vector => ARRAY[0.1, 0.2, 0.3, 0.4, 0.5], index_name => 'demo-index', top_k => 10, "
        "return_metadata => TRUE);"
    ).fetchall()
    expected = demo.ranking(np.array([0.1, 0.2, 0.3, 0.4, 0.5]))[:10]
    assert [r[0] for r in rows] == [k for k, _ in expected]
    assert [r[1] for r in rows] == pytest.approx([s for _, s in expected], abs=1e-5)
    assert [r[2] for r in rows] == pytest.approx([1 - s for _, s in expected], abs=1e-5)
    assert [r[3] for r in rows] == [demo.metadata[demo.keys.index(k)] for k, _ in expected]


def test_readme_query_with_filter(conn: psycopg.Connection[Any], demo: Any) -> None:
    rows = conn.execute(
        "SELECT vector_id, similarity_score, distance, metadata FROM s3vl.query_vectors("
        "query_vector => ARRAY[0.1, 0.2, 0.3, 0.4, 0.5], index_name => 'demo-index', top_k => 10, "
        """return_metadata => TRUE, metadata_filter => '{"category": "test"}'::jsonb);"""
    ).fetchall()
    mask = np.array([m["category"] == "test" for m in demo.metadata])
    expected = demo.ranking(np.array([0.1, 0.2, 0.3, 0.4, 0.5]), mask)[:10]
    assert len(rows) == min(10, int(mask.sum())) > 0
    assert [r[0] for r in rows] == [k for k, _ in expected]
    assert all(r[3]["category"] == "test" for r in rows)


def test_readme_get_vectors_with_found(conn: psycopg.Connection[Any], demo: Any) -> None:
    rows = conn.execute(
        "SELECT vector_id, embedding, metadata, found FROM s3vl.get_vectors("
        "vector_ids => ARRAY['vec_001', 'vec_002', 'vec_003'], index_name => 'demo-index', "
        "include_vector_data => TRUE, include_metadata => TRUE);"
    ).fetchall()
    assert [(r[0], r[3]) for r in rows] == [("vec_001", True), ("vec_002", True), ("vec_003", True)]
    for key, embedding, metadata, _ in rows:
        # The float32 the index stores, exactly, as double precision.
        assert embedding == [float(x) for x in demo.row(key)]
        assert metadata == demo.metadata[demo.keys.index(key)]
    missing = conn.execute(
        "SELECT vector_id, embedding, metadata, found FROM s3vl.get_vectors(ARRAY['vec_999'], 'demo-index')"
    ).fetchall()
    assert missing == [("vec_999", None, None, False)]  # found is false, not NULL


def test_readme_list_vectors_returns_its_next_token(conn: psycopg.Connection[Any], demo: Any) -> None:
    first = conn.execute(
        "SELECT vector_id, metadata, response_next_token, total_count FROM s3vl.list_vectors("
        "index_name => 'demo-index', max_results => 20, return_metadata => TRUE);"
    ).fetchall()
    assert len(first) == 20
    assert {r[3] for r in first} == {20}
    tokens = {r[2] for r in first}
    assert len(tokens) == 1 and None not in tokens  # the original always returned NULL here
    assert all(r[1] == demo.metadata[demo.keys.index(r[0])] for r in first)
    seen = [r[0] for r in first]
    token = first[0][2]
    while token is not None:
        page = conn.execute(
            "SELECT vector_id, response_next_token, total_count FROM s3vl.list_vectors("
            "index_name => 'demo-index', max_results => 20, next_token => %s)",
            (token,),
        ).fetchall()
        assert page and {r[2] for r in page} == {len(page)}
        seen += [r[0] for r in page]
        token = page[0][1]
    assert sorted(seen) == sorted(demo.keys)


def test_an_exhausted_listing_is_zero_rows_not_a_null_row(sql_stack: SqlStack, conn: Any) -> None:
    client = sql_stack.s3vectors()
    client.create_index(
        vectorBucketName="s3vl-sql-tests", indexName="empty-3", dataType="float32", dimension=3,
        distanceMetric="cosine",
    )  # fmt: skip
    try:
        arn = client.get_index(vectorBucketName="s3vl-sql-tests", indexName="empty-3")["index"]["indexArn"]
        assert conn.execute("SELECT * FROM s3vl.list_vectors(%s)", (arn,)).fetchall() == []
    finally:
        client.delete_index(vectorBucketName="s3vl-sql-tests", indexName="empty-3")


def test_readme_join_relies_on_metadata_by_default(conn: psycopg.Connection[Any], demo: Any) -> None:
    """The original README's join reads metadata->>'id' without passing return_metadata."""
    conn.execute("CREATE TEMP TABLE products (id integer PRIMARY KEY, name text, price numeric)")
    conn.execute("INSERT INTO products SELECT n, 'product ' || n, n * 10 FROM generate_series(1, 50) n")
    rows = conn.execute(
        "WITH nearest AS (SELECT vector_id, similarity_score, (metadata->>'id')::INTEGER AS product_id "
        "FROM s3vl.query_vectors(query_vector => %s::numeric[], index_name => 'demo-index', top_k => 10)) "
        "SELECT s.vector_id, p.id, s.similarity_score FROM nearest s JOIN products p ON p.id = s.product_id "
        "ORDER BY s.similarity_score DESC",
        (JOIN_QUERY,),
    ).fetchall()
    expected = demo.ranking(np.array(JOIN_QUERY))[:10]
    assert [r[0] for r in rows] == [k for k, _ in expected]
    assert [r[1] for r in rows] == [int(demo.metadata[demo.keys.index(k)]["id"]) for k, _ in expected]


def test_the_blogs_queries_point_where_the_blog_says(conn: psycopg.Connection[Any], demo: Any) -> None:
    first = conn.execute(
        "SELECT vector_id, similarity_score FROM s3vl.query_vectors(index_name => 'demo-index', "
        "query_vector => ARRAY[0.23, -0.41, 0.88, 0.0, 0.03], top_k => 5, return_metadata => TRUE)"
    ).fetchall()
    truth = demo.ranking(np.array(BLOG_QUERY))[:5]
    assert [r[0] for r in first] == [k for k, _ in truth]
    assert first[0][0] == "vec_001" and first[0][1] == pytest.approx(0.99999, abs=1e-5)
    join = conn.execute(
        "SELECT vector_id, similarity_score FROM s3vl.query_vectors(index_name => 'demo-index', "
        "query_vector => ARRAY[-0.392024, 0.229378, 0.582031, 0.382919, -0.555263], top_k => 10)"
    ).fetchall()
    assert join[0][0] == "vec_003" and join[0][1] == pytest.approx(1.0, abs=1e-6)
    assert [r[0] for r in join] == [k for k, _ in demo.ranking(np.array(JOIN_QUERY))[:10]]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT vector_id FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3, 0.4, 0.5], 'demo-index', NULL, 4)",
        "SELECT vector_id FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3, 0.4, 0.5], NULL, '{arn}', 4)",
        "SELECT vector_id FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3, 0.4, 0.5], index_arn => '{arn}', "
        "top_k => 4)",
        "SELECT vector_id FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3, 0.4, 0.5], '{arn}', top_k => 4)",
    ],
)
def test_positional_and_arn_calls_of_query_vectors(conn: Any, demo: Any, sql: str) -> None:
    rows = conn.execute(sql.format(arn=demo.arn)).fetchall()
    assert [r[0] for r in rows] == [k for k, _ in demo.ranking(np.array([0.1, 0.2, 0.3, 0.4, 0.5]))[:4]]


def test_positional_and_arn_calls_of_get_and_list(conn: Any, demo: Any) -> None:
    by_name = conn.execute(
        "SELECT * FROM s3vl.get_vectors(ARRAY['vec_002', 'vec_001'], 'demo-index')"
    ).fetchall()
    by_arn = conn.execute(
        "SELECT * FROM s3vl.get_vectors(ARRAY['vec_002', 'vec_001'], NULL, %s, FALSE, TRUE)", (demo.arn,)
    ).fetchall()
    assert [r[0] for r in by_name] == [r[0] for r in by_arn] == ["vec_002", "vec_001"]
    assert [r[1] for r in by_arn] == [None, None] and [r[2] for r in by_arn] == [r[2] for r in by_name]
    listed = conn.execute(
        "SELECT vector_id, vector_data FROM s3vl.list_vectors(%s, NULL, 5, NULL, TRUE)", (demo.arn,)
    )
    page = listed.fetchall()
    assert len(page) == 5
    assert all(r[1] == [float(x) for x in demo.row(r[0])] for r in page)
    named = conn.execute("SELECT vector_id FROM s3vl.list_vectors(NULL, 'demo-index', 5)").fetchall()
    assert [r[0] for r in named] == [r[0] for r in page]


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("SELECT * FROM s3vl.query_vectors(ARRAY[1, 2, 3, 4, 5])", "neither"),
        ("SELECT * FROM s3vl.query_vectors(ARRAY[1, 2, 3, 4, 5], 'demo-index', '{arn}')", "both"),
        ("SELECT * FROM s3vl.get_vectors(ARRAY['vec_001'])", "neither"),
        ("SELECT * FROM s3vl.list_vectors('{arn}', 'demo-index')", "both"),
        ("SELECT * FROM s3vl.list_vectors()", "neither"),
        ("SELECT * FROM s3vl.query_vectors(ARRAY[1, 2, 3, 4, 5], index_arn => 'arn:aws:s3:::b')", "invalid"),
        ("SELECT * FROM s3vl.get_vectors(ARRAY['vec_001'], 'demo-index', include_metadata => NULL)", "NULL"),
    ],
)
def test_exactly_one_of_index_name_and_index_arn(conn: Any, demo: Any, sql: str, fragment: str) -> None:
    error = raises_sqlstate(conn, sql.format(arn=demo.arn))
    assert error.sqlstate == "22023" and fragment in str(error) and error.diag.message_hint


def test_get_vectors_takes_ids_with_any_lower_bound(conn: Any, demo: Any) -> None:
    for literal in ("[0:2]={vec_003,vec_001,vec_050}", "[5:7]={vec_003,vec_001,vec_050}"):
        rows = conn.execute(
            "SELECT vector_id, found, embedding FROM s3vl.get_vectors(%s::text[], 'demo-index')", (literal,)
        ).fetchall()
        assert [(r[0], r[1]) for r in rows] == [("vec_003", True), ("vec_001", True), ("vec_050", True)]
        assert rows[1][2] == [float(x) for x in demo.row("vec_001")]
    error = raises_sqlstate(conn, "SELECT * FROM s3vl.get_vectors('[0:2]={a,b,NULL}'::text[], 'demo-index')")
    assert error.sqlstate == "22023" and "position 3" in str(error)
    error = raises_sqlstate(conn, "SELECT * FROM s3vl.get_vectors('[-1:0]={a,\"\"}'::text[], 'demo-index')")
    assert error.sqlstate == "22023" and "element 2 is 0 characters long" in str(error)


def test_query_vector_with_any_lower_bound(conn: Any, demo: Any) -> None:
    rows = conn.execute(
        "SELECT vector_id FROM s3vl.query_vectors('[0:4]={0.23,-0.41,0.88,0.0,0.03}'::float8[], "
        "'demo-index', "
        "top_k => 3)"
    ).fetchall()
    assert [r[0] for r in rows] == [k for k, _ in demo.ranking(np.array(BLOG_QUERY))[:3]]
    error = raises_sqlstate(
        conn, "SELECT * FROM s3vl.query_vectors('[0:4]={0.23,NULL,0.88,0.0,0.03}'::float8[], 'demo-index')"
    )
    assert error.sqlstate == "22023" and "NULL element at position 2" in str(error)


def test_registry_functions(sql_stack: SqlStack, conn: Any, demo: Any) -> None:
    assert conn.execute("SELECT s3vl.resolve_index_arn('demo-index')").fetchone() == (demo.arn,)
    assert conn.execute("SELECT s3vl.resolve_index_arn(%s)", (demo.arn,)).fetchone() == (demo.arn,)
    info = conn.execute("SELECT * FROM s3vl.get_index_info('demo-index');").fetchall()
    assert [(r[0], r[1], r[3], r[4], r[5], r[8]) for r in info] == [
        ("demo-index", demo.arn, "s3vl-sql-tests", "us-west-2", "000000000000", True)
    ]
    assert conn.execute("SELECT s3vl.deactivate_index('demo-index')").fetchone() == (True,)
    try:
        for sql in (
            "SELECT * FROM s3vl.query_vectors(ARRAY[1, 2, 3, 4, 5], 'demo-index')",
            "SELECT s3vl.resolve_index_arn('demo-index')",
            "SELECT * FROM s3vl.list_vectors(index_name => 'demo-index')",
        ):
            error = raises_sqlstate(conn, sql)
            assert error.sqlstate == "55000" and "inactive" in str(error), sql
        assert conn.execute("SELECT is_active FROM s3vl.get_index_info('demo-index')").fetchone() == (False,)
        names = [r[0] for r in conn.execute("SELECT index_name, is_active FROM s3vl.list_indexes()")]
        assert names[-1] == "demo-index", "active indexes first, then by name"
        # By ARN it still answers: deactivation is about the name.
        assert len(conn.execute("SELECT * FROM s3vl.query_vectors(ARRAY[1, 2, 3, 4, 5], index_arn => %s)",
                                (demo.arn,)).fetchall()) == 10  # fmt: skip
    finally:
        assert conn.execute("SELECT s3vl.activate_index('demo-index')").fetchone() == (True,)
    for sql in (
        "SELECT s3vl.resolve_index_arn('nope')",
        "SELECT * FROM s3vl.get_index_info('nope')",
        "SELECT s3vl.activate_index('nope')",
        "SELECT s3vl.deactivate_index('nope')",
        "SELECT s3vl.unregister_index('nope')",
    ):
        assert raises_sqlstate(conn, sql).sqlstate == "42704", sql


def test_configure_returns_true_and_takes_the_arns_region(sql_stack: SqlStack, conn: Any) -> None:
    arn = sql_stack.function_arn
    try:
        assert conn.execute("SELECT s3vl.configure(%s)", (arn,)).fetchone() == (True,)
        config = conn.execute(
            "SELECT aws_region, timeout_seconds, last_validation_status FROM s3vl.get_config()"
        )
        region, timeout, status = config.fetchone()
        assert (region, timeout) == ("us-west-2", 30)
        assert status.startswith("NOT VALIDATED")
        named = "SELECT s3vl.configure(lambda_arn => %s, aws_region => 'us-west-2', timeout_seconds => 12)"
        assert conn.execute(named, (arn,)).fetchone() == (True,)
        assert conn.execute("SELECT timeout_seconds FROM s3vl.get_config()").fetchone() == (12,)
    finally:
        conn.execute("SELECT s3vl.configure(%s, NULL, 15)", (arn,))


def test_validate_config_one_row_and_last_status(sql_stack: SqlStack, conn: Any) -> None:
    rows = conn.execute("SELECT * FROM s3vl.validate_config();").fetchall()
    assert len(rows) == 1
    is_valid, arn, region, message, latency = rows[0]
    assert (is_valid, arn, region, message) == (True, sql_stack.function_arn, "us-west-2", None)
    assert isinstance(latency, int) and latency >= 0
    config = conn.execute("SELECT * FROM s3vl.get_config();").fetchone()
    assert config[0] == sql_stack.function_arn and config[6] == "HEALTHY"
    assert config[5] >= 0
    missing = "arn:aws:lambda:us-west-2:000000000000:function:s3vl-sql-missing"
    with sql_stack.configured(conn, missing):
        is_valid, _, _, message, _ = conn.execute("SELECT * FROM s3vl.validate_config()").fetchone()
        assert is_valid is False and message.startswith("lambda_invoke: SQLSTATE SV007")
        status = conn.execute("SELECT last_validation_status FROM s3vl.get_config()").fetchone()[0]
        assert status == "ERROR: " + message


def test_validate_config_flags_a_region_that_differs_from_the_arns(sql_stack: SqlStack, conn: Any) -> None:
    """Issue 18 item 9: configure() refuses the mismatch, so it is written here as an old install left it."""
    conn.execute("UPDATE s3vl.config SET aws_region = 'eu-west-1'")
    try:
        is_valid, _, region, message, _ = conn.execute("SELECT * FROM s3vl.validate_config()").fetchone()
        checks = dict(conn.execute("SELECT check_name, status FROM s3vl.validate_config_checks()").fetchall())
    finally:
        conn.execute("SELECT s3vl.configure(%s)", (sql_stack.function_arn,))
    assert (is_valid, region) == (False, "eu-west-1")
    assert "configured Region eu-west-1 differs from the Region us-west-2" in message
    assert checks["configuration"] == "fail"


def test_validate_config_with_no_configuration(sql_stack: SqlStack) -> None:
    name = "s3vl_sql_original_unconfigured"
    sql_stack.create_database(name)
    try:
        sql_stack.install(name)
        with sql_stack.connect(dbname=name) as other:
            row = other.execute("SELECT * FROM s3vl.validate_config()").fetchone()
            assert row[:3] == (False, None, None) and "s3vl.configure" in row[3]
            assert other.execute("SELECT * FROM s3vl.get_config()").fetchall() == []
    finally:
        sql_stack.drop_database(name)


def test_registry_functions_by_the_originals_parameter_names(sql_stack: SqlStack, conn: Any) -> None:
    euc = sql_stack.indexes["euc-8"]
    registered = conn.execute(
        "SELECT s3vl.register_index(index_name_param => 'named-euc', index_arn_param => %s, "
        "description_param => 'by name')",
        (euc.arn,),
    ).fetchone()
    try:
        assert registered == (True,)
        info = conn.execute(
            "SELECT index_arn, description, is_active FROM s3vl.get_index_info(index_name_param => "
            "'named-euc')"
        ).fetchall()
        assert info == [(euc.arn, "by name", True)]
        assert conn.execute("SELECT s3vl.deactivate_index(index_name_param => 'named-euc')").fetchone() == (
            True,
        )
        assert conn.execute("SELECT s3vl.activate_index(index_name_param => 'named-euc')").fetchone() == (
            True,
        )
        assert conn.execute("SELECT s3vl.resolve_index_arn(index_name_param => 'named-euc')").fetchone() == (
            euc.arn,
        )
    finally:
        assert conn.execute("SELECT s3vl.unregister_index(index_name_param => 'named-euc')").fetchone() == (
            True,
        )
    assert raises_sqlstate(conn, "SELECT * FROM s3vl.get_index_info('named-euc')").sqlstate == "42704"
