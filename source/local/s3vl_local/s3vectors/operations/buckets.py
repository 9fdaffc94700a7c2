"""Vector bucket operations: create, describe, list and delete, the bucket policy, the default index mode."""

from __future__ import annotations

import json

from .. import pagination, validation
from ..catalog import Catalog
from ..errors import NotFoundException, ValidationException
from . import resources
from .resources import Request, Response


def CreateVectorBucket(catalog: Catalog, req: Request) -> Response:
    name = validation.bucket_name(req["vectorBucketName"])
    encryption = validation.encryption(req.get("encryptionConfiguration"))
    return {"vectorBucketArn": catalog.create_bucket(name, encryption, req.get("tags"))}


def GetVectorBucket(catalog: Catalog, req: Request) -> Response:
    b = resources.bucket(catalog, req)
    return {
        "vectorBucket": {
            "vectorBucketName": b.name,
            "vectorBucketArn": b.arn,
            "creationTime": b.created,
            "encryptionConfiguration": b.encryption,
            "defaultIndexMode": b.default_mode,
        }
    }


def ListVectorBuckets(catalog: Catalog, req: Request) -> Response:
    page, token = pagination.name_page(catalog.list_buckets(), req, "ListVectorBuckets", "")
    summaries = [
        {"vectorBucketName": b.name, "vectorBucketArn": b.arn, "creationTime": b.created} for b in page
    ]
    return {"vectorBuckets": summaries, **token}


def DeleteVectorBucket(catalog: Catalog, req: Request) -> Response:
    catalog.delete_bucket(resources.bucket_name(req))
    return {}


def PutVectorBucketPolicy(catalog: Catalog, req: Request) -> Response:
    try:
        json.loads(req["policy"])
    except ValueError as e:
        raise ValidationException(f"The bucket policy is not valid JSON: {e}") from None
    except RecursionError:
        raise ValidationException("The bucket policy nests too deeply to parse as JSON") from None
    catalog.set_bucket_attribute(resources.bucket_name(req), "policy", req["policy"])
    return {}


def GetVectorBucketPolicy(catalog: Catalog, req: Request) -> Response:
    bucket = resources.bucket(catalog, req)
    if bucket.policy is None:
        raise NotFoundException(
            f"The specified vector bucket policy could not be found: {bucket.name!r} has none; "
            "add one with PutVectorBucketPolicy"
        )
    return {"policy": bucket.policy}


def DeleteVectorBucketPolicy(catalog: Catalog, req: Request) -> Response:
    catalog.set_bucket_attribute(resources.bucket_name(req), "policy", None)
    return {}


def PutVectorBucketDefaultIndexMode(catalog: Catalog, req: Request) -> Response:
    catalog.set_bucket_attribute(resources.bucket_name(req), "default_mode", req["defaultIndexMode"])
    return {}
