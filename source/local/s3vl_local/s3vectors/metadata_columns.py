"""Filterable metadata stored column by column, so a filter is a handful of numpy operations.

Each filterable metadata key has a Column: per row a kind (missing, number, string, boolean, list),
a float64 value (numbers and booleans), and an int32 code into the column's string dictionary.
Only list values are kept as Python tuples; filters walk just the rows that hold a list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

MISSING, NUMBER, STRING, BOOL, LIST = 0, 1, 2, 3, 4

Scalar = str | int | float | bool


def same_value(a: Any, b: Any) -> bool:
    """JSON equality: booleans never equal numbers, 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    return bool(a == b)


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class Column:
    def __init__(self, capacity: int) -> None:
        self.kind = np.zeros(capacity, dtype=np.uint8)
        self.num = np.zeros(capacity, dtype=np.float64)
        self.code = np.full(capacity, -1, dtype=np.int32)
        self.codes: dict[str, int] = {}
        self.lists: dict[int, tuple[Scalar, ...]] = {}

    def grow(self, capacity: int) -> None:
        old = len(self.kind)
        self.kind = np.concatenate([self.kind, np.zeros(capacity - old, dtype=np.uint8)])
        self.num = np.concatenate([self.num, np.zeros(capacity - old, dtype=np.float64)])
        self.code = np.concatenate([self.code, np.full(capacity - old, -1, dtype=np.int32)])

    def set(self, row: int, value: Any) -> None:
        self.clear(row)
        if isinstance(value, bool):
            self.kind[row], self.num[row] = BOOL, float(value)
        elif isinstance(value, str):
            self.kind[row], self.code[row] = STRING, self.codes.setdefault(value, len(self.codes))
        elif isinstance(value, list):
            self.kind[row] = LIST
            self.lists[row] = tuple(value)
        else:
            self.kind[row], self.num[row] = NUMBER, float(value)

    def clear(self, row: int) -> None:
        if self.kind[row] == LIST:
            del self.lists[row]
        self.kind[row], self.num[row], self.code[row] = MISSING, 0.0, -1

    def move(self, src: int, dst: int) -> None:
        """Copy row src into row dst and clear src (delete by swapping the last row in)."""
        self.clear(dst)
        self.kind[dst], self.num[dst], self.code[dst] = self.kind[src], self.num[src], self.code[src]
        if self.kind[src] == LIST:
            self.lists[dst] = self.lists.pop(src)
        self.kind[src], self.num[src], self.code[src] = MISSING, 0.0, -1

    # -- masks over the first n rows ---------------------------------------------------------------
    def _list_mask(self, n: int, test: Callable[[Scalar], bool]) -> np.ndarray:
        mask = np.zeros(n, dtype=bool)
        for row, values in self.lists.items():
            if row < n and any(test(v) for v in values):
                mask[row] = True
        return mask

    def equals(self, n: int, operand: Scalar) -> np.ndarray:
        if isinstance(operand, bool):
            mask = (self.kind[:n] == BOOL) & (self.num[:n] == float(operand))
        elif isinstance(operand, str):
            code = self.codes.get(operand)
            mask = self.code[:n] == code if code is not None else np.zeros(n, dtype=bool)
        else:
            mask = (self.kind[:n] == NUMBER) & (self.num[:n] == float(operand))
        if self.lists:
            mask |= self._list_mask(n, lambda v: same_value(v, operand))
        return mask

    def compare(self, n: int, op: str, operand: float) -> np.ndarray:
        num = self.num[:n]
        cmp = {"$gt": np.greater, "$gte": np.greater_equal, "$lt": np.less, "$lte": np.less_equal}[op]
        mask = (self.kind[:n] == NUMBER) & cmp(num, operand)
        if self.lists:
            mask |= self._list_mask(n, lambda v: is_number(v) and bool(cmp(float(v), operand)))  # type: ignore[arg-type]
        return mask

    def exists(self, n: int) -> np.ndarray:
        return self.kind[:n] != MISSING

    def starts_with(self, n: int, prefix: str) -> np.ndarray:
        codes = [c for s, c in self.codes.items() if s.startswith(prefix)]
        mask = np.isin(self.code[:n], np.asarray(codes, dtype=np.int32)) if codes else np.zeros(n, dtype=bool)
        if self.lists:
            mask |= self._list_mask(n, lambda v: isinstance(v, str) and v.startswith(prefix))
        return mask
