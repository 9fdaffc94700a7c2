"""Table sync under faults (docs/sync.md): random writes from 4 sessions with ROLLBACKs while 2 flushers run,
the emulator answers 503s, throttles and dropped connections, the Lambda service crashes, throttles and
times out, the emulator is killed with SIGKILL and restarted, and a flushing backend is killed with SIGKILL
mid-flush. Afterwards: flush until nothing is pending, reconcile reports nothing, and the index (keys,
float32 vectors, metadata; read with boto3) equals the table exactly.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import psycopg
import pytest
from s3vl_local.processes import is_alive
from support.s3vectors import create_float32_index
from support.sql_stack import index_vectors

from .conftest import BUCKET, REPO, Faults, ReliabilityStack

INDEX = "sync-faults"
TABLE = "public.sync_fault_items"
DIM = 16
KEYS = 150
WRITE_SECONDS = 18
TAIL_SECONDS = 4
EMULATOR_PLANS = [
    {"operation": "PutVectors", "error": "ServiceUnavailableException", "rate": 0.3, "seed": 1},
    {"operation": "DeleteVectors", "error": "CloseConnection", "rate": 0.3, "seed": 2},
    {"operation": "*", "error": "TooManyRequestsException", "rate": 0.3, "seed": 3},
]
LAMBDA_PLANS = [
    {"function": "*", "fault": "throttle", "rate": 0.1, "seed": 4},
]


def _connect(rel_stack: ReliabilityStack, deadline: float) -> psycopg.Connection[Any]:
    """A connection once the server accepts them again (after a backend's SIGKILL it restarts)."""
    while True:
        try:
            conn = rel_stack.connect()
            conn.execute("SET synchronous_commit = on")  # a commit is durable before it is visible
            return conn
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class Worker(threading.Thread):
    """Runs `step` on its own connection until stopped, reconnecting when the server restarts."""

    def __init__(self, rel_stack: ReliabilityStack, step: Any, stop: threading.Event, seed: int) -> None:
        super().__init__(daemon=True)
        self.rel_stack, self.step, self.stop, self.rng = rel_stack, step, stop, random.Random(seed)
        self.unexpected: list[str] = []
        self.done = 0

    def run(self) -> None:
        conn = _connect(self.rel_stack, time.monotonic() + 60)
        while not self.stop.is_set():
            try:
                self.step(conn, self.rng)
                self.done += 1
            # Rollback too: a transaction's exit on a connection the server dropped re-raises it.
            except (psycopg.OperationalError, psycopg.InterfaceError, psycopg.Rollback):
                conn.close()
                conn = _connect(self.rel_stack, time.monotonic() + 60)
            except (psycopg.errors.DeadlockDetected, psycopg.errors.UniqueViolation):
                pass  # concurrent writers of the same keys: the transaction rolled back, as in any app
            except psycopg.Error as error:
                if (error.sqlstate or "").startswith("SV") or error.sqlstate == "57P01":
                    continue
                self.unexpected.append(f"{error.sqlstate}: {error}")
        conn.close()


def _write(conn: psycopg.Connection[Any], rng: random.Random) -> None:
    with conn.transaction() as tx:
        for _ in range(rng.randint(1, 3)):
            key = rng.randrange(KEYS)
            action = rng.random()
            if action < 0.55:
                vector = (np.random.default_rng(rng.randrange(2**32)).standard_normal(DIM) + 0.1).tolist()
                conn.execute(
                    f"INSERT INTO {TABLE} (id, emb, grp, rank) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (id) DO UPDATE "
                    "SET emb = EXCLUDED.emb, grp = EXCLUDED.grp, rank = EXCLUDED.rank",
                    (key, vector, f"g{rng.randrange(4)}", rng.randrange(1000)),
                )
            elif action < 0.75:
                conn.execute(f"UPDATE {TABLE} SET rank = %s WHERE id = %s", (rng.randrange(1000), key))
            else:
                conn.execute(f"DELETE FROM {TABLE} WHERE id = %s", (key,))
        if rng.random() < 0.2:
            raise psycopg.Rollback(tx)


def _flush(conn: psycopg.Connection[Any], rng: random.Random) -> None:
    conn.execute("SELECT * FROM s3vl.flush(%s)", (rng.choice([20, 100, None]),)).fetchone()
    time.sleep(0.05)


def _kill_emulator(rel_stack: ReliabilityStack) -> tuple[int, list[str]]:
    daemon = rel_stack.stack.emulator
    pid, url = daemon.pid(), daemon.url()
    assert pid is not None and url is not None
    os.kill(pid, signal.SIGKILL)
    while is_alive(pid):
        time.sleep(0.01)
    return int(urlsplit(url).port or 0), list(daemon.args)


def _restart_emulator(rel_stack: ReliabilityStack, port: int, args: list[str]) -> None:
    """Start the emulator again on its port and data directory (the Lambda service calls that URL)."""
    daemon = rel_stack.stack.emulator
    log = daemon.log_file.open("a")
    process = subprocess.Popen(
        [sys.executable, "-m", daemon.module, "--port", str(port), *args],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=REPO,
    )
    daemon.pid_file.write_text(str(process.pid))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            rel_stack.s3vectors().list_vector_buckets()
            return
        except Exception:  # not listening yet
            time.sleep(0.1)
    raise AssertionError(f"the emulator did not come back on port {port}: see {daemon.log_file}")


def _kill_a_flushing_backend(rel_stack: ReliabilityStack, deadline: float) -> int:
    with rel_stack.connect() as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE state = 'active' "
                "AND query LIKE 'SELECT * FROM s3vl.flush%' AND pid <> pg_backend_pid() LIMIT 1"
            ).fetchone()
            if row:
                os.kill(row[0], signal.SIGKILL)
                return int(row[0])
            time.sleep(0.005)
    raise AssertionError("no flush was running to kill")


