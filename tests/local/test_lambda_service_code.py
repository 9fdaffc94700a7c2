"""Code uploads to the local Lambda service: what Lambda refuses is refused with Lambda's 400, never a 500,
and the function keeps its code; what Lambda accepts (a zip without the handler module) is accepted."""

from __future__ import annotations

import http.client
import io
import json
import struct
import zipfile
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from lambda_test_zips import BEHAVIOURS_HANDLER, build_zip, create_function
from s3vl_local import local_aws
from s3vl_local.lambda_service.server import LambdaService

FUNCTION = "code-uploads"
NOT_BASE64_TEXT = "ZipFile must be a base64-encoded string"
NOT_A_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."


def _empty_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w"):
        pass
    return buffer.getvalue()


def _declaring_unzipped_size(size: int) -> bytes:
    """A small zip whose central directory declares `size` uncompressed bytes (what a zip bomb declares)."""
    data = bytearray(build_zip(BEHAVIOURS_HANDLER))
    header = data.index(b"PK\x01\x02")  # central directory file header; uncompressed size at +24
    data[header + 24 : header + 28] = struct.pack("<I", size)
    return bytes(data)


def _corrupt() -> bytes:
    data = bytearray(build_zip(BEHAVIOURS_HANDLER * 20))
    data[60:80] = bytes(20)  # inside the compressed member: the CRC check fails
    return bytes(data)


@pytest.fixture(scope="module")
def client(lambda_service: LambdaService) -> Any:
    lam = local_aws.client("lambda", lambda_service.url, Config(retries={"max_attempts": 1}))
    create_function(lam, FUNCTION)
    return lam


@pytest.mark.parametrize(
    ("zip_bytes", "message"),
    [
        (b"", "Uploaded file must be a non-empty zip"),
        (_empty_archive(), "Uploaded file must be a non-empty zip"),
        (b"this is not a zip file", NOT_A_ZIP),
        (_corrupt(), NOT_A_ZIP),
        (_declaring_unzipped_size(262_144_000), "Unzipped size must be smaller than 262144000 bytes"),
    ],
    ids=["zero-bytes", "empty-archive", "not-a-zip", "corrupt-member", "too-large-unzipped"],
)
def test_malformed_zip_is_invalid_parameter_and_the_code_stays(
    client: Any, zip_bytes: bytes, message: str
) -> None:
    before = client.get_function_configuration(FunctionName=FUNCTION)["CodeSha256"]
    for call in (
        lambda: client.update_function_code(FunctionName=FUNCTION, ZipFile=zip_bytes),
        lambda: client.create_function(
            FunctionName=FUNCTION + "-new",
            Runtime="python3.11",
            Role=f"arn:aws:iam::{local_aws.ACCOUNT}:role/s3vl-test",
            Handler="lambda_function.lambda_handler",
            Code={"ZipFile": zip_bytes},
        ),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        error = caught.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error["Error"]["Code"] == "InvalidParameterValueException"
        assert error["Error"]["Message"].startswith(message)
    assert client.get_function_configuration(FunctionName=FUNCTION)["CodeSha256"] == before
    names = [f["FunctionName"] for f in client.list_functions()["Functions"]]
    assert FUNCTION + "-new" not in names
    answer = client.invoke(FunctionName=FUNCTION, Payload=b'{"still": "here"}')
    assert json.loads(answer["Payload"].read())["echo"] == {"still": "here"}


@pytest.mark.parametrize(
    ("body", "error_type", "message"),
    [
        (b'{"ZipFile": null}', "InvalidParameterValueException", "takes code as ZipFile only"),
        (b'{"ZipFile": 5}', "InvalidRequestContentException", NOT_BASE64_TEXT),
        (b'{"ZipFile": ["UEs="]}', "InvalidRequestContentException", NOT_BASE64_TEXT),
        (b'{"ZipFile": "not base64!"}', "InvalidParameterValueException", NOT_A_ZIP),
    ],
)
def test_zip_file_field_of_the_wrong_type_is_a_client_error(
    client: Any, lambda_service: LambdaService, body: bytes, error_type: str, message: str
) -> None:
    url = urlsplit(lambda_service.url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    try:
        connection.request("PUT", f"/2015-03-31/functions/{FUNCTION}/code", body=body)
        response = connection.getresponse()
        answer = json.loads(response.read())
    finally:
        connection.close()
    assert (response.status, response.headers["x-amzn-ErrorType"]) == (400, error_type), answer
    assert answer["Type"] == "User" and message in answer["Message"]


def test_zip_without_the_handler_module_is_accepted_and_its_invocation_fails_to_import(client: Any) -> None:
    other = build_zip("def lambda_handler(event, context):\n    return {}\n", module="other_module")
    create_function(client, FUNCTION + "-nohandler", other)
    answer = client.invoke(FunctionName=FUNCTION + "-nohandler", Payload=b"{}")
    assert answer["StatusCode"] == 200 and answer["FunctionError"] == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"].startswith("Unable to import module 'lambda_function'")
