"""Load: 8 concurrent PostgreSQL sessions, each running a mix of query_vectors, get_vectors and put_vectors
for a bounded time, through the whole chain. Zero errors, no lost or corrupted write (count and checksum of
everything written, read back at the end), and p50/p99 per operation printed (no speed assertion).

8 sessions make at most 8 concurrent invocations (each session waits for its answer), under the Lambda
service's concurrency limit of 10, so no invocation is throttled: any error is unexpected.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import defaultdict
from typing import Any

import numpy as np
import pytest

from .conftest import ReliabilityStack

SESSIONS = 8
DURATION_S = 15.0
INDEX = "load-8"
DIM = 8
PUT_BATCH = 4
OPERATIONS = ("put_vectors", "query_vectors", "get_vectors", "query_vectors")


def _checksum(vectors: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for key in sorted(vectors):
        digest.update(key.encode() + b"\0" + np.asarray(vectors[key], dtype=np.float32).tobytes())
    return digest.hexdigest()


class Session(threading.Thread):
    """One PostgreSQL session writing its own keys with known vectors and reading them back."""

    def __init__(
        self, number: int, stack: ReliabilityStack, stop_at: float, start: threading.Barrier
    ) -> None:
        super().__init__(name=f"load-session-{number}")
        self.number = number
        self.stack = stack
        self.stop_at = stop_at
        self.start_barrier = start
        self.rng = np.random.default_rng(1000 + number)
        self.written: dict[str, np.ndarray] = {}
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.puts = 0

    def run(self) -> None:
        try:
            with self.stack.connect() as conn:
                self.start_barrier.wait()
                step = 0
                while time.monotonic() < self.stop_at:
                    operation = OPERATIONS[step % len(OPERATIONS)]
                    started = time.perf_counter()
                    getattr(self, operation)(conn)
                    self.latencies[operation].append(time.perf_counter() - started)
                    step += 1
        except Exception as error:  # every error is reported by the test, with its session
            detail = getattr(getattr(error, "diag", None), "message_detail", None)
            self.errors.append(f"session {self.number}: {type(error).__name__}: {error} DETAIL: {detail}")

    def put_vectors(self, conn: Any) -> None:
        keys = [f"load-s{self.number}-{self.puts * PUT_BATCH + i:05d}" for i in range(PUT_BATCH)]
        if self.puts % 5 == 4:  # now and then overwrite this session's first key: the last write must win
            keys[0] = f"load-s{self.number}-00000"
        vectors = self.rng.standard_normal((PUT_BATCH, DIM)).astype(np.float32)
        metadata = [f'{{"session": {self.number}, "put": {self.puts}}}'] * PUT_BATCH
        written = conn.execute(
            "SELECT s3vl.put_vectors(%s, %s, %s::float8[], %s::jsonb[])",
            (INDEX, keys, vectors.tolist(), metadata),
        ).fetchone()[0]
        assert written == PUT_BATCH, f"put_vectors wrote {written} of {PUT_BATCH}"
        self.written.update(zip(keys, vectors, strict=True))
        self.puts += 1

    def get_vectors(self, conn: Any) -> None:
        keys = sorted(self.written)[-20:]
        if not keys:
            return
        rows = conn.execute(
            "SELECT vector_id, embedding, found FROM s3vl.get_vectors(%s, %s, include_metadata => FALSE)",
            (keys, INDEX),
        ).fetchall()
        assert [r[0] for r in rows] == keys and all(r[2] for r in rows), "get_vectors lost a key"
        got = np.array([r[1] for r in rows], dtype=np.float32)
        assert np.array_equal(got, np.array([self.written[k] for k in keys])), "get_vectors: corrupted data"

    def query_vectors(self, conn: Any) -> None:
        query = self.rng.standard_normal(DIM)
        rows = conn.execute(
            "SELECT vector_id, distance FROM s3vl.query_vectors(%s::float8[], %s, top_k => 10)",
            (query.tolist(), INDEX),
        ).fetchall()
        distances = [d for _, d in rows]
        assert len(rows) == 10 and distances == sorted(distances), (
            "query_vectors: not the 10 nearest in order"
        )


def test_eight_sessions_mixed_load(rel_stack: ReliabilityStack, capsys: pytest.CaptureFixture[str]) -> None:
    base = rel_stack.indexes[INDEX]
    barrier = threading.Barrier(SESSIONS)
    stop_at = time.monotonic() + DURATION_S
    sessions = [Session(n, rel_stack, stop_at, barrier) for n in range(SESSIONS)]
    for session in sessions:
        session.start()
    for session in sessions:
        session.join(timeout=DURATION_S + 120)
    assert not any(s.is_alive() for s in sessions), "a session hung"
    errors = [e for s in sessions for e in s.errors]
    assert errors == [], "\n".join(errors)

    expected = {k: v for s in sessions for k, v in s.written.items()}
    expected_base = dict(zip(base.keys, base.data, strict=True))
    assert sum(s.puts for s in sessions) >= SESSIONS  # every session wrote
    with rel_stack.connect() as conn:
        rows = conn.execute(
            "SELECT vector_id, vector FROM s3vl.list_all_vectors(%s, return_data => TRUE)", (INDEX,)
        ).fetchall()
    stored = {key: np.asarray(vector, dtype=np.float32) for key, vector in rows}
    assert len(rows) == len(stored) == len(expected) + len(expected_base)
    assert _checksum({k: v for k, v in stored.items() if k.startswith("load-s")}) == _checksum(expected)
    assert _checksum({k: v for k, v in stored.items() if not k.startswith("load-s")}) == _checksum(
        expected_base
    )

    latencies: dict[str, list[float]] = defaultdict(list)
    for session in sessions:
        for operation, values in session.latencies.items():
            latencies[operation].extend(values)
    table = [f"{'operation':<15} {'calls':>6} {'p50 ms':>8} {'p99 ms':>8}"]
    for operation in sorted(latencies):
        values = np.array(latencies[operation]) * 1000
        p50, p99 = np.percentile(values, 50), np.percentile(values, 99)
        table.append(f"{operation:<15} {len(values):>6} {p50:>8.1f} {p99:>8.1f}")
    with capsys.disabled():
        print(
            f"\n{SESSIONS} sessions, {DURATION_S:.0f} s, {len(expected)} keys written:\n" + "\n".join(table)
        )
    assert set(latencies) == {"put_vectors", "query_vectors", "get_vectors"}
