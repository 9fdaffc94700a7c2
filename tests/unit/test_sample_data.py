"""sample-data/: the published sample vectors, which the blog's queries point into, and the generator for
larger sets, which is reproducible, valid for a cosine index, split for PutVectors, and never overwrites
the published file."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "sample-data" / "generate-vectors.py"
SAMPLE = ROOT / "sample-data" / "sample-vectors.json"
IDENTICAL = [-0.116703, 0.325043, 0.578032, 0.739321, -0.003246]
# The blog's first query, and the vector of its join (vec_003's own values).
BLOG_QUERY = [0.23, -0.41, 0.88, 0.0, 0.03]
JOIN_QUERY = [-0.392024, 0.229378, 0.582031, 0.382919, -0.555263]
# The published file's first and last vectors, as published, to pin the file against regeneration.
PUBLISHED_FIRST = {
    "key": "vec_001",
    "data": {"float32": [0.231636, -0.413973, 0.879761, -0.003234, 0.031307]},
    "metadata": {"category": "example", "id": "1"},
}
PUBLISHED_LAST = {
    "key": "vec_050",
    "data": {"float32": IDENTICAL},
    "metadata": {"category": "identical", "id": "50"},
}


def generate(tmp_path: Path, *args: str) -> list[Path]:
    out = subprocess.run(
        [sys.executable, str(GENERATOR), "--output", str(tmp_path / "v.json"), *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return [Path(line) for line in out.stdout.split()]


def cosine_ranking(query: list[float]) -> list[tuple[str, float]]:
    vectors = json.loads(SAMPLE.read_text())
    matrix = np.array([v["data"]["float32"] for v in vectors], dtype=np.float64)
    q = np.array(query, dtype=np.float64)
    scores = matrix @ q / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(q))
    return sorted(
        ((v["key"], float(s)) for v, s in zip(vectors, scores, strict=True)), key=lambda p: (-p[1], p[0])
    )


def test_sample_is_the_published_data() -> None:
    vectors = json.loads(SAMPLE.read_text())
    assert vectors[0] == PUBLISHED_FIRST
    assert vectors[-1] == PUBLISHED_LAST
    assert [v["key"] for v in vectors] == [f"vec_{n:03d}" for n in range(1, 51)]
    for number, v in enumerate(vectors, start=1):
        assert set(v) == {"key", "data", "metadata"}
        data = v["data"]["float32"]
        assert len(data) == 5
        assert math.isclose(math.sqrt(sum(x * x for x in data)), 1.0, abs_tol=1e-5)
        # id is a string, the vector's number: the original README casts it with ::INTEGER.
        assert v["metadata"] == {"category": v["metadata"]["category"], "id": str(number)}
    categories = {v["metadata"]["category"] for v in vectors}
    assert categories == {"example", "demo", "sample", "test", "identical"}
    identical = [v for v in vectors if v["metadata"]["category"] == "identical"]
    assert [v["key"] for v in identical] == ["vec_048", "vec_049", "vec_050"]
    assert all(v["data"]["float32"] == IDENTICAL for v in identical)


def test_blog_query_finds_vec_001_first() -> None:
    ranking = cosine_ranking(BLOG_QUERY)
    assert ranking[0][0] == "vec_001"
    assert ranking[0][1] > 0.9999


def test_join_query_is_vec_003_a_demo_vector() -> None:
    vectors = {v["key"]: v for v in json.loads(SAMPLE.read_text())}
    assert vectors["vec_003"]["data"]["float32"] == JOIN_QUERY
    assert vectors["vec_003"]["metadata"] == {"category": "demo", "id": "3"}
    assert cosine_ranking(JOIN_QUERY)[0] == ("vec_003", 1.0)


def test_generator_refuses_to_overwrite_the_published_sample() -> None:
    before = SAMPLE.read_bytes()
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--output", str(SAMPLE)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "published sample data" in result.stderr and "--output" in result.stderr
    assert SAMPLE.read_bytes() == before


def test_generator_writes_the_published_format(tmp_path: Path) -> None:
    [path] = generate(tmp_path)
    vectors = json.loads(path.read_text())
    assert [v["key"] for v in vectors] == [f"vec_{n:03d}" for n in range(1, 51)]
    assert [v["metadata"]["id"] for v in vectors] == [str(n) for n in range(1, 51)]
    assert {v["metadata"]["category"] for v in vectors} == {"example", "demo", "sample", "test", "identical"}
    assert [v["data"]["float32"] for v in vectors[-3:]] == [IDENTICAL] * 3
    for v in vectors:
        data = v["data"]["float32"]
        assert math.isclose(math.sqrt(sum(x * x for x in data)), 1.0, abs_tol=1e-5)


def test_generator_default_output_is_not_the_published_sample(tmp_path: Path) -> None:
    # A copy of sample-data/ in tmp_path, so the real directory is not written to.
    copy = tmp_path / "sample-data"
    copy.mkdir()
    (copy / GENERATOR.name).write_bytes(GENERATOR.read_bytes())
    (copy / SAMPLE.name).write_bytes(SAMPLE.read_bytes())
    out = subprocess.run(
        [sys.executable, str(copy / GENERATOR.name)], cwd=tmp_path, check=True, capture_output=True, text=True
    )
    assert [Path(line) for line in out.stdout.split()] == [copy / "generated-vectors.json"]
    assert (copy / SAMPLE.name).read_bytes() == SAMPLE.read_bytes()
    assert len(json.loads((copy / "generated-vectors.json").read_text())) == 50


def test_same_seed_same_bytes_other_seed_other_vectors(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    [a] = generate(tmp_path / "a", "--seed", "7", "--dimension", "16")
    [b] = generate(tmp_path / "b", "--seed", "7", "--dimension", "16")
    [c] = generate(tmp_path, "--seed", "8", "--dimension", "16")
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_large_sets_are_split_into_put_vectors_batches(tmp_path: Path) -> None:
    paths = generate(tmp_path, "--count", "1201", "--dimension", "8")
    assert [p.name for p in paths] == ["v-001.json", "v-002.json", "v-003.json"]
    sizes = [len(json.loads(p.read_text())) for p in paths]
    assert sizes == [500, 500, 201]
    keys = [v["key"] for p in paths for v in json.loads(p.read_text())]
    assert len(set(keys)) == 1201 and keys[0] == "vec_0001"


def test_invalid_dimension_is_refused_with_the_range(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--output", str(tmp_path / "v.json"), "--dimension", "5000"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "between 1 and 4096" in result.stderr
