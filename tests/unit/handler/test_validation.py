"""Every validation rule, each with its own code, checked before any AWS call (no_aws fails any call)."""

from __future__ import annotations

from typing import Any

import pytest
from s3vl_lambda import validation

from .conftest import INDEX_ARN, error_code, invoke

pytestmark = pytest.mark.usefixtures("no_aws")


def query(**fields: Any) -> dict[str, Any]:
    return invoke(
        {"operation": "query_vectors", "index_arn": INDEX_ARN, "query_vector": [0.1, 0.2], **fields}
    )


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws-cn:s3vectors:cn-north-1:123456789012:bucket/b-1/index/idx",
        "arn:aws-us-gov:s3vectors:us-gov-west-1:123456789012:bucket/abc/index/a.b-c",
        "arn:aws-iso:s3vectors:us-iso-east-1:123456789012:bucket/abc/index/abc",
        "arn:aws-iso-b:s3vectors:us-isob-east-1:123456789012:bucket/abc/index/abc",
    ],
)
def test_index_arn_of_every_partition_is_accepted(arn: str) -> None:
    # The ARN passes validation, so the next missing field is what the handler reports.
    envelope = invoke({"operation": "query_vectors", "index_arn": arn})
    assert error_code(envelope) == "MISSING_FIELD"
    assert "query_vector" in envelope["error"]["message"]


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "arn:aws:s3:::bucket",
        "arn:aws:s3vectors:us-east-1:12345678901:bucket/abc/index/abc",  # 11-digit account
        "arn:aws:s3vectors:us-east-1:123456789012:bucket/abc",  # a bucket, not an index
        "arn:aws:s3vectors:us-east-1:123456789012:bucket/AB/index/abc",
        "arn:aws:s3vectors:us-east-1:123456789012:bucket/abc/index/abc/extra",
        "arn:gcp:s3vectors:us-east-1:123456789012:bucket/abc/index/abc",
        " arn:aws:s3vectors:us-east-1:123456789012:bucket/abc/index/abc",
    ],
)
def test_invalid_index_arn(arn: str) -> None:
    envelope = invoke({"operation": "get_index", "index_arn": arn})
    assert error_code(envelope) == "INVALID_INDEX_ARN"
    assert "arn:<partition>:s3vectors" in envelope["error"]["message"]


def test_index_arn_must_be_a_string() -> None:
    assert error_code(invoke({"operation": "get_index", "index_arn": 5})) == "INVALID_FIELD_TYPE"


@pytest.mark.parametrize(
    ("operation", "missing"),
    [
        ("get_index", "index_arn"),
        ("query_vectors", "index_arn"),
        ("get_vectors", "keys"),
        ("list_vectors", "index_arn"),
        ("put_vectors", "vectors"),
        ("delete_vectors", "keys"),
    ],
)
def test_missing_required_field(operation: str, missing: str) -> None:
    event: dict[str, Any] = {"operation": operation, "index_arn": INDEX_ARN}
    event[missing] = None  # null counts as absent
    envelope = invoke(event)
    assert error_code(envelope) == "MISSING_FIELD"
    assert missing in envelope["error"]["message"]


@pytest.mark.parametrize("top_k", [0, -1, 10_001, 1_000_000])
def test_top_k_out_of_range(top_k: int) -> None:
    envelope = query(top_k=top_k)
    assert error_code(envelope) == "INVALID_TOP_K"
    assert str(top_k) in envelope["error"]["message"]


@pytest.mark.parametrize("top_k", ["5", 5.5, True, [5]])
def test_top_k_of_wrong_type(top_k: Any) -> None:
    assert error_code(query(top_k=top_k)) == "INVALID_FIELD_TYPE"


def test_empty_query_vector() -> None:
    envelope = query(query_vector=[])
    assert error_code(envelope) == "INVALID_DIMENSION"
    assert "query_vector is empty" in envelope["error"]["message"]


def test_vector_length_is_left_to_sql_and_the_service() -> None:
    # SQL checks the length against the registered dimension, S3 Vectors against the index's own: the
    # handler passes any non-empty vector of float32 numbers on, even one longer than any index takes.
    for length in (1, 3, 4097, 10_000):
        assert validation.vector([0.5] * length, "query_vector") == [0.5] * length


@pytest.mark.parametrize("element", ["0.1", True, None, [0.1], {"v": 1}])
def test_query_vector_element_not_a_number(element: Any) -> None:
    envelope = query(query_vector=[0.1, element])
    assert error_code(envelope) == "INVALID_VECTOR_VALUE"
    assert "query_vector[1]" in envelope["error"]["message"]


@pytest.mark.parametrize(
    "element", [float("nan"), float("inf"), float("-inf"), 1e39, 10**400, 2.0**128 - 2.0**103, -3.5e38]
)
def test_query_vector_element_not_finite_float32(element: float) -> None:
    envelope = query(query_vector=[element, 0.1])
    assert error_code(envelope) == "NON_FINITE_VALUE"
    assert "query_vector[0]" in envelope["error"]["message"]


@pytest.mark.parametrize(
    ("vector", "position"),
    [
        ([0.1] * 700 + [-1e39] + [0.1] * 67, 700),
        ([0.1, float("inf"), float("-inf")], 1),
        ([0.1, 0.2, float("nan")], 2),
    ],
)
def test_query_vector_of_floats_names_its_first_bad_element(vector: list[float], position: int) -> None:
    envelope = query(query_vector=vector)
    assert error_code(envelope) == "NON_FINITE_VALUE"
    assert f"query_vector[{position}]" in envelope["error"]["message"]


