"""rank_vectors in the handler: the exact top_k of the given keys against numpy, over moto's S3 Vectors; the
GetVectors batches it runs, the backoff on 429, and the requests it refuses before any call. The same
equality through SQL, over the local stack: tests/sql/test_rank.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from s3vl_lambda.clients import client_for
from s3vl_lambda.operations import backoff, rank
from support.distances import s3vectors_distances
from support.s3vectors import create_float32_index

from .conftest import ACCOUNT, BUCKET, REGION, STUB_ARN, STUB_REGION, error_code, invoke

DIM = 8
N = 420


class Index:
    def __init__(self, arn: str, metric: str, data: np.ndarray) -> None:
        self.arn, self.metric, self.data = arn, metric, data

    def truth(self, query: list[float], keys: list[str], k: int) -> list[tuple[str, float]]:
        """numpy's exact top k of the keys that exist: (key, distance as S3 Vectors defines it)."""
        rows = sorted({int(key[1:]) for key in keys if key[1:].isdigit() and int(key[1:]) < N})
        d = s3vectors_distances(self.data[rows], query, self.metric)
        ranked = sorted(zip(d.tolist(), [f"v{r:04d}" for r in rows], strict=True))[:k]
        return [(key, distance) for distance, key in ranked]


@pytest.fixture
def indexes() -> Iterator[dict[str, Index]]:
    """A cosine and a euclidean index of N random float32 vectors in moto, with metadata."""
    rng = np.random.default_rng(15)
    found = {}
    with mock_aws():
        client = boto3.client("s3vectors", region_name=REGION)
        client.create_vector_bucket(vectorBucketName=BUCKET)
        for metric in ("cosine", "euclidean"):
            name = f"rank-{metric}"
            create_float32_index(client, BUCKET, name, DIM, metric)
            data = rng.standard_normal((N, DIM)).astype(np.float32)
            client.put_vectors(
                vectorBucketName=BUCKET,
                indexName=name,
                vectors=[
                    {"key": f"v{i:04d}", "data": {"float32": data[i].tolist()}, "metadata": {"n": i}}
                    for i in range(N)
                ],
            )
            arn = f"arn:aws:s3vectors:{REGION}:{ACCOUNT}:bucket/{BUCKET}/index/{name}"
            found[metric] = Index(arn, metric, data)
        yield found


def request(
    index_arn: str, metric: str, query: list[float], keys: list[str], **fields: Any
) -> dict[str, Any]:
    return {
        "operation": "rank_vectors",
        "index_arn": index_arn,
        "distance_metric": metric,
        "query_vector": query,
        "keys": keys,
        **fields,
    }


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_the_top_k_of_the_keys_equals_numpy_with_duplicates_and_missing(
    indexes: dict[str, Index], metric: str
) -> None:
    index = indexes[metric]
    rng = np.random.default_rng(7)
    query = rng.standard_normal(DIM).tolist()
    picked = [f"v{i:04d}" for i in rng.choice(N, size=300, replace=False)]
    keys = picked + picked[:5] + ["v9999", "no-such-key"]
    envelope = invoke(request(index.arn, metric, query, keys, top_k=25))
    assert envelope["ok"] is True, envelope
    result = envelope["result"]
    truth = index.truth(query, keys, 25)
    assert [row["key"] for row in result["vectors"]] == [key for key, _ in truth]
    for row, (_, expected) in zip(result["vectors"], truth, strict=True):
        assert row["exact_distance"] == pytest.approx(expected, rel=1e-12, abs=1e-14)
        # Reported as the service reports a distance: the float64 rounded to float32.
        assert row["distance"] == float(np.float32(row["exact_distance"]))
        wanted = 1.0 - row["distance"] if metric == "cosine" else 1.0 / (1.0 + row["distance"])
        assert row["similarity"] == wanted
        assert "metadata" not in row
    # 302 distinct keys: 300 found, 2 missing, read in 4 GetVectors batches of at most 100.
    assert (result["missing"], result["batches"], result["distance_metric"]) == (2, 4, metric)


def test_equal_distances_are_ordered_by_key(indexes: dict[str, Index]) -> None:
    index = indexes["euclidean"]
    client = boto3.client("s3vectors", region_name=REGION)
    same = index.data[3].tolist()
    client.put_vectors(
        vectorBucketName=BUCKET,
        indexName="rank-euclidean",
        vectors=[{"key": key, "data": {"float32": same}} for key in ("tie-b", "tie-a", "tie-c")],
    )
    envelope = invoke(request(index.arn, "euclidean", same, ["tie-c", "tie-a", "v0003", "tie-b"], top_k=3))
    assert [row["key"] for row in envelope["result"]["vectors"]] == ["tie-a", "tie-b", "tie-c"]
    assert [row["exact_distance"] for row in envelope["result"]["vectors"]] == [0.0, 0.0, 0.0]


