"""The demo, run as a newcomer runs it: source/local/demo/demo.sh (what `make demo` runs), with its own
state directory, twice (a second run must work too). The stack it leaves running is shared by the
README tests and stopped with `s3vl-local down` at the end of the session, whatever happened.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from s3vl_local.postgres import make_shared_dir
from s3vl_local.processes import is_alive

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "source" / "local" / "demo" / "demo.sh"
S3VL_LOCAL = REPO / ".venv" / "bin" / "s3vl-local"
DEMO_TIMEOUT_S = 600


def clean_environment(**extra: str) -> dict[str, str]:
    """The caller's environment without anything that points at a database, AWS or a stack, and with
    the user's AWS and psql configuration files out of the way, so runs do not depend on the machine."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PG", "AWS_", "S3VL_")) and k not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    env.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null", PSQLRC="/dev/null")
    env.update(extra)
    return env


def read_stack_env(path: Path) -> dict[str, str]:
    """The `export NAME=value` lines of a stack.env file."""
    values = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export ") :].partition("=")
            values[name] = shlex.split(value)[0] if value else ""
    return values


@dataclass
class DemoStack:
    """The state of a finished demo: its outputs and what the database said right after it."""

    state_dir: Path
    runs: list[subprocess.CompletedProcess[str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    # Catalog facts captured before the README tests run (they end by uninstalling the schema).
    functions: dict[str, dict[str, Any]] = field(default_factory=dict)
    error_codes: list[tuple[str, str]] = field(default_factory=list)

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=self.env["PGHOST"],
            port=int(self.env["PGPORT"]),
            user=self.env["PGUSER"],
            dbname=self.env["PGDATABASE"],
            autocommit=True,
        )


def _stack_pids(state_dir: Path) -> list[int]:
    pids = []
    for pid_file in [*(state_dir / "run").glob("*.pid"), state_dir / "postgres" / "postmaster.pid"]:
        try:
            pids.append(int(pid_file.read_text().split()[0]))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def _capture_catalog(stack: DemoStack) -> None:
    with stack.connect() as conn:
        rows = conn.execute(
            """SELECT p.proname, pg_catalog.pg_get_function_arguments(p.oid),
                      pg_catalog.pg_get_function_result(p.oid),
                      pg_catalog.has_function_privilege('s3vl_user', p.oid, 'EXECUTE'),
                      pg_catalog.has_function_privilege('s3vl_admin', p.oid, 'EXECUTE')
                 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = 's3vl' AND p.proname !~ '^_'
                  -- Trigger functions are not called from SQL: they are not part of the reference.
                  AND p.prorettype NOT IN ('pg_catalog.trigger'::pg_catalog.regtype,
                                           'pg_catalog.event_trigger'::pg_catalog.regtype)"""
        ).fetchall()
        stack.functions = {
            name: {"arguments": args, "result": result, "user": user, "admin": admin}
            for name, args, result, user, admin in rows
        }
        stack.error_codes = conn.execute("SELECT error_code, sqlstate FROM s3vl.error_codes()").fetchall()


@pytest.fixture(scope="session")
def demo_stack() -> Iterator[DemoStack]:
    """demo.sh run twice against a fresh state directory; the stack stays up for the session."""
    state_root = make_shared_dir(Path(tempfile.mkdtemp(prefix="s3vl-e2e-")))
    stack = DemoStack(state_dir=state_root / "state")
    env = clean_environment(S3VL_STATE_DIR=str(stack.state_dir))
    try:
        for _ in range(2):
            run = subprocess.run(
                ["bash", str(DEMO)],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=DEMO_TIMEOUT_S,
            )
            stack.runs.append(run)
            if run.returncode != 0:
                break
        if (stack.state_dir / "stack.env").exists():
            stack.env = read_stack_env(stack.state_dir / "stack.env")
            if stack.runs[-1].returncode == 0:
                _capture_catalog(stack)
        yield stack
    finally:
        pids = _stack_pids(stack.state_dir)
        down = subprocess.run(
            [str(S3VL_LOCAL), "down", "--state-dir", str(stack.state_dir)],
            env=clean_environment(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        shutil.rmtree(state_root, ignore_errors=True)
        assert down.returncode == 0, down.stdout + down.stderr
        left = [pid for pid in pids if is_alive(pid)]
        assert not left, f"s3vl-local down left processes running: {left}"
