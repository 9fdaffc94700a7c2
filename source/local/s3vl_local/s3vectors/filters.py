"""The metadata filter language: parsed once into a tree, then evaluated as numpy masks over columns.

Semantics (documented in docs/s3vectors-emulator.md):
- `{"k": v}` is `{"k": {"$eq": v}}`; several operators on one field are ANDed; several fields in one
  object are ANDed; `$and` / `$or` take non-empty arrays of filter objects; `{}` matches every vector.
- `$eq` on a list-valued field matches when any element equals the operand; `$gt`..`$lte`, `$in` and
  `$startsWith` likewise match when any element satisfies them.
- `$ne` and `$nin` are the negations of `$eq` and `$in`: they also match vectors without the field.
- Booleans never equal numbers; `$gt`..`$lte` compare numbers only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ValidationException
from .metadata_columns import Column, is_number

_COMPARISONS = ("$gt", "$gte", "$lt", "$lte")
FIELD_OPERATORS = ("$eq", "$ne", *_COMPARISONS, "$in", "$nin", "$exists", "$startsWith")
ENHANCED_ONLY_OPERATORS = ("$startsWith",)


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    operand: Any


@dataclass(frozen=True)
class Logical:
    op: str  # "$and" | "$or"
    children: tuple[Condition | Logical, ...]


Node = Condition | Logical


def _invalid(message: str) -> ValidationException:
    return ValidationException(f"Invalid filter: {message}")


def _is_primitive(v: Any) -> bool:
    return isinstance(v, (str, bool)) or is_number(v)


def parse_filter(document: Any, non_filterable: frozenset[str]) -> Node | None:
    """Check a filter document and return its tree (None for `{}`, which matches every vector).

    Every mistake is a ValidationException that names it.
    """
    if isinstance(document, dict) and not document:
        return None
    return _parse_object(document, non_filterable)


def _parse_object(document: Any, non_filterable: frozenset[str]) -> Node:
    if not isinstance(document, dict) or not document:
        raise _invalid(f"a filter must be a non-empty JSON object, got {json.dumps(document)[:100]}")
    parts: list[Node] = []
    for name, value in document.items():
        if name in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise _invalid(f"{name} takes a non-empty array of filter objects")
            parts.append(Logical(name, tuple(_parse_object(item, non_filterable) for item in value)))
        elif name.startswith("$"):
            raise _invalid(f"unknown logical operator {name!r}; use $and or $or, or a field name")
        else:
            if name in non_filterable:
                raise _invalid(
                    f"metadata key {name!r} is non-filterable in this index (metadataConfiguration."
                    "nonFilterableMetadataKeys); filter on a filterable key instead"
                )
            parts.extend(_parse_field(name, value))
    return parts[0] if len(parts) == 1 else Logical("$and", tuple(parts))


def _parse_field(field: str, value: Any) -> list[Node]:
    if not isinstance(value, dict):
        if not _is_primitive(value):
            raise _invalid(
                f"field {field!r}: implicit equality needs a string, number or boolean; use $in for arrays"
            )
        return [Condition(field, "$eq", value)]
    if not value:
        raise _invalid(f"field {field!r}: an operator object must not be empty")
    conditions: list[Node] = []
    for op, operand in value.items():
        if op not in FIELD_OPERATORS:
            raise _invalid(
                f"field {field!r}: unknown operator {op!r}; supported: {', '.join(FIELD_OPERATORS)}"
            )
        if op in ("$eq", "$ne") and not _is_primitive(operand):
            raise _invalid(f"field {field!r}: {op} needs a string, number or boolean")
        if op in _COMPARISONS and not is_number(operand):
            raise _invalid(f"field {field!r}: {op} needs a number")
        if op in ("$in", "$nin") and (
            not isinstance(operand, list) or not operand or not all(_is_primitive(v) for v in operand)
        ):
            raise _invalid(f"field {field!r}: {op} needs a non-empty array of strings, numbers or booleans")
        if op == "$exists" and not isinstance(operand, bool):
            raise _invalid(f"field {field!r}: $exists needs true or false")
        if op == "$startsWith" and not isinstance(operand, str):
            raise _invalid(f"field {field!r}: $startsWith needs a string")
        conditions.append(Condition(field, op, operand))
    return conditions


def uses_operator(node: Node, ops: tuple[str, ...]) -> bool:
    if isinstance(node, Condition):
        return node.op in ops
    return any(uses_operator(child, ops) for child in node.children)


def evaluate(node: Node, columns: Callable[[str], Column | None], n: int) -> np.ndarray:
    """The boolean mask of the first n rows that pass the filter."""
    if isinstance(node, Logical):
        masks = (evaluate(child, columns, n) for child in node.children)
        combine = np.logical_and if node.op == "$and" else np.logical_or
        result = next(masks)
        for mask in masks:
            result = combine(result, mask)
        return result
    column = columns(node.field)
    op, operand = node.op, node.operand
    if column is None:
        # No vector has ever held this key: only the negative operators match.
        return np.full(n, op in ("$ne", "$nin") or (op == "$exists" and not operand), dtype=bool)
    if op == "$eq":
        return column.equals(n, operand)
    if op == "$ne":
        return ~column.equals(n, operand)
    if op in _COMPARISONS:
        return column.compare(n, op, float(operand))
    if op in ("$in", "$nin"):
        mask = np.zeros(n, dtype=bool)
        for value in operand:
            mask |= column.equals(n, value)
        return mask if op == "$in" else ~mask
    if op == "$exists":
        return column.exists(n) if operand else ~column.exists(n)
    return column.starts_with(n, operand)
