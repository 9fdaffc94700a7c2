"""The real AWS CLI (awscli from PyPI) drives the emulator through --endpoint-url and the service variable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .aws_cli import run_s3vectors


def _aws(emulator: Any, *args: str, via_env: bool = False) -> Any:
    if via_env:
        done = run_s3vectors(*args, env={"AWS_ENDPOINT_URL_S3VECTORS": emulator.url})
    else:
        done = run_s3vectors(*args, "--endpoint-url", emulator.url, env={})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


def test_cli_round_trip(emulator: Any, tmp_path: Path) -> None:
    arn = _aws(emulator, "create-vector-bucket", "--vector-bucket-name", "cli-bucket")["vectorBucketArn"]
    assert arn.endswith(":bucket/cli-bucket")
    sel = ["--vector-bucket-name", "cli-bucket", "--index-name", "cli-index"]
    _aws(
        emulator,
        "create-index",
        *sel,
        "--data-type",
        "float32",
        "--dimension",
        "3",
        "--distance-metric",
        "cosine",
    )
    vectors = [
        {"key": "doc-1", "data": {"float32": [1.0, 0.0, 0.0]}, "metadata": {"genre": "scifi", "year": 1999}},
        {"key": "doc-2", "data": {"float32": [0.9, 0.1, 0.0]}, "metadata": {"genre": "drama", "year": 2005}},
        {"key": "doc-3", "data": {"float32": [0.0, 1.0, 0.0]}, "metadata": {"genre": "scifi", "year": 2010}},
    ]
    vectors_file = tmp_path / "vectors.json"
    vectors_file.write_text(json.dumps(vectors))
    _aws(emulator, "put-vectors", *sel, "--vectors", f"file://{vectors_file}")

    listed = _aws(emulator, "list-vectors", *sel, via_env=True)
    assert sorted(v["key"] for v in listed["vectors"]) == ["doc-1", "doc-2", "doc-3"]

    got = _aws(emulator, "get-vectors", *sel, "--keys", "doc-2", "--return-data", "--return-metadata")
    # The service stores float32: 0.9 comes back as the nearest float32, 0.8999999761581421.
    as_float32 = [float(x) for x in np.asarray(vectors[1]["data"]["float32"], dtype=np.float32)]
    assert got["vectors"] == [{**vectors[1], "data": {"float32": as_float32}}]

    query = _aws(
        emulator,
        "query-vectors",
        *sel,
        "--top-k",
        "2",
        "--query-vector",
        json.dumps({"float32": [1.0, 0.0, 0.0]}),
        "--filter",
        json.dumps({"genre": "scifi"}),
        "--return-distance",
        "--return-metadata",
    )
    assert [v["key"] for v in query["vectors"]] == ["doc-1", "doc-3"]
    assert abs(query["vectors"][0]["distance"]) < 1e-6
    assert abs(query["vectors"][1]["distance"] - 1.0) < 1e-6
    assert query["distanceMetric"] == "cosine"

    _aws(emulator, "delete-vectors", *sel, "--keys", "doc-1", "doc-3")
    remaining = _aws(emulator, "list-vectors", *sel)
    assert [v["key"] for v in remaining["vectors"]] == ["doc-2"]
