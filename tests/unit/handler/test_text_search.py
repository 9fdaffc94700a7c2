"""search_text, set_index_mode and configure_text_search against stubbed S3 Vectors: the requests sent,
the rows shaped from the scores, and every bad field refused before any AWS call."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

from .conftest import STUB_ARN, error_code, invoke

INDEX = {
    "vectorBucketName": "test-bucket",
    "indexName": "test-index",
    "indexArn": STUB_ARN,
    "dataType": "float32",
    "dimension": 3,
    "distanceMetric": "cosine",
    "creationTime": "2026-01-02T03:04:05Z",
    "indexMode": "ENHANCED",
    "metadataConfiguration": {
        "textSearchConfigurations": [{"metadataKey": "description", "language": "en", "status": "BUILDING"}]
    },
}


def search(**fields: Any) -> dict[str, Any]:
    return invoke(
        {
            "operation": "search_text",
            "index_arn": STUB_ARN,
            "query_texts": {"description": "red shoes"},
            **fields,
        }
    )


def test_text_only_query_sends_query_texts_and_sums_bm25(stub: Stubber) -> None:
    sent = {
        "indexArn": STUB_ARN,
        "topK": 2,
        "queryTexts": [{"metadataKey": "description", "text": "red shoes"}],
        "returnScores": True,
        "returnMetadata": False,
    }
    stub.add_response(
        "query_vectors",
        {
            "vectors": [
                {"key": "a", "scores": {"bm25Scores": [{"metadataKey": "description", "score": 2.5}]}}
            ],
            "distanceMetric": "cosine",
            "nextToken": "t1",
        },
        sent,
    )
    stub.add_response(
        "query_vectors",
        {
            "vectors": [
                {"key": "b", "scores": {"bm25Scores": [{"metadataKey": "description", "score": 1.0}]}}
            ],
            "distanceMetric": "cosine",
        },
        {**sent, "nextToken": "t1"},
    )
    result = search(top_k=2)["result"]
    assert result["pages"] == 2
    assert result["vectors"] == [
        {"key": "a", "fused_score": 2.5, "bm25_scores": {"description": 2.5}, "vector_distance": None},
        {"key": "b", "fused_score": 1.0, "bm25_scores": {"description": 1.0}, "vector_distance": None},
    ]


def test_hybrid_query_sends_the_vector_and_filter_and_keeps_the_fused_score(stub: Stubber) -> None:
    stub.add_response(
        "query_vectors",
        {
            "vectors": [
                {
                    "key": "a",
                    "metadata": {"description": "red shoes"},
                    "scores": {"fused": 0.0325, "vectorDistance": 0.25},
                }
            ],
            "distanceMetric": "cosine",
        },
        {
            "indexArn": STUB_ARN,
            "topK": 10,
            "queryTexts": [{"metadataKey": "description", "text": "red shoes"}],
            "queryVector": {"float32": [0.1, 0.2, 0.3]},
            "filter": {"in_stock": True},
            "returnScores": True,
            "returnMetadata": True,
        },
    )
    (row,) = search(query_vector=[0.1, 0.2, 0.3], filter={"in_stock": True}, return_metadata=True)["result"][
        "vectors"
    ]
    assert row == {
        "key": "a",
        "fused_score": 0.0325,
        "bm25_scores": {},
        "vector_distance": 0.25,
        "metadata": {"description": "red shoes"},
    }


@pytest.mark.parametrize(
    ("texts", "code"),
    [
        ("red", "INVALID_FIELD_TYPE"),
        ({}, "INVALID_TEXT_SEARCH"),
        ({f"k{i}": "red" for i in range(11)}, "INVALID_TEXT_SEARCH"),
        ({"k" * 64: "red"}, "INVALID_TEXT_SEARCH"),
        ({"description": ""}, "INVALID_TEXT_SEARCH"),
        ({"description": "a" * 1025}, "INVALID_TEXT_SEARCH"),
        ({"description": 3}, "INVALID_TEXT_SEARCH"),
        (None, "MISSING_FIELD"),
    ],
)
def test_bad_query_texts_are_refused_before_any_call(no_aws: None, texts: Any, code: str) -> None:
    assert error_code(search(query_texts=texts)) == code


def test_set_index_mode_updates_then_reports_the_index(stub: Stubber) -> None:
    stub.add_response("update_index_mode", {}, {"indexArn": STUB_ARN, "indexMode": "ENHANCED"})
    stub.add_response("get_index", {"index": INDEX}, {"indexArn": STUB_ARN})
    result = invoke({"operation": "set_index_mode", "index_arn": STUB_ARN, "index_mode": "ENHANCED"})[
        "result"
    ]
    assert result["index_mode"] == "ENHANCED"
    assert result["text_search"] == [{"metadata_key": "description", "language": "en", "status": "BUILDING"}]


@pytest.mark.parametrize(("remove", "change"), [(False, "add"), (True, "delete")])
def test_configure_text_search_adds_or_deletes_one_key(stub: Stubber, remove: bool, change: str) -> None:
    entry = {"metadataKey": "description"} if remove else {"metadataKey": "description", "language": "de"}
    stub.add_response(
        "update_metadata_configuration",
        {"indexArn": STUB_ARN},
        {"indexArn": STUB_ARN, change: {"textSearchConfigurations": [entry]}},
    )
    stub.add_response("get_index", {"index": INDEX}, {"indexArn": STUB_ARN})
    fields: dict[str, Any] = {"remove": True} if remove else {"language": "de"}
    envelope = invoke(
        {"operation": "configure_text_search", "index_arn": STUB_ARN, "metadata_key": "description", **fields}
    )
    assert envelope["ok"], envelope


@pytest.mark.parametrize(
    "event",
    [
        {"operation": "set_index_mode", "index_mode": "FAST"},
        {"operation": "set_index_mode", "index_mode": "enhanced"},
        {"operation": "configure_text_search", "metadata_key": "description", "language": "xx"},
        {"operation": "configure_text_search", "metadata_key": "k" * 64},
        {
            "operation": "configure_text_search",
            "metadata_key": "description",
            "language": "en",
            "remove": True,
        },
    ],
)
def test_bad_administration_fields_are_refused_before_any_call(no_aws: None, event: dict[str, Any]) -> None:
    assert error_code(invoke({"index_arn": STUB_ARN, **event})) == "INVALID_TEXT_SEARCH"


@pytest.mark.parametrize(("language", "ok"), [("en", True), ("de", False)])
def test_adding_a_configured_key_again_is_idempotent_for_the_same_language(
    stub: Stubber, language: str, ok: bool
) -> None:
    stub.add_client_error(
        "update_metadata_configuration", "ConflictException", "already configured", http_status_code=409
    )
    stub.add_response("get_index", {"index": INDEX}, {"indexArn": STUB_ARN})
    envelope = invoke(
        {
            "operation": "configure_text_search",
            "index_arn": STUB_ARN,
            "metadata_key": "description",
            "language": language,
        }
    )
    if ok:
        assert envelope["result"]["text_search"][0]["metadata_key"] == "description"
    else:
        assert error_code(envelope) == "CONFLICT"
