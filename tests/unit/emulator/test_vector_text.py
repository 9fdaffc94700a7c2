"""The vector data text the emulator keeps (storage.VectorText): answers carry the values stored now, after
overwrites, deletes that move rows, and evictions beyond the bound."""

from __future__ import annotations

import json

import numpy as np
import pytest
from s3vl_local.s3vectors import response_json, storage
from s3vl_local.s3vectors.storage import VectorStore


def _answered(store: VectorStore, key: str) -> list[float]:
    """The data an answer about `key` carries, as a client reads it."""
    document = json.loads(response_json.encode({"data": {"float32": store.vector(store.rows[key])}}))
    return document["data"]["float32"]  # type: ignore[no-any-return]


def _stored(values: np.ndarray) -> list[float]:
    return values.astype(np.float32).astype(np.float64).tolist()


def test_an_overwritten_vector_is_answered_with_its_new_values() -> None:
    store = VectorStore(4, "cosine", frozenset())
    first, second = np.array([[0.1, 0.2, 0.3, 0.4]]), np.array([[1.5, -2.0, 3.25, 0.4]])
    store.put(["k"], first.astype(np.float32), [None])
    assert _answered(store, "k") == _stored(first[0])
    store.put(["k"], second.astype(np.float32), [None])
    assert _answered(store, "k") == _stored(second[0])


def test_a_delete_that_moves_the_last_row_keeps_each_key_its_values() -> None:
    store = VectorStore(3, "euclidean", frozenset())
    data = np.random.default_rng(2).standard_normal((5, 3)).astype(np.float32)
    keys = [f"k{i}" for i in range(5)]
    store.put(keys, data, [None] * 5)
    before = {key: _answered(store, key) for key in keys}
    store.delete(["k1"])  # k4 moves into row 1
    assert store.rows["k4"] == 1
    assert {key: _answered(store, key) for key in keys if key != "k1"} == {
        key: values for key, values in before.items() if key != "k1"
    }
    store.put(["k1"], data[1:2], [None])  # back, in a new row
    assert _answered(store, "k1") == _stored(data[1])


def test_text_beyond_the_bound_is_dropped_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    store = VectorStore(8, "cosine", frozenset())
    data = np.random.default_rng(3).standard_normal((50, 8)).astype(np.float32)
    keys = [f"k{i:02d}" for i in range(50)]
    store.put(keys, data, [None] * 50)
    one = len(store.vector(0).text)
    monkeypatch.setattr(storage, "VECTOR_TEXT_BYTES", 10 * one)
    for key, row in zip(keys, data, strict=True):
        assert _answered(store, key) == _stored(row)
    assert store._text_bytes <= 10 * one
    assert list(store._texts)[-1] == "k49" and "k00" not in store._texts


def test_kept_text_is_written_by_either_writer() -> None:
    store = VectorStore(2, "cosine", frozenset())
    store.put(["k"], np.array([[0.4, -1e-3]], dtype=np.float32), [None])
    text = store.vector(0)
    assert response_json.encode({"v": text}) == b'{"v":[0.4000000059604645,-0.0010000000474974513]}'
    # An integer beyond 64 bits sends the answer to json.dumps, kept text included.
    assert json.loads(response_json.encode({"v": text, "n": 10**30})) == {
        "v": [0.4000000059604645, -0.0010000000474974513],
        "n": 10**30,
    }