def test_metadata_is_read_for_the_winners_only(indexes: dict[str, Index]) -> None:
    index = indexes["cosine"]
    calls: list[dict[str, Any]] = []
    lock = threading.Lock()

    def record(params: dict[str, Any], **_: Any) -> None:
        with lock:
            calls.append(dict(params))

    events = client_for(REGION, attempts=1).meta.events  # the client rank_vectors uses
    events.register("provide-client-params.s3vectors.GetVectors", record, unique_id="test-rank-calls")
    try:
        query = [1.0] * DIM
        keys = [f"v{i:04d}" for i in range(150)]
        envelope = invoke(request(index.arn, "cosine", query, keys, top_k=4, return_metadata=True))
    finally:
        events.unregister("provide-client-params.s3vectors.GetVectors", unique_id="test-rank-calls")
    rows = envelope["result"]["vectors"]
    assert [row["metadata"] for row in rows] == [{"n": int(row["key"][1:])} for row in rows]
    assert [row["key"] for row in rows] == [key for key, _ in index.truth(query, keys, 4)]
    # Two candidate batches with data and no metadata, then one call for the 4 winners' metadata.
    candidates = [c for c in calls if c["returnData"]]
    assert sorted(len(c["keys"]) for c in candidates) == [50, 100]
    assert not any(c["returnMetadata"] for c in candidates)
    assert [(c["keys"], c["returnMetadata"]) for c in calls if not c["returnData"]] == [
        ([row["key"] for row in rows], True)
    ]


def test_throttling_is_retried_with_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(backoff.time, "sleep", pauses.append)
    answer = {"vectors": [{"key": "a", "data": {"float32": [3.0, 4.0]}}]}
    with Stubber(client_for(STUB_REGION, attempts=1)) as stub:
        for _ in range(3):
            stub.add_client_error("get_vectors", "TooManyRequestsException", http_status_code=429)
        stub.add_response("get_vectors", answer)
        envelope = invoke(request(STUB_ARN, "euclidean", [0.0, 0.0], ["a", "b"]))
        stub.assert_no_pending_responses()
    assert envelope["ok"], envelope
    assert envelope["result"]["throttled"] == 3 and len(pauses) == 3
    # Full jitter under a cap that doubles: 50 ms, 100 ms, 200 ms.
    assert all(0 <= p <= rank.BACKOFF_BASE_S * 2**n for n, p in enumerate(pauses))
    assert envelope["result"]["vectors"] == [
        {"key": "a", "distance": 5.0, "exact_distance": 5.0, "similarity": 1.0 / 6.0}
    ]
    assert envelope["result"]["missing"] == 1


def test_throttling_that_persists_fails_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backoff.time, "sleep", lambda _: None)
    with Stubber(client_for(STUB_REGION, attempts=1)) as stub:
        for _ in range(rank.THROTTLE_ATTEMPTS):
            stub.add_client_error("get_vectors", "TooManyRequestsException", http_status_code=429)
        envelope = invoke(request(STUB_ARN, "cosine", [1.0, 0.0], ["a"]))
        stub.assert_no_pending_responses()
    assert error_code(envelope) == "THROTTLED"


def test_a_stored_vector_of_another_dimension_fails_the_call() -> None:
    with Stubber(client_for(STUB_REGION, attempts=1)) as stub:
        stub.add_response("get_vectors", {"vectors": [{"key": "a", "data": {"float32": [1.0, 2.0, 3.0]}}]})
        envelope = invoke(request(STUB_ARN, "cosine", [1.0, 0.0], ["a"]))
    assert error_code(envelope) == "VALIDATION_FAILED"
    assert "register it again" in envelope["error"]["message"]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"distance_metric": "dot"}, "INVALID_FIELD_TYPE"),
        ({"distance_metric": None}, "MISSING_FIELD"),
        ({"query_vector": [0.0, 1e-46]}, "VALIDATION_FAILED"),  # zero once rounded to float32
        ({"keys": []}, "EMPTY_KEYS"),
        ({"top_k": 0}, "INVALID_TOP_K"),
        ({"return_data": True}, "UNKNOWN_FIELD"),
    ],
)
def test_bad_requests_are_refused_before_any_call(fields: dict[str, Any], code: str) -> None:
    # No stubbed response: any GetVectors call would fail the test with a different error.
    with Stubber(client_for(STUB_REGION, attempts=1)):
        envelope = invoke({**request(STUB_ARN, "cosine", [1.0, 0.0], ["a"]), **fields})
    assert error_code(envelope) == code


