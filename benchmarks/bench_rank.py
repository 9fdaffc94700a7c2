#!/usr/bin/env python3
"""s3vl.rank_vectors over 5,000 candidate ids against one s3vl.query_vectors, and search's recall on a
0.1 %-selective filter on a CLASSIC index, on the `aws` latency profile of the local stack.

One stack (latency profile `aws`, see docs/local-stack.md), one CLASSIC index of 20k x 768 cosine vectors.
- rank / query: p50 of rank_vectors(top_k 10) over 5,000 random ids (one rank_vectors invocation from SQL,
  which ranks them in slices of the local stack's S3VL_RANK_SLICE_IDS, each slice by an invocation of its
  own), divided by the p50 of one query_vectors(top_k 10) measured in the same run, interleaved (target
  <= 3).
- for comparison, get_vectors of the same 5,000 ids' vectors into SQL: what rank_vectors cost when SQL
  fetched the vectors and computed the distances.
- search over the same 5,000 ids, which takes the ANN path (a widened query_vectors), for comparison.
- recall@10 of search with candidate_ids chosen in SQL by a 0.1 %-selective condition (20 of 20,000
  rows), against numpy over the same rows (target 1.0); for contrast, the recall of query_vectors with
  the same condition as a metadata_filter on the CLASSIC index (the emulator's CLASSIC model).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "source" / "local"))

import psycopg  # noqa: E402
from s3vl_local.stack import RANK_SLICE_IDS  # noqa: E402
from schema_setup import create_index, install_schema, load_queries, query_vectors, running_stack, s3vectors  # noqa: E402

N, DIM, CANDIDATES = 20_000, 768, 5_000
BUCKET, INDEX, DBNAME = "bench-rank", "rank-20k", "s3vl_bench_rank"
PROFILE = "aws"


def _top10(data: np.ndarray, rows: np.ndarray, query: np.ndarray) -> list[str]:
    v = data[rows].astype(np.float64)
    q = query.astype(np.float32).astype(np.float64)
    cos = v @ q / (np.linalg.norm(v, axis=1) * np.linalg.norm(q))
    return [f"doc-{rows[i]}" for i in np.argsort(-cos, kind="stable")[:10]]


def measure(stack: Any, repeats: int, fetches: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(15)
    data = rng.standard_normal((N, DIM)).astype(np.float32)
    s3v = s3vectors(stack)
    s3v.create_vector_bucket(vectorBucketName=BUCKET)
    keys, metadata = [f"doc-{i}" for i in range(N)], [{"sel": i % 1000 == 7} for i in range(N)]
    index_arn = create_index(s3v, BUCKET, INDEX, DIM, keys, data, metadata, index_mode="CLASSIC")
    install_schema(stack, DBNAME, {INDEX: index_arn})
    queries = [rng.standard_normal(DIM).astype(np.float32) for _ in range(repeats)]
    with psycopg.connect(stack.pg.dsn(dbname=DBNAME), autocommit=True) as conn:
        # The relational side: the rows a SQL condition chooses, as an application table would hold them.
        conn.execute("CREATE TEMP TABLE items (id text PRIMARY KEY, sel boolean, pick boolean)")
        picked = set(rng.choice(N, size=CANDIDATES, replace=False).tolist())
        with conn.cursor().copy("COPY items FROM STDIN") as copy:
            for i in range(N):
                copy.write_row((f"doc-{i}", i % 1000 == 7, i in picked))
        load_queries(conn, [q.tolist() for q in queries])

        def query(n: int) -> int:
            return len(query_vectors(conn, n, INDEX, 10))

        def rank(n: int) -> int:
            return len(conn.execute(
                "SELECT * FROM s3vl.rank_vectors(%s, (SELECT v FROM bench_queries WHERE n = %s), "
                "(SELECT array_agg(id) FROM items WHERE pick), top_k => 10)",
                (INDEX, n)).fetchall())  # fmt: skip

        def fetch(n: int) -> int:
            # The earlier design's transport: the candidates' vectors through get_vectors into SQL.
            rows = conn.execute(
                "SELECT count(*) FROM s3vl.get_vectors((SELECT array_agg(id) FROM items WHERE pick), %s, "
                "include_vector_data => true, include_metadata => false)", (INDEX,)).fetchone()  # fmt: skip
            return 10 if rows[0] == CANDIDATES else -1

        def search(n: int) -> int:
            return len(conn.execute(
                "SELECT * FROM s3vl.search(%s, (SELECT v FROM bench_queries WHERE n = %s), top_k => 10, "
                "candidate_ids => (SELECT array_agg(id) FROM items WHERE pick))",
                (INDEX, n)).fetchall())  # fmt: skip

        paths = {"query": query, "rank": rank, "fetch": fetch, "search": search}
        for fn in paths.values():  # warm: workers, clients, plans
            fn(0)
        times: dict[str, list[float]] = {name: [] for name in paths}
        for n in range(repeats):
            for name, fn in paths.items():
                if name == "fetch" and n >= fetches:
                    continue
                start = time.perf_counter()
                assert fn(n) == 10
                times[name].append(time.perf_counter() - start)

        selective = np.array([i for i in range(N) if i % 1000 == 7])
        recall_search, recall_filter = [], []
        for n, q in enumerate(queries):
            truth = set(_top10(data, selective, q))
            found = conn.execute(
                "SELECT vector_id FROM s3vl.search(%s, (SELECT v FROM bench_queries WHERE n = %s), "
                "top_k => 10, candidate_ids => (SELECT array_agg(id) FROM items WHERE sel))",
                (INDEX, n)).fetchall()  # fmt: skip
            recall_search.append(len(truth & {r[0] for r in found}) / 10)
            found = conn.execute(
                "SELECT vector_id FROM s3vl.query_vectors((SELECT v FROM bench_queries WHERE n = %s), %s, "
                "top_k => 10, metadata_filter => '{\"sel\": true}')", (n, INDEX)).fetchall()  # fmt: skip
            recall_filter.append(len(truth & {r[0] for r in found}) / 10)

    p50 = {name: statistics.median(values) * 1000 for name, values in times.items()}
    label = f"{N // 1000}k x {DIM} cosine, latency profile {PROFILE}, slices of {RANK_SLICE_IDS}"
    return [
        {"name": f"rank_vectors over {CANDIDATES} ids p50 vs one query_vectors p50 ({label})",
         "value": p50["rank"], "baseline": p50["query"], "ratio": p50["rank"] / p50["query"], "target": 3,
         "unit": "ms"},
        {"name": f"  for comparison: get_vectors of the {CANDIDATES} candidates' vectors into SQL (before)",
         "value": p50["fetch"], "baseline": p50["query"], "ratio": p50["fetch"] / p50["query"],
         "target": None, "unit": "ms"},
        {"name": f"  search over the same {CANDIDATES} ids (ANN path) p50 vs one query_vectors p50",
         "value": p50["search"], "baseline": p50["query"], "ratio": p50["search"] / p50["query"],
         "target": None, "unit": "ms"},
        {"name": f"search recall@10, candidate_ids from a 0.1 % SQL condition, CLASSIC index ({label})",
         "value": statistics.mean(recall_search), "baseline": 1.0, "ratio": statistics.mean(recall_search),
         "target": 1.0, "unit": "recall"},
        {"name": "  for contrast: query_vectors recall@10, the same condition as metadata_filter (CLASSIC)",
         "value": statistics.mean(recall_filter), "baseline": 1.0, "ratio": statistics.mean(recall_filter),
         "target": None, "unit": "recall"},
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    # A p50 needs many draws: the profile's delays are log-normal (QueryVectors sigma 0.52), so the median of
    # 5 queries is off by about 30 % either way. The get_vectors comparison moves 5,000 x 768 numbers into
    # SQL, seconds each time: it has few repeats.
    quick = bool(argv and "--quick" in argv)
    repeats, fetches = (15, 2) if quick else (41, 5)
    with running_stack("rank", latency_profile=PROFILE) as stack:
        results = measure(stack, repeats, fetches)
    for row in results:
        target = "" if row["target"] is None else f" (target {row['target']})"
        print(f"{row['name']}: {row['value']:.3g} {row['unit']}, baseline {row['baseline']:.3g}, "
              f"ratio {row['ratio']:.3g}{target}")  # fmt: skip
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
