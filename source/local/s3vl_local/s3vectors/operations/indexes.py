"""Index operations: create, describe, list and delete, the index mode, the metadata configuration."""

from __future__ import annotations

from typing import Any

from .. import pagination, validation
from ..catalog import Catalog
from ..errors import ConflictException, ValidationException
from ..text_status import public as public_configuration
from ..text_status import ready_at
from . import resources
from .resources import Request, Response


def CreateIndex(catalog: Catalog, req: Request) -> Response:
    bucket = resources.bucket_name(req)
    name = validation.index_name(req["indexName"])
    config = req.get("metadataConfiguration") or {}
    non_filterable = config.get("nonFilterableMetadataKeys") or []
    if len(set(non_filterable)) != len(non_filterable):
        raise ValidationException("metadataConfiguration.nonFilterableMetadataKeys must not repeat a key")
    stored: dict[str, Any] = {}
    if non_filterable:
        stored["nonFilterableMetadataKeys"] = list(non_filterable)
    if config.get("textSearchConfigurations"):
        # A new index has nothing to backfill: its text keys are ACTIVE at once.
        stored["textSearchConfigurations"] = _text_search(config["textSearchConfigurations"], [], None)
    arn = catalog.create_index(
        bucket,
        name,
        req["dimension"],
        req["distanceMetric"],
        stored,
        validation.encryption(req.get("encryptionConfiguration")),
        req.get("tags"),
    )
    return {"indexArn": arn}


def GetIndex(catalog: Catalog, req: Request) -> Response:
    i = resources.index(catalog, req)
    index: Response = {
        "vectorBucketName": i.bucket,
        "indexName": i.name,
        "indexArn": i.arn,
        "creationTime": i.created,
        "dataType": "float32",
        "dimension": i.dimension,
        "distanceMetric": i.metric,
        "encryptionConfiguration": i.encryption,
        "indexMode": i.mode,
    }
    if i.metadata_configuration:
        index["metadataConfiguration"] = public_configuration(i.metadata_configuration)
    return {"index": index}


def ListIndexes(catalog: Catalog, req: Request) -> Response:
    bucket = resources.bucket_name(req)
    page, token = pagination.name_page(catalog.list_indexes(bucket), req, "ListIndexes", bucket)
    summaries = [
        {"vectorBucketName": i.bucket, "indexName": i.name, "indexArn": i.arn, "creationTime": i.created}
        for i in page
    ]
    return {"indexes": summaries, **token}


def DeleteIndex(catalog: Catalog, req: Request) -> Response:
    index = resources.index(catalog, req)
    catalog.delete_index(index.bucket, index.name)
    return {}


def UpdateIndexMode(catalog: Catalog, req: Request) -> Response:
    index = resources.index(catalog, req)
    catalog.set_index_attribute(index.bucket, index.name, "mode", req["indexMode"])
    return {}


def UpdateMetadataConfiguration(catalog: Catalog, req: Request) -> Response:
    index = resources.index(catalog, req)
    add, delete = req.get("add"), req.get("delete")
    if (add is None) == (delete is None):
        raise ValidationException("Specify exactly one of add and delete")
    if index.mode != "ENHANCED":
        raise ValidationException(
            "Text search configurations need an ENHANCED index; call UpdateIndexMode first"
        )
    config = dict(index.metadata_configuration)
    current = list(config.get("textSearchConfigurations", []))
    if add is not None:
        ready = ready_at(index.store.n)
        current = _text_search(add.get("textSearchConfigurations") or [], current, ready)
    else:
        drop = {item["metadataKey"] for item in delete.get("textSearchConfigurations") or []}
        missing = drop - {c["metadataKey"] for c in current}
        if missing:
            raise ValidationException(f"No text search configuration for metadata key(s) {sorted(missing)}")
        current = [c for c in current if c["metadataKey"] not in drop]
    if current:
        config["textSearchConfigurations"] = current
    else:
        config.pop("textSearchConfigurations", None)
    catalog.set_index_attribute(index.bucket, index.name, "metadata_configuration", config)
    return {"indexArn": index.arn}


def _text_search(
    add: list[dict[str, Any]], current: list[dict[str, Any]], ready: float | None
) -> list[dict[str, Any]]:
    """The configurations after adding `add`; new keys are BUILDING until `ready` (None: ACTIVE)."""
    result = list(current)
    known = {c["metadataKey"] for c in current}
    for item in add:
        if item["metadataKey"] in known:
            raise ConflictException(
                f"Metadata key {item['metadataKey']!r} already has a text search configuration"
            )
        known.add(item["metadataKey"])
        entry: dict[str, Any] = {"metadataKey": item["metadataKey"]}
        if ready is not None:
            entry["readyAt"] = ready  # GetIndex shows BUILDING until then (text_status.py)
        if item.get("language"):
            entry["language"] = item["language"]
        result.append(entry)
    return result
