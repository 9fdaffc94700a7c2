"""Input a hostile or broken client sends: edited or foreign nextTokens, lone UTF-16 surrogates, a bad
Content-Length. Each is a 400 ValidationException (never a 500 or a dropped connection), and a bad
token reaches the handler's caller as INVALID_NEXT_TOKEN, which is not retryable."""

from __future__ import annotations

import base64
import http.client
import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import lambda_function
import pytest
from botocore.exceptions import ClientError
from s3vl_local.s3vectors.server import EmulatorServer
from support.s3vectors import create_float32_index

# The handler builds its client per region: one that no other test uses gets this emulator's endpoint.
HANDLER_REGION = "eu-central-2"
ARN = f"arn:aws:s3vectors:{HANDLER_REGION}:000000000000:bucket/hostile/index/"


def _edit(token: str, **changes: Any) -> str:
    """The token with fields changed (None removes one), as a client poking at it would."""
    state = json.loads(base64.urlsafe_b64decode(token))
    for name, value in changes.items():
        if value is None:
            state.pop(name, None)
        else:
            state[name] = value
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.fixture(scope="module")
def hostile(client: Any) -> dict[str, Any]:
    """Two indexes of 250 vectors and one real token of each kind."""
    client.create_vector_bucket(vectorBucketName="hostile")
    for name in ("first", "second"):
        create_float32_index(client, "hostile", name, 2)
        client.put_vectors(
            vectorBucketName="hostile",
            indexName=name,
            vectors=[{"key": f"k{i:03d}", "data": {"float32": [1.0, float(i)]}} for i in range(250)],
        )
    for i in range(3):
        client.create_vector_bucket(vectorBucketName=f"hostile-{i}")
    sel = {"vectorBucketName": "hostile", "indexName": "first"}
    query = {"topK": 250, "queryVector": {"float32": [1.0, 0.0]}}
    return {
        "sel": sel,
        "other": {"vectorBucketName": "hostile", "indexName": "second"},
        "query": query,
        "list": client.list_vectors(**sel, maxResults=10)["nextToken"],
        "query_token": client.query_vectors(**sel, **query)["nextToken"],
        "indexes": client.list_indexes(vectorBucketName="hostile", maxResults=1)["nextToken"],
        "buckets": client.list_vector_buckets(prefix="hostile-", maxResults=1)["nextToken"],
    }


TOKEN_CASES: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    "list key not a string": lambda c, h: c.list_vectors(**h["sel"], nextToken=_edit(h["list"], k=5)),
    "list key missing": lambda c, h: c.list_vectors(**h["sel"], nextToken=_edit(h["list"], k=None)),
    "list token of another index": lambda c, h: c.list_vectors(**h["other"], nextToken=h["list"]),
    "query offset not a number": lambda c, h: c.query_vectors(
        **h["sel"], **h["query"], nextToken=_edit(h["query_token"], o="100")
    ),
    "query offset negative": lambda c, h: c.query_vectors(
        **h["sel"], **h["query"], nextToken=_edit(h["query_token"], o=-100)
    ),
    "query offset between pages": lambda c, h: c.query_vectors(
        **h["sel"], **h["query"], nextToken=_edit(h["query_token"], o=150)
    ),
    "query offset past topK": lambda c, h: c.query_vectors(
        **h["sel"], **h["query"], nextToken=_edit(h["query_token"], o=10**6)
    ),
    "query offset boolean": lambda c, h: c.query_vectors(
        **h["sel"], **h["query"], nextToken=_edit(h["query_token"], o=True)
    ),
    "index name not a string": lambda c, h: c.list_indexes(
        vectorBucketName="hostile", nextToken=_edit(h["indexes"], n=["first"])
    ),
    "index token of another bucket": lambda c, h: c.list_indexes(
        vectorBucketName="hostile-0", nextToken=h["indexes"]
    ),
    "bucket name missing": lambda c, h: c.list_vector_buckets(
        prefix="hostile-", nextToken=_edit(h["buckets"], n=None)
    ),
}


# Refused before as well; kept so that the token checks' rewrite keeps refusing them.
GUARD_CASES: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    "list token of another segment": lambda c, h: c.list_vectors(
        **h["sel"], segmentCount=2, segmentIndex=1, nextToken=h["list"]
    ),
    "query token of another index": lambda c, h: c.query_vectors(
        **h["other"], **h["query"], nextToken=h["query_token"]
    ),
    "list token used for a query": lambda c, h: c.query_vectors(
        **h["sel"], **h["query"], nextToken=h["list"]
    ),
    "query token used for a list": lambda c, h: c.list_vectors(**h["sel"], nextToken=h["query_token"]),
    "bucket token with another prefix": lambda c, h: c.list_vector_buckets(
        prefix="h", nextToken=h["buckets"]
    ),
    "JSON array": lambda c, h: c.list_vectors(**h["sel"], nextToken=_b64("[1, 2]")),
    "not JSON": lambda c, h: c.list_vectors(**h["sel"], nextToken=_b64("\u00e9t\u00e9")),
    "not base64": lambda c, h: c.list_vectors(**h["sel"], nextToken="%%%%"),
    "a service-style token": lambda c, h: c.query_vectors(
        **h["sel"], **h["query"], nextToken="AAMA-EFRSURBSGh5" + "x" * 200
    ),
}


