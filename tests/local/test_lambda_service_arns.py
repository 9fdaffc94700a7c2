"""The local Lambda service is Lambda in one Region (us-west-2) of one account (000000000000): a function
ARN of another Region, account or partition names a function that does not exist there, and every
operation answers it as Lambda does (ResourceNotFoundException, 404), never with the local function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from lambda_test_zips import BEHAVIOURS_HANDLER, build_zip, create_function
from s3vl_local import local_aws
from s3vl_local.lambda_service.server import LambdaService

FUNCTION = "arn-scoped"
LOCAL = f"arn:aws:lambda:{local_aws.REGION}:{local_aws.ACCOUNT}:function:{FUNCTION}"
OTHER_REGION = f"arn:aws:lambda:eu-west-1:{local_aws.ACCOUNT}:function:{FUNCTION}"
OTHER_ACCOUNT = f"arn:aws:lambda:{local_aws.REGION}:111122223333:function:{FUNCTION}"
OTHER_PARTITION = LOCAL.replace("arn:aws:", "arn:aws-cn:")
REGION_MESSAGE = f"Functions from 'eu-west-1' are not reachable in this region ('{local_aws.REGION}')"

OPERATIONS: dict[str, Callable[[Any, str], Any]] = {
    "invoke": lambda lam, ref: lam.invoke(FunctionName=ref, Payload=b"{}"),
    "invoke-event": lambda lam, ref: lam.invoke(FunctionName=ref, Payload=b"{}", InvocationType="Event"),
    "get-function": lambda lam, ref: lam.get_function(FunctionName=ref),
    "get-configuration": lambda lam, ref: lam.get_function_configuration(FunctionName=ref),
    "update-configuration": lambda lam, ref: lam.update_function_configuration(FunctionName=ref, Timeout=5),
    "update-code": lambda lam, ref: lam.update_function_code(
        FunctionName=ref, ZipFile=build_zip(BEHAVIOURS_HANDLER)
    ),
    "put-concurrency": lambda lam, ref: lam.put_function_concurrency(
        FunctionName=ref, ReservedConcurrentExecutions=2
    ),
    "delete": lambda lam, ref: lam.delete_function(FunctionName=ref),
}


@pytest.fixture(scope="module")
def client(lambda_service: LambdaService) -> Any:
    lam = local_aws.client("lambda", lambda_service.url, Config(retries={"max_attempts": 1}))
    create_function(lam, FUNCTION)
    return lam


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(
    ("ref", "message"),
    [
        (OTHER_REGION, REGION_MESSAGE),
        (OTHER_REGION + ":$LATEST", REGION_MESSAGE),
        (OTHER_ACCOUNT, f"Function not found: {OTHER_ACCOUNT}"),
        (f"111122223333:function:{FUNCTION}", f"Function not found: {OTHER_ACCOUNT}"),
        (OTHER_PARTITION, f"Function not found: {OTHER_PARTITION}"),
    ],
    ids=["region", "region-qualified", "account", "partial-arn-account", "partition"],
)
def test_foreign_arn_is_resource_not_found(client: Any, operation: str, ref: str, message: str) -> None:
    before = client.get_function_configuration(FunctionName=FUNCTION)
    with pytest.raises(ClientError) as caught:
        OPERATIONS[operation](client, ref)
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert error["Error"]["Message"] == message
    after = client.get_function_configuration(FunctionName=FUNCTION)
    assert (after["RevisionId"], after["Timeout"]) == (before["RevisionId"], before["Timeout"])


@pytest.mark.parametrize("ref", [LOCAL, f"{local_aws.ACCOUNT}:function:{FUNCTION}", FUNCTION])
def test_local_arn_partial_arn_and_name_reach_the_function(client: Any, ref: str) -> None:
    answer = client.invoke(FunctionName=ref, Payload=b'{"here": 1}')
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
