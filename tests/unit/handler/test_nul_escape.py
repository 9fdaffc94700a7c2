"""U+0000 in keys and metadata: escaped on the way out (PostgreSQL cannot hold it), unescaped on the way in,
so that what SQL reads can be passed back and addresses the same stored key (docs/payload-contract.md)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from botocore.stub import Stubber
from s3vl_lambda import nul_escape

from .conftest import INDEX_ARN, STUB_ARN, error_code, invoke, query_params

NUL, ESC = "\x00", "\u2400"


def test_every_short_string_round_trips_and_no_two_share_an_escaped_form() -> None:
    # Every string of up to 5 characters over the characters that matter: encode is injective and
    # decode undoes it, so a key containing the escape text never collides with one containing U+0000.
    seen: dict[str, str] = {}
    for length in range(6):
        for chars in itertools.product(["a", "0", NUL, ESC], repeat=length):
            text = "".join(chars)
            shown = nul_escape.encode(text)
            assert NUL not in shown
            assert nul_escape.decode(shown, "key", "INVALID_KEY") == text
            assert seen.setdefault(shown, text) == text, (shown, text, seen[shown])


def test_strings_without_either_character_are_unchanged() -> None:
    assert nul_escape.encode("vec_001 \\u0000 é") == "vec_001 \\u0000 é"
    assert nul_escape.decode("vec_001 \\u0000 é", "key", "INVALID_KEY") == "vec_001 \\u0000 é"


@pytest.mark.parametrize("bad", [f"a{ESC}b", f"a{ESC}", ESC, f"{ESC}{ESC}{ESC}"])
def test_a_lone_escape_character_in_a_key_is_refused(bad: str, no_aws: None) -> None:
    envelope = invoke({"operation": "delete_vectors", "index_arn": INDEX_ARN, "keys": ["ok", bad]})
    assert error_code(envelope) == "INVALID_KEY"
    message = envelope["error"]["message"]
    assert message.startswith("keys[1] has U+2400") and "double a literal U+2400" in message


def test_a_lone_escape_character_in_metadata_is_refused(no_aws: None) -> None:
    vectors = [{"key": "k", "data": [1.0], "metadata": {"tags": ["fine", f"x{ESC}y"]}}]
    envelope = invoke({"operation": "put_vectors", "index_arn": INDEX_ARN, "vectors": vectors})
    assert error_code(envelope) == "INVALID_METADATA"
    assert envelope["error"]["message"].startswith("vectors[0].metadata.tags[1] has U+2400")


def _no_nul(envelope: dict[str, Any]) -> None:
    # What PostgreSQL receives: the JSON text must not contain the \u0000 escape jsonb refuses.
    assert "\\u0000" not in json.dumps(envelope), envelope


def test_delete_and_get_unescape_keys_and_get_escapes_what_it_returns(stub: Stubber) -> None:
    stored = {
        "key": f"a{NUL}b",
        "data": {"float32": [1.0]},
        "metadata": {f"n{NUL}": f"x{NUL}y", "l": [NUL, ESC]},
    }
    stub.add_response(
        "get_vectors",
        {"vectors": [stored]},
        {
            "indexArn": STUB_ARN,
            "keys": [f"a{NUL}b", f"a{ESC}0b"],
            "returnData": True,
            "returnMetadata": True,
        },
    )
    shown = f"a{ESC}0b"
    literal = f"a{ESC}{ESC}0b"  # the key that really is "a", U+2400, "0", "b": absent here
    envelope = invoke({"operation": "get_vectors", "index_arn": STUB_ARN, "keys": [shown, literal]})
    assert envelope["ok"] is True, envelope
    _no_nul(envelope)
    assert envelope["result"]["vectors"] == [
        {
            "key": shown,
            "found": True,
            "data": [1.0],
            "metadata": {f"n{ESC}0": f"x{ESC}0y", "l": [f"{ESC}0", ESC + ESC]},
        },
        {"key": literal, "found": False, "data": None, "metadata": None},
    ]
    stub.add_response("delete_vectors", {}, {"indexArn": STUB_ARN, "keys": [f"a{NUL}b"]})
    deleted = invoke({"operation": "delete_vectors", "index_arn": STUB_ARN, "keys": [shown]})
    assert deleted["result"]["deleted"] == 1


def test_query_and_list_escape_keys_and_metadata(stub: Stubber) -> None:
    stub.add_response(
        "query_vectors",
        {
            "vectors": [{"key": f"q{NUL}", "distance": 0.0, "metadata": {"t": f"{NUL}{ESC}"}}],
            "distanceMetric": "cosine",
        },
    )
    queried = invoke(
        {
            "operation": "query_vectors",
            "index_arn": STUB_ARN,
            "query_vector": [1.0],
            "return_metadata": True,
        }
    )
    _no_nul(queried)
    (row,) = queried["result"]["vectors"]
    assert (row["key"], row["metadata"]) == (f"q{ESC}0", {"t": f"{ESC}0{ESC}{ESC}"})
    stub.add_response("list_vectors", {"vectors": [{"key": f"{NUL}{NUL}", "metadata": {"t": NUL}}]})
    listed = invoke({"operation": "list_vectors", "index_arn": STUB_ARN, "return_metadata": True})
    _no_nul(listed)
    assert listed["result"]["vectors"] == [{"key": f"{ESC}0{ESC}0", "metadata": {"t": f"{ESC}0"}}]


def test_put_unescapes_keys_and_metadata_and_query_unescapes_the_filter(stub: Stubber) -> None:
    stub.add_response(
        "put_vectors",
        {},
        {
            "indexArn": STUB_ARN,
            "vectors": [
                {"key": f"p{NUL}", "data": {"float32": [1.0]}, "metadata": {f"k{NUL}": [f"{ESC}", "v"]}}
            ],
        },
    )
    put = invoke(
        {
            "operation": "put_vectors",
            "index_arn": STUB_ARN,
            "vectors": [{"key": f"p{ESC}0", "data": [1.0], "metadata": {f"k{ESC}0": [ESC + ESC, "v"]}}],
        }
    )
    assert put["ok"] is True, put
    sent_filter = {"$or": [{f"k{NUL}": {"$in": [f"{ESC}", "v"]}}, {"t": f"x{NUL}"}]}
    stub.add_response(
        "query_vectors", {"vectors": [], "distanceMetric": "cosine"}, query_params([1.0], filter=sent_filter)
    )
    given_filter = {"$or": [{f"k{ESC}0": {"$in": [ESC + ESC, "v"]}}, {"t": f"x{ESC}0"}]}
    queried = invoke(
        {"operation": "query_vectors", "index_arn": STUB_ARN, "query_vector": [1.0], "filter": given_filter}
    )
    assert queried["ok"] is True, queried
