"""The warm-worker pool of every function, made on its first invocation."""

from __future__ import annotations

import threading
from pathlib import Path

from s3vl_local.lambda_service.errors import LambdaApiError
from s3vl_local.lambda_service.functions import FunctionStore
from s3vl_local.lambda_service.workers import FunctionPool, Worker


class FunctionPools:
    def __init__(
        self, store: FunctionStore, concurrency_limit: int, function_env: dict[str, str], log_dir: Path
    ) -> None:
        self._store = store
        self._concurrency_limit = concurrency_limit
        self._function_env = function_env
        self._log_dir = log_dir  # each function's workers write their output under log_dir/<function>
        self._pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> FunctionPool:
        with self._lock:
            pool = self._pools.get(name)
            if pool is None:
                pool = FunctionPool(name, self._concurrency_limit, self._function_env, self._log_dir / name)
                self._pools[name] = pool
            return pool

    def release(self, pool: FunctionPool, worker: Worker) -> None:
        """Return `worker` after an invocation: kept warm only if its code is still the function's."""
        try:
            generation: int | None = self._store.get(pool.name).generation
        except LambdaApiError:  # deleted meanwhile
            generation = None
        pool.release(worker, generation)

    def retire(self, name: str) -> None:
        """Stop the function's idle workers: its code or configuration changed."""
        with self._lock:
            pool = self._pools.get(name)
        if pool is not None:
            pool.retire_idle()

    def close(self) -> None:
        """Refuse new workers and wake the invocations that wait for one (they end)."""
        for pool in self._all():
            pool.close()

    def retire_all(self) -> None:
        for pool in self._all():
            pool.retire_idle()

    def _all(self) -> list[FunctionPool]:
        with self._lock:
            return list(self._pools.values())
