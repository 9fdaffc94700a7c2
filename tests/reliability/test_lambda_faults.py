"""Lambda service fault injection: throttle, crash, timeout and delay, chosen by rate and seed, schedule,
next N or count, per function or for every function, switched at run time on /_s3vl/faults."""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from s3vl_local import local_aws
from s3vl_local.lambda_service.faults import CONTROL_PATH
from s3vl_local.lambda_service.server import LambdaService

REPO = Path(__file__).resolve().parents[2]
ZIP = REPO / "source" / "lambda" / "build" / "sample-rds-lambda-s3vector.zip"
FUNCTION = "rel-faults"  # the real s3vl handler; `health` without an index makes no AWS call
OTHER = "rel-faults-other"
TIMEOUT_S = 1
HEALTH = json.dumps({"operation": "health"}).encode()


def control(service: LambdaService, method: str, document: Any = None, query: str = "") -> dict[str, Any]:
    """Call the control API over HTTP; returns the JSON state (or raises HTTPError for a 4xx)."""
    body = None if document is None else json.dumps(document).encode()
    request = urllib.request.Request(f"{service.url}{CONTROL_PATH}{query}", data=body, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def client(lambda_service: LambdaService) -> Iterator[Any]:
    # One attempt only, so an injected 429 is seen rather than retried away.
    lam = local_aws.client(
        "lambda",
        lambda_service.url,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=30),
    )
    for name in (FUNCTION, OTHER):
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role="arn:aws:iam::000000000000:role/rel-faults",
            Handler="lambda_function.lambda_handler",
            Code={"ZipFile": ZIP.read_bytes()},
            Timeout=TIMEOUT_S,
        )
    try:
        yield lam
    finally:
        lambda_service.faults.clear()
        for name in (FUNCTION, OTHER):
            lam.delete_function(FunctionName=name)


@pytest.fixture(autouse=True)
def no_faults_after(lambda_service: LambdaService) -> Iterator[None]:
    yield
    lambda_service.faults.clear()


