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


def test_text_is_utf8_and_escaped_as_json_requires() -> None:
    payload = {"key": 'é\u2028"\\\x01', "n": [1e-05, 1e16, -0.0]}
    body = response_json.encode(payload)
    assert "é".encode() in body
    assert json.loads(body) == payload


def test_an_integer_beyond_64_bits_is_written_exactly() -> None:
    payload = {"metadata": {"big": 10**30, "small": -(2**63)}}
    assert json.loads(response_json.encode(payload)) == payload
