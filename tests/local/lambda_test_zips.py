"""Handler zips built by the tests (one handler whose behaviour the event chooses, and a second version),
and the functions created from them."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from s3vl_local import local_aws

BEHAVIOURS_HANDLER = """
import os
import time

print("module initialised")


def lambda_handler(event, context):
    print("event", event)
    if "raise" in event:
        raise ValueError(event["raise"])
    if "fail_once" in event and not os.path.exists(event["fail_once"]):
        open(event["fail_once"], "w").close()  # the next attempt finds it and succeeds
        raise RuntimeError("the first attempt fails")
    if "sleep" in event:
        time.sleep(event["sleep"])
    if "exit" in event:
        os._exit(event["exit"])
    client_context = getattr(context, "client_context", None)
    return {
        "echo": event,
        "version": 1,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "invoked_function_arn": context.invoked_function_arn,
        "aws_request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "client_context_custom": getattr(client_context, "custom", None),
        "env": {k: os.environ.get(k) for k in (
            "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_ENDPOINT_URL_S3VECTORS",
            "AWS_ENDPOINT_URL_LAMBDA", "AWS_ACCESS_KEY_ID", "LAMBDA_TASK_ROOT", "S3VL_TEST_VARIABLE")},
        "cwd": os.getcwd(),
        "pid": os.getpid(),
    }
"""

SECOND_VERSION_HANDLER = """
def lambda_handler(event, context):
    return {"version": 2}
"""

IMPORT_ERROR_HANDLER = """
import module_that_does_not_exist


def lambda_handler(event, context):
    return {}
"""


def build_zip(handler_source: str, module: str = "lambda_function") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{module}.py", handler_source)
    return buffer.getvalue()


def create_function(lam: Any, name: str, zip_bytes: bytes | None = None, **extra: Any) -> None:
    """Create Python function `name` from `zip_bytes` (by default the behaviours handler) with boto3 client
    `lam`; `extra` goes to CreateFunction as is (Timeout, ...)."""
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=f"arn:aws:iam::{local_aws.ACCOUNT}:role/s3vl-test",
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": build_zip(BEHAVIOURS_HANDLER) if zip_bytes is None else zip_bytes},
        **extra,
    )
