"""The thread pools, counters and fan-out of the operations that fan S3 Vectors calls out over threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TypeVar

from .. import deadline
from ..errors import HandlerError

T = TypeVar("T")
U = TypeVar("U")


class LazyPool:
    """A container-wide thread pool: created on the first call that needs it, reused by later invocations."""

    def __init__(self, max_workers: int, thread_name_prefix: str) -> None:
        self._max_workers = max_workers
        self._prefix = thread_name_prefix
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def __call__(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self._max_workers, thread_name_prefix=self._prefix
                )
            return self._pool


class Counter:
    """A count that several threads add to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self, count: int = 1) -> None:
        with self._lock:
            self.value += count


def fan_out(
    pool: LazyPool,
    work: Callable[[U], T],
    items: list[U],
    fix: str,
    *,
    what: str = "GetVectors batches",
) -> list[T]:
    """`work` of every item (a batch of keys, a query), in item order, on the pool's threads (a single item
    runs in this thread); the first failure in item order is the one raised. what: the items' name, and
    fix: what to do, in the error raised when the function's time runs out before every item has finished."""
    if len(items) == 1:
        return [work(items[0])]
    # Bound to this invocation's deadline: an item still retrying after the answer makes no new attempt.
    bound = deadline.bound_to(deadline.current(), work)
    futures: list[Future[T]] = [pool().submit(bound, item) for item in items]
    done, pending = wait(
        futures, timeout=max(deadline.current().remaining_s(), 0.0), return_when=FIRST_EXCEPTION
    )
    for future in pending:
        future.cancel()
    for future in futures:
        if future in done and future.exception() is not None:
            raise future.exception()  # type: ignore[misc]
    if pending:
        raise HandlerError(
            "DEADLINE_EXCEEDED",
            f"{len(pending)} of {len(items)} {what} had not finished when the function's time ran out: {fix}",
        )
    return [future.result() for future in futures]
