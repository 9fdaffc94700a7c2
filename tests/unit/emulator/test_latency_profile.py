"""The emulator's `aws` latency profile: seeded delays per operation and per-index rate limits (429)."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from s3vl_local import local_aws
from s3vl_local.latency_profiles import profile
from s3vl_local.s3vectors.latency import EmulatorLatency, TooManyRequestsException
from s3vl_local.s3vectors.server import EmulatorServer
from support.s3vectors import create_float32_index

DIM = 4
ARN_PREFIX = "arn:aws:s3vectors:us-west-2:000000000000:bucket/"


def make_client(url: str) -> Any:
    """One attempt only: a 429 reaches the test, not a retry."""
    return local_aws.client(
        "s3vectors", url, config=Config(retries={"total_max_attempts": 1, "mode": "standard"})
    )


@pytest.fixture
def aws_emulator() -> Iterator[EmulatorServer]:
    server = EmulatorServer(latency_profile="aws").start()
    yield server
    server.stop()


def _index(client: Any, name: str = "idx") -> dict[str, str]:
    if not client.list_vector_buckets()["vectorBuckets"]:
        client.create_vector_bucket(vectorBucketName="lat-bucket")
    return create_float32_index(client, "lat-bucket", name, DIM)


def _query_times(client: Any, selector: dict[str, str], n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        client.query_vectors(**selector, topK=3, queryVector={"float32": [1.0, 0.0, 0.0, 0.0]})
        times.append(time.perf_counter() - started)
    return times


def test_the_documented_query_distribution_has_a_100_ms_median_and_a_long_tail() -> None:
    delay = profile("aws").operations["QueryVectors"]
    assert delay.quantile_ms(0.5) == pytest.approx(100.0)
    assert 300 <= delay.quantile_ms(0.99) <= 380  # VectorDBBench's serial p99 was 337 ms


def test_queries_wait_the_profile_delay_and_the_default_does_not(aws_emulator: EmulatorServer) -> None:
    plain = EmulatorServer().start()
    try:
        fast = make_client(plain.url)
        fast_times = _query_times(fast, _index(fast), 9)
    finally:
        plain.stop()
    slow = make_client(aws_emulator.url)
    slow_times = _query_times(slow, _index(slow), 9)
    assert statistics.median(fast_times) < 0.03
    assert 0.06 <= statistics.median(slow_times) <= 0.2


def test_a_next_page_costs_the_page_delay(aws_emulator: EmulatorServer) -> None:
    client = make_client(aws_emulator.url)
    selector = _index(client)
    vectors = [{"key": f"k{i}", "data": {"float32": [1.0, i / 300, 0.5, 0.1]}} for i in range(150)]
    client.put_vectors(**selector, vectors=vectors)
    query = {**selector, "topK": 150, "queryVector": {"float32": [1.0, 0.0, 0.0, 0.0]}}
    first = client.query_vectors(**query)
    started = time.perf_counter()
    second = client.query_vectors(**query, nextToken=first["nextToken"])
    assert len(first["vectors"]) + len(second["vectors"]) == 150
    assert time.perf_counter() - started >= 0.12  # page delay: median 300 ms, sigma 0.3


def test_writes_over_2500_vectors_per_second_are_throttled_and_write_nothing(
    aws_emulator: EmulatorServer,
) -> None:
    client = make_client(aws_emulator.url)
    selector = _index(client)
    throttled: ClientError | None = None
    for batch in range(40):  # DeleteVectors of 500 absent keys: cheap, so the rate is the profile's
        try:
            client.delete_vectors(**selector, keys=[f"gone-{batch}-{i}" for i in range(500)])
        except ClientError as error:
            throttled = error
            break
    assert throttled is not None, "20,000 deletes in a few seconds were never throttled"
    assert throttled.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert throttled.response["Error"]["Code"] == "TooManyRequestsException"
    assert "2500 vectors" in throttled.response["Error"]["Message"]
    assert batch >= 5  # the first second's 2,500 vectors pass
    vectors = [{"key": f"new-{i}", "data": {"float32": [1.0, i, 0.5, 0.1]}} for i in range(500)]
    with pytest.raises(ClientError, match="TooManyRequestsException"):
        client.put_vectors(**selector, vectors=vectors)
    assert client.get_vectors(**selector, keys=[f"new-{i}" for i in range(100)])["vectors"] == []


def test_queries_over_200_per_second_on_one_index_are_throttled(aws_emulator: EmulatorServer) -> None:
    client = make_client(aws_emulator.url)
    selector = _index(client)
    other = make_client(aws_emulator.url)
    other_index = _index(other, "other")
    ok, codes = [0], []
    stop = time.monotonic() + 6
    lock = threading.Lock()

    def run() -> None:
        c = make_client(aws_emulator.url)
        while time.monotonic() < stop and not codes:
            try:
                c.query_vectors(**selector, topK=1, queryVector={"float32": [1.0, 0.0, 0.0, 0.0]})
                with lock:
                    ok[0] += 1
            except ClientError as error:
                codes.append(error.response["Error"]["Code"])

    started = time.monotonic()
    threads = [threading.Thread(target=run) for _ in range(48)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert codes and codes[0] == "TooManyRequestsException"
    assert ok[0] <= 200 + 200 * elapsed  # one second's burst, then 200/s
    # The limit is per index: another index still answers.
    other.query_vectors(**other_index, topK=1, queryVector={"float32": [1.0, 0.0, 0.0, 0.0]})


def test_an_index_named_by_arn_shares_the_rate_of_the_index_named_by_names() -> None:
    latency = EmulatorLatency("aws")
    keys = [f"k{i}" for i in range(2500)]  # one second's worth of the 2,500 vectors a second
    latency.before("DeleteVectors", {"indexArn": f"{ARN_PREFIX}lat-bucket/index/idx", "keys": keys})
    with pytest.raises(TooManyRequestsException, match="Index lat-bucket/idx is over its rate of 2500"):
        latency.before("DeleteVectors", {"vectorBucketName": "lat-bucket", "indexName": "idx", "keys": keys})


def test_an_unknown_profile_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="none, aws"):
        EmulatorServer(latency_profile="slow")
