"""operations.threads.fan_out, the one fan-out of get_vectors, rank_vectors and query_vectors_batch: item
order, the failure raised, and the DEADLINE_EXCEEDED message that names the caller's fix."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from s3vl_lambda import deadline
from s3vl_lambda.errors import HandlerError
from s3vl_lambda.operations import threads

from .conftest import FakeContext

POOL = threads.LazyPool(4, "s3vl-test-fan-out")


def test_answers_come_in_batch_order() -> None:
    batches = [[str(n)] for n in range(6)]
    assert threads.fan_out(POOL, lambda keys: int(keys[0]) * 10, batches, "fix") == [0, 10, 20, 30, 40, 50]


def test_a_failing_batch_fails_the_fan_out_with_its_error() -> None:
    def work(keys: list[str]) -> str:
        if keys == ["bad"]:
            raise HandlerError("THROTTLED", "slow down")
        return keys[0]

    with pytest.raises(HandlerError) as raised:
        threads.fan_out(POOL, work, [["a"], ["bad"], ["c"]], "fix")
    assert raised.value.code == "THROTTLED"


def test_batches_unfinished_at_the_deadline_name_the_fix() -> None:
    release = threading.Event()

    def work(keys: list[str]) -> Any:
        if keys == ["slow"]:
            release.wait(5)
        return keys

    deadline.start(FakeContext(remaining_ms=round((deadline.RESERVE_S + 0.2) * 1000)))
    try:
        with pytest.raises(HandlerError) as raised:
            threads.fan_out(POOL, work, [["a"], ["slow"]], "pass fewer ids per call")
    finally:
        release.set()
        deadline.finish()
    assert raised.value.code == "DEADLINE_EXCEEDED"
    assert raised.value.message == (
        "1 of 2 GetVectors batches had not finished when the function's time ran out: pass fewer ids per call"
    )
