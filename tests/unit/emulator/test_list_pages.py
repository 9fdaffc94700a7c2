"""ListVectors pages end at maxResults or once the processed data passes 1 MB (botocore's model doc for
maxResults), with a nextToken: a client that ignores nextToken misses vectors locally as on AWS."""

from __future__ import annotations

from typing import Any

import pytest
from support.s3vectors import create_bucket_and_index

MB = 1024 * 1024
DIM = 4096


def _all(client: Any, sel: dict[str, str], **params: Any) -> list[list[dict[str, Any]]]:
    pages, token = [], None
    while True:
        extra = {"nextToken": token} if token else {}
        page = client.list_vectors(**sel, **params, **extra)
        pages.append(page["vectors"])
        token = page.get("nextToken")
        if not token:
            return pages


def _page_length(item_bytes: int) -> int:
    """Vectors in a full page: the page ends with the vector that takes it past 1 MB."""
    return MB // item_bytes + 1


@pytest.fixture(scope="module")
def wide(client: Any) -> dict[str, str]:
    """200 vectors of 4096 dimensions (16 KiB of float32 each), keys k000..k199, 40 KB of metadata."""
    sel = create_bucket_and_index(
        client,
        "list-pages",
        "wide",
        DIM,
        "euclidean",
        metadataConfiguration={"nonFilterableMetadataKeys": ["note"]},
    )
    for start in range(0, 200, 50):
        client.put_vectors(
            **sel,
            vectors=[
                {"key": f"k{i:03d}", "data": {"float32": [0.5] * DIM}, "metadata": {"note": "x" * 40_000}}
                for i in range(start, start + 50)
            ],
        )
    return sel


def test_data_pages_end_after_one_megabyte(client: Any, wide: dict[str, str]) -> None:
    pages = _all(client, wide, maxResults=1000, returnData=True)
    full = _page_length(4 + 4 * DIM)  # a 4-byte key and 16 KiB of float32
    assert full == 64
    assert [len(p) for p in pages] == [full, full, full, 200 - 3 * full]
    keys = [v["key"] for p in pages for v in p]
    assert keys == [f"k{i:03d}" for i in range(200)]
    assert all(v["data"]["float32"] == [0.5] * DIM for v in pages[0])


def test_metadata_counts_toward_the_megabyte(client: Any, wide: dict[str, str]) -> None:
    pages = _all(client, wide, maxResults=500, returnMetadata=True)
    metadata_bytes = len('{"note":""}') + 40_000
    full = _page_length(4 + metadata_bytes)
    assert full == 27
    assert [len(p) for p in pages] == [full] * (200 // full) + [200 % full]
    assert pages[0][0]["metadata"] == {"note": "x" * 40_000}


def test_keys_only_pages_end_at_max_results(client: Any, wide: dict[str, str]) -> None:
    """A guard: without data or metadata, 1000 short keys stay far below 1 MB."""
    assert [len(p) for p in _all(client, wide, maxResults=1000)] == [200]
    assert [len(p) for p in _all(client, wide, maxResults=70)] == [70, 70, 60]


def test_segments_end_after_one_megabyte_too(client: Any, wide: dict[str, str]) -> None:
    seen: list[str] = []
    for segment in range(2):
        pages = _all(client, wide, maxResults=1000, returnData=True, segmentCount=2, segmentIndex=segment)
        assert max(len(p) for p in pages) == _page_length(4 + 4 * DIM)
        seen += [v["key"] for p in pages for v in p]
    assert sorted(seen) == [f"k{i:03d}" for i in range(200)]


def test_a_client_ignoring_next_token_misses_vectors(client: Any, wide: dict[str, str]) -> None:
    first = client.list_vectors(**wide, returnData=True)  # default maxResults 500
    assert len(first["vectors"]) < 200 and first["nextToken"]
