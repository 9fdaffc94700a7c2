"""The function's remaining time, checked before every S3 Vectors attempt.

Lambda runs one invocation at a time per container, so the current invocation's deadline is
module state that the client hook (clients.py) and the worker threads of get_vectors share.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from .errors import HandlerError

# Kept free for building and returning the response after the last AWS call.
RESERVE_S = 0.5
# Without a Lambda context (local tools, tests) the budget is this generous constant.
UNBOUNDED_S = 60.0


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class Deadline:
    """The moment by which the handler must have answered."""

    def __init__(self, context: Any) -> None:
        remaining_s = UNBOUNDED_S
        getter = getattr(context, "get_remaining_time_in_millis", None)
        if callable(getter):
            remaining = getter()
            if isinstance(remaining, int | float) and not isinstance(remaining, bool):
                remaining_s = remaining / 1000.0
        self._end = time.monotonic() + remaining_s - RESERVE_S

    def remaining_s(self) -> float:
        """Seconds left for work, the reserve for the response already taken off."""
        return self._end - time.monotonic()

    def require(self, needed_s: float, what: str) -> None:
        """Raise DEADLINE_EXCEEDED unless `needed_s` seconds of work still fit."""
        left = self.remaining_s()
        if left < needed_s:
            raise HandlerError(
                "DEADLINE_EXCEEDED",
                f"the function has {max(left, 0.0):.2f} s left, less than the {needed_s:.2f} s {what} may "
                "take: raise the Lambda timeout or ask for less work per call (top_k, keys, max_results)",
            )


_current: Deadline | None = None


def current() -> Deadline:
    """The running invocation's deadline; outside an invocation, an unbounded one from now."""
    return _current if _current is not None else Deadline(None)


def start(context: Any) -> Deadline:
    """Begin an invocation: its deadline becomes the one every AWS attempt is checked against."""
    global _current
    _current = Deadline(context)
    return _current


def finish() -> None:
    global _current
    _current = None
