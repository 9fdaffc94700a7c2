"""put_vectors / delete_vectors from arrays and from tables, sync and async; register_index updates."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from .conftest import BUCKET, SqlStack, emulator_fault, raises_sqlstate


@pytest.fixture
def write_index(sql_stack: SqlStack, conn):
    """A fresh 16-dimensional cosine index registered as 'write-16'."""
    client = sql_stack.s3vectors()
    name = f"write-{time.monotonic_ns()}"
    client.create_index(
        vectorBucketName=BUCKET, indexName=name, dataType="float32", dimension=16, distanceMetric="cosine"
    )
    arn = client.get_index(vectorBucketName=BUCKET, indexName=name)["index"]["indexArn"]
    conn.execute("SELECT s3vl.register_index('write-16', %s)", (arn,))
    yield name
    conn.execute("SELECT s3vl.unregister_index('write-16')")
    client.delete_index(vectorBucketName=BUCKET, indexName=name)


def _remote_keys(sql_stack: SqlStack, name: str) -> set[str]:
    client = sql_stack.s3vectors()
    keys: set[str] = set()
    kwargs = {"vectorBucketName": BUCKET, "indexName": name, "maxResults": 1000}
    while True:
        page = client.list_vectors(**kwargs)
        keys |= {v["key"] for v in page["vectors"]}
        if not page.get("nextToken"):
            return keys
        kwargs["nextToken"] = page["nextToken"]


def test_put_from_arrays_then_read_back(sql_stack: SqlStack, conn, write_index: str) -> None:
    data = np.random.default_rng(1).standard_normal((3, 16)).astype(np.float32)
    written = conn.execute(
        "SELECT s3vl.put_vectors('write-16', ARRAY['a', 'b', 'c'], %s::real[], "
        'ARRAY[\'{"tag": "x"}\'::jsonb, NULL, \'{"tag": "z", "n": [1, 2]}\'::jsonb])',
        (data.tolist(),),
    ).fetchone()[0]
    assert written == 3
    rows = conn.execute(
        "SELECT vector_id, embedding, metadata, found FROM s3vl.get_vectors(ARRAY['a', 'b', 'c'], 'write-16')"
    ).fetchall()
    assert [r[3] for r in rows] == [True, True, True]
    for (_, vector, _, _), expected in zip(rows, data, strict=True):
        assert np.array_equal(np.array(vector, dtype=np.float32), expected)
    assert [r[2] for r in rows] == [{"tag": "x"}, None, {"tag": "z", "n": [1, 2]}]


def test_put_a_single_vector_as_a_plain_array(conn, write_index: str) -> None:
    assert (
        conn.execute(
            "SELECT s3vl.put_vectors('write-16', ARRAY['one'], %s::numeric[])", ([0.5] * 16,)
        ).fetchone()[0]
        == 1
    )
    assert conn.execute("SELECT found FROM s3vl.get_vectors(ARRAY['one'], 'write-16')").fetchone()[0] is True


def test_put_and_delete_from_a_table_in_several_invocations(
    sql_stack: SqlStack, conn, write_index: str
) -> None:
    conn.execute("CREATE TEMP TABLE items (id text PRIMARY KEY, embedding real[], meta jsonb, item_no int)")
    conn.execute(
        "INSERT INTO items SELECT 'item-' || i, "
        "ARRAY(SELECT (random() + 0.01)::real FROM generate_series(1, 16) WHERE i > 0), "
        "jsonb_build_object('no', i), i FROM generate_series(1, 4500) i"
    )
    written = conn.execute(
        "SELECT s3vl.put_vectors('write-16', array_agg(id), array_agg(embedding), array_agg(meta)) FROM items"
    ).fetchone()[0]
    assert written == 4500  # more than one invocation (2000 vectors each) and many service batches
    assert _remote_keys(sql_stack, write_index) == {f"item-{i}" for i in range(1, 4501)}

    sliced = conn.execute(
        "SELECT sum(w) FROM (SELECT s3vl.put_vectors('write-16', array_agg(id), "
        "array_agg(embedding)) AS w FROM items WHERE item_no <= 300 GROUP BY item_no / 100) s"
    ).fetchone()[0]
    assert sliced == 300

    deleted = conn.execute(
        "SELECT s3vl.delete_vectors('write-16', array_agg(id) || ARRAY['item-1', 'never']) "
        "FROM items WHERE item_no % 2 = 1"
    ).fetchone()[0]
    assert deleted == 2251  # distinct ids: 2250 odd items plus 'never'
    assert _remote_keys(sql_stack, write_index) == {f"item-{i}" for i in range(2, 4501, 2)}


def test_async_put_and_delete_arrive(sql_stack: SqlStack, conn, write_index: str) -> None:
    data = np.random.default_rng(2).standard_normal((50, 16)).astype(np.float32)
    keys = [f"async-{i}" for i in range(50)]
    enqueued = conn.execute(
        "SELECT s3vl.put_vectors('write-16', %s, %s::real[], async => TRUE)", (keys, data.tolist())
    ).fetchone()[0]
    assert enqueued == 50
    deadline = time.monotonic() + 20
    while _remote_keys(sql_stack, write_index) != set(keys):
        assert time.monotonic() < deadline, "asynchronous put_vectors never arrived"
        time.sleep(0.2)
    assert (
        conn.execute("SELECT s3vl.delete_vectors('write-16', %s, async => TRUE)", (keys[:10],)).fetchone()[0]
        == 10
    )
    while _remote_keys(sql_stack, write_index) != set(keys[10:]):
        assert time.monotonic() < deadline, "asynchronous delete_vectors never arrived"
        time.sleep(0.2)


def test_register_again_updates_and_unregister_forgets(sql_stack: SqlStack, conn) -> None:
    client = sql_stack.s3vectors()
    client.create_index(
        vectorBucketName=BUCKET,
        indexName="reg-a",
        dataType="float32",
        dimension=3,
        distanceMetric="euclidean",
    )
    client.create_index(
        vectorBucketName=BUCKET, indexName="reg-b", dataType="float32", dimension=7, distanceMetric="cosine"
    )
    try:
        arn_a = client.get_index(vectorBucketName=BUCKET, indexName="reg-a")["index"]["indexArn"]
        arn_b = client.get_index(vectorBucketName=BUCKET, indexName="reg-b")["index"]["indexArn"]
        assert conn.execute("SELECT s3vl.register_index('reg', %s, 'first')", (arn_a,)).fetchone() == (True,)
        first = conn.execute(
            "SELECT index_arn, dimension, distance_metric, description FROM s3vl.describe_indexes() "
            "WHERE index_name = 'reg'"
        ).fetchone()
        assert first == (arn_a, 3, "euclidean", "first")
        assert conn.execute("SELECT s3vl.register_index('reg', %s, 'second')", (arn_b,)).fetchone() == (True,)
        again = conn.execute(
            "SELECT index_arn, dimension, distance_metric, description FROM s3vl.describe_indexes() "
            "WHERE index_name = 'reg'"
        ).fetchone()
        assert again == (arn_b, 7, "cosine", "second")
        assert (
            conn.execute("SELECT count(*) FROM s3vl.list_indexes() WHERE index_name = 'reg'").fetchone()[0]
            == 1
        )
        conn.execute("SELECT s3vl.unregister_index('reg')")
        assert (
            conn.execute("SELECT count(*) FROM s3vl.list_indexes() WHERE index_name = 'reg'").fetchone()[0]
            == 0
        )
    finally:
        client.delete_index(vectorBucketName=BUCKET, indexName="reg-a")
        client.delete_index(vectorBucketName=BUCKET, indexName="reg-b")


def test_metadata_round_trip_through_put_and_query(conn, write_index: str) -> None:
    meta = {"title": "O'Reilly; DROP TABLE x; --", "tags": ["a", "b"], "price": 9.5, "ok": True}
    conn.execute(
        "SELECT s3vl.put_vectors('write-16', ARRAY[%s], %s::float8[], ARRAY[%s::jsonb])",
        ("k'; DELETE FROM s3vl.config; --", [1.0] + [0.0] * 15, json.dumps(meta)),
    )
    rows = conn.execute(
        "SELECT vector_id, metadata FROM s3vl.query_vectors("
        "%s::float8[], 'write-16', NULL, 1, TRUE, %s::jsonb)",
        ([1.0] + [0.0] * 15, json.dumps({"title": meta["title"]})),
    ).fetchall()
    assert rows == [("k'; DELETE FROM s3vl.config; --", meta)]
    assert conn.execute("SELECT count(*) FROM s3vl.get_config()").fetchone()[0] == 1


def test_async_put_that_fails_reaches_the_dead_letter_file(
    sql_stack: SqlStack, conn, write_index: str
) -> None:
    """Nothing is lost: an async write whose index is gone fails every attempt (raise_on_error) and the
    request lands in the local stand-in for the dead-letter queue, ready to be sent again."""
    client = sql_stack.s3vectors()
    client.delete_index(vectorBucketName=BUCKET, indexName=write_index)
    try:
        key = f"lost-{time.monotonic_ns()}"
        enqueued = conn.execute(
            "SELECT s3vl.put_vectors('write-16', ARRAY[%s], %s::real[], async => TRUE)", (key, [0.25] * 16)
        ).fetchone()[0]
        assert enqueued == 1
        name = sql_stack.function_arn.rsplit(":", 1)[1]
        dead_letters = sql_stack.stack.state_dir / "lambda" / "dead-letters" / f"{name}.jsonl"
        deadline = time.monotonic() + 20
        while not (dead_letters.exists() and key in dead_letters.read_text()):
            assert time.monotonic() < deadline, "the failed async put never reached the dead-letter file"
            time.sleep(0.2)
        (record,) = [r for r in map(json.loads, dead_letters.read_text().splitlines()) if key in r["Body"]]
        assert record["Attempts"] == 3
        assert "NOT_FOUND" in record["ErrorMessage"]
        body = json.loads(record["Body"])
        assert body["operation"] == "put_vectors" and body["raise_on_error"] is True
        assert [v["key"] for v in body["vectors"]] == [key]
    finally:  # the fixture deletes the index by name
        client.create_index(
            vectorBucketName=BUCKET, indexName=write_index, dataType="float32", dimension=16,
            distanceMetric="cosine",
        )  # fmt: skip


def _get(conn, keys: list[str]) -> dict[str, tuple[list[float], dict | None]]:
    rows = conn.execute(
        "SELECT vector_id, embedding, metadata FROM s3vl.get_vectors(%s, 'write-16')", (keys,)
    ).fetchall()
    return {key: (vector, metadata) for key, vector, metadata in rows}


def test_arrays_with_any_lower_bound_pair_up_by_position(conn, write_index: str) -> None:
    """'[0:1]={...}' arrays: the i-th id gets the i-th vector row and the i-th metadata element."""
    rows = [[1.0] + [0.0] * 15, [0.0, 1.0] + [0.0] * 14]
    literal = "[0:1][0:15]={" + ",".join("{" + ",".join(map(str, row)) + "}" for row in rows) + "}"
    conn.execute(
        "SELECT s3vl.put_vectors('write-16', '[0:1]={a,b}'::text[], %s::float8[], "
        """'[0:1]={"{\\"who\\": \\"a\\"}","{\\"who\\": \\"b\\"}"}'::jsonb[])""",
        (literal,),
    )
    assert _get(conn, ["a", "b"]) == {"a": (rows[0], {"who": "a"}), "b": (rows[1], {"who": "b"})}
    # Bounds that differ between the arguments: ids from 5, vectors from 1, metadata from -1.
    conn.execute(
        "SELECT s3vl.put_vectors('write-16', '[5:6]={c,d}'::text[], %s::float8[], "
        """'[-1:0]={"{\\"who\\": \\"c\\"}",NULL}'::jsonb[])""",
        (rows,),
    )
    assert _get(conn, ["c", "d"]) == {"c": (rows[0], {"who": "c"}), "d": (rows[1], None)}
    assert conn.execute("SELECT s3vl.delete_vectors('write-16', '[0:2]={a,c,zz}'::text[])").fetchone()[0] == 3
    found = conn.execute(
        "SELECT vector_id, found FROM s3vl.get_vectors(ARRAY['a', 'b', 'c', 'd'], 'write-16')"
    ).fetchall()
    assert found == [("a", False), ("b", True), ("c", False), ("d", True)]


def test_an_invalid_id_is_named_whatever_the_lower_bound(conn, write_index: str) -> None:
    long_id = "k" * 1025
    for sql in (
        "SELECT s3vl.delete_vectors('write-16', ('[0:1]={ok,' || %s || '}')::text[])",
        "SELECT s3vl.put_vectors('write-16', ('[0:1]={ok,' || %s || '}')::text[], "
        "array_fill(0.5::float8, ARRAY[2, 16]))",
    ):
        failure = raises_sqlstate(conn, sql, (long_id,))
        assert failure.sqlstate == "22023"
        assert "vector_ids element 2 is 1025 characters long" in failure.diag.message_primary


@pytest.mark.parametrize("digits", [-15, -14, 0, 3])
def test_put_sends_the_same_float32_values_whatever_extra_float_digits(
    conn, write_index: str, digits: int
) -> None:
    vector = np.array([0.123456789, 1 / 3, 2.718281828459045, -1e-7, 3.4e38] + [0.1] * 11)
    conn.execute(f"SET extra_float_digits = {digits}")
    try:
        conn.execute("SELECT s3vl.put_vectors('write-16', ARRAY['fd'], %s::float8[])", (vector.tolist(),))
    finally:
        conn.execute("RESET extra_float_digits")
    (stored, _) = _get(conn, ["fd"])["fd"]
    np.testing.assert_array_equal(np.array(stored, dtype=np.float32), vector.astype(np.float32))


def test_a_vector_that_is_zero_in_float32_is_refused_on_a_cosine_index_before_invoking(
    conn, write_index: str
) -> None:
    tiny = [1e-46] + [0.0] * 15  # non-zero as a double, zero once rounded to float32
    failure = raises_sqlstate(
        conn,
        "SELECT s3vl.put_vectors('write-16', ARRAY['ok', 'tiny'], %s::float8[])",
        ([[0.5] * 16, tiny],),
    )
    assert failure.sqlstate == "22023"
    assert failure.diag.message_primary.startswith(
        "the vector for 'tiny' (row 2) is the zero vector once rounded to float32"
    ), failure.diag.message_primary
    assert conn.execute("SELECT found FROM s3vl.get_vectors(ARRAY['ok'], 'write-16')").fetchone()[0] is False
    # One element above float32's smallest subnormal is a direction: written, and read back as that float32.
    conn.execute("SELECT s3vl.put_vectors('write-16', ARRAY['small'], %s::float8[])", ([1e-45] + [0.0] * 15,))
    (stored, _) = _get(conn, ["small"])["small"]
    assert np.float32(stored[0]) == np.float32(1e-45)


# The client makes 3 attempts at a ServiceUnavailableException before the function reports it.
FAILS = [True] * 3


@pytest.mark.parametrize(
    ("count", "schedule", "applied"),
    [
        (1200, [False, *FAILS], 500),  # one invocation: the second PutVectors batch fails
        (2500, [*[False] * 4, *FAILS], 2000),  # the first invocation's 2000 written, the second's batch fails
        (600, FAILS, 0),  # the first batch fails
    ],
)
def test_a_put_failing_midway_reports_the_same_exact_count_in_message_and_detail(
    sql_stack: SqlStack, conn, write_index: str, count: int, schedule: list[bool], applied: int
) -> None:
    keys = [f"mid-{i:04d}" for i in range(count)]
    vectors = np.random.default_rng(count).standard_normal((count, 16)).astype(np.float32)
    put = "SELECT s3vl.put_vectors('write-16', %s, %s::float8[])"
    with emulator_fault(sql_stack, {"operation": "PutVectors", "error": "ServiceUnavailableException",
                                     "schedule": schedule}):  # fmt: skip
        failure = raises_sqlstate(conn, put, (keys, vectors.tolist()))
    assert failure.sqlstate == "SV004", str(failure)
    assert f"({applied} of {count} vectors were written before the failure;" in failure.diag.message_primary
    assert f"; {applied} of {count} items were applied before this failure" in failure.diag.message_detail
    assert len(_remote_keys(sql_stack, write_index)) == applied


def test_a_delete_failing_midway_reports_the_exact_count_deleted(
    sql_stack: SqlStack, conn, write_index: str
) -> None:
    keys = [f"del-{i:04d}" for i in range(1200)]
    vectors = np.random.default_rng(5).standard_normal((1200, 16)).astype(np.float32)
    conn.execute("SELECT s3vl.put_vectors('write-16', %s, %s::float8[])", (keys, vectors.tolist()))
    delete = "SELECT s3vl.delete_vectors('write-16', %s)"
    with emulator_fault(sql_stack, {"operation": "DeleteVectors", "error": "ServiceUnavailableException",
                                     "schedule": [False, False, *FAILS]}):  # fmt: skip
        failure = raises_sqlstate(conn, delete, (keys,))
    assert failure.sqlstate == "SV004", str(failure)
    assert "(1000 of 1200 keys were deleted before the failure;" in failure.diag.message_primary
    assert "; 1000 of 1200 items were applied before this failure" in failure.diag.message_detail
    assert len(_remote_keys(sql_stack, write_index)) == 200
    assert conn.execute(delete, (keys,)).fetchone()[0] == 1200  # idempotent: run again, all gone
    assert _remote_keys(sql_stack, write_index) == set()
