"""For any JSON value as the event, the handler returns a well-formed envelope and never raises."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from s3vl_lambda.contract import OPERATION_FIELDS

from .conftest import INDEX_ARN, invoke

CONTRACT = Path(__file__).resolve().parents[3] / "docs" / "payload-contract.md"
DOCUMENTED_CODES = set(re.findall(r"^\| `([A-Z_]+)` \|", CONTRACT.read_text(encoding="utf-8"), re.MULTILINE))

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
all_fields = sorted(set().union(*OPERATION_FIELDS.values()) | {"contract_version"})
# Near-valid events: a real operation and its real field names with arbitrary values, so that the
# validators are reached; the index ARN is real (moto answers the operations that get that far).
near_valid = st.builds(
    lambda operation, fields, arn: {"operation": operation, **fields, **({"index_arn": arn} if arn else {})},
    st.sampled_from(sorted(set(OPERATION_FIELDS) - {"query_vectors"})),
    st.dictionaries(st.sampled_from(all_fields), json_values, max_size=4),
    st.sampled_from([INDEX_ARN, None, "arn:aws:s3vectors:us-east-1:1:bucket/x/index/y"]),
)
# query_vectors is not in moto: its near-valid events never carry a usable ARN, so no call is made.
near_valid_query = st.builds(
    lambda fields: {"operation": "query_vectors", **fields, "index_arn": "arn:aws:s3:::not-an-index"},
    st.dictionaries(st.sampled_from(all_fields), json_values, max_size=4),
)


def assert_well_formed(envelope: Any) -> None:
    json.dumps(envelope, allow_nan=False)
    assert isinstance(envelope, dict)
    assert envelope["contract_version"] == 1
    assert isinstance(envelope["request_id"], str) and envelope["request_id"]
    assert isinstance(envelope["duration_ms"], float)
    assert envelope["operation"] is None or envelope["operation"] in OPERATION_FIELDS
    if envelope["ok"] is True:
        assert set(envelope) == {"ok", "contract_version", "operation", "request_id", "duration_ms", "result"}
        assert isinstance(envelope["result"], dict)
    else:
        assert envelope["ok"] is False
        assert set(envelope) == {"ok", "contract_version", "operation", "request_id", "duration_ms", "error"}
        error = envelope["error"]
        assert error["code"] in DOCUMENTED_CODES, error
        assert isinstance(error["message"], str) and ":" in error["message"]
        assert isinstance(error["retryable"], bool)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=json_values | near_valid | near_valid_query)
def test_any_json_event_gets_a_well_formed_envelope(event: Any) -> None:
    if isinstance(event, dict):
        event.pop("raise_on_error", None)  # raising on request is the one documented exception
    with mock_aws():
        assert_well_formed(invoke(event))
