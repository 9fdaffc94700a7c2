#!/usr/bin/env python3
"""Table sync (docs/sync.md): s3vl.flush() throughput against direct boto3 PutVectors, and the lag from COMMIT
to visible with the flush scheduled by pg_cron.

One local stack, 768-dimensional cosine indexes, the same rows for both paths, interleaved batch by batch
in a seeded random order (the machine's load changes within seconds):
- flush:    a synced table of N rows (real[] embeddings, one metadata column) is enqueued (sync_table with
            backfill); each SELECT * FROM s3vl.flush(500) sends the next 500 rows as one PutVectors
            (PL/pgSQL -> aws_lambda shim -> Lambda service -> handler zip -> boto3 -> emulator), committed
- baseline: boto3 put_vectors of the same 500 rows and metadata into another index
            (target: flush / baseline >= 0.7, vectors per second from the median batch times)
- lag:      with the documented pg_cron job (a minute of flushes, one a second when idle) running,
            a row is inserted and committed, then boto3 QueryVectors with its own vector is polled
            every 10 ms until its key comes back; p50 and p99 over the samples, against the
            one-second flush interval as baseline.
"""

from __future__ import annotations

import argparse
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
from schema_setup import create_index, install_schema, running_stack, s3vectors  # noqa: E402

DIM = 768
BUCKET, DBNAME, TABLE = "bench-sync", "s3vl_bench_sync", "public.bench_items"
SYNCED, DIRECT = "bench-synced", "bench-direct"
# The pg_cron command docs/sync.md documents.
FLUSH_EVERY_SECOND = (
    "DO $$DECLARE r record; started timestamptz := clock_timestamp(); BEGIN LOOP "
    "SELECT * INTO r FROM s3vl.flush(); COMMIT; "
    "EXIT WHEN clock_timestamp() > started + interval '55 seconds'; "
    "IF r.sent = 0 THEN PERFORM pg_sleep(1); END IF; END LOOP; END$$"
)


def _setup(stack: Any, rows: int, rng: np.random.Generator) -> tuple[Any, np.ndarray]:
    s3v = s3vectors(stack)
    s3v.create_vector_bucket(vectorBucketName=BUCKET)
    arn = create_index(s3v, BUCKET, SYNCED, DIM)
    create_index(s3v, BUCKET, DIRECT, DIM)
    install_schema(stack, DBNAME, {SYNCED: arn})
    matrix = rng.standard_normal((rows, DIM), dtype=np.float32)
    with psycopg.connect(stack.pg.dsn(dbname=DBNAME), autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, emb real[] NOT NULL, grp text)")
        with conn.cursor() as cur, cur.copy(f"COPY {TABLE} (id, emb, grp) FROM STDIN") as copy:
            for i in range(rows):
                copy.write_row((i, matrix[i].tolist(), f"g{i % 10}"))
    return s3v, matrix


def _flush_batch(conn: psycopg.Connection[Any]) -> float:
    """Seconds s3vl.flush(500) takes: one batch of 500 changes, read, sent and committed."""
    start = time.perf_counter()
    sent, failed, _ = conn.execute("SELECT * FROM s3vl.flush(500)").fetchone()
    elapsed = time.perf_counter() - start
    assert failed == 0, conn.execute("SELECT * FROM s3vl.sync_failures()").fetchall()
    if sent != 500:  # a batch that failed (e.g. timed out on a loaded machine): not a throughput sample
        print(f"flush sent {sent}: {conn.execute('SELECT last_error FROM s3vl.sync_status()').fetchone()[0]}")
        return float("nan")
    return elapsed


def _direct_batch(s3v: Any, matrix: np.ndarray, first: int) -> float:
    """Seconds boto3 takes to put the same 500 rows in one PutVectors call."""
    start = time.perf_counter()
    s3v.put_vectors(
        vectorBucketName=BUCKET,
        indexName=DIRECT,
        vectors=[
            {"key": str(i), "data": {"float32": matrix[i].tolist()}, "metadata": {"grp": f"g{i % 10}"}}
            for i in range(first, first + 500)
        ],
    )
    return time.perf_counter() - start


