"""Faults along the whole chain (SQL -> shim -> Lambda service -> zip -> emulator): transient S3 Vectors
errors are retried by the handler and SQL returns correct rows; persistent or slow faults and Lambda
crashes, timeouts and throttles raise their documented SQLSTATE within the configured timeout; a failure
in one batch or chunk fails the whole call (never a partial result); clearing the faults restores service.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest
from support.sql_stack import raises_sqlstate

from .conftest import SHORT_CONFIGURED_S, Faults, ReliabilityStack

QUERY = "SELECT vector_id, similarity_score FROM s3vl.query_vectors(%s::float8[], 'rel-16', top_k => 10)"
MARGIN_S = 3  # scheduling slack on 2 busy cores: the bound is the configured timeout plus this
TRANSIENT_RATE = 0.3
TRANSIENT_SEED = 6  # its first 60 draws at TRANSIENT_RATE never inject 3 in a row (checked below)
RETRY_ATTEMPTS = 3  # the handler's botocore standard mode: the first attempt and two retries


@pytest.fixture
def fresh_function(rel_stack: ReliabilityStack, conn: psycopg.Connection[Any]) -> Iterator[str]:
    """s3vl pointed at a new function for a test that counts the function's retries: the stack's warm
    workers may have spent botocore's retry quota on earlier faults (SqlStack.fresh_function)."""
    with rel_stack.fresh_function(conn, "s3vl-reliability-retry") as arn:
        yield arn


def _query(conn: psycopg.Connection[Any], vector: np.ndarray) -> list[tuple[str, float]]:
    return conn.execute(QUERY, ([float(x) for x in vector],)).fetchall()


def _assert_matches_ground_truth(rows: list[tuple[str, float]], truth: list[tuple[str, float]]) -> None:
    assert [key for key, _ in rows] == [key for key, _ in truth[:10]]
    np.testing.assert_allclose([s for _, s in rows], [s for _, s in truth[:10]], rtol=0, atol=1e-5)


def _timed_failure(
    conn: psycopg.Connection[Any], sql: str, params: Any = None
) -> tuple[psycopg.Error, float]:
    started = time.monotonic()
    error = raises_sqlstate(conn, sql, params)
    return error, time.monotonic() - started


def _healthy(conn: psycopg.Connection[Any], rel_stack: ReliabilityStack) -> None:
    """The same call works again once the faults are cleared."""
    index = rel_stack.indexes["rel-16"]
    _assert_matches_ground_truth(_query(conn, index.data[7]), index.ranking(index.data[7]))


@pytest.mark.parametrize(
    "error", ["TooManyRequestsException", "ServiceUnavailableException", "InternalServerException"]
)
@pytest.mark.usefixtures("fresh_function")
def test_transient_s3vectors_errors_are_retried_and_rows_are_correct(
    rel_stack: ReliabilityStack, conn: psycopg.Connection[Any], faults: Faults, error: str
) -> None:
    draws = random.Random(TRANSIENT_SEED)
    decisions = "".join("x" if draws.random() < TRANSIENT_RATE else "." for _ in range(60))
    assert "xxx" not in decisions and "xx" in decisions  # every call succeeds within 3 attempts
    faults.emulator.set({"operation": "*", "error": error, "rate": TRANSIENT_RATE, "seed": TRANSIENT_SEED})
    index = rel_stack.indexes["rel-16"]
    rng = np.random.default_rng(5)
    for _ in range(5):
        query = rng.standard_normal(16)
        _assert_matches_ground_truth(_query(conn, query), index.ranking(query))
    keys = index.keys[100:160]
    rows = conn.execute(
        "SELECT vector_id, embedding, metadata, found FROM s3vl.get_vectors(%s, 'rel-16')", (keys,)
    ).fetchall()
    assert [r[0] for r in rows] == keys and all(r[3] for r in rows)
    np.testing.assert_array_equal(np.array([r[1] for r in rows], dtype=np.float32), index.data[100:160])
    assert [r[2] for r in rows] == index.metadata[100:160]
    new_keys = [f"transient-{error}-{i}" for i in range(3)]
    vectors = np.random.default_rng(6).standard_normal((3, 16)).astype(np.float32)
    try:
        written = conn.execute(
            "SELECT s3vl.put_vectors('rel-16', %s, %s::float8[])", (new_keys, vectors.tolist())
        ).fetchone()[0]
        assert written == 3
        back = conn.execute("SELECT embedding FROM s3vl.get_vectors(%s, 'rel-16')", (new_keys,)).fetchall()
        np.testing.assert_array_equal(np.array([r[0] for r in back], dtype=np.float32), vectors)
    finally:
        conn.execute("SELECT s3vl.delete_vectors('rel-16', %s)", (new_keys,))
    # The faults happened and were absorbed: retries, not luck.
    plan = faults.emulator.state()["plans"]["*"]
    assert plan["injected"] >= 3 and plan["calls"] > plan["injected"]


