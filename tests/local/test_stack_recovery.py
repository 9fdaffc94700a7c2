"""`s3vl-local up` after a part died, froze or lost its port leaves a stack whose parts reach each other
(SQL -> shim -> Lambda service -> function -> emulator), and `status` asks each part instead of trusting
its PID: exit 3 when a part is stopped, 4 when one runs but does not answer or points elsewhere."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from s3vl_local import local_aws, probes
from s3vl_local.aurora_shim.installer import set_endpoint
from s3vl_local.postgres import make_shared_dir
from s3vl_local.processes import is_alive, stop_pid, wait_until_dead
from s3vl_local.stack import DEMO_INDEX_ARN, LocalStack
from support.s3vectors import create_bucket_and_index

DB = "s3vl_recovery"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    state_dir = make_shared_dir(Path(tempfile.mkdtemp(prefix="s3vl-recovery-")))
    started = LocalStack(state_dir, dbname=DB)
    try:
        started.start()
        s3vectors = local_aws.client("s3vectors", started.env()["AWS_ENDPOINT_URL_S3VECTORS"])
        create_bucket_and_index(s3vectors, "s3vl-vector-bucket", "test-index-5d", 5)
        yield started
    finally:
        started.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def healthy(stack: LocalStack) -> LocalStack:
    """Each test starts from a working stack, whatever the one before it left."""
    stack.start()
    return stack


def s3vl_local(stack: LocalStack, command: str) -> subprocess.CompletedProcess[str]:
    args = [str(BIN / "s3vl-local"), command, "--state-dir", str(stack.state_dir), "--dbname", DB]
    return subprocess.run(args, capture_output=True, text=True, timeout=180, check=False)


def index_reachable_through_sql(stack: LocalStack) -> bool:
    """The whole chain: psql's backend invokes the function, whose handler asks the emulator for the index."""
    event = json.dumps({"operation": "health", "index_arn": DEMO_INDEX_ARN})
    with psycopg.connect(stack.pg.dsn(dbname=DB), autocommit=True) as conn:
        arn = stack.env()["S3VL_LAMBDA_FUNCTION_ARN"]
        row = conn.execute("SELECT payload FROM aws_lambda.invoke(%s, %s::jsonb)", (arn, event)).fetchone()
    assert row is not None and row[0]["ok"] is True, row
    return bool(row[0]["result"]["index"]["reachable"])


def bind_when_free(sock: socket.socket, port: int) -> None:
    """Just after a kill the kernel may refuse the port for a moment, while the dead server's connections
    close."""
    deadline = time.monotonic() + 5
    while True:
        try:
            sock.bind(("127.0.0.1", port))
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def kill(pid: int | None) -> None:
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert wait_until_dead(pid, 10)


def test_up_after_the_emulator_died_restarts_it_on_its_port(stack: LocalStack) -> None:
    url = stack.emulator.url()
    lambda_pid = stack.lambda_service.pid()
    assert index_reachable_through_sql(stack)
    kill(stack.emulator.pid())
    stopped = s3vl_local(stack, "status")
    assert stopped.returncode == 3 and "s3vectors  stopped" in stopped.stdout, stopped.stdout

    up = s3vl_local(stack, "up")
    assert up.returncode == 0, up.stderr
    assert stack.emulator.url() == url  # the port the Lambda service's functions were given
    assert stack.lambda_service.pid() == lambda_pid  # nothing else had to move
    assert index_reachable_through_sql(stack)
    assert s3vl_local(stack, "status").returncode == 0


def test_up_when_the_emulators_port_is_taken_moves_it_and_restarts_the_lambda_service(
    stack: LocalStack,
) -> None:
    old_url = stack.emulator.url()
    assert old_url is not None
    lambda_pid = stack.lambda_service.pid()
    kill(stack.emulator.pid())
    with socket.socket() as squatter:  # another program took the port meanwhile
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        bind_when_free(squatter, int(old_url.rsplit(":", 1)[1]))
        squatter.listen()
        up = s3vl_local(stack, "up")
        assert up.returncode == 0, up.stderr
        new_url = stack.emulator.url()
        assert new_url is not None and new_url != old_url
        assert stack.lambda_service.pid() != lambda_pid  # restarted: its functions call the new URL
        assert f"AWS_ENDPOINT_URL_S3VECTORS={new_url}\n" in (stack.state_dir / "stack.env").read_text()
        assert index_reachable_through_sql(stack)
        status = s3vl_local(stack, "status")
        assert status.returncode == 0, status.stdout


