"""Exact search for every finite float32 input: no overflow, underflow or rounding may drop or misorder
a true neighbour. The ground truth is exact rational arithmetic (fractions), independent of numpy."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from s3vl_local.s3vectors.storage import VectorStore

F32_MAX = float(np.finfo(np.float32).max)
# Magnitudes where float32 arithmetic breaks: subnormals, squares that underflow or overflow.
EXTREMES = [0.0, 1e-45, 1e-40, 1e-38, 1e-20, 1e-19, 0.5, 1.0, 3.0, 1e19, 1e20, 1e30, 1e38, 3e38, F32_MAX]


def _exact_order(metric: str, vector: list[float], query: list[float]) -> Fraction:
    """A value that orders rows exactly as their true distance to the query does."""
    v = [Fraction(x) for x in vector]
    q = [Fraction(x) for x in query]
    if metric == "euclidean":
        return sum(((a - b) ** 2 for a, b in zip(v, q, strict=True)), Fraction(0))
    dot = sum((a * b for a, b in zip(v, q, strict=True)), Fraction(0))
    # 1 - dot / (|v| |q|) ascends as dot / |v| descends; squared with its sign, it stays rational.
    return -dot * abs(dot) / sum((a * a for a in v), Fraction(0))


def _true_distance(metric: str, vector: list[float], query: list[float]) -> float:
    """The true distance to 40 significant digits."""
    v = [Fraction(x) for x in vector]
    q = [Fraction(x) for x in query]
    with localcontext() as ctx:
        ctx.prec = 40

        def dec(f: Fraction) -> Decimal:
            return Decimal(f.numerator) / Decimal(f.denominator)

        if metric == "euclidean":
            return float(dec(sum(((a - b) ** 2 for a, b in zip(v, q, strict=True)), Fraction(0))).sqrt())
        dot = dec(sum((a * b for a, b in zip(v, q, strict=True)), Fraction(0)))
        norms = (
            dec(sum((a * a for a in v), Fraction(0))).sqrt()
            * dec(sum((b * b for b in q), Fraction(0))).sqrt()
        )
        return float(1 - dot / norms)


def _expected(
    metric: str, keys: list[str], vectors: list[list[float]], query: list[float], k: int
) -> list[tuple[str, float]]:
    order = sorted(
        zip((_exact_order(metric, v, query) for v in vectors), keys, vectors, strict=True),
        key=lambda item: (item[0], item[1]),
    )
    return [(key, _true_distance(metric, v, query)) for _, key, v in order[:k]]


def _assert_reported(got: float, true: float) -> None:
    """The service's distance member is a Float: the true value rounded to float32."""
    assert float(np.float32(got)) == got, f"{got!r} is not a float32 value"
    expected32 = min(true, F32_MAX)
    assert got == pytest.approx(expected32, rel=2**-22, abs=1e-12), (got, true)


element = st.one_of(
    st.sampled_from(EXTREMES).flatmap(lambda m: st.sampled_from([m, -m])).map(lambda x: float(np.float32(x))),
    st.floats(width=32, allow_nan=False, allow_infinity=False),
)


@st.composite
def index_and_query(draw: Any) -> tuple[str, int, list[list[float]], list[float], int, list[bool] | None]:
    metric = draw(st.sampled_from(["cosine", "euclidean"]))
    dim = draw(st.integers(1, 5))
    vector = st.lists(element, min_size=dim, max_size=dim)
    vectors = draw(st.lists(vector, min_size=1, max_size=12))
    # Exact copies and power-of-two multiples: true ties, which only the key may break.
    for _ in range(draw(st.integers(0, 3))):
        source = draw(st.sampled_from(vectors))
        scale = draw(st.sampled_from([1.0, 2.0**-60, 2.0**40]))
        with np.errstate(over="ignore"):
            copy = [float(np.float32(x * scale)) for x in source]
        if all(np.isfinite(copy)):
            vectors.append(copy)
    query = draw(st.one_of(vector, st.sampled_from(vectors)))
    if metric == "cosine":
        vectors = [v for v in vectors if any(v)]
        if not vectors or not any(query):
            metric = "euclidean"
            vectors = draw(st.lists(vector, min_size=1, max_size=12))
    k = draw(st.integers(1, len(vectors) + 1))
    mask = draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=len(vectors), max_size=len(vectors))))
    return metric, dim, vectors, query, k, mask


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index_and_query())
def test_search_returns_the_true_top_k_for_any_float32_input(
    case: tuple[str, int, list[list[float]], list[float], int, list[bool] | None],
) -> None:
    metric, dim, vectors, query, k, mask = case
    store = VectorStore(dim, metric, frozenset())
    keys = [f"v{i:02d}" for i in range(len(vectors))]
    store.put(keys, np.array(vectors, dtype=np.float32), [None] * len(keys))
    passing = [i for i in range(len(keys)) if mask is None or mask[i]]
    expected = _expected(metric, [keys[i] for i in passing], [vectors[i] for i in passing], query, k)
    got = store.search(
        np.array(query, dtype=np.float64), k, None if mask is None else np.array(mask, dtype=bool)
    )
    assert [key for _, key in got] == [key for key, _ in expected]
    for (distance, _), (_, true) in zip(got, expected, strict=True):
        _assert_reported(distance, true)


