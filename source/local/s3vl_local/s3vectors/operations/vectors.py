"""Vector writes and reads: PutVectors, GetVectors, ListVectors, DeleteVectors."""

from __future__ import annotations

import bisect
import json
import zlib
from typing import Any

import numpy as np

from .. import pagination, validation
from ..catalog import Catalog, Index
from ..errors import ValidationException
from . import resources
from .resources import Request, Response

LIST_VECTORS_DEFAULT = 500
# botocore's ListVectors model: a page also ends once the processed data passes 1 MB (see list_size).
LIST_VECTORS_PAGE_BYTES = 1024 * 1024
_OTHER_LIST = (
    "This nextToken was issued for another index, segmentCount or segmentIndex: repeat the request that "
    "returned it, or omit nextToken to start over"
)


def PutVectors(catalog: Catalog, req: Request) -> Response:
    index = resources.index(catalog, req)
    keys: list[str] = []
    rows: list[np.ndarray] = []
    metadata: list[dict[str, Any] | None] = []
    for vector in req["vectors"]:
        what = f"Invalid record for key '{vector['key']}'"  # the service's prefix
        data = validation.vector_data(vector["data"], index.dimension, what)
        validation.reject_zero_for_cosine(data, index.metric, what)
        keys.append(vector["key"])
        rows.append(data)
        metadata.append(validation.metadata(vector.get("metadata"), index.non_filterable, what))
    catalog.put_vectors(index, keys, np.stack(rows), metadata)
    return {}


def GetVectors(catalog: Catalog, req: Request) -> Response:
    index = resources.index(catalog, req)
    with index.lock.read():
        store = index.store
        found = [store.rows[k] for k in dict.fromkeys(req["keys"]) if k in store.rows]
        vectors = [
            _output_vector(index, row, req.get("returnData"), req.get("returnMetadata")) for row in found
        ]
    return {"vectors": vectors}


def ListVectors(catalog: Catalog, req: Request) -> Response:
    index = resources.index(catalog, req)
    count, segment = req.get("segmentCount"), req.get("segmentIndex")
    if (count is None) != (segment is None):
        raise ValidationException("segmentCount and segmentIndex must be given together")
    count, segment = count or 1, segment or 0
    if segment >= count:
        raise ValidationException(f"segmentIndex {segment} must be less than segmentCount {count}")
    limit = req.get("maxResults") or LIST_VECTORS_DEFAULT
    with_data, with_metadata = bool(req.get("returnData")), bool(req.get("returnMetadata"))
    scope = json.dumps([index.arn, count, segment])
    state = pagination.resume(req, "ListVectors", scope, {"k": str}, _OTHER_LIST)
    after = state["k"] if state is not None else None
    with index.lock.read():
        store = index.store
        ordered = store.sorted_keys()
        position = bisect.bisect_right(ordered, after) if after is not None else 0
        page: list[str] = []
        size = 0
        more = False
        for key in ordered[position:]:
            if count > 1 and zlib.crc32(key.encode("utf-8")) % count != segment:
                continue
            if len(page) == limit or size > LIST_VECTORS_PAGE_BYTES:
                more = True
                break
            page.append(key)
            size += store.list_size(store.rows[key], with_data, with_metadata)
        rows = store.rows
        vectors = [_output_vector(index, rows[k], with_data, with_metadata) for k in page]
    response: Response = {"vectors": vectors}
    if more:
        response["nextToken"] = pagination.encode("ListVectors", scope, k=page[-1])
    return response


def DeleteVectors(catalog: Catalog, req: Request) -> Response:
    index = resources.index(catalog, req)
    catalog.delete_vectors(index, list(req["keys"]))
    return {}


def _output_vector(index: Index, row: int, data: bool | None, metadata: bool | None) -> Response:
    """One GetOutputVector / ListOutputVector from a stored row (callers hold the index's lock)."""
    item: Response = {"key": index.store.keys[row]}
    if data:
        item["data"] = {"float32": index.store.vector(row)}
    if metadata:
        item["metadata"] = index.store.metadata(row)
    return item
