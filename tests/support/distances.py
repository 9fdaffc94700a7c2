"""Distances as S3 Vectors defines them, computed by numpy: the reference that rank_vectors is checked
against, in the handler's unit tests and through SQL."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def s3vectors_distances(vectors: np.ndarray, query: Sequence[float] | np.ndarray, metric: str) -> np.ndarray:
    """The float64 distance of each float32 row of `vectors` to `query` rounded to float32: cosine is
    1 - cos, euclidean the L2 norm (not squared)."""
    v = vectors.astype(np.float64)
    q = np.asarray(query, dtype=np.float32).astype(np.float64)
    if metric == "cosine":
        return 1.0 - (v @ q) / (np.linalg.norm(v, axis=1) * np.linalg.norm(q))
    return np.linalg.norm(v - q, axis=1)
