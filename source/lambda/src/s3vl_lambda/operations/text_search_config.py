"""configure_text_search: UpdateMetadataConfiguration adding (or deleting) one full-text searchable
metadata key, then the index as GetIndex reports it (a key added to an index with vectors is BUILDING).
Adding a key that is already configured with the same language is not an error, so a setup script can
run twice; with another language it stays S3 Vectors' conflict."""

from __future__ import annotations

from typing import Any

from ..clients import client_for
from ..errors import HandlerError
from ..text_requests import TextSearchConfigRequest
from .aws_call import call
from .get_index import describe


def run(request: TextSearchConfigRequest) -> dict[str, Any]:
    client = client_for(request.index.region)
    entry: dict[str, Any] = {"metadataKey": request.metadata_key}
    if request.language is not None:
        entry["language"] = request.language
    change = {"delete" if request.remove else "add": {"textSearchConfigurations": [entry]}}
    try:
        call(
            "configure_text_search",
            "UpdateMetadataConfiguration",
            # The installed type stubs predate the operation; botocore's model (and the client) has it.
            client.update_metadata_configuration,  # type: ignore[attr-defined]
            indexArn=request.index.arn,
            **change,
        )
    except HandlerError as exc:
        if exc.code != "CONFLICT" or request.remove:
            raise
        index = describe(request.index, "configure_text_search")
        configured = {c["metadata_key"]: c["language"] for c in index["text_search"]}
        if configured.get(request.metadata_key, object()) not in (request.language, None):
            raise
        return index
    return describe(request.index, "configure_text_search")
