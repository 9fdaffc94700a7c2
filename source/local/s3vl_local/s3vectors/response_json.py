"""The emulator's answers as JSON bytes.

Vector data comes as VectorText, the JSON text of the vector's values (written once by this module
from a float64 numpy array and kept while the vector is unchanged), or as a float64 array. orjson writes a
GetVectors answer of 100 vectors of 768 dimensions from the arrays in about 2.5 ms, where it takes 4 ms
from lists of Python floats and json.dumps over 100 ms; from kept text it takes 0.2 ms. Every writer here
writes the shortest text that reads back as the same float64 (the float32 value stored), as S3 Vectors
does ("0.4000000059604645" for 0.4f), so clients read the same values either way. An answer orjson cannot
write (an integer beyond 64 bits in metadata) is written by json.dumps.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson


class VectorText:
    """A stored vector's data as an answer writes it: the JSON text of its float32 values as float64, the
    digits S3 Vectors writes ("0.4000000059604645" for 0.4f). storage.py keeps it; encode writes it as it
    is."""

    __slots__ = ("text",)

    def __init__(self, text: bytes) -> None:
        self.text = text


def encode(payload: Any) -> bytes:
    """`payload` as JSON; its float64 arrays as their lists and its VectorText as that text."""
    try:
        return orjson.dumps(payload, default=_fragment, option=orjson.OPT_SERIALIZE_NUMPY)
    except orjson.JSONEncodeError:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=_value).encode("utf-8")


def _fragment(value: Any) -> Any:
    if isinstance(value, VectorText):
        return orjson.Fragment(value.text)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _value(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, VectorText):
        return json.loads(value.text)
    raise TypeError(f"{type(value).__name__} is not JSON")