def invoke(client: Any, name: str = FUNCTION, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    """('ok' | 'throttled' | the function error type, the answer) of one synchronous invocation."""
    try:
        answer = client.invoke(FunctionName=name, Payload=HEALTH, **kwargs)
    except ClientError as error:
        assert error.response["Error"]["Code"] == "TooManyRequestsException", error.response
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        return "throttled", error.response
    payload = json.loads(answer["Payload"].read() or b"null")
    if answer.get("FunctionError"):
        assert answer["FunctionError"] == "Unhandled"
        return payload["errorType"], payload
    assert payload["ok"] is True, payload
    return "ok", payload


def test_throttle_next_n_then_normal_service(lambda_service: LambdaService, client: Any) -> None:
    state = control(lambda_service, "PUT", {"function": FUNCTION, "fault": "throttle", "next": 2})
    assert state["plans"][FUNCTION]["next"] == 2 and state["plans"][FUNCTION]["exhausted"] is False
    outcomes = [invoke(client) for _ in range(3)]
    assert [kind for kind, _ in outcomes] == ["throttled", "throttled", "ok"]
    error = outcomes[0][1]["Error"]
    assert error["Message"] == "Rate Exceeded."
    assert outcomes[0][1]["Reason"] == "ConcurrentInvocationLimitExceeded"
    state = control(lambda_service, "GET")
    assert state["plans"][FUNCTION]["calls"] == 2 and state["plans"][FUNCTION]["exhausted"] is True
    assert state["injected"] == {FUNCTION: 2}


def test_crash_kills_the_worker_mid_invocation(lambda_service: LambdaService, client: Any) -> None:
    assert invoke(client)[0] == "ok"  # a warm worker, waiting for its next invocation
    lambda_service.faults.set(FUNCTION, fault="crash", next=1)
    kind, payload = invoke(client, LogType="Tail")
    assert kind == "Runtime.ExitError"
    assert payload["errorMessage"].endswith("Runtime exited with error: signal: killed")
    log = lambda_service.function_log(FUNCTION).read_text()
    assert "Error: Runtime exited with error: signal: killed" in log
    assert invoke(client)[0] == "ok"  # a new worker replaces the dead one


def test_crash_of_a_cold_worker(lambda_service: LambdaService, client: Any) -> None:
    client.update_function_configuration(FunctionName=FUNCTION, Description="retires the warm workers")
    lambda_service.faults.set(FUNCTION, fault="crash", next=1)
    assert invoke(client)[0] == "Runtime.ExitError"
    assert invoke(client)[0] == "ok"


def test_timeout_exceeds_the_function_timeout(lambda_service: LambdaService, client: Any) -> None:
    lambda_service.faults.set(FUNCTION, fault="timeout", next=1)
    started = time.monotonic()
    kind, payload = invoke(client)
    elapsed = time.monotonic() - started
    assert kind == "Sandbox.Timedout"
    assert payload["errorMessage"].endswith(f"Task timed out after {TIMEOUT_S}.00 seconds")
    # The worker's own timer decided: not before the function timeout, and not much after it.
    assert TIMEOUT_S <= elapsed < TIMEOUT_S + 5
    assert "Status: timeout" in lambda_service.function_log(FUNCTION).read_text()
    assert invoke(client)[0] == "ok"


def test_delay_then_normal_answer(lambda_service: LambdaService, client: Any) -> None:
    invoke(client)  # warm
    lambda_service.faults.set(FUNCTION, delay_ms=400, next=1)
    started = time.monotonic()
    assert invoke(client)[0] == "ok"
    assert time.monotonic() - started >= 0.4
    assert lambda_service.faults.injected(FUNCTION) == 1


def test_rate_with_a_seed_is_reproducible(lambda_service: LambdaService, client: Any) -> None:
    draws = random.Random(11)
    expected = [draws.random() < 0.4 for _ in range(16)]
    assert 0 < sum(expected) < 16
    for _ in range(2):  # setting the plan again restarts its sequence
        control(lambda_service, "PUT", {"function": FUNCTION, "fault": "throttle", "rate": 0.4, "seed": 11})
        outcomes = [invoke(client)[0] for _ in range(16)]
        assert outcomes == ["throttled" if hit else "ok" for hit in expected]
    state = control(lambda_service, "PUT", {"function": FUNCTION, "fault": "throttle", "rate": 0.4})
    assert isinstance(state["plans"][FUNCTION]["seed"], int)  # drawn and reported, so a run can be replayed


def test_schedule_and_count(lambda_service: LambdaService, client: Any) -> None:
    lambda_service.faults.set(FUNCTION, fault="throttle", schedule=[True, False, True])
    assert [invoke(client)[0] for _ in range(4)] == ["throttled", "ok", "throttled", "ok"]
    lambda_service.faults.set(FUNCTION, fault="throttle", count=2)
    assert [invoke(client)[0] for _ in range(3)] == ["throttled", "throttled", "ok"]
    assert lambda_service.faults.state()["plans"][FUNCTION]["exhausted"] is True


def test_a_functions_own_plan_before_the_star_plan(lambda_service: LambdaService, client: Any) -> None:
    control(
        lambda_service,
        "PUT",
        [{"function": "*", "fault": "throttle"}, {"function": FUNCTION, "fault": "crash", "next": 1}],
    )
    assert invoke(client)[0] == "Runtime.ExitError"  # its own plan
    assert invoke(client)[0] == "throttled"  # its plan is exhausted: the "*" plan applies
    assert invoke(client, OTHER)[0] == "throttled"
    state = control(lambda_service, "DELETE", query="?function=*")
    assert list(state["plans"]) == [FUNCTION] and state["injected"] == {FUNCTION: 2, OTHER: 1}
    assert invoke(client, OTHER)[0] == "ok"
    assert control(lambda_service, "DELETE") == {"plans": {}, "injected": {}}


def test_event_and_dry_run_invocations_are_not_faulted(lambda_service: LambdaService, client: Any) -> None:
    lambda_service.faults.set("*", fault="throttle")
    assert client.invoke(FunctionName=FUNCTION, Payload=HEALTH, InvocationType="Event")["StatusCode"] == 202
    assert client.invoke(FunctionName=FUNCTION, Payload=HEALTH, InvocationType="DryRun")["StatusCode"] == 204
    assert lambda_service.faults.injected() == 0


@pytest.mark.parametrize(
    ("document", "path", "problem"),
    [
        ({"fault": "crash"}, "function", 'must be "*" or a function name'),
        ({"function": "bad name!", "fault": "crash"}, "function", 'must be "*" or a function name'),
        ({"function": FUNCTION, "fault": "explode"}, "fault", "must be one of crash, timeout, throttle"),
        ({"function": FUNCTION}, "fault", "is required unless 'delay_ms' is positive"),
        ({"function": FUNCTION, "delay_ms": -1}, "delay_ms", "must be milliseconds from 0 to 600000"),
        ({"function": FUNCTION, "fault": "crash", "rate": 1.5}, "rate", "must be a probability"),
        ({"function": FUNCTION, "fault": "crash", "seed": 3}, "seed", "applies only to 'rate'"),
        ({"function": FUNCTION, "fault": "crash", "rate": 0.5, "next": 1}, "next", "cannot be combined"),
        ({"function": FUNCTION, "fault": "crash", "schedule": []}, "schedule", "must be a non-empty array"),
        ({"function": FUNCTION, "fault": "crash", "next": 0}, "next", "must be an integer >= 1"),
        ({"function": FUNCTION, "fault": "crash", "count": True}, "count", "must be an integer >= 1"),
        ({"function": FUNCTION, "fault": "crash", "colour": 1}, "colour", "is not a fault plan field"),
        ([{"function": FUNCTION, "fault": "crash"}, {"function": "*"}], "[1].fault", "is required"),
        ([], "/", "must be a plan object or a non-empty array"),
        ("crash", "/", "must be a JSON object"),
    ],
)
def test_invalid_plans_are_refused_and_change_nothing(
    lambda_service: LambdaService, document: Any, path: str, problem: str
) -> None:
    lambda_service.faults.set(OTHER, fault="throttle", next=1)
    before = lambda_service.faults.state()
    with pytest.raises(urllib.error.HTTPError) as caught:
        control(lambda_service, "PUT", document)
    assert caught.value.code == 400
    assert caught.value.headers["x-amzn-ErrorType"] == "InvalidParameterValueException"
    message = json.loads(caught.value.read())["Message"]
    assert f"'{path}' {problem}" in message and "docs/local-stack.md" in message
    assert lambda_service.faults.state() == before


def test_invalid_json_is_refused(lambda_service: LambdaService) -> None:
    request = urllib.request.Request(f"{lambda_service.url}{CONTROL_PATH}", data=b"{not json", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400 and "is not valid JSON" in json.loads(caught.value.read())["Message"]


def test_stopping_the_service_wakes_delayed_invocations(tmp_path: Path) -> None:
    service = LambdaService(tmp_path / "lambda").start()
    try:
        lam = local_aws.client(
            "lambda",
            service.url,
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=60),
        )
        lam.create_function(
            FunctionName=FUNCTION,
            Runtime="python3.11",
            Role="arn:aws:iam::000000000000:role/rel-faults",
            Handler="lambda_function.lambda_handler",
            Code={"ZipFile": ZIP.read_bytes()},
        )
        service.faults.set("*", delay_ms=60_000)
        answers: list[Any] = []

        def call() -> None:
            try:
                lam.invoke(FunctionName=FUNCTION, Payload=HEALTH)
            except ClientError as error:
                answers.append(error.response)

        caller = threading.Thread(target=call)
        caller.start()
        deadline = time.monotonic() + 10
        while service.faults.injected() == 0:
            assert time.monotonic() < deadline, "the invocation never reached the fault plan"
            time.sleep(0.01)
        started = time.monotonic()
    finally:
        service.stop()
    caller.join(timeout=10)
    assert not caller.is_alive() and time.monotonic() - started < 10
    assert answers[0]["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert "stopping" in answers[0]["Error"]["Message"]
