"""The expected answers, computed with numpy from sample-data/sample-vectors.json, independently of s3vl."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE = Path(__file__).resolve().parents[2] / "sample-data" / "sample-vectors.json"


def sample() -> list[dict[str, Any]]:
    """The published sample vectors: key, data.float32, metadata."""
    return list(json.loads(SAMPLE.read_text()))


def cosine_ranking(query: list[float], category: str | None = None) -> list[tuple[str, float]]:
    """(key, cosine similarity) of the sample vectors (of one category), best first, ties by key, as
    S3 Vectors ranks them."""
    entries = [e for e in sample() if category is None or e["metadata"]["category"] == category]
    matrix = np.array([e["data"]["float32"] for e in entries], dtype=np.float64)
    q = np.array(query, dtype=np.float64)
    similarity = matrix @ q / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(q))
    ranked = [(e["key"], float(s)) for e, s in zip(entries, similarity, strict=True)]
    return sorted(ranked, key=lambda pair: (-pair[1], pair[0]))
