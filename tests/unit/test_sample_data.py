"""sample-data/generate-vectors.py: reproducible, valid for the 5-d cosine index, split for PutVectors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "sample-data" / "generate-vectors.py"
SAMPLE = ROOT / "sample-data" / "sample-vectors.json"
IDENTICAL = [-0.116703, 0.325043, 0.578032, 0.739321, -0.003246]


def generate(tmp_path: Path, *args: str) -> list[Path]:
    out = subprocess.run(
        [sys.executable, str(GENERATOR), "--output", str(tmp_path / "v.json"), *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return [Path(line) for line in out.stdout.split()]


def test_committed_sample_is_what_the_generator_writes(tmp_path: Path) -> None:
    [path] = generate(tmp_path)
    assert path.read_bytes() == SAMPLE.read_bytes()


def test_sample_has_fifty_unit_vectors_with_walkthrough_keys_and_categories() -> None:
    vectors = json.loads(SAMPLE.read_text())
    assert [v["key"] for v in vectors] == [f"vec_{n:03d}" for n in range(1, 51)]
    for v in vectors:
        data = v["data"]["float32"]
        assert len(data) == 5
        assert math.isclose(math.sqrt(sum(x * x for x in data)), 1.0, abs_tol=1e-5)
        assert set(v["metadata"]) == {"category", "id"}
    categories = {v["metadata"]["category"] for v in vectors}
    assert categories == {"example", "demo", "sample", "test", "identical"}
    identical = [v for v in vectors if v["metadata"]["category"] == "identical"]
    assert [v["key"] for v in identical] == ["vec_048", "vec_049", "vec_050"]
    assert all(v["data"]["float32"] == IDENTICAL for v in identical)


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
