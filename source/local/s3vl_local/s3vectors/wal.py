"""Append-only write-ahead log: every write request is framed, appended and fsynced before it is acknowledged.

Frame: u32 payload length, u32 CRC-32 of the payload, payload. Payload: u32 JSON length, the JSON record,
then an optional binary blob (the float32 rows of a PutVectors). Replay stops at the first torn or
corrupt frame (a write that was never acknowledged) and truncates the file there.

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


class WriteAheadLog:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / FILE_NAME
        existed = self.path.exists()
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        if not existed:
            # Make the new file's directory entry durable too.
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        self._append_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._appended = 0
        self._synced = 0

    def records(self) -> Iterator[tuple[dict[str, Any], bytes]]:
        """Every intact record in order; a torn tail is cut off so later appends follow good data."""
        with open(self.path, "rb") as f:
            data = f.read()
        offset = 0
        while offset + _FRAME.size <= len(data):
            length, crc = _FRAME.unpack_from(data, offset)
            start, end = offset + _FRAME.size, offset + _FRAME.size + length
            if end > len(data) or zlib.crc32(data[start:end]) != crc:
                break
            (json_len,) = _JSON_LEN.unpack_from(data, start)
            body = start + _JSON_LEN.size
            yield json.loads(data[body : body + json_len]), bytes(data[body + json_len : end])
            offset = end
        if offset < len(data):
            os.ftruncate(self._fd, offset)
            os.fsync(self._fd)

    def append(self, record: dict[str, Any], blob: bytes = b"") -> int:
        """Append one record (not yet durable); returns its sequence number for sync()."""
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        payload = b"".join((_JSON_LEN.pack(len(text)), text, blob))
        frame = _FRAME.pack(len(payload), zlib.crc32(payload)) + payload
        with self._append_lock:
            view = memoryview(frame)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            self._appended += 1
            return self._appended

    def sync(self, sequence: int) -> None:
        """Return once the record with this sequence number is on disk."""
        with self._sync_lock:
            if self._synced >= sequence:
                return
            target = self._appended
            os.fsync(self._fd)
            self._synced = target

    def close(self) -> None:
        os.close(self._fd)
