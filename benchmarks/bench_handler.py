"""Handler benchmarks (not a test): ratios against baselines measured in the same run.

  (a) cold init: a fresh interpreter imports the packaged handler and creates its first client,
      against a bare `import boto3; boto3.client("s3vectors")` in a fresh interpreter.  target <= 1.2
  (b) warm query_vectors: handler CPU per call (top_k 100 with metadata, Stubber client), against
      json.loads + json.dumps of the same request and response.                        target <= 3

Run: .venv/bin/python benchmarks/bench_handler.py
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
COLD_RUNS = 9
WARM_CALLS = 300
DIMENSION = 1024
TOP_K = 100

_TIMED_SNIPPET = """
import sys, time
started = time.perf_counter()
{body}
print(time.perf_counter() - started)
"""
HANDLER_INIT = """
sys.path.insert(0, sys.argv[1])
import lambda_function
from s3vl_lambda.clients import client_for
client_for("us-west-2")
"""
BARE_INIT = """
import boto3
boto3.client("s3vectors", region_name="us-west-2")
"""


def _fresh_interpreter_seconds(body: str, task_root: Path) -> float:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "AWS_"))}
    env.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    completed = subprocess.run(
        [sys.executable, "-I", "-c", _TIMED_SNIPPET.format(body=body), str(task_root)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return float(completed.stdout.strip().splitlines()[-1])


def cold_init() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="s3vl-bench-") as scratch:
        archive = Path(scratch) / "handler.zip"
        subprocess.run(
            [str(REPO / "source/lambda/package.sh"), str(archive)], check=True, capture_output=True
        )
        task_root = Path(scratch) / "task"
        with zipfile.ZipFile(archive) as unpacked:
            unpacked.extractall(task_root)
        handler, bare = [], []
        for _ in range(COLD_RUNS):  # interleaved, so both see the same machine load
            handler.append(_fresh_interpreter_seconds(HANDLER_INIT, task_root))
            bare.append(_fresh_interpreter_seconds(BARE_INIT, task_root))
    value, baseline = statistics.median(handler), statistics.median(bare)
    return _result("cold init (import + first client)", value * 1000, baseline * 1000, 1.2, "ms")


def _request_and_response() -> tuple[dict[str, Any], dict[str, Any]]:
    rng = random.Random(7)
    request = {
        "operation": "query_vectors",
        "index_arn": "arn:aws:s3vectors:us-west-2:123456789012:bucket/bench-bucket/index/bench-index",
        "query_vector": [rng.uniform(-1, 1) for _ in range(DIMENSION)],
        "top_k": TOP_K,
        "return_metadata": True,
    }
    service_response = {
        "distanceMetric": "cosine",
        "vectors": [
            {
                "key": f"vec_{n:05d}",
                "distance": n / 200,
                "metadata": {"category": rng.choice(["demo", "test", "sample"]), "price": n * 1.5, "id": n},
            }
            for n in range(TOP_K)
        ],
    }
    return request, service_response


def warm_query() -> dict[str, Any]:
    sys.path.insert(0, str(REPO / "source/lambda/src"))
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    import lambda_function
    from botocore.stub import Stubber
    from s3vl_lambda.clients import client_for

    request, service_response = _request_and_response()
    request_text = json.dumps(request)
    stubber = Stubber(client_for("us-west-2"))
    for _ in range(WARM_CALLS + 1):
        stubber.add_response("query_vectors", service_response)
    with stubber, contextlib.redirect_stdout(io.StringIO()):
        envelope = lambda_function.lambda_handler(json.loads(request_text), None)  # warm-up call
        assert envelope["ok"] and len(envelope["result"]["vectors"]) == TOP_K, envelope
        started = time.process_time()
        for _ in range(WARM_CALLS):
            lambda_function.lambda_handler(json.loads(request_text), None)
        handler_cpu = (time.process_time() - started) / WARM_CALLS
    response_text = json.dumps(envelope)
    # The baseline: what any JSON-in/JSON-out function pays, a loads and a dumps of both documents.
    started = time.process_time()
    for _ in range(WARM_CALLS):
        json.dumps(json.loads(request_text))
        json.dumps(json.loads(response_text))
    baseline_cpu = (time.process_time() - started) / WARM_CALLS
    return _result(
        "warm query_vectors CPU (top_k 100 + metadata)", handler_cpu * 1e6, baseline_cpu * 1e6, 3.0, "us"
    )


def _result(name: str, value: float, baseline: float, target: float, unit: str) -> dict[str, Any]:
    return {
        "name": name,
        "value": round(value, 3),
        "baseline": round(baseline, 3),
        "ratio": round(value / baseline, 3),
        "target": target,
        "unit": unit,
    }


def main() -> list[dict[str, Any]]:
    results = [cold_init(), warm_query()]
    print(f"{'figure':<48} {'value':>12} {'baseline':>12} {'ratio':>7} {'target':>7}")
    for row in results:
        print(
            f"{row['name']:<48} {row['value']:>9.1f} {row['unit']:<2}"
            f" {row['baseline']:>9.1f} {row['unit']:<2} {row['ratio']:>7.2f} {'<= ' + str(row['target']):>7}"
        )
    return results


if __name__ == "__main__":
    main()
