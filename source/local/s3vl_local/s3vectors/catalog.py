"""Vector buckets and indexes, and every state change, routed through the write-ahead log.

Each write is validated completely by the caller, checks its preconditions under a lock, appends a
record to the log, applies the same record to memory, releases the lock, then waits for the fsync
before the caller acknowledges. Applying a record must not fail: anything that could is refused
before the record is encoded.

On start, the snapshot's records and then the log's are applied in order, through the same
_apply_* methods; a record that cannot be applied stops start-up with a RecoveryError naming its
file and byte offset. Once the log outgrows both compact_min_bytes and the snapshot, the catalog is
compacted: a new snapshot replaces the old one and the log is emptied (see snapshot.py), so a
restart reads at most about twice the data plus compact_min_bytes, whatever the write history.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from s3vl_local import local_aws

from . import snapshot
from .errors import ConflictException, NotFoundException, ValidationException
from .rwlock import ReadWriteLock
from .storage import VectorStore
from .validation import INDEX_ARN, parse_bucket_arn, parse_index_arn
from .wal import RecoveryError, WriteAheadLog, encode_frame

DEFAULT_INDEX_MODE = "ENHANCED"
DEFAULT_ENCRYPTION = {"sseType": "AES256"}
# The log is compacted once it is larger than this and than the snapshot.
DEFAULT_COMPACT_MIN_BYTES = 1024 * 1024
# Rows per put_vectors record in a snapshot.
_SNAPSHOT_ROWS = 4096

log = logging.getLogger(__name__)


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


# What a create_bucket or create_index record holds: these attributes of the Bucket or Index, by name.
_BUCKET_FIELDS = ("name", "created", "encryption", "tags")
_INDEX_FIELDS = (
    "bucket",
    "name",
    "created",
    "dimension",
    "metric",
    "metadata_configuration",
    "encryption",
    "mode",
    "tags",
)


def _record(op: str, item: Bucket | Index, fields: tuple[str, ...]) -> dict[str, Any]:
    return {"op": op, **{name: getattr(item, name) for name in fields}}


def searchable_keys(metadata_configuration: dict[str, Any]) -> dict[str, str | None]:
    """Full-text searchable key -> its analyzer language (None: the default analyzer)."""
    configs = metadata_configuration.get("textSearchConfigurations", [])
    return {c["metadataKey"]: c.get("language") for c in configs}


class Catalog:
    def __init__(
        self,
        data_dir: Path | None,
        region: str = local_aws.REGION,
        account: str = local_aws.ACCOUNT,
        compact_min_bytes: int | None = DEFAULT_COMPACT_MIN_BYTES,
    ) -> None:
        """compact_min_bytes=None never compacts (the log then holds the whole history)."""
        self.region, self.account = region, account
        self._lock = threading.RLock()
        self._compact_lock = threading.Lock()
        # Shared by every write from its log record to its applied change; compaction takes it alone.
        self._writes = ReadWriteLock()
        self.buckets: dict[str, Bucket] = {}
        self.data_dir = data_dir
        self.compact_min_bytes = compact_min_bytes
        self._snapshot_size = 0
        self._wal: WriteAheadLog | None = None
        if data_dir is not None:
            try:
                self._recover(data_dir)
            except BaseException:
                self.close()
                raise

    def _recover(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        snapshot.discard_temp(data_dir)
        stored = snapshot.Snapshot(data_dir)
        self._replay(
            stored.path,
            stored.records(),
            "restore the data directory from a backup",
        )
        self._snapshot_size = stored.size
        wal = self._wal = WriteAheadLog(data_dir)
        if wal.epoch == stored.epoch + 1:
            self._replay(
                wal.path,
                wal.records(),
                f"keep a copy of the directory, then truncate the log at that offset "
                f"(truncate -s {{offset}} {wal.path}) to drop this and every later record",
            )
        elif wal.epoch is None or wal.epoch <= stored.epoch:
            # Empty, or a compaction stopped between the snapshot's rename and the log's reset: the
            # snapshot already holds every record of this log.
            wal.reset(stored.epoch + 1)
        else:
            raise RecoveryError(
                f"{wal.path} is epoch {wal.epoch}, which follows a snapshot of epoch {wal.epoch - 1}, "
                f"but {stored.path} is epoch {stored.epoch} (or missing): the data directory mixes files "
                "of different states; restore it from a backup"
            )
        if self._compaction_due():
            self.compact()

    def _replay(self, path: Path, records: Iterable[tuple[int, dict[str, Any], bytes]], fix: str) -> None:
        for number, (offset, record, blob) in enumerate(records, 1):
            try:
                self._apply(record, blob)
            except Exception as e:
                raise RecoveryError(
                    f"{path}: record {number} at byte offset {offset} ({record['op']}) cannot be applied "
                    f"({type(e).__name__}: {e}); the emulator does not start rather than lose or misapply "
                    f"acknowledged writes: {fix.format(offset=offset)}"
                ) from e

    def close(self) -> None:
        if self._wal is not None:
            self._wal.close()

    # -- compaction ------------------------------------------------------------------------------------
    def _compaction_due(self) -> bool:
        return (
            self._wal is not None
            and self.compact_min_bytes is not None
            and self._wal.size > max(self.compact_min_bytes, self._snapshot_size)
        )

    def compact(self) -> None:
        """Write a snapshot of the whole catalog, then empty the log. Writes wait meanwhile, reads do not."""
        self._compact(force=True)

    def _maybe_compact(self) -> None:
        if self._compaction_due():
            self._compact(force=False)

    def _compact(self, force: bool) -> None:
        wal, data_dir = self._wal, self.data_dir
        if wal is None or data_dir is None:
            return
        with self._compact_lock:
            # Writers that found compaction due while another compacted find it done.
            if not force and not self._compaction_due():
                return
            # Every write logs and applies holding _writes shared: with it held alone, no write is
            # half done and none can start, while lookups and queries go on.
            with self._writes.write():
                epoch = wal.epoch if wal.epoch is not None else 1
                started = time.monotonic()
                self._snapshot_size = snapshot.write(data_dir, epoch, self._state_records())
                wal.reset(epoch + 1)
        log.info(
            "compacted the log into a %d-byte snapshot (epoch %d) in %.3f s",
            self._snapshot_size,
            epoch,
            time.monotonic() - started,
        )

    def _state_records(self) -> Iterator[tuple[dict[str, Any], bytes]]:
        """Records that rebuild the current state from nothing, through the _apply_* methods."""
        for bucket in self.buckets.values():
            yield _record("create_bucket", bucket, _BUCKET_FIELDS), b""
            for attribute in ("default_mode", "policy"):
                value = getattr(bucket, attribute)
                yield (
                    {"op": "bucket_attribute", "name": bucket.name, "attribute": attribute, "value": value},
                    b"",
                )
            for index in bucket.indexes.values():
                yield _record("create_index", index, _INDEX_FIELDS), b""
                store = index.store
                # Row order is kept, so ties and ListVectors segments come out as before.
                for start in range(0, store.n, _SNAPSHOT_ROWS):
                    rows = range(start, min(start + _SNAPSHOT_ROWS, store.n))
                    yield (
                        {
                            "op": "put_vectors",
                            "bucket": bucket.name,
                            "name": index.name,
                            "keys": store.keys[rows.start : rows.stop],
                            "metadata": [store.metadata(row) or None for row in rows],
                        },
                        store.matrix()[rows.start : rows.stop].tobytes(),
                    )

    # -- lookups ---------------------------------------------------------------------------------------
    def bucket_arn(self, bucket: str) -> str:
        return f"arn:aws:s3vectors:{self.region}:{self.account}:bucket/{bucket}"

    def bucket(self, name: str) -> Bucket:
        with self._lock:
            found = self.buckets.get(name)
        if found is None:
            raise NotFoundException(
                f"The specified vector bucket could not be found: {name!r}; create it with CreateVectorBucket"
            )
        return found

    def index(self, bucket: str, name: str) -> Index:
        with self._lock:
            found = self.bucket(bucket).indexes.get(name)
        if found is None:
            raise NotFoundException(
                f"The specified index could not be found: {name!r} in vector bucket {bucket!r}; "
                "create it with CreateIndex"
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
        """Append the record; encoding comes first, so a record that cannot be encoded is not logged."""
        try:
            # Encoded without a log too, so in-memory and durable emulators refuse the same requests.
            frame = encode_frame(record, blob if self._wal is not None else b"")
        except UnicodeEncodeError as e:
            raise ValidationException(
                f"The request contains the lone UTF-16 surrogate {e.object[e.start : e.end]!r} "
                "(in a key, name, tag or setting), which is not valid Unicode; "
                "send surrogates only in high-low pairs"
            ) from None
        return self._wal.append(frame) if self._wal is not None else 0

    def _durable(self, sequence: int) -> None:
        if self._wal is not None:
            self._wal.sync(sequence)
            self._maybe_compact()

    def _control(self, record: dict[str, Any]) -> int:
        """Log and apply a record under the catalog lock (callers checked preconditions under it)."""
        sequence = self._log(record)
        self._apply(record, b"")
        return sequence

    def _apply(self, record: dict[str, Any], blob: bytes) -> None:
        getattr(self, f"_apply_{record['op']}")(record, blob)

    # -- buckets ---------------------------------------------------------------------------------------
    def create_bucket(self, name: str, encryption: dict[str, Any] | None, tags: dict[str, str] | None) -> str:
        with self._writes.read(), self._lock:
            if name in self.buckets:
                raise ConflictException(
                    f"A vector bucket with the specified name already exists: {name!r}; choose another name"
                )
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
        with self._writes.read(), self._lock:
            bucket = self.bucket(name)
            if bucket.indexes:
                raise ConflictException(
                    f"The specified vector bucket is not empty: {name!r} has {len(bucket.indexes)} "
                    "index(es); delete them first"
                )
            sequence = self._control({"op": "delete_bucket", "name": name})
        self._durable(sequence)

    def _apply_delete_bucket(self, r: dict[str, Any], _: bytes) -> None:
        del self.buckets[r["name"]]

    def set_bucket_attribute(self, name: str, attribute: str, value: Any) -> None:
        """policy (str | None) or default_mode."""
        with self._writes.read(), self._lock:
            bucket = self.bucket(name)
            if attribute == "policy" and value is None and bucket.policy is None:
                raise NotFoundException(
                    f"The specified vector bucket policy could not be found: {name!r} has none"
                )
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
        with self._writes.read(), self._lock:
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
        with self._writes.read(), self._lock:
            index = self.index(bucket, name)
            with index.lock.write():
                index.dropped = True
                sequence = self._control({"op": "delete_index", "bucket": bucket, "name": name})
        self._durable(sequence)

    def _apply_delete_index(self, r: dict[str, Any], _: bytes) -> None:
        del self.buckets[r["bucket"]].indexes[r["name"]]

    def set_index_attribute(self, bucket: str, name: str, attribute: str, value: Any) -> None:
        """mode or metadata_configuration."""
        with self._writes.read(), self._lock:
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
        with self._writes.read(), self._lock:
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
        with self._writes.read(), index.lock.write():
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
        with self._writes.read(), index.lock.write():
            self._live(index)
            sequence = self._log(
                {"op": "delete_vectors", "bucket": index.bucket, "name": index.name, "keys": keys}
            )
            index.store.delete(keys)
        self._durable(sequence)

    def _apply_delete_vectors(self, r: dict[str, Any], _: bytes) -> None:
        self.buckets[r["bucket"]].indexes[r["name"]].store.delete(r["keys"])
