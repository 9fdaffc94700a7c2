"""S3 Vectors operations: a validated request body in, the response body out.

The model check (model.validate_input) runs first in the server; these functions add the semantic
checks and call the catalog. Response members follow the botocore output shapes exactly.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import threading
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from . import filters, hybrid, index_modes, pagination, validation
from .catalog import Bucket, Catalog, Index
from .errors import ConflictException, NotFoundException, ValidationException
from .text_status import public as public_configuration
from .text_status import ready_at

# "Top-K results per QueryVectors request: up to 100" (service limits); larger topK pages by nextToken.
QUERY_PAGE_SIZE = 100
LIST_VECTORS_DEFAULT = 500
# botocore's ListVectors model: a page also ends once the processed data passes 1 MB (see list_size).
LIST_VECTORS_PAGE_BYTES = 1024 * 1024
LIST_NAMES_DEFAULT = 500
_QUERY_CACHE_ENTRIES = 8
# The service's wording (moto's AWS-verified tests) for a missing or doubled index selector.
_INDEX_SELECTOR = "Must specify either indexArn or both vectorBucketName and indexName"

Request = dict[str, Any]
Response = dict[str, Any]


class Operations:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._cache_lock = threading.Lock()
        self.handlers: dict[str, Callable[[Request], Response]] = {
            name: getattr(self, name)
            for name in dir(self)
            if name[:1].isupper() and callable(getattr(self, name))
        }

    # -- selectors -------------------------------------------------------------------------------------
    def _bucket_name(self, req: Request) -> str:
        name, arn = req.get("vectorBucketName"), req.get("vectorBucketArn")
        if (name is None) == (arn is None):
            raise ValidationException("Specify exactly one of vectorBucketName and vectorBucketArn")
        return validation.parse_bucket_arn(arn) if arn is not None else validation.bucket_name(name)

    def _bucket(self, req: Request) -> Bucket:
        return self.catalog.bucket(self._bucket_name(req))

    def _index(self, req: Request) -> Index:
        arn, bucket, name = req.get("indexArn"), req.get("vectorBucketName"), req.get("indexName")
        if arn is not None:
            if bucket is not None or name is not None:
                raise ValidationException(_INDEX_SELECTOR + " (not both)")
            return self.catalog.index(*validation.parse_index_arn(arn))
        if bucket is None or name is None:
            raise ValidationException(_INDEX_SELECTOR)
        return self.catalog.index(validation.bucket_name(bucket), validation.index_name(name))

    # -- buckets ---------------------------------------------------------------------------------------
    def CreateVectorBucket(self, req: Request) -> Response:
        name = validation.bucket_name(req["vectorBucketName"])
        encryption = _encryption(req.get("encryptionConfiguration"))
        return {"vectorBucketArn": self.catalog.create_bucket(name, encryption, req.get("tags"))}

    def GetVectorBucket(self, req: Request) -> Response:
        b = self._bucket(req)
        return {
            "vectorBucket": {
                "vectorBucketName": b.name,
                "vectorBucketArn": b.arn,
                "creationTime": b.created,
                "encryptionConfiguration": b.encryption,
                "defaultIndexMode": b.default_mode,
            }
        }

    def ListVectorBuckets(self, req: Request) -> Response:
        page, token = _name_page(self.catalog.list_buckets(), req, "ListVectorBuckets", "")
        summaries = [
            {"vectorBucketName": b.name, "vectorBucketArn": b.arn, "creationTime": b.created} for b in page
        ]
        return {"vectorBuckets": summaries, **token}

    def DeleteVectorBucket(self, req: Request) -> Response:
        self.catalog.delete_bucket(self._bucket_name(req))
        return {}

    def PutVectorBucketPolicy(self, req: Request) -> Response:
        try:
            json.loads(req["policy"])
        except ValueError as e:
            raise ValidationException(f"The bucket policy is not valid JSON: {e}") from None
        except RecursionError:
            raise ValidationException("The bucket policy nests too deeply to parse as JSON") from None
        self.catalog.set_bucket_attribute(self._bucket_name(req), "policy", req["policy"])
        return {}

    def GetVectorBucketPolicy(self, req: Request) -> Response:
        bucket = self._bucket(req)
        if bucket.policy is None:
            raise NotFoundException(
                f"The specified vector bucket policy could not be found: {bucket.name!r} has none; "
                "add one with PutVectorBucketPolicy"
            )
        return {"policy": bucket.policy}

    def DeleteVectorBucketPolicy(self, req: Request) -> Response:
        self.catalog.set_bucket_attribute(self._bucket_name(req), "policy", None)
        return {}

    def PutVectorBucketDefaultIndexMode(self, req: Request) -> Response:
        self.catalog.set_bucket_attribute(self._bucket_name(req), "default_mode", req["defaultIndexMode"])
        return {}

    # -- indexes ---------------------------------------------------------------------------------------
    def CreateIndex(self, req: Request) -> Response:
        bucket = self._bucket_name(req)
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
        arn = self.catalog.create_index(
            bucket,
            name,
            req["dimension"],
            req["distanceMetric"],
            stored,
            _encryption(req.get("encryptionConfiguration")),
            req.get("tags"),
        )
        return {"indexArn": arn}

    def GetIndex(self, req: Request) -> Response:
        i = self._index(req)
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

    def ListIndexes(self, req: Request) -> Response:
        bucket = self._bucket_name(req)
        page, token = _name_page(self.catalog.list_indexes(bucket), req, "ListIndexes", bucket)
        summaries = [
            {"vectorBucketName": i.bucket, "indexName": i.name, "indexArn": i.arn, "creationTime": i.created}
            for i in page
        ]
        return {"indexes": summaries, **token}

    def DeleteIndex(self, req: Request) -> Response:
        index = self._index(req)
        self.catalog.delete_index(index.bucket, index.name)
        return {}

    def UpdateIndexMode(self, req: Request) -> Response:
        index = self._index(req)
        self.catalog.set_index_attribute(index.bucket, index.name, "mode", req["indexMode"])
        return {}

    def UpdateMetadataConfiguration(self, req: Request) -> Response:
        index = self._index(req)
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
                raise ValidationException(
                    f"No text search configuration for metadata key(s) {sorted(missing)}"
                )
            current = [c for c in current if c["metadataKey"] not in drop]
        if current:
            config["textSearchConfigurations"] = current
        else:
            config.pop("textSearchConfigurations", None)
        self.catalog.set_index_attribute(index.bucket, index.name, "metadata_configuration", config)
        return {"indexArn": index.arn}

    # -- tags ------------------------------------------------------------------------------------------
    def ListTagsForResource(self, req: Request) -> Response:
        return {"tags": self.catalog.tags(req["resourceArn"])}

    def TagResource(self, req: Request) -> Response:
        self.catalog.change_tags(req["resourceArn"], req["tags"], [])
        return {}

    def UntagResource(self, req: Request) -> Response:
        self.catalog.change_tags(req["resourceArn"], {}, list(req["tagKeys"]))
        return {}

    # -- vectors ---------------------------------------------------------------------------------------
    def PutVectors(self, req: Request) -> Response:
        index = self._index(req)
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
        self.catalog.put_vectors(index, keys, np.stack(rows), metadata)
        return {}

    def GetVectors(self, req: Request) -> Response:
        index = self._index(req)
        with index.lock.read():
            store = index.store
            found = [store.rows[k] for k in dict.fromkeys(req["keys"]) if k in store.rows]
            vectors = [
                _output_vector(index, row, req.get("returnData"), req.get("returnMetadata")) for row in found
            ]
        return {"vectors": vectors}

    def ListVectors(self, req: Request) -> Response:
        index = self._index(req)
        count, segment = req.get("segmentCount"), req.get("segmentIndex")
        if (count is None) != (segment is None):
            raise ValidationException("segmentCount and segmentIndex must be given together")
        count, segment = count or 1, segment or 0
        if segment >= count:
            raise ValidationException(f"segmentIndex {segment} must be less than segmentCount {count}")
        limit = req.get("maxResults") or LIST_VECTORS_DEFAULT
        with_data, with_metadata = bool(req.get("returnData")), bool(req.get("returnMetadata"))
        scope = json.dumps([index.arn, count, segment])
        after: str | None = None
        if req.get("nextToken"):
            state = pagination.decode(
                req["nextToken"],
                "ListVectors",
                scope,
                {"k": str},
                "This nextToken was issued for another index, segmentCount or segmentIndex: repeat the "
                "request that returned it, or omit nextToken to start over",
            )
            after = state["k"]
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

    def DeleteVectors(self, req: Request) -> Response:
        index = self._index(req)
        self.catalog.delete_vectors(index, list(req["keys"]))
        return {}

    def QueryVectors(self, req: Request) -> Response:
        index = self._index(req)
        top_k = req["topK"]
        if top_k > validation.MAX_TOP_K:
            raise ValidationException(f"topK is {top_k}; the maximum is {validation.MAX_TOP_K}")
        texts = req.get("queryTexts") or None
        if texts is None and req.get("queryVector") is None:
            raise ValidationException(
                "Give queryVector (vector search), queryTexts (full-text search) or both (hybrid search)"
            )
        query: np.ndarray | None = None
        if req.get("queryVector") is not None:
            query = validation.vector_data(req["queryVector"], index.dimension, "queryVector")
            validation.reject_zero_for_cosine(query, index.metric, "queryVector")
        mode = req.get("queryMode") or index.mode
        if index.mode == "ENHANCED" and mode == "CLASSIC":
            raise ValidationException("queryMode CLASSIC cannot be used on an ENHANCED index; omit queryMode")
        if texts is not None:
            parsed = hybrid.parse_texts(texts, index.mode, index.metadata_configuration)
        document = req.get("filter")
        node = filters.parse_filter(document, index.non_filterable) if document is not None else None
        if (
            node is not None
            and mode == "CLASSIC"
            and filters.uses_operator(node, filters.ENHANCED_ONLY_OPERATORS)
        ):
            raise ValidationException("$startsWith needs ENHANCED query mode; call UpdateIndexMode first")
        query64 = query.astype(np.float64) if query is not None else None
        what = [index.arn, query.tobytes().hex() if query is not None else None, top_k, document, mode]
        if texts is not None:
            what.append(texts)
        fingerprint = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()
        offset = 0
        if req.get("nextToken"):
            state = pagination.decode(
                req["nextToken"],
                "QueryVectors",
                fingerprint,
                {"o": int},
                "This nextToken belongs to a different query: repeat the same queryVector, queryTexts, "
                "topK, filter and queryMode with it, or start again without nextToken",
            )
            offset = state["o"]
            if not (0 < offset < top_k and offset % QUERY_PAGE_SIZE == 0):
                raise pagination.invalid("QueryVectors", f"its offset {offset} is not a page of topK {top_k}")
        if texts is not None:
            return self._text_query(req, index, fingerprint, offset, query64, top_k, node, parsed)
        assert query64 is not None
        with index.lock.read():
            ranked = self._ranking(index, fingerprint, query64, top_k, node, mode)
            page = ranked[offset : offset + QUERY_PAGE_SIZE]
            rows = index.store.rows
            vectors = []
            for distance, key in page:
                item: Response = {"key": key}
                if req.get("returnDistance"):
                    item["distance"] = distance
                if req.get("returnMetadata"):
                    item["metadata"] = index.store.metadata(rows[key])
                vectors.append(item)
        response: Response = {"vectors": vectors, "distanceMetric": index.metric}
        if offset + QUERY_PAGE_SIZE < len(ranked):
            response["nextToken"] = pagination.encode("QueryVectors", fingerprint, o=offset + QUERY_PAGE_SIZE)
        return response

    def _text_query(
        self,
        req: Request,
        index: Index,
        fingerprint: str,
        offset: int,
        query: np.ndarray | None,
        top_k: int,
        node: filters.Node | None,
        texts: list[tuple[str, str]],
    ) -> Response:
        """A full-text-only or hybrid query (see hybrid.py for the ranking)."""
        with index.lock.read():

            def compute() -> list[Any]:
                mask = index.store.filter_mask(node) if node is not None else None
                return hybrid.rank(index.store, query, top_k, mask, texts)

            ranked = self._cached(index, fingerprint, compute)
            flags = [bool(req.get(f"return{name}")) for name in ("Distance", "Scores", "Metadata")]
            vectors = [hybrid.output(hit, index, *flags) for hit in ranked[offset : offset + QUERY_PAGE_SIZE]]
        response: Response = {"vectors": vectors, "distanceMetric": index.metric}
        if offset + QUERY_PAGE_SIZE < len(ranked):
            response["nextToken"] = pagination.encode("QueryVectors", fingerprint, o=offset + QUERY_PAGE_SIZE)
        return response

    def _ranking(
        self,
        index: Index,
        fingerprint: str,
        query: np.ndarray,
        top_k: int,
        node: filters.Node | None,
        mode: str,
    ) -> list[tuple[float, str]]:
        """The full top-k vector ranking; a filter follows the index mode (index_modes.py)."""

        def compute() -> list[Any]:
            if node is None:
                return index.store.search(query, top_k, None)
            mask = index.store.filter_mask(node)
            return index_modes.filtered_search(index.store, query, top_k, mask, mode, fingerprint)

        return self._cached(index, fingerprint, compute)

    def _cached(self, index: Index, fingerprint: str, compute: Callable[[], list[Any]]) -> list[Any]:
        """A full ranking; multi-page rankings are cached per index state for the later pages."""
        key = (fingerprint, index.store.version)
        with self._cache_lock:
            cached = index.query_cache.get(key)
        if cached is not None:
            return cached
        ranked = compute()
        if len(ranked) > QUERY_PAGE_SIZE:
            with self._cache_lock:
                index.query_cache[key] = ranked
                while len(index.query_cache) > _QUERY_CACHE_ENTRIES:
                    index.query_cache.popitem(last=False)
        return ranked


def _output_vector(index: Index, row: int, data: bool | None, metadata: bool | None) -> Response:
    item: Response = {"key": index.store.keys[row]}
    if data:
        item["data"] = {"float32": index.store.vector(row)}
    if metadata:
        item["metadata"] = index.store.metadata(row)
    return item


def _encryption(config: dict[str, Any] | None) -> dict[str, Any] | None:
    if config and config.get("sseType") == "aws:kms" and not config.get("kmsKeyArn"):
        raise ValidationException("encryptionConfiguration: sseType aws:kms needs kmsKeyArn")
    return config or None


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


def _name_page(items: dict[str, Any], req: Request, kind: str, owner: str) -> tuple[list[Any], Response]:
    """One page of buckets or indexes (of bucket `owner`) in name order, with the prefix filter and a
    continuation token."""
    prefix = req.get("prefix") or ""
    scope = json.dumps([owner, prefix])
    names = sorted(n for n in items if n.startswith(prefix))
    if req.get("nextToken"):
        state = pagination.decode(
            req["nextToken"],
            kind,
            scope,
            {"n": str},
            "This nextToken was issued for another vector bucket or prefix: repeat the request that "
            "returned it, or omit nextToken to start over",
        )
        names = names[bisect.bisect_right(names, state["n"]) :]
    limit = req.get("maxResults") or LIST_NAMES_DEFAULT
    page = names[:limit]
    token = {"nextToken": pagination.encode(kind, scope, n=page[-1])} if len(names) > limit else {}
    return [items[n] for n in page], token
