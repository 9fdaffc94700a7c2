"""The request frame and the response envelope of payload contract v1."""

from __future__ import annotations

import json
from typing import Any

import pytest
from s3vl_lambda import HANDLER_VERSION
from s3vl_lambda.errors import HandlerError

from .conftest import INDEX_ARN, FakeContext, error_code, invoke

ERROR_FIELDS = {"code", "message", "retryable", "aws_error_code", "aws_request_id", "http_status"}


def test_success_envelope_carries_request_id_duration_and_result(no_aws: None) -> None:
    envelope = invoke({"operation": "health"}, FakeContext(aws_request_id="abc-123"))
    assert set(envelope) == {"ok", "contract_version", "operation", "request_id", "duration_ms", "result"}
    assert envelope["ok"] is True
    assert envelope["contract_version"] == 1
    assert envelope["operation"] == "health"
    assert envelope["request_id"] == "abc-123"
    assert isinstance(envelope["duration_ms"], float) and envelope["duration_ms"] >= 0


def test_health_without_index_answers_without_aws(no_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    import botocore

    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "s3vl-vector-query")
    result = invoke({"operation": "health", "contract_version": 1})["result"]
    assert result["handler_version"] == HANDLER_VERSION
    assert result["contract_version"] == 1
    assert result["boto3_version"] == boto3.__version__
    assert result["botocore_version"] == botocore.__version__
    assert result["python_version"].count(".") == 2
    assert result["region"] == "eu-west-1"
    assert result["function_name"] == "s3vl-vector-query"
    assert "index" not in result


def test_failure_envelope_shape(no_aws: None) -> None:
    envelope = invoke(
        {"operation": "query_vectors", "index_arn": INDEX_ARN, "query_vector": [1.0], "top_k": 0}
    )
    assert set(envelope) == {"ok", "contract_version", "operation", "request_id", "duration_ms", "error"}
    assert envelope["operation"] == "query_vectors"
    error = envelope["error"]
    assert set(error) == ERROR_FIELDS
    assert error["code"] == "INVALID_TOP_K"
    assert "between 1 and 10000, got 0" in error["message"]
    assert error["retryable"] is False
    assert (
        error["aws_error_code"] is None and error["aws_request_id"] is None and error["http_status"] is None
    )


@pytest.mark.parametrize("event", [None, [], "health", 3, 2.5, True, [{"operation": "health"}]])
def test_event_that_is_not_an_object_is_invalid_request(event: Any, no_aws: None) -> None:
    envelope = invoke(event)
    assert error_code(envelope) == "INVALID_REQUEST"
    assert envelope["operation"] is None


@pytest.mark.parametrize("version", [0, 2, "1", 1.0, True, [1]])
def test_contract_version_other_than_1_is_rejected(version: Any, no_aws: None) -> None:
    envelope = invoke({"operation": "health", "contract_version": version})
    assert error_code(envelope) == "UNSUPPORTED_CONTRACT_VERSION"
    assert "version 1" in envelope["error"]["message"]


@pytest.mark.parametrize("event", [{}, {"operation": "drop_index"}, {"operation": None}, {"operation": 7}])
def test_unknown_or_missing_operation(event: dict[str, Any], no_aws: None) -> None:
    envelope = invoke(event)
    assert error_code(envelope) == "UNKNOWN_OPERATION"
    assert envelope["operation"] is None
    assert "query_vectors" in envelope["error"]["message"]


def test_unknown_field_is_rejected_and_named(no_aws: None) -> None:
    envelope = invoke({"operation": "get_index", "index_arn": INDEX_ARN, "topk": 5})
    assert error_code(envelope) == "UNKNOWN_FIELD"
    assert "topk" in envelope["error"]["message"]
    # A field of another operation is unknown here too.
    assert error_code(invoke({"operation": "health", "top_k": 5})) == "UNKNOWN_FIELD"


def test_raise_on_error_must_be_boolean(no_aws: None) -> None:
    assert error_code(invoke({"operation": "health", "raise_on_error": "yes"})) == "INVALID_FIELD_TYPE"


def test_raise_on_error_turns_envelope_errors_into_function_errors(no_aws: None) -> None:
    with pytest.raises(HandlerError) as raised:
        invoke({"operation": "get_index", "raise_on_error": True})
    assert raised.value.code == "MISSING_FIELD"
    assert "MISSING_FIELD" in str(raised.value)
    with pytest.raises(HandlerError) as raised:
        invoke({"operation": "no_such_operation", "raise_on_error": True})
    assert raised.value.code == "UNKNOWN_OPERATION"


def test_raise_on_error_success_still_returns_envelope(no_aws: None) -> None:
    assert invoke({"operation": "health", "raise_on_error": True})["ok"] is True


def test_request_id_is_generated_without_context(no_aws: None) -> None:
    import lambda_function

    first = lambda_function.lambda_handler({"operation": "health"}, None)
    second = lambda_function.lambda_handler({"operation": "health"}, None)
    assert first["ok"] and first["request_id"] and first["request_id"] != second["request_id"]


def test_one_json_log_line_per_invocation_without_vector_data(
    no_aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    invoke(
        {
            "operation": "query_vectors",
            "index_arn": INDEX_ARN,
            "query_vector": [0.123456, 9.87654, float("nan")],
        },
        FakeContext(aws_request_id="log-req"),
    )
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["request_id"] == "log-req"
    assert record["operation"] == "query_vectors"
    assert record["index_arn"] == INDEX_ARN
    assert record["ok"] is False and record["error_code"] == "NON_FINITE_VALUE"
    assert isinstance(record["duration_ms"], float)
    assert "0.123456" not in lines[0] and "9.87654" not in lines[0]
