"""The emulator's answers as JSON bytes.

Vector data comes as float64 numpy arrays (storage.py): orjson writes a GetVectors answer of 100 vectors of
768 dimensions from them in about 2.5 ms, where it takes 4 ms from lists of Python floats and json.dumps
over 100 ms. rank_vectors reads thousands of vectors in one call, and on the local stack the emulator's
CPU is the machine's, shared with the function's. Every writer here writes the shortest text that reads
back as the same float64 (the float32 value stored), as S3 Vectors does ("0.4000000059604645" for 0.4f),
so clients read the same values either way. An answer orjson cannot write (an integer beyond 64 bits in
metadata) is written by json.dumps.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson


def encode(payload: Any) -> bytes:
    try:
        return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    except orjson.JSONEncodeError:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=_array).encode("utf-8")


def _array(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")
