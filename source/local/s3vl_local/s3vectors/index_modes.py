"""How a filtered QueryVectors behaves in each index mode (see docs/s3vectors-emulator.md, "Index modes").

ENHANCED filters first, then ranks the vectors that pass: the exact top-k of the filtered set.
CLASSIC, as the service documents it, applies the filter to the candidates an approximate search
visited, so a selective filter can leave fewer than topK. The model: the search visits a pool of the
`pool` nearest vectors (at least topK); each pool member is reached with probability `recall`, drawn
from a generator seeded by `seed` and the query, so the same query always gets the same answer (and
its nextToken pages agree); the filter then keeps the pool members that pass. Unfiltered queries stay
exact in both modes: only the filter's loss of recall is modelled.

Environment (read on each query, so a test can change it): S3VL_EMULATOR_CLASSIC_MODEL=off makes
CLASSIC exact like ENHANCED; S3VL_EMULATOR_CLASSIC_POOL (default 1000), S3VL_EMULATOR_CLASSIC_RECALL
(default 0.9) and S3VL_EMULATOR_CLASSIC_SEED (default 0) set the model.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np

from .storage import VectorStore

POOL_DEFAULT = 1000
RECALL_DEFAULT = 0.9
SEED_DEFAULT = 0


@dataclass(frozen=True)
class ClassicModel:
    pool: int
    recall: float
    seed: int


def classic_model() -> ClassicModel | None:
    """The CLASSIC model from the environment, or None when it is turned off."""
    if os.environ.get("S3VL_EMULATOR_CLASSIC_MODEL", "on").lower() in ("off", "0", "false", "no"):
        return None
    return ClassicModel(
        pool=max(1, int(os.environ.get("S3VL_EMULATOR_CLASSIC_POOL", POOL_DEFAULT))),
        recall=min(1.0, max(0.0, float(os.environ.get("S3VL_EMULATOR_CLASSIC_RECALL", RECALL_DEFAULT)))),
        seed=int(os.environ.get("S3VL_EMULATOR_CLASSIC_SEED", SEED_DEFAULT)),
    )


def filtered_search(
    store: VectorStore, query: np.ndarray, top_k: int, mask: np.ndarray, mode: str, fingerprint: str
) -> list[tuple[float, str]]:
    """The ranking a filtered query returns in `mode` (callers hold the index's lock)."""
    model = classic_model() if mode == "CLASSIC" else None
    if model is None:
        return store.search(query, top_k, mask)
    pool = store.search(query, min(max(top_k, model.pool), store.n), None)
    draw = random.Random(f"{model.seed}:{fingerprint}")
    kept = []
    for distance, key in pool:
        # One draw per pool member, passing or not, so the filter does not change who is reached.
        reached = draw.random() < model.recall
        if reached and mask[store.rows[key]]:
            kept.append((distance, key))
            if len(kept) == top_k:
                break
    return kept
