"""query_vectors_batch: many query vectors against one index or every member of an index group.

Every (query, member) pair is one query_vectors run (operations/query.py: the same pages, keys and
similarity as a single query), fanned out over BATCH_CONCURRENCY threads; the client's connection pool is
sized to hold them all (clients.py). A 429 (or 503) is retried here with jittered exponential backoff from
50 ms while the invocation has time, on a client that makes one attempt per call: the SDK's own retries
back off from about a second and share a retry quota, which a batch at the per-index query rate would
spend at once. The first failure fails the whole batch (no partial
result) and names its query_index and, for a group, the member index.

A group query waits for its slowest member, the maximum of several draws of a long-tailed latency; so a
member query still unanswered after HEDGE_AFTER_S is sent a second time and the first answer is taken
(a hedged request), at the price of about one more QueryVectors call per member (docs/scaling.md).
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import FIRST_COMPLETED, wait
from typing import Any

from .. import deadline
from ..batch_request import BatchQueryRequest
from ..clients import BATCH_CONCURRENCY
from ..errors import HandlerError
from ..requests import QueryRequest
from ..validation import IndexArn
from . import query
from .backoff import one_attempt_client, with_backoff
from .threads import Counter, LazyPool, fan_out

# Backoff after a 429: full jitter over base * 2^attempt, capped; attempts end with the function's time.
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 2.0
THROTTLE_ATTEMPTS = 10
# A group member's query unanswered after this long is sent again: early, because the slowest of 8
# members sets the time and nearly every draw of a ~100 ms median latency is still running at 10 ms.
HEDGE_AFTER_S = 0.01

# The query vector reaches the batch client as this stand-in and is put into the JSON body just before the
# call: botocore's serializer walks a 768-element vector in Python (~2.5 ms of the GIL per call), json.dumps
# in C (~0.3 ms); a group query sends the same vector 8 to 16 times.
_STAND_IN = [1.0]
_vector = threading.local()  # .value: the vector of the query this thread is sending

# The container's batch threads, created on the first batch and reused by the next invocations.
_executor = LazyPool(BATCH_CONCURRENCY, "s3vl-batch")
# The threads of a group's member queries, apart from the batch threads that wait for them (so that a
# wait never holds the thread it waits for): two attempts for each batch thread.
_hedge_executor = LazyPool(2 * BATCH_CONCURRENCY, "s3vl-hedge")


def run(request: BatchQueryRequest) -> dict[str, Any]:
    throttled = Counter()
    hedged = Counter()
    group = len(request.indexes) > 1

    def one(position: int, member: int) -> dict[str, Any]:
        index = request.indexes[member]
        single = QueryRequest(
            index=index,
            query_vector=request.query_vectors[position],
            top_k=request.top_k,
            filter=request.filter,
            return_metadata=request.return_metadata,
        )
        try:
            return _hedged(single, throttled, hedged) if group else _with_backoff(single, throttled)
        except HandlerError as exc:
            raise _naming(exc, request.first_query_index + position, index if group else None) from exc

    units = [(q, m) for q in range(len(request.query_vectors)) for m in range(len(request.indexes))]
    # In (query, member) order, so the failure raised is the one of the lowest query_index.
    parts_in_order = fan_out(
        _executor,
        lambda unit: one(*unit),
        units,
        "send fewer query vectors per invocation or raise the Lambda timeout",
        what="queries of the batch",
    )
    answers = dict(zip(units, parts_in_order, strict=True))
    results = []
    metric: str | None = None
    calls = 0
    for q in range(len(request.query_vectors)):
        parts = [answers[(q, m)] for m in range(len(request.indexes))]
        metric = metric or next((p["distance_metric"] for p in parts if p["distance_metric"]), None)
        calls += sum(p["pages"] for p in parts)
        results.append(parts[0]["vectors"] if not group else _merge(parts, request.top_k))
    return {
        "distance_metric": metric,
        "results": results,
        "calls": calls,
        "throttled": throttled.value,
        "hedged": hedged.value,
    }


def _hedged(single: QueryRequest, throttled: Counter, hedged: Counter) -> dict[str, Any]:
    """The first answer of the query and, if it is still unanswered after HEDGE_AFTER_S, of its copy; it
    fails only when every attempt sent failed (with the first one's error)."""
    owner = deadline.current()
    attempt = deadline.bound_to(owner, _with_backoff)
    sent = [_hedge_executor().submit(attempt, single, throttled)]
    done, _ = wait(sent, timeout=HEDGE_AFTER_S)
    if not done and owner.remaining_s() > HEDGE_AFTER_S:
        hedged.add()
        sent.append(_hedge_executor().submit(attempt, single, throttled))
    pending = set(sent)
    while pending:
        done, pending = wait(pending, timeout=max(owner.remaining_s(), 0.0), return_when=FIRST_COMPLETED)
        if not done:
            break
        for future in done:
            if future.exception() is None:
                return future.result()
    for future in sent:
        if future.done():
            raise future.exception()  # type: ignore[misc]
    raise HandlerError(
        "DEADLINE_EXCEEDED",
        "a group member's query had not answered when the function's time ran out: send fewer query "
        "vectors per invocation or raise the Lambda timeout",
    )


def _with_backoff(single: QueryRequest, throttled: Counter) -> dict[str, Any]:
    # The vector is put into the body by JSON (_put_vector).
    client = one_attempt_client(single.index.region, "before-call.s3vectors.QueryVectors", _put_vector)
    _vector.value = single.query_vector
    single = QueryRequest(single.index, _STAND_IN, single.top_k, single.filter, single.return_metadata)
    return with_backoff(
        lambda: query.run(single, client),
        throttled,
        attempts=THROTTLE_ATTEMPTS,
        base_s=BACKOFF_BASE_S,
        cap_s=BACKOFF_CAP_S,
        api="QueryVectors",
    )


def _put_vector(params: dict[str, Any], **_: Any) -> None:
    body = json.loads(params["body"])
    if body.get("queryVector") != {"float32": _STAND_IN}:
        raise AssertionError("the QueryVectors body does not hold the stand-in vector")
    body["queryVector"] = {"float32": _vector.value}
    params["body"] = json.dumps(body).encode("utf-8")


def _merge(parts: list[dict[str, Any]], top_k: int) -> list[dict[str, Any]]:
    """The top_k of every member's answer: by distance, then the member's position in the group, then
    key, so that equal distances come out in the same order on every call."""
    ranked = sorted(
        (
            (row["distance"], member, row["key"], row)
            for member, part in enumerate(parts)
            for row in part["vectors"]
        ),
        key=lambda entry: (entry[0] is None, entry[0] or 0.0, entry[1], entry[2]),
    )
    return [entry[3] for entry in ranked[:top_k]]


def _naming(exc: HandlerError, query_index: int, member: IndexArn | None) -> HandlerError:
    """`exc` with the failing query's position (and member index) in front of its message; s3vl's SQL
    reads "query_index N" from it into DETAIL (68_batch.sql)."""
    where = f"query_index {query_index}" + ("" if member is None else f", member index {member.arn}")
    return exc.reworded(f"{where}: {exc.message}")
