#!/usr/bin/env python3
"""S3 Vectors emulator: restart time after a long write history, with and without log compaction.

The same history is written to three data directories through Catalog.put_vectors (the write path of
PutVectors minus HTTP: log, apply, fsync): batches of 500 writes cycling over 10k keys (64 dims, one
small metadata key). Restart = Catalog(data_dir) until it serves, median of 3.
Figures (all measured in this run), each against the restart of a freshly loaded store of the same
10k keys (every key written once):
- restart after the history with compaction at its default threshold (target <= 3: bounded by the
  data, not by the history);
- restart after the same history with compaction off (the whole log replayed);
- the data directory's size after the history, compacted.
Default: 200k writes; `--quick` 50k; `--writes 1000000` for the 1M figure.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "source" / "local"))

from s3vl_local.s3vectors.catalog import DEFAULT_COMPACT_MIN_BYTES, Catalog

DIM = 64
KEYS = 10_000
BATCH = 500


def _write(directory: Path, writes: int, compact_min_bytes: int | None) -> None:
    catalog = Catalog(directory, compact_min_bytes=compact_min_bytes)
    try:
        catalog.create_bucket("bench", None, None)
        catalog.create_index("bench", "bench", DIM, "cosine", {}, None, None)
        index = catalog.index("bench", "bench")
        rng = np.random.default_rng(4)
        pool = [rng.standard_normal((BATCH, DIM), dtype=np.float32) for _ in range(16)]
        for batch, start in enumerate(range(0, writes, BATCH)):
            count = min(BATCH, writes - start)
            keys = [f"doc-{(start + i) % KEYS}" for i in range(count)]
            metadata: list[dict[str, Any] | None] = [{"w": start + i} for i in range(count)]
            catalog.put_vectors(index, keys, pool[batch % len(pool)][:count], metadata)
    finally:
        catalog.close()


def _restart(directory: Path, compact_min_bytes: int | None) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        catalog = Catalog(directory, compact_min_bytes=compact_min_bytes)
        times.append(time.perf_counter() - start)
        assert catalog.index("bench", "bench").store.n == KEYS
        catalog.close()
    return statistics.median(times)


def _size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.iterdir())


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50k writes")
    parser.add_argument("--writes", type=int, default=None, help="writes in the history (default 200000)")
    args = parser.parse_args(argv)
    writes = args.writes or (50_000 if args.quick else 200_000)
    with tempfile.TemporaryDirectory(prefix="bench-restart-") as tmp:
        fresh, compacted, uncompacted = Path(tmp, "fresh"), Path(tmp, "compacted"), Path(tmp, "uncompacted")
        _write(fresh, KEYS, DEFAULT_COMPACT_MIN_BYTES)
        _write(compacted, writes, DEFAULT_COMPACT_MIN_BYTES)
        _write(uncompacted, writes, None)
        baseline = _restart(fresh, DEFAULT_COMPACT_MIN_BYTES)
        with_compaction = _restart(compacted, DEFAULT_COMPACT_MIN_BYTES)
        without = _restart(uncompacted, None)
        sizes = _size(compacted), _size(fresh)
    what = f"{writes // 1000}k writes to {KEYS // 1000}k keys x {DIM}"
    return [
        {
            "name": f"emulator restart after {what}, compacted (vs fresh 10k store)",
            "value": with_compaction * 1000,
            "baseline": baseline * 1000,
            "ratio": with_compaction / baseline,
            "target": 3.0,
            "unit": "ms",
        },
        {
            "name": f"emulator restart after {what}, compaction off (vs fresh 10k store)",
            "value": without * 1000,
            "baseline": baseline * 1000,
            "ratio": without / baseline,
            "target": None,
            "unit": "ms",
        },
        {
            "name": f"emulator data directory after {what}, compacted (vs fresh 10k store)",
            "value": sizes[0] / 2**20,
            "baseline": sizes[1] / 2**20,
            "ratio": sizes[0] / sizes[1],
            "target": None,
            "unit": "MiB",
        },
    ]


if __name__ == "__main__":
    for row in main(sys.argv[1:]):
        target = f" (target <= {row['target']})" if row["target"] else ""
        print(
            f"{row['name']}: {row['value']:.4g} {row['unit']}, baseline {row['baseline']:.4g}, "
            f"ratio {row['ratio']:.3g}{target}"
        )
