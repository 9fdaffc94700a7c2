"""delete_vectors: DeleteVectors calls of at most 500 keys; deleting a missing key is not an error."""

from __future__ import annotations

from typing import Any

from .. import limits
from ..clients import client_for
from ..errors import HandlerError
from ..requests import DeleteRequest
from .aws_call import call


def run(request: DeleteRequest) -> dict[str, Any]:
    client = client_for(request.index.region)
    distinct = list(dict.fromkeys(request.keys))
    size = limits.service().delete_batch
    batches = [distinct[start : start + size] for start in range(0, len(distinct), size)]
    deleted = 0
    # Sequential, like put_vectors: a failure leaves a known prefix deleted.
    for batch in batches:
        try:
            call(
                "delete_vectors",
                "DeleteVectors",
                client.delete_vectors,
                indexArn=request.index.arn,
                keys=batch,
            )
        except HandlerError as exc:
            exc.note_applied(
                deleted,
                len(distinct),
                "keys were deleted",
                "DeleteVectors ignores missing keys, so the whole request can be retried",
            )
            raise
        deleted += len(batch)
    return {"deleted": deleted, "batches": len(batches)}