def _query(client: Any, sel: dict[str, str], vector: list[float], k: int) -> list[dict[str, Any]]:
    return list(
        client.query_vectors(**sel, topK=k, queryVector={"float32": vector}, returnDistance=True)["vectors"]
    )


def test_euclidean_rows_of_huge_magnitude_are_all_found(
    client: Any, new_index: Callable[..., dict[str, str]]
) -> None:
    sel = new_index(dimension=2, metric="euclidean")
    rows = [[float(np.float32(i * 1e19)), 0.0] for i in range(40)]  # as the service stores them
    client.put_vectors(
        **sel, vectors=[{"key": f"k{i:02d}", "data": {"float32": r}} for i, r in enumerate(rows)]
    )
    for target in (0, 7, 39):
        query = rows[target]
        got = _query(client, sel, query, 5)
        expected = _expected("euclidean", [f"k{i:02d}" for i in range(40)], rows, query, 5)
        assert [v["key"] for v in got] == [key for key, _ in expected]
        for v, (_, true) in zip(got, expected, strict=True):
            _assert_reported(v["distance"], true)


def test_a_subnormal_vector_is_found_by_itself(client: Any, new_index: Callable[..., dict[str, str]]) -> None:
    sel = new_index(dimension=5, metric="cosine")
    tiny = [1e-40, 0.0, 0.0, 0.0, 0.0]
    others = [[1.0, 1.0, 0.0, 0.0, 0.0], [0.0, 1e-40, 0.0, 0.0, 0.0], [2e-45, 1e-45, 0.0, 0.0, 0.0]]
    client.put_vectors(
        **sel,
        vectors=[{"key": "tiny", "data": {"float32": tiny}}]
        + [{"key": f"other{i}", "data": {"float32": v}} for i, v in enumerate(others)],
    )
    got = _query(client, sel, tiny, 1)
    assert [(v["key"], v["distance"]) for v in got] == [("tiny", 0.0)]


def test_cosine_near_float32_max_finds_every_distance_zero_vector(
    client: Any, new_index: Callable[..., dict[str, str]]
) -> None:
    sel = new_index(dimension=2, metric="cosine")
    same_direction = {
        "big": [3e38, 3e38],
        "one": [1.0, 1.0],
        "tiny": [1e-40, 1e-40],
        "max": [F32_MAX, F32_MAX],
    }
    others = {f"other{i}": [1.0, 1.0 + i / 100] for i in range(1, 30)}
    vectors = {**same_direction, **others}
    client.put_vectors(**sel, vectors=[{"key": k, "data": {"float32": v}} for k, v in vectors.items()])
    got = _query(client, sel, [3e38, 3e38], 6)
    # All four are at distance 0, so the key breaks the tie; then the nearest others.
    assert [(v["key"], v["distance"]) for v in got[:4]] == [(k, 0.0) for k in sorted(same_direction)]
    assert [v["key"] for v in got[4:]] == ["other1", "other2"]


def test_euclidean_distance_beyond_float32_saturates(
    client: Any, new_index: Callable[..., dict[str, str]]
) -> None:
    sel = new_index(dimension=2, metric="euclidean")
    client.put_vectors(
        **sel,
        vectors=[
            {"key": "far", "data": {"float32": [-F32_MAX, -F32_MAX]}},
            {"key": "near", "data": {"float32": [F32_MAX, 3e38]}},
        ],
    )
    got = _query(client, sel, [F32_MAX, F32_MAX], 2)
    assert [v["key"] for v in got] == ["near", "far"]
    assert got[1]["distance"] == F32_MAX  # the true distance, 9.6e38, is beyond float32
    _assert_reported(got[0]["distance"], _true_distance("euclidean", [F32_MAX, 3e38], [F32_MAX, F32_MAX]))