def _index_content(rel_stack: ReliabilityStack) -> dict[str, tuple[np.ndarray, dict[str, Any]]]:
    return {
        v["key"]: (np.asarray(v["data"]["float32"], dtype=np.float32), v.get("metadata") or {})
        for v in index_vectors(rel_stack.s3vectors(), INDEX, BUCKET)
    }


@pytest.fixture
def synced_index(rel_stack: ReliabilityStack, faults: Faults) -> Iterator[None]:
    """INDEX, empty and registered, and TABLE for the test to sync to it; both removed afterwards, once the
    faults are cleared, on a new connection (the test may have killed backends)."""
    client = rel_stack.s3vectors()
    create_float32_index(client, BUCKET, INDEX, DIM)
    arn = client.get_index(vectorBucketName=BUCKET, indexName=INDEX)["index"]["indexArn"]
    with rel_stack.connect() as conn:
        conn.execute("SELECT s3vl.register_index(%s, %s)", (INDEX, arn))
        conn.execute(
            f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, emb real[] NOT NULL, grp text, rank integer)"
        )
    try:
        yield
    finally:
        faults.emulator.clear()
        faults.lambda_service.clear()
        with _connect(rel_stack, time.monotonic() + 30) as conn:
            conn.execute("SELECT s3vl.unsync_table(%s, discard_pending => true)", (TABLE,))
            conn.execute(f"DROP TABLE {TABLE}")
            conn.execute("SELECT s3vl.unregister_index(%s)", (INDEX,))
        client.delete_index(vectorBucketName=BUCKET, indexName=INDEX)


