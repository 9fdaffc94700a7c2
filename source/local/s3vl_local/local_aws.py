"""The local stack's AWS identity, in one place: its region, its account and its dummy credentials.

The walkthrough's region (us-west-2), so that `s3vl.configure(arn, 'us-west-2')` runs verbatim. The
Aurora shim runs inside PostgreSQL's own Python and cannot import this module: its HTTP client,
aurora_shim/aws_lambda_client.py, repeats the region and account, and tests/local checks that they agree.
"""

from __future__ import annotations

from typing import Any

REGION = "us-west-2"
ACCOUNT = "000000000000"
ACCESS_KEY_ID = "s3vl-local"
SECRET_ACCESS_KEY = "s3vl-local-secret"


def client(service: str, endpoint_url: str, config: Any = None) -> Any:
    """A boto3 client for a local service (`s3vectors` or `lambda`) at `endpoint_url`."""
    import boto3  # deferred: the emulator and the Lambda service start without importing boto3

    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=config,
    )
