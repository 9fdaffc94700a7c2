"""The query result cache (65_cache.sql): s3vl.set_query_cache, s3vl.cache_stats and their effect on
s3vl.query_vectors, through the real chain. Whether a query was answered without an invocation is read
from the function's own log (one START line per invocation), and staleness from writes made beside s3vl
with boto3."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from s3vl_local import local_aws

from .conftest import run_psql

DB = "s3vl_cache"
BUCKET = "s3vl-cache-tests"
INDEXES = ("cache-a", "cache-b")
Q = "ARRAY[1, 0.1, 0.2, 0.3]"
ROLES = {"s3vl_c_reader": "s3vl_user", "s3vl_c_admin": "s3vl_admin", "s3vl_c_nobody": None}


class Cached:
    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.s3v = local_aws.client("s3vectors", stack.env()["AWS_ENDPOINT_URL_S3VECTORS"])
        self.log = stack.function_log()

    def connect(self, user: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(self.stack.pg.dsn(user=user, dbname=DB), autocommit=True)

    def invocations(self) -> int:
        return self.log.read_text().count("START RequestId") if self.log.exists() else 0

    def outside_put(self, index: str, key: str, vector: list[float]) -> None:
        """A write S3 Vectors sees but s3vl does not: the AWS CLI or another application."""
        self.s3v.put_vectors(
            vectorBucketName=BUCKET, indexName=index, vectors=[{"key": key, "data": {"float32": vector}}]
        )


@pytest.fixture(scope="module")
def cached(local_stack: Any) -> Iterator[Cached]:
    c = Cached(local_stack)
    with psycopg.connect(local_stack.pg.dsn(user="postgres", dbname="postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}"')
        conn.execute(f'CREATE DATABASE "{DB}"')
    local_stack.install_shim(DB)
    done = run_psql(local_stack.pg, "-f", "source/sql/install.sql", dbname=DB)
    assert done.returncode == 0, done.stderr
    c.s3v.create_vector_bucket(vectorBucketName=BUCKET)
    with c.connect() as conn:
        conn.execute("SELECT s3vl.configure(%s)", (local_stack.env()["S3VL_LAMBDA_FUNCTION_ARN"],))
        for name in INDEXES:
            c.s3v.create_index(
                vectorBucketName=BUCKET,
                indexName=name,
                dataType="float32",
                dimension=4,
                distanceMetric="cosine",
            )
            vectors = [
                {
                    "key": f"{name}-{i}",
                    "data": {"float32": [1.0, i / 10, (i % 3) / 5, 0.5]},
                    "metadata": {"g": i % 2},
                }
                for i in range(20)
            ]
            c.s3v.put_vectors(vectorBucketName=BUCKET, indexName=name, vectors=vectors)
            arn = c.s3v.get_index(vectorBucketName=BUCKET, indexName=name)["index"]["indexArn"]
            conn.execute("SELECT s3vl.register_index(%s, %s)", (name, arn))
        for login, group in ROLES.items():
            conn.execute(f"DROP ROLE IF EXISTS {login}")
            conn.execute(f"CREATE ROLE {login} LOGIN")
            if group:
                conn.execute(f"GRANT {group} TO {login}")
    try:
        yield c
    finally:
        with psycopg.connect(local_stack.pg.dsn(user="postgres", dbname="postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
            for login in ROLES:
                conn.execute(f"DROP ROLE IF EXISTS {login}")


@pytest.fixture
def conn(cached: Cached) -> Iterator[psycopg.Connection[Any]]:
    with cached.connect() as connection:
        for name in INDEXES:  # every test starts with an empty cache of one minute
            connection.execute("SELECT s3vl.set_query_cache(%s, NULL)", (name,))
            connection.execute("SELECT s3vl.set_query_cache(%s, interval '1 minute')", (name,))
        yield connection


def query(
    conn: psycopg.Connection[Any], args: str = "", vector: str = Q, index: str = "cache-a"
) -> list[Any]:
    return conn.execute(f"SELECT * FROM s3vl.query_vectors({vector}, '{index}'{args})").fetchall()


def stats(conn: psycopg.Connection[Any], index: str = "cache-a") -> tuple[int, int, int]:
    row = conn.execute(
        "SELECT hits, misses, entries FROM s3vl.cache_stats() WHERE index_name = %s", (index,)
    ).fetchone()
    assert row is not None
    return row


def test_a_repeated_query_is_answered_without_an_invocation(
    cached: Cached, conn: psycopg.Connection[Any]
) -> None:
    before = cached.invocations()
    first = query(conn)
    assert cached.invocations() == before + 1 and stats(conn) == (0, 1, 1)
    assert query(conn) == first
    assert cached.invocations() == before + 1 and stats(conn) == (1, 1, 1)
    # The same float32 vector written with other double digits is the same query.
    assert query(conn, vector="ARRAY[1, 0.1000000001, 0.2, 0.3]") == first
    assert cached.invocations() == before + 1 and stats(conn) == (2, 1, 1)


@pytest.mark.parametrize(
    "other",
    [
        ", top_k => 3",
        ", return_metadata => false",
        """, metadata_filter => '{"g": 1}'""",
        ", index_arn => NULL",
    ],
    ids=["top_k", "flags", "filter", "same-request"],
)
def test_a_different_top_k_filter_or_flag_is_another_entry(
    cached: Cached, conn: psycopg.Connection[Any], other: str
) -> None:
    query(conn)
    before = cached.invocations()
    rows = query(conn, other)
    same = other == ", index_arn => NULL"
    assert cached.invocations() == before + (0 if same else 1)
    assert stats(conn)[2] == (1 if same else 2)
    if other == ", top_k => 3":
        assert len(rows) == 3
    if "metadata_filter" in other:
        assert {r[3]["g"] for r in rows} == {1}


def test_filters_that_differ_only_in_key_order_share_an_entry(
    cached: Cached, conn: psycopg.Connection[Any]
) -> None:
    query(conn, """, metadata_filter => '{"g": 1, "$and": [{"g": {"$gte": 0}}]}'""")
    before = cached.invocations()
    query(conn, """, metadata_filter => '{"$and": [{"g": {"$gte": 0}}], "g": 1}'""")
    assert cached.invocations() == before


def test_indexes_do_not_share_entries(cached: Cached, conn: psycopg.Connection[Any]) -> None:
    a = query(conn)
    before = cached.invocations()
    b = query(conn, index="cache-b")
    assert cached.invocations() == before + 1
    assert {r[0] for r in a} <= {f"cache-a-{i}" for i in range(20)}
    assert {r[0] for r in b} <= {f"cache-b-{i}" for i in range(20)}
    assert stats(conn, "cache-b") == (0, 1, 1)


def test_the_ttl_bounds_staleness_from_writes_outside_s3vl(
    cached: Cached, conn: psycopg.Connection[Any]
) -> None:
    conn.execute("SELECT s3vl.set_query_cache('cache-a', interval '1 second')")
    query(conn, ", top_k => 1")
    cached.outside_put("cache-a", "outside", [1.0, 0.1, 0.2, 0.3])  # the query vector itself: rank 1
    assert query(conn, ", top_k => 1")[0][0] != "outside"  # stale, from the cache
    time.sleep(1.2)
    assert query(conn, ", top_k => 1")[0][0] == "outside"
    cached.s3v.delete_vectors(vectorBucketName=BUCKET, indexName="cache-a", keys=["outside"])


@pytest.mark.parametrize("write", ["put", "delete", "put-rolled-back", "put-async"])
def test_a_write_through_s3vl_invalidates_at_once(
    cached: Cached, conn: psycopg.Connection[Any], write: str
) -> None:
    if write == "delete":
        cached.outside_put("cache-a", "near", [1.0, 0.1, 0.2, 0.3])
    top = query(conn, ", top_k => 1")[0][0]
    assert top == ("near" if write == "delete" else "cache-a-1")
    if write == "delete":
        conn.execute("SELECT s3vl.delete_vectors('cache-a', ARRAY['near'])")
    elif write == "put-async":
        conn.execute(f"SELECT s3vl.put_vectors('cache-a', ARRAY['near'], ARRAY[{Q}], async => true)")
    else:
        with conn.transaction(force_rollback=write == "put-rolled-back"):
            conn.execute(f"SELECT s3vl.put_vectors('cache-a', ARRAY['near'], ARRAY[{Q}])")
    assert stats(conn)[2] == 0  # no current entry, even before the writer's commit or after its rollback
    if write == "put-async":
        deadline = time.monotonic() + 10
        while query(conn, ", top_k => 1")[0][0] != "near" and time.monotonic() < deadline:
            conn.execute("SELECT s3vl.set_query_cache('cache-a', NULL)")  # the Event may land after a fill
            conn.execute("SELECT s3vl.set_query_cache('cache-a', interval '1 minute')")
            time.sleep(0.1)
    before = cached.invocations()
    assert query(conn, ", top_k => 1")[0][0] == ("cache-a-1" if write == "delete" else "near")
    assert cached.invocations() == before + (0 if write == "put-async" else 1)
    cached.s3v.delete_vectors(vectorBucketName=BUCKET, indexName="cache-a", keys=["near"])


def test_a_write_another_session_has_not_committed_invalidates_too(
    cached: Cached, conn: psycopg.Connection[Any]
) -> None:
    assert query(conn, ", top_k => 1")[0][0] == "cache-a-1"
    with cached.connect() as writer, writer.transaction():
        writer.execute(f"SELECT s3vl.put_vectors('cache-a', ARRAY['near'], ARRAY[{Q}])")
        assert query(conn, ", top_k => 1")[0][0] == "near"  # the service has it: so does the answer
    cached.s3v.delete_vectors(vectorBucketName=BUCKET, indexName="cache-a", keys=["near"])


def test_the_cache_keeps_at_most_max_entries(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT s3vl.set_query_cache('cache-a', interval '1 minute', max_entries => 3)")
    for k in range(1, 6):
        query(conn, f", top_k => {k}")
    assert stats(conn) == (0, 5, 3)
    row = conn.execute("SELECT max_entries, bytes > 0 FROM s3vl.cache_stats() WHERE index_name = 'cache-a'")
    assert row.fetchone() == (3, True)


def test_turned_off_every_query_invokes(cached: Cached, conn: psycopg.Connection[Any]) -> None:
    assert conn.execute("SELECT s3vl.set_query_cache('cache-a', NULL)").fetchone() == (False,)
    before = cached.invocations()
    query(conn)
    query(conn)
    assert cached.invocations() == before + 2
    assert conn.execute(
        "SELECT count(*) FROM s3vl.cache_stats() WHERE index_name = 'cache-a'"
    ).fetchone() == (0,)


def test_a_read_only_transaction_is_served_from_the_cache(
    cached: Cached, conn: psycopg.Connection[Any]
) -> None:
    first = query(conn)
    before = cached.invocations()
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        assert query(conn) == first
        assert len(query(conn, ", top_k => 2")) == 2  # a miss is answered, just not stored
    assert cached.invocations() == before + 1


@pytest.mark.parametrize(
    ("sql", "sqlstate", "message"),
    [
        ("SELECT s3vl.set_query_cache('no-such-index', interval '1 minute')", "42704", "no-such-index"),
        ("SELECT s3vl.set_query_cache('cache-a', interval '0')", "22023", "ttl must be a positive interval"),
        ("SELECT s3vl.set_query_cache('cache-a', interval '1 minute', 0)", "22023", "max_entries must be"),
    ],
)
def test_bad_arguments_raise(conn: psycopg.Connection[Any], sql: str, sqlstate: str, message: str) -> None:
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(sql)
    assert caught.value.sqlstate == sqlstate and message in str(caught.value)


def test_no_role_reads_cached_results_it_may_not_query(cached: Cached, conn: psycopg.Connection[Any]) -> None:
    with cached.connect("s3vl_c_reader") as reader:
        first = query(reader, ", return_metadata => true")
        assert query(reader, ", return_metadata => true") == first
        assert stats(reader) == (1, 1, 1)
        for sql in (
            "SELECT * FROM s3vl.query_cache_entries",
            "SELECT * FROM s3vl.query_cache",
            "SELECT s3vl.set_query_cache('cache-a', interval '1 hour')",
            "SELECT * FROM s3vl._query_cache_get('x', '{}'::json)",
            "SELECT s3vl._query_cache_invalidate('x')",
            "SELECT nextval('s3vl.query_cache_ids')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute(sql)
    with cached.connect("s3vl_c_nobody") as nobody:
        for sql in (
            f"SELECT * FROM s3vl.query_vectors({Q}, 'cache-a', return_metadata => true)",
            "SELECT * FROM s3vl.query_cache_entries",
            "SELECT * FROM s3vl.cache_stats()",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                nobody.execute(sql)
    with cached.connect("s3vl_c_admin") as admin:
        assert admin.execute("SELECT s3vl.set_query_cache('cache-a', interval '2 minutes')").fetchone() == (
            True,
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            admin.execute("SELECT result FROM s3vl.query_cache_entries")
    assert Path(cached.log).exists()


def test_a_table_sync_flush_invalidates(cached: Cached, conn: psycopg.Connection[Any]) -> None:
    conn.execute("DROP TABLE IF EXISTS cache_items")
    conn.execute("CREATE TABLE cache_items (id text PRIMARY KEY, emb double precision[])")
    conn.execute("SELECT s3vl.sync_table('cache_items', 'cache-b', 'id', 'emb', backfill => false)")
    try:
        assert query(conn, ", top_k => 1", index="cache-b")[0][0] != "synced"
        conn.execute(f"INSERT INTO cache_items VALUES ('synced', {Q})")
        assert conn.execute("SELECT sent, failed FROM s3vl.flush()").fetchone() == (1, 0)
        assert query(conn, ", top_k => 1", index="cache-b")[0][0] == "synced"
    finally:
        conn.execute("SELECT s3vl.unsync_table('cache_items', discard_pending => true)")
        conn.execute("DROP TABLE cache_items")
        cached.s3v.delete_vectors(vectorBucketName=BUCKET, indexName="cache-b", keys=["synced"])


def test_a_table_sync_flush_that_fails_invalidates_too(cached: Cached, conn: psycopg.Connection[Any]) -> None:
    conn.execute("DROP TABLE IF EXISTS cache_failing")
    conn.execute("CREATE TABLE cache_failing (id text PRIMARY KEY, emb double precision[], note text)")
    conn.execute(
        "SELECT s3vl.sync_table('cache_failing', 'cache-b', 'id', 'emb', ARRAY['note'], backfill => false)"
    )
    try:
        query(conn, ", top_k => 1", index="cache-b")
        assert stats(conn, "cache-b")[2] == 1
        # Metadata over the service's 40 KB: the invocation fails, and may have applied part of its batch.
        conn.execute(f"INSERT INTO cache_failing VALUES ('refused', {Q}, repeat('x', 50000))")
        assert conn.execute("SELECT sent, failed FROM s3vl.flush()").fetchone() == (0, 1)
        assert stats(conn, "cache-b")[2] == 0
    finally:
        conn.execute("SELECT s3vl.unsync_table('cache_failing', discard_pending => true)")
        conn.execute("DROP TABLE cache_failing")
