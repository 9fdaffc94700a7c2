"""Which S3 Vectors IAM actions each handler operation calls, as the contract (contract.json) states them.

The CloudFormation execution role is tested against this map (tests/cfn): the role must grant
exactly the union of these actions, scoped to the index, and nothing else on s3vectors.
QueryVectors with a filter or returnMetadata, and ListVectors with returnData or returnMetadata, are
authorised against s3vectors:GetVectors as well; the handler may do either.
"""

from __future__ import annotations

from .contract import OPERATIONS

OPERATION_ACTIONS: dict[str, frozenset[str]] = {name: op.actions for name, op in OPERATIONS.items()}


def required_actions() -> frozenset[str]:
    """Every s3vectors action the handler can call: what the execution role must grant."""
    return frozenset().union(*OPERATION_ACTIONS.values())