@pytest.mark.usefixtures("synced_index")
def test_index_equals_table_after_random_writes_faults_and_kills(
    rel_stack: ReliabilityStack, faults: Faults
) -> None:
    with rel_stack.connect() as conn:
        conn.execute("SELECT s3vl.sync_table(%s, %s, 'id', 'emb', '{grp,rank}')", (TABLE, INDEX))
    faults.emulator.set(*EMULATOR_PLANS)
    faults.lambda_service.set(*LAMBDA_PLANS)
    stop_writers, stop_flushers = threading.Event(), threading.Event()
    writers = [Worker(rel_stack, _write, stop_writers, seed) for seed in range(4)]
    flushers = [Worker(rel_stack, _flush, stop_flushers, 100 + seed) for seed in range(2)]
    for worker in writers + flushers:
        worker.start()
    started = time.monotonic()

    injected = 0  # faults injected; each clear (and the emulator's restart) resets the counters
    time.sleep(5)
    injected += faults.emulator.injected()
    port, args = _kill_emulator(rel_stack)
    time.sleep(2)
    _restart_emulator(rel_stack, port, args)
    faults.emulator.set(*EMULATOR_PLANS)  # plans live in the emulator's memory
    time.sleep(2)
    # A Lambda crash and then a function timeout, each for the next invocation that comes.
    faults.lambda_service.set({"function": "s3vl-vector-query", "fault": "crash", "next": 1})
    time.sleep(2)
    faults.lambda_service.set({"function": "s3vl-vector-query", "fault": "timeout", "next": 1})
    time.sleep(2)
    # Kill a flushing backend while no fault slows the chain: its in-flight invocation lands at once.
    injected += faults.emulator.injected() + faults.lambda_service.injected()
    faults.emulator.clear()
    faults.lambda_service.clear()
    _kill_a_flushing_backend(rel_stack, time.monotonic() + 10)
    time.sleep(2)
    faults.emulator.set(*EMULATOR_PLANS)
    faults.lambda_service.set(*LAMBDA_PLANS)
    time.sleep(max(0.0, WRITE_SECONDS - (time.monotonic() - started)))
    stop_writers.set()
    for worker in writers:
        worker.join(60)
    # The last changes meet failures too: half the invocations are throttled while the flushers go on.
    injected += faults.lambda_service.injected()
    faults.lambda_service.set({"function": "*", "fault": "throttle", "rate": 0.5, "seed": 5})
    time.sleep(TAIL_SECONDS)
    injected += faults.emulator.injected() + faults.lambda_service.injected()
    faults.emulator.clear()
    faults.lambda_service.clear()
    stop_flushers.set()
    for worker in flushers:
        worker.join(60)
    assert all(not w.is_alive() for w in writers + flushers)
    assert [w.unexpected for w in writers + flushers] == [[]] * 6
    assert sum(w.done for w in writers) > 100 and sum(w.done for w in flushers) > 20
    assert injected > 20

    # Drain: what is waiting for a retry is made due, until nothing is pending.
    conn = _connect(rel_stack, time.monotonic() + 30)
    with conn:
        deadline = time.monotonic() + 30
        while True:
            conn.execute("SELECT s3vl.retry_sync(%s)", (TABLE,))
            pending = conn.execute("SELECT pending FROM s3vl.flush()").fetchone()[0]
            if pending == 0:
                break
            assert time.monotonic() < deadline, conn.execute("SELECT * FROM s3vl.sync_failures()").fetchall()
        status = conn.execute(
            "SELECT pending, failed FROM s3vl.sync_status() WHERE table_name = %s", (TABLE,)
        ).fetchone()
        assert status == (0, 0)
        assert conn.execute("SELECT * FROM s3vl.reconcile(%s)", (TABLE,)).fetchall() == []

        rows = conn.execute(f"SELECT id::text, emb, grp, rank FROM {TABLE}").fetchall()
        index = _index_content(rel_stack)
        assert sorted(index) == sorted(r[0] for r in rows)
        assert len(rows) > KEYS // 3
        for key, emb, grp, rank in rows:
            vector, metadata = index[key]
            np.testing.assert_array_equal(vector, np.asarray(emb, dtype=np.float32))
            version = metadata.pop("s3vl_version")
            assert len(version) == 16
            assert metadata == {"grp": grp, "rank": rank}
    assert time.monotonic() - started < 60


@pytest.mark.usefixtures("synced_index")
def test_a_failed_send_stays_pending_with_its_error_and_backoff_then_goes(
    rel_stack: ReliabilityStack, faults: Faults, conn: psycopg.Connection[Any]
) -> None:
    conn.execute("SELECT s3vl.sync_table(%s, %s, 'id', 'emb')", (TABLE, INDEX))
    conn.execute(
        f"INSERT INTO {TABLE} SELECT i, array_fill(i::real, ARRAY[{DIM}]) FROM generate_series(1, 5) i"
    )
    faults.emulator.set({"operation": "PutVectors", "error": "ServiceUnavailableException"})
    assert conn.execute("SELECT * FROM s3vl.flush()").fetchone() == (0, 0, 5)
    rows = conn.execute(
        "SELECT state, attempts, next_attempt_at > now(), last_sqlstate FROM s3vl.sync_failures(%s)",
        (TABLE,),
    ).fetchall()
    assert rows == [("pending", 1, True, "SV004")] * 5
    status = conn.execute(
        "SELECT pending, failed, last_error FROM s3vl.sync_status() WHERE table_name = %s", (TABLE,)
    ).fetchone()
    assert status[:2] == (5, 0) and "SV004" in status[2]
    # Not due yet: a flush leaves them alone.
    assert conn.execute("SELECT * FROM s3vl.flush()").fetchone() == (0, 0, 5)
    faults.emulator.clear()
    assert conn.execute("SELECT s3vl.retry_sync(%s)", (TABLE,)).fetchone() == (5,)
    assert conn.execute("SELECT * FROM s3vl.flush()").fetchone() == (5, 0, 0)
    assert sorted(_index_content(rel_stack)) == ["1", "2", "3", "4", "5"]
