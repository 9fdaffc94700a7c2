"""The emulator and moto give the same answers on the operations moto implements."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

from .conftest import make_client

COMMON_INDEX_FIELDS = ("vectorBucketName", "indexName", "dataType", "dimension", "distanceMetric")


def _scenario(c: Any) -> list[Any]:
    """Calls covering moto's S3 Vectors surface, reduced to what both model (no ARNs: accounts differ)."""
    sel = {"vectorBucketName": "parity", "indexName": "idx-1"}
    out: list[Any] = []

    def attempt(call: Any) -> Any:
        try:
            return call()
        except ClientError as e:
            return ("error", e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])

    # moto leaves out the (required) vectorBucketArn here, so only the status is compared.
    out.append(c.create_vector_bucket(vectorBucketName="parity")["ResponseMetadata"]["HTTPStatusCode"])
    out.append(attempt(lambda: c.create_vector_bucket(vectorBucketName="parity")))
    out.append(attempt(lambda: c.get_vector_bucket(vectorBucketName="missing")))
    out.append(c.get_vector_bucket(vectorBucketName="parity")["vectorBucket"]["encryptionConfiguration"])
    c.create_index(**sel, dataType="float32", dimension=3, distanceMetric="euclidean")
    index = c.get_index(**sel)["index"]
    out.append({k: index[k] for k in COMMON_INDEX_FIELDS})
    out.append([i["indexName"] for i in c.list_indexes(vectorBucketName="parity")["indexes"]])
    vectors = [
        {"key": "b", "data": {"float32": [1.0, 2.0, 3.0]}, "metadata": {"genre": "x", "year": 2020}},
        {"key": "a", "data": {"float32": [0.5, 0.25, -1.0]}},
        {"key": "c", "data": {"float32": [3.0, 2.0, 1.0]}, "metadata": {"tags": ["p", "q"]}},
    ]
    c.put_vectors(**sel, vectors=vectors)
    c.put_vectors(**sel, vectors=[{"key": "c", "data": {"float32": [9.0, 9.0, 9.0]}, "metadata": {"v": 2}}])
    # The order of GetVectors results is not part of the API (moto: insertion order; emulator: request order).
    got = c.get_vectors(**sel, keys=["a", "b", "c", "zz"], returnData=True, returnMetadata=True)["vectors"]
    out.append(sorted(got, key=lambda v: v["key"]))
    out.append(c.get_vectors(**sel, keys=["b"])["vectors"])
    listed = c.list_vectors(**sel, returnData=True, returnMetadata=True)["vectors"]
    out.append(sorted(listed, key=lambda v: v["key"]))
    out.append(attempt(lambda: c.put_vectors(**sel, vectors=[{"key": "d", "data": {"float32": [1.0]}}])[:1]))
    c.delete_vectors(**sel, keys=["a", "nope"])
    out.append(sorted(v["key"] for v in c.list_vectors(**sel)["vectors"]))
    out.append(attempt(lambda: c.delete_vector_bucket(vectorBucketName="parity")))
    c.delete_index(**sel)
    out.append(attempt(lambda: c.get_index(**sel)))
    c.delete_vector_bucket(vectorBucketName="parity")
    out.append([b["vectorBucketName"] for b in c.list_vector_buckets()["vectorBuckets"]])
    return out


def test_emulator_matches_moto(emulator: Any) -> None:
    with mock_aws():
        moto_results = _scenario(boto3.client("s3vectors", region_name="us-west-2"))
    emulator_results = _scenario(make_client(emulator.url))
    assert emulator_results == moto_results
