"""Every operation's response against botocore's output shape; every error case's status and code."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from s3vl_local.s3vectors.model import service_model
from support.s3vectors import create_bucket_and_index

from .shapes import shape_problems

ARN_PREFIX = "arn:aws:s3vectors:us-west-2:000000000000:bucket/"


def test_every_operation_answers_with_its_output_shape(client: Any) -> None:
    sel = {"vectorBucketName": "shape-bucket", "indexName": "shape-index"}
    bucket = {"vectorBucketName": "shape-bucket"}
    index_arn = f"{ARN_PREFIX}shape-bucket/index/shape-index"
    calls: list[tuple[str, dict[str, Any]]] = [
        ("create_vector_bucket", {**bucket, "tags": {"team": "search"}}),
        ("get_vector_bucket", bucket),
        ("list_vector_buckets", {"prefix": "shape-"}),
        (
            "put_vector_bucket_policy",
            {**bucket, "policy": json.dumps({"Version": "2012-10-17", "Statement": []})},
        ),
        ("get_vector_bucket_policy", bucket),
        ("delete_vector_bucket_policy", bucket),
        ("put_vector_bucket_default_index_mode", {**bucket, "defaultIndexMode": "ENHANCED"}),
        (
            "create_index",
            {
                **sel,
                "dataType": "float32",
                "dimension": 3,
                "distanceMetric": "euclidean",
                "metadataConfiguration": {
                    "nonFilterableMetadataKeys": ["body"],
                    "textSearchConfigurations": [{"metadataKey": "body", "language": "en"}],
                },
            },
        ),
        ("get_index", {"indexArn": index_arn}),
        ("list_indexes", {**bucket, "maxResults": 10}),
        ("update_index_mode", {**sel, "indexMode": "ENHANCED"}),
        (
            "update_metadata_configuration",
            {**sel, "add": {"textSearchConfigurations": [{"metadataKey": "title"}]}},
        ),
        ("tag_resource", {"resourceArn": index_arn, "tags": {"env": "test"}}),
        ("list_tags_for_resource", {"resourceArn": index_arn}),
        ("untag_resource", {"resourceArn": index_arn, "tagKeys": ["env"]}),
        (
            "put_vectors",
            {
                **sel,
                "vectors": [
                    {"key": f"v{i}", "data": {"float32": [i, 1.0, 2.0]}, "metadata": {"n": i, "body": "x"}}
                    for i in range(5)
                ],
            },
        ),
        ("get_vectors", {**sel, "keys": ["v1", "v2", "missing"], "returnData": True, "returnMetadata": True}),
        ("list_vectors", {**sel, "maxResults": 2, "returnData": True, "returnMetadata": True}),
        (
            "query_vectors",
            {
                **sel,
                "topK": 3,
                "queryVector": {"float32": [1.0, 1.0, 2.0]},
                "filter": {"n": {"$gte": 1}},
                "returnDistance": True,
                "returnMetadata": True,
            },
        ),
        ("delete_vectors", {**sel, "keys": ["v1", "absent"]}),
        ("delete_index", sel),
        ("delete_vector_bucket", bucket),
    ]
    model = service_model()
    covered = set()
    for method, params in calls:
        response = getattr(client, method)(**params)
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
        operation = client.meta.method_to_api_mapping[method]
        covered.add(operation)
        output = model.operation_model(operation).output_shape
        assert shape_problems(output, client.raw_bodies[operation]) == [], operation
    assert covered == set(model.operation_names)


def test_responses_carry_the_values_written(client: Any, new_index: Callable[..., dict[str, str]]) -> None:
    sel = new_index(
        dimension=2, metric="cosine", metadataConfiguration={"nonFilterableMetadataKeys": ["note"]}
    )
    client.put_vectors(
        **sel, vectors=[{"key": "a", "data": {"float32": [0.5, 0.25]}, "metadata": {"note": "é€"}}]
    )
    got = client.get_vectors(**sel, keys=["a"], returnData=True, returnMetadata=True)["vectors"]
    assert got == [{"key": "a", "data": {"float32": [0.5, 0.25]}, "metadata": {"note": "é€"}}]
    index = client.get_index(**sel)["index"]
    assert (index["dimension"], index["distanceMetric"], index["dataType"]) == (2, "cosine", "float32")
    assert index["metadataConfiguration"] == {"nonFilterableMetadataKeys": ["note"]}
    assert index["indexArn"] == f"{ARN_PREFIX}{sel['vectorBucketName']}/index/{sel['indexName']}"


@pytest.fixture(scope="module")
def sel(client: Any) -> dict[str, str]:
    selector = create_bucket_and_index(
        client, "errors", "cases", 4, metadataConfiguration={"nonFilterableMetadataKeys": ["note"]}
    )
    vectors = [
        {"key": f"k{i}", "data": {"float32": [1.0, i, 0.0, 1.0]}, "metadata": {"n": i}} for i in range(5)
    ]
    client.put_vectors(**selector, vectors=vectors)
    return selector


def _vec(key: str = "k", data: list[float] | None = None, metadata: Any = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "key": key,
        "data": {"float32": data if data is not None else [1.0, 2.0, 3.0, 4.0]},
    }
    if metadata is not None:
        item["metadata"] = metadata
    return item


def _query(c: Any, s: dict[str, str], **kw: Any) -> Any:
    return c.query_vectors(**s, **{"topK": 2, "queryVector": {"float32": [1.0, 0.0, 0.0, 0.0]}, **kw})


def _reused_token(c: Any, s: dict[str, str]) -> Any:
    c.put_vectors(**s, vectors=[_vec(f"p{i}", [1.0, 1.0, 1.0, float(i)]) for i in range(150)])
    first = _query(c, s, topK=103)
    assert "nextToken" in first
    return _query(c, s, topK=103, filter={"n": 1}, nextToken=first["nextToken"])


ERROR_CASES: list[tuple[str, Callable[[Any, dict[str, str]], Any], int, str]] = [
    (
        "bucket name chars",
        lambda c, s: c.create_vector_bucket(vectorBucketName="Bad_Name"),
        400,
        "ValidationException",
    ),
    (
        "bucket name short",
        lambda c, s: c.create_vector_bucket(vectorBucketName="ab"),
        400,
        "ValidationException",
    ),
    (
        "bucket exists",
        lambda c, s: c.create_vector_bucket(vectorBucketName="errors"),
        409,
        "ConflictException",
    ),
    (
        "bucket not empty",
        lambda c, s: c.delete_vector_bucket(vectorBucketName="errors"),
        409,
        "ConflictException",
    ),
    (
        "missing bucket",
        lambda c, s: c.get_vector_bucket(vectorBucketName="nope-nope"),
        404,
        "NotFoundException",
    ),
    (
        "missing index",
        lambda c, s: c.get_index(vectorBucketName="errors", indexName="nope"),
        404,
        "NotFoundException",
    ),
    (
        "index in missing bucket",
        lambda c, s: c.create_index(
            vectorBucketName="nope-nope",
            indexName="i-1",
            dataType="float32",
            dimension=2,
            distanceMetric="cosine",
        ),
        404,
        "NotFoundException",
    ),
    (
        "index exists",
        lambda c, s: c.create_index(**s, dataType="float32", dimension=2, distanceMetric="cosine"),
        409,
        "ConflictException",
    ),
    (
        "dimension 0",
        lambda c, s: c.create_index(
            vectorBucketName="errors",
            indexName="d0",
            dataType="float32",
            dimension=0,
            distanceMetric="cosine",
        ),
        400,
        "ValidationException",
    ),
    (
        "dimension 4097",
        lambda c, s: c.create_index(
            vectorBucketName="errors",
            indexName="d1",
            dataType="float32",
            dimension=4097,
            distanceMetric="cosine",
        ),
        400,
        "ValidationException",
    ),
    (
        "metric",
        lambda c, s: c.create_index(
            vectorBucketName="errors", indexName="d2", dataType="float32", dimension=2, distanceMetric="dot"
        ),
        400,
        "ValidationException",
    ),
    (
        "index name chars",
        lambda c, s: c.create_index(
            vectorBucketName="errors",
            indexName="Idx_1",
            dataType="float32",
            dimension=2,
            distanceMetric="cosine",
        ),
        400,
        "ValidationException",
    ),
    ("bad index arn", lambda c, s: c.get_index(indexArn="arn:aws:s3:::bucket/x"), 400, "ValidationException"),
    (
        "index arn and names",
        lambda c, s: c.get_index(indexArn=f"{ARN_PREFIX}errors/index/cases", **s),
        400,
        "ValidationException",
    ),
    ("no selector", lambda c, s: c.get_index(), 400, "ValidationException"),
    (
        "dimension mismatch",
        lambda c, s: c.put_vectors(**s, vectors=[_vec(data=[1.0])]),
        400,
        "ValidationException",
    ),
    (
        "NaN",
        lambda c, s: c.put_vectors(**s, vectors=[_vec(data=[1.0, float("nan"), 0.0, 0.0])]),
        400,
        "ValidationException",
    ),
    (
        "Infinity",
        lambda c, s: c.put_vectors(**s, vectors=[_vec(data=[1.0, float("inf"), 0.0, 0.0])]),
        400,
        "ValidationException",
    ),
    (
        "beyond float32",
        lambda c, s: c.put_vectors(**s, vectors=[_vec(data=[1.0, 1e39, 0.0, 0.0])]),
        400,
        "ValidationException",
    ),
    (
        "zero vector put",
        lambda c, s: c.put_vectors(**s, vectors=[_vec(data=[0.0] * 4)]),
        400,
        "ValidationException",
    ),
    (
        "zero vector query",
        lambda c, s: _query(c, s, queryVector={"float32": [0.0] * 4}),
        400,
        "ValidationException",
    ),
    (
        "501 vectors",
        lambda c, s: c.put_vectors(**s, vectors=[_vec(f"b{i}") for i in range(501)]),
        400,
        "ValidationException",
    ),
    (
        "101 keys",
        lambda c, s: c.get_vectors(**s, keys=[f"g{i}" for i in range(101)]),
        400,
        "ValidationException",
    ),
    (
        "501 deletes",
        lambda c, s: c.delete_vectors(**s, keys=[f"g{i}" for i in range(501)]),
        400,
        "ValidationException",
    ),
    ("key too long", lambda c, s: c.put_vectors(**s, vectors=[_vec("k" * 1025)]), 400, "ValidationException"),
    ("key empty", lambda c, s: c.put_vectors(**s, vectors=[_vec("")]), 400, "ValidationException"),
    (
        "51 metadata keys",
        lambda c, s: c.put_vectors(**s, vectors=[_vec(metadata={f"m{i}": i for i in range(51)})]),
        400,
        "ValidationException",
    ),
    (
        "empty list",
        lambda c, s: c.put_vectors(**s, vectors=[_vec(metadata={"tags": []})]),
        400,
        "ValidationException",
    ),
    (
        "nested object",
        lambda c, s: c.put_vectors(**s, vectors=[_vec(metadata={"o": {"a": 1}})]),
        400,
        "ValidationException",
    ),
    (
        "total metadata over 40 KB",
        lambda c, s: c.put_vectors(**s, vectors=[_vec(metadata={"note": "x" * (40 * 1024)})]),
        400,
        "ValidationException",
    ),
    (
        # 1000 characters but 3000 UTF-8 bytes: the limit counts bytes.
        "filterable metadata over 2 KB in UTF-8",
        lambda c, s: c.put_vectors(**s, vectors=[_vec(metadata={"title": "€" * 1000})]),
        400,
        "ValidationException",
    ),
    ("topK 0", lambda c, s: _query(c, s, topK=0), 400, "ValidationException"),
    ("topK 10001", lambda c, s: _query(c, s, topK=10001), 400, "ValidationException"),
    ("no query vector", lambda c, s: c.query_vectors(**s, topK=1), 400, "ValidationException"),
    (
        "query dimension",
        lambda c, s: _query(c, s, queryVector={"float32": [1.0]}),
        400,
        "ValidationException",
    ),
    (
        "unknown operator",
        lambda c, s: _query(c, s, filter={"n": {"$regex": "a"}}),
        400,
        "ValidationException",
    ),
    ("unknown logical", lambda c, s: _query(c, s, filter={"$not": [{"n": 1}]}), 400, "ValidationException"),
    ("$gt string", lambda c, s: _query(c, s, filter={"n": {"$gt": "a"}}), 400, "ValidationException"),
    ("$in empty", lambda c, s: _query(c, s, filter={"n": {"$in": []}}), 400, "ValidationException"),
    ("$and empty", lambda c, s: _query(c, s, filter={"$and": []}), 400, "ValidationException"),
    (
        "$exists string",
        lambda c, s: _query(c, s, filter={"n": {"$exists": "yes"}}),
        400,
        "ValidationException",
    ),
    ("filter array", lambda c, s: _query(c, s, filter={"n": [1, 2]}), 400, "ValidationException"),
    ("non-filterable key", lambda c, s: _query(c, s, filter={"note": "x"}), 400, "ValidationException"),
    ("CLASSIC on ENHANCED", lambda c, s: _query(c, s, queryMode="CLASSIC"), 400, "ValidationException"),
    ("garbage token", lambda c, s: _query(c, s, nextToken="not-a-token"), 400, "ValidationException"),
    ("token reused with another query", _reused_token, 400, "ValidationException"),
    (
        "segment index too large",
        lambda c, s: c.list_vectors(**s, segmentCount=2, segmentIndex=2),
        400,
        "ValidationException",
    ),
    ("segment index alone", lambda c, s: c.list_vectors(**s, segmentIndex=0), 400, "ValidationException"),
    (
        "no bucket policy",
        lambda c, s: c.get_vector_bucket_policy(vectorBucketName="errors"),
        404,
        "NotFoundException",
    ),
    (
        "policy not JSON",
        lambda c, s: c.put_vector_bucket_policy(vectorBucketName="errors", policy="{"),
        400,
        "ValidationException",
    ),
]


@pytest.mark.parametrize(("case", "call", "status", "code"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_error_status_and_code(
    raw_client: Any, sel: dict[str, str], case: str, call: Callable[..., Any], status: int, code: str
) -> None:
    with pytest.raises(ClientError) as info:
        call(raw_client, sel)
    error = info.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status, case
    assert error["Error"]["Code"] == code
    assert error["Error"]["Message"]
    assert error["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == code
    if case in ("NaN", "Infinity"):
        assert "NaN or Infinity" in error["Error"]["Message"]


def _post(emulator: Any, method: str, path: str, body: bytes) -> tuple[int, Any, dict[str, Any]]:
    conn = http.client.HTTPConnection(emulator.host, emulator.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response, json.loads(response.read())
    finally:
        conn.close()


def test_vector_elements_must_be_numbers(emulator: Any, sel: dict[str, str]) -> None:
    body = json.dumps({**sel, "vectors": [{"key": "s", "data": {"float32": ["1", 0, 0, 0]}}]}).encode()
    status, _, payload = _post(emulator, "POST", "/PutVectors", body)
    assert (status, payload["__type"]) == (400, "ValidationException")
    assert "must be a number" in payload["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/NoSuchOperation", b"{}"),
        ("GET", "/", b""),
        ("GET", "/QueryVectors", b""),
        ("POST", "/QueryVectors", b"{not json"),
        ("POST", "/CreateVectorBucket", b"[1, 2]"),
    ],
)
def test_bad_requests_get_a_modelled_json_error(emulator: Any, method: str, path: str, body: bytes) -> None:
    status, response, payload = _post(emulator, method, path, body)
    assert status == 400
    assert response.getheader("Content-Type") == "application/json"
    assert response.getheader("x-amzn-ErrorType") == payload["__type"] == "ValidationException"
    assert payload["message"]


# The service's own wording, from moto's AWS-verified tests and from errors users reported; the emulator
# adds its detail after it. Clients that match on these messages behave the same against both.
SERVICE_MESSAGES: list[tuple[str, Callable[[Any, dict[str, str]], Any], str]] = [
    (
        "dimension",
        lambda c, s: c.put_vectors(**s, vectors=[_vec("my_first_vector", [1.0])]),
        "Invalid record for key 'my_first_vector': vector must have length 4, but has length 1",
    ),
    (
        "filterable metadata",
        lambda c, s: c.put_vectors(**s, vectors=[_vec("big", metadata={"title": "€" * 1000})]),
        "Invalid record for key 'big': Filterable metadata must have at most 2048 bytes",
    ),
    (
        "both selectors",
        lambda c, s: c.get_vectors(**s, indexArn=f"{ARN_PREFIX}errors/index/cases", keys=["k0"]),
        "Must specify either indexArn or both vectorBucketName and indexName",
    ),
    (
        "no selector",
        lambda c, s: c.get_vectors(vectorBucketName="errors", keys=["k0"]),
        "Must specify either indexArn or both vectorBucketName and indexName",
    ),
    (
        "missing index",
        lambda c, s: c.get_vectors(vectorBucketName="errors", indexName="nope", keys=["k0"]),
        "The specified index could not be found",
    ),
    (
        "missing bucket",
        lambda c, s: c.get_vector_bucket(vectorBucketName="nope-nope"),
        "The specified vector bucket could not be found",
    ),
    (
        "bucket exists",
        lambda c, s: c.create_vector_bucket(vectorBucketName="errors"),
        "A vector bucket with the specified name already exists",
    ),
    (
        "bucket not empty",
        lambda c, s: c.delete_vector_bucket(vectorBucketName="errors"),
        "The specified vector bucket is not empty",
    ),
    (
        "no policy",
        lambda c, s: c.get_vector_bucket_policy(vectorBucketName="errors"),
        "The specified vector bucket policy could not be found",
    ),
]


@pytest.mark.parametrize(("case", "call", "prefix"), SERVICE_MESSAGES, ids=[m[0] for m in SERVICE_MESSAGES])
def test_messages_start_with_the_service_wording(
    raw_client: Any, sel: dict[str, str], case: str, call: Callable[..., Any], prefix: str
) -> None:
    with pytest.raises(ClientError) as info:
        call(raw_client, sel)
    assert info.value.response["Error"]["Message"].startswith(prefix), case
