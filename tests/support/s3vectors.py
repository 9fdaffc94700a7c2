"""Creating float32 indexes on S3 Vectors (the emulator or moto), as most suites set up their data."""

from __future__ import annotations

from typing import Any


def create_float32_index(
    client: Any, bucket: str, index: str, dimension: int, metric: str = "cosine", **extra: Any
) -> dict[str, str]:
    """Create float32 index `index` in existing bucket `bucket`; returns the selector
    {vectorBucketName, indexName}. `extra` goes to CreateIndex as is (metadataConfiguration, ...)."""
    client.create_index(
        vectorBucketName=bucket,
        indexName=index,
        dataType="float32",
        dimension=dimension,
        distanceMetric=metric,
        **extra,
    )
    return {"vectorBucketName": bucket, "indexName": index}


def create_bucket_and_index(
    client: Any, bucket: str, index: str, dimension: int, metric: str = "cosine", **extra: Any
) -> dict[str, str]:
    """Create bucket `bucket` holding float32 index `index`; returns the selector as create_float32_index."""
    client.create_vector_bucket(vectorBucketName=bucket)
    return create_float32_index(client, bucket, index, dimension, metric, **extra)
