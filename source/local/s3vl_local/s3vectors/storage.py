"""One index's vectors: a contiguous float32 matrix, a key -> row map, and columnar metadata.

Rows 0..n-1 are live. Appends grow the matrix geometrically (amortised O(1)); a delete moves the
last row into the hole (O(dimension + metadata columns), not O(n)). Callers hold the index's lock.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import filters, response_json, search_math
from .metadata_columns import Column
from .text_index import TextIndex

_INITIAL_CAPACITY = 1024
_GROWTH = 1.5
# The most bytes of vector data text (response_json.VectorText) one index keeps: 128 MiB is 8,900 vectors
# of 768 dimensions, the candidates of a large rank_vectors call.
VECTOR_TEXT_BYTES = 128 * 1024 * 1024


class VectorStore:
    def __init__(self, dimension: int, metric: str, non_filterable: frozenset[str]) -> None:
        self.dimension = dimension
        self.metric = metric
        self.non_filterable = non_filterable
        self.n = 0
        self.version = 0  # bumped on every write; readers use it to cache per-state results
        self._capacity = 0
        self._matrix = np.empty((0, dimension), dtype=np.float32)
        # The float64 L2 norm of each row: float32 would overflow (norm of [3e38, 3e38]) or underflow.
        self._norms = np.empty(0, dtype=np.float64)
        self.keys: list[str] = []
        self.rows: dict[str, int] = {}
        self._metadata: list[str | None] = []  # compact JSON, decoded only for returned vectors
        self.columns: dict[str, Column] = {}
        self._sorted: tuple[int, list[str]] | None = None
        # Full-text indexes of the searchable metadata keys; None when the index has none, so plain
        # vector writes and queries pay nothing for them.
        self.text: TextIndex | None = None
        # Vector data text by key, from a vector's first read until it changes, oldest dropped first beyond
        # VECTOR_TEXT_BYTES. Writing 100 vectors' 768 digits strings takes 2.5 ms; on the local stack that
        # CPU is the caller's machine's (a third of it during rank_vectors), where AWS's is not the caller's.
        self._texts: dict[str, response_json.VectorText] = {}
        self._text_bytes = 0

    # -- writes ----------------------------------------------------------------------------------------
    def _reserve(self, needed: int) -> None:
        if needed <= self._capacity:
            return
        capacity = max(_INITIAL_CAPACITY, int(self._capacity * _GROWTH), needed)
        matrix = np.empty((capacity, self.dimension), dtype=np.float32)
        matrix[: self.n] = self._matrix[: self.n]
        norms = np.zeros(capacity, dtype=np.float64)
        norms[: self.n] = self._norms[: self.n]
        self._matrix, self._norms, self._capacity = matrix, norms, capacity
        for column in self.columns.values():
            column.grow(capacity)

    def _row_norms(self, data: np.ndarray) -> np.ndarray:
        return np.sqrt(np.einsum("ij,ij->i", data, data, dtype=np.float64))

    def put(self, keys: list[str], data: np.ndarray, metadata: list[dict[str, Any] | None]) -> None:
        """Insert or overwrite; within one batch the last occurrence of a key wins."""
        last = {key: i for i, key in enumerate(keys)}
        order = list(last.values())
        self._reserve(self.n + len(order))
        targets = np.empty(len(order), dtype=np.int64)
        for j, i in enumerate(order):
            key = keys[i]
            row = self.rows.get(key)
            if row is None:
                row = self.n
                self.n += 1
                self.rows[key] = row
                self.keys.append(key)
                self._metadata.append(None)
            else:
                self._clear_metadata(row)
            targets[j] = row
            self._forget_text(key)
            self._set_metadata(row, metadata[i])
        batch = data[order]
        self._matrix[targets] = batch
        self._norms[targets] = self._row_norms(batch)
        if self.text is not None:
            for i in order:
                self.text.put(keys[i], metadata[i])
        self.version += 1

    def _set_metadata(self, row: int, value: dict[str, Any] | None) -> None:
        if not value:
            self._metadata[row] = None
            return
        self._metadata[row] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        for key, item in value.items():
            if key in self.non_filterable:
                continue
            column = self.columns.get(key)
            if column is None:
                column = self.columns[key] = Column(self._capacity)
            column.set(row, item)

    def _clear_metadata(self, row: int) -> None:
        text = self._metadata[row]
        if text is not None:
            for key in json.loads(text):
                column = self.columns.get(key)
                if column is not None:
                    column.clear(row)
        self._metadata[row] = None

    def delete(self, keys: list[str]) -> int:
        deleted = 0
        for key in keys:
            row = self.rows.pop(key, None)
            if row is None:
                continue
            deleted += 1
            self._forget_text(key)
            self._clear_metadata(row)
            if self.text is not None:
                self.text.remove(key)
            last = self.n - 1
            if row != last:
                moved = self.keys[last]
                self._matrix[row] = self._matrix[last]
                self._norms[row] = self._norms[last]
                self.keys[row] = moved
                self._metadata[row] = self._metadata[last]
                self.rows[moved] = row
                for column in self.columns.values():
                    column.move(last, row)
            self.keys.pop()
            self._metadata.pop()
            self.n = last
        if deleted:
            self.version += 1
        return deleted

    def configure_text(self, metadata_keys: Mapping[str, str | None]) -> None:
        """Set the searchable keys: kept keys keep their index, new keys are built from stored metadata."""
        current = self.text.fields if self.text is not None else {}
        if not metadata_keys:
            self.text = None
        else:
            text = TextIndex(metadata_keys, keep=current)
            new = [name for name in metadata_keys if name not in current]
            if new:
                for row, key in enumerate(self.keys):
                    if self._metadata[row] is not None:
                        text.put(key, self.metadata(row), new)
            self.text = text
        self.version += 1

    # -- reads -----------------------------------------------------------------------------------------
    def vector(self, row: int) -> response_json.VectorText:
        """The stored float32 values of `row` as an answer writes them."""
        key = self.keys[row]
        found = self._texts.get(key)
        if found is None:
            found = response_json.VectorText(response_json.encode(self._matrix[row].astype(np.float64)))
            self._texts[key] = found
            self._text_bytes += len(found.text)
            while self._text_bytes > VECTOR_TEXT_BYTES:
                self._forget_text(next(iter(self._texts)))
        return found

    def _forget_text(self, key: str) -> None:
        dropped = self._texts.pop(key, None)
        if dropped is not None:
            self._text_bytes -= len(dropped.text)

    def metadata(self, row: int) -> dict[str, Any]:
        text = self._metadata[row]
        return json.loads(text) if text is not None else {}

    def list_size(self, row: int, data: bool, metadata: bool) -> int:
        """The bytes a ListVectors page counts toward its 1 MB for this row: the UTF-8 key, plus 4 bytes
        per element with returnData and the metadata's compact UTF-8 JSON with returnMetadata."""
        size = len(self.keys[row].encode("utf-8"))
        if data:
            size += 4 * self.dimension
        if metadata:
            text = self._metadata[row]
            size += len(text.encode("utf-8")) if text is not None else 2
        return size

    def matrix(self) -> np.ndarray:
        """The live rows (a view; valid while the caller holds the index lock)."""
        return self._matrix[: self.n]

    def filter_mask(self, node: filters.Node) -> np.ndarray:
        return filters.evaluate(node, self.columns.get, self.n)

    def search(self, query: np.ndarray, k: int, mask: np.ndarray | None) -> list[tuple[float, str]]:
        """Exact k nearest rows as (distance, key), ascending distance, ties by key ascending.

        A float32 matrix-vector product scores every row together with a rigorous bound on its
        rounding error; only rows whose score range can reach the k-th best are re-scored in float64
        (search_math.py), so the result is the true top-k for every finite float32 input.
        """
        n = self.n
        candidates: np.ndarray | None = None
        if mask is not None:
            candidates = np.flatnonzero(mask)
            if candidates.size == 0:
                return []
        matrix, norms = self._matrix[:n], self._norms[:n]
        if candidates is not None and candidates.size * 2 < n:
            # Selective filter: gather the passing rows and score only those.
            low, high = search_math.score_bounds(self.metric, matrix[candidates], norms[candidates], query)
        else:
            low, high = search_math.score_bounds(self.metric, matrix, norms, query)
            if candidates is not None:
                low, high = low[candidates], high[candidates]
        m = low.size
        if k < m:
            # The k-th smallest upper bound bounds the true k-th distance from above.
            limit = np.partition(high, k - 1)[k - 1]
            picked = np.flatnonzero(low <= limit)
        else:
            picked = np.arange(m)
        rows = candidates[picked] if candidates is not None else picked
        keys = [self.keys[r] for r in rows.tolist()]
        return search_math.rank(self.metric, self._matrix[rows], self._norms[rows], query, keys, k)

    def distances(self, keys: list[str], query: np.ndarray) -> list[float]:
        """The distances of the given vectors to the query, as search() reports them."""
        rows = np.fromiter((self.rows[k] for k in keys), dtype=np.int64, count=len(keys))
        exact = search_math.exact_distances(self.metric, self._matrix[rows], self._norms[rows], query)
        return search_math.reported(exact).tolist()

    def sorted_keys(self) -> list[str]:
        """Keys in ascending order, cached until the next write (ListVectors pages bisect into it)."""
        cached = self._sorted
        if cached is None or cached[0] != self.version:
            cached = self._sorted = (self.version, sorted(self.keys))
        return cached[1]
