#!/usr/bin/env python3
"""Generate vector sets, larger or wider than the published sample, for `aws s3vectors put-vectors`.

sample-vectors.json, next to this script, is the published sample data: the walkthrough's queries
refer to its vectors, so this script never writes it. It writes generated-vectors.json here by
default, or the file given with --output.

Seeded and reproducible: the same options always write the same bytes. Vectors are unit length
(the sample index is cosine); metadata is {"category": ..., "id": "<n>"} as in the published data.
The last three vectors are identical, so a query with that vector returns similarity 1.0 for each
of them; with the default dimension of 5 they equal the walkthrough's identical vector.

A PutVectors request takes at most 500 vectors, so larger sets are split into numbered files
(name-001.json, name-002.json, ...), each loadable with one put-vectors call.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path

PUT_VECTORS_MAX_BATCH = 500
CATEGORIES = ("example", "demo", "sample", "test")
IDENTICAL_CATEGORY = "identical"
IDENTICAL_COUNT = 3
WALKTHROUGH_IDENTICAL_VECTOR = [-0.116703, 0.325043, 0.578032, 0.739321, -0.003246]
HERE = Path(__file__).resolve().parent
PUBLISHED = HERE / "sample-vectors.json"
DEFAULT_OUTPUT = HERE / "generated-vectors.json"


def unit_vector(rng: random.Random, dimension: int) -> list[float]:
    while True:
        raw = [rng.gauss(0.0, 1.0) for _ in range(dimension)]
        norm = math.sqrt(sum(x * x for x in raw))
        if norm > 1e-6:  # a zero vector is invalid on a cosine index
            return [round(x / norm, 6) for x in raw]


def build_vectors(count: int, dimension: int, seed: int) -> list[dict[str, object]]:
    if count < IDENTICAL_COUNT:
        raise ValueError(f"--count must be at least {IDENTICAL_COUNT}, got {count}")
    rng = random.Random(seed)
    identical = WALKTHROUGH_IDENTICAL_VECTOR if dimension == 5 else unit_vector(rng, dimension)
    width = max(3, len(str(count)))
    vectors = []
    for number in range(1, count + 1):
        is_identical = number > count - IDENTICAL_COUNT
        vectors.append(
            {
                "key": f"vec_{number:0{width}d}",
                "data": {"float32": list(identical) if is_identical else unit_vector(rng, dimension)},
                "metadata": {
                    "category": IDENTICAL_CATEGORY if is_identical else CATEGORIES[(number - 1) % 4],
                    "id": str(number),  # a string, as in the published data
                },
            }
        )
    return vectors


def write_files(vectors: list[dict[str, object]], output: Path) -> list[Path]:
    batches = [vectors[i : i + PUT_VECTORS_MAX_BATCH] for i in range(0, len(vectors), PUT_VECTORS_MAX_BATCH)]
    if len(batches) == 1:
        paths = [output]
    else:
        paths = [
            output.with_name(f"{output.stem}-{n:03d}{output.suffix}") for n in range(1, len(batches) + 1)
        ]
    for path, batch in zip(paths, batches, strict=True):
        # One vector per line: readable, and diffs show exactly which vectors changed.
        lines = ",\n".join("  " + json.dumps(vector) for vector in batch)
        path.write_text("[\n" + lines + "\n]\n", encoding="utf-8")
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50, help="number of vectors (default 50)")
    parser.add_argument("--dimension", type=int, default=5, help="dimension, 1..4096 (default 5)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="output file (default sample-data/generated-vectors.json); split into NAME-001.json... "
        "above 500 vectors; never the published sample-vectors.json",
    )
    args = parser.parse_args(argv)
    if args.output.resolve() == PUBLISHED:
        parser.error(
            f"--output {args.output} is the published sample data, which the walkthrough's queries "
            "refer to; write generated vectors to another file, e.g. --output generated-vectors.json"
        )
    if not 1 <= args.dimension <= 4096:
        parser.error(f"--dimension must be between 1 and 4096, got {args.dimension}")
    try:
        vectors = build_vectors(args.count, args.dimension, args.seed)
    except ValueError as exc:
        parser.error(str(exc))
    for path in write_files(vectors, args.output):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
