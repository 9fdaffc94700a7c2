"""The one source of truth for which S3 Vectors IAM actions each handler operation calls.

The CloudFormation execution role is tested against this map (tests/cfn): the role must grant
exactly the union of these actions, scoped to the index, and nothing else on s3vectors.
"""

from __future__ import annotations

# QueryVectors with a filter or returnMetadata, and ListVectors with returnData or returnMetadata,
# are authorised against s3vectors:GetVectors as well; the handler may do either.
OPERATION_ACTIONS: dict[str, frozenset[str]] = {
    "health": frozenset({"s3vectors:GetIndex"}),
    "get_index": frozenset({"s3vectors:GetIndex"}),
    "query_vectors": frozenset({"s3vectors:QueryVectors", "s3vectors:GetVectors"}),
    "get_vectors": frozenset({"s3vectors:GetVectors"}),
    "list_vectors": frozenset({"s3vectors:ListVectors", "s3vectors:GetVectors"}),
    "put_vectors": frozenset({"s3vectors:PutVectors"}),
    "delete_vectors": frozenset({"s3vectors:DeleteVectors"}),
}


def required_actions() -> frozenset[str]:
    """Every s3vectors action the handler can call: what the execution role must grant."""
    return frozenset().union(*OPERATION_ACTIONS.values())
