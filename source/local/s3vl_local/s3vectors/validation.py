"""Checks the service makes beyond the model's shapes: names, ARNs, vector values, metadata limits."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from .errors import ValidationException

BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
INDEX_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
BUCKET_ARN = re.compile(r"arn:aws[-a-z0-9]*:s3vectors:[a-z0-9-]+:[0-9]{12}:bucket/(?P<bucket>[^/]+)")
INDEX_ARN = re.compile(
    r"arn:aws[-a-z0-9]*:s3vectors:[a-z0-9-]+:[0-9]{12}:bucket/(?P<bucket>[^/]+)/index/(?P<index>[^/]+)"
)

MAX_METADATA_BYTES = 40 * 1024
MAX_FILTERABLE_METADATA_BYTES = 2 * 1024
MAX_METADATA_KEYS = 50
MAX_TOP_K = 10_000
_NON_FINITE = frozenset({"NaN", "Infinity", "-Infinity"})


def bucket_name(name: str) -> str:
    return _name(name, BUCKET_NAME, "vector bucket", "a-z, 0-9 and '-'")


def index_name(name: str) -> str:
    return _name(name, INDEX_NAME, "index", "a-z, 0-9, '-' and '.'")


def _name(name: str, pattern: re.Pattern[str], kind: str, characters: str) -> str:
    if not pattern.fullmatch(name):
        raise ValidationException(
            f"Invalid {kind} name {name!r}: use 3-63 characters {characters}, "
            "starting and ending with a letter or digit"
        )
    return name


def parse_bucket_arn(arn: str) -> str:
    match = BUCKET_ARN.fullmatch(arn)
    if not match:
        raise ValidationException(
            f"Invalid vector bucket ARN {arn!r}: expected "
            "arn:<partition>:s3vectors:<region>:<account>:bucket/<name>"
        )
    return bucket_name(match["bucket"])


def parse_index_arn(arn: str) -> tuple[str, str]:
    match = INDEX_ARN.fullmatch(arn)
    if not match:
        raise ValidationException(
            f"Invalid index ARN {arn!r}: expected "
            "arn:<partition>:s3vectors:<region>:<account>:bucket/<bucket>/index/<index>"
        )
    return bucket_name(match["bucket"]), index_name(match["index"])


def float32_vector(values: Any, dimension: int, what: str) -> np.ndarray:
    """One vector as float32, rejecting wrong length, non-numbers, NaN and values beyond float32."""
    if not isinstance(values, list):
        raise ValidationException(f"{what}: data.float32 must be an array of numbers")
    if len(values) != dimension:
        raise ValidationException(
            f"{what}: vector must have length {dimension}, but has length {len(values)} "
            f"(the index's dimension is {dimension}; send vectors of that length)"
        )
    if not set(map(type, values)) <= {float, int}:
        # botocore sends non-finite floats as the strings "NaN", "Infinity" and "-Infinity".
        if any(isinstance(v, str) and v in _NON_FINITE for v in values):
            raise ValidationException(
                f"{what}: the vector contains NaN or Infinity; send finite float32 values"
            )
        raise ValidationException(f"{what}: every element of data.float32 must be a number")
    try:
        vector = np.asarray(values, dtype=np.float64)
    except OverflowError:
        # A JSON integer too large for a float (e.g. 1 followed by 400 zeros).
        raise ValidationException(
            f"{what}: the vector contains an integer beyond the float32 range; send finite float32 values"
        ) from None
    with np.errstate(over="ignore"):
        as32 = vector.astype(np.float32)
    if not np.isfinite(as32).all():
        raise ValidationException(
            f"{what}: the vector contains NaN, Infinity or a value beyond the float32 range; "
            "send finite float32 values"
        )
    return as32


def vector_data(data: Any, dimension: int, what: str) -> np.ndarray:
    if not isinstance(data, dict) or "float32" not in data:
        raise ValidationException(f'{what}: data must be {{"float32": [...]}}')
    return float32_vector(data["float32"], dimension, what)


def reject_zero_for_cosine(vector: np.ndarray, metric: str, what: str) -> None:
    if metric == "cosine" and not np.any(vector):
        raise ValidationException(
            f"{what}: a zero vector has no direction and cannot be used on a cosine index"
        )


def encryption(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """An encryptionConfiguration as stored (None: the default), refusing aws:kms without a key."""
    if config and config.get("sseType") == "aws:kms" and not config.get("kmsKeyArn"):
        raise ValidationException("encryptionConfiguration: sseType aws:kms needs kmsKeyArn")
    return config or None


def _utf8_size(value: Any, what: str) -> int:
    try:
        return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    except UnicodeEncodeError as e:
        # A lone UTF-16 surrogate (JSON "\ud800") has no UTF-8 form: it can be neither logged nor returned.
        raise ValidationException(
            f"{what}: metadata contains the lone UTF-16 surrogate {e.object[e.start : e.end]!r}, "
            "which is not valid Unicode; send surrogates only in high-low pairs"
        ) from None


def metadata(value: Any, non_filterable: frozenset[str], what: str) -> dict[str, Any] | None:
    """Check metadata values and limits; sizes are UTF-8 bytes of the compact JSON encoding."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationException(f"{what}: metadata must be a JSON object")
    if len(value) > MAX_METADATA_KEYS:
        raise ValidationException(
            f"{what}: metadata has {len(value)} keys; the limit is {MAX_METADATA_KEYS} keys per vector"
        )
    for key, item in value.items():
        if not key:
            raise ValidationException(f"{what}: metadata keys must not be empty")
        if isinstance(item, list):
            if not item:
                raise ValidationException(
                    f"{what}: metadata key {key!r} holds an empty list; omit the key instead"
                )
            if not all(_is_scalar(v) for v in item):
                raise ValidationException(
                    f"{what}: metadata key {key!r}: list elements must be strings, numbers or booleans"
                )
            for v in item:
                _finite_number(v, key, what)
        elif _is_number(item):
            _finite_number(item, key, what)
        elif not _is_scalar(item):
            raise ValidationException(
                f"{what}: metadata key {key!r} must be a string, number, boolean or non-empty list, "
                f"got {'null' if item is None else type(item).__name__}"
            )
    total = _utf8_size(value, what)
    if total > MAX_METADATA_BYTES:
        raise ValidationException(
            f"{what}: metadata is {total} bytes (UTF-8 JSON); "
            f"the limit is {MAX_METADATA_BYTES} bytes per vector"
        )
    filterable = {k: v for k, v in value.items() if k not in non_filterable}
    size = _utf8_size(filterable, what)
    if size > MAX_FILTERABLE_METADATA_BYTES:
        raise ValidationException(
            f"{what}: Filterable metadata must have at most {MAX_FILTERABLE_METADATA_BYTES} bytes "
            f"(it has {size} bytes of UTF-8 JSON; declare large keys in nonFilterableMetadataKeys)"
        )
    return value


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _finite_number(v: Any, key: str, what: str) -> None:
    """Metadata numbers are stored and compared as float64: refuse those that have no finite float64."""
    if not _is_number(v):
        return
    try:
        finite = math.isfinite(float(v))
    except OverflowError:  # an integer beyond about 1.8e308, e.g. 1 followed by 400 zeros
        finite = False
    if not finite:
        shown = repr(v) if isinstance(v, float) else f"an integer of {len(str(abs(v)))} digits"
        raise ValidationException(
            f"{what}: metadata key {key!r} holds {shown}, which is NaN, infinite or beyond the float64 "
            "range; send finite numbers between -1.7976931348623157e308 and 1.7976931348623157e308"
        )


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (str, bool, int, float))
