"""Bad input, table-driven: SQL calls, handler payloads (invoked through the Lambda service) and emulator
requests (raw HTTP and boto3). Each case names the error code or SQLSTATE it must raise and a fragment
of the message; the index they all aim at (bad-4) and the s3vl configuration are unchanged afterwards.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from s3vl_local import local_aws

from .conftest import BUCKET, ReliabilityStack

ARN = "<arn of bad-4>"  # replaced by the index's ARN when a case runs
MISSING_ARN = "arn:aws:s3vectors:us-west-2:000000000000:bucket/s3vl-reliability/index/no-such-index"
V4 = "ARRAY[0.1, 0.2, 0.3, 0.4]"


@dataclass(frozen=True)
class Case:
    id: str
    kind: str  # sql | handler | http | boto3
    request: Any  # SQL text; handler event; (path, body bytes); (method, kwargs, validate client-side)
    code: str  # SQLSTATE; envelope error code; x-amzn-ErrorType; botocore error code
    fragment: str  # part of the message (for SQL: of MESSAGE, DETAIL and HINT together)


def sql(id: str, text: str, code: str, fragment: str) -> Case:
    return Case(id, "sql", text, code, fragment)


def handler(id: str, event: Any, code: str, fragment: str) -> Case:
    return Case(id, "handler", event, code, fragment)


def http(id: str, path: str, body: Any, code: str, fragment: str) -> Case:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Case(id, "http", (path, raw), code, fragment)


def sdk(
    id: str, method: str, kwargs: dict[str, Any], code: str, fragment: str, validate: bool = False
) -> Case:
    return Case(id, "boto3", (method, kwargs, validate), code, fragment)


def query(**fields: Any) -> dict[str, Any]:
    return {"operation": "query_vectors", "index_arn": ARN, "query_vector": [0.1, 0.2, 0.3, 0.4], **fields}


def put(vectors: Any) -> dict[str, Any]:
    return {"operation": "put_vectors", "index_arn": ARN, "vectors": vectors}


def vector(key: str = "bad-new", data: Any = None, **extra: Any) -> dict[str, Any]:
    return {"key": key, "data": [0.1, 0.2, 0.3, 0.4] if data is None else data, **extra}


def wire(n: int, dim: int = 4, **extra: Any) -> list[dict[str, Any]]:
    """`n` PutVectors items in the service's own JSON form."""
    return [{"key": f"bad-wire-{i}", "data": {"float32": [0.5] * dim}, **extra} for i in range(n)]


