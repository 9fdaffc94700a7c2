"""Latency profiles of the local stack: how long AWS takes, so that the twin can cost what AWS costs.

A profile names, per S3 Vectors operation, a log-normal delay (median and sigma of the log; a long right
tail as measured latencies have), the delay of each further QueryVectors page, the per-index request
rates beyond which the service answers 429, and the Lambda invoke overhead and cold start. "none" (the
default) adds nothing. Every number and its source is in docs/local-stack.md ("Latency profiles"); keep
the two in step.
"""

from __future__ import annotations

import argparse
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import NormalDist

NONE = "none"
AWS = "aws"
PROFILES = (NONE, AWS)
ENV_VARIABLE = "S3VL_LATENCY_PROFILE"
DEFAULT_SEED = 17
# A drawn delay never exceeds this many medians: the tail is long, but a test or benchmark must end.
MAX_MEDIANS = 20.0


@dataclass(frozen=True)
class Delay:
    """A log-normal delay: half the draws are below `median_ms`; sigma widens the tail."""

    median_ms: float
    sigma: float

    def draw(self, rng: random.Random) -> float:
        """One delay in seconds."""
        if self.median_ms <= 0:
            return 0.0
        ms = min(self.median_ms * math.exp(rng.gauss(0.0, self.sigma)), self.median_ms * MAX_MEDIANS)
        return ms / 1000.0

    def quantile_ms(self, q: float) -> float:
        """The q-quantile (0 < q < 1) of the delay, for documentation and tests."""
        return self.median_ms * math.exp(self.sigma * NormalDist().inv_cdf(q))


@dataclass(frozen=True)
class Profile:
    name: str
    operations: dict[str, Delay] = field(default_factory=dict)
    other_operation: Delay = Delay(0.0, 0.0)  # control-plane operations not listed
    next_page: Delay = Delay(0.0, 0.0)  # a QueryVectors request that carries a nextToken
    query_rate: float | None = None  # QueryVectors requests per second per index
    read_rate: float | None = None  # GetVectors + ListVectors requests per second per index
    write_rate: float | None = None  # PutVectors + DeleteVectors requests per second per index
    write_vector_rate: float | None = None  # vectors put + deleted per second per index
    invoke_overhead: Delay = Delay(0.0, 0.0)  # each Lambda invocation, warm or cold
    cold_start: Delay = Delay(0.0, 0.0)  # an invocation that starts a new worker, in addition

    @property
    def delays(self) -> bool:
        return self.name != NONE


_AWS = Profile(
    name=AWS,
    operations={
        # median 100 ms ("as low as 100 ms" warm); sigma 0.52 puts p99 at ~337 ms (VectorDBBench serial p99).
        "QueryVectors": Delay(100.0, 0.52),
        "GetVectors": Delay(40.0, 0.4),
        "ListVectors": Delay(80.0, 0.4),
        "PutVectors": Delay(60.0, 0.4),
        "DeleteVectors": Delay(50.0, 0.4),
    },
    other_operation=Delay(50.0, 0.3),
    # ~33 s for 10,000 results = 100 pages fetched one after another: ~330 ms a page.
    next_page=Delay(300.0, 0.3),
    query_rate=200.0,  # "hundreds" per second; ~199 QPS peak in VectorDBBench on one index
    read_rate=200.0,
    write_rate=1000.0,  # documented: 1,000 PutVectors+DeleteVectors requests/s per index
    write_vector_rate=2500.0,  # documented: 2,500 vectors inserted+deleted/s per index
    invoke_overhead=Delay(20.0, 0.3),
    cold_start=Delay(400.0, 0.25),
)

_BY_NAME = {NONE: Profile(name=NONE), AWS: _AWS}


def profile(name: str) -> Profile:
    """The profile called `name`; raises ValueError naming the known ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(
            f"unknown latency profile {name!r}: use one of {', '.join(PROFILES)} (see docs/local-stack.md)"
        ) from None


def add_argument(parser: argparse.ArgumentParser, effect: str) -> None:
    """--latency-profile of a service's command line (default none); `effect` says what it does there."""
    parser.add_argument(
        "--latency-profile",
        choices=PROFILES,
        default=NONE,
        help=f"{effect} (default none; see docs/local-stack.md)",
    )


class TokenBucket:
    """`rate` tokens a second, at most one second's worth banked (the burst); thread-safe."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = rate
        self._clock = clock
        self._tokens = rate
        self._at = clock()
        self._lock = threading.Lock()

    def take(self, count: float = 1.0) -> bool:
        """Spend `count` tokens if there are that many; False (spending none) otherwise."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens < count:
                return False
            self._tokens -= count
            return True


class SeededDelays:
    """Draws of a profile's delays from one seeded generator, shared by threads."""

    def __init__(self, seed: int = DEFAULT_SEED) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def draw(self, delay: Delay) -> float:
        with self._lock:
            return delay.draw(self._rng)
