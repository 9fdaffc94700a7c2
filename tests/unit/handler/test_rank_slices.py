"""rank_vectors' slices (operations/rank_slices.py): how candidates are cut, the setting, and what each answer
of Lambda's Invoke becomes, with botocore's Stubber standing in for Lambda. The slices invoked for real,
through the local Lambda service, and their rows against numpy: tests/sql/test_rank_slices.py."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws
from s3vl_lambda import vector_data
from s3vl_lambda.clients import lambda_client
from s3vl_lambda.errors import HandlerError
from s3vl_lambda.operations import rank_slices
from s3vl_lambda.rank_request import rank_vectors
from support.distances import s3vectors_distances
from support.s3vectors import create_bucket_and_index

from .conftest import BUCKET, INDEX, INDEX_ARN, REGION, STUB_ARN, STUB_REGION, error_code, invoke

FUNCTION = "s3vl-vector-query"


def test_cut_keeps_one_slice_when_slicing_is_off_or_not_needed() -> None:
    keys = [f"k{i}" for i in range(2500)]
    assert rank_slices.cut(keys, 0) == [keys]
    assert rank_slices.cut(keys, 2500) == [keys]


def test_cut_makes_even_slices_of_at_most_the_setting() -> None:
    keys = [f"k{i}" for i in range(2500)]
    slices = rank_slices.cut(keys, 1000)
    assert [len(s) for s in slices] == [834, 834, 832]
    assert [key for s in slices for key in s] == keys


def test_cut_makes_larger_slices_beyond_the_concurrency_it_invokes_at_once() -> None:
    keys = [f"k{i}" for i in range(10_000)]
    slices = rank_slices.cut(keys, 100)
    assert len(slices) == rank_slices.SLICE_CONCURRENCY == 16
    assert max(len(s) for s in slices) == 625
    assert [key for s in slices for key in s] == keys


@pytest.mark.parametrize(("value", "size"), [(None, 0), ("", 0), ("0", 0), (" 1000 ", 1000)])
def test_the_setting(monkeypatch: pytest.MonkeyPatch, value: str | None, size: int) -> None:
    if value is None:
        monkeypatch.delenv("S3VL_RANK_SLICE_IDS", raising=False)
    else:
        monkeypatch.setenv("S3VL_RANK_SLICE_IDS", value)
    assert rank_slices.slice_size() == size


@pytest.mark.parametrize("value", ["many", "-5", "1e3", "10.5"])
def test_a_setting_that_is_not_a_whole_number_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("S3VL_RANK_SLICE_IDS", value)
    with pytest.raises(HandlerError) as raised:
        rank_slices.slice_size()
    assert raised.value.code == "INVALID_SETTING"
    assert "S3VL_RANK_SLICE_IDS" in raised.value.message and repr(value) in raised.value.message


REQUEST = rank_vectors(
    {
        "index_arn": STUB_ARN,
        "distance_metric": "cosine",
        "query_vector": [0.1, 0.2, 0.3],
        "keys": ["a", "b\u24000", "c"],
        "top_k": 2,
        "return_metadata": True,
    }
)


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    with Stubber(lambda_client(STUB_REGION)) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def _expected(keys: list[str]) -> dict[str, Any]:
    """The Invoke parameters of a slice of `keys` (as the service stores them) of REQUEST."""
    event = {
        "operation": "rank_vectors",
        "contract_version": 1,
        "index_arn": STUB_ARN,
        "distance_metric": "cosine",
        "query_vector": REQUEST.query_vector,
        "keys": keys,
        "top_k": 2,
        "return_metadata": False,
        "slice": True,
    }
    return {"FunctionName": FUNCTION, "Qualifier": "$LATEST", "Payload": vector_data.dumps(event)}


def _answer(document: Any, function_error: str | None = None) -> dict[str, Any]:
    body = json.dumps(document).encode()
    answer: dict[str, Any] = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body))}
    if function_error is not None:
        answer["FunctionError"] = function_error
    return answer


def _not_called(keys: list[str]) -> rank_slices.Ranked:
    raise AssertionError(f"ranked here: {keys}")


def test_a_slice_answer_becomes_its_rows_and_counts(stub: Stubber) -> None:
    # The keys travel escaped, as SQL sends them; the slice never asks for metadata (the caller does).
    envelope = {
        "ok": True,
        "result": {
            "vectors": [
                {"key": "b\u24000", "distance": 0.25, "exact_distance": 0.2500000001, "similarity": 0.75},
                {"key": "a", "distance": 0.5, "exact_distance": 0.5, "similarity": 0.5},
            ],
            "missing": 1,
            "batches": 1,
            "throttled": 2,
        },
    }
    stub.add_response("invoke", _answer(envelope), _expected(["a", "b\u24000"]))
    ranked = rank_slices.invoke(REQUEST, ["a", "b\x00"], _not_called)
    assert ranked == rank_slices.Ranked(
        rows=[(0.2500000001, "b\u24000"), (0.5, "a")], missing=1, batches=1, throttled=2, invoked=1
    )


def test_a_slice_lambda_refuses_for_concurrency_is_ranked_here(stub: Stubber) -> None:
    stub.add_client_error("invoke", "TooManyRequestsException", "Rate Exceeded.", 429)
    here = rank_slices.Ranked(rows=[(0.1, "c")], missing=0, batches=1, throttled=0)
    asked: list[list[str]] = []

    def rank_here(keys: list[str]) -> rank_slices.Ranked:
        asked.append(keys)
        return here

    ranked = rank_slices.invoke(REQUEST, ["c"], rank_here)
    assert asked == [["c"]]
    assert ranked == rank_slices.Ranked(rows=[(0.1, "c")], missing=0, batches=1, throttled=0, refused=1)


@pytest.mark.parametrize(
    ("aws_code", "status", "code", "fix"),
    [
        ("AccessDeniedException", 403, "ACCESS_DENIED", "grant the execution role lambda:InvokeFunction"),
        ("ResourceNotFoundException", 404, "AWS_ERROR", "set S3VL_RANK_SLICE_IDS to 0"),
    ],
)
def test_a_slice_lambda_will_not_invoke_raises_with_the_fix(
    stub: Stubber, aws_code: str, status: int, code: str, fix: str
) -> None:
    stub.add_client_error("invoke", aws_code, "no", status)
    with pytest.raises(HandlerError) as raised:
        rank_slices.invoke(REQUEST, ["c"], _not_called)
    assert (raised.value.code, raised.value.aws_error_code) == (code, aws_code)
    assert f"could not invoke function {FUNCTION}" in raised.value.message
    assert fix in raised.value.message and "S3VL_RANK_SLICE_IDS" in raised.value.message


def test_a_slice_error_is_raised_as_the_slice_raised_it(stub: Stubber) -> None:
    error = {
        "code": "THROTTLED",
        "message": "S3 Vectors GetVectors failed with TooManyRequestsException: slow down",
        "retryable": True,
        "aws_error_code": "TooManyRequestsException",
        "aws_request_id": "r-1",
        "http_status": 429,
    }
    stub.add_response("invoke", _answer({"ok": False, "error": error}))
    with pytest.raises(HandlerError) as raised:
        rank_slices.invoke(REQUEST, ["c"], _not_called)
    assert raised.value.to_dict() == error


@pytest.mark.parametrize(
    ("error_type", "code"), [("Sandbox.Timedout", "DEADLINE_EXCEEDED"), ("Runtime.ExitError", "AWS_ERROR")]
)
def test_a_slice_that_crashed_raises_naming_how(stub: Stubber, error_type: str, code: str) -> None:
    detail = {"errorType": error_type, "errorMessage": "Task timed out after 10.00 seconds"}
    stub.add_response("invoke", _answer(detail, function_error="Unhandled"))
    with pytest.raises(HandlerError) as raised:
        rank_slices.invoke(REQUEST, ["c"], _not_called)
    assert (raised.value.code, raised.value.aws_error_code) == (code, error_type)
    assert "Task timed out after 10.00 seconds" in raised.value.message
    assert "raise the function's timeout or memory" in raised.value.message


def test_without_a_function_name_the_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    with pytest.raises(HandlerError) as raised:
        rank_slices.invoke(REQUEST, ["c"], _not_called)
    assert raised.value.code == "INVALID_SETTING"
    assert "AWS_LAMBDA_FUNCTION_NAME" in raised.value.message


def test_a_slice_request_is_ranked_where_it_is_sent_and_never_sliced_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One key per slice: any request but a slice's would invoke the function, and the Stubber has no
    # answer for an Invoke (so the unsliced request fails naming it).
    monkeypatch.setenv("S3VL_RANK_SLICE_IDS", "1")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
    data = np.random.default_rng(8).standard_normal((5, 4)).astype(np.float32)
    keys = [f"k{i}" for i in range(5)]
    query = [0.5, -0.25, 1.0, 2.0]
    with mock_aws(), Stubber(lambda_client(REGION)):
        client = boto3.client("s3vectors", region_name=REGION)
        create_bucket_and_index(client, BUCKET, INDEX, 4, "euclidean")
        client.put_vectors(
            vectorBucketName=BUCKET,
            indexName=INDEX,
            vectors=[{"key": k, "data": {"float32": v.tolist()}} for k, v in zip(keys, data, strict=True)],
        )
        event = {
            "operation": "rank_vectors",
            "index_arn": INDEX_ARN,
            "distance_metric": "euclidean",
            "query_vector": query,
            "keys": keys,
            "top_k": 2,
        }
        sliced = invoke({**event, "slice": True})
        unsliced = invoke(event)
    assert sliced["ok"] is True, sliced
    distances = s3vectors_distances(data, query, "euclidean")
    assert [row["key"] for row in sliced["result"]["vectors"]] == [keys[i] for i in np.argsort(distances)[:2]]
    assert (sliced["result"]["slices"], sliced["result"]["batches"]) == (0, 1)
    assert error_code(unsliced) == "AWS_ERROR"
    assert f"could not invoke function {FUNCTION}" in unsliced["error"]["message"]


def test_a_lambda_endpoint_that_refuses_the_connection_names_the_route(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A region no other test uses, so its Lambda client is created here, on this endpoint (nothing listens
    # on 127.0.0.1:9).
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
    arn = STUB_ARN.replace(STUB_REGION, "ap-south-2")
    request = rank_vectors(
        {"index_arn": arn, "distance_metric": "cosine", "query_vector": [1.0], "keys": ["a"]}
    )
    with pytest.raises(HandlerError) as raised:
        rank_slices.invoke(request, ["a"], _not_called)
    assert raised.value.code == "ENDPOINT_UNREACHABLE"
    assert (
        "route to the Lambda endpoint" in raised.value.message
        and "S3VL_RANK_SLICE_IDS" in raised.value.message
    )
