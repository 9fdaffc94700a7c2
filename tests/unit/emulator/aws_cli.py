"""The real AWS CLI (awscli from PyPI) run as a user would, with test credentials and no user config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

AWS = str(Path(sys.executable).parent / "aws")


def run_s3vectors(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`aws s3vectors ARGS --output json`; `env` adds the endpoint (and any AWS_DATA_PATH) to the base."""
    base = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-west-2",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    return subprocess.run(
        [AWS, "s3vectors", *args, "--output", "json"],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
