"""get_vectors: any number of keys, GetVectors batches run concurrently, one answer per requested key."""

from __future__ import annotations

from concurrent.futures import FIRST_EXCEPTION, Future, wait
from typing import Any

from .. import deadline, limits, nul_escape
from ..clients import MAX_CONCURRENT_CALLS, client_for
from ..errors import HandlerError
from ..requests import GetVectorsRequest
from .aws_call import call
from .threads import LazyPool

# The container's worker threads, created on the first multi-batch request and reused.
_executor = LazyPool(MAX_CONCURRENT_CALLS, "s3vl-get")


def run(request: GetVectorsRequest) -> dict[str, Any]:
    client = client_for(request.index.region)
    # Each distinct key is fetched once; duplicates in the request are answered from the same result.
    distinct = list(dict.fromkeys(request.keys))
    size = limits.service().get_batch
    batches = [distinct[start : start + size] for start in range(0, len(distinct), size)]

    def fetch(batch: list[str]) -> list[Any]:
        response: Any = call(
            "get_vectors",
            "GetVectors",
            client.get_vectors,
            indexArn=request.index.arn,
            keys=batch,
            returnData=request.return_data,
            returnMetadata=request.return_metadata,
        )
        return list(response.get("vectors") or ())

    answers = fetch(batches[0]) if len(batches) == 1 else _fetch_concurrently(fetch, batches)

    by_key = {item["key"]: item for item in answers}
    return {"vectors": [_entry(key, by_key.get(key), request) for key in request.keys]}


def _fetch_concurrently(fetch: Any, batches: list[list[str]]) -> list[Any]:
    # Bound to this invocation's deadline: a batch still retrying after the answer stops there.
    work = deadline.bound_to(deadline.current(), fetch)
    futures: list[Future[list[Any]]] = [_executor().submit(work, batch) for batch in batches]
    timeout = max(deadline.current().remaining_s(), 0.0)
    done, pending = wait(futures, timeout=timeout, return_when=FIRST_EXCEPTION)
    for future in futures:  # the first failure in request order is the one reported
        if future in done and future.exception() is not None:
            for other in pending:
                other.cancel()
            raise future.exception()  # type: ignore[misc]
    if pending:
        for other in pending:
            other.cancel()
        raise HandlerError(
            "DEADLINE_EXCEEDED",
            f"{len(pending)} of {len(batches)} GetVectors batches had not finished when the function's time "
            "ran out: ask for fewer keys per call or raise the Lambda timeout",
        )
    answers: list[Any] = []
    for future in futures:
        answers.extend(future.result())
    return answers


def _entry(key: str, item: Any, request: GetVectorsRequest) -> dict[str, Any]:
    entry: dict[str, Any] = {"key": nul_escape.encode(key), "found": item is not None}
    if request.return_data:
        entry["data"] = None if item is None else (item.get("data") or {}).get("float32")
    if request.return_metadata:
        entry["metadata"] = None if item is None else nul_escape.encode_metadata(item.get("metadata"))
    return entry
