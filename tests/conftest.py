"""Shared fixtures: real PostgreSQL clusters, the local Lambda service and the whole local stack.

Every fixture that starts a process stops it in its teardown, whatever the tests did.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from s3vl_local.lambda_service.server import LambdaService
from s3vl_local.postgres import PostgresCluster, make_shared_dir
from s3vl_local.s3vectors.text_status import BUILD_RATE_VARIABLE as TEXT_BUILD_RATE_VARIABLE
from s3vl_local.stack import LocalStack

TEST_TEXT_BUILD_RATE = 2_500  # vectors per second (local_stack)


def _shared_temp_dir(prefix: str) -> Path:
    # tempfile creates 0700 directories; the postgres OS user (when we run as root) must traverse them.
    return make_shared_dir(Path(tempfile.mkdtemp(prefix=prefix)))


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """A started PostgreSQL 15 cluster in a temporary directory, destroyed after the session."""
    state_dir = _shared_temp_dir("s3vl-pg-")
    cluster = PostgresCluster(state_dir / "pgdata")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def lambda_service() -> Iterator[LambdaService]:
    """A started local Lambda service (no functions yet) in a temporary state directory."""
    state_dir = _shared_temp_dir("s3vl-lambda-")
    service = LambdaService(state_dir, function_env={"AWS_ENDPOINT_URL_S3VECTORS": "http://127.0.0.1:9"})
    try:
        service.start()
        yield service
    finally:
        service.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    """The whole local stack in a temporary directory: PostgreSQL, the S3 Vectors emulator and the Lambda
    service, the function s3vl-vector-query created from the current zip (package.sh builds it when
    missing) and the Aurora shim installed in database s3vl_test (the stack's PGDATABASE)."""
    state_dir = _shared_temp_dir("s3vl-stack-")
    stack = LocalStack(state_dir, dbname="s3vl_test")
    try:
        # The stack's emulator builds text search keys at 2,500 vectors/s (its default is 20,000), so a test
        # sees an index BUILDING for seconds on a loaded machine without loading a large index first. Only
        # the stack started here gets the setting: emulators other tests start keep the default.
        saved = os.environ.get(TEXT_BUILD_RATE_VARIABLE)
        os.environ[TEXT_BUILD_RATE_VARIABLE] = str(TEST_TEXT_BUILD_RATE)
        try:
            stack.start()
        finally:
            if saved is None:
                os.environ.pop(TEXT_BUILD_RATE_VARIABLE)
            else:
                os.environ[TEXT_BUILD_RATE_VARIABLE] = saved
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def refused_port() -> Iterator[int]:
    """A loopback port that refuses connections for the whole session: bound but never listening, so no
    other process can take it (a port that was merely free once may be reused by the time it is used)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
