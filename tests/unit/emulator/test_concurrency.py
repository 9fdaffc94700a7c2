"""Concurrent writers and readers on one index never lose or corrupt a vector."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .conftest import make_client


def test_concurrent_writers_and_readers(emulator: Any, new_index: Callable[..., dict[str, str]]) -> None:
    sel = new_index(dimension=4, metric="euclidean")
    errors: list[BaseException] = []
    writers, batches, size = 4, 10, 50

    def write(w: int) -> None:
        c = make_client(emulator.url)
        try:
            for b in range(batches):
                vectors = [
                    {"key": f"w{w}-{b}-{i}", "data": {"float32": [w, b, i, 1.0]}, "metadata": {"w": w}}
                    for i in range(size)
                ]
                c.put_vectors(**sel, vectors=vectors)
                c.delete_vectors(**sel, keys=[f"w{w}-{b}-0"])
        except BaseException as e:  # surfaced by the assertion below
            errors.append(e)

    def read() -> None:
        c = make_client(emulator.url)
        try:
            for _ in range(30):
                c.query_vectors(**sel, topK=5, queryVector={"float32": [1.0, 1.0, 1.0, 1.0]}, filter={"w": 1})
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    c = make_client(emulator.url)
    listed, token = [], None
    while True:
        page = c.list_vectors(
            **sel, maxResults=1000, returnData=True, **({"nextToken": token} if token else {})
        )
        listed += page["vectors"]
        token = page.get("nextToken")
        if not token:
            break
    expected = {f"w{w}-{b}-{i}" for w in range(writers) for b in range(batches) for i in range(1, size)}
    assert {v["key"] for v in listed} == expected
    for v in listed:
        w, b, i = (int(x) for x in v["key"][1:].split("-"))
        assert v["data"]["float32"] == [w, b, i, 1.0]


def test_list_segments_partition_the_keys(client: Any, new_index: Callable[..., dict[str, str]]) -> None:
    sel = new_index(dimension=2)
    client.put_vectors(**sel, vectors=[{"key": f"k{i}", "data": {"float32": [1.0, i]}} for i in range(300)])
    seen: list[str] = []
    for segment in range(4):
        token = None
        while True:
            extra = {"nextToken": token} if token else {}
            page = client.list_vectors(**sel, segmentCount=4, segmentIndex=segment, maxResults=17, **extra)
            seen += [v["key"] for v in page["vectors"]]
            token = page.get("nextToken")
            if not token:
                break
    assert sorted(seen) == sorted(f"k{i}" for i in range(300))  # disjoint and complete