BIG_METADATA = "{" + ", ".join(f'"k{i}": {i}' for i in range(51)) + "}"
CASES = [
    # --- SQL: checked in SQL before invoking, or rejected by the function or S3 Vectors ---------------
    sql("sql-unknown-index", f"SELECT * FROM s3vl.query_vectors({V4}, 'no-such')", "42704", "no-such"),
    sql(
        "sql-wrong-dimension",
        "SELECT * FROM s3vl.query_vectors(ARRAY[1, 2, 3], 'bad-4')",
        "22023",
        "dimension",
    ),
    sql(
        "sql-null-element", "SELECT * FROM s3vl.query_vectors(ARRAY[1, NULL, 3, 4], 'bad-4')", "22023", "NULL"
    ),
    sql(
        "sql-nan",
        "SELECT * FROM s3vl.query_vectors(ARRAY[1, 'NaN', 3, 4]::float8[], 'bad-4')",
        "22023",
        "NaN",
    ),
    sql(
        "sql-infinity",
        "SELECT * FROM s3vl.query_vectors(ARRAY[1, 'Infinity', 3, 4]::float8[], 'bad-4')",
        "22023",
        "Infinity",
    ),
    sql("sql-zero-cosine", "SELECT * FROM s3vl.query_vectors(ARRAY[0, 0, 0, 0], 'bad-4')", "22023", "zero"),
    sql("sql-top-k-0", f"SELECT * FROM s3vl.query_vectors({V4}, 'bad-4', NULL, 0)", "22023", "top_k"),
    sql("sql-top-k-10001", f"SELECT * FROM s3vl.query_vectors({V4}, 'bad-4', NULL, 10001)", "22023", "top_k"),
    sql(
        "sql-2d-vector",
        "SELECT * FROM s3vl.query_vectors(ARRAY[[1, 2], [3, 4]], 'bad-4')",
        "22023",
        "one-dimensional",
    ),
    sql("sql-null-vector", "SELECT * FROM s3vl.query_vectors(NULL::float8[], 'bad-4')", "22023", "NULL"),
    sql(
        "sql-filter-array",
        f"SELECT * FROM s3vl.query_vectors({V4}, 'bad-4', NULL, 5, false, '[1]')",
        "22023",
        "object",
    ),
    sql(
        "sql-filter-empty",
        f"SELECT * FROM s3vl.query_vectors({V4}, 'bad-4', NULL, 5, false, '{{}}')",
        "22023",
        "empty",
    ),
    sql(
        "sql-filter-operator",
        f"""SELECT * FROM s3vl.query_vectors({V4}, 'bad-4', NULL, 5, false, """
        """'{"group": {"$regex": "g"}}')""",
        "22023",
        "$regex",
    ),
    sql(
        "sql-filter-operand",
        f"""SELECT * FROM s3vl.query_vectors({V4}, 'bad-4', NULL, 5, false, '{{"rank": {{"$gt": "a"}}}}')""",
        "22023",
        "$gt",
    ),
    sql(
        "sql-filter-empty-and",
        f"""SELECT * FROM s3vl.query_vectors({V4}, 'bad-4', NULL, 5, false, '{{"$and": []}}')""",
        "22023",
        "$and",
    ),
    sql("sql-get-empty", "SELECT * FROM s3vl.get_vectors(ARRAY[]::text[], 'bad-4')", "22023", "empty array"),
    sql("sql-get-null-id", "SELECT * FROM s3vl.get_vectors(ARRAY['a', NULL], 'bad-4')", "22023", "NULL"),
    sql(
        "sql-get-long-id",
        "SELECT * FROM s3vl.get_vectors(ARRAY[repeat('x', 1025)], 'bad-4')",
        "22023",
        "1025 characters",
    ),
    sql(
        "sql-get-2d-ids",
        "SELECT * FROM s3vl.get_vectors(ARRAY[['a'], ['b']], 'bad-4')",
        "22023",
        "one-dimensional",
    ),
    sql("sql-list-max-0", "SELECT * FROM s3vl.list_vectors(NULL, 'bad-4', 0)", "22023", "max_results"),
    sql("sql-list-max-1001", "SELECT * FROM s3vl.list_vectors(NULL, 'bad-4', 1001)", "22023", "max_results"),
    sql(
        "sql-list-segments-17",
        "SELECT * FROM s3vl.list_vectors(index_name => 'bad-4', segment_count => 17, segment_index => 0)",
        "22023",
        "segment",
    ),
    sql(
        "sql-list-segment-alone",
        "SELECT * FROM s3vl.list_vectors(index_name => 'bad-4', segment_index => 0)",
        "22023",
        "segment",
    ),
    sql(
        "sql-list-bad-token",
        "SELECT * FROM s3vl.list_vectors(index_name => 'bad-4', next_token => 'garbage')",
        "22023",
        "Invalid nextToken",
    ),
    sql(
        "sql-put-rows-mismatch",
        "SELECT s3vl.put_vectors('bad-4', ARRAY['a', 'b'], ARRAY[[1, 2, 3, 4]])",
        "22023",
        "rows",
    ),
    sql(
        "sql-put-duplicate-ids",
        "SELECT s3vl.put_vectors('bad-4', ARRAY['a', 'a'], ARRAY[[1, 2, 3, 4], [1, 2, 3, 4]])",
        "22023",
        "repeats 'a'",
    ),
    sql(
        "sql-put-dimension",
        "SELECT s3vl.put_vectors('bad-4', ARRAY['a'], ARRAY[1, 2, 3])",
        "22023",
        "dimension",
    ),
    sql(
        "sql-put-nan",
        "SELECT s3vl.put_vectors('bad-4', ARRAY['a'], ARRAY[1, 'NaN', 3, 4]::float8[])",
        "22023",
        "NaN",
    ),
    sql(
        "sql-put-zero-cosine",
        "SELECT s3vl.put_vectors('bad-4', ARRAY['a'], ARRAY[0, 0, 0, 0])",
        "22023",
        "zero",
    ),
    sql(
        "sql-put-metadata-array",
        f"SELECT s3vl.put_vectors('bad-4', ARRAY['a'], {V4}, ARRAY['[1]'::jsonb])",
        "22023",
        "object",
    ),
    sql(
        "sql-put-metadata-keys",
        f"SELECT s3vl.put_vectors('bad-4', ARRAY['a'], {V4}, ARRAY['{BIG_METADATA}'::jsonb])",
        "22023",
        "50",
    ),
    sql(
        "sql-put-metadata-size",
        f"""SELECT s3vl.put_vectors('bad-4', ARRAY['a'], {V4},
                ARRAY[jsonb_build_object('text', repeat('x', 41000))])""",
        "22023",
        "40",
    ),
    sql(
        "sql-put-metadata-null-value",
        f"""SELECT s3vl.put_vectors('bad-4', ARRAY['a'], {V4}, ARRAY['{{"a": null}}'::jsonb])""",
        "22023",
        "null",
    ),
    sql("sql-delete-empty", "SELECT s3vl.delete_vectors('bad-4', ARRAY[]::text[])", "22023", "empty array"),
    sql(
        "sql-register-bad-name", f"SELECT s3vl.register_index('-bad name', '{MISSING_ARN}')", "22023", "name"
    ),
    sql("sql-register-bad-arn", "SELECT s3vl.register_index('x-new', 'arn:aws:s3:::bucket')", "22023", "ARN"),
    sql(
        "sql-register-missing",
        f"SELECT s3vl.register_index('x-new', '{MISSING_ARN}')",
        "SV002",
        "no-such-index",
    ),
    sql("sql-configure-bad-arn", "SELECT s3vl.configure('not-an-arn')", "22023", "ARN"),
    sql(
        "sql-configure-timeout",
        "SELECT s3vl.configure('arn:aws:lambda:us-west-2:000000000000:function:f', NULL, 0)",
        "22023",
        "timeout",
    ),
    sql(
        "sql-configure-region",
        "SELECT s3vl.configure('arn:aws:lambda:us-west-2:000000000000:function:f', 'eu-west-1')",
        "22023",
        "region",
    ),
    sql("sql-unregister-unknown", "SELECT s3vl.unregister_index('no-such')", "42704", "no-such"),
    # --- handler payloads, invoked through the Lambda service -------------------------------------------
    handler("handler-not-object", [1, 2], "INVALID_REQUEST", "not an object"),
    handler(
        "handler-contract-2",
        {"operation": "health", "contract_version": 2},
        "UNSUPPORTED_CONTRACT_VERSION",
        "contract_version",
    ),
    handler("handler-no-operation", {"index_arn": ARN}, "UNKNOWN_OPERATION", "operation"),
    handler("handler-unknown-operation", {"operation": "drop_index"}, "UNKNOWN_OPERATION", "drop_index"),
    handler("handler-unknown-field", query(topk=5), "UNKNOWN_FIELD", "topk"),
    handler(
        "handler-missing-arn",
        {"operation": "query_vectors", "query_vector": [1, 2, 3, 4]},
        "MISSING_FIELD",
        "index_arn",
    ),
    handler("handler-top-k-string", query(top_k="5"), "INVALID_FIELD_TYPE", "top_k"),
    handler("handler-top-k-float", query(top_k=5.0), "INVALID_FIELD_TYPE", "top_k"),
    handler("handler-top-k-range", query(top_k=0), "INVALID_TOP_K", "top_k"),
    handler(
        "handler-bucket-arn",
        query(index_arn="arn:aws:s3vectors:us-west-2:000000000000:bucket/b"),
        "INVALID_INDEX_ARN",
        "index",
    ),
    handler("handler-empty-vector", query(query_vector=[]), "INVALID_DIMENSION", "query_vector"),
    handler(
        "handler-string-element",
        query(query_vector=[0.1, "a", 0.3, 0.4]),
        "INVALID_VECTOR_VALUE",
        "query_vector",
    ),
    handler(
        "handler-boolean-element",
        query(query_vector=[True, 0.2, 0.3, 0.4]),
        "INVALID_VECTOR_VALUE",
        "query_vector",
    ),
    handler("handler-wrong-dimension", query(query_vector=[0.1, 0.2, 0.3]), "VALIDATION_FAILED", "dimension"),
    handler(
        "handler-filter-operator",
        query(filter={"group": {"$regex": "g"}}),
        "VALIDATION_FAILED",  # forwarded: S3 Vectors owns its operator set and names the operator
        "$regex",
    ),
    handler("handler-filter-empty-or", query(filter={"$or": []}), "FILTER_EMPTY_LOGICAL", "$or"),
    handler("handler-filter-empty-in", query(filter={"group": {"$in": []}}), "FILTER_INVALID_OPERAND", "$in"),
    handler("handler-filter-not-object", query(filter=[1]), "FILTER_NOT_OBJECT", "filter"),
    handler(
        "handler-return-metadata-string",
        query(return_metadata="yes"),
        "INVALID_FIELD_TYPE",
        "return_metadata",
    ),
    handler(
        "handler-get-no-keys",
        {"operation": "get_vectors", "index_arn": ARN, "keys": []},
        "EMPTY_KEYS",
        "keys",
    ),
    handler(
        "handler-get-empty-key",
        {"operation": "get_vectors", "index_arn": ARN, "keys": [""]},
        "INVALID_KEY",
        "key",
    ),
    handler(
        "handler-list-max-0",
        {"operation": "list_vectors", "index_arn": ARN, "max_results": 0},
        "INVALID_MAX_RESULTS",
        "max_results",
    ),
    handler(
        "handler-list-segment-alone",
        {"operation": "list_vectors", "index_arn": ARN, "segment_count": 2},
        "INVALID_SEGMENT",
        "segment",
    ),
    handler(
        "handler-list-empty-token",
        {"operation": "list_vectors", "index_arn": ARN, "next_token": ""},
        "INVALID_NEXT_TOKEN",
        "next_token",
    ),
    handler("handler-put-empty", put([]), "EMPTY_KEYS", "vectors"),
    handler("handler-put-metadata-string", put([vector(metadata="x")]), "INVALID_METADATA", "metadata"),
    handler(
        "handler-put-metadata-keys",
        put([vector(metadata={f"k{i}": i for i in range(51)})]),
        "METADATA_TOO_MANY_KEYS",
        "50",
    ),
    handler("handler-put-dimension", put([vector(data=[0.1, 0.2, 0.3])]), "VALIDATION_FAILED", "dimension"),
    handler("handler-put-no-data", put([{"key": "bad-new"}]), "MISSING_FIELD", "data"),
    handler("handler-missing-index", query(index_arn=MISSING_ARN), "INDEX_NOT_FOUND", "no-such-index"),
    handler(
        "handler-raise-on-error-string",
        {"operation": "health", "raise_on_error": "yes"},
        "INVALID_FIELD_TYPE",
        "raise_on_error",
    ),
    # --- the emulator, raw HTTP ------------------------------------------------------------------------
    http("http-malformed-json", "/QueryVectors", b"{not json", "ValidationException", "JSON"),
    http("http-unknown-path", "/DropEverything", {}, "ValidationException", "DropEverything"),
    http(
        "http-top-k-0",
        "/QueryVectors",
        {"indexArn": ARN, "topK": 0, "queryVector": {"float32": [0.1, 0.2, 0.3, 0.4]}},
        "ValidationException",
        "topK",
    ),
    http(
        "http-no-query-vector",
        "/QueryVectors",
        {"indexArn": ARN, "topK": 3},
        "ValidationException",
        "queryVector",
    ),
    http(
        "http-put-501",
        "/PutVectors",
        {"indexArn": ARN, "vectors": wire(501)},
        "ValidationException",
        "vectors",
    ),
    http(
        "http-put-dimension",
        "/PutVectors",
        {"indexArn": ARN, "vectors": wire(1, dim=5)},
        "ValidationException",
        "dimension",
    ),
    http(
        "http-put-nan",
        "/PutVectors",
        b'{"indexArn": "'
        + ARN.encode()
        + b'", "vectors": [{"key": "n", "data": {"float32": [NaN, 1, 1, 1]}}]}',
        "ValidationException",
        "NaN",
    ),
    http(
        "http-get-101",
        "/GetVectors",
        {"indexArn": ARN, "keys": [f"k{i}" for i in range(101)]},
        "ValidationException",
        "keys",
    ),
    http(
        "http-long-key", "/GetVectors", {"indexArn": ARN, "keys": ["x" * 1025]}, "ValidationException", "keys"
    ),
    http(
        "http-filter-operator",
        "/QueryVectors",
        {
            "indexArn": ARN,
            "topK": 3,
            "queryVector": {"float32": [0.1, 0.2, 0.3, 0.4]},
            "filter": {"group": {"$regex": "g"}},
        },
        "ValidationException",
        "$regex",
    ),
    http(
        "http-missing-index",
        "/QueryVectors",
        {"indexArn": MISSING_ARN, "topK": 3, "queryVector": {"float32": [0.1, 0.2, 0.3, 0.4]}},
        "NotFoundException",
        "no-such-index",
    ),
    # --- the emulator through boto3 (client-side validation off, so the emulator answers) --------------
    sdk(
        "boto3-create-existing-index",
        "create_index",
        {
            "vectorBucketName": BUCKET,
            "indexName": "bad-4",
            "dataType": "float32",
            "dimension": 4,
            "distanceMetric": "cosine",
        },
        "ConflictException",
        "bad-4",
    ),
    sdk(
        "boto3-delete-nonempty-bucket",
        "delete_vector_bucket",
        {"vectorBucketName": BUCKET},
        "ConflictException",
        BUCKET,
    ),
    sdk(
        "boto3-bad-bucket-name",
        "get_vector_bucket",
        {"vectorBucketName": "Bad_Bucket"},
        "ValidationException",
        "Bad_Bucket",
    ),
    sdk(
        "boto3-delete-zero-keys",
        "delete_vectors",
        {"indexArn": ARN, "keys": []},
        "ValidationException",
        "keys",
    ),
    sdk(
        "boto3-zero-vector",
        "put_vectors",
        {"indexArn": ARN, "vectors": [{"key": "z", "data": {"float32": [0.0, 0.0, 0.0, 0.0]}}]},
        "ValidationException",
        "zero",
    ),
    sdk(
        "boto3-metadata-null",
        "put_vectors",
        {"indexArn": ARN, "vectors": wire(1, metadata={"a": None})},
        "ValidationException",
        "metadata",
    ),
    sdk(
        "boto3-client-side-top-k",
        "query_vectors",
        {"indexArn": ARN, "topK": "three", "queryVector": {"float32": [0.1, 0.2, 0.3, 0.4]}},
        "ParamValidationError",
        "topK",
        validate=True,
    ),
]


