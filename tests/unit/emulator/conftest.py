"""Fixtures for the S3 Vectors emulator tests: an in-memory emulator on loopback and boto3 clients for it."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from s3vl_local import local_aws
from s3vl_local.s3vectors.server import EmulatorServer
from support.s3vectors import create_bucket_and_index

_names = itertools.count()


def make_client(url: str, validate: bool = True) -> Any:
    return local_aws.client(
        "s3vectors", url, config=Config(parameter_validation=validate, retries={"max_attempts": 1})
    )


@contextlib.contextmanager
def emulator_on(data_dir: Path) -> Iterator[Any]:
    """A client of an emulator that keeps its data in `data_dir`, stopped on leaving whatever happened;
    its URL is the client's meta.endpoint_url."""
    server = EmulatorServer(data_dir=data_dir).start()
    try:
        yield make_client(server.url)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    server = EmulatorServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(emulator: EmulatorServer) -> Any:
    """A boto3 client that also records each raw response body in client.raw_bodies[operation]."""
    c = make_client(emulator.url)
    c.raw_bodies = {}

    def record(http_response: Any, model: Any, **_: Any) -> None:
        c.raw_bodies[model.name] = json.loads(http_response.content or b"{}")

    c.meta.events.register("after-call.s3vectors", record)
    return c


@pytest.fixture(scope="module")
def raw_client(emulator: EmulatorServer) -> Any:
    """A boto3 client with botocore's own parameter validation off, so the emulator's checks are reached."""
    return make_client(emulator.url, validate=False)


@pytest.fixture
def new_index(client: Any) -> Callable[..., dict[str, str]]:
    """Create a fresh bucket + index; returns the selector {vectorBucketName, indexName}."""

    def create(dimension: int = 4, metric: str = "cosine", **extra: Any) -> dict[str, str]:
        n = next(_names)
        return create_bucket_and_index(client, f"bucket-{n}", f"index-{n}", dimension, metric, **extra)

    return create
