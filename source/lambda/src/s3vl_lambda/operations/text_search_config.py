"""configure_text_search: UpdateMetadataConfiguration adding (or deleting) one full-text searchable
metadata key, then the index as GetIndex reports it (a key added to an index with vectors is BUILDING)."""

from __future__ import annotations

from typing import Any

from ..clients import client_for
from ..text_requests import TextSearchConfigRequest
from .aws_call import call
from .get_index import describe


def run(request: TextSearchConfigRequest) -> dict[str, Any]:
    client = client_for(request.index.region)
    entry: dict[str, Any] = {"metadataKey": request.metadata_key}
    if request.language is not None:
        entry["language"] = request.language
    change = {"delete" if request.remove else "add": {"textSearchConfigurations": [entry]}}
    call(
        "configure_text_search",
        "UpdateMetadataConfiguration",
        # The installed type stubs predate the operation; botocore's model (and the client) has it.
        client.update_metadata_configuration,  # type: ignore[attr-defined]
        indexArn=request.index.arn,
        **change,
    )
    return describe(request.index, "configure_text_search")
