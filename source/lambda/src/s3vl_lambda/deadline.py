"""The function's remaining time, checked before every S3 Vectors attempt.

Lambda runs one invocation at a time per container, so the current invocation's deadline is
module state that the client hook (clients.py) reads. The worker threads of get_vectors are bound to
the deadline of the invocation that started them: when that invocation has answered (after one batch
failed, say), a batch still retrying there makes no further attempt, whatever runs next.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import HandlerError

# Kept free for building and returning the response after the last AWS call.
RESERVE_S = 0.5
# Without a Lambda context (local tools, tests) the budget is this generous constant.
UNBOUNDED_S = 60.0


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
        self._answered = False

    def answered(self) -> None:
        """The invocation has returned: no attempt on its behalf may start any more."""
        self._answered = True

    def remaining_s(self) -> float:
        """Seconds left for work, the reserve for the response already taken off."""
        return self._end - time.monotonic()

    def require(self, needed_s: float, what: str) -> None:
        """Raise DEADLINE_EXCEEDED unless `needed_s` seconds of work still fit."""
        if self._answered:
            raise HandlerError(
                "DEADLINE_EXCEEDED",
                f"the invocation has already answered, so {what} is not started: nothing to do",
            )
        left = self.remaining_s()
        if left < needed_s:
            raise HandlerError(
                "DEADLINE_EXCEEDED",
                f"the function has {max(left, 0.0):.2f} s left, less than the {needed_s:.2f} s {what} may "
                "take: raise the Lambda timeout or ask for less work per call (top_k, keys, max_results)",
            )


_current: Deadline | None = None
_bound = threading.local()  # .deadline: the invocation a worker thread works for
T = TypeVar("T")


def current() -> Deadline:
    """The deadline of the invocation this thread works for: the one it is bound to, else the running
    invocation's; outside an invocation, an unbounded one from now."""
    bound: Deadline | None = getattr(_bound, "deadline", None)
    if bound is not None:
        return bound
    return _current if _current is not None else Deadline(None)


def bound_to(owner: Deadline, work: Callable[..., T]) -> Callable[..., T]:
    """`work`, run (in any thread) on behalf of the invocation whose deadline is `owner`."""

    def run(*args: Any) -> T:
        _bound.deadline = owner
        try:
            return work(*args)
        finally:
            _bound.deadline = None

    return run


def start(context: Any) -> Deadline:
    """Begin an invocation: its deadline becomes the one every AWS attempt is checked against."""
    global _current
    _current = Deadline(context)
    return _current


def finish() -> None:
    global _current
    if _current is not None:
        _current.answered()
    _current = None