def _lag_samples(stack: Any, s3v: Any, samples: int, rng: np.random.Generator) -> list[float]:
    """Seconds from COMMIT to the row's key answering QueryVectors, with the pg_cron job running."""
    with psycopg.connect(stack.pg.dsn(), autocommit=True) as cron:
        cron.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
        job = cron.execute(
            "SELECT cron.schedule_in_database('s3vl-flush', '* * * * *', %s, %s)",
            (FLUSH_EVERY_SECOND, DBNAME),
        ).fetchone()[0]
        try:
            with psycopg.connect(stack.pg.dsn(dbname=DBNAME), autocommit=True) as conn:
                deadline = time.monotonic() + 90
                while not conn.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE query = %s", (FLUSH_EVERY_SECOND,)
                ).fetchone():
                    assert time.monotonic() < deadline, "the pg_cron job did not start"
                    time.sleep(0.2)
                lags = []
                for n in range(samples):
                    vector = rng.standard_normal(DIM, dtype=np.float32)
                    key = 1_000_000 + n
                    time.sleep(float(rng.uniform(0, 1)))  # no phase lock with the loop's sleep
                    conn.execute(
                        f"INSERT INTO {TABLE} (id, emb, grp) VALUES (%s, %s, 'lag')", (key, vector.tolist())
                    )
                    committed = time.perf_counter()
                    while True:
                        found = s3v.query_vectors(
                            vectorBucketName=BUCKET, indexName=SYNCED, topK=1,
                            queryVector={"float32": vector.tolist()},
                        )["vectors"]  # fmt: skip
                        if found and found[0]["key"] == str(key):
                            lags.append(time.perf_counter() - committed)
                            break
                        assert time.perf_counter() - committed < 70, f"row {key} not visible after 70 s"
                        time.sleep(0.01)
                return lags
        finally:
            cron.execute("SELECT cron.unschedule(%s)", (job,))
            cron.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = %s",
                (FLUSH_EVERY_SECOND,),
            )


def measure(stack: Any, rows: int, samples: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(7)
    s3v, matrix = _setup(stack, rows, rng)
    flush_s, direct_s = [], []
    order = random.Random(5)
    with psycopg.connect(stack.pg.dsn(dbname=DBNAME), autocommit=True) as conn:
        # The backfill enqueues every row in key order, so the n-th flush(500) sends rows 500n..500n+499.
        conn.execute("SELECT s3vl.sync_table(%s, %s, 'id', 'emb', '{grp}')", (TABLE, SYNCED))
        for first in range(0, rows, 500):  # interleaved batch by batch, in a seeded random order
            if order.random() < 0.5:
                flush_s.append(_flush_batch(conn))
                direct_s.append(_direct_batch(s3v, matrix, first))
            else:
                direct_s.append(_direct_batch(s3v, matrix, first))
                flush_s.append(_flush_batch(conn))
    flush_s = [t for t in flush_s if t == t]
    flush_rate = 500 / statistics.median(flush_s)
    direct_rate = 500 / statistics.median(direct_s)
    lags = sorted(_lag_samples(stack, s3v, samples, rng))
    p50 = statistics.median(lags) * 1000
    p99 = lags[min(len(lags) - 1, round(0.99 * (len(lags) - 1)))] * 1000
    return [
        {
            "name": f"flush throughput ({DIM} dims, median of {len(flush_s)} batches of 500)",
            "value": flush_rate,
            "baseline": direct_rate,
            "ratio": flush_rate / direct_rate,
            "target": ">= 0.7",
            "unit": "vectors/s",
        },
        {"name": f"COMMIT-to-visible lag p50 ({samples} samples)", "value": p50, "baseline": 1000.0,
         "ratio": p50 / 1000, "target": None, "unit": "ms"},
        {"name": f"COMMIT-to-visible lag p99 ({samples} samples)", "value": p99, "baseline": 1000.0,
         "ratio": p99 / 1000, "target": None, "unit": "ms"},
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rows and lag samples")
    args = parser.parse_args(argv)
    rows, samples = (2000, 10) if args.quick else (10000, 40)
    with running_stack("sync") as stack:
        results = measure(stack, rows, samples)
    for row in results:
        ratio = "" if row["ratio"] is None else f", ratio {row['ratio']:.2f}"
        target = "" if row["target"] is None else f" (target {row['target']})"
        print(
            f"{row['name']}: {row['value']:.1f} {row['unit']}, baseline {row['baseline']:.1f}{ratio}{target}"
        )
    return results


if __name__ == "__main__":
    main()
