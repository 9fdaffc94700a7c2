"""get_index, health, put/get/list/delete_vectors against moto's S3 Vectors."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from s3vl_lambda.clients import client_for
from s3vl_lambda.operations.put import plan_batches
from s3vl_lambda.requests import VectorToPut

from .conftest import INDEX_ARN, REGION, STUB_ARN, error_code, invoke


def put(arn: str, vectors: list[dict[str, Any]]) -> dict[str, Any]:
    return invoke({"operation": "put_vectors", "index_arn": arn, "vectors": vectors})


def sample(count: int) -> list[dict[str, Any]]:
    return [
        {"key": f"vec_{n:04d}", "data": [n, 1.0, 0.5], "metadata": {"n": n, "tag": "x"}} for n in range(count)
    ]


def test_get_index(moto_index: str) -> None:
    result = invoke({"operation": "get_index", "index_arn": moto_index})["result"]
    assert result["index_arn"] == INDEX_ARN
    assert (result["bucket_name"], result["index_name"]) == ("test-bucket", "test-index")
    assert (result["dimension"], result["distance_metric"], result["data_type"]) == (3, "cosine", "float32")
    assert result["non_filterable_metadata_keys"] == []


def test_get_index_of_missing_index(moto_index: str) -> None:
    envelope = invoke(
        {"operation": "get_index", "index_arn": moto_index.replace("test-index", "other-index")}
    )
    assert error_code(envelope) == "INDEX_NOT_FOUND"
    assert envelope["error"]["http_status"] == 404 and envelope["error"]["aws_request_id"]


def test_get_index_reports_metadata_configuration_and_creation_time(stub: Stubber) -> None:
    import datetime

    created = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    stub.add_response(
        "get_index",
        {
            "index": {
                "vectorBucketName": "test-bucket",
                "indexName": "test-index",
                "indexArn": STUB_ARN,
                "creationTime": created,
                "dataType": "float32",
                "dimension": 1024,
                "distanceMetric": "euclidean",
                "metadataConfiguration": {"nonFilterableMetadataKeys": ["body", "url"]},
            }
        },
        {"indexArn": STUB_ARN},
    )
    result = invoke({"operation": "get_index", "index_arn": STUB_ARN})["result"]
    assert result["non_filterable_metadata_keys"] == ["body", "url"]
    assert result["creation_time"] == "2026-01-02T03:04:05+00:00"
    assert (result["dimension"], result["distance_metric"]) == (1024, "euclidean")


def test_health_probes_a_reachable_index(moto_index: str) -> None:
    result = invoke({"operation": "health", "index_arn": moto_index})["result"]
    assert result["index"] == {
        "index_arn": moto_index,
        "reachable": True,
        "dimension": 3,
        "distance_metric": "cosine",
    }


def test_health_reports_an_unreachable_index_without_failing(moto_index: str) -> None:
    envelope = invoke({"operation": "health", "index_arn": moto_index.replace("test-index", "gone-index")})
    assert envelope["ok"] is True
    probe = envelope["result"]["index"]
    assert probe["reachable"] is False
    assert probe["error"]["code"] == "INDEX_NOT_FOUND"


def test_health_rejects_an_invalid_index_arn() -> None:
    assert error_code(invoke({"operation": "health", "index_arn": "not-an-arn"})) == "INVALID_INDEX_ARN"


def test_put_in_batches_of_500_then_get_everything_back(moto_index: str) -> None:
    assert put(moto_index, sample(1201))["result"] == {"written": 1201, "batches": 3}
    keys = [f"vec_{n:04d}" for n in range(1201)]
    vectors = invoke({"operation": "get_vectors", "index_arn": moto_index, "keys": keys})["result"]["vectors"]
    assert [v["key"] for v in vectors] == keys
    assert all(v["found"] for v in vectors)
    assert vectors[7] == {
        "key": "vec_0007",
        "found": True,
        "data": [7.0, 1.0, 0.5],
        "metadata": {"n": 7, "tag": "x"},
    }


def test_get_answers_every_requested_key_in_order_with_duplicates_and_missing(moto_index: str) -> None:
    put(moto_index, sample(3))
    keys = ["vec_0002", "missing", "vec_0000", "vec_0002", "missing"]
    vectors = invoke({"operation": "get_vectors", "index_arn": moto_index, "keys": keys})["result"]["vectors"]
    assert [(v["key"], v["found"]) for v in vectors] == [
        ("vec_0002", True),
        ("missing", False),
        ("vec_0000", True),
        ("vec_0002", True),
        ("missing", False),
    ]
    assert vectors[1]["data"] is None and vectors[1]["metadata"] is None
    assert vectors[0] == vectors[3]


def test_get_without_data_or_metadata_omits_them(moto_index: str) -> None:
    put(moto_index, sample(1))
    event = {"operation": "get_vectors", "index_arn": moto_index, "keys": ["vec_0000"]}
    only_found = invoke({**event, "return_data": False, "return_metadata": False})["result"]["vectors"]
    assert only_found == [{"key": "vec_0000", "found": True}]


@pytest.fixture
def get_calls(moto_index: str) -> Iterator[list[list[str]]]:
    """The keys of every GetVectors call the handler makes, recorded from the client's own events."""
    calls: list[list[str]] = []
    barrier = threading.Barrier(3, timeout=10)

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(list(params["keys"]))
        barrier.wait()  # only returns once three calls are in flight together

    events = client_for(REGION).meta.events
    events.register("provide-client-params.s3vectors.GetVectors", record, unique_id="test-get-calls")
    try:
        yield calls
    finally:
        events.unregister("provide-client-params.s3vectors.GetVectors", unique_id="test-get-calls")


