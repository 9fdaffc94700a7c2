"""The real AWS CLI with botocore's Stubber in place of AWS, for the README's AWS-only commands.

Run as a program it is `aws`: `python aws_stub.py cloudformation describe-stacks ...` goes through
awscli's own driver (argument parsing, file:// loading, parameter validation against the service model,
waiters, --query and --output), and every client the driver creates answers from RESPONSES through a
Stubber, which also validates each canned response against the model. No request leaves the process.
Each call is appended to $S3VL_AWS_STUB_LOG as one JSON line {service, region, operation, params}.

The responses describe the stack that `create-stack` with parameters-example.json would create: the
account and Region of its AuroraClusterArn, and names the template derives from ResourcePrefix `s3vl`.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-west-2"
STACK_NAME = "sample-rds-lambda-s3vector-integration"
STACK_ID = (
    f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK_NAME}/5f1e2d30-ca7e-11f0-9b1a-0a3c4e5d6f70"
)
CLUSTER_ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:my-aurora-cluster"
BUCKET_NAME = f"s3vl-vectors-{ACCOUNT}-{REGION}"
AURORA_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/s3vl-aurora-invoke-{REGION}"

OUTPUTS = {
    "AuroraRoleAttachmentCommand": (
        "aws rds add-role-to-db-cluster --db-cluster-identifier my-aurora-cluster"
        f" --role-arn {AURORA_ROLE_ARN} --feature-name Lambda --region {REGION}"
    ),
    "LambdaFunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:s3vl-vector-query",
    "LambdaFunctionName": "s3vl-vector-query",
    "S3VectorIndexArn": f"arn:aws:s3vectors:{REGION}:{ACCOUNT}:bucket/{BUCKET_NAME}/index/s3vl-5d-cosine",
    "S3VectorBucketArn": f"arn:aws:s3vectors:{REGION}:{ACCOUNT}:bucket/{BUCKET_NAME}",
    "S3VectorBucketName": BUCKET_NAME,
    "AuroraLambdaRoleArn": AURORA_ROLE_ARN,
    "AuroraClusterIdentifier": "my-aurora-cluster",
    "DeadLetterQueueArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:s3vl-vector-query-dlq",
    "DeadLetterQueueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/s3vl-vector-query-dlq",
    "LambdaSecurityGroupId": "sg-0a1b2c3d4e5f60718",
}


def _stack(status: str) -> dict[str, Any]:
    return {
        "StackId": STACK_ID,
        "StackName": STACK_NAME,
        "CreationTime": datetime.datetime(2026, 1, 15, 9, 30, tzinfo=datetime.UTC),
        "StackStatus": status,
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
        "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in OUTPUTS.items()],
    }


# service -> operation -> response. describe-stacks answers CREATE_COMPLETE (create-stack's waiter
# stops at once); a waiter for the deletion gets the error CloudFormation gives for a deleted stack.
RESPONSES: dict[str, dict[str, dict[str, Any]]] = {
    "cloudformation": {
        "CreateStack": {"StackId": STACK_ID},
        "DescribeStacks": {"Stacks": [_stack("CREATE_COMPLETE")]},
        "DeleteStack": {},
    },
    "rds": {
        "AddRoleToDBCluster": {},
        "RemoveRoleFromDBCluster": {},
    },
}
# Operations answered with a client error instead: (code, message, HTTP status).
ERRORS: dict[str, dict[str, tuple[str, str, int]]] = {
    "cloudformation": {
        "DescribeStacks@deleted": ("ValidationError", f"Stack with id {STACK_NAME} does not exist", 400),
    },
}


def _attach_stubber(client: Any, service: str, log_path: str | None, deleted: list[bool]) -> None:
    from botocore import xform_name
    from botocore.stub import Stubber

    stubber = Stubber(client)

    def queue_response(model: Any, params: dict[str, Any], **_: Any) -> None:
        # Runs before the Stubber's own handler: queue the canned answer for whatever operation is called.
        operation = model.name
        if log_path:
            call = {"service": service, "region": client.meta.region_name, "operation": operation}
            with open(log_path, "a") as log:
                log.write(json.dumps({**call, "params": params}, default=str) + "\n")
        if operation == "DeleteStack":
            deleted[0] = True
        error = ERRORS.get(service, {}).get(f"{operation}@deleted") if deleted[0] else None
        if error is not None:
            code, message, status = error
            stubber.add_client_error(xform_name(operation), code, message, status, expected_params=params)
            return
        if operation not in RESPONSES.get(service, {}):
            raise SystemExit(f"aws_stub: no canned response for {service} {operation}: add one to RESPONSES")
        stubber.add_response(xform_name(operation), RESPONSES[service][operation], expected_params=params)

    client.meta.events.register_first("before-parameter-build.*.*", queue_response)
    stubber.activate()


def main(argv: list[str]) -> int:
    from awscli.clidriver import create_clidriver

    driver = create_clidriver()
    session = driver.session
    create_client = session.create_client
    log_path = os.environ.get("S3VL_AWS_STUB_LOG")
    # A stack deleted by an earlier command of the same shell stays deleted for the waiter.
    state_path = f"{log_path}.deleted" if log_path else None
    deleted = [bool(state_path and os.path.exists(state_path))]

    def stubbed_create_client(service_name: str, *args: Any, **kwargs: Any) -> Any:
        client = create_client(service_name, *args, **kwargs)
        _attach_stubber(client, service_name, log_path, deleted)
        return client

    session.create_client = stubbed_create_client
    status = int(driver.main(argv))
    if deleted[0] and state_path:
        open(state_path, "w").close()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
