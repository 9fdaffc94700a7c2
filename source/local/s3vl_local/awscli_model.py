"""A data path that lets the AWS CLI send queryTexts: boto3's own s3vectors model, for AWS_DATA_PATH.

awscli 1.46 bundles its own botocore (1.43.62), whose s3vectors model predates full-text search: it
has no --query-texts, --query-mode or --return-scores, and no awscli release on PyPI has a newer one
(docs/s3vectors-emulator.md, "The AWS CLI and queryTexts"). botocore reads service models from the
directories in AWS_DATA_PATH before its own, so copying the model of the botocore that boto3 pins
(1.44.x, which has them) into such a directory gives the same CLI those options, for s3vectors only.

    export AWS_DATA_PATH="$(python -m s3vl_local.awscli_model .local/aws-models)"
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import botocore
import botocore.session

SERVICE = "s3vectors"


def write_model_dir(target: Path) -> Path:
    """Copy the installed botocore's s3vectors model under target; return target for AWS_DATA_PATH."""
    source = Path(botocore.__file__).parent / "data" / SERVICE
    if not source.is_dir():
        raise FileNotFoundError(
            f"botocore {botocore.__version__} at {source.parent} has no {SERVICE} model: "
            "install the project's boto3 pin (pip install -e .)"
        )
    query = botocore.session.get_session().get_service_model(SERVICE).shape_for("QueryVectorsInput")
    if "queryTexts" not in query.members:
        raise RuntimeError(
            f"botocore {botocore.__version__}'s {SERVICE} model has no queryTexts either: "
            "upgrade boto3 within the project's pin (pip install -U -e .)"
        )
    shutil.copytree(source, target / SERVICE, dirs_exist_ok=True)
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m s3vl_local.awscli_model DIRECTORY  (prints the AWS_DATA_PATH value)")
        return 2
    print(write_model_dir(Path(argv[0]).resolve()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
