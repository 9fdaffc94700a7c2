"""package.sh: same sources give the same bytes, and the unpacked zip answers health on its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

PACKAGE_SH = Path(__file__).resolve().parents[3] / "source" / "lambda" / "package.sh"


def build(target: Path) -> Path:
    subprocess.run([str(PACKAGE_SH), str(target)], check=True, capture_output=True, timeout=120)
    return target


def test_zip_is_reproducible_and_answers_health_from_a_clean_directory(tmp_path: Path) -> None:
    first = build(tmp_path / "one.zip")
    second = build(tmp_path / "two.zip")
    assert first.read_bytes() == second.read_bytes()

    with zipfile.ZipFile(first) as archive:
        names = archive.namelist()
        assert names == sorted(names)
        assert {info.date_time for info in archive.infolist()} == {(2000, 1, 1, 0, 0, 0)}
        assert "lambda_function.py" in names and "s3vl_lambda/handler.py" in names
        assert "sdk-models/s3vectors/2025-07-15/service-2.json" in names
        assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
        # orjson for the template's runtime and for the interpreter the local Lambda service runs.
        tag = f"cpython-{sys.version_info[0]}{sys.version_info[1]}-x86_64-linux-gnu"
        assert {"orjson/orjson.cpython-313-x86_64-linux-gnu.so", f"orjson/orjson.{tag}.so"} <= set(names)
        unpacked = tmp_path / "task"
        archive.extractall(unpacked)

    # As the Lambda runtime does: the task root first on sys.path, boto3 from the interpreter's own
    # site-packages; -I keeps the repository's source tree and PYTHONPATH out.
    probe = (
        "import sys, json; sys.path.insert(0, sys.argv[1]);"
        "import lambda_function, boto3, os;"
        "out = lambda_function.lambda_handler({'operation': 'health'}, None);"
        "loader = boto3.session.Session()._session.get_component('data_loader');"
        "_, path = loader.load_data_with_path('s3vectors/2025-07-15/service-2');"
        "print(json.dumps({'envelope': out, 'model': path, 'module': lambda_function.__file__}))"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "AWS_"))}
    completed = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(unpacked)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    answer = json.loads(completed.stdout.strip().splitlines()[-1])
    assert answer["envelope"]["ok"] is True
    assert answer["envelope"]["result"]["handler_version"]
    # The zip's own orjson is imported (boto3 comes from site-packages, orjson from the task root).
    assert answer["envelope"]["result"]["json_decoder"] == "orjson"
    assert answer["module"].startswith(str(unpacked))
    # The packaged model is the one botocore loads.
    assert answer["model"].startswith(str(unpacked / "sdk-models"))
