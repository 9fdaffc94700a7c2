"""rank_vectors and search (75_rank.sql) against numpy brute force over the candidate subset, and the
CLASSIC index mode's short filtered answers, through the whole local chain."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest

from .conftest import BUCKET, SqlStack, create_index

N, DIM = 25_000, 16
# Functions that rank every candidate in the invocation SQL sends them (S3VL_RANK_SLICE_IDS 0), for the
# tests that count how SQL splits the ids into invocations; each test has its own, and so its own log.
UNSLICED = "s3vl-rank-unsliced"


class Ranked:
    def __init__(self, name: str, metric: str, keys: list[str], data: np.ndarray) -> None:
        self.name, self.metric, self.keys, self.data = name, metric, keys, data

    def truth(self, query: np.ndarray, candidates: list[str], k: int) -> list[tuple[str, float]]:
        """The exact top k of the candidates: (key, distance as S3 Vectors defines it)."""
        rows = np.array(
            sorted({int(c[1:]) for c in candidates if c.startswith("v") and int(c[1:]) < len(self.keys)})
        )
        v = self.data[rows].astype(np.float64)
        q = np.asarray(query, dtype=np.float32).astype(np.float64)
        if self.metric == "cosine":
            d = 1.0 - (v @ q) / (np.linalg.norm(v, axis=1) * np.linalg.norm(q))
        else:
            d = np.linalg.norm(v - q, axis=1)
        order = sorted(range(len(rows)), key=lambda i: (d[i], self.keys[rows[i]]))[:k]
        return [(self.keys[rows[i]], float(d[i])) for i in order]


@pytest.fixture(scope="module")
def ranked(sql_stack: SqlStack) -> Iterator[dict[str, Ranked]]:
    client = sql_stack.s3vectors()
    rng = np.random.default_rng(15)
    keys = [f"v{i:05d}" for i in range(N)]
    meta = [{"sel": i % 1000 == 7, "tenth": i % 10} for i in range(N)]
    found: dict[str, Ranked] = {}
    with sql_stack.connect() as conn:
        for metric in ("cosine", "euclidean"):
            data = rng.standard_normal((N, DIM)).astype(np.float32)
            name = f"rank-{metric}"
            arn = create_index(client, name, DIM, metric, keys, data, meta)
            conn.execute("SELECT s3vl.register_index(%s, %s)", (name, arn))
            found[metric] = Ranked(name, metric, keys, data)
    yield found


class Notice:
    def __init__(self, diag: Any) -> None:
        # A Diagnostic is valid only inside the handler: keep its texts.
        self.message_primary: str = diag.message_primary or ""
        self.message_hint: str = diag.message_hint or ""


def _notices(conn: psycopg.Connection[Any]) -> list[Notice]:
    seen: list[Notice] = []
    conn.add_notice_handler(lambda diag: seen.append(Notice(diag)))
    return seen


def _check(rows: list[tuple[Any, ...]], truth: list[tuple[str, float]], metric: str) -> None:
    assert [r[0] for r in rows] == [k for k, _ in truth]
    for (_, similarity, distance, _), (_, expected) in zip(rows, truth, strict=True):
        assert distance == pytest.approx(expected, rel=1e-6, abs=1e-6)
        # Reported as float32 values, as the service reports distances.
        assert distance == float(np.float32(distance))
        wanted = 1.0 - distance if metric == "cosine" else 1.0 / (1.0 + distance)
        assert similarity == pytest.approx(wanted, rel=1e-12)


def _candidates(rng: np.random.Generator, n: int) -> list[str]:
    picked = [f"v{i:05d}" for i in rng.choice(N, size=n, replace=False)]
    # Duplicates and ids that are not in the index.
    return picked + picked[: min(3, n)] + ["no-such-id", "v99999"]


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("n", [1, 100, 5_000, 20_000])
def test_rank_vectors_equals_numpy(conn: Any, ranked: dict[str, Ranked], metric: str, n: int) -> None:
    index = ranked[metric]
    rng = np.random.default_rng(n)
    query = rng.standard_normal(DIM)
    candidates = _candidates(rng, n)
    notices = _notices(conn)
    rows = conn.execute(
        "SELECT * FROM s3vl.rank_vectors(%s, %s, %s, top_k => 10)", (index.name, query.tolist(), candidates)
    ).fetchall()
    _check(rows, index.truth(query, candidates, 10), metric)
    missing = [d for d in notices if "not in index" in d.message_primary]
    assert len(missing) == 1 and missing[0].message_primary.startswith(f"rank_vectors: 2 of {n + 2} ")


def _invocations(sql_stack: SqlStack, function: str = "s3vl-vector-query") -> list[str]:
    """The operation of every invocation the Lambda function has logged so far (one JSON line each)."""
    log = sql_stack.stack.function_log(function)
    return re.findall(
        r'"message":"s3vl invocation","request_id":"[^"]*","operation":"([a-z_]+)"', log.read_text()
    )


def test_rank_vectors_ranks_inside_one_invocation(
    sql_stack: SqlStack, conn: Any, ranked: dict[str, Ranked]
) -> None:
    """20,000 candidates: one rank_vectors invocation that reads them in GetVectors batches and answers
    with the top_k; no vector crosses into SQL. (On a function that does not slice: the invocations of
    slices are tests/sql/test_rank_slices.py's.)"""
    index = ranked["cosine"]
    rng = np.random.default_rng(99)
    query = rng.standard_normal(DIM)
    candidates = [f"v{i:05d}" for i in rng.choice(N, size=20_000, replace=False)]
    function = f"{UNSLICED}-20k"
    with sql_stack.fresh_function(conn, function, {"S3VL_RANK_SLICE_IDS": "0"}):
        rows = conn.execute(
            "SELECT * FROM s3vl.rank_vectors(%s, %s, %s, top_k => 10)",
            (index.name, query.tolist(), candidates),
        ).fetchall()
        _check(rows, index.truth(query, candidates, 10), "cosine")
        assert _invocations(sql_stack, function) == ["rank_vectors"]


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_rank_vectors_merges_invocations_when_the_ids_do_not_fit_one_request(
    sql_stack: SqlStack, conn: Any, ranked: dict[str, Ranked], metric: str
) -> None:
    """About 9 MB of ids (long ids that are not in the index, between real candidates) need two requests:
    their top_k are merged exactly, the winners' metadata read afterwards, the missing ids counted once."""
    index = ranked[metric]
    rng = np.random.default_rng(7)
    query = rng.standard_normal(DIM)
    real = [f"v{i:05d}" for i in rng.choice(N, size=3_000, replace=False)]
    candidates = []
    for n, key in enumerate(real):
        candidates += [key] + [f"absent-{n:05d}-{c}" + "x" * 1000 for c in "abc"]
    notices = _notices(conn)
    function = f"{UNSLICED}-{metric}"
    with sql_stack.fresh_function(conn, function, {"S3VL_RANK_SLICE_IDS": "0"}):
        rows = conn.execute(
            "SELECT * FROM s3vl.rank_vectors(%s, %s, %s, top_k => 25, return_metadata => true)",
            (index.name, query.tolist(), candidates),
        ).fetchall()
        assert _invocations(sql_stack, function) == ["rank_vectors", "rank_vectors", "get_vectors"]
    truth = index.truth(query, candidates, 25)
    _check(rows, truth, metric)
    assert [r[3]["tenth"] for r in rows] == [int(k[1:]) % 10 for k, _ in truth]
    missing = [d.message_primary for d in notices if "not in index" in d.message_primary]
    assert missing == [
        f"rank_vectors: 9000 of 12000 distinct vector ids are not in index {index.name!r} and were ignored"
    ]


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize(
    ("n", "path"), [(1, "rank_vectors"), (100, "rank_vectors"), (5_000, "ann"), (20_000, "ann")]
)
def test_search_equals_numpy(conn: Any, ranked: dict[str, Ranked], metric: str, n: int, path: str) -> None:
    index = ranked[metric]
    rng = np.random.default_rng(1000 + n)
    query = rng.standard_normal(DIM)
    candidates = _candidates(rng, n)
    notices = _notices(conn)
    rows = conn.execute(
        "SELECT * FROM s3vl.search(%s, %s, top_k => 10, candidate_ids => %s, return_metadata => true)",
        (index.name, query.tolist(), candidates),
    ).fetchall()
    truth = index.truth(query, candidates, 10)
    _check(rows, truth, metric)
    assert [r[3]["tenth"] for r in rows] == [int(k[1:]) % 10 for k, _ in truth]
    assert next(
        d.message_primary for d in notices if d.message_primary.startswith("search: path")
    ).startswith(f"search: path {path}")


def test_search_falls_back_to_rank_when_the_ann_answer_misses_the_candidates(
    conn: Any, ranked: dict[str, Ranked]
) -> None:
    index = ranked["cosine"]
    query = np.random.default_rng(3).standard_normal(DIM)
    # The 5,000 vectors farthest from the query: no widened ANN answer reaches them.
    order = np.argsort(index.data.astype(np.float64) @ query)
    candidates = [index.keys[i] for i in order[:5000]]
    notices = _notices(conn)
    rows = conn.execute(
        "SELECT * FROM s3vl.search(%s, %s, top_k => 10, candidate_ids => %s)",
        (index.name, query.tolist(), candidates),
    ).fetchall()
    _check(rows, index.truth(query, candidates, 10), "cosine")
    paths = [d.message_primary for d in notices if d.message_primary.startswith("search: path")]
    assert paths and paths[0].startswith(
        "search: path rank_vectors over 5000 candidates (query_vectors with top_k"
    )


def test_rank_vectors_edge_arguments(conn: Any, ranked: dict[str, Ranked]) -> None:
    name = ranked["cosine"].name
    query = [1.0] * DIM
    assert conn.execute("SELECT * FROM s3vl.rank_vectors(%s, %s, '{}')", (name, query)).fetchall() == []
    for sql, args, state in [
        ("SELECT * FROM s3vl.rank_vectors(%s, %s, NULL)", (name, query), "22023"),
        ("SELECT * FROM s3vl.rank_vectors(%s, %s, ARRAY['v00001'], top_k => 0)", (name, query), "22023"),
        ("SELECT * FROM s3vl.rank_vectors(%s, %s, ARRAY['v00001'])", (name, [1.0, 2.0]), "22023"),
        ("SELECT * FROM s3vl.rank_vectors(%s, %s, ARRAY['v00001'])", ("nope-index", query), "42704"),
        ("SELECT * FROM s3vl.search(%s, %s, 10, ARRAY['v00001'], '{\"sel\": true}')", (name, query), "0A000"),
    ]:
        with pytest.raises(psycopg.Error) as raised:
            conn.execute(sql, args).fetchall()
        assert raised.value.sqlstate == state, sql
        assert raised.value.diag.message_hint


def test_classic_filter_is_short_and_search_recovers_it(
    sql_stack: SqlStack, conn: Any, ranked: dict[str, Ranked]
) -> None:
    client = sql_stack.s3vectors()
    rng = np.random.default_rng(17)
    n = 20_000
    keys = [f"v{i:05d}" for i in range(n)]
    data = rng.standard_normal((n, DIM)).astype(np.float32)
    # A 0.1 % filter: 20 of 20,000 vectors.
    arn = create_index(
        client, "rank-modes", DIM, "cosine", keys, data, [{"sel": i % 1000 == 7} for i in range(n)]
    )
    index = Ranked("rank-modes", "cosine", keys, data)
    conn.execute("SELECT s3vl.register_index('rank-modes', %s)", (arn,))
    query = rng.standard_normal(DIM)
    chosen = [k for i, k in enumerate(keys) if i % 1000 == 7]
    truth = index.truth(query, chosen, 10)
    notices = _notices(conn)
    select = (
        "SELECT * FROM s3vl.query_vectors(%s, 'rank-modes', top_k => 10, "
        "metadata_filter => '{\"sel\": true}')"
    )

    # ENHANCED (the emulator's default) filters first: the full, exact top 10.
    assert conn.execute(
        "SELECT index_mode FROM s3vl.index_registry WHERE index_name = 'rank-modes'"
    ).fetchone() == ("ENHANCED",)
    assert [r[0] for r in conn.execute(select, (query.tolist(),)).fetchall()] == [k for k, _ in truth]
    assert not [d for d in notices if "CLASSIC" in d.message_primary]

    client.update_index_mode(vectorBucketName=BUCKET, indexName="rank-modes", indexMode="CLASSIC")
    conn.execute("SELECT s3vl.register_index('rank-modes', %s)", (arn,))
    assert conn.execute(
        "SELECT index_mode FROM s3vl.index_registry WHERE index_name = 'rank-modes'"
    ).fetchone() == ("CLASSIC",)
    short = conn.execute(select, (query.tolist(),)).fetchall()
    assert len(short) < 10
    warned = [d for d in notices if "CLASSIC" in d.message_primary]
    assert len(warned) == 1 and warned[0].message_primary.startswith(
        f"query_vectors returned {len(short)} of 10 rows"
    )
    assert "s3vl.search" in warned[0].message_hint and "ENHANCED" in warned[0].message_hint

    # The blog's way: the filter runs in SQL, search ranks the chosen ids exactly.
    rows = conn.execute(
        "SELECT * FROM s3vl.search('rank-modes', %s, top_k => 10, candidate_ids => %s)",
        (query.tolist(), chosen),
    ).fetchall()
    _check(rows, truth, "cosine")
    # With the service's filter only, search widens top_k and says so when the answer stays short.
    notices.clear()
    rows = conn.execute(
        "SELECT * FROM s3vl.search('rank-modes', %s, top_k => 10, metadata_filter => '{\"sel\": true}')",
        (query.tolist(),),
    ).fetchall()
    assert len(rows) > len(short)
    messages = [d.message_primary for d in notices]
    assert any(
        m.startswith("search: path ann, query_vectors with top_k 1000")
        or m.startswith("search: path ann, query_vectors with top_k 10000")
        for m in messages
    ), messages
    assert len(rows) == 10 or any(m.startswith(f"search: {len(rows)} of 10 rows") for m in messages)
