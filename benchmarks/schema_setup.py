"""Benchmarks' common set-up: a local stack in a new state directory, emulator indexes loaded with their
vectors, a new database with the shim and the s3vl schema, configured and with the indexes registered, and
the query vectors in a table of that database."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from s3vl_local import latency_profiles, local_aws
from s3vl_local.stack import LocalStack

REPO = Path(__file__).resolve().parents[1]
PUT_BATCH = 500  # vectors per PutVectors call, the API's limit
THROTTLED_ATTEMPTS = 20  # the aws profile answers 429 beyond 2,500 written vectors/s per index


@contextlib.contextmanager
def running_stack(name: str, latency_profile: str = latency_profiles.NONE) -> Iterator[LocalStack]:
    """A started local stack whose state lives in a new temporary directory; stopped and removed on exit."""
    with tempfile.TemporaryDirectory(prefix=f"s3vl-bench-{name}-") as state:
        Path(state).chmod(0o755)  # the postgres OS user must traverse it when we run as root
        stack = LocalStack(Path(state), latency_profile=latency_profile)
        stack.start()
        try:
            yield stack
        finally:
            stack.stop()


def s3vectors(stack: Any) -> Any:
    """A boto3 client for the stack's S3 Vectors emulator."""
    return local_aws.client("s3vectors", stack.env()["AWS_ENDPOINT_URL_S3VECTORS"])


def create_index(
    s3v: Any,
    bucket: str,
    index: str,
    dimension: int,
    keys: list[str] | None = None,
    data: np.ndarray | None = None,
    metadata: list[dict[str, Any]] | None = None,
    index_mode: str | None = None,
) -> str:
    """Create float32 cosine index `index` in `bucket` (then set `index_mode`), put keys[i] -> data[i]
    (with metadata[i]) PUT_BATCH vectors per call, and return the index's ARN."""
    s3v.create_index(
        vectorBucketName=bucket,
        indexName=index,
        dataType="float32",
        dimension=dimension,
        distanceMetric="cosine",
    )
    if index_mode is not None:
        s3v.update_index_mode(vectorBucketName=bucket, indexName=index, indexMode=index_mode)
    keys = keys or []
    for start in range(0, len(keys), PUT_BATCH):
        vectors = [
            {"key": keys[i], "data": {"float32": data[i].tolist()}}
            | ({} if metadata is None else {"metadata": metadata[i]})
            for i in range(start, min(start + PUT_BATCH, len(keys)))
        ]
        for attempt in range(1, THROTTLED_ATTEMPTS + 1):
            try:
                s3v.put_vectors(vectorBucketName=bucket, indexName=index, vectors=vectors)
                break
            except s3v.exceptions.TooManyRequestsException:
                if attempt == THROTTLED_ATTEMPTS:
                    raise
                time.sleep(0.2 * attempt)
    return str(s3v.get_index(vectorBucketName=bucket, indexName=index)["index"]["indexArn"])


def install_schema(
    stack: Any, dbname: str, indexes: dict[str, str] | None = None, timeout_seconds: int | None = None
) -> None:
    """(Re)create `dbname`, install the Aurora shim there, then source/sql/install.sql with psql; configure
    s3vl with the stack's function (and `timeout_seconds`) and register `indexes` (name -> ARN)."""
    with psycopg.connect(stack.pg.dsn(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {dbname}")
        conn.execute(f"CREATE DATABASE {dbname}")
    stack.install_shim(dbname)
    subprocess.run(
        ["psql", "-X", "-q", "-h", stack.pg.host, "-p", str(stack.pg.port), "-U", "postgres", "-d", dbname,
         "-f", str(REPO / "source" / "sql" / "install.sql")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    with psycopg.connect(stack.pg.dsn(dbname=dbname), autocommit=True) as conn:
        function_arn = stack.env()["S3VL_LAMBDA_FUNCTION_ARN"]
        if timeout_seconds is None:
            conn.execute("SELECT s3vl.configure(%s)", (function_arn,))
        else:
            conn.execute("SELECT s3vl.configure(%s, timeout_seconds => %s)", (function_arn, timeout_seconds))
        for name, arn in (indexes or {}).items():
            conn.execute("SELECT s3vl.register_index(%s, %s)", (name, arn))


def load_queries(conn: psycopg.Connection[Any], vectors: Iterable[list[float]]) -> None:
    """Temporary table bench_queries (n, v) holding `vectors` numbered from 0: query vectors live in a table,
    as they would when they come from the database, so psycopg's per-element adaptation of a Python list
    (about 1 ms for 768) stays out of the figures."""
    conn.execute("CREATE TEMP TABLE bench_queries (n int PRIMARY KEY, v double precision[])")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO bench_queries VALUES (%s, %s)", list(enumerate(vectors)))


def query_vectors(
    conn: psycopg.Connection[Any], number: int, index: str, top_k: int
) -> list[tuple[Any, ...]]:
    """The rows of s3vl.query_vectors for query vector `number` of bench_queries, without metadata."""
    return conn.execute(
        "SELECT * FROM s3vl.query_vectors((SELECT v FROM bench_queries WHERE n = %s), %s, top_k => %s, "
        "return_metadata => false)",
        (number, index, top_k),
    ).fetchall()


def timed_query(conn: psycopg.Connection[Any], number: int, index: str, top_k: int) -> float:
    """Seconds that query_vectors takes; it must return top_k rows."""
    start = time.perf_counter()
    rows = query_vectors(conn, number, index, top_k)
    elapsed = time.perf_counter() - start
    assert len(rows) == top_k
    return elapsed
