"""Field validators: every check runs before any AWS call, each cause with its own contract code."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from . import limits, nul_escape
from .errors import HandlerError

_JSON_TYPE_NAMES = {
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


def json_type(value: Any) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def wrong_type(name: str, expected: str, value: Any) -> HandlerError:
    return HandlerError(
        "INVALID_FIELD_TYPE", f"{name} must be {expected}, got {json_type(value)}: send {expected}"
    )


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def magnitude(number: float) -> float:
    """|number| as a double; integers beyond the double range count as infinite."""
    try:
        return abs(float(number))
    except OverflowError:
        return math.inf


def required(event: dict[str, Any], name: str) -> Any:
    value = event.get(name)
    if value is None:
        raise HandlerError("MISSING_FIELD", f"{name} is required for {event['operation']}: add it")
    return value


def boolean(event: dict[str, Any], name: str, default: bool) -> bool:
    value = event.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise wrong_type(name, "a boolean", value)
    return value


def integer(event: dict[str, Any], name: str) -> int | None:
    value = event.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise wrong_type(name, "an integer", value)
    return value


@dataclass(frozen=True)
class IndexArn:
    arn: str
    partition: str
    region: str
    account: str
    bucket: str
    index: str


def index_arn(value: Any) -> IndexArn:
    if not isinstance(value, str):
        raise wrong_type("index_arn", "a string", value)
    if limits.service().index_arn_pattern.fullmatch(value) is None:
        raise HandlerError(
            "INVALID_INDEX_ARN",
            f"index_arn {value[:200]!r} is not an S3 Vectors index ARN: expected "
            "arn:<partition>:s3vectors:<region>:<12-digit account>:bucket/<bucket>/index/<index>",
        )
    _, partition, _, region, account, resource = value.split(":", 5)
    _, bucket, _, index = resource.split("/")
    return IndexArn(value, partition, region, account, bucket, index)


def required_index(event: dict[str, Any]) -> IndexArn:
    """The request's index_arn, which its operation requires."""
    return index_arn(required(event, "index_arn"))


def top_k(value: Any) -> int:
    if value is None:
        return 10
    if not isinstance(value, int) or isinstance(value, bool):
        raise wrong_type("top_k", "an integer", value)
    low = limits.service().top_k_min
    if not low <= value <= limits.TOP_K_MAX:
        raise HandlerError(
            "INVALID_TOP_K",
            f"top_k must be between {low} and {limits.TOP_K_MAX}, got {value}: pass a value in range",
        )
    return value


def _is_float32(element: Any) -> bool:
    """A JSON number (not a boolean) that rounds to a finite float32; NaN fails the comparison too."""
    return is_number(element) and magnitude(element) < limits.FLOAT32_OVERFLOW


def _plain_float32_range(value: list[Any]) -> bool:
    """True when every element is a float within float32's range: the usual vector, checked with
    C-level builtins (4x faster than the element loop, which still finds and names any bad element)."""
    if set(map(type, value)) != {float}:
        return False
    # A NaN or an infinity makes the sum non-finite; without them min and max are well defined.
    bound = limits.FLOAT32_OVERFLOW
    return math.isfinite(sum(value)) and min(value) > -bound and max(value) < bound


def vector(value: Any, name: str) -> list[float]:
    """A vector as the wire carries it: a non-empty array of JSON numbers that float32 holds.

    Its length is not checked here: SQL checks it against the registered index's dimension before the
    invocation, and S3 Vectors against the index's own (VALIDATION_FAILED)."""
    if not isinstance(value, list):
        raise wrong_type(name, "an array of numbers", value)
    if not value:
        raise HandlerError("INVALID_DIMENSION", f"{name} is empty: send a vector of the index's dimension")
    if _plain_float32_range(value):
        return value
    bad = next(((n, item) for n, item in enumerate(value) if not _is_float32(item)), None)
    if bad is None:
        return value
    position, element = bad
    if not is_number(element):
        raise HandlerError(
            "INVALID_VECTOR_VALUE",
            f"{name}[{position}] is {json_type(element)}, not a number: send numbers only",
        )
    raise HandlerError(
        "NON_FINITE_VALUE",
        f"{name}[{position}] is {element!r}, not a finite float32: replace NaN, Infinity and "
        "out-of-range values",
    )


