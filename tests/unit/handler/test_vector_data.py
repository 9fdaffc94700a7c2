"""vector_data: GetVectors answers decoded fast and exactly, whatever digits the service writes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from s3vl_lambda import vector_data


def _answer(vectors: list[list[float]], digits: str) -> bytes:
    """A GetVectors answer whose float32 values are written as float64 text ("repr") or as the shortest
    text that reads back as the same float32 ("shortest")."""

    def text(value: np.float32) -> str:
        return repr(float(value)) if digits == "repr" else np.format_float_positional(value, unique=True)

    items = [
        f'{{"key":"k{n}","data":{{"float32":[{",".join(text(np.float32(v)) for v in vector)}]}}}}'
        for n, vector in enumerate(vectors)
    ]
    return f'{{"vectors":[{",".join(items)}]}}'.encode()


@pytest.mark.parametrize("digits", ["repr", "shortest"])
def test_decoded_vectors_are_the_stored_float32_values(digits: str) -> None:
    rng = np.random.default_rng(7)
    stored = rng.standard_normal((5, 64)).astype(np.float32)
    document = vector_data.loads(_answer(stored.tolist(), digits))
    decoded = [vector_data.exact(item["data"]["float32"]) for item in document["vectors"]]
    assert decoded == stored.astype(np.float64).tolist()


def test_shortest_digits_alone_are_not_the_stored_value() -> None:
    # Why exact() exists: "0.1" reads as the float64 0.1, not as the float32 the service stores.
    assert json.loads("0.1") != float(np.float32(0.1))
    assert vector_data.exact([0.1]) == [float(np.float32(0.1))]


def test_a_document_orjson_refuses_is_read_as_json_reads_it() -> None:
    body = b'{"vectors":[{"key":"\\ud800","data":{"float32":[1.5]}}]}'
    assert vector_data.loads(body) == json.loads(body)


def test_without_orjson_the_standard_module_decodes_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    body = _answer([[0.25, -1.0, 3.5]], "repr")
    fast = vector_data.loads(body)
    monkeypatch.setattr(vector_data, "orjson", None)
    assert vector_data.loads(body) == fast == json.loads(body)


def test_dumps_writes_what_json_reads_back_with_or_without_orjson(monkeypatch: pytest.MonkeyPatch) -> None:
    event = {"keys": ["a", "é\u2400"], "query_vector": [0.1, -3e-45, 1e38], "top_k": 10, "flag": False}
    fast = vector_data.dumps(event)
    monkeypatch.setattr(vector_data, "orjson", None)
    slow = vector_data.dumps(event)
    assert json.loads(fast) == json.loads(slow) == event
    assert isinstance(fast, bytes) and isinstance(slow, bytes)


def test_float32_rounds_a_distance_as_the_service_reports_it() -> None:
    assert vector_data.float32(0.1) == float(np.float32(0.1))
    assert vector_data.float32(1.0) == 1.0
