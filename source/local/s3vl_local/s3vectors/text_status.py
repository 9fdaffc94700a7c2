"""The BUILDING -> ACTIVE status of a text search configuration (a searchable metadata key).

The service backfills a key added to an index that already holds vectors: GetIndex reports it BUILDING,
and it "isn't yet serving queries", then ACTIVE. The emulator builds the inverted index at once but
reports and enforces the same transition on a deterministic clock: a key added when the index holds n
vectors becomes ACTIVE n / BUILD_RATE seconds after the request, wall-clock time, kept in the stored
configuration as `readyAt` (so it survives a restart) and never shown. A key given at CreateIndex has
nothing to backfill and is ACTIVE at once.

BUILD_RATE (vectors per second) comes from S3VL_EMULATOR_TEXT_BUILD_RATE, default 20,000; `inf` makes
every key ACTIVE at once.
"""

from __future__ import annotations

import os
import time
from typing import Any

from .errors import ValidationException

BUILD_RATE_VARIABLE = "S3VL_EMULATOR_TEXT_BUILD_RATE"
DEFAULT_BUILD_RATE = 20_000.0


def _configured_rate() -> float:
    raw = os.environ.get(BUILD_RATE_VARIABLE, "")
    try:
        rate = float(raw) if raw else DEFAULT_BUILD_RATE
    except ValueError:
        rate = -1.0
    if not rate > 0:
        raise ValueError(
            f"{BUILD_RATE_VARIABLE}={raw!r} is not a positive number of vectors per second: "
            "set it to e.g. 20000, or to inf for no BUILDING phase"
        )
    return rate


BUILD_RATE = _configured_rate()


def ready_at(vectors: int, now: float | None = None) -> float:
    """When a key added now to an index holding `vectors` vectors becomes ACTIVE."""
    start = time.time() if now is None else now
    return start + vectors / BUILD_RATE


def status(entry: dict[str, Any], now: float | None = None) -> str:
    ready = entry.get("readyAt")
    if ready is None:
        return "ACTIVE"
    return "ACTIVE" if (time.time() if now is None else now) >= ready else "BUILDING"


def public(metadata_configuration: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """The metadataConfiguration as GetIndex shows it: each text key with its current status."""
    configs = metadata_configuration.get("textSearchConfigurations")
    if not configs:
        return metadata_configuration
    shown = [{**{k: v for k, v in c.items() if k != "readyAt"}, "status": status(c, now)} for c in configs]
    return {**metadata_configuration, "textSearchConfigurations": shown}


def require_active(metadata_configuration: dict[str, Any], names: list[str]) -> None:
    """Refuse a query on a key that is still BUILDING, naming the time left and the fix."""
    now = time.time()
    for c in metadata_configuration.get("textSearchConfigurations", []):
        if c["metadataKey"] in names and status(c, now) == "BUILDING":
            raise ValidationException(
                f"Text search on metadata key {c['metadataKey']!r} is BUILDING (backfilling, about "
                f"{c['readyAt'] - now:.1f} s left) and not yet serving queries: poll GetIndex until its "
                "textSearchConfigurations status is ACTIVE, then retry"
            )
