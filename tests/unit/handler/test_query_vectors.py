"""query_vectors against a stubbed QueryVectors: paging, truncation, similarity, metadata."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from botocore.stub import Stubber
from s3vl_lambda.operations.query import similarity

from .conftest import STUB_ARN, invoke, query_params

VECTOR = [0.1, 0.2, 0.3]


def expected(top_k: int, token: str | None = None, **extra: Any) -> dict[str, Any]:
    params = query_params(VECTOR, top_k, **extra)
    if token is not None:
        params["nextToken"] = token
    return params


def page(keys: list[str], token: str | None = None, metric: str = "cosine", **fields: Any) -> dict[str, Any]:
    vectors = [{"key": key, "distance": 0.1 * (n + 1), **fields} for n, key in enumerate(keys)]
    response: dict[str, Any] = {"vectors": vectors, "distanceMetric": metric}
    if token is not None:
        response["nextToken"] = token
    return response


def run(**fields: Any) -> dict[str, Any]:
    return invoke({"operation": "query_vectors", "index_arn": STUB_ARN, "query_vector": VECTOR, **fields})


def test_follows_next_token_pages_repeating_the_same_request_until_the_end(stub: Stubber) -> None:
    stub.add_response("query_vectors", page(["a", "b"], token="t1"), expected(10))
    stub.add_response("query_vectors", page(["c", "d"], token="t2"), expected(10, token="t1"))
    stub.add_response("query_vectors", page(["e"]), expected(10, token="t2"))
    result = run()["result"]
    assert [v["key"] for v in result["vectors"]] == ["a", "b", "c", "d", "e"]
    assert result["pages"] == 3
    assert result["distance_metric"] == "cosine"


def test_stops_paging_once_top_k_results_arrived_and_truncates(stub: Stubber) -> None:
    stub.add_response("query_vectors", page(["a", "b"], token="t1"), expected(3))
    stub.add_response("query_vectors", page(["c", "d"], token="t2"), expected(3, token="t1"))
    result = run(top_k=3)["result"]  # no third call: the stubber would fail on an unexpected one
    assert [v["key"] for v in result["vectors"]] == ["a", "b", "c"]
    assert result["pages"] == 2


def test_filter_is_repeated_on_every_page(stub: Stubber) -> None:
    flt = {"category": {"$in": ["test", "demo"]}}
    stub.add_response("query_vectors", page(["a"], token="t1"), expected(2, filter=flt))
    stub.add_response("query_vectors", page(["b"]), expected(2, token="t1", filter=flt))
    assert [v["key"] for v in run(top_k=2, filter=flt)["result"]["vectors"]] == ["a", "b"]


def test_cosine_similarity_is_one_minus_distance_and_distance_is_kept(stub: Stubber) -> None:
    stub.add_response(
        "query_vectors",
        {
            "vectors": [{"key": "same", "distance": 0.0}, {"key": "opposite", "distance": 2.0}],
            "distanceMetric": "cosine",
        },
        expected(10),
    )
    vectors = run()["result"]["vectors"]
    assert vectors == [
        {"key": "same", "distance": 0.0, "similarity": 1.0},
        {"key": "opposite", "distance": 2.0, "similarity": -1.0},
    ]


def test_euclidean_similarity_is_one_over_one_plus_distance(stub: Stubber) -> None:
    stub.add_response(
        "query_vectors",
        {
            "vectors": [{"key": "a", "distance": 0.0}, {"key": "b", "distance": 3.0}],
            "distanceMetric": "euclidean",
        },
        expected(10),
    )
    result = run()["result"]
    assert result["distance_metric"] == "euclidean"
    assert [(v["distance"], v["similarity"]) for v in result["vectors"]] == [(0.0, 1.0), (3.0, 0.25)]


def test_similarity_mapping_is_monotone_decreasing_in_distance() -> None:
    for metric in ("cosine", "euclidean"):
        values = [similarity(metric, d) for d in (0.0, 0.1, 0.5, 1.0, 1.9)]
        assert all(a is not None and b is not None and a > b for a, b in itertools.pairwise(values))
    assert similarity("cosine", None) is None
    assert similarity("manhattan", 1.0) is None


def test_metadata_only_when_requested(stub: Stubber) -> None:
    stub.add_response(
        "query_vectors",
        page(["a", "b"], metadata={"category": "test"}),
        expected(10, returnMetadata=True),
    )
    stub.add_response("query_vectors", page(["a"]), expected(10))
    with_metadata = run(return_metadata=True)["result"]["vectors"]
    assert [v["metadata"] for v in with_metadata] == [{"category": "test"}, {"category": "test"}]
    assert "metadata" not in run()["result"]["vectors"][0]


def test_vector_without_metadata_has_null_metadata(stub: Stubber) -> None:
    stub.add_response("query_vectors", page(["a"]), expected(10, returnMetadata=True))
    assert run(return_metadata=True)["result"]["vectors"][0]["metadata"] is None


def test_empty_index_returns_no_rows_and_one_page(stub: Stubber) -> None:
    stub.add_response("query_vectors", {"vectors": [], "distanceMetric": "cosine"}, expected(5))
    assert run(top_k=5)["result"] == {"distance_metric": "cosine", "vectors": [], "pages": 1}


def test_top_k_up_to_ten_thousand_is_passed_to_the_service(stub: Stubber) -> None:
    stub.add_response("query_vectors", page(["a"]), expected(10_000))
    assert run(top_k=10_000)["ok"] is True


@pytest.mark.parametrize("integer_vector", [[1, 2, 3]])
def test_integer_elements_are_numbers(integer_vector: list[int], stub: Stubber) -> None:
    params = expected(1)
    params["queryVector"] = {"float32": integer_vector}
    stub.add_response("query_vectors", page(["a"]), params)
    envelope = invoke(
        {"operation": "query_vectors", "index_arn": STUB_ARN, "query_vector": integer_vector, "top_k": 1}
    )
    assert envelope["ok"] is True
