"""The S3 Vectors service model from botocore: the source of truth for request shapes and limits.

Requests are checked against the input shape of their operation (required members, types, lengths,
ranges, enums, patterns) so that a client that skips botocore's own parameter validation (raw HTTP,
another SDK) gets the same ValidationException the service would give.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from botocore.loaders import Loader
from botocore.model import ServiceModel, Shape

from .errors import ValidationException

# Shapes whose elements are checked by the vector and metadata validators instead (faster, and with
# messages that name the vector key).
_SKIPPED_SHAPES = {"Float32VectorData", "VectorMetadata", "Document"}


@functools.cache
def service_model() -> ServiceModel:
    return ServiceModel(Loader().load_service_model("s3vectors", "service-2"), "s3vectors")


def limit(shape_name: str, bound: str) -> int:
    """A min/max constraint of a named shape, e.g. limit("PutVectorsInputList", "max") == 500."""
    return int(service_model().shape_for(shape_name).metadata[bound])


@functools.cache
def _pattern(regex: str) -> re.Pattern[str] | None:
    # Java-style Unicode classes (\p{L}) have no equivalent in `re`; such patterns are not enforced.
    if "\\p{" in regex:
        return None
    return re.compile(regex)


def validate_input(operation: str, params: dict[str, Any]) -> None:
    """Raise ValidationException listing every constraint of the operation's input shape that fails."""
    shape = service_model().operation_model(operation).input_shape
    problems: list[dict[str, str]] = []
    if shape is not None:
        _check(shape, params, "", problems)
    if problems:
        count = len(problems)
        detail = "; ".join(
            f"Value at '{p['path']}' failed to satisfy constraint: {p['message']}" for p in problems
        )
        raise ValidationException(
            f"{count} validation error{'s' if count > 1 else ''} detected: {detail}", field_list=problems
        )


def _check(shape: Shape, value: Any, path: str, problems: list[dict[str, str]]) -> None:
    if shape.name in _SKIPPED_SHAPES:
        return
    kind = shape.type_name
    meta = shape.metadata
    where = path or "/"
    if kind == "structure":
        if not isinstance(value, dict):
            problems.append({"path": where, "message": "Member must be an object"})
            return
        members = shape.members
        for name in shape.required_members:
            if value.get(name) is None:
                problems.append({"path": f"{path}/{name}", "message": "Member must not be null"})
        if shape.is_tagged_union and sum(1 for v in value.values() if v is not None) > 1:
            problems.append({"path": where, "message": "Member must have exactly one member set"})
        for name, member_value in value.items():
            if name in members and member_value is not None:
                _check(members[name], member_value, f"{path}/{name}", problems)
    elif kind == "list":
        if not isinstance(value, list):
            problems.append({"path": where, "message": "Member must be an array"})
            return
        _check_bounds(len(value), meta, where, "length", problems)
        for i, item in enumerate(value):
            _check(shape.member, item, f"{path}/{i}", problems)
    elif kind == "map":
        if not isinstance(value, dict):
            problems.append({"path": where, "message": "Member must be an object"})
            return
        for k, v in value.items():
            _check(shape.key, k, f"{path}/{k}", problems)
            _check(shape.value, v, f"{path}/{k}", problems)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append({"path": where, "message": "Member must be a string"})
            return
        _check_bounds(len(value), meta, where, "length", problems)
        if "enum" in meta and value not in meta["enum"]:
            problems.append(
                {"path": where, "message": f"Member must satisfy enum value set: [{', '.join(meta['enum'])}]"}
            )
        pattern = _pattern(meta["pattern"]) if "pattern" in meta else None
        if pattern is not None and not pattern.fullmatch(value):
            problems.append(
                {
                    "path": where,
                    "message": f"Member must satisfy regular expression pattern: {meta['pattern']}",
                }
            )
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append({"path": where, "message": "Member must be an integer"})
            return
        _check_bounds(value, meta, where, "value", problems)
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append({"path": where, "message": "Member must be a number"})
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append({"path": where, "message": "Member must be a boolean"})
    elif kind == "timestamp" and not isinstance(value, (int, float, str)):
        problems.append({"path": where, "message": "Member must be a timestamp"})


def _check_bounds(
    n: int, meta: dict[str, Any], where: str, what: str, problems: list[dict[str, str]]
) -> None:
    low, high = meta.get("min"), meta.get("max")
    if (low is not None and n < low) or (high is not None and n > high):
        if low is not None and high is not None:
            rule = f"between {low} and {high}, inclusive"
        elif low is not None:
            rule = f"greater than or equal to {low}"
        else:
            rule = f"less than or equal to {high}"
        problems.append({"path": where, "message": f"Member must have {what} {rule}"})
