"""query_vectors through the real chain, compared with a numpy ground truth; the walkthrough's call
shapes verbatim."""

from __future__ import annotations

import json

import numpy as np
import pytest

from .conftest import SqlStack

IDENTICAL = [-0.116703, 0.325043, 0.578032, 0.739321, -0.003246]


def test_walkthrough_query_shape_numeric_array(sql_stack: SqlStack, conn) -> None:
    rows = conn.execute(
        "SELECT * FROM s3vl.query_vectors(index_name => 'test-index-5d',\n"
        "    query_vector => ARRAY[0.23, -0.41, 0.88, 0.0, 0.03], top_k => 5, return_metadata => TRUE);"
    ).fetchall()
    expected = sql_stack.indexes["test-index-5d"].ranking(np.array([0.23, -0.41, 0.88, 0.0, 0.03]))[:5]
    assert [r[0] for r in rows] == [k for k, _ in expected]
    for (key, distance, similarity, metadata), (_, truth) in zip(rows, expected, strict=True):
        assert similarity == pytest.approx(truth, abs=1e-5)
        assert distance == pytest.approx(1 - truth, abs=1e-5)
        assert metadata == sql_stack.indexes["test-index-5d"].metadata[int(key[4:]) - 1]


def test_walkthrough_filter_shape_with_reordered_named_arguments(sql_stack: SqlStack, conn) -> None:
    rows = conn.execute(
        "SELECT vector_id, similarity_score, metadata FROM s3vl.query_vectors(\n"
        "    query_vector => ARRAY[0.1, 0.2, 0.3, 0.4, 0.5], index_name => 'test-index-5d', top_k => 5,\n"
        '    return_metadata => TRUE, metadata_filter => \'{"category": "test"}\'::jsonb);'
    ).fetchall()
    index = sql_stack.indexes["test-index-5d"]
    mask = np.array([m["category"] == "test" for m in index.metadata])
    expected = index.ranking(np.array([0.1, 0.2, 0.3, 0.4, 0.5]), mask)[:5]
    assert len(rows) == min(5, int(mask.sum())) > 0
    assert [r[0] for r in rows] == [k for k, _ in expected]
    assert all(r[2]["category"] == "test" for r in rows)
    assert [r[1] for r in rows] == pytest.approx([s for _, s in expected], abs=1e-5)


def test_identical_vectors_score_one(conn) -> None:
    rows = conn.execute(
        "SELECT vector_id, similarity_score FROM s3vl.query_vectors(index_name => 'test-index-5d', "
        "query_vector => %s::numeric[], top_k => 3)",
        (IDENTICAL,),
    ).fetchall()
    assert sorted(r[0] for r in rows) == ["vec_048", "vec_049", "vec_050"]
    assert [r[1] for r in rows] == pytest.approx([1.0, 1.0, 1.0], abs=1e-5)


def test_join_with_relational_data(conn) -> None:
    conn.execute(
        "CREATE TEMP TABLE s3vl_demo_products (vector_key text PRIMARY KEY, product_name text, "
        "category text, price decimal(10,2), in_stock boolean, description text)"
    )
    keys = [
        "vec_001",
        "vec_002",
        "vec_003",
        "vec_012",
        "vec_015",
        "vec_005",
        "vec_007",
        "vec_006",
        "vec_009",
        "vec_048",
        "vec_049",
        "vec_050",
    ]
    for i, key in enumerate(keys):
        conn.execute(
            "INSERT INTO s3vl_demo_products VALUES (%s, %s, 'c', %s, %s, 'd')",
            (key, f"p{i}", 10 * (i + 1), i % 3 != 0),
        )
    rows = conn.execute(
        "WITH nearest AS (SELECT * FROM s3vl.query_vectors(index_name => 'test-index-5d', "
        "query_vector => ARRAY[-0.116703, 0.325043, 0.578032, 0.739321, -0.003246], top_k => 10)) "
        "SELECT p.vector_key, s.similarity_score, p.price FROM nearest s "
        "JOIN s3vl_demo_products p ON p.vector_key = s.vector_id "
        "WHERE p.in_stock AND p.price < 500 ORDER BY s.similarity_score DESC LIMIT 5"
    ).fetchall()
    assert rows, "the top 10 must contain some in-stock products under 500"
    assert all(float(r[2]) < 500 for r in rows)
    assert [r[1] for r in rows] == sorted((r[1] for r in rows), reverse=True)


@pytest.mark.parametrize("top_k", [1, 10, 600])
def test_random_index_matches_numpy(sql_stack: SqlStack, conn, top_k: int) -> None:
    index = sql_stack.indexes["rand-64"]
    query = np.random.default_rng(top_k).standard_normal(64)
    rows = conn.execute(
        "SELECT vector_id, similarity_score, distance, metadata FROM s3vl.query_vectors("
        "%s::double precision[], 'rand-64', NULL, %s)",
        (query.tolist(), top_k),
    ).fetchall()
    expected = index.ranking(query)[:top_k]
    assert [r[0] for r in rows] == [k for k, _ in expected]
    assert [r[1] for r in rows] == pytest.approx([s for _, s in expected], abs=1e-5)
    # return_metadata defaults to TRUE, as in the original sample.
    assert [r[3] for r in rows] == [index.metadata[index.keys.index(k)] for k, _ in expected]


