"""rank_vectors' slices through the local Lambda service: more candidates than S3VL_RANK_SLICE_IDS are ranked
by invocations of the function itself, with the rows of numpy's brute force and of one unsliced invocation;
slices Lambda refuses for concurrency are ranked by the caller; a setting the function cannot use fails
in SQL naming it. How each Invoke answer is read: tests/unit/handler/test_rank_slices.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest
from s3vl_local.stack import RANK_SLICE_IDS

from .conftest import SqlStack, create_index

N, DIM = 3_000, 16
INDEX = "rank-slices"


@pytest.fixture(scope="module")
def index(sql_stack: SqlStack) -> Iterator[tuple[str, np.ndarray]]:
    data = np.random.default_rng(21).standard_normal((N, DIM)).astype(np.float32)
    keys = [f"v{i:05d}" for i in range(N)]
    arn = create_index(sql_stack.s3vectors(), INDEX, DIM, "cosine", keys, data, [{"n": i} for i in range(N)])
    with sql_stack.connect() as conn:
        conn.execute("SELECT s3vl.register_index(%s, %s)", (INDEX, arn))
    yield arn, data


def _rank(
    sql_stack: SqlStack, function: str, arn: str, query: list[float], keys: list[str]
) -> dict[str, Any]:
    """The function's rank_vectors result, invoked as Aurora invokes it (RequestResponse)."""
    event = {
        "operation": "rank_vectors",
        "index_arn": arn,
        "distance_metric": "cosine",
        "query_vector": query,
        "keys": keys,
        "top_k": 10,
    }
    answer = sql_stack.lambda_client().invoke(FunctionName=function, Payload=json.dumps(event).encode())
    envelope = json.loads(answer["Payload"].read())
    assert envelope["ok"] is True, envelope
    return envelope["result"]  # type: ignore[no-any-return]


def _truth(data: np.ndarray, query: list[float], rows: list[int]) -> list[str]:
    v = data[rows].astype(np.float64)
    q = np.asarray(query, dtype=np.float32).astype(np.float64)
    d = 1.0 - (v @ q) / (np.linalg.norm(v, axis=1) * np.linalg.norm(q))
    return [f"v{rows[i]:05d}" for i in sorted(range(len(rows)), key=lambda i: (d[i], rows[i]))[:10]]


@pytest.fixture
def candidates() -> tuple[list[float], list[str], list[int]]:
    rng = np.random.default_rng(5)
    rows = sorted(rng.choice(N, size=2_500, replace=False).tolist())
    keys = [f"v{r:05d}" for r in rows]
    # Duplicates count once, missing ids are counted: 2,500 distinct found, 2 missing.
    return rng.standard_normal(DIM).tolist(), keys + keys[:40] + ["nope-1", "nope-2"], rows


def test_more_candidates_than_a_slice_are_ranked_by_invocations_of_the_function(
    sql_stack: SqlStack, conn: psycopg.Connection[Any], index: tuple[str, np.ndarray], candidates: Any
) -> None:
    arn, data = index
    query, keys, rows = candidates
    assert len(set(keys)) > RANK_SLICE_IDS
    sliced = _rank(sql_stack, sql_stack.function_arn, arn, query, keys)
    with sql_stack.fresh_function(conn, "rank-unsliced", {"S3VL_RANK_SLICE_IDS": "0"}) as unsliced_arn:
        whole = _rank(sql_stack, unsliced_arn, arn, query, keys)
    # 2,502 distinct keys in 3 slices of at most 834: this invocation ranked one, two others the rest.
    assert (sliced["slices"], sliced["slices_refused"], whole["slices"]) == (2, 0, 0)
    assert [row["key"] for row in sliced["vectors"]] == _truth(data, query, rows)
    assert sliced["vectors"] == whole["vectors"]
    assert (sliced["missing"], whole["missing"]) == (2, 2)
    assert sliced["batches"] == 27 and whole["batches"] == 26  # 9 per slice of 834, 26 for 2,502


def test_slices_lambda_refuses_for_concurrency_are_ranked_by_the_caller(
    sql_stack: SqlStack, conn: psycopg.Connection[Any], index: tuple[str, np.ndarray], candidates: Any
) -> None:
    arn, data = index
    query, keys, rows = candidates
    client = sql_stack.lambda_client()
    with sql_stack.fresh_function(conn, "rank-one-at-a-time") as function:
        # One concurrent execution: the calling invocation itself; Lambda answers each slice 429.
        client.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=1)
        result = _rank(sql_stack, function, arn, query, keys)
        assert (result["slices"], result["slices_refused"]) == (0, 2)
        assert [row["key"] for row in result["vectors"]] == _truth(data, query, rows)
        # Through SQL the same rows.
        found = conn.execute(
            "SELECT vector_id FROM s3vl.rank_vectors(%s, %s::double precision[], %s, top_k => 10)",
            (INDEX, query, keys),
        ).fetchall()
        assert [r[0] for r in found] == _truth(data, query, rows)


def test_a_slice_setting_the_function_cannot_use_fails_in_sql_naming_it(
    sql_stack: SqlStack, conn: psycopg.Connection[Any], index: tuple[str, np.ndarray], candidates: Any
) -> None:
    query, keys, _ = candidates
    bad = {"S3VL_RANK_SLICE_IDS": "lots"}
    with sql_stack.fresh_function(conn, "rank-bad-setting", bad), pytest.raises(psycopg.Error) as raised:
        conn.execute("SELECT * FROM s3vl.rank_vectors(%s, %s::double precision[], %s)", (INDEX, query, keys))
    assert raised.value.sqlstate == "SV008"
    assert "S3VL_RANK_SLICE_IDS is 'lots', not a whole number" in str(raised.value)


def test_a_call_fans_out_once_however_many_candidates(
    sql_stack: SqlStack, conn: psycopg.Connection[Any], index: tuple[str, np.ndarray], candidates: Any
) -> None:
    # 20,000 ids make 16 slices of 1,250, more than the setting: each slice request says it is one, so
    # none slices again. Slices beyond the service's concurrency are ranked by the caller.
    arn, data = index
    query, _, _ = candidates
    keys = [f"v{r:05d}" for r in range(N)] + [f"absent-{n}" for n in range(20_000 - N)]
    with sql_stack.fresh_function(conn, "rank-many-slices") as function:
        result = _rank(sql_stack, function, arn, query, keys)
        log = sql_stack.stack.function_log("rank-many-slices").read_text()
    invocations = log.count('"operation":"rank_vectors"')
    assert result["slices"] + result["slices_refused"] == 15
    assert invocations == 1 + result["slices"]
    assert result["missing"] == 20_000 - N
    assert [row["key"] for row in result["vectors"]] == _truth(data, query, list(range(N)))
