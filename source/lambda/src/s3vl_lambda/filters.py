"""The S3 Vectors metadata filter grammar, checked before QueryVectors sends it.

filter     := { clause, ... }                     (non-empty; clauses are ANDed)
clause     := "$and" | "$or": [filter, ...]       (non-empty list)
            | field: scalar                        (shorthand for $eq)
            | field: { operator: operand, ... }    (non-empty; operators are ANDed)
operators  := $eq $ne (scalar), $gt $gte $lt $lte (number), $in $nin (non-empty list of scalars),
              $exists (boolean), $startsWith (string)

The handler checks the operands of the operators it knows, so a wrong operand is named with its path
before any AWS call: the grammar is S3 Vectors', but it answers a malformed filter with a bare "Invalid
query filter" naming neither the part nor the fix (docs/payload-contract.md, "Who checks what"). An
operator the handler does not know (at either level) is forwarded as given, its strings unescaped: S3
Vectors owns its operator set, so one AWS adds works without a new handler, and one it does not know comes
back as VALIDATION_FAILED with the service's message.

A filter nests at most limits.FILTER_MAX_DEPTH filters deep through $and / $or (S3 Vectors documents no
limit; this one keeps the check, the SDK and the service far from any recursion limit). Strings are
unescaped as keys and metadata are (nul_escape), so a filter can match a value holding U+0000.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from . import limits, nul_escape
from .errors import HandlerError
from .validation import is_number, json_type, magnitude

_LOGICAL = frozenset({"$and", "$or"})


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | bool) or (is_number(value) and math.isfinite(magnitude(value)))


def _is_scalar_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(_is_scalar(item) for item in value)


# operator -> (operand check, what the operand must be)
_OPERATORS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "$eq": (_is_scalar, "a string, number or boolean"),
    "$ne": (_is_scalar, "a string, number or boolean"),
    "$gt": (lambda v: is_number(v) and _is_scalar(v), "a number"),
    "$gte": (lambda v: is_number(v) and _is_scalar(v), "a number"),
    "$lt": (lambda v: is_number(v) and _is_scalar(v), "a number"),
    "$lte": (lambda v: is_number(v) and _is_scalar(v), "a number"),
    "$in": (_is_scalar_list, "a non-empty array of strings, numbers or booleans"),
    "$nin": (_is_scalar_list, "a non-empty array of strings, numbers or booleans"),
    "$exists": (lambda v: isinstance(v, bool), "a boolean"),
    "$startsWith": (lambda v: isinstance(v, str), "a string"),
}


def of_request(event: dict[str, Any]) -> dict[str, Any] | None:
    """The request's filter as validate returns it, or None when the request has none (absent or null)."""
    raw = event.get("filter")
    return None if raw is None else validate(raw)


def validate(value: Any, path: str = "filter", depth: int = 1) -> dict[str, Any]:
    """Return the filter, its strings unescaped, if it follows the grammar; raise naming the offending part.

    `depth` is the nesting level of `value` (the whole filter is level 1).
    """
    if depth > limits.FILTER_MAX_DEPTH:
        raise HandlerError(
            "FILTER_TOO_DEEP",
            f"{path} is nested {depth} filters deep through $and / $or; s3vl allows "
            f"{limits.FILTER_MAX_DEPTH}: flatten the filter (an $and of $and is one $and, several operators "
            "on one field are ANDed, $in replaces an $or of $eq)",
        )
    if not isinstance(value, dict) or not value:
        shown = "an empty object" if isinstance(value, dict) else json_type(value)
        raise HandlerError(
            "FILTER_NOT_OBJECT",
            f'{path} is {shown}: a filter is a non-empty JSON object such as {{"category": "test"}}',
        )
    checked: dict[str, Any] = {}
    for name, clause in value.items():
        if name in _LOGICAL:
            checked[name] = _logical(clause, f"{path}.{name}", depth)
        elif name.startswith("$"):
            checked[name] = _decoded(clause, f"{path}.{name}")
        else:
            field = nul_escape.decode(name, f"{path} field {name!r}", "FILTER_INVALID_OPERAND")
            checked[field] = _field(clause, f"{path}.{name}")
    return checked


def _logical(clause: Any, path: str, depth: int) -> list[dict[str, Any]]:
    if not isinstance(clause, list) or not clause:
        shown = "an empty array" if isinstance(clause, list) else json_type(clause)
        raise HandlerError("FILTER_EMPTY_LOGICAL", f"{path} is {shown}: give it a non-empty array of filters")
    return [
        validate(sub_filter, f"{path}[{position}]", depth + 1) for position, sub_filter in enumerate(clause)
    ]


def _decoded(operand: Any, path: str) -> Any:
    """An operand with its strings unescaped (object keys too: operators the handler does not know)."""
    if isinstance(operand, str):
        return nul_escape.decode(operand, path, "FILTER_INVALID_OPERAND")
    if isinstance(operand, list):
        return [_decoded(item, f"{path}[{position}]") for position, item in enumerate(operand)]
    if isinstance(operand, dict):
        return {
            nul_escape.decode(key, f"{path} field {key!r}", "FILTER_INVALID_OPERAND"): _decoded(
                item, f"{path}.{key}"
            )
            for key, item in operand.items()
        }
    return operand


def _field(clause: Any, path: str) -> Any:
    if _is_scalar(clause):
        return _decoded(clause, path)
    if not isinstance(clause, dict):
        raise HandlerError(
            "FILTER_INVALID_OPERAND",
            f"{path} is {json_type(clause)}: compare a field with a string, number or boolean, or use "
            'an operator object such as {"$in": [...]}',
        )
    if not clause:
        raise HandlerError(
            "FILTER_NOT_OBJECT", f"{path} is an empty object: give it at least one operator such as $eq"
        )
    for operator, operand in clause.items():
        if not operator.startswith("$"):
            raise HandlerError(
                "FILTER_INVALID_OPERAND",
                f"{path}.{operator}: nested objects are not filters; use an operator "
                f"({', '.join(sorted(_OPERATORS))})",
            )
        if operator not in _OPERATORS:
            continue  # the service's to check (module docstring)
        check, expected = _OPERATORS[operator]
        if not check(operand):
            raise HandlerError(
                "FILTER_INVALID_OPERAND",
                f"{path}.{operator} takes {expected}, got {json_type(operand)}: fix the operand",
            )
    return {operator: _decoded(operand, f"{path}.{operator}") for operator, operand in clause.items()}
