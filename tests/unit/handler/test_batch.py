"""query_vectors_batch in the handler: the request's bounds, the backoff on 429 and the group merge order.
The equality of batch and single results over real data is tested through SQL (tests/sql/test_batch.py)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber
from s3vl_lambda import deadline
from s3vl_lambda.clients import client_for
from s3vl_lambda.contract import LIMITS
from s3vl_lambda.operations import backoff, batch, threads

from .conftest import STUB_ARN, STUB_REGION, error_code, invoke

OTHER_ARN = STUB_ARN.replace("/index/test-index", "/index/other-index")


def request(**fields: Any) -> dict[str, Any]:
    return {
        "operation": "query_vectors_batch",
        "index_arns": [STUB_ARN],
        "query_vectors": [[1.0, 0.0]],
        **fields,
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"query_vectors": [[1.0, 0.0]] * (LIMITS["batch_queries_max"] + 1)},
        {
            "index_arns": [STUB_ARN, OTHER_ARN],
            "query_vectors": [[1.0]] * (LIMITS["batch_queries_max"] // 2 + 1),
        },
        {"index_arns": []},
        {"index_arns": [STUB_ARN, STUB_ARN]},
        {"query_vectors": []},
    ],
)
def test_batches_beyond_the_contracts_bounds_are_refused_before_any_call(fields: dict[str, Any]) -> None:
    assert error_code(invoke(request(**fields))) == "INVALID_BATCH"


def test_a_bad_vector_is_named_by_its_position() -> None:
    envelope = invoke(request(query_vectors=[[1.0, 0.0], [1.0, "x"]]))
    assert (
        error_code(envelope) == "INVALID_VECTOR_VALUE"
        and "query_vectors[1][1]" in envelope["error"]["message"]
    )


def test_throttling_is_retried_with_backoff_until_the_query_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(backoff.time, "sleep", pauses.append)
    answer = {"vectors": [{"key": "a", "distance": 0.25}], "distanceMetric": "cosine"}
    with Stubber(client_for(STUB_REGION, attempts=1)) as stub:
        for _ in range(3):
            stub.add_client_error("query_vectors", "TooManyRequestsException", http_status_code=429)
        stub.add_response("query_vectors", answer)
        envelope = invoke(request(first_query_index=7))
        stub.assert_no_pending_responses()
    assert envelope["ok"], envelope
    assert envelope["result"]["throttled"] == 3 and len(pauses) == 3
    # Full jitter under a cap that doubles: 50 ms, 100 ms, 200 ms.
    assert all(0 <= p <= batch.BACKOFF_BASE_S * 2**n for n, p in enumerate(pauses))
    assert envelope["result"]["results"] == [[{"key": "a", "distance": 0.25, "similarity": 0.75}]]


def test_a_query_that_keeps_failing_names_its_query_index(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backoff.time, "sleep", lambda _: None)
    with Stubber(client_for(STUB_REGION, attempts=1)) as stub:
        for _ in range(batch.THROTTLE_ATTEMPTS):
            stub.add_client_error("query_vectors", "TooManyRequestsException", http_status_code=429)
        envelope = invoke(request(first_query_index=42))
    assert error_code(envelope) == "THROTTLED"
    assert envelope["error"]["message"].startswith("query_index 42: ")


def test_group_merge_orders_by_distance_then_member_then_key() -> None:
    def row(key: str, distance: float) -> dict[str, Any]:
        return {"key": key, "distance": distance, "similarity": 1 - distance}

    parts = [
        {"vectors": [row("z", 0.1), row("b", 0.3)]},
        {"vectors": [row("a", 0.1), row("c", 0.2), row("y", 0.3)]},
        {"vectors": [row("a", 0.1)]},
    ]
    merged = batch._merge(parts, 5)
    assert [(r["key"], r["distance"]) for r in merged] == [
        ("z", 0.1),
        ("a", 0.1),
        ("a", 0.1),
        ("c", 0.2),
        ("b", 0.3),
    ]


def test_backoff_stops_when_the_invocation_has_no_time_left(monkeypatch: pytest.MonkeyPatch) -> None:
    owner = deadline.start(None)
    monkeypatch.setattr(owner, "remaining_s", lambda: 0.0)
    try:
        with pytest.raises(Exception) as caught:
            owner.require(0.01, "the backoff")
    finally:
        deadline.finish()
    assert "DEADLINE_EXCEEDED" in str(caught.value)


def test_a_slow_member_query_is_hedged_and_the_first_answer_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    # The first attempt hangs past HEDGE_AFTER_S; the copy answers at once and is the one returned.
    import threading

    release = threading.Event()
    calls: list[int] = []

    def attempt(single: Any, throttled: Any) -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 1:
            release.wait(5)
            return {"vectors": ["slow"]}
        return {"vectors": ["fast"]}

    monkeypatch.setattr(batch, "_with_backoff", attempt)
    counter = threads.Counter()
    try:
        answer = batch._hedged(object(), threads.Counter(), counter)  # type: ignore[arg-type]
    finally:
        release.set()
    assert answer == {"vectors": ["fast"]} and counter.value == 1 and len(calls) == 2


def test_a_fast_member_query_is_not_hedged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch, "_with_backoff", lambda single, throttled: {"vectors": ["only"]})
    monkeypatch.setattr(batch, "HEDGE_AFTER_S", 1.0)
    counter = threads.Counter()
    assert batch._hedged(object(), threads.Counter(), counter) == {"vectors": ["only"]}  # type: ignore[arg-type]
    assert counter.value == 0
