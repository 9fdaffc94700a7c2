"""S3 Vectors and Lambda limits the handler validates against.

Where botocore's s3vectors model states a limit it is read from there (the model the function
runs with), so a service change arrives with a new model rather than a code edit. The rest are
documented service limits the model cannot express, stated in the contract (contract.json "limits"),
the file the SQL schema's limits are generated from too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from .contract import LIMITS
from .sdk import sdk_session

# QueryVectors topK: the service accepts up to 10,000 (raised from 100 in June 2026), but the
# model's topK shape has carried no maximum or the old 100, so the contract's bound is the one used.
TOP_K_MAX = LIMITS["top_k_max"]
METADATA_TOTAL_BYTES = LIMITS["metadata_total_bytes"]  # per vector, UTF-8 bytes of the metadata JSON
METADATA_MAX_KEYS = LIMITS["metadata_max_keys"]
PUT_REQUEST_BYTES = LIMITS["put_request_bytes"]  # PutVectors request payload cap
LAMBDA_RESPONSE_BYTES = LIMITS["lambda_response_bytes"]  # synchronous invocation response cap
# Magnitudes from 2**128 - 2**103 (FLT_MAX plus half its last unit) round to Infinity in float32; smaller
# ones round to a finite float32, so "3.4028235e+38", the shortest text of FLT_MAX, is in range.
FLOAT32_OVERFLOW = 2.0**128 - 2.0**103
# Filters nested through $and / $or: S3 Vectors documents no limit, so s3vl sets one (docs/sql-reference.md)
# well below where a recursive check, botocore's serializer or a runtime's JSON parser would fail.
FILTER_MAX_DEPTH = LIMITS["filter_max_depth"]


@dataclass(frozen=True)
class ServiceLimits:
    index_arn_pattern: re.Pattern[str]
    dimension: tuple[int, int]
    top_k_min: int
    key_length: tuple[int, int]
    get_batch: int
    put_batch: int
    delete_batch: int
    list_max_results: tuple[int, int]
    segment_count_max: int
    list_next_token_max: int


@cache
def service() -> ServiceLimits:
    model = sdk_session().get_service_model("s3vectors")

    def member(operation: str, name: str) -> Any:
        shape: Any = model.operation_model(operation).input_shape
        return shape.members[name]

    def bounds(shape: Any) -> tuple[int, int]:
        return int(shape.metadata["min"]), int(shape.metadata["max"])

    keys = member("GetVectors", "keys")
    return ServiceLimits(
        index_arn_pattern=re.compile(member("GetIndex", "indexArn").metadata["pattern"]),
        dimension=bounds(member("CreateIndex", "dimension")),
        top_k_min=int(member("QueryVectors", "topK").metadata.get("min", 1)),
        key_length=bounds(keys.member),
        get_batch=bounds(keys)[1],
        put_batch=bounds(member("PutVectors", "vectors"))[1],
        delete_batch=bounds(member("DeleteVectors", "keys"))[1],
        list_max_results=bounds(member("ListVectors", "maxResults")),
        segment_count_max=bounds(member("ListVectors", "segmentCount"))[1],
        list_next_token_max=bounds(member("ListVectors", "nextToken"))[1],
    )