def test_get_splits_into_batches_of_100_that_run_concurrently(
    moto_index: str, get_calls: list[list[str]]
) -> None:
    put(moto_index, sample(250))
    keys = [f"vec_{n:04d}" for n in range(250)] + ["vec_0001"]  # a duplicate is not fetched twice
    envelope = invoke({"operation": "get_vectors", "index_arn": moto_index, "keys": keys})
    assert envelope["ok"] is True, envelope
    assert sorted(len(batch) for batch in get_calls) == [50, 100, 100]
    assert len(envelope["result"]["vectors"]) == 251


def test_list_vectors_page(moto_index: str) -> None:
    put(moto_index, sample(3))
    result = invoke({"operation": "list_vectors", "index_arn": moto_index, "return_metadata": True})["result"]
    assert sorted(v["key"] for v in result["vectors"]) == ["vec_0000", "vec_0001", "vec_0002"]
    assert all(set(v) == {"key", "metadata"} for v in result["vectors"])
    assert result["next_token"] is None


def test_list_vectors_passes_paging_and_segments(stub: Stubber) -> None:
    stub.add_response(
        "list_vectors",
        {"vectors": [{"key": "a", "data": {"float32": [1.0, 2.0]}}], "nextToken": "page-3"},
        {
            "indexArn": STUB_ARN,
            "maxResults": 1,
            "nextToken": "page-2",
            "segmentCount": 4,
            "segmentIndex": 3,
            "returnData": True,
            "returnMetadata": False,
        },
    )
    result = invoke(
        {
            "operation": "list_vectors",
            "index_arn": STUB_ARN,
            "max_results": 1,
            "next_token": "page-2",
            "segment_count": 4,
            "segment_index": 3,
            "return_data": True,
        }
    )["result"]
    assert result == {"vectors": [{"key": "a", "data": [1.0, 2.0]}], "next_token": "page-3"}


def test_delete_vectors_counts_distinct_keys_and_missing_keys_are_fine(moto_index: str) -> None:
    put(moto_index, sample(3))
    result = invoke(
        {"operation": "delete_vectors", "index_arn": moto_index, "keys": ["vec_0000", "vec_0000", "nope"]}
    )["result"]
    assert result == {"deleted": 2, "batches": 1}
    vectors = invoke({"operation": "get_vectors", "index_arn": moto_index, "keys": ["vec_0000", "vec_0001"]})
    assert [v["found"] for v in vectors["result"]["vectors"]] == [False, True]


def test_delete_splits_into_batches_of_500(moto_index: str) -> None:
    keys = [f"k{n}" for n in range(1001)]
    assert invoke({"operation": "delete_vectors", "index_arn": moto_index, "keys": keys})["result"] == {
        "deleted": 1001,
        "batches": 3,
    }


def test_put_batches_respect_the_request_byte_cap() -> None:
    big = [VectorToPut(f"k{n}", [0.123456789] * 4096, {"text": "x" * 39_000}) for n in range(250)]
    batches = plan_batches(big, max_items=500, max_bytes=20 * 1024 * 1024)
    assert len(batches) == 2  # 250 vectors of ~92 KB do not fit one 20 MiB request
    import json

    assert all(len(json.dumps(batch).encode()) < 20 * 1024 * 1024 - 4096 for batch in batches)
    assert [item["key"] for batch in batches for item in batch] == [f"k{n}" for n in range(250)]


