"""Fixtures for the handler's unit tests: the real handler, real boto3 clients, AWS mocked by moto or
botocore's Stubber only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import lambda_function
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from s3vl_lambda.clients import client_for
from support.s3vectors import create_bucket_and_index

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "test-bucket"
INDEX = "test-index"
INDEX_ARN = f"arn:aws:s3vectors:{REGION}:{ACCOUNT}:bucket/{BUCKET}/index/{INDEX}"
# Stubbed tests use their own region, hence their own cached client.
STUB_REGION = "us-west-2"
STUB_ARN = f"arn:aws:s3vectors:{STUB_REGION}:{ACCOUNT}:bucket/{BUCKET}/index/{INDEX}"


@dataclass
class FakeContext:
    """The two attributes of Lambda's context object that the handler reads."""

    remaining_ms: int = 10_000
    aws_request_id: str = "req-0001"
    calls: list[int] = field(default_factory=list)

    def get_remaining_time_in_millis(self) -> int:
        self.calls.append(self.remaining_ms)
        return self.remaining_ms


def invoke(event: Any, context: Any = None) -> dict[str, Any]:
    return lambda_function.lambda_handler(event, context or FakeContext())


def query_params(vector: list[float], top_k: int = 10, **extra: Any) -> dict[str, Any]:
    """The QueryVectors parameters the handler sends for a query_vectors request on STUB_ARN (defaults but
    `vector`); `extra` adds or replaces parameters (filter, nextToken...)."""
    return {
        "indexArn": STUB_ARN,
        "topK": top_k,
        "queryVector": {"float32": vector},
        "returnDistance": True,
        "returnMetadata": False,
        **extra,
    }


def error_code(envelope: dict[str, Any]) -> str:
    assert envelope["ok"] is False, envelope
    return str(envelope["error"]["code"])


@pytest.fixture(autouse=True)
def dummy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def moto_index() -> Iterator[str]:
    """A 3-dimensional cosine index in moto; yields its ARN."""
    with mock_aws():
        client = boto3.client("s3vectors", region_name=REGION)
        create_bucket_and_index(client, BUCKET, INDEX, 3)
        yield INDEX_ARN


@pytest.fixture
def stub() -> Iterator[Stubber]:
    """A Stubber on the handler's own client for STUB_REGION; every queued response must be used."""
    stubber = Stubber(client_for(STUB_REGION))
    stubber.activate()
    try:
        yield stubber
        stubber.assert_no_pending_responses()
    finally:
        stubber.deactivate()


@pytest.fixture
def no_aws() -> Iterator[None]:
    """Any S3 Vectors call from the handler (in REGION or STUB_REGION) fails the test."""
    stubbers = [Stubber(client_for(region)) for region in (REGION, STUB_REGION)]
    for stubber in stubbers:
        stubber.activate()
    try:
        yield
    finally:
        for stubber in stubbers:
            stubber.deactivate()