def test_float32_extremes_and_integers_are_valid_elements() -> None:
    limit = 3.4028234663852886e38
    # 3.4028235e38 is how float32's maximum is written in shortest digits; as a double it is a little
    # larger, and still rounds to that float32, as does anything below 2**128 - 2**103.
    shortest, below_overflow = 3.4028235e38, 3.4028235677973362e38
    for vector in ([limit, -limit, 0.0], [shortest, -shortest], [below_overflow], [1, 2.5, -3], [0.5] * 4096):
        assert validation.vector(vector, "query_vector") == vector


def test_query_vector_must_be_an_array() -> None:
    assert error_code(query(query_vector="0.1,0.2")) == "INVALID_FIELD_TYPE"


@pytest.mark.parametrize("field", ["return_metadata"])
def test_boolean_flags_must_be_booleans(field: str) -> None:
    assert error_code(query(**{field: "true"})) == "INVALID_FIELD_TYPE"
    assert (
        error_code(
            invoke({"operation": "get_vectors", "index_arn": INDEX_ARN, "keys": ["a"], "return_data": 1})
        )
        == "INVALID_FIELD_TYPE"
    )


@pytest.mark.parametrize("bad_key", ["", "k" * 1025, 7, None, ["a"]])
def test_invalid_key(bad_key: Any) -> None:
    envelope = invoke({"operation": "get_vectors", "index_arn": INDEX_ARN, "keys": ["ok", bad_key]})
    assert error_code(envelope) == "INVALID_KEY"
    assert "keys[1]" in envelope["error"]["message"]


def test_longest_key_is_accepted_up_to_the_aws_call() -> None:
    # 1024 characters (not bytes): multi-byte characters count once each.
    envelope = invoke({"operation": "delete_vectors", "index_arn": INDEX_ARN, "keys": ["é" * 1025]})
    assert error_code(envelope) == "INVALID_KEY"


@pytest.mark.parametrize("operation", ["get_vectors", "delete_vectors"])
def test_empty_keys(operation: str) -> None:
    assert error_code(invoke({"operation": operation, "index_arn": INDEX_ARN, "keys": []})) == "EMPTY_KEYS"


def test_empty_vectors_to_put() -> None:
    assert (
        error_code(invoke({"operation": "put_vectors", "index_arn": INDEX_ARN, "vectors": []}))
        == "EMPTY_KEYS"
    )


def test_keys_must_be_a_list() -> None:
    envelope = invoke({"operation": "get_vectors", "index_arn": INDEX_ARN, "keys": "vec_001"})
    assert error_code(envelope) == "INVALID_FIELD_TYPE"


def listing(**fields: Any) -> dict[str, Any]:
    return invoke({"operation": "list_vectors", "index_arn": INDEX_ARN, **fields})


@pytest.mark.parametrize("max_results", [0, 1001])
def test_max_results_out_of_range(max_results: int) -> None:
    assert error_code(listing(max_results=max_results)) == "INVALID_MAX_RESULTS"


@pytest.mark.parametrize(
    "segment",
    [
        {"segment_count": 4},
        {"segment_index": 0},
        {"segment_count": 0, "segment_index": 0},
        {"segment_count": 17, "segment_index": 0},
        {"segment_count": 4, "segment_index": 4},
        {"segment_count": 4, "segment_index": -1},
    ],
)
def test_invalid_segment(segment: dict[str, int]) -> None:
    assert error_code(listing(**segment)) == "INVALID_SEGMENT"


@pytest.mark.parametrize("token", ["", 5, ["t"], "t" * 2049])
def test_invalid_next_token(token: Any) -> None:
    assert error_code(listing(next_token=token)) == "INVALID_NEXT_TOKEN"


def put(vector: Any) -> dict[str, Any]:
    return invoke({"operation": "put_vectors", "index_arn": INDEX_ARN, "vectors": [vector]})


@pytest.mark.parametrize(
    ("vector", "code"),
    [
        ("vec", "INVALID_FIELD_TYPE"),
        ({"key": "a"}, "MISSING_FIELD"),
        ({"data": [1.0]}, "MISSING_FIELD"),
        ({"key": "a", "data": [1.0], "meta": {}}, "UNKNOWN_FIELD"),
        ({"key": "", "data": [1.0]}, "INVALID_KEY"),
        ({"key": "a", "data": []}, "INVALID_DIMENSION"),
        ({"key": "a", "data": ["x"]}, "INVALID_VECTOR_VALUE"),
        ({"key": "a", "data": [float("nan")]}, "NON_FINITE_VALUE"),
        ({"key": "a", "data": [1.0], "metadata": [1]}, "INVALID_METADATA"),
        ({"key": "a", "data": [1.0], "metadata": {"c": None}}, "INVALID_METADATA"),
        ({"key": "a", "data": [1.0], "metadata": {"c": {"nested": 1}}}, "INVALID_METADATA"),
        ({"key": "a", "data": [1.0], "metadata": {"c": []}}, "INVALID_METADATA"),
        ({"key": "a", "data": [1.0], "metadata": {"c": [1, None]}}, "INVALID_METADATA"),
        ({"key": "a", "data": [1.0], "metadata": {"c": float("inf")}}, "NON_FINITE_VALUE"),
        ({"key": "a", "data": [1.0], "metadata": {f"k{n}": n for n in range(51)}}, "METADATA_TOO_MANY_KEYS"),
    ],
)
def test_invalid_vector_to_put(vector: Any, code: str) -> None:
    assert error_code(put(vector)) == code


def test_metadata_size_is_counted_in_utf8_bytes() -> None:
    # 14,000 three-byte characters: 42,000 UTF-8 bytes but only 14,000 Python characters.
    envelope = put({"key": "a", "data": [1.0], "metadata": {"text": "€" * 14_000}})
    assert error_code(envelope) == "METADATA_TOO_LARGE"
    assert "40960" in envelope["error"]["message"]
