"""rank_vectors: the exact top_k nearest of given keys, ranked inside the function.

The candidates' vectors are read with GetVectors in batches of the service's maximum (100 keys), at most
RANK_CONCURRENCY at once (the client's connection pool holds that many, clients.py); each batch is
ranked as soon as it arrives and only its top_k is kept, so the function holds top_k rows per batch and
answers with the top_k alone: the vectors never leave the function. The client makes one attempt per call;
a 429 or 503 is retried here with jittered exponential backoff while the invocation has time. More
distinct candidates than S3VL_RANK_SLICE_IDS are cut into slices that other invocations of the function
rank at the same time (rank_slices.py).

Distances are S3 Vectors' own, in float64 from the float32 values: euclidean the L2 norm (not squared),
cosine 1 - cos. Both go through math.dist and math.hypot (C, with accurate summation): cosine as
(|v - q|^2 - (|v| - |q|)^2) / (2 |v| |q|), the same value as 1 - v.q / (|v| |q|) without a Python loop
over the elements, and without its cancellation for nearly parallel vectors. Rows are ordered by that
float64 value, ties by key (code points); `distance` is reported rounded to float32 as the service
reports it, `exact_distance` carries the float64 so that s3vl can merge several invocations exactly.

Rounding every decoded element to float32 (vector_data.exact) would cost a fifth of the function's CPU.
A decoded element is within 2^-24 of the stored float32, relative to its magnitude (the service may write
a float32's shortest digits), so a distance from the decoded values is within 2^-24 of the stored values'
(cosine) or 2^-24 * (distance + |q|) (euclidean). Each batch is first scored from the decoded values; only
its rows within SLACK of its top_k's last can be in its exact top_k, and only those are rounded and
scored exactly.
"""

from __future__ import annotations

import heapq
import math
import threading
from collections.abc import Callable
from typing import Any

from .. import limits, nul_escape, vector_data
from ..clients import RANK_CONCURRENCY, SLICE_CONCURRENCY
from ..errors import HandlerError
from ..rank_request import RankRequest
from . import rank_slices
from .backoff import one_attempt_client, with_backoff
from .get import fetch
from .query import similarity
from .threads import Counter, LazyPool, fan_out

# Backoff after a 429 or 503 the client's retries did not absorb: full jitter over base * 2^attempt, capped.
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 1.0
THROTTLE_ATTEMPTS = 6
# 16 times the bound on how far a distance from decoded values is from the stored values' (docstring).
SLACK = 2.0**-20

# The container's rank threads, created on the first multi-batch request and reused.
_executor = LazyPool(RANK_CONCURRENCY, "s3vl-rank")
# The threads that rank this invocation's slice and wait for the other slices' invocations.
_slice_executor = LazyPool(SLICE_CONCURRENCY, "s3vl-rank-slice")
# The fix named when the function's time runs out before every GetVectors batch has finished.
_TOO_SLOW = "pass fewer candidate ids per call or raise the Lambda timeout"
# Set in a thread while it reads candidates: their GetVectors answers are decoded by _decode_directly.
_direct = threading.local()

Ranked = tuple[float, str]  # (float64 distance, key as returned to SQL)


def distance_function(metric: str, query: list[float]) -> Callable[[list[float]], float]:
    """The service's distance of a stored vector to `query` (float32 values, float64 arithmetic)."""
    if metric == "euclidean":
        return lambda vector: math.dist(vector, query)
    query_norm = math.hypot(*query)

    def cosine(vector: list[float]) -> float:
        norm = math.hypot(*vector)
        if norm == 0.0:
            return 1.0  # a zero vector has no direction (S3 Vectors refuses to store one on a cosine index)
        gap = math.dist(vector, query)
        value = (gap - (norm - query_norm)) * (gap + (norm - query_norm)) / (2.0 * norm * query_norm)
        return min(2.0, max(0.0, value))

    return cosine


def slack_function(metric: str, query: list[float]) -> Callable[[float], float]:
    """How far beyond a batch's top_k by decoded values a row may be and still be in its exact top_k."""
    if metric == "euclidean":
        query_norm = math.hypot(*query)
        return lambda distance: 2.0 * SLACK * (distance + query_norm)
    return lambda _: 2.0 * SLACK


