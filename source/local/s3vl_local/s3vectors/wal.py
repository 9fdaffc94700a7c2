"""Append-only write-ahead log: every write request is framed, appended and fsynced before it is acknowledged.

Frame: u32 payload length, u32 CRC-32 of the payload, payload. Payload: u32 JSON length, the JSON record,
then an optional binary blob (the float32 rows of a PutVectors). The snapshot file uses the same frames.

The log's first record is {"op": "epoch", "epoch": N}: its records follow the snapshot of epoch N - 1
(see snapshot.py). A log without one (written before compaction existed) is epoch 1.

Reading classifies damage instead of guessing:
- a torn tail (a damaged frame with no intact frame after it: the last frame cut short or followed by
  zero bytes, as a crash during an append leaves it) was never acknowledged: it is cut off so later
  appends follow good data;
- a damaged frame with an intact frame after it is corruption of records that may have been
  acknowledged: reading stops with RecoveryError naming the file and byte offset. Nothing is skipped
  silently.

Group commit: appends are serialised by one lock, fsyncs by another; a writer whose frame was already
covered by another writer's fsync returns without its own.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_FRAME = struct.Struct("<II")
_JSON_LEN = struct.Struct("<I")
FILE_NAME = "wal.log"
EPOCH_OP = "epoch"


class RecoveryError(RuntimeError):
    """The data directory holds a record that cannot be read or applied: start-up stops, naming it."""


def encode_frame(record: dict[str, Any], blob: bytes = b"") -> bytes:
    """One frame; raises UnicodeEncodeError before anything is written if the record has no UTF-8 form."""
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    payload = b"".join((_JSON_LEN.pack(len(text)), text, blob))
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


class FrameReader:
    """Iterates the intact frames of `data` as (byte offset, record, blob); then `good` is the length
    of the intact prefix. A damaged frame with no intact frame after it (a torn tail) ends the
    prefix; one with an intact frame after it raises RecoveryError."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path = data, path
        self.good = 0

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any], bytes]]:
        data, offset = self.data, 0
        while offset < len(data):
            frame = _read_frame(data, offset)
            if isinstance(frame, str):
                self._damaged(offset, frame)
                break
            record, blob, end = frame
            yield offset, record, blob
            offset = self.good = end

    def _damaged(self, offset: int, problem: str) -> None:
        later = _next_intact_frame(self.data, offset + 1)
        if later is not None:
            raise RecoveryError(
                f"{self.path}: the frame at byte offset {offset} is damaged ({problem}) and an intact "
                f"record follows at byte offset {later}, so acknowledged writes may be lost; keep a copy "
                f"of the directory, then truncate the file at that offset (truncate -s {offset} "
                f"{self.path}) to drop this and every later record, or restore the directory from a backup"
            )


def _next_intact_frame(data: bytes, start: int) -> int | None:
    """The offset of the first intact frame at or after start, or None (a torn tail has none).

    Every record's JSON starts with '{"op":' (records are built with "op" first), so only the
    places where that text occurs are tried, not every byte; a damaged length field cannot hide
    the frames behind it.
    """
    marker = b'{"op":'
    header = _FRAME.size + _JSON_LEN.size
    position = data.find(marker, start + header)
    while position != -1:
        if not isinstance(_read_frame(data, position - header), str):
            return position - header
        position = data.find(marker, position + 1)
    return None


def _read_frame(data: bytes, offset: int) -> tuple[dict[str, Any], bytes, int] | str:
    """(record, blob, end offset) of the frame at offset, or what is wrong with it."""
    if offset + _FRAME.size > len(data):
        return "the frame header is cut short"
    length, crc = _FRAME.unpack_from(data, offset)
    start, end = offset + _FRAME.size, offset + _FRAME.size + length
    if length < _JSON_LEN.size:
        return f"payload length {length} is too short"
    if end > len(data):
        return f"payload length {length} runs past the end of the file"
    if zlib.crc32(data[start:end]) != crc:
        return "CRC-32 mismatch"
    (json_len,) = _JSON_LEN.unpack_from(data, start)
    body = start + _JSON_LEN.size
    if body + json_len > end:
        return f"record length {json_len} exceeds the payload"
    try:
        record = json.loads(data[body : body + json_len])
    except ValueError as e:
        return f"the record is not JSON: {e}"
    if not isinstance(record, dict) or not isinstance(record.get("op"), str):
        return "the record names no operation"
    return record, data[body + json_len : end], end


def fsync_directory(directory: Path) -> None:
    """Make a created, renamed or removed directory entry durable."""
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class WriteAheadLog:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / FILE_NAME
        existed = self.path.exists()
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        if not existed:
            fsync_directory(directory)
        self._append_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._appended = 0
        self._synced = 0
        with open(self.path, "rb") as f:
            self._reader: FrameReader | None = FrameReader(f.read(), self.path)
        self.size = len(self._reader.data)
        self._frames = iter(self._reader)
        # The epoch of the records on disk: None for an empty (or wholly torn) file.
        self._first = next(self._frames, None)
        self.epoch: int | None = None
        if self._first is not None:
            self.epoch = int(self._first[1]["epoch"]) if self._first[1]["op"] == EPOCH_OP else 1

    def records(self) -> Iterator[tuple[int, dict[str, Any], bytes]]:
        """Every intact record after the epoch header, as (byte offset, record, blob), in order.

        Call once, before any append. A torn tail is cut off; see the module docstring.
        """
        reader, self._reader = self._reader, None
        assert reader is not None, "records() reads the log once, at start-up"
        if self._first is not None and self._first[1]["op"] != EPOCH_OP:
            yield self._first
        yield from self._frames
        if reader.good < len(reader.data):
            os.ftruncate(self._fd, reader.good)
            os.fsync(self._fd)
            self.size = reader.good

    def append(self, frame: bytes) -> int:
        """Append one frame from encode_frame (not yet durable); returns its sequence number for sync()."""
        with self._append_lock:
            self._write(frame)
            self._appended += 1
            return self._appended

    def _write(self, frame: bytes) -> None:
        view = memoryview(frame)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self.size += len(frame)

    def sync(self, sequence: int) -> None:
        """Return once the record with this sequence number is on disk."""
        with self._sync_lock:
            if self._synced >= sequence:
                return
            target = self._appended
            os.fsync(self._fd)
            self._synced = target

    def reset(self, epoch: int) -> None:
        """Empty the log and start epoch `epoch` (its records follow the snapshot of epoch - 1).

        Callers make the snapshot durable first and hold every writer off. A crash after the
        truncate and before the header leaves an empty file, which recovery also accepts.
        """
        self._reader, self._frames = None, iter(())
        with self._append_lock, self._sync_lock:
            os.ftruncate(self._fd, 0)
            self.size = 0
            self._write(encode_frame({"op": EPOCH_OP, "epoch": epoch}))
            os.fsync(self._fd)
            # Records appended before the reset are in the snapshot, which is already durable.
            self._synced = self._appended
            self.epoch = epoch

    def close(self) -> None:
        os.close(self._fd)
