"""AWS failures become contract errors with the AWS code, request id and HTTP status kept."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from botocore.stub import Stubber
from s3vl_lambda.clients import client_for

from .conftest import ACCOUNT, STUB_ARN, error_code, invoke

QUERY = {"operation": "query_vectors", "index_arn": STUB_ARN, "query_vector": [0.5, 0.5], "top_k": 3}


@pytest.mark.parametrize(
    ("aws_code", "status", "code", "retryable"),
    [
        ("NotFoundException", 404, "INDEX_NOT_FOUND", False),
        ("AccessDeniedException", 403, "ACCESS_DENIED", False),
        ("ValidationException", 400, "VALIDATION_FAILED", False),
        ("ConflictException", 409, "CONFLICT", False),
        ("ServiceQuotaExceededException", 402, "QUOTA_EXCEEDED", False),
        ("TooManyRequestsException", 429, "THROTTLED", True),
        ("ServiceUnavailableException", 503, "SERVICE_UNAVAILABLE", True),
        ("InternalServerException", 500, "SERVICE_UNAVAILABLE", True),
        ("RequestTimeoutException", 408, "AWS_TIMEOUT", True),
        ("KmsDisabledException", 400, "KMS_ERROR", False),
        ("KmsNotFoundException", 400, "KMS_ERROR", False),
        ("SomethingNewException", 400, "AWS_ERROR", False),
    ],
)
def test_aws_error_is_mapped(aws_code: str, status: int, code: str, retryable: bool, stub: Stubber) -> None:
    stub.add_client_error(
        "query_vectors",
        service_error_code=aws_code,
        service_message="the service said no",
        http_status_code=status,
        response_meta={"RequestId": "aws-req-42"},
    )
    envelope = invoke(QUERY)
    assert error_code(envelope) == code
    error = envelope["error"]
    assert error["retryable"] is retryable
    assert error["aws_error_code"] == aws_code
    assert error["aws_request_id"] == "aws-req-42"
    assert error["http_status"] == status
    assert "QueryVectors" in error["message"] and "the service said no" in error["message"]


def test_access_denied_names_the_actions_to_grant(stub: Stubber) -> None:
    stub.add_client_error("query_vectors", service_error_code="AccessDeniedException", http_status_code=403)
    message = invoke(QUERY)["error"]["message"]
    assert "s3vectors:QueryVectors" in message and "s3vectors:GetVectors" in message


def test_rejected_next_token_is_reported_as_a_token_error(stub: Stubber) -> None:
    stub.add_client_error(
        "list_vectors",
        service_error_code="ValidationException",
        service_message="Invalid nextToken for ListVectors",
        http_status_code=400,
    )
    envelope = invoke({"operation": "list_vectors", "index_arn": STUB_ARN, "next_token": "stale"})
    assert error_code(envelope) == "INVALID_NEXT_TOKEN"
    assert envelope["error"]["aws_error_code"] == "ValidationException"
    assert "token from the previous page" in envelope["error"]["message"]


def test_error_on_a_later_page_is_reported(stub: Stubber) -> None:
    stub.add_response(
        "query_vectors",
        {"vectors": [{"key": "a", "distance": 0.1}], "distanceMetric": "cosine", "nextToken": "t"},
    )
    stub.add_client_error(
        "query_vectors", service_error_code="TooManyRequestsException", http_status_code=429
    )
    assert error_code(invoke(QUERY)) == "THROTTLED"


def test_unreachable_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    # A bound, never-listening socket refuses connections and keeps the port from being reused meanwhile.
    # A region of its own, so the client is created while the variable points at that port.
    with socket.socket() as refusing:
        refusing.bind(("127.0.0.1", 0))
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3VECTORS", f"http://127.0.0.1:{refusing.getsockname()[1]}")
        arn = f"arn:aws:s3vectors:ap-southeast-4:{ACCOUNT}:bucket/test-bucket/index/test-index"
        envelope = invoke({"operation": "get_index", "index_arn": arn})
    assert error_code(envelope) == "ENDPOINT_UNREACHABLE"
    assert envelope["error"]["retryable"] is True
    assert "AWS_ENDPOINT_URL_S3VECTORS" in envelope["error"]["message"]


def test_silent_endpoint_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    from .conftest import FakeContext

    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3VECTORS", f"http://127.0.0.1:{listener.getsockname()[1]}")
        arn = f"arn:aws:s3vectors:ap-southeast-5:{ACCOUNT}:bucket/test-bucket/index/test-index"
        # 2.6 s of function time leave 2.1 s of work: connect 0.5 s + read 1.0 s per attempt, so the
        # first attempt times out after 1 s and the retry, which could not finish in time, never starts.
        envelope = invoke({"operation": "get_index", "index_arn": arn}, FakeContext(remaining_ms=2600))
    error: dict[str, Any] = envelope["error"]
    assert error["code"] == "DEADLINE_EXCEEDED", error
    assert error["retryable"] is True
    assert envelope["duration_ms"] < 2100
    config = client_for("ap-southeast-5").meta.config
    assert (config.connect_timeout, config.read_timeout) == (0.5, 1.0)


def test_read_timeout_after_retries_is_aws_timeout() -> None:
    from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
    from s3vl_lambda.errors import from_aws

    for exc in (ReadTimeoutError(endpoint_url="http://x"), ConnectTimeoutError(endpoint_url="http://x")):
        error = from_aws(exc, "GetVectors", frozenset({"s3vectors:GetVectors"}))
        assert (error.code, error.retryable, error.aws_error_code) == (
            "AWS_TIMEOUT",
            True,
            type(exc).__name__,
        )
