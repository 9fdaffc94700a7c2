"""Clients: one per region, reused, configured for retries and the function's remaining time."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ParamValidationError
from s3vl_lambda import deadline
from s3vl_lambda.clients import client_for, timeouts_for
from s3vl_lambda.permissions import OPERATION_ACTIONS

from .conftest import ACCOUNT, FakeContext, error_code, invoke


def test_one_client_per_region_reused() -> None:
    first = client_for("eu-central-1")
    assert client_for("eu-central-1") is first
    assert client_for("eu-west-3") is not first
    assert client_for("eu-west-3").meta.region_name == "eu-west-3"


def test_client_uses_standard_retries_and_bounded_timeouts() -> None:
    config = client_for("eu-central-1").meta.config
    assert config.retries["mode"] == "standard"
    assert config.retries["total_max_attempts"] == 3
    assert config.connect_timeout <= 2.0 and config.read_timeout <= 30.0


def test_only_the_bulk_callers_one_attempt_client_skips_botocores_parameter_check() -> None:
    # Its callers' parameters are checked by the handler; every other call keeps botocore's check. An
    # empty key breaks the model's length rule: botocore refuses it, or sends it (answered here, unsent).
    sent: list[bytes] = []

    def answer(request: Any, **_: Any) -> AWSResponse:
        sent.append(request.body)
        return AWSResponse(request.url, 200, {}, _Raw(b'{"vectors": []}'))

    arn = f"arn:aws:s3vectors:eu-central-1:{ACCOUNT}:bucket/b-1/index/i-1"
    for client in (client_for("eu-central-1"), client_for("eu-central-1", attempts=1)):
        client.meta.events.register("before-send.s3vectors.GetVectors", answer, unique_id="test-bulk")
    try:
        with pytest.raises(ParamValidationError):
            client_for("eu-central-1").get_vectors(indexArn=arn, keys=[""])
        assert sent == []
        assert client_for("eu-central-1", attempts=1).get_vectors(indexArn=arn, keys=[""])["vectors"] == []
        assert len(sent) == 1 and b'"keys": [""]' in sent[0]
    finally:
        for client in (client_for("eu-central-1"), client_for("eu-central-1", attempts=1)):
            client.meta.events.unregister("before-send.s3vectors.GetVectors", unique_id="test-bulk")


class _Raw:
    """A urllib3 response's body as botocore reads it."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *_: Any, **__: Any) -> Any:
        yield self._body


@pytest.mark.parametrize("budget_s", [0.2, 2.5, 9.5, 59.5, 899.5])
def test_one_attempt_fits_in_half_the_budget(budget_s: float) -> None:
    connect, read = timeouts_for(budget_s)
    assert 0.5 <= connect <= 2.0 and 1.0 <= read <= 30.0
    if budget_s >= 3.0:
        assert connect + read <= budget_s / 2


def test_timeouts_come_from_the_remaining_time_of_the_creating_invocation() -> None:
    deadline.start(FakeContext(remaining_ms=3000))
    try:
        config = client_for("ca-west-1").meta.config
    finally:
        deadline.finish()
    assert (config.connect_timeout, config.read_timeout) == (0.5, 1.0)


def test_endpoint_comes_from_aws_endpoint_url_s3vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3VECTORS", "http://127.0.0.1:9")
    assert client_for("il-central-1").meta.endpoint_url == "http://127.0.0.1:9"


def test_no_attempt_starts_when_the_remaining_time_cannot_hold_it(moto_index: str) -> None:
    envelope = invoke({"operation": "get_index", "index_arn": moto_index}, FakeContext(remaining_ms=600))
    assert error_code(envelope) == "DEADLINE_EXCEEDED"
    assert "raise the Lambda timeout" in envelope["error"]["message"]
    assert envelope["error"]["retryable"] is True


def test_deadline_outside_an_invocation_is_unbounded() -> None:
    assert deadline.current().remaining_s() > 30


@pytest.mark.parametrize(
    ("event", "operation"),
    [
        ({"operation": "health", "index_arn": "ARN"}, "health"),
        ({"operation": "get_index", "index_arn": "ARN"}, "get_index"),
        (
            {"operation": "get_vectors", "index_arn": "ARN", "keys": [f"k{n}" for n in range(150)]},
            "get_vectors",
        ),
        ({"operation": "list_vectors", "index_arn": "ARN", "return_data": True}, "list_vectors"),
        (
            {"operation": "put_vectors", "index_arn": "ARN", "vectors": [{"key": "k", "data": [1, 2, 3]}]},
            "put_vectors",
        ),
        ({"operation": "delete_vectors", "index_arn": "ARN", "keys": ["k"]}, "delete_vectors"),
    ],
)
def test_each_operation_calls_only_its_declared_iam_actions(
    event: dict[str, object], operation: str, moto_index: str
) -> None:
    called: list[str] = []
    events = client_for("us-east-1").meta.events

    def record(model: object, **_: object) -> None:
        called.append("s3vectors:" + str(getattr(model, "name", "")))

    events.register("provide-client-params.s3vectors", record, unique_id="test-actions")
    try:
        envelope = invoke({**event, "index_arn": moto_index})
    finally:
        events.unregister("provide-client-params.s3vectors", unique_id="test-actions")
    assert envelope["ok"] is True, envelope
    assert called and set(called) <= OPERATION_ACTIONS[operation]


def test_query_vectors_calls_only_its_declared_iam_actions() -> None:
    from botocore.stub import Stubber

    arn = f"arn:aws:s3vectors:sa-east-1:{ACCOUNT}:bucket/test-bucket/index/test-index"
    client = client_for("sa-east-1")
    called: list[str] = []
    client.meta.events.register(
        "provide-client-params.s3vectors",
        lambda model, **_: called.append("s3vectors:" + model.name),
        unique_id="q",
    )
    with Stubber(client) as stub:
        stub.add_response("query_vectors", {"vectors": [], "distanceMetric": "cosine", "nextToken": "t"})
        stub.add_response("query_vectors", {"vectors": [], "distanceMetric": "cosine"})
        envelope = invoke(
            {"operation": "query_vectors", "index_arn": arn, "query_vector": [1.0], "filter": {"a": 1}}
        )
    client.meta.events.unregister("provide-client-params.s3vectors", unique_id="q")
    assert envelope["ok"] is True
    assert called == ["s3vectors:QueryVectors", "s3vectors:QueryVectors"]
    assert set(called) <= OPERATION_ACTIONS["query_vectors"]