@pytest.mark.parametrize(
    ("case", "call"), [*TOKEN_CASES.items(), *GUARD_CASES.items()], ids=[*TOKEN_CASES, *GUARD_CASES]
)
def test_edited_or_foreign_next_token_is_a_validation_error(
    raw_client: Any, hostile: dict[str, Any], case: str, call: Callable[[Any, dict[str, Any]], Any]
) -> None:
    with pytest.raises(ClientError) as info:
        call(raw_client, hostile)
    error = info.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (
        400,
        "ValidationException",
    )
    # The handler maps a ValidationException about the nextToken to INVALID_NEXT_TOKEN.
    assert "nextToken" in error["Error"]["Message"]


def test_unedited_tokens_still_continue(client: Any, hostile: dict[str, Any]) -> None:
    listed = client.list_vectors(**hostile["sel"], maxResults=10, nextToken=hostile["list"])["vectors"]
    assert [v["key"] for v in listed] == [f"k{i:03d}" for i in range(10, 20)]
    page = client.query_vectors(**hostile["sel"], **hostile["query"], nextToken=hostile["query_token"])
    assert len(page["vectors"]) == 100 and page["nextToken"]


@pytest.fixture
def handler_env(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3VECTORS", emulator.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield


class _Context:
    aws_request_id = "hostile-1"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def test_edited_token_reaches_the_caller_as_invalid_next_token(
    handler_env: None, hostile: dict[str, Any]
) -> None:
    """Through the real handler and the real emulator: a 500 would have been SERVICE_UNAVAILABLE, which
    is retryable (SQLSTATE SV004), so a caller would retry a request that can never succeed."""
    event = {"operation": "list_vectors", "index_arn": ARN + "first", "max_results": 10}
    first = lambda_function.lambda_handler(event, _Context())
    assert first["ok"], first
    token = first["result"]["next_token"]
    for bad in (_edit(token, k=5), _edit(token, s="another")):
        envelope = lambda_function.lambda_handler({**event, "next_token": bad}, _Context())
        assert envelope["ok"] is False, envelope
        error = envelope["error"]
        assert (error["code"], error["retryable"], error["http_status"]) == (
            "INVALID_NEXT_TOKEN",
            False,
            400,
        ), error


def _raw(emulator: EmulatorServer, path: str, body: bytes, headers: dict[str, str] | None = None) -> Any:
    conn = http.client.HTTPConnection(emulator.host, emulator.port, timeout=10)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        return response.status, response.getheader("x-amzn-ErrorType"), json.loads(response.read())
    finally:
        conn.close()


SURROGATE_CASES = {
    "GetVectors key": (
        "/GetVectors",
        b'{"vectorBucketName":"hostile","indexName":"first","keys":["a\\ud800"]}',
    ),
    "PutVectors key": (
        "/PutVectors",
        b'{"vectorBucketName":"hostile","indexName":"first",'
        b'"vectors":[{"key":"\\udc00b","data":{"float32":[1,1]}}]}',
    ),
    "filter value": (
        "/QueryVectors",
        b'{"vectorBucketName":"hostile","indexName":"first","topK":1,'
        b'"queryVector":{"float32":[1,0]},"filter":{"k":"\\uDBFF"}}',
    ),
    "ListIndexes prefix": ("/ListIndexes", b'{"vectorBucketName":"hostile","prefix":"\\ud800"}'),
    "tag value": (
        "/tags/arn:aws:s3vectors:us-west-2:000000000000:bucket/hostile",
        b'{"tags":{"a":"\\ud83d"}}',
    ),
    # The same surrogate as raw (CESU-8) bytes: not UTF-8 at all.
    "raw surrogate bytes": ("/ListIndexes", b'{"vectorBucketName":"hostile","prefix":"\xed\xa0\x80"}'),
}


@pytest.mark.parametrize("case", list(SURROGATE_CASES))
def test_lone_surrogate_is_a_validation_error(
    emulator: EmulatorServer, hostile: dict[str, Any], case: str
) -> None:
    path, body = SURROGATE_CASES[case]
    status, code, payload = _raw(emulator, path, body)
    assert (status, code, payload["__type"]) == (400, "ValidationException", "ValidationException"), payload
    assert "surrogate" in payload["message"] or "UTF-8" in payload["message"]


def test_surrogate_pairs_are_fine(client: Any, emulator: EmulatorServer, hostile: dict[str, Any]) -> None:
    body = (
        b'{"vectorBucketName":"hostile","indexName":"first",'
        b'"vectors":[{"key":"pair-\\ud83d\\ude00","data":{"float32":[1,1]},"metadata":{"m":"\\ud83d\\ude00"}}]}'
    )
    assert _raw(emulator, "/PutVectors", body)[0] == 200
    got = client.get_vectors(**hostile["sel"], keys=["pair-\U0001f600"], returnMetadata=True)["vectors"]
    assert got == [{"key": "pair-\U0001f600", "metadata": {"m": "\U0001f600"}}]
    client.delete_vectors(**hostile["sel"], keys=["pair-\U0001f600"])


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", "12x", "0x10", "\u0661"])
def test_bad_content_length_is_a_validation_error(emulator: EmulatorServer, length: str) -> None:
    request = (
        f"POST /ListVectorBuckets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n\r\n{{}}"
    ).encode()
    with socket.create_connection((emulator.host, emulator.port), timeout=10) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        payload = json.loads(response.read())
        assert (response.status, payload["__type"]) == (400, "ValidationException"), payload
        assert "Content-Length" in payload["message"]
        # The body's end is unknown, so the server closes the connection instead of misreading it.
        assert response.getheader("Connection") == "close" or sock.recv(1) == b""
