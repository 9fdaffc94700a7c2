"""QueryVectors against a numpy brute-force reference, with random filters, ties and pagination."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from .paging import all_pages

# "Top-K results per QueryVectors request: up to 100" (service limits page).
SERVICE_PAGE_SIZE = 100

CATEGORIES = ["red", "green", "blue", "gold", "golden"]
TAGS = ["a", "b", "c", "d"]


def _metadata(rng: random.Random) -> dict[str, Any]:
    md: dict[str, Any] = {}
    if rng.random() < 0.9:
        md["cat"] = rng.choice(CATEGORIES)
    if rng.random() < 0.8:
        md["n"] = rng.randrange(10)
    if rng.random() < 0.7:
        md["x"] = round(rng.uniform(-5, 5), 3)
    if rng.random() < 0.5:
        md["flag"] = rng.random() < 0.5
    if rng.random() < 0.6:
        md["tags"] = rng.sample(TAGS, rng.randrange(1, 4))
    return md


def _condition(rng: random.Random) -> dict[str, Any]:
    field = rng.choice(["cat", "n", "x", "flag", "tags", "absent"])
    operand: Any = {
        "cat": lambda: rng.choice(CATEGORIES),
        "n": lambda: rng.randrange(10),
        "x": lambda: round(rng.uniform(-5, 5), 1),
        "flag": lambda: rng.random() < 0.5,
        "tags": lambda: rng.choice(TAGS),
        "absent": lambda: 1,
    }[field]
    kind = rng.choice(["implicit", "$eq", "$ne", "$in", "$nin", "$exists", "range", "$startsWith"])
    if kind == "implicit":
        return {field: operand()}
    if kind in ("$in", "$nin"):
        return {field: {kind: [operand() for _ in range(rng.randrange(1, 3))]}}
    if kind == "$exists":
        return {field: {"$exists": rng.random() < 0.5}}
    if kind == "range":
        ops = rng.sample(["$gt", "$gte", "$lt", "$lte"], rng.randrange(1, 3))
        return {field: {op: round(rng.uniform(-5, 9), 1) for op in ops}}
    if kind == "$startsWith":
        return {field: {"$startsWith": rng.choice(["g", "gold", "r", "a", "z"])}}
    return {field: {kind: operand()}}


def _filter(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    roll = rng.random()
    if depth < 2 and roll < 0.3:
        op = rng.choice(["$and", "$or"])
        return {op: [_filter(rng, depth + 1) for _ in range(rng.randrange(1, 4))]}
    if roll < 0.45:
        merged: dict[str, Any] = {}
        for _ in range(2):
            merged.update(_condition(rng))
        return merged
    return _condition(rng)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    return a == b


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _matches(flt: dict[str, Any], md: dict[str, Any]) -> bool:
    """Reference semantics, one vector at a time (independent of the emulator's columnar engine)."""
    for name, value in flt.items():
        if name == "$and":
            ok = all(_matches(f, md) for f in value)
        elif name == "$or":
            ok = any(_matches(f, md) for f in value)
        else:
            conditions = value if isinstance(value, dict) else {"$eq": value}
            present = name in md
            items = (md[name] if isinstance(md[name], list) else [md[name]]) if present else []
            ok = True
            for op, operand in conditions.items():
                if op == "$eq":
                    ok &= any(_same(v, operand) for v in items)
                elif op == "$ne":
                    ok &= not any(_same(v, operand) for v in items)
                elif op == "$in":
                    ok &= any(_same(v, o) for v in items for o in operand)
                elif op == "$nin":
                    ok &= not any(_same(v, o) for v in items for o in operand)
                elif op == "$exists":
                    ok &= present == operand
                elif op == "$startsWith":
                    ok &= any(isinstance(v, str) and v.startswith(operand) for v in items)
                else:
                    compare = {
                        "$gt": float.__gt__,
                        "$gte": float.__ge__,
                        "$lt": float.__lt__,
                        "$lte": float.__le__,
                    }
                    ok &= any(_is_num(v) and compare[op](float(v), float(operand)) for v in items)
        if not ok:
            return False
    return True


def _reference(
    metric: str, keys: list[str], data: np.ndarray, query: np.ndarray, top_k: int, passing: list[bool]
) -> list[tuple[str, float]]:
    v = data.astype(np.float64)
    q = query.astype(np.float64)
    if metric == "cosine":
        dist = 1.0 - (v @ q) / (np.linalg.norm(v, axis=1) * np.linalg.norm(q))
    else:
        dist = np.linalg.norm(v - q, axis=1)
    ranked = sorted((float(d), k) for d, k, p in zip(dist, keys, passing, strict=True) if p)
    return [(k, d) for d, k in ranked[:top_k]]


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_random_queries_match_brute_force(
    client: Any, new_index: Callable[..., dict[str, str]], metric: str
) -> None:
    rng = random.Random(20261125)
    nprng = np.random.default_rng(7)
    dim, count = 8, 1500
    sel = new_index(dimension=dim, metric=metric)
    data = nprng.normal(size=(count, dim)).astype(np.float32)
    # Exact duplicates (and, for cosine, scaled copies) create ties that must resolve by key.
    data[100:120] = data[0]
    data[120:130] = data[1] * (2.0 if metric == "cosine" else 1.0)
    keys = [f"key-{rng.randrange(10**6):06d}-{i}" for i in range(count)]
    metadata = [_metadata(rng) for _ in range(count)]
    for start in range(0, count, 500):
        client.put_vectors(
            **sel,
            vectors=[
                {"key": keys[i], "data": {"float32": data[i].tolist()}, "metadata": metadata[i]}
                for i in range(start, min(start + 500, count))
            ],
        )
    for trial in range(60):
        flt = _filter(rng) if trial % 4 else None
        query = data[0] if trial % 10 == 0 else nprng.normal(size=dim).astype(np.float32)
        top_k = rng.choice([1, 5, 10, 37, 200])
        passing = [_matches(flt, md) if flt is not None else True for md in metadata]
        expected = _reference(metric, keys, data, query, top_k, passing)
        params: dict[str, Any] = {
            "topK": top_k,
            "queryVector": {"float32": query.tolist()},
            "returnDistance": True,
        }
        if flt is not None:
            params["filter"] = flt
        assert client.query_vectors(**sel, **params)["distanceMetric"] == metric
        got = all_pages(client, sel, **params)
        assert [v["key"] for v in got] == [k for k, _ in expected], flt
        assert np.allclose([v["distance"] for v in got], [d for _, d in expected], atol=1e-5, rtol=0)


def test_ties_resolve_by_key_ascending(client: Any, new_index: Callable[..., dict[str, str]]) -> None:
    sel = new_index(dimension=2, metric="euclidean")
    names = ["zeta", "alpha", "Mid", "beta"]
    client.put_vectors(**sel, vectors=[{"key": k, "data": {"float32": [1.0, 1.0]}} for k in names])
    got = client.query_vectors(**sel, topK=3, queryVector={"float32": [0.0, 0.0]}, returnDistance=True)[
        "vectors"
    ]
    assert [v["key"] for v in got] == ["Mid", "alpha", "beta"]  # code-point order: uppercase first
    assert all(abs(v["distance"] - 2**0.5) < 1e-6 for v in got)  # euclidean is not squared


def test_filter_runs_before_ranking(client: Any, new_index: Callable[..., dict[str, str]]) -> None:
    sel = new_index(dimension=2, metric="cosine")
    near = [
        {"key": f"near{i}", "data": {"float32": [1.0, i / 1000]}, "metadata": {"g": "near"}}
        for i in range(300)
    ]
    far = [
        {"key": f"far{i}", "data": {"float32": [-1.0, i / 1000]}, "metadata": {"g": "far"}} for i in range(5)
    ]
    client.put_vectors(**sel, vectors=near + far)
    got = client.query_vectors(**sel, topK=5, queryVector={"float32": [1.0, 0.0]}, filter={"g": "far"})[
        "vectors"
    ]
    assert sorted(v["key"] for v in got) == [f"far{i}" for i in range(5)]


def test_top_k_pages_cover_the_ranking(client: Any, new_index: Callable[..., dict[str, str]]) -> None:
    """Pages hold the service's 100 results, so topK 2300 costs 23 round trips, as on AWS."""
    sel = new_index(dimension=3, metric="euclidean")
    rng = np.random.default_rng(3)
    data = rng.normal(size=(2600, 3)).astype(np.float32)
    for start in range(0, 2600, 500):
        batch = range(start, min(start + 500, 2600))
        client.put_vectors(
            **sel, vectors=[{"key": f"v{i}", "data": {"float32": data[i].tolist()}} for i in batch]
        )
    query = {"float32": [0.1, 0.2, 0.3]}
    sizes, keys, token = [], [], None
    while True:
        extra = {"nextToken": token} if token else {}
        page = client.query_vectors(**sel, topK=2300, queryVector=query, **extra)
        sizes.append(len(page["vectors"]))
        keys += [v["key"] for v in page["vectors"]]
        token = page.get("nextToken")
        if not token:
            break
    expected = _reference(
        "euclidean", [f"v{i}" for i in range(2600)], data, np.array([0.1, 0.2, 0.3]), 2300, [True] * 2600
    )
    assert sizes == [SERVICE_PAGE_SIZE] * (2300 // SERVICE_PAGE_SIZE)
    assert keys == [k for k, _ in expected]


def test_deletes_and_overwrites_are_reflected(client: Any, new_index: Callable[..., dict[str, str]]) -> None:
    sel = new_index(dimension=2, metric="euclidean")
    client.put_vectors(
        **sel,
        vectors=[
            {"key": f"k{i}", "data": {"float32": [float(i), 0.0]}, "metadata": {"i": i}} for i in range(50)
        ],
    )
    client.delete_vectors(**sel, keys=[f"k{i}" for i in range(0, 50, 2)] + ["never-existed"])
    client.put_vectors(
        **sel, vectors=[{"key": "k1", "data": {"float32": [100.0, 0.0]}, "metadata": {"i": -1}}]
    )
    got = client.query_vectors(
        **sel, topK=3, queryVector={"float32": [0.0, 0.0]}, returnMetadata=True, filter={"i": {"$gte": 0}}
    )["vectors"]
    assert [(v["key"], v["metadata"]) for v in got] == [("k3", {"i": 3}), ("k5", {"i": 5}), ("k7", {"i": 7})]
    listed = client.list_vectors(**sel, maxResults=1000)["vectors"]
    assert sorted(v["key"] for v in listed) == sorted(f"k{i}" for i in range(1, 50, 2))
