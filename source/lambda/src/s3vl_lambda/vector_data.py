"""Vector data as S3 Vectors stores it, float32, and the fast decoding of large GetVectors answers.

The service may write a stored float32 in its shortest decimal form ("0.1"), which Python reads as the
nearest float64 (0.1), not as the stored value (0.100000001490116...). `exact` rounds such values back to
float32, so distances and the vectors returned to SQL are the stored values whatever digits the service
writes.

`loads` decodes JSON, and `dumps` encodes it, with orjson when the deployment zip carries it (package.sh
vendors it for the template's runtime): a GetVectors answer of 100 vectors of 768 dimensions decodes about
7 times faster than with the standard json module, which is most of rank_vectors' CPU. Without orjson
(another architecture, a hand-built zip) the standard module does the same, more slowly.
"""

from __future__ import annotations

import json
import struct
from array import array
from collections.abc import Sequence
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - exercised by the fallback test with orjson hidden
    orjson = None  # type: ignore[assignment]

DECODER = "orjson" if orjson is not None else "json"


def loads(body: bytes) -> Any:
    """The JSON value of `body`, for answers without metadata: orjson reads an integer beyond 64 bits as a
    float, which a metadata value could be. A document orjson refuses (a lone surrogate escape, which
    RFC 8259 leaves undefined) is decoded by json, as the SDK would."""
    if orjson is not None:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body)


def dumps(value: Any) -> bytes:
    """`value` (strings, numbers, lists, objects of them) as JSON: a rank_vectors slice request, 1,000 keys
    and a query vector, in 0.05 ms with orjson against 0.7 ms with json."""
    if orjson is not None:
        return orjson.dumps(value)
    return json.dumps(value).encode()


def exact(values: Sequence[float]) -> list[float]:
    """`values` rounded to float32, the values the service stores (C speed: 2.6 ms for 76,800)."""
    return array("f", values).tolist()


def float32(value: float) -> float:
    """`value` rounded to the nearest float32, as the service reports a distance."""
    rounded: float = struct.unpack("f", struct.pack("f", value))[0]
    return rounded
