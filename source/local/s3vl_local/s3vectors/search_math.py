"""Exact k-NN arithmetic that holds for every finite float32 vector, from 1e-45 to 3.4e38.

Three stages, each with a proven error bound, so extreme magnitudes can neither drop a true neighbour
nor misorder two:
1. score_bounds: one float32 matrix-vector product (the fast path) gives every row an interval that
   surely holds its true score. The query is scaled by a power of two (exact) so that nothing
   overflows, and the bound covers float32 rounding and underflow; rows too large for float32
   products (norm >= 2**126) get an infinite interval and are always re-scored.
2. exact_distances: the few rows whose interval can reach the k-th best are re-scored in float64,
   where no float32 input can overflow or underflow (squares stay within 1e-90..1e81).
3. rank: rows whose float64 distances are closer than float64's own error bound are ordered by the
   exact distance, computed with integers (every float32 is an integer multiple of 2**-149).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

_U32 = 2.0**-24  # unit roundoff of float32
_U64 = 2.0**-53  # unit roundoff of float64
_TINY = 2.0**-149  # smallest float32 subnormal: the absolute error of an underflowed product
_OVERFLOW_NORM = 2.0**126  # a row this long can overflow a float32 dot product with a unit query
_FLOAT64_SLACK = 2e-12  # float64 evaluation of the scores from the dot products (d <= 4096)
_F32_MAX = float(np.finfo(np.float32).max)
_SCALE = 2.0**149  # float32 value * _SCALE is an exact integer (held exactly by a float64)


def score_bounds(
    metric: str, matrix: np.ndarray, norms: np.ndarray, query: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) float64 bounds on each row's score: cosine distance, or squared euclidean distance.

    `matrix` is float32, `norms` the rows' float64 L2 norms, `query` float64 holding float32 values.
    """
    d = matrix.shape[1]
    # Worst-case relative error of a float32 dot product of length d, in any summation order.
    gamma = 1.01 * d * _U32 / (1.0 - d * _U32)
    q_norm = math.sqrt(float(query @ query))
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        if metric == "cosine":
            dots = (matrix @ (query / q_norm).astype(np.float32)).astype(np.float64)
            score = 1.0 - dots / norms
            # Rounding of the products and sums, of the unit query to float32, and underflow.
            error = (gamma + 2 * _U32 + _FLOAT64_SLACK) + (2 * d * _TINY) / norms
        else:
            exponent = math.frexp(q_norm)[1]  # the scaled query's norm is in [0.5, 1)
            dots = (matrix @ (query * math.ldexp(1.0, -exponent)).astype(np.float32)).astype(np.float64)
            squares = norms * norms
            q_square = q_norm * q_norm
            score = squares - math.ldexp(2.0, exponent) * dots + q_square
            # 2|v.q| <= |v|^2 + |q|^2 bounds the product error; underflow adds an absolute term.
            underflow = math.ldexp(2.02, exponent) * (d * _TINY + norms * math.sqrt(d) * _TINY)
            error = (gamma + 2 * _U32 + _FLOAT64_SLACK) * (squares + q_square) + underflow
        overflow = norms >= _OVERFLOW_NORM
        if overflow.any():
            score[overflow] = 0.0
            error[overflow] = np.inf
        return score - error, score + error


def exact_distances(metric: str, vectors: np.ndarray, norms: np.ndarray, query: np.ndarray) -> np.ndarray:
    """float64 distances (cosine: 1 - cos, range 0..2; euclidean: L2, not squared); `norms` are the
    rows' float64 L2 norms."""
    v = vectors.astype(np.float64)
    if metric == "cosine":
        # 1 - cos = |v/|v| - q/|q||^2 / 2: no cancellation near 0, where 1 - cos loses every digit.
        v /= norms[:, None]
        v -= query / np.linalg.norm(query)
    else:
        v -= query
    squares = np.einsum("ij,ij->i", v, v)
    return np.asarray(np.clip(squares / 2.0, 0.0, 2.0) if metric == "cosine" else np.sqrt(squares))


def _float64_error(metric: str, distances: np.ndarray, d: int) -> np.ndarray:
    """An upper bound on the error of exact_distances' values."""
    if metric == "cosine":
        return np.full(distances.shape, (4 * d + 16) * _U64)
    return distances * ((d + 6) * _U64)


def _exact(metric: str, vectors: np.ndarray, query: np.ndarray) -> list[tuple[int | Fraction, float]]:
    """Per row, a value ordered exactly as the true distance (integers, no rounding) and the distance
    from it rounded once or twice. Identical rows are computed once, so duplicates cost one row."""
    q = [int(x) for x in (query * _SCALE).tolist()]
    q_square = sum(b * b for b in q)
    found: dict[bytes, tuple[int | Fraction, float]] = {}
    result = []
    for row in vectors:
        raw = row.tobytes()
        item = found.get(raw)
        if item is None:
            v = [int(x) for x in (row.astype(np.float64) * _SCALE).tolist()]
            if metric == "cosine":
                dot = sum(a * b for a, b in zip(v, q, strict=True))
                v_square = sum(a * a for a in v)
                # cos^2 as an exact fraction; 1 - cos = (1 - cos^2) / (1 + cos) avoids cancellation.
                cos_square = Fraction(dot * dot, v_square * q_square)
                cos = math.sqrt(cos_square)
                distance = float(1 - cos_square) / (1.0 + cos) if dot > 0 else 1.0 + cos
                # Ascending distance is descending dot / |v| (|q| is common to every row).
                item = (Fraction(-dot * abs(dot), v_square), min(max(distance, 0.0), 2.0))
            else:
                square = sum((a - b) * (a - b) for a, b in zip(v, q, strict=True))
                item = (square, math.sqrt(square) / _SCALE)
            found[raw] = item
        result.append(item)
    return result


def rank(
    metric: str, vectors: np.ndarray, norms: np.ndarray, query: np.ndarray, keys: list[str], k: int
) -> list[tuple[float, str]]:
    """The k best of the given rows as (reported distance, key): true distance ascending, then key."""
    distances = exact_distances(metric, vectors, norms, query)
    error = _float64_error(metric, distances, vectors.shape[1])
    order = sorted(range(len(keys)), key=lambda i: (distances[i], keys[i]))
    ranked: list[int] = []
    values: list[float] = []
    start = 0
    while start < len(order) and len(ranked) < k:
        # A cluster: neighbours closer than their combined error bounds may be misordered by float64.
        stop = start + 1
        while stop < len(order):
            a, b = order[stop - 1], order[stop]
            if distances[b] - distances[a] > error[a] + error[b]:
                break
            stop += 1
        cluster = order[start:stop]
        if len(cluster) == 1:
            ranked += cluster
            values.append(float(distances[cluster[0]]))
        else:
            exact = _exact(metric, vectors[cluster], query)
            settled = sorted(zip(exact, (keys[i] for i in cluster), cluster, strict=True))
            ranked += [i for _, _, i in settled]
            values += [distance for (_, distance), _, _ in settled]
        start = stop
    reported_values = reported(np.maximum.accumulate(np.asarray(values[:k], dtype=np.float64)))
    return list(zip(reported_values.tolist(), (keys[i] for i in ranked[:k]), strict=True))


def reported(distances: np.ndarray) -> np.ndarray:
    """Distances as the service's `Float` (float32) member carries them, rounded to nearest.

    Only a euclidean distance between vectors near +-3.4e38 can exceed float32's range; it saturates
    at the largest float32 instead of becoming infinite (which JSON cannot carry)."""
    if distances.size == 0:
        return distances
    return np.minimum(distances, _F32_MAX).astype(np.float32).astype(np.float64)