def _substitute(value: Any, arn: str) -> Any:
    if isinstance(value, str):
        return value.replace(ARN, arn)
    if isinstance(value, bytes):
        return value.replace(ARN.encode(), arn.encode())
    if isinstance(value, list):
        return [_substitute(v, arn) for v in value]
    if isinstance(value, tuple):
        return tuple(_substitute(v, arn) for v in value)
    if isinstance(value, dict):
        return {k: _substitute(v, arn) for k, v in value.items()}
    return value


def _state(stack: ReliabilityStack) -> Any:
    """Everything bad input must not change: bad-4's vectors, the configuration and the registry."""
    with stack.connect() as conn:
        config = conn.execute(
            "SELECT lambda_arn, aws_region, timeout_seconds FROM s3vl.get_config()"
        ).fetchall()
        registry = conn.execute("SELECT index_name, index_arn FROM s3vl.list_indexes()").fetchall()
    return stack.index_checksum("bad-4"), config, registry


@pytest.fixture(scope="module")
def unchanged(rel_stack: ReliabilityStack) -> Iterator[None]:
    before = _state(rel_stack)
    yield
    assert _state(rel_stack) == before


def _run(stack: ReliabilityStack, case: Case) -> tuple[str, str]:
    """(code, message) of the failure the case provokes; fails the test if it succeeds."""
    request = _substitute(case.request, stack.indexes["bad-4"].arn)
    if case.kind == "sql":
        with stack.connect() as conn, pytest.raises(psycopg.Error) as caught:
            conn.execute(request).fetchall()
        error = caught.value
        diag = error.diag
        return str(error.sqlstate), " ".join(filter(None, (diag.message_primary, diag.message_detail)))
    if case.kind == "handler":
        answer = stack.lambda_client().invoke(
            FunctionName=stack.function_arn, Payload=json.dumps(request).encode()
        )
        assert "FunctionError" not in answer, answer
        envelope = json.loads(answer["Payload"].read())
        assert envelope["ok"] is False, envelope
        return envelope["error"]["code"], envelope["error"]["message"]
    if case.kind == "http":
        path, body = request
        url = stack.env["AWS_ENDPOINT_URL_S3VECTORS"] + path
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=10)
        document = json.loads(caught.value.read())
        assert caught.value.code == (404 if document["__type"] == "NotFoundException" else 400)
        return caught.value.headers["x-amzn-ErrorType"], document["message"]
    method, kwargs, validate = request
    client = local_aws.client(
        "s3vectors",
        stack.env["AWS_ENDPOINT_URL_S3VECTORS"],
        config=Config(parameter_validation=validate, retries={"total_max_attempts": 1}),
    )
    with pytest.raises((ClientError, ParamValidationError)) as caught:
        getattr(client, method)(**kwargs)
    if isinstance(caught.value, ParamValidationError):
        return "ParamValidationError", str(caught.value)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_the_table_has_at_least_50_distinct_cases() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)) >= 50
    assert {case.kind for case in CASES} == {"sql", "handler", "http", "boto3"}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_raises_its_code(rel_stack: ReliabilityStack, unchanged: None, case: Case) -> None:
    code, message = _run(rel_stack, case)
    assert code == case.code, message
    assert case.fragment in message, message
