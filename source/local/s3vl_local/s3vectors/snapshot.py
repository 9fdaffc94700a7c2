"""The snapshot file: the whole catalog as the records that rebuild it, so the log can be emptied.

A snapshot of epoch N holds the state after every record of log epochs up to N. It is written in the
log's frame format: a header {"op": "snapshot", "epoch": N}, the state records (create_bucket,
bucket_attribute, create_index, put_vectors in row order), then {"op": "end", "records": count}.

Crash safety: the records go to snapshot.tmp, which is fsynced, renamed over snapshot.bin, and the
directory fsynced; only then may the caller empty the log. A crash before the rename leaves the old
snapshot and the full log; after it, the new snapshot and a log whose epoch it already covers (recovery
then ignores that log). A snapshot is complete or absent, so any damage in it is a RecoveryError.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .wal import FrameReader, RecoveryError, encode_frame, fsync_directory

FILE_NAME = "snapshot.bin"
TEMP_NAME = "snapshot.tmp"
_HEADER_OP, _END_OP = "snapshot", "end"
_BUFFER = 1 << 20


def write(directory: Path, epoch: int, records: Iterable[tuple[dict[str, Any], bytes]]) -> int:
    """Atomically replace the snapshot with these records; returns its size in bytes."""
    temp, final = directory / TEMP_NAME, directory / FILE_NAME
    count = 0
    with open(temp, "wb", buffering=_BUFFER) as f:
        f.write(encode_frame({"op": _HEADER_OP, "epoch": epoch}))
        for record, blob in records:
            f.write(encode_frame(record, blob))
            count += 1
        f.write(encode_frame({"op": _END_OP, "records": count}))
        f.flush()
        os.fsync(f.fileno())
        size = f.tell()
    os.replace(temp, final)
    fsync_directory(directory)
    return size


def discard_temp(directory: Path) -> None:
    """A snapshot.tmp is a compaction cut short before its rename: the log still holds its records."""
    (directory / TEMP_NAME).unlink(missing_ok=True)


class Snapshot:
    """The stored snapshot, if any: `epoch` (0 when there is none), `size`, and its records to apply."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME
        try:
            with open(self.path, "rb") as f:
                self._data = f.read()
        except FileNotFoundError:
            self._data = b""
        self.size = len(self._data)
        self.epoch = 0
        self._frames: Iterator[tuple[int, dict[str, Any], bytes]] = iter(())
        if self._data:
            self._frames = iter(FrameReader(self._data, self.path))
            try:
                header = next(self._frames, None)
            except RecoveryError as e:
                raise self._damaged(0, f"a frame is damaged: {e}") from None
            if header is None or header[1]["op"] != _HEADER_OP:
                raise self._damaged(0, "it does not start with a snapshot header")
            self.epoch = int(header[1]["epoch"])

    def records(self) -> Iterator[tuple[int, dict[str, Any], bytes]]:
        """The state records as (byte offset, record, blob); RecoveryError if the snapshot is not whole."""
        if not self._data:
            return
        count, end = 0, None
        try:
            for offset, record, blob in self._frames:
                if record["op"] == _END_OP:
                    end = (offset, record)
                    break
                count += 1
                yield offset, record, blob
        except RecoveryError as e:
            raise self._damaged(self.size, f"a frame is damaged: {e}") from None
        if end is None:
            raise self._damaged(self.size, "it ends before its end record")
        if end[1]["records"] != count or end[0] + len(encode_frame(end[1])) != self.size:
            raise self._damaged(end[0], f"its end record does not match the {count} records read")
        self._data = b""

    def _damaged(self, offset: int, problem: str) -> RecoveryError:
        return RecoveryError(
            f"{self.path}: the snapshot is damaged at byte offset {offset} ({problem}); it was fsynced "
            "before it replaced the previous one, so the disk or another program changed it: restore "
            "the data directory from a backup"
        )
