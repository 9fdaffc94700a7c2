"""get_vectors, list_vectors and list_all_vectors through the real chain."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import SqlStack


def test_walkthrough_get_vectors_shape(sql_stack: SqlStack, conn) -> None:
    rows = conn.execute(
        "SELECT * FROM s3vl.get_vectors(index_name => 'test-index-5d',\n"
        "    vector_ids => ARRAY['vec_001', 'vec_002', 'vec_048']);"
    ).fetchall()
    index = sql_stack.indexes["test-index-5d"]
    assert [r[0] for r in rows] == ["vec_001", "vec_002", "vec_048"]
    for key, vector, metadata, found in rows:
        assert found is True
        assert vector == pytest.approx(index.row(key).tolist(), abs=1e-7)
        assert metadata == index.metadata[index.keys.index(key)]


def test_found_is_false_for_missing_ids_and_order_and_duplicates_are_kept(conn) -> None:
    ids = ["vec_010", "missing-1", "vec_010", "vec_002", "missing-1", "vec_050"]
    rows = conn.execute(
        "SELECT vector_id, embedding IS NOT NULL, metadata IS NOT NULL, found "
        "FROM s3vl.get_vectors(%s, 'test-index-5d')",
        (ids,),
    ).fetchall()
    assert [r[0] for r in rows] == ids
    assert [r[3] for r in rows] == [True, False, True, True, False, True]
    assert [r[1] for r in rows] == [r[3] for r in rows]
    assert [r[2] for r in rows] == [r[3] for r in rows]


def test_get_vectors_without_data_or_metadata(conn) -> None:
    rows = conn.execute(
        "SELECT embedding, metadata, found FROM s3vl.get_vectors(ARRAY['vec_003'], 'test-index-5d', "
        "include_vector_data => FALSE, include_metadata => FALSE)"
    ).fetchall()
    assert rows == [(None, None, True)]


def test_thousands_of_ids_in_input_order(sql_stack: SqlStack, conn) -> None:
    index = sql_stack.indexes["rand-64"]
    rng = np.random.default_rng(7)
    ids = [index.keys[i] for i in rng.integers(0, len(index.keys), 2500)] + ["absent"] * 5
    rng.shuffle(ids)
    rows = conn.execute(
        "SELECT vector_id, embedding, found FROM s3vl.get_vectors(%s, 'rand-64', include_metadata => FALSE)",
        (ids,),
    ).fetchall()
    assert [r[0] for r in rows] == ids
    for key, vector, found in rows:
        assert found is (key != "absent")
        if found:
            assert np.array_equal(np.array(vector, dtype=np.float32), index.row(key))


def test_list_vectors_pages_with_a_usable_next_token(sql_stack: SqlStack, conn) -> None:
    index = sql_stack.indexes["test-index-5d"]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        rows = conn.execute(
            "SELECT vector_id, vector_data, metadata, response_next_token, total_count "
            "FROM s3vl.list_vectors("
            "index_name => 'test-index-5d', max_results => 20, next_token => %s, return_metadata => FALSE)",
            (token,),
        ).fetchall()
        pages += 1
        assert 0 < len(rows) <= 20
        assert len({r[3] for r in rows}) == 1, "every row of a page carries the same next token"
        assert all(r[1] is None and r[2] is None for r in rows)
        assert {r[4] for r in rows} == {len(rows)}, "total_count is the number of rows in the page"
        seen += [r[0] for r in rows]
        token = rows[0][3]
        if token is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(index.keys)


def test_list_vectors_with_data_and_metadata(sql_stack: SqlStack, conn) -> None:
    index = sql_stack.indexes["euc-8"]
    rows = conn.execute(
        "SELECT vector_id, vector_data, metadata "
        "FROM s3vl.list_vectors(NULL, 'euc-8', 1000, NULL, TRUE, TRUE)"
    ).fetchall()
    assert len(rows) == 200
    for key, vector, metadata in rows:
        assert np.array_equal(np.array(vector, dtype=np.float32), index.row(key))
        assert metadata == index.metadata[index.keys.index(key)]


def test_list_all_vectors_whole_index_and_segments(sql_stack: SqlStack, conn) -> None:
    index = sql_stack.indexes["rand-64"]
    everything = [r[0] for r in conn.execute("SELECT vector_id FROM s3vl.list_all_vectors('rand-64')")]
    assert sorted(everything) == sorted(index.keys)
    segments: list[str] = []
    for segment in range(3):
        segments += [
            r[0]
            for r in conn.execute(
                "SELECT vector_id FROM s3vl.list_all_vectors('rand-64', "
                "segment_count => 3, segment_index => %s)",
                (segment,),
            )
        ]
    assert sorted(segments) == sorted(index.keys)
    with_data = conn.execute(
        "SELECT vector_id, vector FROM s3vl.list_all_vectors('rand-64', return_data => TRUE)"
    ).fetchall()
    assert len(with_data) == len(index.keys)
    assert all(np.array_equal(np.array(v, dtype=np.float32), index.row(k)) for k, v in with_data)


def test_describe_indexes_and_registry_contents(sql_stack: SqlStack, conn) -> None:
    rows = conn.execute(
        "SELECT index_name, index_arn, dimension, distance_metric, bucket_name, region, account_id "
        "FROM s3vl.describe_indexes()"
    ).fetchall()
    by_name = {r[0]: r for r in rows}
    for index in sql_stack.indexes.values():
        _, arn, dimension, metric, bucket, region, account = by_name[index.name]
        assert (arn, dimension, metric) == (index.arn, index.data.shape[1], index.metric)
        assert (bucket, region, account) == ("s3vl-sql-tests", "us-west-2", "000000000000")