@pytest.mark.parametrize(
    ("error", "code"),
    [("TooManyRequestsException", "THROTTLED"), ("InternalServerException", "SERVICE_UNAVAILABLE")],
)
@pytest.mark.usefixtures("fresh_function")
def test_persistent_s3vectors_errors_raise_sv004_within_the_timeout(
    rel_stack: ReliabilityStack, conn: psycopg.Connection[Any], faults: Faults, error: str, code: str
) -> None:
    configured = conn.execute("SELECT timeout_seconds FROM s3vl.get_config()").fetchone()[0]
    faults.emulator.set({"operation": "QueryVectors", "error": error})
    failure, elapsed = _timed_failure(conn, QUERY, ([0.5] * 16,))
    assert failure.sqlstate == "SV004", str(failure)
    assert code in failure.diag.message_detail and error in failure.diag.message_detail
    assert "retry" in failure.diag.message_hint.lower()
    assert elapsed < configured + MARGIN_S
    assert faults.emulator.state()["injected"] == {"QueryVectors": RETRY_ATTEMPTS}
    faults.emulator.clear()
    _healthy(conn, rel_stack)


def test_slow_s3vectors_beyond_the_deadline_raises_sv005(
    rel_stack: ReliabilityStack, conn: psycopg.Connection[Any], faults: Faults
) -> None:
    faults.emulator.set({"operation": "QueryVectors", "delay_ms": 60_000})
    with rel_stack.configured(conn, rel_stack.short_function_arn, timeout_seconds=SHORT_CONFIGURED_S):
        failure, elapsed = _timed_failure(conn, QUERY, ([0.5] * 16,))
        assert failure.sqlstate == "SV005", str(failure)
        # The handler's read timeout or its deadline check answers before the function's own timeout.
        assert any(c in failure.diag.message_detail for c in ("AWS_TIMEOUT", "DEADLINE_EXCEEDED"))
        assert elapsed < SHORT_CONFIGURED_S + MARGIN_S
        faults.emulator.clear()
        _healthy(conn, rel_stack)


def test_lambda_worker_crash_raises_sv006(
    rel_stack: ReliabilityStack, conn: psycopg.Connection[Any], faults: Faults
) -> None:
    faults.lambda_service.set({"function": "*", "fault": "crash", "next": 1})
    failure, elapsed = _timed_failure(conn, QUERY, ([0.5] * 16,))
    assert failure.sqlstate == "SV006", str(failure)
    assert "LAMBDA_FUNCTION_ERROR" in failure.diag.message_detail
    assert "Runtime.ExitError" in failure.diag.message_detail
    assert "signal: killed" in failure.diag.message_detail
    assert elapsed < 15 + MARGIN_S
    _healthy(conn, rel_stack)  # next 1: the plan is exhausted, a fresh worker answers


def test_lambda_timeout_raises_sv005(
    rel_stack: ReliabilityStack, conn: psycopg.Connection[Any], faults: Faults
) -> None:
    faults.lambda_service.set({"function": "*", "fault": "timeout", "next": 1})
    with rel_stack.configured(conn, rel_stack.short_function_arn, timeout_seconds=SHORT_CONFIGURED_S):
        failure, elapsed = _timed_failure(conn, QUERY, ([0.5] * 16,))
        assert failure.sqlstate == "SV005", str(failure)
        assert "LAMBDA_FUNCTION_TIMEOUT" in failure.diag.message_detail
        assert "Task timed out after 3.00 seconds" in failure.diag.message_detail
        assert elapsed < SHORT_CONFIGURED_S + MARGIN_S
        _healthy(conn, rel_stack)


def test_lambda_throttle_raises_sv004(
    rel_stack: ReliabilityStack, conn: psycopg.Connection[Any], faults: Faults
) -> None:
    faults.lambda_service.set({"function": "*", "fault": "throttle"})
    failure = raises_sqlstate(conn, QUERY, ([0.5] * 16,))
    assert failure.sqlstate == "SV004", str(failure)
    assert "LAMBDA_THROTTLED" in failure.diag.message_detail
    assert "TooManyRequestsException" in failure.diag.message_detail
    faults.lambda_service.clear()
    _healthy(conn, rel_stack)


def test_slow_lambda_beyond_the_configured_timeout_raises_sv005(
    rel_stack: ReliabilityStack, conn: psycopg.Connection[Any], faults: Faults
) -> None:
    faults.lambda_service.set({"function": "*", "delay_ms": 20_000, "next": 1})
    with rel_stack.configured(conn, rel_stack.function_arn, timeout_seconds=2):
        failure, elapsed = _timed_failure(conn, QUERY, ([0.5] * 16,))
    assert failure.sqlstate == "SV005", str(failure)
    assert "INVOKE_TIMEOUT" in failure.diag.message_detail
    assert elapsed < 2 + MARGIN_S
    _healthy(conn, rel_stack)


