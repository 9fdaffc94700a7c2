"""Retry of a throttled (429) or unavailable (503) S3 Vectors call: full jitter over base * 2^attempt,
capped, while the invocation has time; any other error, or the last attempt's, is raised."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .. import deadline
from ..clients import client_for
from ..errors import HandlerError
from .threads import Counter

RETRIED_CODES = frozenset({"THROTTLED", "SERVICE_UNAVAILABLE"})

T = TypeVar("T")


def one_attempt_client(region: str, event: str, hook: Callable[..., None]) -> Any:
    """The region's client that makes one attempt per call, for callers that retry with with_backoff, with
    `hook` registered for botocore `event` (once: registering the same unique_id again is a no-op).

    Many calls at once against an index's rate limits are throttled routinely; the SDK's retries back off
    from about a second and would spend the container's retry quota (kept across invocations, clients.py)
    that protects later calls."""
    client = client_for(region, attempts=1)
    client.meta.events.register(event, hook, unique_id=f"s3vl:{event}")
    return client


def with_backoff(
    send: Callable[[], T], throttled: Counter, *, attempts: int, base_s: float, cap_s: float, api: str
) -> T:
    """send()'s answer; throttled counts the retries; api names the S3 Vectors call in a deadline error."""
    for attempt in range(attempts):
        try:
            return send()
        except HandlerError as exc:
            if exc.code not in RETRIED_CODES or attempt == attempts - 1:
                raise
            throttled.add()
            pause = random.uniform(0.0, min(cap_s, base_s * 2**attempt))
            deadline.current().require(pause, f"the backoff after a throttled or unavailable {api}")
            time.sleep(pause)
    raise AssertionError("unreachable: the last attempt returns or raises")
