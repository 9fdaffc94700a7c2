"""The vector bucket or index a request names, by name or by ARN."""

from __future__ import annotations

from typing import Any

from .. import validation
from ..catalog import Bucket, Catalog, Index
from ..errors import ValidationException

Request = dict[str, Any]
Response = dict[str, Any]

# The service's wording (moto's AWS-verified tests) for a missing or doubled index selector.
_INDEX_SELECTOR = "Must specify either indexArn or both vectorBucketName and indexName"


def bucket_name(req: Request) -> str:
    name, arn = req.get("vectorBucketName"), req.get("vectorBucketArn")
    if (name is None) == (arn is None):
        raise ValidationException("Specify exactly one of vectorBucketName and vectorBucketArn")
    return validation.parse_bucket_arn(arn) if arn is not None else validation.bucket_name(name)


def bucket(catalog: Catalog, req: Request) -> Bucket:
    return catalog.bucket(bucket_name(req))


def index(catalog: Catalog, req: Request) -> Index:
    arn, bucket, name = req.get("indexArn"), req.get("vectorBucketName"), req.get("indexName")
    if arn is not None:
        if bucket is not None or name is not None:
            raise ValidationException(_INDEX_SELECTOR + " (not both)")
        return catalog.index(*validation.parse_index_arn(arn))
    if bucket is None or name is None:
        raise ValidationException(_INDEX_SELECTOR)
    return catalog.index(validation.bucket_name(bucket), validation.index_name(name))
