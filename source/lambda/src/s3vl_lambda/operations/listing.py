"""list_vectors: one ListVectors page, with the token for the next one."""

from __future__ import annotations

from typing import Any

from .. import nul_escape, vector_data
from ..clients import client_for
from ..requests import ListRequest
from .aws_call import call


def run(request: ListRequest) -> dict[str, Any]:
    client = client_for(request.index.region)
    params: dict[str, Any] = {
        "indexArn": request.index.arn,
        "maxResults": request.max_results,
        "returnData": request.return_data,
        "returnMetadata": request.return_metadata,
    }
    if request.next_token is not None:
        params["nextToken"] = request.next_token
    if request.segment is not None:
        params["segmentCount"], params["segmentIndex"] = request.segment
    response: Any = call("list_vectors", "ListVectors", client.list_vectors, **params)
    vectors = []
    for item in response.get("vectors") or ():
        row: dict[str, Any] = {"key": nul_escape.encode(item["key"])}
        if request.return_data:
            data = (item.get("data") or {}).get("float32")
            row["data"] = None if data is None else vector_data.exact(data)
        if request.return_metadata:
            row["metadata"] = nul_escape.encode_metadata(item.get("metadata"))
        vectors.append(row)
    return {"vectors": vectors, "next_token": response.get("nextToken") or None}
