"""The shim keeps one connection per session to the Lambda service: reused while the service runs, never
reused after a timeout, and a stopped or restarted service is found as it would be without it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from lambda_test_zips import create_function
from s3vl_local import local_aws
from s3vl_local.aurora_shim.installer import install_shim
from s3vl_local.lambda_service.server import LambdaService
from s3vl_local.postgres import PostgresCluster, make_shared_dir

DB = "shim_connection"
FN = "shim-connection"
CALL = f"SELECT payload FROM aws_lambda.invoke('{FN}', %s::json)"


def _create_function(service: LambdaService) -> None:
    create_function(local_aws.client("lambda", service.url), FN, Timeout=5)


@pytest.fixture(scope="module")
def state_dir() -> Iterator[Path]:
    path = make_shared_dir(Path(tempfile.mkdtemp(prefix="s3vl-shim-connection-")))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def service(pg_cluster: PostgresCluster, state_dir: Path) -> Iterator[LambdaService]:
    """A service of this module's own, so that the tests can stop and restart it."""
    started = LambdaService(state_dir / "lambda").start()
    try:
        _create_function(started)
        pg_cluster.create_database(DB)
        install_shim(pg_cluster, DB, started.url)
        yield started
    finally:
        started.stop()


def test_after_a_request_timeout_the_next_call_gets_its_own_answer(
    pg_cluster: PostgresCluster, service: LambdaService
) -> None:
    with psycopg.connect(pg_cluster.dsn(dbname=DB), autocommit=True) as conn:
        conn.execute("SET aws_lambda.request_timeout_ms = 300")
        with pytest.raises(psycopg.Error) as caught:
            conn.execute(CALL, ('{"sleep": 1, "call": 1}',))
        assert caught.value.sqlstate == "57014"
        conn.execute("RESET aws_lambda.request_timeout_ms")
        # The first call's answer arrives on the connection it was asked on; that one was dropped.
        (payload,) = conn.execute(CALL, ('{"call": 2}',)).fetchone()
    assert payload["echo"] == {"call": 2}


def test_a_stopped_service_is_not_reached_and_a_restarted_one_is(
    pg_cluster: PostgresCluster, service: LambdaService, state_dir: Path
) -> None:
    port = int(service.url.rsplit(":", 1)[1])
    with psycopg.connect(pg_cluster.dsn(dbname=DB), autocommit=True) as conn:
        for call in (1, 2):
            (payload,) = conn.execute(CALL, (f'{{"call": {call}}}',)).fetchone()
            assert payload["echo"] == {"call": call}
        service.stop()
        with pytest.raises(psycopg.Error) as caught:
            conn.execute(CALL, ('{"call": 3}',))
        assert caught.value.sqlstate == "08001"
        assert "Could not connect to the endpoint URL" in (caught.value.diag.message_detail or "")
        restarted = LambdaService(state_dir / "lambda", port=port).start()  # the function persisted
        try:
            (payload,) = conn.execute(CALL, ('{"call": 4}',)).fetchone()
        finally:
            restarted.stop()
    assert payload["echo"] == {"call": 4}
