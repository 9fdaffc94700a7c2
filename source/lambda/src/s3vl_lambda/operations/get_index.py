"""get_index: the index's dimension, metric and metadata configuration (GetIndex)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..clients import client_for
from ..requests import GetIndexRequest
from ..validation import IndexArn
from .aws_call import call


def describe(index: IndexArn, operation: str) -> dict[str, Any]:
    """GetIndex, shaped as the contract's get_index result."""
    client = client_for(index.region)
    response = call(operation, "GetIndex", client.get_index, indexArn=index.arn)
    found: Any = response["index"]
    created = found.get("creationTime")
    metadata_configuration = found.get("metadataConfiguration") or {}
    return {
        "index_arn": found.get("indexArn", index.arn),
        "bucket_name": found.get("vectorBucketName", index.bucket),
        "index_name": found.get("indexName", index.index),
        "dimension": found.get("dimension"),
        "distance_metric": found.get("distanceMetric"),
        "data_type": found.get("dataType"),
        "index_mode": found.get("indexMode"),
        "non_filterable_metadata_keys": list(metadata_configuration.get("nonFilterableMetadataKeys") or []),
        "text_search": [
            {"metadata_key": c.get("metadataKey"), "language": c.get("language"), "status": c.get("status")}
            for c in metadata_configuration.get("textSearchConfigurations") or ()
        ],
        "creation_time": created.isoformat() if isinstance(created, datetime) else created,
    }


def run(request: GetIndexRequest) -> dict[str, Any]:
    return describe(request.index, "get_index")
