"""delete_vectors: DeleteVectors calls of at most 500 keys; deleting a missing key is not an error."""

from __future__ import annotations

from typing import Any

from .. import limits
from ..clients import client_for
from ..requests import DeleteRequest
from .aws_call import call


def run(request: DeleteRequest) -> dict[str, Any]:
    client = client_for(request.index.region)
    distinct = list(dict.fromkeys(request.keys))
    size = limits.service().delete_batch
    batches = [distinct[start : start + size] for start in range(0, len(distinct), size)]
    for batch in batches:
        call("delete_vectors", "DeleteVectors", client.delete_vectors, indexArn=request.index.arn, keys=batch)
    return {"deleted": len(distinct), "batches": len(batches)}
