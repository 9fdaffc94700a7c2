"""response_json: answers read back as the same values whichever writer wrote them."""

from __future__ import annotations

import json

import numpy as np
from s3vl_local.s3vectors import response_json


def test_vectors_read_back_as_the_float32_values_stored() -> None:
    stored = np.random.default_rng(3).standard_normal((4, 96)).astype(np.float32)
    payload = {
        "vectors": [{"key": f"k{n}", "data": {"float32": row.tolist()}} for n, row in enumerate(stored)]
    }
    decoded = json.loads(response_json.encode(payload))
    assert decoded == payload
    assert np.array_equal(
        np.array([v["data"]["float32"] for v in decoded["vectors"]], dtype=np.float32), stored
    )


def test_vector_arrays_are_written_as_their_lists_are_by_either_writer() -> None:
    # The emulator hands vector data over as float64 arrays (storage.vector); the text must be the list's.
    stored = np.random.default_rng(4).standard_normal((3, 64)).astype(np.float32)
    as_lists = {"vectors": [{"data": {"float32": row.tolist()}} for row in stored]}
    as_arrays = {"vectors": [{"data": {"float32": row.astype(np.float64)}} for row in stored]}
    assert response_json.encode(as_arrays) == response_json.encode(as_lists)
    # With an integer beyond 64 bits json.dumps writes the answer, arrays included.
    as_lists["metadata"] = as_arrays["metadata"] = {"big": 10**30}  # type: ignore[assignment]
    assert json.loads(response_json.encode(as_arrays)) == as_lists
    # 0.4f as S3 Vectors writes it (the ListVectors example of the S3 user guide).
    four_tenths = np.array([0.4], dtype=np.float32).astype(np.float64)
    assert response_json.encode({"v": four_tenths}) == b'{"v":[0.4000000059604645]}'


def test_text_is_utf8_and_escaped_as_json_requires() -> None:
    payload = {"key": 'é\u2028"\\\x01', "n": [1e-05, 1e16, -0.0]}
    body = response_json.encode(payload)
    assert "é".encode() in body
    assert json.loads(body) == payload


def test_an_integer_beyond_64_bits_is_written_exactly() -> None:
    payload = {"metadata": {"big": 10**30, "small": -(2**63)}}
    assert json.loads(response_json.encode(payload)) == payload