@pytest.mark.usefixtures("fresh_function")
def test_one_failed_batch_fails_the_whole_invocation(
    rel_stack: ReliabilityStack, conn: psycopg.Connection[Any], faults: Faults
) -> None:
    """150 ids are two GetVectors batches in one invocation: one succeeds, the other fails three times."""
    keys = rel_stack.indexes["rel-16"].keys[:150]
    faults.emulator.set(
        {
            "operation": "GetVectors",
            "error": "ServiceUnavailableException",
            "schedule": [False, True, True, True],
        }
    )
    failure = raises_sqlstate(conn, "SELECT * FROM s3vl.get_vectors(%s, 'rel-16')", (keys,))
    assert failure.sqlstate == "SV004" and "SERVICE_UNAVAILABLE" in failure.diag.message_detail
    assert faults.emulator.state()["injected"] == {"GetVectors": 3}
    assert len(conn.execute("SELECT * FROM s3vl.get_vectors(%s, 'rel-16')", (keys,)).fetchall()) == 150


@pytest.mark.usefixtures("fresh_function")
def test_one_failed_chunk_fails_the_whole_sql_call(
    rel_stack: ReliabilityStack, conn: psycopg.Connection[Any], faults: Faults
) -> None:
    """1200 ids without metadata are two invocations (1000 + 200 ids): the first one's 10 batches succeed
    and its rows are already produced when the second fails; the call must raise, not return 1000 rows."""
    keys = rel_stack.indexes["rel-16"].keys
    sql = "SELECT vector_id, found FROM s3vl.get_vectors(%s, 'rel-16', include_metadata => FALSE)"
    faults.emulator.set(
        {"operation": "GetVectors", "error": "InternalServerException", "schedule": [False] * 10 + [True] * 6}
    )
    failure = raises_sqlstate(conn, sql, (keys,))
    assert failure.sqlstate == "SV004", str(failure)
    # The first invocation's 10 calls, then at least one batch of the second failing all its attempts
    # (the function answers as soon as one batch has failed; the other may not finish its retries).
    assert faults.emulator.state()["plans"]["GetVectors"]["calls"] >= 10 + RETRY_ATTEMPTS
    faults.emulator.set(
        {
            "operation": "ListVectors",
            "error": "ServiceUnavailableException",
            "schedule": [False, True, True, True],
        }
    )
    failure = raises_sqlstate(conn, "SELECT vector_id FROM s3vl.list_all_vectors('rel-16')")
    assert failure.sqlstate == "SV004", str(failure)
    faults.emulator.clear()
    assert conn.execute(sql, (keys,)).fetchall() == [(key, True) for key in keys]
    assert len(conn.execute("SELECT vector_id FROM s3vl.list_all_vectors('rel-16')").fetchall()) == len(keys)


def test_a_write_that_fails_midway_says_how_much_was_applied_and_can_be_repeated(
    rel_stack: ReliabilityStack, conn: psycopg.Connection[Any], faults: Faults
) -> None:
    """2500 vectors are two invocations (2000 + 500): when the second crashes, the error says the first
    2000 were applied (ROLLBACK cannot undo them), and running the same call again completes the write."""
    keys = [f"midway-{i:04d}" for i in range(2500)]
    vectors = np.random.default_rng(11).standard_normal((2500, 16)).astype(np.float32)
    put = "SELECT s3vl.put_vectors('rel-16', %s, %s::float8[])"
    faults.lambda_service.set({"function": "*", "fault": "crash", "schedule": [False, True]})
    try:
        failure = raises_sqlstate(conn, put, (keys, vectors.tolist()))
        assert failure.sqlstate == "SV006", str(failure)
        assert "2000 of 2500 items were applied before this failure" in (failure.diag.message_detail or "")
        assert "run the call again" in (failure.diag.message_hint or "")
        found = conn.execute(
            "SELECT found FROM s3vl.get_vectors(%s, 'rel-16', include_vector_data => FALSE, "
            "include_metadata => FALSE)",
            (keys,),
        ).fetchall()
        assert [f for (f,) in found] == [True] * 2000 + [False] * 500
        faults.lambda_service.clear()
        assert conn.execute(put, (keys, vectors.tolist())).fetchone()[0] == 2500
        back = conn.execute("SELECT embedding FROM s3vl.get_vectors(%s, 'rel-16')", (keys,)).fetchall()
        np.testing.assert_array_equal(np.array([v for (v,) in back], dtype=np.float32), vectors)
    finally:
        faults.lambda_service.clear()
        conn.execute("SELECT s3vl.delete_vectors('rel-16', %s)", (keys,))
