#!/usr/bin/env python3
"""Table sync (docs/sync.md): s3vl.flush() throughput against direct boto3 PutVectors, and the lag from COMMIT
to visible with the flush scheduled by pg_cron.

One local stack, 768-dimensional cosine indexes, the same rows for both paths, rounds interleaved:
- flush:    a synced table of N rows (real[] embeddings, one metadata column) is enqueued again
            (unsync_table + sync_table with backfill) and SELECT * FROM s3vl.flush() sends it
            (PL/pgSQL -> aws_lambda shim -> Lambda service -> handler zip -> boto3 -> emulator);
            vectors per second of the flush call
- baseline: boto3 put_vectors of the same rows and metadata, 500 per call, into another index;
            vectors per second (target: flush / baseline >= 0.7)
- lag:      with the documented pg_cron job (a minute of flushes, one a second when idle) running,
            a row is inserted and committed, then boto3 QueryVectors with its own vector is polled
            every 10 ms until its key comes back; p50 and p99 over the samples, against the
            one-second flush interval as baseline.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "source" / "local"))

import psycopg  # noqa: E402
from s3vl_local import local_aws  # noqa: E402
from s3vl_local.stack import LocalStack  # noqa: E402

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


def _setup(stack: Any, env: dict[str, str], rows: int, rng: np.random.Generator) -> tuple[Any, np.ndarray]:
    s3v = local_aws.client("s3vectors", env["AWS_ENDPOINT_URL_S3VECTORS"])
    s3v.create_vector_bucket(vectorBucketName=BUCKET)
    for name in (SYNCED, DIRECT):
        s3v.create_index(
            vectorBucketName=BUCKET,
            indexName=name,
            dataType="float32",
            dimension=DIM,
            distanceMetric="cosine",
        )
    with psycopg.connect(stack.pg.dsn(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DBNAME}")
        conn.execute(f"CREATE DATABASE {DBNAME}")
    stack.install_shim(DBNAME)
    subprocess.run(
        ["psql", "-X", "-q", "-h", stack.pg.host, "-p", str(stack.pg.port), "-U", "postgres", "-d", DBNAME,
         "-f", str(REPO / "source" / "sql" / "install.sql")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    matrix = rng.standard_normal((rows, DIM), dtype=np.float32)
    arn = s3v.get_index(vectorBucketName=BUCKET, indexName=SYNCED)["index"]["indexArn"]
    with psycopg.connect(stack.pg.dsn(dbname=DBNAME), autocommit=True) as conn:
        conn.execute("SELECT s3vl.configure(%s)", (env["S3VL_LAMBDA_FUNCTION_ARN"],))
        conn.execute("SELECT s3vl.register_index(%s, %s)", (SYNCED, arn))
        conn.execute(f"CREATE TABLE {TABLE} (id integer PRIMARY KEY, emb real[] NOT NULL, grp text)")
        with conn.cursor() as cur, cur.copy(f"COPY {TABLE} (id, emb, grp) FROM STDIN") as copy:
            for i in range(rows):
                copy.write_row((i, matrix[i].tolist(), f"g{i % 10}"))
    return s3v, matrix


def _flush_round(conn: psycopg.Connection[Any]) -> float:
    """Seconds s3vl.flush() takes to send every row of the table (enqueued again first)."""
    conn.execute("SELECT s3vl.unsync_table(%s, discard_pending => true)", (TABLE,))
    conn.execute("SELECT s3vl.sync_table(%s, %s, 'id', 'emb', '{grp}')", (TABLE, SYNCED))
    start = time.perf_counter()
    # A batch that failed (e.g. timed out on a loaded machine) is retried, and counted in the time.
    while True:
        failed, pending = conn.execute("SELECT failed, pending FROM s3vl.flush()").fetchone()
        assert failed == 0, conn.execute("SELECT * FROM s3vl.sync_failures()").fetchall()
        if pending == 0:
            return time.perf_counter() - start
        error = conn.execute("SELECT last_error FROM s3vl.sync_status()").fetchone()[0]
        print(f"flush stopped with {pending} pending: {error}")
        conn.execute("SELECT s3vl.retry_sync(%s)", (TABLE,))


def _direct_round(s3v: Any, matrix: np.ndarray) -> float:
    """Seconds boto3 takes to put the same rows, 500 per PutVectors call."""
    start = time.perf_counter()
    for first in range(0, len(matrix), 500):
        s3v.put_vectors(
            vectorBucketName=BUCKET,
            indexName=DIRECT,
            vectors=[
                {"key": str(i), "data": {"float32": matrix[i].tolist()}, "metadata": {"grp": f"g{i % 10}"}}
                for i in range(first, min(first + 500, len(matrix)))
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


def measure(stack: Any, rows: int, rounds: int, samples: int) -> list[dict[str, Any]]:
    env = stack.env()
    rng = np.random.default_rng(7)
    s3v, matrix = _setup(stack, env, rows, rng)
    flush_s, direct_s = [], []
    with psycopg.connect(stack.pg.dsn(dbname=DBNAME), autocommit=True) as conn:
        conn.execute(
            "SELECT s3vl.sync_table(%s, %s, 'id', 'emb', '{grp}', backfill => false)", (TABLE, SYNCED)
        )
        for _ in range(rounds):  # interleaved: both paths see the same machine load
            flush_s.append(_flush_round(conn))
            direct_s.append(_direct_round(s3v, matrix))
    flush_rate = rows / statistics.median(flush_s)
    direct_rate = rows / statistics.median(direct_s)
    lags = sorted(_lag_samples(stack, s3v, samples, rng))
    p50 = statistics.median(lags) * 1000
    p99 = lags[min(len(lags) - 1, round(0.99 * (len(lags) - 1)))] * 1000
    return [
        {
            "name": f"flush throughput ({rows} x {DIM}, median of {rounds})",
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
    parser.add_argument("--quick", action="store_true", help="fewer rows, rounds and lag samples")
    args = parser.parse_args(argv)
    rows, rounds, samples = (1000, 3, 10) if args.quick else (5000, 3, 40)
    with tempfile.TemporaryDirectory(prefix="s3vl-bench-sync-") as state:
        Path(state).chmod(0o755)  # the postgres OS user must traverse it when we run as root
        stack = LocalStack(Path(state))
        stack.start()
        try:
            results = measure(stack, rows, rounds, samples)
        finally:
            stack.stop()
    for row in results:
        ratio = "" if row["ratio"] is None else f", ratio {row['ratio']:.2f}"
        target = "" if row["target"] is None else f" (target {row['target']})"
        print(
            f"{row['name']}: {row['value']:.1f} {row['unit']}, baseline {row['baseline']:.1f}{ratio}{target}"
        )
    return results


if __name__ == "__main__":
    main()
