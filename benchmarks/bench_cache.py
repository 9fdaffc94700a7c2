#!/usr/bin/env python3
"""s3vl.query_vectors answered from the query result cache against the uncached path, on the `aws`
latency profile (the emulator and the Lambda service cost what AWS costs: docs/local-stack.md).

One local stack started with latency_profile="aws"; two emulator indexes holding the same N x 768 cosine
vectors, top_k 10, both registered, the cache on (one hour) for the first only. Interleaved, in a seeded
random order each round, so that every path sees the same machine load:
- hit:      a query vector already answered once (an entry of the cache)
- miss:     a new query vector on the cached index (looks up, invokes, stores)
- uncached: a new query vector on the other index (no cache: today's path)
Figures: hit p50 / uncached p50 (target <= 0.02), and miss p50 / uncached p50 (what turning the cache
on costs a query it cannot answer).
"""

from __future__ import annotations

import random
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "source" / "local"))

import psycopg  # noqa: E402
from s3vl_local.stack import LocalStack  # noqa: E402
from schema_setup import create_index, install_schema, load_queries, running_stack, s3vectors, timed_query  # noqa: E402

DIM, TOP_K = 768, 10
BUCKET, CACHED, UNCACHED, DBNAME = "bench-cache", "bench-cached", "bench-uncached", "s3vl_bench_cache"
ORDER_SEED = 7


def _load(stack: LocalStack, n: int, rng: np.random.Generator) -> dict[str, str]:
    s3v = s3vectors(stack)
    s3v.create_vector_bucket(vectorBucketName=BUCKET)
    data = rng.standard_normal((n, DIM)).astype(np.float32)
    keys = [f"v{i}" for i in range(n)]
    return {index: create_index(s3v, BUCKET, index, DIM, keys, data) for index in (CACHED, UNCACHED)}


def _install(stack: LocalStack, arns: dict[str, str]) -> None:
    install_schema(stack, DBNAME, arns)
    with psycopg.connect(stack.pg.dsn(dbname=DBNAME), autocommit=True) as conn:
        conn.execute("SELECT s3vl.set_query_cache(%s, interval '1 hour')", (CACHED,))


def measure(stack: LocalStack, n: int, rounds: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(17)
    _install(stack, _load(stack, n, rng))
    with psycopg.connect(stack.pg.dsn(dbname=DBNAME), autocommit=True) as conn:
        load_queries(conn, [rng.standard_normal(DIM).tolist() for _ in range(3 * rounds + 4)])

        def timed(number: int, index: str) -> float:
            return timed_query(conn, number, index, TOP_K)

        fresh = iter(range(4, 3 * rounds + 4))
        for number in range(4):  # warm: the cold start, and the entries the hits read
            timed(number, CACHED)
            timed(number, UNCACHED)
        before = conn.execute("SELECT hits, misses FROM s3vl.cache_stats()").fetchone()
        times: dict[str, list[float]] = {"hit": [], "miss": [], "uncached": []}
        order = random.Random(ORDER_SEED)
        for r in range(rounds):
            paths = list(times)
            order.shuffle(paths)
            for path in paths:
                if path == "hit":
                    times[path].append(timed(r % 4, CACHED))
                else:
                    times[path].append(timed(next(fresh), CACHED if path == "miss" else UNCACHED))
        after = conn.execute("SELECT hits, misses FROM s3vl.cache_stats()").fetchone()
    assert before is not None and after is not None
    assert (after[0] - before[0], after[1] - before[1]) == (rounds, rounds), "hits and misses as planned"
    p50 = {path: statistics.median(values) * 1000 for path, values in times.items()}
    return [
        {"name": f"query_vectors cache hit p50 vs uncached p50 (aws profile, {n} x {DIM})",
         "value": p50["hit"], "baseline": p50["uncached"], "ratio": p50["hit"] / p50["uncached"],
         "target": 0.02, "unit": "ms"},
        {"name": "  cache miss p50 vs uncached p50 (the cost of a lookup and a store)",
         "value": p50["miss"], "baseline": p50["uncached"], "ratio": p50["miss"] / p50["uncached"],
         "target": None, "unit": "ms"},
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    quick = "--quick" in (argv or [])
    n, rounds = (1000, 15) if quick else (5000, 60)
    with running_stack("cache", latency_profile="aws") as stack:
        results = measure(stack, n, rounds)
    for row in results:
        target = "" if row["target"] is None else f" (target <= {row['target']})"
        print(
            f"{row['name']}: {row['value']:.2f} ms, baseline {row['baseline']:.2f} ms, "
            f"ratio {row['ratio']:.4f}{target}"
        )
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
