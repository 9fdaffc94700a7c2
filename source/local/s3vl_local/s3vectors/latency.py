"""The emulator's latency profile: per-index rate limits (429) and a seeded delay per request.

Called by the server after a request is validated and before its operation runs, so a throttled request
writes nothing, as on the service. Each QueryVectors page is its own request: the first costs the
operation's delay, each one with a nextToken the profile's page delay.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ..latency_profiles import DEFAULT_SEED, NONE, Profile, SeededDelays, TokenBucket, profile
from .errors import S3VectorsError
from .validation import INDEX_ARN

_QUERY = ("QueryVectors",)
_READS = ("GetVectors", "ListVectors")
_WRITES = ("PutVectors", "DeleteVectors")


class TooManyRequestsException(S3VectorsError, status=429): ...


class EmulatorLatency:
    """The delays and per-index request rates of one profile; thread-safe."""

    def __init__(self, name: str = NONE, seed: int = DEFAULT_SEED) -> None:
        self.profile: Profile = profile(name)
        self._delays = SeededDelays(seed)
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def before(self, operation: str, params: dict[str, Any]) -> None:
        """Raise TooManyRequestsException over an index's rate, else wait the drawn delay."""
        p = self.profile
        if not p.delays:
            return
        index = _index_of(params)
        if index is not None:
            if operation in _QUERY:
                self._admit(index, "query", p.query_rate, 1, "QueryVectors requests")
            elif operation in _READS:
                self._admit(index, "read", p.read_rate, 1, "GetVectors and ListVectors requests")
            elif operation in _WRITES:
                self._admit(index, "write", p.write_rate, 1, "PutVectors and DeleteVectors requests")
                count = len(params.get("vectors") or params.get("keys") or [])
                self._admit(index, "vectors", p.write_vector_rate, count, "vectors written or deleted")
        if operation == "QueryVectors" and params.get("nextToken"):
            delay = p.next_page
        else:
            delay = p.operations.get(operation, p.other_operation)
        time.sleep(self._delays.draw(delay))

    def _admit(self, index: str, kind: str, rate: float | None, count: int, what: str) -> None:
        if rate is None or count == 0:
            return
        with self._lock:
            bucket = self._buckets.get((index, kind))
            if bucket is None:
                bucket = self._buckets[(index, kind)] = TokenBucket(rate)
        if not bucket.take(count):
            raise TooManyRequestsException(
                f"Index {index} is over its rate of {rate:g} {what} per second "
                f"(latency profile {self.profile.name}): retry with backoff, or spread the load over "
                "several indexes"
            )


def _index_of(params: dict[str, Any]) -> str | None:
    """The index a data-plane request names, as bucket/index, by ARN or by names."""
    arn = params.get("indexArn")
    match = INDEX_ARN.fullmatch(arn) if isinstance(arn, str) else None
    if match:
        return f"{match['bucket']}/{match['index']}"
    bucket, name = params.get("vectorBucketName"), params.get("indexName")
    if isinstance(bucket, str) and isinstance(name, str):
        return f"{bucket}/{name}"
    return None
