"""The whole local stack: `s3vl-local up`, a shell that sources stack.env and runs psql and the AWS CLI,
`up` twice, and `down` leaving no process behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from s3vl_local.postgres import PG_BIN, make_shared_dir
from s3vl_local.processes import is_alive
from s3vl_local.stack import DEFAULT_ZIP, LocalStack

BIN = Path(sys.executable).parent
STACK_ENV_KEYS = {
    "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "AWS_ENDPOINT_URL_S3VECTORS", "AWS_ENDPOINT_URL_LAMBDA",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "S3VL_LAMBDA_FUNCTION_ARN",
    "S3VL_S3_INDEX_ARN", "AWS_DATA_PATH",
}  # fmt: skip


def s3vl_local(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "s3vl-local"), *args], capture_output=True, text=True, timeout=180, check=False
    )


def processes_using(state_dir: Path) -> list[int]:
    """PIDs whose command line or working directory lies in `state_dir` (zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
        if (str(state_dir) in cmdline or cwd.startswith(str(state_dir))) and is_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def daemon_pids(state_dir: Path) -> dict[str, int | None]:
    """The postmaster and the stack's daemons (PostgreSQL's own children come and go)."""
    stack = LocalStack(state_dir)
    return {
        "postgres": stack.pg.pid(),
        "s3vectors": stack.emulator.pid(),
        "lambda": stack.lambda_service.pid(),
    }


@pytest.fixture
def state_dir() -> Iterator[Path]:
    path = make_shared_dir(Path(tempfile.mkdtemp(prefix="s3vl-up-")))
    try:
        yield path
    finally:
        s3vl_local("down", "--state-dir", str(path))
        shutil.rmtree(path, ignore_errors=True)


def test_up_source_env_psql_and_aws_then_down_leaves_nothing(state_dir: Path) -> None:
    up = s3vl_local("up", "--state-dir", str(state_dir))
    assert up.returncode == 0, up.stderr
    assert "environment: source " in up.stdout
    env_file = state_dir / "stack.env"
    script = f"""
        set -euo pipefail
        source {env_file}
        export PATH={BIN}:{PG_BIN}:$PATH
        aws s3vectors create-vector-bucket --vector-bucket-name s3vl-vector-bucket > /dev/null
        aws s3vectors create-index --vector-bucket-name s3vl-vector-bucket --index-name test-index-5d \\
            --data-type float32 --dimension 5 --distance-metric cosine > /dev/null
        aws lambda get-function --function-name s3vl-vector-query \\
            --query 'Configuration.[FunctionName,LastModified,CodeSize,State,LastUpdateStatus]' --output json
        psql -X -At -v fn="$S3VL_LAMBDA_FUNCTION_ARN" -v idx="$S3VL_S3_INDEX_ARN" <<'SQL'
SELECT payload FROM aws_lambda.invoke(:'fn', json_build_object('operation', 'health', 'index_arn', :'idx'));
SQL
    """
    shell = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=120, check=False, env={"HOME": "/tmp"}
    )
    assert shell.returncode == 0, shell.stderr
    get_function, health = shell.stdout.split("]\n", 1)
    name, _, code_size, state, status = json.loads(get_function + "]")
    assert (name, state, status) == ("s3vl-vector-query", "Active", "Successful")
    assert code_size == DEFAULT_ZIP.stat().st_size
    envelope = json.loads(health)
    assert envelope["ok"] is True
    assert envelope["result"]["function_name"] == "s3vl-vector-query"
    assert envelope["result"]["index"]["reachable"] is True
    assert envelope["result"]["index"]["dimension"] == 5

    # `up` again: the same processes keep running, stack.env is rewritten with the same endpoints.
    before = env_file.read_text()
    daemons_before = daemon_pids(state_dir)
    again = s3vl_local("up", "--state-dir", str(state_dir))
    assert again.returncode == 0, again.stderr
    assert env_file.read_text() == before
    assert daemon_pids(state_dir) == daemons_before
    assert s3vl_local("status", "--state-dir", str(state_dir)).returncode == 0

    down = s3vl_local("down", "--state-dir", str(state_dir))
    assert down.returncode == 0, down.stderr
    assert processes_using(state_dir) == []
    assert not env_file.exists()
    status = s3vl_local("status", "--state-dir", str(state_dir))
    assert status.returncode == 3 and "stopped" in status.stdout


def test_local_stack_fixture_serves_the_shim_in_s3vl_test(local_stack: LocalStack) -> None:
    env = local_stack.env()
    assert set(env) == STACK_ENV_KEYS
    assert env["PGDATABASE"] == "s3vl_test"
    with psycopg.connect(local_stack.pg.dsn(dbname="s3vl_test")) as conn:
        (payload,) = conn.execute(
            'SELECT payload FROM aws_lambda.invoke(%s, \'{"operation": "health"}\'::jsonb)',
            (env["S3VL_LAMBDA_FUNCTION_ARN"],),
        ).fetchone() or (None,)
    assert payload["ok"] is True and payload["result"]["function_name"] == "s3vl-vector-query"


def test_status_counts_the_event_invocations_in_dead_letter_files(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path)
    assert "failed Event" not in stack.status()["lambda"]
    stack.dead_letter_dir.mkdir(parents=True)
    (stack.dead_letter_dir / "f.jsonl").write_text('{"RequestID": "a"}\n{"RequestID": "b"}\n')
    (stack.dead_letter_dir / "g.jsonl").write_text('{"RequestID": "c"}\n')
    assert stack.status()["lambda"] == f"stopped; 3 failed Event invocation(s) in {stack.dead_letter_dir}"


def test_stack_env_lets_the_aws_cli_send_query_texts(local_stack: LocalStack) -> None:
    """With stack.env's AWS_DATA_PATH the CLI knows --query-texts and sends it: the emulator answers."""
    env = {**os.environ, **local_stack.env()}
    sent = subprocess.run(
        [str(BIN / "aws"), "s3vectors", "query-vectors", "--index-arn", env["S3VL_S3_INDEX_ARN"] + "-absent",
         "--query-texts", '[{"metadataKey": "description", "text": "red shoes"}]', "--top-k", "3"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert sent.returncode != 0 and "NotFoundException" in sent.stderr, sent.stderr
