"""Request validation needs botocore's model only: parsing a request imports neither boto3 nor the
module that builds clients, so validation stays usable (and cheap) without them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "source" / "lambda" / "src"


def test_parsing_a_request_imports_neither_boto3_nor_the_clients_module() -> None:
    probe = (
        "import sys, json; sys.path.insert(0, sys.argv[1]);"
        "from s3vl_lambda import requests;"
        "arn = 'arn:aws:s3vectors:us-east-1:123456789012:bucket/bucket-1/index/index-1';"
        "requests.query_vectors({'operation': 'query_vectors', 'index_arn': arn, 'query_vector': [0.5]});"
        "names = [m for m in sys.modules if m == 'boto3' or m.startswith(('boto3.', 's3vl_lambda'))];"
        "print(json.dumps(sorted(names)))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe, str(SRC)], check=True, capture_output=True, text=True, timeout=60
    )
    loaded = json.loads(completed.stdout.strip().splitlines()[-1])
    assert "s3vl_lambda.limits" in loaded
    assert "boto3" not in loaded and "s3vl_lambda.clients" not in loaded, loaded
