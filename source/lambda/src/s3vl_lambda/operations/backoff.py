"""Retry of a throttled (429) or unavailable (503) S3 Vectors call: full jitter over base * 2^attempt,
capped, while the invocation has time; any other error, or the last attempt's, is raised."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from .. import deadline
from ..errors import HandlerError
from .threads import Counter

RETRIED_CODES = frozenset({"THROTTLED", "SERVICE_UNAVAILABLE"})

T = TypeVar("T")


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
