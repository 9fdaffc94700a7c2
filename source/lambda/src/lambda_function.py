"""Lambda entry point: `lambda_function.lambda_handler`.

The packaged zip carries botocore's s3vectors service model in sdk-models/ (see
docs/lambda-packaging.md): pointing AWS_DATA_PATH at it before boto3 creates a session makes the
runtime's botocore use that model, whatever version the runtime ships.
"""

import os
from typing import Any

_SDK_MODELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sdk-models")
if os.path.isdir(_SDK_MODELS):
    _existing = os.environ.get("AWS_DATA_PATH")
    os.environ["AWS_DATA_PATH"] = _SDK_MODELS + (os.pathsep + _existing if _existing else "")

from s3vl_lambda.handler import handle  # noqa: E402  (AWS_DATA_PATH must be set first)


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    return handle(event, context)
