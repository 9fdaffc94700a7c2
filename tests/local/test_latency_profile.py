"""The `aws` latency profile outside the emulator: the Lambda service's invoke overhead and cold start, and
`s3vl-local up --latency-profile` / S3VL_LATENCY_PROFILE starting (and switching) the stack with it."""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from lambda_test_zips import create_function
from s3vl_local import cli, local_aws
from s3vl_local.lambda_service.server import SERVICE_PATH, LambdaService
from s3vl_local.postgres import make_shared_dir
from s3vl_local.stack import LocalStack
from support.s3vectors import create_bucket_and_index


def _invoke_times(service: LambdaService, n: int) -> tuple[float, list[float]]:
    """(the first, cold, invocation's seconds, the warm ones' seconds)."""
    client = local_aws.client("lambda", service.url)
    create_function(client, "latency")
    times = []
    for _ in range(n + 1):
        started = time.perf_counter()
        answer = client.invoke(FunctionName="latency", Payload=b"{}")
        assert answer["StatusCode"] == 200 and "FunctionError" not in answer
        times.append(time.perf_counter() - started)
    return times[0], times[1:]


def test_the_lambda_service_adds_an_invoke_overhead_and_a_cold_start(tmp_path: Path) -> None:
    measured = {}
    for name in ("none", "aws"):
        service = LambdaService(tmp_path / name, latency_profile=name).start()
        try:
            measured[name] = _invoke_times(service, 9)
            assert service.describe()["latency_profile"] == name
        finally:
            service.stop()
    (cold_none, warm_none), (cold_aws, warm_aws) = measured["none"], measured["aws"]
    # Cold start: median 400 ms, sigma 0.25 (a draw below 190 ms is a 1-in-1000 event).
    assert cold_aws - cold_none >= 0.15
    # Invoke overhead: median 20 ms, sigma 0.3.
    assert statistics.median(warm_aws) - statistics.median(warm_none) >= 0.01


def _query_seconds(env: dict[str, str]) -> float:
    client = local_aws.client("s3vectors", env["AWS_ENDPOINT_URL_S3VECTORS"])
    if not client.list_vector_buckets()["vectorBuckets"]:
        create_bucket_and_index(client, "lat-stack", "idx", 2)
    times = []
    for _ in range(5):
        started = time.perf_counter()
        client.query_vectors(
            vectorBucketName="lat-stack", indexName="idx", topK=1, queryVector={"float32": [1, 0]}
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _lambda_profile(env: dict[str, str]) -> Any:
    with urllib.request.urlopen(env["AWS_ENDPOINT_URL_LAMBDA"] + SERVICE_PATH, timeout=10) as answer:
        return json.loads(answer.read())["latency_profile"]


def test_up_with_a_latency_profile_and_up_again_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    state_dir = make_shared_dir(Path(tempfile.mkdtemp(prefix="s3vl-latency-")))
    try:
        monkeypatch.setenv("S3VL_LATENCY_PROFILE", "aws")  # as `S3VL_LATENCY_PROFILE=aws make up` sets it
        assert cli.main(["up", "--state-dir", str(state_dir), "--dbname", "s3vl_latency"]) == 0
        env = LocalStack(state_dir).env()
        assert _lambda_profile(env) == "aws"
        assert _query_seconds(env) >= 0.05
        # The flag wins over the variable, and a running stack switches profile (data kept).
        assert cli.main(["up", "--state-dir", str(state_dir), "--latency-profile", "none"]) == 0
        env = LocalStack(state_dir).env()
        assert _lambda_profile(env) == "none"
        assert _query_seconds(env) < 0.05
    finally:
        LocalStack(state_dir).stop()
        shutil.rmtree(state_dir, ignore_errors=True)


def test_an_unknown_profile_in_the_variable_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("S3VL_LATENCY_PROFILE", "fast")
    with pytest.raises(SystemExit):
        cli.main(["status", "--state-dir", "/nonexistent"])
    assert (
        "S3VL_LATENCY_PROFILE='fast' is not a latency profile: use one of none, aws"
        in capsys.readouterr().err
    )
