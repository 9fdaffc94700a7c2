"""s3vl.query_vectors_batch and index groups (68_batch.sql, operation query_vectors_batch) through the real
chain: results equal single query_vectors calls and numpy; a batch beyond one invocation's payload is split;
a failing query, member index or invocation fails the whole call with the query_index in DETAIL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest

from .conftest import BUCKET, Index, SqlStack, create_index, emulator_fault, raises_sqlstate

DIM = 16
MEMBERS = ("grp-a", "grp-b", "grp-c")


@pytest.fixture(scope="module")
def groups(sql_stack: SqlStack) -> Iterator[dict[str, Index]]:
    """Three member indexes holding a partition of 450 random vectors, their union in one index, two
    indexes holding the same vectors under different keys (ties), and a euclidean one (a mismatch)."""
    rng = np.random.default_rng(68)
    data = rng.standard_normal((450, DIM)).astype(np.float32)
    keys = [f"{MEMBERS[i % 3]}-{i:03d}" for i in range(450)]
    meta = [{"tenant": MEMBERS[i % 3], "n": i} for i in range(450)]
    client = sql_stack.s3vectors()
    made: dict[str, Index] = {}

    def make(name: str, metric: str, rows: list[int], prefix: str = "") -> None:
        index = Index(name, "", metric, [prefix + keys[i] for i in rows], data[rows], [meta[i] for i in rows])
        index.arn = create_index(client, name, DIM, metric, index.keys, index.data, index.metadata)
        made[name] = index

    for m, name in enumerate(MEMBERS):
        make(name, "cosine", list(range(m, 450, 3)))
    make("grp-union", "cosine", list(range(450)))
    make("tie-b", "cosine", list(range(5)), prefix="a-")
    make("tie-a", "cosine", list(range(5)), prefix="z-")
    make("grp-euc", "euclidean", list(range(10)))
    with sql_stack.connect() as conn:
        for index in made.values():
            conn.execute("SELECT s3vl.register_index(%s, %s)", (index.name, index.arn))
        conn.execute("SELECT s3vl.register_index_group('tenants', %s)", (list(MEMBERS),))
        conn.execute("SELECT s3vl.register_index_group('ties', ARRAY['tie-a', 'tie-b'])")
    yield made
    with sql_stack.connect() as conn:
        conn.execute("DELETE FROM s3vl.index_groups")
        for name in made:
            conn.execute("SELECT s3vl.unregister_index(%s)", (name,))
    for name in made:
        client.delete_index(vectorBucketName=BUCKET, indexName=name)


def _batch(
    conn: psycopg.Connection[Any], name: str, queries: np.ndarray, **options: Any
) -> dict[int, list[Any]]:
    """query_index -> [(vector_id, similarity, distance, metadata)] in rank order."""
    args = ", ".join(f"{k} => %({k})s" for k in options)
    sql = f"SELECT * FROM s3vl.query_vectors_batch(%(name)s, %(q)s{', ' + args if args else ''})"
    rows = conn.execute(sql, {"name": name, "q": queries.tolist(), **options}).fetchall()
    found: dict[int, list[Any]] = {}
    for query_index, rank, key, similarity, distance, metadata in rows:
        assert rank == len(found.setdefault(query_index, [])) + 1, "ranks count from 1 in order"
        found[query_index].append((key, similarity, distance, metadata))
    return found


def _single(
    conn: psycopg.Connection[Any], name: str, query: np.ndarray, top_k: int, flt: Any = None
) -> list[Any]:
    return conn.execute(
        "SELECT vector_id, similarity_score, distance FROM s3vl.query_vectors(%s, %s, top_k => %s, "
        "return_metadata => false, metadata_filter => %s)",
        (query.tolist(), name, top_k, None if flt is None else json.dumps(flt)),
    ).fetchall()


def test_batch_equals_single_queries_and_numpy_with_duplicates(sql_stack: SqlStack, conn) -> None:
    index = sql_stack.indexes["rand-64"]
    rng = np.random.default_rng(1)
    queries = rng.standard_normal((12, 64))
    queries[7] = queries[2]  # a duplicate query vector answers as its twin
    found = _batch(conn, "rand-64", queries, top_k=8)
    assert sorted(found) == list(range(1, 13))
    for n, query in enumerate(queries, 1):
        expected = index.ranking(query)[:8]
        assert [r[0] for r in found[n]] == [k for k, _ in expected]
        assert [r[1] for r in found[n]] == pytest.approx([s for _, s in expected], abs=1e-5)
        assert [(k, s, d) for k, s, d, _ in found[n]] == _single(conn, "rand-64", query, 8)
    assert found[8] == found[3]


def test_batch_with_filter_and_metadata_matches_numpy(sql_stack: SqlStack, conn) -> None:
    index = sql_stack.indexes["rand-64"]
    queries = np.random.default_rng(2).standard_normal((5, 64))
    flt = {"group": {"$in": ["g1", "g3"]}, "even": True}
    mask = np.array([m["group"] in ("g1", "g3") and m["even"] for m in index.metadata])
    found = _batch(conn, "rand-64", queries, top_k=6, return_metadata=True, metadata_filter=json.dumps(flt))
    for n, query in enumerate(queries, 1):
        expected = [k for k, _ in index.ranking(query, mask)[:6]]
        assert [r[0] for r in found[n]] == expected
        assert [r[3] for r in found[n]] == [index.metadata[index.keys.index(k)] for k in expected]
        assert [(k, s, d) for k, s, d, _ in found[n]] == _single(conn, "rand-64", query, 6, flt)


def test_group_merges_members_like_one_index_and_numpy(groups: dict[str, Index], conn) -> None:
    union = groups["grp-union"]
    queries = np.random.default_rng(3).standard_normal((6, DIM))
    by_group = _batch(conn, "tenants", queries, top_k=10)
    by_union = _batch(conn, "grp-union", queries, top_k=10)
    assert by_group == by_union
    for n, query in enumerate(queries, 1):
        expected = union.ranking(query)[:10]
        assert [r[0] for r in by_group[n]] == [k for k, _ in expected]
        # query_vectors takes the group name too, and answers as the batch does.
        assert _single(conn, "tenants", query, 10) == [(k, s, d) for k, s, d, _ in by_group[n]]


def test_group_with_filter_matches_numpy(groups: dict[str, Index], conn) -> None:
    union = groups["grp-union"]
    query = np.random.default_rng(4).standard_normal(DIM)
    flt = {"n": {"$lt": 200}}
    mask = np.array([m["n"] < 200 for m in union.metadata])
    rows = _single(conn, "tenants", query, 12, flt)
    assert [r[0] for r in rows] == [k for k, _ in union.ranking(query, mask)[:12]]


def test_group_ties_break_by_member_order_then_key(groups: dict[str, Index], conn) -> None:
    query = groups["tie-a"].data[0]
    rows = _single(conn, "ties", query, 4)
    # tie-a and tie-b hold the same vectors: equal distances come member by member, tie-a first.
    assert [r[0] for r in rows] == ["z-grp-a-000", "a-grp-a-000", rows[2][0], rows[3][0]]
    assert rows[2][0].startswith("z-") and rows[3][0] == "a-" + rows[2][0][2:]
    assert _single(conn, "ties", query, 4) == rows  # the same order on every call


def test_register_index_group_checks_dimension_metric_and_names(groups: dict[str, Index], conn) -> None:
    mismatch = raises_sqlstate(conn, "SELECT s3vl.register_index_group('bad', ARRAY['grp-a', 'grp-euc'])")
    assert mismatch.sqlstate == "22023" and "same dimension and distance metric" in mismatch.diag.message_hint
    dims = raises_sqlstate(conn, "SELECT s3vl.register_index_group('bad', ARRAY['grp-a', 'rand-64'])")
    assert dims.sqlstate == "22023" and "dimension 64" in dims.diag.message_primary
    assert (
        raises_sqlstate(conn, "SELECT s3vl.register_index_group('bad', ARRAY['grp-a', 'nope'])").sqlstate
        == "42704"
    )
    twice = raises_sqlstate(conn, "SELECT s3vl.register_index_group('bad', ARRAY['grp-a', 'grp-a'])")
    assert twice.sqlstate == "22023"
    taken = raises_sqlstate(conn, "SELECT s3vl.register_index_group('grp-a', ARRAY['grp-b'])")
    assert taken.sqlstate == "42710"
    assert conn.execute(
        "SELECT count(*) FROM s3vl.list_index_groups() WHERE group_name = 'bad'"
    ).fetchone() == (0,)


def test_a_batch_beyond_one_invocation_is_split_and_still_exact(sql_stack: SqlStack, conn) -> None:
    """The maximum payload: 4096-dimensional vectors (about 45 KB of JSON each) and more queries than one
    invocation carries by count; the answer equals numpy for every query."""
    rng = np.random.default_rng(5)
    data = rng.standard_normal((40, 4096)).astype(np.float32)
    index = Index("big-4096", "", "cosine", [f"b{i:02d}" for i in range(40)], data, [{} for _ in range(40)])
    client = sql_stack.s3vectors()
    index.arn = create_index(client, "big-4096", 4096, "cosine", index.keys, data, index.metadata)
    log = sql_stack.stack.function_log()
    conn.execute("SELECT s3vl.register_index('big-4096', %s)", (index.arn,))
    try:
        queries = rng.standard_normal((300, 4096))
        before = log.read_text().count("START RequestId")
        found = _batch(conn, "big-4096", queries, top_k=3)
        invocations = log.read_text().count("START RequestId") - before
        # 300 x ~45 KB is over 6 MB: at least three invocations, each under the limit.
        assert invocations >= 3
        assert sorted(found) == list(range(1, 301))
        for n in (1, 150, 300):
            assert [r[0] for r in found[n]] == [k for k, _ in index.ranking(queries[n - 1])[:3]]
        small = np.random.default_rng(6).standard_normal((1001, 64))
        many = _batch(conn, "rand-64", small, top_k=1)
        assert len(many) == 1001
        ranked = sql_stack.indexes["rand-64"]
        for n in (1, 1000, 1001):
            assert many[n][0][0] == ranked.ranking(small[n - 1])[0][0]
    finally:
        conn.execute("SELECT s3vl.unregister_index('big-4096')")
        client.delete_index(vectorBucketName=BUCKET, indexName="big-4096")


def test_a_bad_row_fails_the_call_naming_its_query_index(conn) -> None:
    zero = raises_sqlstate(
        conn,
        "SELECT * FROM s3vl.query_vectors_batch('euc-8', %s)",
        ([[1.0] * 8, [2.0] * 8, [float("nan")] * 8],),
    )
    assert zero.sqlstate == "22023" and zero.diag.message_detail == "query_index 3"
    flat = raises_sqlstate(conn, "SELECT * FROM s3vl.query_vectors_batch('euc-8', %s)", ([1.0] * 8,))
    assert flat.sqlstate == "22023" and "two-dimensional" in flat.diag.message_primary


def test_one_failing_query_fails_the_call_with_its_index(sql_stack: SqlStack, conn) -> None:
    queries = np.random.default_rng(7).standard_normal((6, 64)).tolist()
    # Two calls answer, then every call times out: the batch retries only 429 and 503, so a query fails.
    plan = {
        "operation": "QueryVectors",
        "error": "RequestTimeoutException",
        "schedule": [False, False] + [True] * 40,
    }
    with emulator_fault(sql_stack, plan):
        failure = raises_sqlstate(conn, "SELECT * FROM s3vl.query_vectors_batch('rand-64', %s)", (queries,))
    assert failure.sqlstate == "SV005"
    match = re.match(r"query_index (\d+); error code AWS_TIMEOUT", failure.diag.message_detail or "")
    assert match and 1 <= int(match.group(1)) <= 6, failure.diag.message_detail


def test_throttling_is_retried_with_backoff_inside_the_function(sql_stack: SqlStack, conn) -> None:
    query = np.random.default_rng(8).standard_normal((1, 64))
    # Five 429s in a row: more than the SDK's three attempts, so a single query_vectors fails...
    plan = {"operation": "QueryVectors", "error": "TooManyRequestsException", "count": 5}
    with emulator_fault(sql_stack, plan):
        assert (
            raises_sqlstate(
                conn, "SELECT * FROM s3vl.query_vectors(%s, 'rand-64')", (query[0].tolist(),)
            ).sqlstate
            == "SV004"
        )
    # ... while the batch backs off and answers.
    with emulator_fault(sql_stack, plan):
        found = _batch(conn, "rand-64", query, top_k=5)
    assert [r[0] for r in found[1]] == [k for k, _ in sql_stack.indexes["rand-64"].ranking(query[0])[:5]]


def test_a_failing_member_index_fails_the_group_query(
    sql_stack: SqlStack, groups: dict[str, Index], conn
) -> None:
    client = sql_stack.s3vectors()
    gone = groups["tie-b"]
    client.delete_index(vectorBucketName=BUCKET, indexName="tie-b")
    try:
        failure = raises_sqlstate(
            conn, "SELECT * FROM s3vl.query_vectors(%s, 'ties')", (gone.data[0].tolist(),)
        )
        assert failure.sqlstate == "SV002"
        assert gone.arn in failure.diag.message_primary and failure.diag.message_detail.startswith(
            "query_index 1;"
        )
    finally:
        create_index(client, "tie-b", DIM, "cosine", gone.keys, gone.data, gone.metadata)
    inactive = conn.execute("SELECT s3vl.deactivate_index('tie-a')")
    assert inactive is not None
    try:
        assert (
            raises_sqlstate(
                conn, "SELECT * FROM s3vl.query_vectors(%s, 'ties')", (gone.data[0].tolist(),)
            ).sqlstate
            == "55000"
        )
    finally:
        conn.execute("SELECT s3vl.activate_index('tie-a')")


def test_a_failing_invocation_fails_the_call_naming_its_queries(sql_stack: SqlStack, conn) -> None:
    missing = sql_stack.function_arn.rsplit(":", 1)[0] + ":s3vl-no-such-function"
    queries = np.random.default_rng(9).standard_normal((4, 64)).tolist()
    with sql_stack.configured(conn, missing):
        failure = raises_sqlstate(conn, "SELECT * FROM s3vl.query_vectors_batch('rand-64', %s)", (queries,))
    assert failure.sqlstate == "SV007"
    assert (failure.diag.message_detail or "").startswith("query_index 1 to 4 (one invocation)")


def test_batch_options_are_checked_with_the_single_query_messages(conn) -> None:
    """query_vectors_batch checks top_k, return_metadata and metadata_filter as query_vectors does, hints
    included (s3vl._check_query_options)."""
    for call in (
        "s3vl.query_vectors(%s, 'euc-8', top_k => 0)",
        "s3vl.query_vectors_batch('euc-8', %s, top_k => 0)",
    ):
        vector: Any = [1.0] * 8 if call.startswith("s3vl.query_vectors(") else [[1.0] * 8]
        error = raises_sqlstate(conn, f"SELECT * FROM {call}", (vector,))
        assert error.sqlstate == "22023" and "top_k must be between 1 and" in error.diag.message_primary
        assert error.diag.message_hint.startswith("Pass top_k => n with 1 <= n <= "), call
