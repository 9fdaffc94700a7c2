"""queryTexts: BM25 full-text and hybrid (RRF) search against reference implementations written here.

The references follow docs/s3vectors-emulator.md ("Full-text and hybrid search"), not the emulator's
code: the default analyzer (no language: lowercase word tokens), Lucene BM25 (k1 1.2, b 0.75,
index-wide statistics), RRF k 60 over per-source rankings cut to topK, ties by key ascending. Language
analyzers are tested in test_text_analyzers.py, the BUILDING status in test_text_build_status.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError
from s3vl_local.s3vectors import text_status
from s3vl_local.s3vectors.model import service_model
from s3vl_local.s3vectors.operations.queries import QUERY_PAGE_SIZE
from support.s3vectors import create_bucket_and_index, create_float32_index

from .bm25 import reference_bm25
from .conftest import emulator_on
from .paging import all_pages
from .shapes import shape_problems

WORDS = [
    "vector", "search", "hybrid", "bm25", "Fusion", "rank", "query", "index", "bucket", "aurora",
    "lambda", "postgres", "café", "naïve", "Straße", "x42", "error_code", "sku", "token", "merge",
]  # fmt: skip
DIM = 8


def _tokens(value: Any) -> list[str]:
    texts = [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)]
    return [t for text in texts for t in re.findall(r"\w+", text.casefold())]


def _bm25(docs: dict[str, dict[str, Any]], field: str, text: str, allowed: set[str]) -> dict[str, float]:
    """Reference BM25 with the default analyzer (casefolded words)."""
    return reference_bm25(docs, field, _tokens, text, allowed)


def _ordered(scores: dict[str, float]) -> list[str]:
    return sorted(scores, key=lambda k: (-scores[k], k))


def _vector_ranking(vectors: dict[str, np.ndarray], query: np.ndarray, allowed: set[str]) -> list[str]:
    q = query.astype(np.float64)
    distance = {
        k: 1 - float(v.astype(np.float64) @ q) / (np.linalg.norm(v.astype(np.float64)) * np.linalg.norm(q))
        for k, v in vectors.items()
        if k in allowed
    }
    return sorted(distance, key=lambda k: (distance[k], k))


def _rrf(rankings: list[list[str]]) -> dict[str, float]:
    fused: dict[str, float] = {}
    for ranking in rankings:
        for position, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1 / (60 + position)
    return fused


def _random_text(rng: np.random.Generator) -> str:
    words = rng.choice(WORDS, size=int(rng.integers(1, 12)))
    return " ".join(str(w) for w in words) + rng.choice(["", ".", "!", ", ok"])


@pytest.fixture(scope="module")
def corpus(client: Any) -> dict[str, Any]:
    rng = np.random.default_rng(20260715)
    sel = create_bucket_and_index(
        client,
        "text-bucket",
        "corpus",
        DIM,
        metadataConfiguration={
            "nonFilterableMetadataKeys": ["body"],
            "textSearchConfigurations": [{"metadataKey": "body"}, {"metadataKey": "tags"}],
        },
    )
    docs: dict[str, dict[str, Any]] = {}
    vectors: dict[str, np.ndarray] = {}
    for i in range(400):
        key = f"doc-{i:03d}"
        metadata: dict[str, Any] = {"n": int(rng.integers(0, 10))}
        if rng.random() < 0.9:
            metadata["body"] = _random_text(rng)
        if rng.random() < 0.5:
            # A list value: its strings are one text; the number is not indexed.
            metadata["tags"] = [str(w) for w in rng.choice(WORDS, size=int(rng.integers(1, 4)))] + [7]
        docs[key] = metadata
        vectors[key] = rng.normal(size=DIM).astype(np.float32)
    keys = list(docs)
    for start in range(0, len(keys), 200):
        client.put_vectors(
            **sel,
            vectors=[
                {"key": k, "data": {"float32": vectors[k].tolist()}, "metadata": docs[k]}
                for k in keys[start : start + 200]
            ],
        )
    return {"sel": sel, "docs": docs, "vectors": vectors, "rng": rng}


def _query(client: Any, sel: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    return all_pages(client, sel, returnScores=True, returnDistance=True, **params)


def test_full_text_ranking_matches_reference_bm25(client: Any, corpus: dict[str, Any]) -> None:
    docs, sel = corpus["docs"], corpus["sel"]
    everyone = set(docs)
    for text in [
        "vector search",
        "HYBRID fusion fusion",
        "café naïve",
        "straße x42",
        "error_code sku!",
        "rank",
    ]:
        expected = _bm25(docs, "body", text, everyone)
        got = _query(client, sel, topK=30, queryTexts=[{"text": text, "metadataKey": "body"}])
        assert [v["key"] for v in got] == _ordered(expected)[:30], text
        for v in got:
            assert "distance" not in v and "fused" not in v["scores"] and "vectorDistance" not in v["scores"]
            [score] = v["scores"]["bm25Scores"]
            assert score["metadataKey"] == "body"
            assert score["score"] == pytest.approx(expected[v["key"]], rel=1e-9)


def test_several_query_texts_rank_by_summed_bm25(client: Any, corpus: dict[str, Any]) -> None:
    docs, sel = corpus["docs"], corpus["sel"]
    texts = [{"text": "lambda merge", "metadataKey": "body"}, {"text": "token Lambda", "metadataKey": "tags"}]
    per_key = {t["metadataKey"]: _bm25(docs, t["metadataKey"], t["text"], set(docs)) for t in texts}
    total = {
        k: per_key["body"].get(k, 0.0) + per_key["tags"].get(k, 0.0)
        for k in {*per_key["body"], *per_key["tags"]}
    }
    got = _query(client, sel, topK=500, queryTexts=texts)
    assert [v["key"] for v in got] == _ordered(total)
    sample = next(v for v in got if len(v["scores"]["bm25Scores"]) == 2)
    assert [s["metadataKey"] for s in sample["scores"]["bm25Scores"]] == ["body", "tags"]


def test_hybrid_ranking_matches_reference_rrf(client: Any, corpus: dict[str, Any]) -> None:
    docs, vectors, sel, rng = corpus["docs"], corpus["vectors"], corpus["sel"], corpus["rng"]
    for top_k, filter_, allowed in [
        (10, None, set(docs)),
        (25, {"n": {"$lt": 4}}, {k for k, m in docs.items() if m["n"] < 4}),
    ]:
        query = rng.normal(size=DIM).astype(np.float32)
        texts = [
            {"text": "bucket aurora", "metadataKey": "body"},
            {"text": "postgres", "metadataKey": "tags"},
        ]
        vector_ranking = _vector_ranking(vectors, query, allowed)[:top_k]
        bm25 = [_bm25(docs, t["metadataKey"], t["text"], allowed) for t in texts]
        fused = _rrf([vector_ranking] + [_ordered(s)[:top_k] for s in bm25])
        extra = {"filter": filter_} if filter_ else {}
        got = _query(
            client, sel, topK=top_k, queryVector={"float32": query.tolist()}, queryTexts=texts, **extra
        )
        assert [v["key"] for v in got] == _ordered(fused)[:top_k]
        in_vector = set(vector_ranking)
        for v in got:
            key, scores = v["key"], v["scores"]
            assert key in allowed
            assert scores["fused"] == pytest.approx(fused[key], rel=1e-12)
            assert ("vectorDistance" in scores) == (key in in_vector)
            q, x = query.astype(np.float64), vectors[key].astype(np.float64)
            assert v["distance"] == pytest.approx(
                1 - q @ x / (np.linalg.norm(q) * np.linalg.norm(x)), abs=1e-6
            )
            matched = [s["metadataKey"] for s in scores.get("bm25Scores", [])]
            assert matched == [t["metadataKey"] for t, s in zip(texts, bm25, strict=True) if key in s]


def test_filter_is_applied_before_full_text_ranking(client: Any, corpus: dict[str, Any]) -> None:
    docs, sel = corpus["docs"], corpus["sel"]
    allowed = {k for k, m in docs.items() if m["n"] == 3}
    expected = _ordered(_bm25(docs, "body", "vector index query", allowed))
    assert 5 < len(expected) < 100
    got = _query(
        client,
        sel,
        topK=100,
        filter={"n": 3},
        queryTexts=[{"text": "vector index query", "metadataKey": "body"}],
    )
    assert [v["key"] for v in got] == expected
    # topK smaller than the matches: exactly topK come back, the best ones.
    got = _query(
        client,
        sel,
        topK=5,
        filter={"n": 3},
        queryTexts=[{"text": "vector index query", "metadataKey": "body"}],
    )
    assert [v["key"] for v in got] == expected[:5]


def test_responses_parse_and_match_the_output_shape(client: Any, corpus: dict[str, Any]) -> None:
    sel = corpus["sel"]
    output = service_model().operation_model("QueryVectors").output_shape
    for params in [
        {"queryTexts": [{"text": "hybrid", "metadataKey": "body"}]},
        {"queryTexts": [{"text": "hybrid", "metadataKey": "body"}], "queryVector": {"float32": [0.5] * DIM}},
    ]:
        response = client.query_vectors(
            **sel, topK=5, returnScores=True, returnDistance=True, returnMetadata=True, **params
        )
        raw = client.raw_bodies["QueryVectors"]
        assert shape_problems(output, raw) == []
        assert len(response["vectors"]) == 5 and response["distanceMetric"] == "cosine"
        assert all(v["metadata"] == corpus["docs"][v["key"]] for v in response["vectors"])
    # returnScores adds nothing to a vector-only query; without returnScores no scores appear.
    plain = client.query_vectors(**sel, topK=3, queryVector={"float32": [0.5] * DIM}, returnScores=True)
    assert all(set(v) == {"key"} for v in plain["vectors"])
    bare = client.query_vectors(**sel, topK=3, queryTexts=[{"text": "hybrid", "metadataKey": "body"}])
    assert all(set(v) == {"key"} for v in bare["vectors"])


def _check_index(
    client: Any, sel: dict[str, str], docs: dict[str, dict[str, Any]], queries: list[str]
) -> None:
    for text in queries:
        expected = _bm25(docs, "body", text, set(docs))
        got = _query(client, sel, topK=100, queryTexts=[{"text": text, "metadataKey": "body"}])
        assert [v["key"] for v in got] == _ordered(expected), text
        assert [v["scores"]["bm25Scores"][0]["score"] for v in got] == pytest.approx(
            [expected[v["key"]] for v in got], rel=1e-9
        )


def test_puts_overwrites_and_deletes_keep_the_inverted_index_right(
    client: Any, new_index: Callable[..., dict[str, str]]
) -> None:
    sel = new_index(
        dimension=2, metadataConfiguration={"textSearchConfigurations": [{"metadataKey": "body"}]}
    )
    rng = np.random.default_rng(5)
    docs: dict[str, dict[str, Any]] = {}
    for step in range(30):
        keys = [f"k{int(i)}" for i in rng.integers(0, 40, size=8)]
        if step % 3 == 2:
            client.delete_vectors(**sel, keys=keys)
            for k in keys:
                docs.pop(k, None)
            continue
        batch = []
        for k in keys:
            # Some overwrites drop the text or give a value with no tokens.
            metadata = {"body": _random_text(rng)} if rng.random() < 0.8 else [{}, {"body": "!?"}][step % 2]
            batch.append({"key": k, "data": {"float32": [1.0, float(step)]}, "metadata": metadata})
            docs[k] = metadata  # within a batch the last occurrence of a key wins
        client.put_vectors(**sel, vectors=batch)
    assert docs
    _check_index(client, sel, docs, ["vector search", "rank merge token", "café", "sku x42 bm25"])


def test_text_search_configuration_added_later_is_built_from_stored_metadata(
    client: Any, raw_client: Any, new_index: Callable[..., dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text_status, "BUILD_RATE", float("inf"))  # no BUILDING phase here
    sel = new_index(dimension=2)
    docs = {
        f"k{i}": {"body": text} for i, text in enumerate(["alpha beta", "beta gamma", "Alpha alpha", "delta"])
    }
    client.put_vectors(
        **sel, vectors=[{"key": k, "data": {"float32": [1.0, 0.0]}, "metadata": m} for k, m in docs.items()]
    )
    client.update_metadata_configuration(**sel, add={"textSearchConfigurations": [{"metadataKey": "body"}]})
    status = client.get_index(**sel)["index"]["metadataConfiguration"]["textSearchConfigurations"]
    assert status == [{"metadataKey": "body", "status": "ACTIVE"}]
    _check_index(client, sel, docs, ["alpha", "beta gamma"])
    client.update_metadata_configuration(
        **sel, delete={"textSearchConfigurations": [{"metadataKey": "body"}]}
    )
    with pytest.raises(ClientError) as info:
        raw_client.query_vectors(**sel, topK=1, queryTexts=[{"text": "alpha", "metadataKey": "body"}])
    assert info.value.response["Error"]["Code"] == "ValidationException"


def test_text_index_is_rebuilt_from_the_log_on_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text_status, "BUILD_RATE", float("inf"))  # the added key serves at once
    sel = {"vectorBucketName": "durable-text", "indexName": "docs"}
    texts = [{"text": "alpha beta", "metadataKey": "body"}, {"text": "omega", "metadataKey": "title"}]

    def answer(c: Any) -> list[dict[str, Any]]:
        return c.query_vectors(**sel, topK=10, queryTexts=texts, returnScores=True)["vectors"]

    with emulator_on(tmp_path) as c:
        create_bucket_and_index(
            c,
            sel["vectorBucketName"],
            sel["indexName"],
            2,
            "euclidean",
            metadataConfiguration={"textSearchConfigurations": [{"metadataKey": "body"}]},
        )
        bodies = ["alpha", "beta beta", "alpha gamma beta", "delta", "alpha alpha alpha"]
        c.put_vectors(
            **sel,
            vectors=[
                {
                    "key": f"k{i}",
                    "data": {"float32": [i, 1.0]},
                    "metadata": {"body": b, "title": f"omega {i}"},
                }
                for i, b in enumerate(bodies)
            ],
        )
        c.put_vectors(
            **sel, vectors=[{"key": "k1", "data": {"float32": [1, 1]}, "metadata": {"body": "gamma"}}]
        )
        c.delete_vectors(**sel, keys=["k4"])
        c.update_metadata_configuration(**sel, add={"textSearchConfigurations": [{"metadataKey": "title"}]})
        before = answer(c)
        # k1 lost its title and its alpha/beta body on overwrite; k4 is deleted; k3 matches by title.
        assert {v["key"] for v in before} == {"k0", "k2", "k3"}
    with emulator_on(tmp_path) as c:
        assert answer(c) == before


def _text(key: str = "body", text: str = "vector") -> dict[str, str]:
    return {"text": text, "metadataKey": key}


def _classic_index(c: Any) -> dict[str, str]:
    """An index created in a bucket whose default index mode is CLASSIC (created on first use)."""
    sel = {"vectorBucketName": "classic-text", "indexName": "classic"}
    if "classic-text" not in {b["vectorBucketName"] for b in c.list_vector_buckets()["vectorBuckets"]}:
        c.create_vector_bucket(vectorBucketName="classic-text")
        c.put_vector_bucket_default_index_mode(vectorBucketName="classic-text", defaultIndexMode="CLASSIC")
        create_float32_index(
            c,
            sel["vectorBucketName"],
            sel["indexName"],
            DIM,
            metadataConfiguration={"textSearchConfigurations": [{"metadataKey": "body"}]},
        )
    assert c.get_index(**sel)["index"]["indexMode"] == "CLASSIC"
    return sel


ERRORS: list[tuple[str, Callable[[Any, dict[str, str]], Any], str]] = [
    (
        "key without text search",
        lambda c, s: c.query_vectors(**s, topK=1, queryTexts=[_text("n")]),
        "not full-text",
    ),
    ("same key twice", lambda c, s: c.query_vectors(**s, topK=1, queryTexts=[_text(), _text()]), "distinct"),
    ("empty text", lambda c, s: c.query_vectors(**s, topK=1, queryTexts=[_text(text="")]), "queryTexts"),
    ("no terms", lambda c, s: c.query_vectors(**s, topK=1, queryTexts=[_text(text=" ?! ")]), "no searchable"),
    ("eleven texts", lambda c, s: c.query_vectors(**s, topK=1, queryTexts=[_text()] * 11), "queryTexts"),
    ("text too long", lambda c, s: c.query_vectors(**s, topK=1, queryTexts=[_text(text="a" * 1025)]), "text"),
    ("no vector, no texts", lambda c, s: c.query_vectors(**s, topK=1), "queryTexts"),
    (
        "CLASSIC query mode",
        lambda c, s: c.query_vectors(**s, topK=1, queryMode="CLASSIC", queryTexts=[_text()]),
        "CLASSIC",
    ),
    (
        "CLASSIC index",
        lambda c, s: c.query_vectors(**_classic_index(c), topK=1, queryTexts=[_text()]),
        "ENHANCED",
    ),
    (
        "CLASSIC index with queryMode ENHANCED",
        lambda c, s: c.query_vectors(**_classic_index(c), topK=1, queryMode="ENHANCED", queryTexts=[_text()]),
        "ENHANCED",
    ),
]


@pytest.mark.parametrize(("case", "call", "says"), ERRORS, ids=[e[0] for e in ERRORS])
def test_invalid_text_queries_are_validation_errors(
    raw_client: Any, corpus: dict[str, Any], case: str, call: Callable[..., Any], says: str
) -> None:
    with pytest.raises(ClientError) as info:
        call(raw_client, corpus["sel"])
    error = info.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400, case
    assert error["Error"]["Code"] == "ValidationException"
    assert error["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "ValidationException"
    assert says in error["Error"]["Message"], error["Error"]["Message"]


def test_next_token_of_a_text_query_needs_the_same_texts(
    raw_client: Any, new_index: Callable[..., dict[str, str]]
) -> None:
    sel = new_index(
        dimension=2, metadataConfiguration={"textSearchConfigurations": [{"metadataKey": "body"}]}
    )
    for start in range(0, 1500, 500):
        raw_client.put_vectors(
            **sel,
            vectors=[
                {"key": f"k{i:04d}", "data": {"float32": [1.0, i]}, "metadata": {"body": f"common w{i % 7}"}}
                for i in range(start, start + 500)
            ],
        )
    texts = [{"text": "common w3", "metadataKey": "body"}]
    first = raw_client.query_vectors(**sel, topK=1200, queryTexts=texts)
    assert len(first["vectors"]) == QUERY_PAGE_SIZE and first["nextToken"]
    keys = [v["key"] for v in all_pages(raw_client, sel, topK=1200, queryTexts=texts)]
    assert len(keys) == len(set(keys)) == 1200
    # The w3 vectors score higher (one more matching term), so they come first.
    assert all(int(k[1:]) % 7 == 3 for k in keys[: 1500 // 7])
    with pytest.raises(ClientError) as info:
        raw_client.query_vectors(
            **sel,
            topK=1200,
            queryTexts=[{"text": "common", "metadataKey": "body"}],
            nextToken=first["nextToken"],
        )
    assert info.value.response["Error"]["Code"] == "ValidationException"
