#!/usr/bin/env python3
"""S3 Vectors emulator: QueryVectors against the numpy brute-force floor, PutVectors throughput, memory.

Figures (all measured in this run):
- query p50, 100k x 768 cosine, top_k 10, unfiltered and with a filter passing 10%, in process
  (operations.queries.QueryVectors: validation, filter, search, response) and through HTTP with boto3; each
  divided by the floor: one float32 matrix-vector product over the whole matrix + argpartition.
  The target (<= 2) applies to the in-process figures; HTTP adds boto3 signing, JSON and loopback.
- bulk PutVectors through HTTP with boto3 (batches of 500, 768 dims), vectors/s; baseline: the same
  batches through operations.vectors.PutVectors in process.
- resident memory after loading 1M x 768 (in a subprocess), against the raw float32 matrix size.
`--quick` uses 20k vectors for the queries and 100k for the memory figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "source" / "local"))

from s3vl_local import local_aws
from s3vl_local.s3vectors.catalog import Catalog
from s3vl_local.s3vectors.operations import buckets, indexes, queries, vectors
from s3vl_local.s3vectors.server import EmulatorServer

DIM = 768
SEL = {"vectorBucketName": "bench", "indexName": "bench"}


def _p50(fn: Any, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _client(url: str) -> Any:
    return local_aws.client("s3vectors", url)


def _load(catalog: Catalog, n: int, rng: np.random.Generator) -> np.ndarray:
    buckets.CreateVectorBucket(catalog, {"vectorBucketName": "bench"})
    indexes.CreateIndex(catalog, {**SEL, "dataType": "float32", "dimension": DIM, "distanceMetric": "cosine"})
    index = catalog.index("bench", "bench")
    matrix = rng.standard_normal((n, DIM), dtype=np.float32)
    for start in range(0, n, 10_000):
        stop = min(start + 10_000, n)
        keys = [f"doc-{i}" for i in range(start, stop)]
        catalog.put_vectors(index, keys, matrix[start:stop], [{"b": i % 100} for i in range(start, stop)])
    return matrix


def _queries(n: int, repeats: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(1)
    server = EmulatorServer().start()
    try:
        assert server.catalog is not None
        catalog = server.catalog
        matrix = _load(catalog, n, rng)
        query = rng.standard_normal(DIM, dtype=np.float32)
        floor = _p50(lambda: np.argpartition(-(matrix @ query), 10)[:10], repeats)
        request = {**SEL, "topK": 10, "queryVector": {"float32": query.tolist()}, "returnDistance": True}
        filtered = {**request, "filter": {"b": {"$lt": 10}}}
        client = _client(server.url)
        results = []
        for label, req in (("unfiltered", request), ("filter_10pct", filtered)):
            in_process = _p50(lambda req=req: queries.QueryVectors(catalog, req), repeats)
            over_http = _p50(lambda req=req: client.query_vectors(**req), repeats)
            for path, value, target in (("in_process", in_process, 2.0), ("http_boto3", over_http, None)):
                results.append(
                    {
                        "name": f"emulator query p50 {n // 1000}k x {DIM} cosine top10 {label} ({path})",
                        "value": value * 1000,
                        "baseline": floor * 1000,
                        "ratio": value / floor,
                        "target": target,
                        "unit": "ms",
                    }
                )
        return results
    finally:
        server.stop()


def _bulk_put(batches: int) -> dict[str, Any]:
    rng = np.random.default_rng(2)
    data = [rng.standard_normal((500, DIM), dtype=np.float32) for _ in range(batches)]
    payloads = [
        [
            {"key": f"k{b}-{i}", "data": {"float32": row.tolist()}, "metadata": {"b": b}}
            for i, row in enumerate(m)
        ]
        for b, m in enumerate(data)
    ]
    server = EmulatorServer().start()
    try:
        assert server.catalog is not None
        catalog = server.catalog
        buckets.CreateVectorBucket(catalog, {"vectorBucketName": "bench"})
        for name in ("http", "local"):
            indexes.CreateIndex(
                catalog,
                {
                    "vectorBucketName": "bench",
                    "indexName": name,
                    "dataType": "float32",
                    "dimension": DIM,
                    "distanceMetric": "cosine",
                },
            )
        client = _client(server.url)
        start = time.perf_counter()
        for batch in payloads:
            client.put_vectors(vectorBucketName="bench", indexName="http", vectors=batch)
        http_rate = batches * 500 / (time.perf_counter() - start)
        start = time.perf_counter()
        for batch in payloads:
            # Through JSON text as on the wire, minus HTTP and boto3.
            vectors.PutVectors(
                catalog,
                json.loads(json.dumps({"vectorBucketName": "bench", "indexName": "local", "vectors": batch})),
            )
        local_rate = batches * 500 / (time.perf_counter() - start)
    finally:
        server.stop()
    return {
        "name": "emulator bulk PutVectors via boto3 (batches of 500, 768 dims)",
        "value": http_rate,
        "baseline": local_rate,
        "ratio": http_rate / local_rate,
        "target": None,
        "unit": "vectors/s",
    }


_MEMORY_CHILD = """
import sys, resource, numpy as np
sys.path.insert(0, {src!r})
from s3vl_local.s3vectors.storage import VectorStore
n, d = {n}, {dim}
store = VectorStore(d, "cosine", frozenset())
rng = np.random.default_rng(3)
block = rng.random((10_000, d), dtype=np.float32) + 0.01
for start in range(0, n, 10_000):
    store.put([f"doc-{{i}}" for i in range(start, start + 10_000)], block, [None] * 10_000)
del block
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS"))
print(rss * 1024)
"""


def _memory(n: int) -> dict[str, Any]:
    src = str(Path(__file__).resolve().parents[1] / "source" / "local")
    code = _MEMORY_CHILD.format(src=src, n=n, dim=DIM)
    rss = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    raw = n * DIM * 4
    return {
        "name": f"emulator resident memory {n // 1000}k x {DIM}",
        "value": rss / 2**20,
        "baseline": raw / 2**20,
        "ratio": rss / raw,
        "target": None,
        "unit": "MiB",
    }


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data sets")
    args = parser.parse_args(argv)
    results = _queries(20_000 if args.quick else 100_000, 15 if args.quick else 40)
    results.append(_bulk_put(4 if args.quick else 20))
    results.append(_memory(100_000 if args.quick else 1_000_000))
    return results


if __name__ == "__main__":
    for row in main(sys.argv[1:]):
        target = f" (target <= {row['target']})" if row["target"] else ""
        print(
            f"{row['name']}: {row['value']:.4g} {row['unit']}, baseline {row['baseline']:.4g}, "
            f"ratio {row['ratio']:.3g}{target}"
        )
