"""The real AWS CLI sends queryTexts once AWS_DATA_PATH holds boto3's s3vectors model (awscli_model.py).

awscli 1.46 bundles botocore 1.43.62, whose model lacks --query-texts; the same command then fails.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from s3vl_local.awscli_model import write_model_dir
from support.s3vectors import create_bucket_and_index

from .aws_cli import run_s3vectors

SEL = ["--vector-bucket-name", "cli-text", "--index-name", "products"]


def _aws(emulator: Any, data_path: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"AWS_ENDPOINT_URL_S3VECTORS": emulator.url}
    if data_path is not None:
        env["AWS_DATA_PATH"] = str(data_path)
    return run_s3vectors(*args, env=env)


def test_cli_query_texts_with_boto3_model_equals_boto3(emulator: Any, client: Any, tmp_path: Path) -> None:
    sel = create_bucket_and_index(
        client,
        "cli-text",
        "products",
        2,
        metadataConfiguration={
            "textSearchConfigurations": [{"metadataKey": "description", "language": "en"}]
        },
    )
    descriptions = ["red running shoes", "blue shoes", "red hat", "running jacket", "green socks"]
    client.put_vectors(
        **sel,
        vectors=[
            {"key": f"p{i}", "data": {"float32": [1.0, float(i)]}, "metadata": {"description": d}}
            for i, d in enumerate(descriptions)
        ],
    )
    texts = [{"text": "red running shoes", "metadataKey": "description"}]
    args = [
        "query-vectors",
        *SEL,
        "--top-k",
        "3",
        "--query-texts",
        json.dumps(texts),
        "--return-scores",
        "--query-vector",
        json.dumps({"float32": [1.0, 2.0]}),
    ]
    data_path = write_model_dir(tmp_path / "models")
    done = _aws(emulator, data_path, *args)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    direct = client.query_vectors(
        **sel, topK=3, queryTexts=texts, returnScores=True, queryVector={"float32": [1.0, 2.0]}
    )
    assert got["vectors"] == direct["vectors"]
    # p0 matches every query term; the scores came back because the CLI sent returnScores.
    assert "p0" in [v["key"] for v in got["vectors"]]
    assert all("fused" in v["scores"] for v in got["vectors"])
    # Full-text only (no query vector) through the shorthand syntax.
    done = _aws(
        emulator,
        data_path,
        "query-vectors",
        *SEL,
        "--top-k",
        "5",
        "--query-texts",
        "text=shoes,metadataKey=description",
    )
    assert done.returncode == 0, done.stderr
    assert sorted(v["key"] for v in json.loads(done.stdout)["vectors"]) == ["p0", "p1"]

    # The CLI's bundled model alone does not know the option.
    bare = _aws(emulator, None, *args)
    assert bare.returncode != 0
    assert "--query-texts" in bare.stderr or "query-vector" in bare.stderr, bare.stderr
