"""The metadata filter grammar: valid filters reach QueryVectors unchanged, invalid ones are named."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

from .conftest import INDEX_ARN, STUB_ARN, error_code, invoke, query_params


def query_with(filter_: Any) -> dict[str, Any]:
    return invoke(
        {"operation": "query_vectors", "index_arn": INDEX_ARN, "query_vector": [0.1], "filter": filter_}
    )


VALID = [
    {"category": "test"},
    {"in_stock": True, "price": 9.5},
    {"price": {"$gte": 10, "$lte": 50}},
    {"tags": {"$in": ["a", "b"]}, "rank": {"$nin": [1, 2]}},
    {"genre": {"$exists": False}},
    {"title": {"$startsWith": "The "}},
    {"$and": [{"a": 1}, {"$or": [{"b": {"$ne": "x"}}, {"c": {"$lt": 0}}]}]},
    {"$or": [{"a": {"$eq": True}}]},
]
# Operators the handler does not know are the service's to accept or refuse (docs/payload-contract.md,
# "Who checks what"): forwarded unchanged, so an operator AWS adds works without a new handler.
FORWARDED = [
    {"a": {"$regex": "^x"}},
    {"$not": {"a": 1}},
    {"$or": [{"a": {"$contains": 1}}]},
    {"a": {"$gte": 1, "$near": [1, 2]}},
]


@pytest.mark.parametrize("filter_", VALID + FORWARDED)
def test_valid_filter_is_sent_unchanged(filter_: dict[str, Any], stub: Stubber) -> None:
    stub.add_response(
        "query_vectors", {"vectors": [], "distanceMetric": "cosine"}, query_params([0.1], filter=filter_)
    )
    envelope = invoke(
        {"operation": "query_vectors", "index_arn": STUB_ARN, "query_vector": [0.1], "filter": filter_}
    )
    assert envelope["ok"] is True, envelope


@pytest.mark.parametrize(
    ("filter_", "code", "named"),
    [
        ("category = 'x'", "FILTER_NOT_OBJECT", "filter"),
        ([{"a": 1}], "FILTER_NOT_OBJECT", "filter"),
        ({}, "FILTER_NOT_OBJECT", "filter"),
        ({"a": {}}, "FILTER_NOT_OBJECT", "filter.a"),
        ({"$and": [{"a": 1}, "b"]}, "FILTER_NOT_OBJECT", "filter.$and[1]"),
        ({"a": {"$gt": "10"}}, "FILTER_INVALID_OPERAND", "filter.a.$gt"),
        ({"a": {"$lte": True}}, "FILTER_INVALID_OPERAND", "filter.a.$lte"),
        ({"a": {"$in": "x"}}, "FILTER_INVALID_OPERAND", "filter.a.$in"),
        ({"a": {"$in": []}}, "FILTER_INVALID_OPERAND", "filter.a.$in"),
        ({"a": {"$nin": [{"x": 1}]}}, "FILTER_INVALID_OPERAND", "filter.a.$nin"),
        ({"a": {"$exists": "yes"}}, "FILTER_INVALID_OPERAND", "filter.a.$exists"),
        ({"a": {"$startsWith": 1}}, "FILTER_INVALID_OPERAND", "filter.a.$startsWith"),
        ({"a": {"$eq": [1]}}, "FILTER_INVALID_OPERAND", "filter.a.$eq"),
        ({"a": {"$eq": float("nan")}}, "FILTER_INVALID_OPERAND", "filter.a.$eq"),
        ({"a": None}, "FILTER_INVALID_OPERAND", "filter.a"),
        ({"a": [1, 2]}, "FILTER_INVALID_OPERAND", "filter.a"),
        ({"a": {"b": 1}}, "FILTER_INVALID_OPERAND", "filter.a.b"),
        ({"$and": []}, "FILTER_EMPTY_LOGICAL", "filter.$and"),
        ({"$or": {"a": 1}}, "FILTER_EMPTY_LOGICAL", "filter.$or"),
        ({"$and": [{"$or": []}]}, "FILTER_EMPTY_LOGICAL", "filter.$and[0].$or"),
    ],
)
def test_invalid_filter_is_rejected_naming_its_part(
    filter_: Any, code: str, named: str, no_aws: None
) -> None:
    envelope = query_with(filter_)
    assert error_code(envelope) == code
    assert envelope["error"]["message"].startswith(named + " ") or envelope["error"]["message"].startswith(
        named + ":"
    ), envelope["error"]["message"]


def test_null_filter_means_no_filter(stub: Stubber) -> None:
    stub.add_response("query_vectors", {"vectors": [], "distanceMetric": "cosine"}, query_params([0.1]))
    envelope = invoke(
        {"operation": "query_vectors", "index_arn": STUB_ARN, "query_vector": [0.1], "filter": None}
    )
    assert envelope["ok"] is True


def nested(depth: int) -> dict[str, Any]:
    """A filter `depth` filters deep: $and inside $and, a field comparison at the bottom."""
    found: dict[str, Any] = {"a": 1}
    for _ in range(depth - 1):
        found = {"$and": [found, {"b": 2}]}
    return found


def test_a_filter_at_the_depth_limit_is_sent(stub: Stubber) -> None:
    stub.add_response("query_vectors", {"vectors": [], "distanceMetric": "cosine"})
    envelope = invoke(
        {"operation": "query_vectors", "index_arn": STUB_ARN, "query_vector": [0.1], "filter": nested(32)}
    )
    assert envelope["ok"] is True, envelope


@pytest.mark.parametrize("depth", [33, 490, 900])
def test_a_filter_beyond_the_depth_limit_is_refused_before_any_call(depth: int, no_aws: None) -> None:
    envelope = query_with(nested(depth))
    assert error_code(envelope) == "FILTER_TOO_DEEP"
    message = envelope["error"]["message"]
    assert "nested 33 filters deep" in message and "allows 32" in message and "flatten" in message