def test_status_finds_a_lambda_service_calling_another_emulator_and_up_restarts_it(
    stack: LocalStack,
) -> None:
    # What `up` did before ports were kept: the emulator came back elsewhere, the service kept the old URL.
    old_url = stack.emulator.url()
    kill(stack.emulator.pid())
    stack.emulator.port_file.unlink()
    new_url = stack.emulator.start()
    assert new_url != old_url
    assert not index_reachable_through_sql(stack)
    status = s3vl_local(stack, "status")
    assert status.returncode == 4, status.stdout
    assert f"its functions call S3 Vectors at {old_url}, not the emulator at {new_url}" in status.stdout
    assert "run `s3vl-local up`" in status.stdout

    assert s3vl_local(stack, "up").returncode == 0
    assert index_reachable_through_sql(stack)
    assert s3vl_local(stack, "status").returncode == 0


def test_status_finds_a_frozen_emulator_and_up_replaces_it(stack: LocalStack) -> None:
    url, frozen = stack.emulator.url(), stack.emulator.pid()
    assert frozen is not None
    os.kill(frozen, signal.SIGSTOP)  # alive, listening, never answering
    try:
        status = s3vl_local(stack, "status")
        assert status.returncode == 4, status.stdout
        assert "s3vectors  unreachable: no answer from" in status.stdout
        up = s3vl_local(stack, "up")
        assert up.returncode == 0, up.stderr
    finally:
        if is_alive(frozen):
            os.kill(frozen, signal.SIGCONT)
    assert not is_alive(frozen)
    assert stack.emulator.pid() not in (None, frozen) and stack.emulator.url() == url
    assert index_reachable_through_sql(stack)


def test_status_finds_a_shim_calling_another_endpoint_and_up_repoints_it(
    stack: LocalStack, refused_port: int
) -> None:
    set_endpoint(stack.pg, f"http://127.0.0.1:{refused_port}")
    status = s3vl_local(stack, "status")
    assert status.returncode == 4, status.stdout
    assert f"the shim calls http://127.0.0.1:{refused_port}, not the Lambda service" in status.stdout
    assert s3vl_local(stack, "up").returncode == 0
    assert index_reachable_through_sql(stack)


def test_up_replaces_a_lambda_service_that_does_not_answer(stack: LocalStack) -> None:
    url, frozen = stack.lambda_service.url(), stack.lambda_service.pid()
    assert frozen is not None
    os.kill(frozen, signal.SIGSTOP)
    try:
        assert s3vl_local(stack, "status").returncode == 4
        assert s3vl_local(stack, "up").returncode == 0
    finally:
        if is_alive(frozen):
            os.kill(frozen, signal.SIGCONT)
            stop_pid(frozen)
    assert stack.lambda_service.url() == url and stack.lambda_service.pid() != frozen
    assert index_reachable_through_sql(stack)


def test_status_and_up_neither_trip_nor_count_the_emulators_fault_plans(stack: LocalStack) -> None:
    url, pid = stack.emulator.url(), stack.emulator.pid()
    assert url is not None
    plan = {"operation": "*", "error": "ServiceUnavailableException"}  # every operation fails
    status, _ = probes.http_json(url, "PUT", "/_s3vl/faults", json.dumps(plan).encode())
    try:
        assert status == 200
        assert s3vl_local(stack, "status").returncode == 0
        assert s3vl_local(stack, "up").returncode == 0
        assert stack.emulator.pid() == pid  # not restarted: its plans are the user's
        _, state = probes.http_json(url, "GET", "/_s3vl/faults")
        assert state["plans"]["*"]["calls"] == 0
    finally:
        probes.http_json(url, "DELETE", "/_s3vl/faults")


def test_a_pid_file_naming_another_program_is_not_the_daemon(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path)
    stack.run_dir.mkdir()
    stack.emulator.pid_file.write_text(str(os.getpid()))  # a PID reused by an unrelated process
    stack.emulator.url_file.write_text("http://127.0.0.1:9")
    assert stack.emulator.pid() is None and stack.emulator.url() is None
    assert stack.status()["s3vectors"] == "stopped"