def key(value: Any, name: str) -> str:
    """A key as S3 Vectors stores it: unescaped (U+0000, see nul_escape), then checked for length."""
    low, high = limits.service().key_length
    if isinstance(value, str):
        value = nul_escape.decode(value, name, "INVALID_KEY")
    if not isinstance(value, str) or not low <= len(value) <= high:
        shown = f"a string of {len(value)} characters" if isinstance(value, str) else json_type(value)
        raise HandlerError(
            "INVALID_KEY", f"{name} is {shown}; keys are strings of {low} to {high} characters: fix the key"
        )
    return value


def keys(value: Any, name: str) -> list[str]:
    if not isinstance(value, list):
        raise wrong_type(name, "an array of strings", value)
    if not value:
        raise HandlerError("EMPTY_KEYS", f"{name} is empty: pass at least one key")
    low, high = limits.service().key_length
    # Most keys are plain strings of a valid length: those skip key(), whose message names the position
    # (formatting it for each of 10,000 keys cost more than the rest of the check).
    return [
        item
        if type(item) is str and low <= len(item) <= high and nul_escape.ESCAPE not in item
        else key(item, f"{name}[{position}]")
        for position, item in enumerate(value)
    ]


def metadata(value: Any, name: str) -> dict[str, Any] | None:
    """Vector metadata for PutVectors: an object of strings, numbers, booleans and non-empty lists, its
    strings unescaped (U+0000, see nul_escape)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise HandlerError("INVALID_METADATA", f"{name} is {json_type(value)}: send a JSON object")
    if len(value) > limits.METADATA_MAX_KEYS:
        raise HandlerError(
            "METADATA_TOO_MANY_KEYS",
            f"{name} has {len(value)} keys; S3 Vectors allows {limits.METADATA_MAX_KEYS}: merge or drop keys",
        )
    decoded: dict[str, Any] = {}
    for field, item in value.items():
        stored = nul_escape.decode(field, f"{name} key {field!r}", "INVALID_METADATA")
        decoded[stored] = _metadata_value(item, f"{name}.{field}")
    size = len(json.dumps(decoded, ensure_ascii=False, separators=(",", ":")).encode())
    if size > limits.METADATA_TOTAL_BYTES:
        raise HandlerError(
            "METADATA_TOO_LARGE",
            f"{name} is {size} bytes of UTF-8 JSON; S3 Vectors allows {limits.METADATA_TOTAL_BYTES} per "
            "vector: store large values elsewhere and keep a reference",
        )
    return decoded


def _metadata_value(item: Any, name: str) -> Any:
    if isinstance(item, list):
        if not item:
            raise HandlerError("INVALID_METADATA", f"{name} is an empty list: S3 Vectors rejects empty lists")
        return [_metadata_scalar(element, f"{name}[{position}]") for position, element in enumerate(item)]
    return _metadata_scalar(item, name)


def _metadata_scalar(item: Any, name: str) -> Any:
    if isinstance(item, str):
        return nul_escape.decode(item, name, "INVALID_METADATA")
    if isinstance(item, bool):
        return item
    if is_number(item):
        if not math.isfinite(magnitude(item)):
            raise HandlerError("NON_FINITE_VALUE", f"{name} is {item!r}: metadata numbers must be finite")
        return item
    raise HandlerError(
        "INVALID_METADATA",
        f"{name} is {json_type(item)}; metadata values are strings, numbers, booleans or lists of them",
    )


def next_token(value: Any, max_length: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= max_length:
        raise HandlerError(
            "INVALID_NEXT_TOKEN",
            f"next_token must be a non-empty string of at most {max_length} characters, got "
            f"{json_type(value)}: pass the next_token of the previous page unchanged",
        )
    return value