def failed_write(
    stub: Stubber, operation: str, answered: int, aws_error: str, status: int, **payload: Any
) -> dict[str, Any]:
    """The envelope of a write whose first `answered` batches succeed and whose next one fails."""
    for _ in range(answered):
        stub.add_response(operation, {})
    stub.add_client_error(operation, service_error_code=aws_error, http_status_code=status)
    return invoke({"operation": operation, "index_arn": STUB_ARN, **payload})


def test_put_failure_after_some_batches_says_what_was_written(stub: Stubber) -> None:
    vectors = [{"key": f"k{n}", "data": [1.0]} for n in range(700)]
    envelope = failed_write(stub, "put_vectors", 1, "ValidationException", 400, vectors=vectors)
    assert error_code(envelope) == "VALIDATION_FAILED"
    assert "(500 of 700 vectors were written before the failure;" in envelope["error"]["message"]
    assert envelope["error"]["applied"] == 500


def test_put_failure_in_the_first_batch_says_none_was_written(stub: Stubber) -> None:
    vectors = [{"key": f"k{n}", "data": [1.0]} for n in range(3)]
    envelope = failed_write(stub, "put_vectors", 0, "ValidationException", 400, vectors=vectors)
    assert "(0 of 3 vectors were written before the failure;" in envelope["error"]["message"]
    assert envelope["error"]["applied"] == 0


def test_delete_failure_after_some_batches_says_what_was_deleted(stub: Stubber) -> None:
    keys = [f"k{n}" for n in range(1200)] + ["k0"]  # a duplicate is sent, and counted, once
    envelope = failed_write(stub, "delete_vectors", 2, "AccessDeniedException", 403, keys=keys)
    assert error_code(envelope) == "ACCESS_DENIED"
    assert "(1000 of 1200 keys were deleted before the failure;" in envelope["error"]["message"]
    assert envelope["error"]["applied"] == 1000


def test_errors_of_other_operations_carry_no_applied_count(stub: Stubber) -> None:
    stub.add_client_error("get_vectors", service_error_code="AccessDeniedException", http_status_code=403)
    envelope = invoke({"operation": "get_vectors", "index_arn": STUB_ARN, "keys": ["a"]})
    assert error_code(envelope) == "ACCESS_DENIED" and "applied" not in envelope["error"]


def test_response_over_6_mb_is_refused_naming_the_limit(stub: Stubber) -> None:
    data = [0.1234567890123] * 4096
    stub.add_response(
        "get_vectors",
        {"vectors": [{"key": f"k{n}", "data": {"float32": data}} for n in range(100)]},
    )
    envelope = invoke(
        {
            "operation": "get_vectors",
            "index_arn": STUB_ARN,
            "keys": [f"k{n}" for n in range(100)],
            "return_metadata": False,
        }
    )
    assert error_code(envelope) == "RESPONSE_TOO_LARGE"
    message = envelope["error"]["message"]
    assert "6291456" in message and "return_data false" in message


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _error_response(request: Any, status: int, code: str) -> AWSResponse:
    return AWSResponse(request.url, status, {"x-amzn-ErrorType": code}, _Body(b'{"message": "injected"}'))


def test_a_batch_still_retrying_when_get_vectors_answers_makes_no_further_attempt(moto_index: str) -> None:
    """One batch fails at once; another gets a retryable 503 after the answer is out. Its retry would
    run on behalf of an invocation that has already answered: it is not made."""
    put(moto_index, sample(150))
    attempts: dict[str, int] = {"failing": 0, "slow": 0}
    answered = threading.Event()

    def fake_send(request: Any, **_: Any) -> AWSResponse | None:
        keys = json.loads(request.body)["keys"]
        if keys[0] == "vec_0000":
            attempts["failing"] += 1
            return _error_response(request, 400, "ValidationException")
        attempts["slow"] += 1
        answered.wait(5)  # answer only after the invocation has returned
        return _error_response(request, 503, "ServiceUnavailableException")

    events = client_for(REGION).meta.events
    events.register_last("before-send.s3vectors.GetVectors", fake_send, unique_id="test-lingering-batch")
    try:
        keys = [f"vec_{n:04d}" for n in range(150)]
        envelope = invoke({"operation": "get_vectors", "index_arn": moto_index, "keys": keys})
        answered.set()
        assert envelope["ok"] is False, envelope
        assert envelope["error"]["aws_error_code"] == "ValidationException"
        time.sleep(2.5)  # longer than the standard retry mode's first backoff (at most 1 s)
    finally:
        answered.set()
        events.unregister("before-send.s3vectors.GetVectors", unique_id="test-lingering-batch")
    assert attempts == {"failing": 1, "slow": 1}
