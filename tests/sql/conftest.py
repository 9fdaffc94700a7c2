"""Fixtures for the s3vl schema tests: a database on the local stack with the shim and s3vl installed,
configured to the stack's Lambda function, and S3 Vectors indexes (created with boto3 on the emulator)
registered from SQL. Every call goes through the real chain: SQL -> shim -> Lambda service -> zip ->
emulator. The helpers are in tests/support/sql_stack.py, shared with the reliability suite.
"""

from __future__ import annotations

import contextlib
import json
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import psycopg
import pytest
from support.sql_stack import BUCKET as BUCKET
from support.sql_stack import DBNAME as DBNAME
from support.sql_stack import REPO as REPO
from support.sql_stack import SQL_DIR as SQL_DIR
from support.sql_stack import Index as Index
from support.sql_stack import SqlStack as SqlStack
from support.sql_stack import create_index
from support.sql_stack import raises_sqlstate as raises_sqlstate
from support.sql_stack import run_psql as run_psql


@pytest.fixture(scope="session")
def sql_stack(local_stack: Any) -> Iterator[SqlStack]:
    env = local_stack.env()
    stack = SqlStack(stack=local_stack, env=env, function_arn=env["S3VL_LAMBDA_FUNCTION_ARN"])
    stack.create_database(DBNAME)
    stack.install()
    client = stack.s3vectors()
    client.create_vector_bucket(vectorBucketName=BUCKET)

    sample = json.loads((REPO / "sample-data" / "sample-vectors.json").read_text())
    walk = Index(
        "test-index-5d",
        "",
        "cosine",
        [v["key"] for v in sample],
        np.array([v["data"]["float32"] for v in sample], dtype=np.float32),
        [v["metadata"] for v in sample],
    )
    rng = np.random.default_rng(20250715)
    n64 = 600
    rand = Index(
        "rand-64",
        "",
        "cosine",
        [f"r{i:04d}" for i in range(n64)],
        rng.standard_normal((n64, 64)).astype(np.float32),
        [{"group": f"g{i % 5}", "rank": i, "even": i % 2 == 0} for i in range(n64)],
    )
    euc = Index(
        "euc-8",
        "",
        "euclidean",
        [f"e{i:03d}" for i in range(200)],
        rng.standard_normal((200, 8)).astype(np.float32),
        [{"half": i < 100} for i in range(200)],
    )
    for index, remote in ((walk, "walk-5d"), (rand, "rand-64"), (euc, "euc-8")):
        index.arn = create_index(
            client, remote, index.data.shape[1], index.metric, index.keys, index.data, index.metadata
        )
        stack.indexes[index.name] = index

    with stack.connect() as conn:
        conn.execute("SELECT s3vl.configure(%s)", (stack.function_arn,))
        for index in stack.indexes.values():
            conn.execute(
                "SELECT s3vl.register_index(%s, %s, %s)", (index.name, index.arn, f"{index.name} tests")
            )
    try:
        yield stack
    finally:
        stack.drop_database(DBNAME)


@pytest.fixture
def conn(sql_stack: SqlStack) -> Iterator[psycopg.Connection[Any]]:
    with sql_stack.connect() as connection:
        yield connection


@contextlib.contextmanager
def emulator_fault(sql_stack: SqlStack, plan: dict[str, Any]) -> Iterator[Callable[[], dict[str, Any]]]:
    """A fault plan on the stack's S3 Vectors emulator (its /_s3vl/faults control API), cleared after;
    yields a function that reads the emulator's fault state (what it injected)."""
    url = sql_stack.env["AWS_ENDPOINT_URL_S3VECTORS"] + "/_s3vl/faults"

    def call(method: str, document: dict[str, Any] | None = None) -> dict[str, Any]:
        body = None if document is None else json.dumps(document).encode()
        with urllib.request.urlopen(
            urllib.request.Request(url, data=body, method=method), timeout=10
        ) as answer:
            assert answer.status == 200
            return json.loads(answer.read())  # type: ignore[no-any-return]

    call("PUT", plan)
    try:
        yield lambda: call("GET")
    finally:
        call("DELETE")
