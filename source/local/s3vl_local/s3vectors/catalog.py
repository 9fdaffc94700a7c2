"""Vector buckets and indexes, and every state change, routed through the write-ahead log.

Each write checks its preconditions under a lock, appends a record to the log, applies the same
record to memory, releases the lock, then waits for the fsync before the caller acknowledges. On
start, the log's records are applied again in order, through the same _apply_* methods.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from s3vl_local import local_aws

from .errors import ConflictException, NotFoundException
from .rwlock import ReadWriteLock
from .storage import VectorStore
from .validation import INDEX_ARN, parse_bucket_arn, parse_index_arn
from .wal import WriteAheadLog

DEFAULT_INDEX_MODE = "ENHANCED"
DEFAULT_ENCRYPTION = {"sseType": "AES256"}


@dataclass
class Index:
    bucket: str
    name: str
    arn: str
    created: float
    dimension: int
    metric: str
    metadata_configuration: dict[str, Any]
    encryption: dict[str, Any]
    mode: str
    tags: dict[str, str]
    store: VectorStore
    lock: ReadWriteLock = field(default_factory=ReadWriteLock)
    dropped: bool = False
    # (query fingerprint, store version) -> full ranking, so later pages of a query are cheap.
    query_cache: OrderedDict[tuple[str, int], list[Any]] = field(default_factory=OrderedDict)

    @property
    def non_filterable(self) -> frozenset[str]:
        return self.store.non_filterable


@dataclass
class Bucket:
    name: str
    arn: str
    created: float
    encryption: dict[str, Any]
    default_mode: str = DEFAULT_INDEX_MODE
    policy: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    indexes: dict[str, Index] = field(default_factory=dict)


def searchable_keys(metadata_configuration: dict[str, Any]) -> list[str]:
    return [c["metadataKey"] for c in metadata_configuration.get("textSearchConfigurations", [])]


class Catalog:
    def __init__(
        self, data_dir: Path | None, region: str = local_aws.REGION, account: str = local_aws.ACCOUNT
    ) -> None:
        self.region, self.account = region, account
        self._lock = threading.RLock()
        self.buckets: dict[str, Bucket] = {}
        self._wal = WriteAheadLog(data_dir) if data_dir is not None else None
        if self._wal is not None:
            for record, blob in self._wal.records():
                self._apply(record, blob)

    def close(self) -> None:
        if self._wal is not None:
            self._wal.close()

    # -- lookups ---------------------------------------------------------------------------------------
    def bucket_arn(self, bucket: str) -> str:
        return f"arn:aws:s3vectors:{self.region}:{self.account}:bucket/{bucket}"

    def bucket(self, name: str) -> Bucket:
        with self._lock:
            found = self.buckets.get(name)
        if found is None:
            raise NotFoundException(
                f"Vector bucket {name!r} does not exist; create it with CreateVectorBucket"
            )
        return found

    def index(self, bucket: str, name: str) -> Index:
        with self._lock:
            found = self.bucket(bucket).indexes.get(name)
        if found is None:
            raise NotFoundException(
                f"Index {name!r} does not exist in vector bucket {bucket!r}; create it with CreateIndex"
            )
        return found

    def list_buckets(self) -> dict[str, Bucket]:
        with self._lock:
            return dict(self.buckets)

    def list_indexes(self, bucket: str) -> dict[str, Index]:
        with self._lock:
            return dict(self.bucket(bucket).indexes)

    def _tagged(self, arn: str) -> Bucket | Index:
        if INDEX_ARN.fullmatch(arn):
            return self.index(*parse_index_arn(arn))
        return self.bucket(parse_bucket_arn(arn))

    # -- write path ------------------------------------------------------------------------------------
    def _log(self, record: dict[str, Any], blob: bytes = b"") -> int:
        return self._wal.append(record, blob) if self._wal is not None else 0

    def _durable(self, sequence: int) -> None:
        if self._wal is not None:
            self._wal.sync(sequence)

    def _control(self, record: dict[str, Any]) -> int:
        """Log and apply a record under the catalog lock (callers checked preconditions under it)."""
        sequence = self._log(record)
        self._apply(record, b"")
        return sequence

    def _apply(self, record: dict[str, Any], blob: bytes) -> None:
        getattr(self, f"_apply_{record['op']}")(record, blob)

    # -- buckets ---------------------------------------------------------------------------------------
    def create_bucket(self, name: str, encryption: dict[str, Any] | None, tags: dict[str, str] | None) -> str:
        with self._lock:
            if name in self.buckets:
                raise ConflictException(f"Vector bucket {name!r} already exists; choose another name")
            record = {
                "op": "create_bucket",
                "name": name,
                "created": time.time(),
                "encryption": encryption or DEFAULT_ENCRYPTION,
                "tags": tags or {},
            }
            sequence = self._control(record)
        self._durable(sequence)
        return self.bucket_arn(name)

    def _apply_create_bucket(self, r: dict[str, Any], _: bytes) -> None:
        self.buckets[r["name"]] = Bucket(
            r["name"], self.bucket_arn(r["name"]), r["created"], r["encryption"], tags=r["tags"]
        )

    def delete_bucket(self, name: str) -> None:
        with self._lock:
            bucket = self.bucket(name)
            if bucket.indexes:
                raise ConflictException(
                    f"Vector bucket {name!r} is not empty: delete its {len(bucket.indexes)} index(es) first"
                )
            sequence = self._control({"op": "delete_bucket", "name": name})
        self._durable(sequence)

    def _apply_delete_bucket(self, r: dict[str, Any], _: bytes) -> None:
        del self.buckets[r["name"]]

    def set_bucket_attribute(self, name: str, attribute: str, value: Any) -> None:
        """policy (str | None) or default_mode."""
        with self._lock:
            bucket = self.bucket(name)
            if attribute == "policy" and value is None and bucket.policy is None:
                raise NotFoundException(f"Vector bucket {name!r} has no bucket policy")
            sequence = self._control(
                {"op": "bucket_attribute", "name": name, "attribute": attribute, "value": value}
            )
        self._durable(sequence)

    def _apply_bucket_attribute(self, r: dict[str, Any], _: bytes) -> None:
        setattr(self.buckets[r["name"]], r["attribute"], r["value"])

    # -- indexes ---------------------------------------------------------------------------------------
    def create_index(
        self,
        bucket: str,
        name: str,
        dimension: int,
        metric: str,
        metadata_configuration: dict[str, Any],
        encryption: dict[str, Any] | None,
        tags: dict[str, str] | None,
    ) -> str:
        with self._lock:
            owner = self.bucket(bucket)
            if name in owner.indexes:
                raise ConflictException(f"Index {name!r} already exists in vector bucket {bucket!r}")
            record = {
                "op": "create_index",
                "bucket": bucket,
                "name": name,
                "created": time.time(),
                "dimension": dimension,
                "metric": metric,
                "metadata_configuration": metadata_configuration,
                "encryption": encryption or owner.encryption,
                "mode": owner.default_mode,
                "tags": tags or {},
            }
            sequence = self._control(record)
            arn = owner.indexes[name].arn
        self._durable(sequence)
        return arn

    def _apply_create_index(self, r: dict[str, Any], _: bytes) -> None:
        config = r["metadata_configuration"]
        store = VectorStore(
            r["dimension"], r["metric"], frozenset(config.get("nonFilterableMetadataKeys", []))
        )
        store.configure_text(searchable_keys(config))
        arn = f"{self.bucket_arn(r['bucket'])}/index/{r['name']}"
        self.buckets[r["bucket"]].indexes[r["name"]] = Index(
            r["bucket"],
            r["name"],
            arn,
            r["created"],
            r["dimension"],
            r["metric"],
            config,
            r["encryption"],
            r["mode"],
            r["tags"],
            store,
        )

    def delete_index(self, bucket: str, name: str) -> None:
        with self._lock:
            index = self.index(bucket, name)
            with index.lock.write():
                index.dropped = True
                sequence = self._control({"op": "delete_index", "bucket": bucket, "name": name})
        self._durable(sequence)

    def _apply_delete_index(self, r: dict[str, Any], _: bytes) -> None:
        del self.buckets[r["bucket"]].indexes[r["name"]]

    def set_index_attribute(self, bucket: str, name: str, attribute: str, value: Any) -> None:
        """mode or metadata_configuration."""
        with self._lock:
            self.index(bucket, name)
            sequence = self._control(
                {
                    "op": "index_attribute",
                    "bucket": bucket,
                    "name": name,
                    "attribute": attribute,
                    "value": value,
                }
            )
        self._durable(sequence)

    def _apply_index_attribute(self, r: dict[str, Any], _: bytes) -> None:
        index = self.buckets[r["bucket"]].indexes[r["name"]]
        if r["attribute"] != "metadata_configuration":
            setattr(index, r["attribute"], r["value"])
            return
        # Text search keys added or removed: the full-text indexes follow, built from stored metadata
        # (on restart too, so the log needs no records of its own for them).
        with index.lock.write():
            index.metadata_configuration = r["value"]
            index.store.configure_text(searchable_keys(r["value"]))

    # -- tags ------------------------------------------------------------------------------------------
    def tags(self, arn: str) -> dict[str, str]:
        return dict(self._tagged(arn).tags)

    def change_tags(self, arn: str, add: dict[str, str], remove: list[str]) -> None:
        with self._lock:
            self._tagged(arn)
            sequence = self._control({"op": "tags", "arn": arn, "add": add, "remove": remove})
        self._durable(sequence)

    def _apply_tags(self, r: dict[str, Any], _: bytes) -> None:
        target = self._tagged(r["arn"])
        target.tags.update(r["add"])
        for key in r["remove"]:
            target.tags.pop(key, None)

    # -- vectors ---------------------------------------------------------------------------------------
    def _live(self, index: Index) -> None:
        if index.dropped:
            raise NotFoundException(f"Index {index.name!r} was deleted from vector bucket {index.bucket!r}")

    def put_vectors(
        self, index: Index, keys: list[str], data: np.ndarray, metadata: list[dict[str, Any] | None]
    ) -> None:
        with index.lock.write():
            self._live(index)
            record = {
                "op": "put_vectors",
                "bucket": index.bucket,
                "name": index.name,
                "keys": keys,
                "metadata": metadata,
            }
            sequence = self._log(record, np.ascontiguousarray(data, dtype=np.float32).tobytes())
            index.store.put(keys, data, metadata)
        self._durable(sequence)

    def _apply_put_vectors(self, r: dict[str, Any], blob: bytes) -> None:
        index = self.buckets[r["bucket"]].indexes[r["name"]]
        data = np.frombuffer(blob, dtype=np.float32).reshape(len(r["keys"]), index.dimension)
        index.store.put(r["keys"], data, r["metadata"])

    def delete_vectors(self, index: Index, keys: list[str]) -> None:
        with index.lock.write():
            self._live(index)
            sequence = self._log(
                {"op": "delete_vectors", "bucket": index.bucket, "name": index.name, "keys": keys}
            )
            index.store.delete(keys)
        self._durable(sequence)

    def _apply_delete_vectors(self, r: dict[str, Any], _: bytes) -> None:
        self.buckets[r["bucket"]].indexes[r["name"]].store.delete(r["keys"])
