"""Index modes in the emulator (index_modes.py): ENHANCED filters first; CLASSIC filters a seeded
approximate candidate pool, so a selective filter returns fewer than topK; the model can be turned off;
UpdateIndexMode and the bucket's default mode decide which applies."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

N, DIM = 5_000, 8
SELECTIVE = {"sel": True}  # 5 of 5,000 vectors: 0.1 %

_buckets = itertools.count()


def _load(client: Any, selector: dict[str, str]) -> np.ndarray:
    data = np.random.default_rng(8).standard_normal((N, DIM)).astype(np.float32)
    for start in range(0, N, 500):
        client.put_vectors(
            **selector,
            vectors=[
                {
                    "key": f"k{i:04d}",
                    "data": {"float32": data[i].tolist()},
                    "metadata": {"sel": i % 1000 == 3},
                }
                for i in range(start, start + 500)
            ],
        )
    return data


def _query(client: Any, selector: dict[str, str], top_k: int = 10) -> list[str]:
    query = np.random.default_rng(9).standard_normal(DIM).astype(np.float32)
    answer = client.query_vectors(
        **selector, topK=top_k, queryVector={"float32": query.tolist()}, filter=SELECTIVE
    )
    return [v["key"] for v in answer["vectors"]]


def test_enhanced_filters_first_and_classic_returns_fewer(client: Any, new_index: Any) -> None:
    selector = new_index(dimension=DIM)
    _load(client, selector)
    assert client.get_index(**selector)["index"]["indexMode"] == "ENHANCED"
    full = _query(client, selector)
    assert len(full) == 5  # every matching vector, exactly ranked

    client.update_index_mode(**selector, indexMode="CLASSIC")
    assert client.get_index(**selector)["index"]["indexMode"] == "CLASSIC"
    short = _query(client, selector)
    # The pool of the 1,000 nearest holds about one matching vector in 1,000.
    assert len(short) < len(full)
    assert set(short) <= set(full)
    assert _query(client, selector) == short  # seeded: the same query, the same answer
    # A wider topK widens the pool: all five again (each pool member reached with probability 0.9 by default).
    assert len(_query(client, selector, top_k=5_000)) >= len(short)


def test_classic_model_is_seeded_and_can_be_turned_off(
    client: Any, new_index: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    selector = new_index(dimension=DIM)
    _load(client, selector)
    client.update_index_mode(**selector, indexMode="CLASSIC")
    monkeypatch.setenv("S3VL_EMULATOR_CLASSIC_POOL", "5000")
    answers = set()
    for seed in range(6):
        monkeypatch.setenv("S3VL_EMULATOR_CLASSIC_SEED", str(seed))
        answers.add(tuple(_query(client, selector)))
    assert len(answers) > 1  # the seed decides which pool members the search reaches
    monkeypatch.setenv("S3VL_EMULATOR_CLASSIC_MODEL", "off")
    assert len(_query(client, selector)) == 5


def test_bucket_default_mode_applies_to_new_indexes(client: Any) -> None:
    bucket = f"modes-{next(_buckets)}"
    client.create_vector_bucket(vectorBucketName=bucket)
    client.put_vector_bucket_default_index_mode(vectorBucketName=bucket, defaultIndexMode="CLASSIC")
    assert client.get_vector_bucket(vectorBucketName=bucket)["vectorBucket"]["defaultIndexMode"] == "CLASSIC"
    client.create_index(
        vectorBucketName=bucket,
        indexName="classic",
        dataType="float32",
        dimension=DIM,
        distanceMetric="cosine",
    )
    selector = {"vectorBucketName": bucket, "indexName": "classic"}
    assert client.get_index(**selector)["index"]["indexMode"] == "CLASSIC"
    _load(client, selector)
    assert len(_query(client, selector)) < 5
