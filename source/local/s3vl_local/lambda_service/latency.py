"""The Lambda service's latency profile: the invoke overhead of every synchronous invocation and the cold
start of one that runs in a new worker (on top of the worker's real start-up, which is local)."""

from __future__ import annotations

import time

from s3vl_local.latency_profiles import DEFAULT_SEED, NONE, Profile, SeededDelays, profile


class InvokeLatency:
    def __init__(self, name: str = NONE, seed: int = DEFAULT_SEED) -> None:
        self.profile: Profile = profile(name)
        self._delays = SeededDelays(seed)

    def wait(self, cold: bool) -> None:
        """Wait the invoke overhead, plus a cold start when the worker has not served an invocation yet."""
        if not self.profile.delays:
            return
        delay = self._delays.draw(self.profile.invoke_overhead)
        if cold:
            delay += self._delays.draw(self.profile.cold_start)
        time.sleep(delay)
