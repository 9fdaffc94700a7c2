"""The execution role and full-text search: the text and index administration operations of the payload
contract are granted on the stack's index, and nothing wider than they call."""

from __future__ import annotations

from s3vl_lambda.permissions import OPERATION_ACTIONS
from test_cfn_iam import granted_actions


def test_text_query_needs_query_vectors_and_get_vectors() -> None:
    # S3 Vectors authorises queryTexts against GetVectors as well as QueryVectors.
    assert OPERATION_ACTIONS["search_text"] == {"s3vectors:QueryVectors", "s3vectors:GetVectors"}


def test_index_administration_calls_only_its_update_and_get_index() -> None:
    assert OPERATION_ACTIONS["set_index_mode"] == {"s3vectors:UpdateIndexMode", "s3vectors:GetIndex"}
    assert OPERATION_ACTIONS["configure_text_search"] == {
        "s3vectors:UpdateMetadataConfiguration",
        "s3vectors:GetIndex",
    }


def test_role_grants_the_text_operations_and_no_bucket_level_mode_change() -> None:
    granted = granted_actions("LambdaExecutionRole", "s3vectors:")
    for operation in ("search_text", "set_index_mode", "configure_text_search"):
        assert OPERATION_ACTIONS[operation] <= granted, operation
    # The bucket's default mode for new indexes is not s3vl's business.
    assert "s3vectors:PutVectorBucketDefaultIndexMode" not in granted
