"""Fault injection in the emulator: modelled errors boto3 maps and retries, schedules, seeded rates, delays,
the HTTP control API on /_s3vl/faults, and no state change from an injected failure."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError
from s3vl_local import local_aws
from s3vl_local.s3vectors.faults import CONTROL_PATH
from s3vl_local.s3vectors.server import EmulatorServer

SRC = str(Path(__file__).resolve().parents[3] / "source" / "local")


def _client(url: str, attempts: int = 1) -> Any:
    """attempts=1: no retry, the first error is seen; more: botocore's standard retry mode."""
    return local_aws.client(
        "s3vectors", url, config=Config(retries={"mode": "standard", "total_max_attempts": attempts})
    )


def _control(
    url: str, method: str, body: Any = None, raw: bytes | None = None, path: str = CONTROL_PATH
) -> Any:
    """One control request; returns (status, x-amzn-ErrorType or None, decoded JSON body)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url + path, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("x-amzn-ErrorType"), json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("x-amzn-ErrorType"), json.loads(e.read())


@pytest.fixture(autouse=True)
def no_plans(emulator: EmulatorServer) -> Iterator[None]:
    emulator.faults.clear()
    yield
    emulator.faults.clear()


@pytest.fixture(scope="module")
def plain(emulator: EmulatorServer) -> Any:
    return _client(emulator.url)


def _outcomes(client: Any, calls: int) -> list[bool]:
    """True where ListVectorBuckets failed with an injected error."""
    failed = []
    for _ in range(calls):
        try:
            client.list_vector_buckets()
            failed.append(False)
        except client.exceptions.TooManyRequestsException:
            failed.append(True)
    return failed


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("TooManyRequestsException", 429),
        ("ServiceUnavailableException", 503),
        ("InternalServerException", 500),
        ("RequestTimeoutException", 408),
    ],
)
def test_each_error_maps_to_its_boto3_exception_and_is_retried(
    emulator: EmulatorServer, plain: Any, error: str, status: int
) -> None:
    emulator.faults.set("ListVectorBuckets", error=error)
    with pytest.raises(getattr(plain.exceptions, error)) as raised:
        plain.list_vector_buckets()
    response = raised.value.response
    assert response["Error"]["Code"] == error
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == error
    assert "Injected fault" in response["Error"]["Message"]
    # botocore's standard mode classifies it as retryable: a second attempt reaches the emulator.
    with pytest.raises(ClientError) as retried:
        _client(emulator.url, attempts=2).list_vector_buckets()
    assert retried.value.response["ResponseMetadata"]["RetryAttempts"] == 1
    assert emulator.faults.state()["plans"]["ListVectorBuckets"]["calls"] == 3
    assert emulator.faults.injected("ListVectorBuckets") == 3


def test_close_connection_is_a_connection_error_that_retries_recover(
    emulator: EmulatorServer, plain: Any
) -> None:
    emulator.faults.set("ListVectorBuckets", error="CloseConnection")
    with pytest.raises(ConnectionClosedError):
        plain.list_vector_buckets()
    emulator.faults.set("ListVectorBuckets", error="CloseConnection", next=1)
    assert "vectorBuckets" in _client(emulator.url, attempts=2).list_vector_buckets()
    assert emulator.faults.injected("ListVectorBuckets") == 2


def test_custom_message(emulator: EmulatorServer, plain: Any) -> None:
    emulator.faults.set("ListVectorBuckets", error="ServiceUnavailableException", message="region is down")
    with pytest.raises(plain.exceptions.ServiceUnavailableException, match="region is down"):
        plain.list_vector_buckets()


def test_rate_is_reproducible_with_a_seed(emulator: EmulatorServer, plain: Any) -> None:
    emulator.faults.set("ListVectorBuckets", error="TooManyRequestsException", rate=0.4, seed=42)
    first = _outcomes(plain, 40)
    plan = emulator.faults.state()["plans"]["ListVectorBuckets"]
    assert (plan["calls"], plan["injected"]) == (40, sum(first))
    emulator.faults.set("ListVectorBuckets", error="TooManyRequestsException", rate=0.4, seed=42)
    assert _outcomes(plain, 40) == first
    # The documented rule: call i fails when the i-th random.Random(seed).random() is below the rate.
    rng = random.Random(42)
    assert first == [rng.random() < 0.4 for _ in range(40)]
    assert 0 < sum(first) < 40


def test_rate_without_seed_reports_the_seed_it_drew(emulator: EmulatorServer, plain: Any) -> None:
    drawn = emulator.faults.set("ListVectorBuckets", error="TooManyRequestsException", rate=0.5)["seed"]
    assert isinstance(drawn, int)
    first = _outcomes(plain, 20)
    emulator.faults.set("ListVectorBuckets", error="TooManyRequestsException", rate=0.5, seed=drawn)
    assert _outcomes(plain, 20) == first


def test_rate_zero_and_one(emulator: EmulatorServer, plain: Any) -> None:
    emulator.faults.set("ListVectorBuckets", error="TooManyRequestsException", rate=0)
    assert _outcomes(plain, 5) == [False] * 5
    emulator.faults.set("ListVectorBuckets", error="TooManyRequestsException", rate=1)
    assert _outcomes(plain, 5) == [True] * 5


def test_schedule_is_consumed_in_order_then_exhausted(emulator: EmulatorServer, plain: Any) -> None:
    schedule = [True, False, True, True, False]
    emulator.faults.set("ListVectorBuckets", error="TooManyRequestsException", schedule=schedule)
    assert _outcomes(plain, 8) == [*schedule, False, False, False]
    plan = emulator.faults.state()["plans"]["ListVectorBuckets"]
    assert (plan["calls"], plan["injected"], plan["exhausted"]) == (5, 3, True)


def test_next_fails_exactly_the_next_n_calls(emulator: EmulatorServer, plain: Any) -> None:
    emulator.faults.set("ListVectorBuckets", error="TooManyRequestsException", next=3)
    assert _outcomes(plain, 5) == [True, True, True, False, False]


def test_count_limits_injections(emulator: EmulatorServer, plain: Any) -> None:
    emulator.faults.set("ListVectorBuckets", error="TooManyRequestsException", count=2)
    assert _outcomes(plain, 4) == [True, True, False, False]
    emulator.faults.set(
        "ListVectorBuckets", error="TooManyRequestsException", schedule=[False, True] * 4, count=2
    )
    assert _outcomes(plain, 8) == [False, True, False, True, False, False, False, False]


def test_wildcard_and_operation_plans(emulator: EmulatorServer, plain: Any) -> None:
    emulator.faults.set("*", error="ServiceUnavailableException")
    emulator.faults.set("ListVectorBuckets", error="TooManyRequestsException", next=1)
    with pytest.raises(plain.exceptions.TooManyRequestsException):
        plain.list_vector_buckets()
    # Its own plan exhausted, the operation falls back to "*".
    with pytest.raises(plain.exceptions.ServiceUnavailableException):
        plain.list_vector_buckets()
    with pytest.raises(plain.exceptions.ServiceUnavailableException):
        plain.get_vector_bucket(vectorBucketName="any-bucket")
    assert emulator.faults.state()["injected"] == {"ListVectorBuckets": 2, "GetVectorBucket": 1}
    assert emulator.faults.injected() == 3


def test_delay_then_normal_answer(emulator: EmulatorServer, plain: Any) -> None:
    emulator.faults.set("ListVectorBuckets", delay_ms=300, next=1)
    started = time.monotonic()
    assert "vectorBuckets" in plain.list_vector_buckets()
    assert time.monotonic() - started >= 0.3
    assert emulator.faults.injected("ListVectorBuckets") == 1


def test_delay_then_error(emulator: EmulatorServer, plain: Any) -> None:
    emulator.faults.set("ListVectorBuckets", error="InternalServerException", delay_ms=200)
    started = time.monotonic()
    with pytest.raises(plain.exceptions.InternalServerException):
        plain.list_vector_buckets()
    assert time.monotonic() - started >= 0.2


def test_injected_errors_write_nothing(
    emulator: EmulatorServer, client: Any, plain: Any, new_index: Callable[..., dict[str, str]]
) -> None:
    sel = new_index(dimension=2)
    emulator.faults.set("*", error="InternalServerException")
    with pytest.raises(plain.exceptions.InternalServerException):
        plain.put_vectors(**sel, vectors=[{"key": "k", "data": {"float32": [1.0, 2.0]}}])
    with pytest.raises(plain.exceptions.InternalServerException):
        plain.create_vector_bucket(vectorBucketName="never-created")
    with pytest.raises(plain.exceptions.InternalServerException):
        plain.delete_index(**sel)
    emulator.faults.clear()
    assert client.list_vectors(**sel)["vectors"] == []
    assert client.get_index(**sel)["index"]["indexName"] == sel["indexName"]
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_vector_bucket(vectorBucketName="never-created")


def test_standard_retries_recover_from_two_failures(
    emulator: EmulatorServer, client: Any, new_index: Callable[..., dict[str, str]]
) -> None:
    sel = new_index(dimension=3, metric="euclidean")
    emulator.faults.set("PutVectors", error="ServiceUnavailableException", next=2)
    vectors = [
        {"key": f"v{i}", "data": {"float32": [float(i), 0.5, -1.0]}, "metadata": {"i": i}} for i in range(20)
    ]
    response = _client(emulator.url, attempts=3).put_vectors(**sel, vectors=vectors)
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert emulator.faults.injected("PutVectors") == 2
    stored = client.get_vectors(**sel, keys=[v["key"] for v in vectors], returnData=True, returnMetadata=True)
    assert [(v["key"], v["data"]["float32"], v["metadata"]) for v in stored["vectors"]] == [
        (v["key"], v["data"]["float32"], v["metadata"]) for v in vectors
    ]
    assert len(client.list_vectors(**sel)["vectors"]) == 20


def test_concurrent_calls_share_one_schedule(emulator: EmulatorServer) -> None:
    emulator.faults.set("ListVectorBuckets", error="TooManyRequestsException", next=10)
    failures: list[int] = []

    def run() -> None:
        failures.append(sum(_outcomes(_client(emulator.url), 10)))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(failures) == 10
    assert emulator.faults.injected("ListVectorBuckets") == 10


def test_clear_restores_normal_service(emulator: EmulatorServer, plain: Any) -> None:
    emulator.faults.set("*", error="ServiceUnavailableException")
    emulator.faults.set("ListVectorBuckets", error="TooManyRequestsException")
    emulator.faults.clear("ListVectorBuckets")
    with pytest.raises(plain.exceptions.ServiceUnavailableException):
        plain.list_vector_buckets()
    emulator.faults.clear()
    assert "vectorBuckets" in plain.list_vector_buckets()
    assert emulator.faults.state() == {"plans": {}, "injected": {}}


def test_http_control_round_trip(emulator: EmulatorServer, plain: Any) -> None:
    plans = [
        {"operation": "ListVectorBuckets", "error": "TooManyRequestsException", "next": 1},
        {"operation": "GetVectorBucket", "delay_ms": 50, "rate": 1, "seed": 7},
    ]
    status, error_type, state = _control(emulator.url, "PUT", plans)
    assert (status, error_type) == (200, None)
    assert set(state["plans"]) == {"ListVectorBuckets", "GetVectorBucket"}
    assert state["plans"]["GetVectorBucket"]["seed"] == 7
    with pytest.raises(plain.exceptions.TooManyRequestsException):
        plain.list_vector_buckets()
    status, _, state = _control(emulator.url, "GET")
    assert status == 200
    assert state["injected"] == {"ListVectorBuckets": 1}
    assert state["plans"]["ListVectorBuckets"] == {
        "operation": "ListVectorBuckets",
        "error": "TooManyRequestsException",
        "delay_ms": 0,
        "rate": None,
        "seed": None,
        "schedule": None,
        "next": 1,
        "count": None,
        "message": None,
        "calls": 1,
        "injected": 1,
        "exhausted": True,
    }
    status, _, state = _control(emulator.url, "POST", {"operation": "*", "error": "InternalServerException"})
    assert status == 200 and "*" in state["plans"]
    status, _, state = _control(emulator.url, "DELETE", path=CONTROL_PATH + "?operation=*")
    assert status == 200 and "*" not in state["plans"] and "GetVectorBucket" in state["plans"]
    status, _, state = _control(emulator.url, "DELETE")
    assert (status, state) == (200, {"plans": {}, "injected": {}})
    assert "vectorBuckets" in plain.list_vector_buckets()


@pytest.mark.parametrize(
    ("plan", "field"),
    [
        ({"operation": "Bogus", "error": "TooManyRequestsException"}, "operation"),
        ({"error": "TooManyRequestsException"}, "operation"),
        ({"operation": "*", "error": "Throttled"}, "error"),
        ({"operation": "*"}, "error"),
        ({"operation": "*", "delay_ms": -5}, "delay_ms"),
        ({"operation": "*", "delay_ms": "slow"}, "delay_ms"),
        ({"operation": "*", "error": "InternalServerException", "rate": 1.5}, "rate"),
        ({"operation": "*", "error": "InternalServerException", "rate": True}, "rate"),
        ({"operation": "*", "error": "InternalServerException", "seed": 3}, "seed"),
        ({"operation": "*", "error": "InternalServerException", "rate": 0.5, "seed": 0.5}, "seed"),
        ({"operation": "*", "error": "InternalServerException", "schedule": [1, 0]}, "schedule"),
        ({"operation": "*", "error": "InternalServerException", "schedule": []}, "schedule"),
        ({"operation": "*", "error": "InternalServerException", "next": 0}, "next"),
        ({"operation": "*", "error": "InternalServerException", "rate": 0.5, "next": 2}, "next"),
        ({"operation": "*", "error": "InternalServerException", "count": -1}, "count"),
        ({"operation": "*", "error": "InternalServerException", "message": ""}, "message"),
        ({"operation": "*", "error": "InternalServerException", "delay": 100}, "delay"),
        ([{"operation": "*", "delay_ms": 10}, {"operation": "*", "delay_ms": 10, "rate": 2}], "[1].rate"),
        ([], "/"),
        ("always", "/"),
    ],
)
def test_bad_plan_is_a_400_naming_the_field(emulator: EmulatorServer, plan: Any, field: str) -> None:
    emulator.faults.set("QueryVectors", error="TooManyRequestsException")
    status, error_type, body = _control(emulator.url, "PUT", plan)
    assert (status, error_type, body["__type"]) == (400, "ValidationException", "ValidationException")
    assert f"'{field}'" in body["message"]
    assert body["fieldList"][0]["path"] == field
    # Nothing of a rejected document is applied; earlier plans stay.
    assert list(emulator.faults.state()["plans"]) == ["QueryVectors"]


@pytest.mark.parametrize(
    ("method", "path", "raw", "fragment"),
    [
        ("PUT", CONTROL_PATH, b"{not json", "not valid JSON"),
        ("PATCH", CONTROL_PATH, None, "use GET (read), PUT or POST (set), DELETE (clear)"),
        ("GET", "/_s3vl/other", None, f"managed on {CONTROL_PATH}"),
    ],
)
def test_bad_control_request_is_a_400(
    emulator: EmulatorServer, method: str, path: str, raw: bytes | None, fragment: str
) -> None:
    status, error_type, body = _control(emulator.url, method, raw=raw, path=path)
    assert (status, error_type) == (400, "ValidationException")
    assert fragment in body["message"]


def test_control_path_is_not_an_operation_and_is_never_faulted(emulator: EmulatorServer) -> None:
    emulator.faults.set("*", error="ServiceUnavailableException")
    status, _, state = _control(emulator.url, "GET")
    assert status == 200 and "*" in state["plans"]
    assert emulator.faults.injected() == 0


def test_stop_wakes_delayed_requests() -> None:
    server = EmulatorServer().start()
    server.faults.set("ListVectorBuckets", delay_ms=60_000)
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            _client(server.url).list_vector_buckets()
        except ClientError as e:
            outcome.append(e)

    thread = threading.Thread(target=call)
    thread.start()
    while server.faults.injected("ListVectorBuckets") == 0:
        time.sleep(0.01)
    server.stop()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert [e.response["Error"]["Code"] for e in outcome] == ["ServiceUnavailableException"]


def test_faults_file_at_start(tmp_path: Path) -> None:
    plans = tmp_path / "faults.json"
    plans.write_text(
        json.dumps([{"operation": "ListVectorBuckets", "error": "TooManyRequestsException", "next": 1}])
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "s3vl_local.s3vectors", "--port", "0", "--faults", str(plans)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().rsplit(" ", 1)[1]
        c = _client(url)
        with pytest.raises(c.exceptions.TooManyRequestsException):
            c.list_vector_buckets()
        assert "vectorBuckets" in c.list_vector_buckets()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_bad_faults_file_is_refused_at_start(tmp_path: Path) -> None:
    plans = tmp_path / "faults.json"
    plans.write_text(json.dumps({"operation": "*", "error": "InternalServerException", "rate": 7}))
    result = subprocess.run(
        [sys.executable, "-m", "s3vl_local.s3vectors", "--port", "0", "--faults", str(plans)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
        timeout=60,
    )
    assert result.returncode == 2
    assert "'rate' must be a probability between 0 and 1" in result.stderr
    assert result.stdout == ""
