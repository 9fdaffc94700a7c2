"""get_vectors: any number of keys, GetVectors batches run concurrently, one answer per requested key."""

from __future__ import annotations

from typing import Any

from .. import limits, nul_escape, vector_data
from ..clients import MAX_CONCURRENT_CALLS, client_for
from ..requests import GetVectorsRequest
from .aws_call import call
from .threads import LazyPool, fan_out

# The container's worker threads, created on the first multi-batch request and reused.
_executor = LazyPool(MAX_CONCURRENT_CALLS, "s3vl-get")


def run(request: GetVectorsRequest) -> dict[str, Any]:
    client = client_for(request.index.region)
    # Each distinct key is fetched once; duplicates in the request are answered from the same result.
    distinct = list(dict.fromkeys(request.keys))
    size = limits.service().get_batch
    batches = [distinct[start : start + size] for start in range(0, len(distinct), size)]

    def fetch_batch(batch: list[str]) -> list[Any]:
        return fetch(
            "get_vectors", client, request.index.arn, batch, request.return_data, request.return_metadata
        )

    parts = fan_out(
        _executor, fetch_batch, batches, "ask for fewer keys per call or raise the Lambda timeout"
    )
    answers = [item for part in parts for item in part]

    by_key = {item["key"]: item for item in answers}
    return {"vectors": [_entry(key, by_key.get(key), request) for key in request.keys]}


def fetch(
    operation: str, client: Any, index_arn: str, keys: list[str], data: bool, metadata: bool
) -> list[Any]:
    """The vectors one GetVectors call finds among `keys`, called on behalf of contract `operation`."""
    response: Any = call(
        operation,
        "GetVectors",
        client.get_vectors,
        indexArn=index_arn,
        keys=keys,
        returnData=data,
        returnMetadata=metadata,
    )
    return list(response.get("vectors") or ())


def _entry(key: str, item: Any, request: GetVectorsRequest) -> dict[str, Any]:
    entry: dict[str, Any] = {"key": nul_escape.encode(key), "found": item is not None}
    if request.return_data:
        data = None if item is None else (item.get("data") or {}).get("float32")
        entry["data"] = None if data is None else vector_data.exact(data)
    if request.return_metadata:
        entry["metadata"] = None if item is None else nul_escape.encode_metadata(item.get("metadata"))
    return entry
