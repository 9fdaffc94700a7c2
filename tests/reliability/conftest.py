"""Fixtures for the reliability suites: a database on the local stack with s3vl installed and configured,
S3 Vectors indexes with numpy ground truth, a second function with a short timeout, and the fault control
APIs of the emulator and the Lambda service. Built from the helpers shared with the SQL tests (tests/support).
"""

from __future__ import annotations

import hashlib
import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
import pytest
from support.sql_stack import REPO, Index, SqlStack, create_index, index_vectors

DBNAME = "s3vl_reliability"
BUCKET = "s3vl-reliability"
SHORT_FUNCTION = "s3vl-reliability-short"
SHORT_TIMEOUT_S = 3  # the short function's Lambda timeout
SHORT_CONFIGURED_S = 5  # s3vl's timeout_seconds while it is used (at least the function's, as documented)
ZIP = REPO / "source" / "lambda" / "build" / "sample-rds-lambda-s3vector.zip"
FAULTS_PATH = "/_s3vl/faults"


class FaultControl:
    """The /_s3vl/faults control API of the emulator or of the Lambda service (same paths, same verbs)."""

    def __init__(self, base_url: str) -> None:
        self.url = base_url + FAULTS_PATH

    def _call(self, method: str, document: Any = None) -> dict[str, Any]:
        body = None if document is None else json.dumps(document).encode()
        request = urllib.request.Request(self.url, data=body, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def set(self, *plans: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", list(plans))

    def state(self) -> dict[str, Any]:
        return self._call("GET")

    def injected(self) -> int:
        return sum(self.state()["injected"].values())

    def clear(self) -> None:
        self._call("DELETE")


@dataclass
class Faults:
    emulator: FaultControl
    lambda_service: FaultControl


@dataclass
class ReliabilityStack(SqlStack):
    """The SQL tests' stack wrapper, on this suite's own database and bucket."""

    short_function_arn: str = ""

    def connect(self, user: str = "postgres", dbname: str = DBNAME) -> psycopg.Connection[Any]:
        return super().connect(user, dbname)

    def index_checksum(self, index: str) -> tuple[int, str]:
        """(count, sha256) of every key, float32 vector and metadata of `index`, read with boto3 directly
        from the emulator (independent of the chain under test)."""
        digest = hashlib.sha256()
        items = [
            (
                v["key"],
                np.asarray(v["data"]["float32"], dtype=np.float32).tobytes(),
                json.dumps(v.get("metadata"), sort_keys=True),
            )
            for v in index_vectors(self.s3vectors(), index, BUCKET)
        ]
        for key, data, metadata in sorted(items):
            digest.update(key.encode() + b"\0" + data + metadata.encode() + b"\n")
        return len(items), digest.hexdigest()


def _random_index(name: str, metric: str, count: int, dim: int, seed: int) -> Index:
    rng = np.random.default_rng(seed)
    return Index(
        name,
        "",
        metric,
        [f"{name}-{i:05d}" for i in range(count)],
        rng.standard_normal((count, dim)).astype(np.float32),
        [{"group": f"g{i % 4}", "rank": i} for i in range(count)],
    )


@pytest.fixture(scope="session")
def rel_stack(local_stack: Any) -> Iterator[ReliabilityStack]:
    """s3vl in database s3vl_reliability, configured to the stack's function, with indexes:
    rel-16 (1200 cosine vectors, more than one get_vectors invocation), load-8 (euclidean, written by the
    load test) and bad-4 (the target of the bad-input suite)."""
    env = local_stack.env()
    stack = ReliabilityStack(stack=local_stack, env=env, function_arn=env["S3VL_LAMBDA_FUNCTION_ARN"])
    stack.create_database(DBNAME)
    stack.install(DBNAME)
    client = stack.s3vectors()
    client.create_vector_bucket(vectorBucketName=BUCKET)
    lam = stack.lambda_client()
    stack.short_function_arn = lam.create_function(
        FunctionName=SHORT_FUNCTION,
        Runtime="python3.11",
        Role="arn:aws:iam::000000000000:role/s3vl-reliability",
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": ZIP.read_bytes()},
        Timeout=SHORT_TIMEOUT_S,
    )["FunctionArn"]
    indexes = [
        _random_index("rel-16", "cosine", 1200, 16, 1),
        _random_index("load-8", "euclidean", 100, 8, 2),
        _random_index("bad-4", "cosine", 40, 4, 3),
    ]
    try:
        with stack.connect() as conn:
            conn.execute("SELECT s3vl.configure(%s)", (stack.function_arn,))
            for index in indexes:
                index.arn = create_index(
                    client, index.name, index.data.shape[1], index.metric, index.keys, index.data,
                    index.metadata, bucket=BUCKET,
                )  # fmt: skip
                stack.indexes[index.name] = index
                conn.execute("SELECT s3vl.register_index(%s, %s)", (index.name, index.arn))
        yield stack
    finally:
        stack.drop_database(DBNAME)
        lam.delete_function(FunctionName=SHORT_FUNCTION)
        for index in indexes:
            if index.arn:
                client.delete_index(vectorBucketName=BUCKET, indexName=index.name)
        client.delete_vector_bucket(vectorBucketName=BUCKET)


@pytest.fixture
def faults(rel_stack: ReliabilityStack) -> Iterator[Faults]:
    """Both fault control APIs, cleared before and after the test."""
    both = Faults(
        FaultControl(rel_stack.env["AWS_ENDPOINT_URL_S3VECTORS"]),
        FaultControl(rel_stack.env["AWS_ENDPOINT_URL_LAMBDA"]),
    )
    both.emulator.clear()
    both.lambda_service.clear()
    try:
        yield both
    finally:
        both.emulator.clear()
        both.lambda_service.clear()


@pytest.fixture
def conn(rel_stack: ReliabilityStack) -> Iterator[psycopg.Connection[Any]]:
    with rel_stack.connect() as connection:
        yield connection
