#!/usr/bin/env python3
"""The Aurora shim's cost: `SELECT payload FROM aws_lambda.invoke(...)` with an echo function, through
the shim and the local Lambda service, against what it is made of, measured side by side:

    ratio = p50(shim invoke) / (p50(SELECT 1) + p50(direct HTTP POST of the same Invoke from Python))

and, to say what dominates, the split of the direct POST into the service alone (a DryRun invoke: HTTP,
routing, validation, no handler) and the hop to the warm worker (runtime API round trip + handler), and
the SQL side's own overhead (PL/Python, settings, json casts). Every path keeps its HTTP connection
alive between calls, as the shim does (one connection per session).

Run: .venv/bin/python benchmarks/bench_shim.py [--quick]
"""

from __future__ import annotations

import argparse
import http.client
import io
import shutil
import socket
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "source" / "local"))

import psycopg
from s3vl_local import local_aws
from s3vl_local.aurora_shim.installer import install_shim
from s3vl_local.lambda_service.server import LambdaService
from s3vl_local.postgres import PostgresCluster, make_shared_dir

FUNCTION = "bench-echo"
PAYLOAD = b'{"operation": "echo", "values": [1, 2, 3]}'
ECHO_HANDLER = "def lambda_handler(event, context):\n    return event\n"
# The same POST made from inside the backend with nothing of the shim around it: separates the cost of
# doing HTTP from a PostgreSQL process from the shim's own logic.
RAW_POST_FUNCTION = """
CREATE FUNCTION bench_raw_post(port int, body text) RETURNS text LANGUAGE plpython3u AS $$
import http.client, socket
if "conn" not in SD:
    SD["conn"] = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    SD["conn"].connect()
    SD["conn"].sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
conn = SD["conn"]
conn.request("POST", "/2015-03-31/functions/bench-echo/invocations", body=body.encode(),
             headers={"Content-Type": "application/json", "X-Amz-Invocation-Type": "RequestResponse"})
return conn.getresponse().read().decode()
$$
"""


def p50_ms(action: Callable[[], object], iterations: int) -> float:
    for _ in range(max(iterations // 10, 5)):  # warm: workers, plans, caches
        action()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def direct_post(url: str, invocation_type: str) -> Callable[[], bytes]:
    """Invokes over one kept-alive connection, as the shim makes them."""
    parts = urlsplit(url)
    path = f"/2015-03-31/functions/{FUNCTION}/invocations"
    headers = {"Content-Type": "application/json", "X-Amz-Invocation-Type": invocation_type}
    conn = http.client.HTTPConnection(parts.hostname, parts.port)
    conn.connect()
    assert conn.sock is not None
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def post() -> bytes:
        conn.request("POST", path, body=PAYLOAD, headers=headers)
        response = conn.getresponse()
        body = response.read()
        assert response.status in (200, 204), response.status
        return body

    return post


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv if argv is not None else [])
    iterations = 100 if args.quick else 400

    state = make_shared_dir(Path(tempfile.mkdtemp(prefix="s3vl-bench-shim-")))
    cluster = PostgresCluster(state / "pgdata")
    service = LambdaService(state / "lambda")
    try:
        cluster.start()
        service.start()
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("lambda_function.py", ECHO_HANDLER)
        local_aws.client("lambda", service.url).create_function(
            FunctionName=FUNCTION,
            Runtime="python3.11",
            Role="arn:aws:iam::000000000000:role/bench",
            Handler="lambda_function.lambda_handler",
            Code={"ZipFile": archive.getvalue()},
        )
        cluster.create_database("bench")
        install_shim(cluster, "bench", service.url)
        with psycopg.connect(cluster.dsn(dbname="bench"), autocommit=True) as conn:
            invoke_sql = "SELECT payload FROM aws_lambda.invoke(%s::text, %s::jsonb)"
            params = (FUNCTION, PAYLOAD.decode())
            echoed = conn.execute(invoke_sql, params).fetchone()
            assert echoed is not None and echoed[0]["values"] == [1, 2, 3]
            shim = p50_ms(lambda: conn.execute(invoke_sql, params).fetchone(), iterations)
            select1 = p50_ms(lambda: conn.execute("SELECT 1").fetchone(), iterations)
            conn.execute(RAW_POST_FUNCTION)
            raw_params = (urlsplit(service.url).port, PAYLOAD.decode())
            raw_sql = "SELECT bench_raw_post(%s, %s)"
            backend_post = p50_ms(lambda: conn.execute(raw_sql, raw_params).fetchone(), iterations)
        http_invoke = p50_ms(direct_post(service.url, "RequestResponse"), iterations)
        http_dry_run = p50_ms(direct_post(service.url, "DryRun"), iterations)
    finally:
        service.stop()
        cluster.destroy()
        shutil.rmtree(state, ignore_errors=True)

    baseline = select1 + http_invoke
    worker_hop = http_invoke - http_dry_run
    parts = {
        "Lambda service alone (HTTP, routing, validation)": http_dry_run,
        "warm worker hop (runtime API round trip + handler)": worker_hop,
        "HTTP from the backend process rather than the client": backend_post - select1 - http_invoke,
        "shim logic (settings, ARN, errors, plpgsql/sql layers, casts)": shim - backend_post,
        "SELECT 1 round trip": select1,
    }
    dominant = max(parts, key=lambda k: parts[k])
    print(
        f"p50 shim invoke {shim:.3f} ms; SELECT 1 {select1:.3f} ms; direct POST {http_invoke:.3f} ms; "
        f"bare POST from PL/Python {backend_post:.3f} ms"
    )
    for label, value in parts.items():
        print(f"  {label:62} {value:7.3f} ms  ({value / shim:5.1%} of the shim call)")
    print(f"dominant: {dominant}")
    return [
        {
            "name": "shim invoke p50 / (SELECT 1 p50 + direct HTTP invoke p50)",
            "value": shim,
            "baseline": baseline,
            "ratio": shim / baseline,
            "target": 1.5,
            "unit": "ms",
        },
        {
            "name": "warm worker hop / direct HTTP invoke",
            "value": worker_hop,
            "baseline": http_invoke,
            "ratio": worker_hop / http_invoke,
            "target": None,
            "unit": "ms",
        },
        {
            "name": "shim invoke p50 / bare POST from PL/Python p50",
            "value": shim,
            "baseline": backend_post,
            "ratio": shim / backend_post,
            "target": None,
            "unit": "ms",
        },
    ]


if __name__ == "__main__":
    for row in main(sys.argv[1:]):
        target = f" (target <= {row['target']})" if row["target"] else ""
        figures = f"{row['value']:.3f} vs {row['baseline']:.3f} {row['unit']}"
        print(f"{row['name']}: {figures}, ratio {row['ratio']:.3g}{target}")