def _decode_directly(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    """A successful GetVectors answer of a rank thread (data, no metadata), decoded by vector_data.loads.

    botocore's parser walks the output shape value by value: for 100 vectors of 768 dimensions that is
    about 60 % of the function's CPU per batch, more than decoding the JSON. The answer's JSON already has
    the parsed shape (`vectors`: `[{key, data: {float32: [...]}}]`), so it is decoded here and botocore
    parses an empty body. Error answers, and every other caller's, go through botocore."""
    if getattr(_direct, "on", False) and response_dict.get("status_code") == 200:
        document = vector_data.loads(response_dict["body"])
        customized_response_dict["vectors"] = document.get("vectors") or []
        response_dict["body"] = b"{}"


def run(request: RankRequest) -> dict[str, Any]:
    # 32 calls at once against the index's read rate: with_backoff retries 429 and 503 (backoff.py).
    client = one_attempt_client(request.index.region, "before-parse.s3vectors.GetVectors", _decode_directly)
    distance = distance_function(request.distance_metric, request.query_vector)
    slack = slack_function(request.distance_metric, request.query_vector)
    dimension = len(request.query_vector)
    size = limits.service().get_batch
    throttled = Counter()

    def get(keys: list[str], data: bool, metadata: bool) -> list[Any]:
        return with_backoff(
            lambda: fetch("rank_vectors", client, request.index.arn, keys, data, metadata),
            throttled,
            attempts=THROTTLE_ATTEMPTS,
            base_s=BACKOFF_BASE_S,
            cap_s=BACKOFF_CAP_S,
            api="GetVectors",
        )

    def rank(keys: list[str]) -> tuple[list[Ranked], int]:
        """The batch's top_k and how many of its keys are not in the index."""
        _direct.on = True
        try:
            found = get(keys, True, False)
        finally:
            _direct.on = False
        decoded = []
        for item in found:
            vector = (item.get("data") or {}).get("float32") or []
            if len(vector) != dimension:
                raise HandlerError(
                    "VALIDATION_FAILED",
                    f"vector {nul_escape.encode(item['key'])!r} has {len(vector)} elements and query_vector "
                    f"{dimension}: the index's dimension changed since it was registered; register it again",
                )
            decoded.append((distance(vector), item["key"], vector))
        if len(decoded) > request.top_k:
            last = heapq.nsmallest(request.top_k, [row[0] for row in decoded])[-1]
            bound = last + slack(last)
            decoded = [row for row in decoded if row[0] <= bound]
        scored = [(distance(vector_data.exact(vector)), nul_escape.encode(key)) for _, key, vector in decoded]
        return heapq.nsmallest(request.top_k, scored), len(keys) - len({item["key"] for item in found})

    def rank_here(keys: list[str]) -> rank_slices.Ranked:
        """The top_k of distinct `keys`, read and ranked in this invocation."""
        batches = [keys[start : start + size] for start in range(0, len(keys), size)]
        ranked = fan_out(_executor, rank, batches, _TOO_SLOW)
        best = heapq.nsmallest(request.top_k, (row for rows, _ in ranked for row in rows))
        return rank_slices.Ranked(best, sum(count for _, count in ranked), len(batches), 0)

    slices = rank_slices.cut(
        list(dict.fromkeys(request.keys)), 0 if request.slice else rank_slices.slice_size()
    )

    def rank_slice(number: int) -> rank_slices.Ranked:
        if number == 0:
            return rank_here(slices[0])  # this invocation's CPU ranks the first slice meanwhile
        return rank_slices.invoke(request, slices[number], rank_here)

    ranked = fan_out(
        _slice_executor, rank_slice, list(range(len(slices))), _TOO_SLOW, what="candidate slices"
    )
    best = heapq.nsmallest(request.top_k, (row for part in ranked for row in part.rows))

    metadata: dict[str, Any] = {}
    if request.return_metadata and best:
        # The winners' metadata only, in one more round of GetVectors.
        winners = [nul_escape.decode(key, "key", "INVALID_KEY") for _, key in best]
        parts = fan_out(
            _executor,
            lambda keys: get(keys, False, True),
            [winners[start : start + size] for start in range(0, len(winners), size)],
            _TOO_SLOW,
        )
        metadata = {
            nul_escape.encode(item["key"]): nul_escape.encode_metadata(item.get("metadata"))
            for part in parts
            for item in part
        }

    vectors = []
    for exact, key in best:
        reported = vector_data.float32(exact)
        row: dict[str, Any] = {
            "key": key,
            "distance": reported,
            "exact_distance": exact,
            "similarity": similarity(request.distance_metric, reported),
        }
        if request.return_metadata:
            row["metadata"] = metadata.get(key)
        vectors.append(row)
    return {
        "distance_metric": request.distance_metric,
        "vectors": vectors,
        "missing": sum(part.missing for part in ranked),
        "batches": sum(part.batches for part in ranked),
        "throttled": throttled.value + sum(part.throttled for part in ranked),
        "slices": sum(part.invoked for part in ranked),
        "slices_refused": sum(part.refused for part in ranked),
    }
