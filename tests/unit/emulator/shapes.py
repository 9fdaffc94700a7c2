"""Checks a raw JSON response body against a botocore output shape: members, types, enums, required."""

from __future__ import annotations

from typing import Any

from botocore.model import Shape


def shape_problems(shape: Shape, value: Any, path: str = "") -> list[str]:
    where = path or "/"
    kind = shape.type_name
    if shape.metadata.get("document"):
        return []
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where}: expected object, got {type(value).__name__}"]
        problems = [f"{path}/{n}: required member missing" for n in shape.required_members if n not in value]
        for name, item in value.items():
            if name not in shape.members:
                problems.append(f"{path}/{name}: not a member of {shape.name}")
            else:
                problems += shape_problems(shape.members[name], item, f"{path}/{name}")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where}: expected array"]
        return [p for i, item in enumerate(value) for p in shape_problems(shape.member, item, f"{path}/{i}")]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{where}: expected object"]
        return [p for k, v in value.items() for p in shape_problems(shape.value, v, f"{path}/{k}")]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where}: expected string"]
        enum = shape.metadata.get("enum")
        return [f"{where}: {value!r} not in {enum}"] if enum and value not in enum else []
    if kind in ("integer", "long"):
        return (
            [] if isinstance(value, int) and not isinstance(value, bool) else [f"{where}: expected integer"]
        )
    if kind in ("float", "double", "timestamp"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected number"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: expected boolean"]
    return [f"{where}: unhandled shape type {kind}"]