def test_query_vector_is_sent_exactly_whatever_the_sessions_float_output(sql_stack: SqlStack, conn) -> None:
    index = sql_stack.indexes["rand-64"]
    query = np.random.default_rng(7).standard_normal(64)
    sql = "SELECT vector_id, similarity_score FROM s3vl.query_vectors(%s::float8[], 'rand-64', top_k => 20)"
    results = conn.cursor(binary=True)  # results in binary: exact whatever the setting
    exact = results.execute(sql, (query.tolist(),)).fetchall()
    # Fewest digits a session can ask for in float output: the vector must not be rounded to them.
    conn.execute("SET extra_float_digits = -15")
    terse = results.execute(sql, (query.tolist(),)).fetchall()
    conn.execute("RESET extra_float_digits")
    expected = index.ranking(query)[:20]
    assert terse == exact
    assert [r[0] for r in exact] == [k for k, _ in expected]
    assert [r[1] for r in exact] == pytest.approx([s for _, s in expected], abs=1e-5)


FLT_MAX = float(np.finfo(np.float32).max)


def test_query_vector_is_sent_as_the_shortest_digits_of_its_float32(conn) -> None:
    """Each element is rounded to float32 as S3 Vectors rounds it, and written in the fewest digits that
    read back as that float32; magnitudes float32 cannot hold apart from zero are sent as zero."""
    special = [FLT_MAX, -FLT_MAX, 1e-50, -1e-46, 2.0**-150, 7.1e-46, 1e-40, 0.1]
    vector = special + np.random.default_rng(3).standard_normal(64 - len(special)).tolist()
    (text,) = conn.execute(
        "SELECT s3vl._vector_json(%s::double precision[], r, 'query_vector')::text "
        "FROM s3vl.index_registry r WHERE r.index_name = 'rand-64'",
        (vector,),
    ).fetchone()
    sent = [float(x) for x in json.loads(text)]
    assert np.array_equal(np.array(sent, dtype=np.float32), np.array(vector).astype(np.float32))
    assert sent[2:5] == [0.0, 0.0, 0.0]  # at or below 2**-150, float32 rounds to zero
    assert sent[5] == 1e-45 and np.float32(sent[5]) == np.float32(2.0**-149)  # the smallest subnormal
    assert json.loads(text)[:2] == [3.4028235e38, -3.4028235e38]
    # numpy prints a float32 in its shortest round-trip digits too: same decimals, same doubles.
    assert sent == [float(str(np.float32(x))) for x in vector]
    assert len(text) < len(json.dumps(vector)) * 0.7


def test_elements_below_float32_range_query_as_zero(sql_stack: SqlStack, conn) -> None:
    index = sql_stack.indexes["rand-64"]
    query = np.random.default_rng(11).standard_normal(64)
    query[:3] = [1e-300, -1e-60, 5e-46]
    rows = conn.execute(
        "SELECT vector_id FROM s3vl.query_vectors(%s::double precision[], 'rand-64', top_k => 10)",
        (query.tolist(),),
    ).fetchall()
    zeroed = query.copy()
    zeroed[:3] = 0.0
    assert [r[0] for r in rows] == [k for k, _ in index.ranking(zeroed)[:10]]


def test_real_and_integer_arrays_are_accepted(sql_stack: SqlStack, conn) -> None:
    index = sql_stack.indexes["euc-8"]
    query = [1, 0, -1, 2, 0, 1, 1, -2]
    as_int = conn.execute(
        "SELECT vector_id FROM s3vl.query_vectors(%s::int[], 'euc-8', top_k => 4)", (query,)
    ).fetchall()
    as_real = conn.execute(
        "SELECT vector_id FROM s3vl.query_vectors(%s::real[], 'euc-8', top_k => 4)", (query,)
    ).fetchall()
    assert (
        [r[0] for r in as_int]
        == [r[0] for r in as_real]
        == [k for k, _ in index.ranking(np.array(query))[:4]]
    )


def test_euclidean_similarity_and_filter(sql_stack: SqlStack, conn) -> None:
    index = sql_stack.indexes["euc-8"]
    query = np.linspace(-1, 1, 8)
    rows = conn.execute(
        "SELECT vector_id, similarity_score, distance, metadata "
        "FROM s3vl.query_vectors(%s::float8[], 'euc-8', NULL, 7, TRUE, %s::jsonb)",
        (query.tolist(), json.dumps({"half": {"$eq": True}})),
    ).fetchall()
    mask = np.array([m["half"] for m in index.metadata])
    expected = index.ranking(query, mask)[:7]
    assert [r[0] for r in rows] == [k for k, _ in expected]
    assert [r[1] for r in rows] == pytest.approx([s for _, s in expected], abs=1e-5)
    for _, similarity, distance, metadata in rows:
        assert similarity == pytest.approx(1 / (1 + distance), abs=1e-9)
        assert metadata == {"half": True}


def test_filter_with_logical_operators(sql_stack: SqlStack, conn) -> None:
    index = sql_stack.indexes["rand-64"]
    query = np.ones(64)
    flt = {"$and": [{"group": {"$in": ["g1", "g3"]}}, {"rank": {"$lt": 300}}]}
    rows = conn.execute(
        "SELECT vector_id FROM s3vl.query_vectors(%s::float8[], 'rand-64', NULL, 20, FALSE, %s::jsonb)",
        (query.tolist(), json.dumps(flt)),
    ).fetchall()
    mask = np.array([m["group"] in ("g1", "g3") and m["rank"] < 300 for m in index.metadata])
    assert [r[0] for r in rows] == [k for k, _ in index.ranking(query, mask)[:20]]
