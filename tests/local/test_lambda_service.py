"""The local Lambda service driven by the real AWS CLI, as the walkthrough drives Lambda."""

from __future__ import annotations

import base64
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from lambda_test_zips import BEHAVIOURS_HANDLER, IMPORT_ERROR_HANDLER, SECOND_VERSION_HANDLER, build_zip
from s3vl_local.lambda_service.server import LambdaService
from s3vl_local.processes import is_alive

AWS = str(Path(sys.executable).with_name("aws"))
ARN_PREFIX = "arn:aws:lambda:us-west-2:000000000000:function:"


class Cli:
    """Runs `aws lambda ...` against the service; one attempt only, so a 429 is seen, not retried."""

    def __init__(self, service: LambdaService, workdir: Path) -> None:
        self.workdir = workdir
        self.env = {
            **os.environ,
            "AWS_ENDPOINT_URL_LAMBDA": service.url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-west-2",
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_RETRY_MODE": "standard",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [AWS, "lambda", *args, "--output", "json"],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def invoke(self, *args: str, payload: dict[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
        """(invoke's metadata output, the decoded response payload or None)."""
        out = self.workdir / "response.json"
        out.unlink(missing_ok=True)
        extra = ["--payload", json.dumps(payload)] if payload is not None else []
        done = self.run("invoke", *args, *extra, str(out))
        body = out.read_text() if out.exists() else ""
        return json.loads(done.stdout), (json.loads(body) if body else None)

    def create(
        self, name: str, zip_path: Path, timeout: int = 3, extra: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        done = self.run(
            "create-function",
            "--function-name",
            name,
            "--runtime",
            "python3.11",
            "--role",
            "arn:aws:iam::000000000000:role/s3vl-test",
            "--handler",
            "lambda_function.lambda_handler",
            "--zip-file",
            f"fileb://{zip_path}",
            "--timeout",
            str(timeout),
            *extra,
        )
        return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def cli(lambda_service: LambdaService, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    workdir = tmp_path_factory.mktemp("lambda-cli")
    (workdir / "behaviours.zip").write_bytes(build_zip(BEHAVIOURS_HANDLER))
    (workdir / "second.zip").write_bytes(build_zip(SECOND_VERSION_HANDLER))
    (workdir / "import-error.zip").write_bytes(build_zip(IMPORT_ERROR_HANDLER))
    client = Cli(lambda_service, workdir)
    created = client.create(
        "behaviours",
        workdir / "behaviours.zip",
        timeout=2,
        extra=("--environment", "Variables={S3VL_TEST_VARIABLE=from-config}", "--memory-size", "256"),
    )
    assert created["State"] == "Active" and created["FunctionArn"] == ARN_PREFIX + "behaviours"
    return client


def test_request_response_runs_the_handler_with_lambdas_context_and_environment(
    cli: Cli, lambda_service: LambdaService
) -> None:
    meta, payload = cli.invoke("--function-name", "behaviours", payload={"hello": "world"})
    assert meta == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    assert payload["echo"] == {"hello": "world"}
    assert payload["function_name"] == "behaviours"
    assert payload["function_version"] == "$LATEST"
    assert payload["memory_limit_in_mb"] == "256"
    assert payload["invoked_function_arn"] == ARN_PREFIX + "behaviours"
    assert 0 < payload["remaining_ms"] <= 2000
    assert len(payload["aws_request_id"]) == 36
    env = payload["env"]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-west-2"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "behaviours"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/behaviours"
    assert env["AWS_ENDPOINT_URL_S3VECTORS"] == "http://127.0.0.1:9"  # the service's function_env
    assert env["AWS_ENDPOINT_URL_LAMBDA"] == lambda_service.url  # a function invokes functions here
    assert env["S3VL_TEST_VARIABLE"] == "from-config"
    assert env["AWS_ACCESS_KEY_ID"]  # dummy credentials, never the caller's
    assert payload["cwd"] == env["LAMBDA_TASK_ROOT"]


def test_workers_stay_warm_between_invocations(cli: Cli) -> None:
    _, first = cli.invoke("--function-name", "behaviours", payload={})
    _, second = cli.invoke("--function-name", "behaviours", payload={})
    assert first["pid"] == second["pid"]
    assert first["aws_request_id"] != second["aws_request_id"]


@pytest.mark.parametrize(
    "args",
    [
        ("--function-name", ARN_PREFIX + "behaviours"),
        ("--function-name", "000000000000:function:behaviours"),
        ("--function-name", "behaviours:$LATEST"),
        ("--function-name", "behaviours", "--qualifier", "$LATEST"),
        ("--function-name", ARN_PREFIX + "behaviours", "--qualifier", "$LATEST"),
    ],
)
def test_name_arn_partial_arn_and_qualifier_forms(cli: Cli, args: tuple[str, ...]) -> None:
    meta, payload = cli.invoke(*args, payload={"form": 1})
    assert meta["StatusCode"] == 200
    assert payload["echo"] == {"form": 1}


def test_unknown_function_or_qualifier_is_resource_not_found(cli: Cli) -> None:
    missing = cli.run("invoke", "--function-name", "no-such-function", "out.json", check=False)
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr
    assert f"Function not found: {ARN_PREFIX}no-such-function" in missing.stderr
    version = cli.run("invoke", "--function-name", "behaviours", "--qualifier", "7", "out.json", check=False)
    assert "ResourceNotFoundException" in version.stderr
    assert f"{ARN_PREFIX}behaviours:7" in version.stderr


def test_event_is_accepted_with_202_and_runs_in_the_background(
    cli: Cli, lambda_service: LambdaService
) -> None:
    marker = f"event-marker-{time.time_ns()}"
    meta, payload = cli.invoke(
        "--function-name", "behaviours", "--invocation-type", "Event", payload={"m": marker}
    )
    assert meta == {"StatusCode": 202}
    assert payload is None
    log = lambda_service.function_log("behaviours")
    deadline = time.monotonic() + 10
    while marker not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, "the Event invocation never ran"
        time.sleep(0.05)


def _wait_for(predicate: Any, what: str, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _log_count(service: LambdaService, name: str, text: str) -> int:
    log = service.function_log(name)
    return log.read_text().count(text) if log.exists() else 0


def test_event_that_fails_every_attempt_is_retried_twice_then_dead_lettered(
    cli: Cli, lambda_service: LambdaService
) -> None:
    marker = f"always-fails-{time.time_ns()}"
    meta, _ = cli.invoke(
        "--function-name", "behaviours", "--invocation-type", "Event", payload={"raise": marker}
    )
    assert meta == {"StatusCode": 202}
    dead_letters = lambda_service.dead_letters("behaviours")

    def dead_lettered() -> list[dict[str, Any]]:
        lines = dead_letters.read_text().splitlines() if dead_letters.exists() else []
        return [r for r in map(json.loads, lines) if marker in r["Body"]]

    _wait_for(dead_lettered, "the failing event never reached the dead-letter file")
    (record,) = dead_lettered()
    assert (
        record["Attempts"] == 3 and record["ErrorCode"] == "ValueError" and marker in record["ErrorMessage"]
    )
    assert json.loads(record["Body"]) == {"raise": marker}
    assert record["FunctionArn"] == ARN_PREFIX + "behaviours"
    # Three attempts, all under the one request id, as Lambda retries an asynchronous invocation.
    request_id = record["RequestID"]
    assert _log_count(lambda_service, "behaviours", f"START RequestId: {request_id}") == 3


def test_event_that_fails_once_succeeds_on_its_retry(
    cli: Cli, lambda_service: LambdaService, tmp_path: Path
) -> None:
    flag = tmp_path / "failed-once"
    meta, _ = cli.invoke(
        "--function-name", "behaviours", "--invocation-type", "Event", payload={"fail_once": str(flag)}
    )
    assert meta == {"StatusCode": 202}
    _wait_for(lambda: _log_count(lambda_service, "behaviours", f"'fail_once': '{flag}'") == 2, "no retry ran")
    time.sleep(0.2)  # a third attempt or a dead letter would follow at once
    assert _log_count(lambda_service, "behaviours", f"'fail_once': '{flag}'") == 2
    dead_letters = lambda_service.dead_letters("behaviours")
    assert not dead_letters.exists() or str(flag) not in dead_letters.read_text()


def test_event_waiting_for_its_retry_when_the_service_stops_is_dead_lettered(tmp_path: Path) -> None:
    service = LambdaService(tmp_path / "state", event_retry_delays_s=(60.0, 60.0)).start()
    try:
        cli = Cli(service, tmp_path)
        (tmp_path / "f.zip").write_bytes(build_zip(BEHAVIOURS_HANDLER))
        cli.create("stopping", tmp_path / "f.zip")
        cli.invoke("--function-name", "stopping", "--invocation-type", "Event", payload={"raise": "stop"})
        _wait_for(lambda: _log_count(service, "stopping", "END RequestId") == 1, "the event never ran")
    finally:
        started = time.monotonic()
        service.stop()
    assert time.monotonic() - started < 10  # the wait for the retry ends with the service
    (record,) = [json.loads(line) for line in service.dead_letters("stopping").read_text().splitlines()]
    assert record["Attempts"] == 1 and record["ErrorCode"] == "ValueError"


def test_dry_run_answers_204_without_running(cli: Cli, lambda_service: LambdaService) -> None:
    marker = f"dry-run-marker-{time.time_ns()}"
    meta, payload = cli.invoke(
        "--function-name", "behaviours", "--invocation-type", "DryRun", payload={"m": marker}
    )
    assert meta == {"StatusCode": 204}
    assert payload is None
    log = lambda_service.function_log("behaviours")  # absent when nothing has run yet
    assert not log.exists() or marker not in log.read_text()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"v": [0.25, -1.5e-7, 3]}', 204),
        (b'{"v": NaN}', 204),  # accepted as Python's json accepts it
        (b'"\\ud800"', 204),  # a lone surrogate escape
        ('{"v": 1}'.encode("utf-16"), 204),
        ('{"v": 1}'.encode("utf-32"), 204),
        (b'{"v": ', 400),
        (b"\xff", 400),
        (b"{'v': 1}", 400),
    ],
)
def test_invoke_payload_must_be_json(
    cli: Cli, lambda_service: LambdaService, body: bytes, status: int
) -> None:
    url = urlsplit(lambda_service.url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    try:
        connection.request(
            "POST", "/2015-03-31/functions/behaviours/invocations", body=body,
            headers={"X-Amz-Invocation-Type": "DryRun"},
        )  # fmt: skip
        response = connection.getresponse()
        answer = response.read()
    finally:
        connection.close()
    assert response.status == status, answer
    if status == 400:
        assert response.headers["x-amzn-ErrorType"] == "InvalidRequestContentException"
        assert b"Could not parse request body into json" in answer


def test_log_type_tail_returns_the_invocation_log(cli: Cli) -> None:
    meta, _ = cli.invoke("--function-name", "behaviours", "--log-type", "Tail", payload={"tail": "me"})
    log = base64.b64decode(meta["LogResult"]).decode()
    lines = log.splitlines()
    assert lines[0].startswith("START RequestId: ") and lines[0].endswith("Version: $LATEST")
    assert "event {'tail': 'me'}" in log
    assert lines[-2].startswith("END RequestId: ")
    assert lines[-1].startswith("REPORT RequestId: ") and "\tDuration: " in lines[-1]
    assert "Memory Size: 256 MB" in lines[-1]


def test_cold_start_reports_init_duration(cli: Cli, tmp_path: Path) -> None:
    cli.run("update-function-configuration", "--function-name", "behaviours", "--description", "cold again")
    meta, _ = cli.invoke("--function-name", "behaviours", "--log-type", "Tail", payload={})
    report = base64.b64decode(meta["LogResult"]).decode().splitlines()[-1]
    assert "\tInit Duration: " in report
    assert "module initialised" in base64.b64decode(meta["LogResult"]).decode()
    meta, _ = cli.invoke("--function-name", "behaviours", "--log-type", "Tail", payload={})
    assert "Init Duration" not in base64.b64decode(meta["LogResult"]).decode()


def test_handler_that_raises_is_a_function_error(cli: Cli) -> None:
    meta, payload = cli.invoke("--function-name", "behaviours", payload={"raise": "bad input"})
    assert meta["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "bad input"
    assert any("lambda_handler" in frame for frame in payload["stackTrace"])


def test_handler_past_its_timeout_is_killed(cli: Cli) -> None:
    _, before = cli.invoke("--function-name", "behaviours", payload={})
    meta, payload = cli.invoke("--function-name", "behaviours", "--log-type", "Tail", payload={"sleep": 30})
    assert meta["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert payload["errorMessage"].endswith("Task timed out after 2.00 seconds")
    assert "Status: timeout" in base64.b64decode(meta["LogResult"]).decode()
    assert not is_alive(before["pid"])  # the worker that ran it is gone
    _, after = cli.invoke("--function-name", "behaviours", payload={})
    assert after["pid"] != before["pid"]


def test_handler_that_exits_the_process_is_a_runtime_exit_error(cli: Cli) -> None:
    meta, payload = cli.invoke("--function-name", "behaviours", payload={"exit": 3})
    assert meta["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError"
    assert payload["errorMessage"].endswith("Runtime exited with error: exit status 3")
    _, healthy = cli.invoke("--function-name", "behaviours", payload={"still": "works"})
    assert healthy["echo"] == {"still": "works"}


def test_import_error_is_reported_as_lambda_does(cli: Cli) -> None:
    cli.create("import-error", cli.workdir / "import-error.zip")
    meta, payload = cli.invoke("--function-name", "import-error", payload={})
    assert meta["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "module_that_does_not_exist" in payload["errorMessage"]


def test_concurrency_limit_answers_429(cli: Cli, lambda_service: LambdaService) -> None:
    cli.create("throttled", cli.workdir / "behaviours.zip", timeout=5)
    cli.run(
        "put-function-concurrency", "--function-name", "throttled", "--reserved-concurrent-executions", "1"
    )
    busy = threading.Thread(
        target=cli.invoke, args=("--function-name", "throttled"), kwargs={"payload": {"sleep": 2}}
    )
    busy.start()
    try:
        # Wait until the handler of the first invocation runs: it holds the only slot for 2 s.
        worker_logs = lambda_service.log_dir / "throttled"
        deadline = time.monotonic() + 20
        while not any("'sleep': 2" in log.read_text() for log in worker_logs.glob("*.log")):
            assert time.monotonic() < deadline, "the first invocation never started"
            time.sleep(0.02)
        refused = cli.run("invoke", "--function-name", "throttled", "out.json", check=False)
        assert refused.returncode != 0
        assert "TooManyRequestsException" in refused.stderr and "Rate Exceeded." in refused.stderr
    finally:
        busy.join()
    meta, _ = cli.invoke("--function-name", "throttled", payload={})
    assert meta["StatusCode"] == 200
    cli.run(
        "put-function-concurrency", "--function-name", "throttled", "--reserved-concurrent-executions", "0"
    )
    assert (
        "TooManyRequestsException"
        in cli.run("invoke", "--function-name", "throttled", "o", check=False).stderr
    )


def test_update_function_code_and_get_function_as_in_the_walkthrough(cli: Cli) -> None:
    cli.create("updatable", cli.workdir / "behaviours.zip")
    _, first = cli.invoke("--function-name", "updatable", payload={})
    assert first["version"] == 1
    updated = json.loads(
        cli.run(
            "update-function-code", "--function-name", "updatable", "--zip-file", "fileb://second.zip"
        ).stdout
    )
    assert updated["CodeSize"] == (cli.workdir / "second.zip").stat().st_size
    _, second = cli.invoke("--function-name", "updatable", payload={})
    assert second == {"version": 2}  # the warm worker of the old code was retired
    shown = cli.run(
        "get-function",
        "--function-name",
        "updatable",
        "--query",
        "Configuration.[FunctionName,LastModified,CodeSize,State,LastUpdateStatus]",
    )
    name, last_modified, code_size, state, status = json.loads(shown.stdout)
    assert (name, code_size, state, status) == ("updatable", updated["CodeSize"], "Active", "Successful")
    assert last_modified == updated["LastModified"]


def test_create_twice_conflicts_and_bad_zip_is_refused(cli: Cli) -> None:
    again = cli.run(
        "create-function",
        "--function-name",
        "behaviours",
        "--runtime",
        "python3.11",
        "--role",
        "r",
        "--handler",
        "h.h",
        "--zip-file",
        "fileb://behaviours.zip",
        check=False,
    )
    assert "ResourceConflictException" in again.stderr
    corrupt = bytearray((cli.workdir / "behaviours.zip").read_bytes())
    corrupt[60:80] = bytes(20)  # inside the compressed member: the archive's CRC check fails
    (cli.workdir / "corrupt.zip").write_bytes(bytes(corrupt))
    bad = cli.run(
        "update-function-code",
        "--function-name",
        "behaviours",
        "--zip-file",
        "fileb://corrupt.zip",
        check=False,
    )
    assert "InvalidParameterValueException" in bad.stderr and "Could not unzip" in bad.stderr


def test_service_restart_keeps_functions_and_stop_ends_every_worker(tmp_path: Path) -> None:
    state = tmp_path / "state"
    service = LambdaService(state).start()
    try:
        cli = Cli(service, tmp_path)
        (tmp_path / "f.zip").write_bytes(build_zip(BEHAVIOURS_HANDLER))
        cli.create("persisted", tmp_path / "f.zip")
        _, payload = cli.invoke("--function-name", "persisted", payload={})
        worker_pid = payload["pid"]
        assert is_alive(worker_pid)
    finally:
        service.stop()
    assert not is_alive(worker_pid)
    restarted = LambdaService(state).start()
    try:
        _, payload = Cli(restarted, tmp_path).invoke("--function-name", "persisted", payload={"back": True})
        assert payload["echo"] == {"back": True}
    finally:
        restarted.stop()
