"""The emulator's answers as JSON bytes.

orjson writes a GetVectors answer of 100 vectors of 768 dimensions in about 5 ms where json.dumps takes
over 100 ms (the vectors are lists of Python floats, each formatted on its own); rank_vectors reads
thousands of vectors in one call, so this is most of its wait on the local stack. Both write the
shortest text that reads back as the same float64, so clients read the same values either way. An
answer orjson cannot write (an integer beyond 64 bits in metadata) is written by json.dumps.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def encode(payload: Any) -> bytes:
    try:
        return orjson.dumps(payload)
    except orjson.JSONEncodeError:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
