#!/usr/bin/env python3
"""s3vl.query_vectors_batch and index groups against single s3vl.query_vectors calls, on the `aws` latency
profile (the emulator and the Lambda service cost what AWS costs: docs/local-stack.md).

One local stack started with latency_profile="aws"; N x 768 cosine vectors in one index, and the same
vectors split over an 8-member index group. Figures, each against a baseline measured in the same run:
- 1,000 query vectors through one query_vectors_batch call / (1,000 x the single query_vectors p50),
  target <= 0.06 (the per-index query rate of 200/s alone sets a floor of about 0.04);
- the 8-member group's query_vectors p50 / the single index's query_vectors p50, target <= 1.5
  (interleaved in a seeded random order, so both see the same machine load).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "source" / "local"))

import psycopg  # noqa: E402
from s3vl_local.stack import LocalStack  # noqa: E402
from schema_setup import create_index, install_schema, load_queries, running_stack, s3vectors, timed_query  # noqa: E402

DIM, TOP_K, MEMBERS, BATCH = 768, 10, 8, 1000
BUCKET, SINGLE, GROUP, DBNAME = "bench-batch", "bench-all", "bench-group", "s3vl_bench_batch"
ORDER_SEED = 7


def _load(stack: LocalStack, n: int, rng: np.random.Generator) -> dict[str, str]:
    """The single index with all n vectors, and MEMBERS indexes with n / MEMBERS each."""
    s3v = s3vectors(stack)
    s3v.create_vector_bucket(vectorBucketName=BUCKET)
    data = rng.standard_normal((n, DIM)).astype(np.float32)
    parts = {SINGLE: range(n), **{f"bench-m{m}": range(m, n, MEMBERS) for m in range(MEMBERS)}}
    return {
        index: create_index(s3v, BUCKET, index, DIM, [f"v{i}" for i in rows], data[list(rows)])
        for index, rows in parts.items()
    }


def _install(stack: LocalStack, arns: dict[str, str]) -> None:
    install_schema(stack, DBNAME, arns, timeout_seconds=60)
    with psycopg.connect(stack.pg.dsn(dbname=DBNAME), autocommit=True) as conn:
        members = [name for name in arns if name != SINGLE]
        conn.execute("SELECT s3vl.register_index_group(%s, %s)", (GROUP, members))


def measure(stack: LocalStack, n: int, rounds: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(17)
    _install(stack, _load(stack, n, rng))
    with psycopg.connect(stack.pg.dsn(dbname=DBNAME), autocommit=True) as conn:
        load_queries(conn, [rng.standard_normal(DIM).tolist() for _ in range(BATCH)])

        def timed(number: int, index: str) -> float:
            return timed_query(conn, number, index, TOP_K)

        for number in range(4):  # warm: the cold start of the function's worker
            timed(number, SINGLE)
            timed(number, GROUP)
        times: dict[str, list[float]] = {SINGLE: [], GROUP: []}
        order = random.Random(ORDER_SEED)
        for r in range(rounds):
            paths = list(times)
            order.shuffle(paths)
            for path in paths:
                times[path].append(timed(r % BATCH, path))
        # Let the index's query-rate bucket refill before the batch, as after any quiet second.
        time.sleep(1.5)
        start = time.perf_counter()
        (rows,) = conn.execute(
            "SELECT count(*) FROM s3vl.query_vectors_batch(%s, "
            "(SELECT array_agg(v ORDER BY n) FROM bench_queries), %s)",
            (SINGLE, TOP_K),
        ).fetchone()
        batch_s = time.perf_counter() - start
        assert rows == BATCH * TOP_K
    p50 = {path: statistics.median(values) for path, values in times.items()}
    return [
        {"name": f"{BATCH} queries in one query_vectors_batch vs {BATCH} x single p50 (aws, {n} x {DIM})",
         "value": batch_s * 1000, "baseline": BATCH * p50[SINGLE] * 1000,
         "ratio": batch_s / (BATCH * p50[SINGLE]), "target": 0.06, "unit": "ms"},
        {"name": f"{MEMBERS}-member group query_vectors p50 vs single-index p50",
         "value": p50[GROUP] * 1000, "baseline": p50[SINGLE] * 1000, "ratio": p50[GROUP] / p50[SINGLE],
         "target": 1.5, "unit": "ms"},
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    quick = "--quick" in (argv or [])
    n, rounds = (2000, 20) if quick else (8000, 60)
    with running_stack("batch", latency_profile="aws") as stack:
        results = measure(stack, n, rounds)
    for row in results:
        print(
            f"{row['name']}: {row['value']:.1f} ms, baseline {row['baseline']:.1f} ms, "
            f"ratio {row['ratio']:.4f} (target <= {row['target']})"
        )
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
