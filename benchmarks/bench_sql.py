#!/usr/bin/env python3
"""s3vl.query_vectors through the whole local chain against a direct boto3 QueryVectors.

One local stack, one emulator index of 10k x 768 cosine vectors, top_k 10. Measured in this run,
interleaved so that every path sees the same machine load, each round in a new (seeded) random order:
with a fixed order, the request measured first in a round took about 0.5 ms longer than the same
request measured later in it, whichever path it was.
- chain:    SELECT * FROM s3vl.query_vectors(...) over psycopg, the query vector read from a table
            (PL/pgSQL -> aws_lambda shim -> HTTP -> Lambda service -> handler zip -> boto3 -> emulator)
- baseline: boto3 s3vectors.query_vectors against the same emulator (target: chain / baseline <= 1.5),
            the vector passed as numpy's tolist() gives it (17 significant digits per element)
and, to show what the rest of the chain costs, the same request one layer at a time:
- raw aws_lambda.invoke from SQL with the payload s3vl sends (no s3vl PL/pgSQL around it),
- a kept-alive HTTP Invoke straight to the Lambda service (no PostgreSQL, no shim; not boto3's Lambda
  client, whose own cost would be charged to the layers).
The differences between consecutive layers are printed as the cost of each layer, and then the CPU
each process spends per chain call (baseline: the same process per direct boto3 call). s3vl sends each
element in the shortest digits that read back as its float32 (about half the JSON of tolist()); the
last row compares the chain with a boto3 call that does the same, so that part of the gain is visible.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "source" / "local"))

import psycopg  # noqa: E402
from schema_setup import create_index, install_schema, load_queries, query_vectors, running_stack, s3vectors  # noqa: E402

N, DIM, TOP_K = 10_000, 768, 10
BUCKET, INDEX, DBNAME = "bench-sql", "bench-10k", "s3vl_bench"
REPEATS = 250
CPU_CALLS = 300  # /proc counts CPU in 10 ms ticks: enough calls to resolve 0.1 ms per call
ORDER_SEED = 5


def _invoke_connection(env: dict[str, str]) -> http.client.HTTPConnection:
    url = urlsplit(env["AWS_ENDPOINT_URL_LAMBDA"])
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port)
    connection.connect()
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def _load_index(s3v: Any, rng: np.random.Generator) -> str:
    s3v.create_vector_bucket(vectorBucketName=BUCKET)
    matrix = rng.standard_normal((N, DIM), dtype=np.float32)
    keys, metadata = [f"doc-{i}" for i in range(N)], [{"b": i % 100} for i in range(N)]
    return create_index(s3v, BUCKET, INDEX, DIM, keys, matrix, metadata)


def _timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(stack: Any) -> list[dict[str, Any]]:
    env = stack.env()
    s3v = s3vectors(stack)
    invoke = _invoke_connection(env)
    rng = np.random.default_rng(42)
    index_arn = _load_index(s3v, rng)
    install_schema(stack, DBNAME, {INDEX: index_arn})
    queries = [rng.standard_normal(DIM).astype(np.float32) for _ in range(REPEATS)]
    function_arn = env["S3VL_LAMBDA_FUNCTION_ARN"]

    with psycopg.connect(stack.pg.dsn(dbname=DBNAME), autocommit=True) as conn:
        load_queries(conn, [q.tolist() for q in queries])
        numbers = {id(q): n for n, q in enumerate(queries)}

        def chain(q: np.ndarray) -> None:
            assert len(query_vectors(conn, numbers[id(q)], INDEX, TOP_K)) == TOP_K

        # Each element in the shortest digits that read back as its float32, as s3vl writes it. Built
        # before timing: only the layers' own work is measured.
        shortest = {id(q): [float(str(x)) for x in q] for q in queries}
        payloads = {
            id(q): json.dumps(
                {"operation": "query_vectors", "contract_version": 1, "index_arn": index_arn,
                 "query_vector": shortest[id(q)], "top_k": TOP_K, "return_metadata": False}
            )
            for q in queries
        }  # fmt: skip

        def raw_invoke(q: np.ndarray) -> None:
            (status,) = conn.execute(
                "SELECT status_code FROM aws_lambda.invoke(aws_commons.create_lambda_function_arn(%s, "
                "'us-west-2'), %s::json, 'RequestResponse')",
                (function_arn, payloads[id(q)]),
            ).fetchone()
            assert status == 200

        invoke_path = f"/2015-03-31/functions/{function_arn.rsplit(':', 1)[1]}/invocations"

        def lambda_direct(q: np.ndarray) -> None:
            body = payloads[id(q)].encode()
            invoke.request("POST", invoke_path, body=body, headers={"Content-Type": "application/json"})
            response = invoke.getresponse()
            answer = json.loads(response.read())
            assert response.status == 200 and answer["ok"], answer

        def boto3_direct(q: np.ndarray) -> None:
            answer = s3v.query_vectors(
                indexArn=index_arn, topK=TOP_K, queryVector={"float32": q.tolist()}, returnDistance=True
            )
            assert len(answer["vectors"]) == TOP_K

        def boto3_short_digits(q: np.ndarray) -> None:
            answer = s3v.query_vectors(
                indexArn=index_arn,
                topK=TOP_K,
                queryVector={"float32": shortest[id(q)]},
                returnDistance=True,
            )
            assert len(answer["vectors"]) == TOP_K

        paths = {
            "chain": chain,
            "raw_invoke": raw_invoke,
            "lambda_direct": lambda_direct,
            "boto3": boto3_direct,
            "boto3_short": boto3_short_digits,
        }
        for fn in paths.values():  # warm every layer: worker processes, clients, plans
            for q in queries[:5]:
                fn(q)
        times: dict[str, list[float]] = {name: [] for name in paths}
        order = list(paths.items())
        shuffler = random.Random(ORDER_SEED)
        for q in queries:
            shuffler.shuffle(order)
            for name, fn in order:
                times[name].append(_timed(lambda fn=fn, q=q: fn(q)))
        # Where the chain's CPU goes, per call, after the timing (reading /proc must not disturb it).
        processes = {
            "PostgreSQL backend": [conn.execute("SELECT pg_backend_pid()").fetchone()[0]],
            "Lambda service": [stack.lambda_service.pid()],
            "Lambda worker (handler, its boto3 call)": _children(stack.lambda_service.pid()),
            "emulator": [stack.emulator.pid()],
        }
        cpu = {
            "chain": _cpu_per_call(chain, queries, processes),
            "boto3": _cpu_per_call(boto3_direct, queries, processes),
        }

    p50 = {name: statistics.median(values) * 1000 for name, values in times.items()}
    base = p50["boto3"]
    label = f"{N // 1000}k x {DIM} cosine top{TOP_K}"
    rows: list[dict[str, Any]] = [
        {"name": f"s3vl.query_vectors p50 via whole local chain vs boto3 QueryVectors ({label})",
         "value": p50["chain"], "baseline": base, "ratio": p50["chain"] / base, "target": 1.5, "unit": "ms"},
        {"name": "  layer: s3vl PL/pgSQL (validation, registry, envelope, rows)",
         "value": p50["chain"] - p50["raw_invoke"], "baseline": base,
         "ratio": (p50["chain"] - p50["raw_invoke"]) / base, "target": None, "unit": "ms"},
        {"name": "  layer: aws_lambda shim in PostgreSQL (plpython, HTTP client)",
         "value": p50["raw_invoke"] - p50["lambda_direct"], "baseline": base,
         "ratio": (p50["raw_invoke"] - p50["lambda_direct"]) / base, "target": None, "unit": "ms"},
        {"name": "  layer: Lambda service + handler (invoke API, runtime, contract, handler's boto3 call)",
         "value": p50["lambda_direct"] - base, "baseline": base,
         "ratio": (p50["lambda_direct"] - base) / base, "target": None, "unit": "ms"},
        {"name": "  for comparison: chain vs boto3 sending shortest float32 digits, as s3vl does",
         "value": p50["chain"], "baseline": p50["boto3_short"], "ratio": p50["chain"] / p50["boto3_short"],
         "target": None, "unit": "ms"},
    ]  # fmt: skip
    for who, ms in cpu["chain"].items():
        rows.append({"name": f"  CPU per chain call: {who}", "value": ms, "baseline": cpu["boto3"][who],
                     "ratio": None, "target": None, "unit": "ms CPU"})  # fmt: skip
    return rows


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int | None) -> list[int]:
    if pid is None:
        return []
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def _cpu_per_call(fn: Any, queries: list[np.ndarray], processes: dict[str, list[int]]) -> dict[str, float]:
    """Milliseconds of CPU per call of `fn` in each process group and in this client, over CPU_CALLS calls."""
    calls = [queries[i % len(queries)] for i in range(CPU_CALLS)]
    before = {who: sum(_cpu_seconds(pid) for pid in pids) for who, pids in processes.items()}
    client_before = time.process_time()
    for q in calls:
        fn(q)
    client = time.process_time() - client_before
    used = {who: sum(_cpu_seconds(pid) for pid in pids) - before[who] for who, pids in processes.items()}
    used["this client (psycopg or boto3)"] = client
    return {who: seconds / CPU_CALLS * 1000 for who, seconds in used.items()}


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    with running_stack("sql") as stack:
        results = measure(stack)
    for row in results:
        target = "" if row["target"] is None else f" (target <= {row['target']})"
        unit = row["unit"]
        ratio = "" if row["ratio"] is None else f", ratio {row['ratio']:.2f}"
        print(
            f"{row['name']}: {row['value']:.2f} {unit}, baseline {row['baseline']:.2f} {unit}{ratio}{target}"
        )
    largest = max(results[1:4], key=lambda row: row["value"])
    print(f"largest share of the difference: {largest['name'].strip()} ({largest['value']:.2f} ms)")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