def test_cosine_distance_matches_one_minus_cos_for_nearly_parallel_vectors() -> None:
    query = [1.0, 2.0, 3.0]
    distance = rank.distance_function("cosine", query)
    for vector in ([1.0, 2.0, 3.0000002], [2.0, 4.0, 6.0], [-1.0, -2.0, -3.0], [3.0, -1.0, 0.5]):
        v, q = np.array(vector), np.array(query)
        expected = 1.0 - float(v @ q / (np.linalg.norm(v) * np.linalg.norm(q)))
        assert distance(vector) == pytest.approx(min(2.0, max(0.0, expected)), abs=1e-15)


def _shortest_digits(row: np.ndarray) -> list[float]:
    """A float32 vector as a service may write it, its shortest digits, read back as float64s that are not
    the stored float32 values ("0.1" reads as 0.1, not as float32 0.1)."""
    return [float(np.format_float_positional(value, unique=True)) for value in row]


def _stub_answer(stub: Stubber, rows: dict[str, np.ndarray]) -> None:
    vectors = [{"key": key, "data": {"float32": _shortest_digits(row)}} for key, row in rows.items()]
    stub.add_response("get_vectors", {"vectors": vectors})


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_distances_are_the_stored_float32_values_when_the_service_writes_shortest_digits(metric: str) -> None:
    rng = np.random.default_rng(21)
    data = {f"k{i:02d}": rng.standard_normal(DIM).astype(np.float32) for i in range(60)}
    assert any(_shortest_digits(row) != row.astype(np.float64).tolist() for row in data.values())
    query = rng.standard_normal(DIM).astype(np.float32).tolist()
    with Stubber(client_for(STUB_REGION, attempts=1)) as stub:
        _stub_answer(stub, data)
        envelope = invoke(request(STUB_ARN, metric, query, list(data), top_k=7))
    assert envelope["ok"], envelope
    exact = rank.distance_function(metric, query)
    truth = sorted((exact(row.astype(np.float64).tolist()), key) for key, row in data.items())[:7]
    assert [(row["exact_distance"], row["key"]) for row in envelope["result"]["vectors"]] == truth


def _near_tie_decoded_the_other_way(metric: str, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """A query and two candidates one float32 step apart in every element whose distances, computed from
    their shortest digits, are ordered the other way round than from the stored values."""
    for _ in range(1000):
        query = rng.standard_normal(DIM).astype(np.float32)
        near = (query + np.float32(0.01) * rng.standard_normal(DIM).astype(np.float32)).astype(np.float32)
        step = np.nextafter(near, rng.choice([-np.inf, np.inf], size=DIM).astype(np.float32))
        distance = rank.distance_function(metric, query.tolist())
        stored = [distance(row.astype(np.float64).tolist()) for row in (near, step)]
        decoded = [distance(_shortest_digits(row)) for row in (near, step)]
        if stored[0] != stored[1] and (stored[0] < stored[1]) != (decoded[0] < decoded[1]):
            return query, near, step
    raise AssertionError("no near-tie found")


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_a_near_tie_is_settled_by_the_stored_values_not_the_decoded_digits(metric: str) -> None:
    # The batch is first scored from decoded digits, which order these two candidates wrongly: the one
    # kept must still be the stored values' winner.
    rng = np.random.default_rng(5)
    query, near, step = _near_tie_decoded_the_other_way(metric, rng)
    rows = {"near": near, "step": step}
    rows.update({f"far{i:02d}": (-query + rng.standard_normal(DIM)).astype(np.float32) for i in range(40)})
    exact = rank.distance_function(metric, query.tolist())
    winner = min((exact(row.astype(np.float64).tolist()), key) for key, row in rows.items())
    with Stubber(client_for(STUB_REGION, attempts=1)) as stub:
        _stub_answer(stub, rows)
        envelope = invoke(request(STUB_ARN, metric, query.tolist(), list(rows), top_k=1))
    assert envelope["ok"], envelope
    assert [(row["exact_distance"], row["key"]) for row in envelope["result"]["vectors"]] == [winner]
