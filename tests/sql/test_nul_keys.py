"""Keys and metadata strings holding U+0000, which S3 Vectors accepts and PostgreSQL cannot hold: SQL reads
them escaped (U+0000 as U+2400 '0', U+2400 as U+2400 U+2400) and passes the escaped key back to address
the same vector (docs/payload-contract.md). Written with boto3 as any other client of the index would."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import BUCKET, SqlStack, raises_sqlstate

NUL, ESC = "\x00", "\u2400"
WITH_NUL = f"a{NUL}b"  # shown in SQL as a U+2400 0 b
LITERAL = f"a{ESC}0b"  # the escape text itself as a key: shown as a U+2400 U+2400 0 b
SHOWN_NUL, SHOWN_LITERAL = f"a{ESC}0b", f"a{ESC}{ESC}0b"


@pytest.fixture
def nul_index(sql_stack: SqlStack, conn) -> Iterator[str]:
    client = sql_stack.s3vectors()
    name = f"nul-{time.monotonic_ns()}"
    client.create_index(
        vectorBucketName=BUCKET, indexName=name, dataType="float32", dimension=4, distanceMetric="cosine"
    )
    client.put_vectors(
        vectorBucketName=BUCKET,
        indexName=name,
        vectors=[
            {
                "key": WITH_NUL,
                "data": {"float32": [1, 0, 0, 0]},
                "metadata": {"note": f"x{NUL}y", "tags": [NUL]},
            },
            {"key": LITERAL, "data": {"float32": [0, 1, 0, 0]}, "metadata": {"note": "plain"}},
            {"key": "c", "data": {"float32": [0, 0, 1, 0]}, "metadata": {f"k{NUL}": 1}},
        ],
    )
    arn = client.get_index(vectorBucketName=BUCKET, indexName=name)["index"]["indexArn"]
    conn.execute("SELECT s3vl.register_index('nul-4', %s)", (arn,))
    yield name
    conn.execute("SELECT s3vl.unregister_index('nul-4')")
    client.delete_index(vectorBucketName=BUCKET, indexName=name)


def _stored(sql_stack: SqlStack, name: str) -> dict[str, Any]:
    page = sql_stack.s3vectors().list_vectors(
        vectorBucketName=BUCKET, indexName=name, returnMetadata=True, maxResults=100
    )
    return {v["key"]: v.get("metadata") for v in page["vectors"]}


def test_reads_show_escaped_keys_and_metadata(conn, nul_index: str) -> None:
    queried = conn.execute(
        "SELECT vector_id, metadata FROM s3vl.query_vectors(ARRAY[1, 0.5, 0.1, 0], 'nul-4', NULL, 3, TRUE)"
    ).fetchall()
    assert queried == [
        (SHOWN_NUL, {"note": f"x{ESC}0y", "tags": [f"{ESC}0"]}),
        (SHOWN_LITERAL, {"note": "plain"}),
        ("c", {f"k{ESC}0": 1}),
    ]
    got = conn.execute(
        "SELECT vector_id, found, metadata FROM s3vl.get_vectors(%s, 'nul-4')", ([SHOWN_LITERAL, SHOWN_NUL],)
    ).fetchall()
    assert got == [
        (SHOWN_LITERAL, True, {"note": "plain"}),
        (SHOWN_NUL, True, {"note": f"x{ESC}0y", "tags": [f"{ESC}0"]}),
    ]
    listed = conn.execute("SELECT vector_id FROM s3vl.list_all_vectors('nul-4') ORDER BY 1").fetchall()
    assert sorted(k for (k,) in listed) == sorted([SHOWN_NUL, SHOWN_LITERAL, "c"])


def test_a_filter_matches_a_value_holding_u0000(conn, nul_index: str) -> None:
    rows = conn.execute(
        "SELECT vector_id FROM s3vl.query_vectors(ARRAY[0, 1, 0, 0], 'nul-4', NULL, 3, FALSE, %s::jsonb)",
        (json.dumps({"note": f"x{ESC}0y"}),),
    ).fetchall()
    assert rows == [(SHOWN_NUL,)]


def test_the_key_shown_deletes_that_key_and_no_other(sql_stack: SqlStack, conn, nul_index: str) -> None:
    assert conn.execute("SELECT s3vl.delete_vectors('nul-4', ARRAY[%s])", (SHOWN_NUL,)).fetchone()[0] == 1
    assert set(_stored(sql_stack, nul_index)) == {LITERAL, "c"}
    assert conn.execute("SELECT s3vl.delete_vectors('nul-4', ARRAY[%s])", (SHOWN_LITERAL,)).fetchone()[0] == 1
    assert set(_stored(sql_stack, nul_index)) == {"c"}


def test_put_from_sql_stores_u0000_and_reads_back_the_same_text(
    sql_stack: SqlStack, conn, nul_index: str
) -> None:
    conn.execute(
        "SELECT s3vl.put_vectors('nul-4', ARRAY[%s], ARRAY[[0, 0, 0, 1]], ARRAY[%s::jsonb])",
        (f"d{ESC}0", json.dumps({"n": f"{ESC}0{ESC}{ESC}"})),
    )
    assert _stored(sql_stack, nul_index)[f"d{NUL}"] == {"n": f"{NUL}{ESC}"}
    back = conn.execute("SELECT metadata FROM s3vl.get_vectors(ARRAY[%s], 'nul-4')", (f"d{ESC}0",)).fetchone()
    assert back == ({"n": f"{ESC}0{ESC}{ESC}"},)


def test_a_lone_escape_character_is_refused(conn, nul_index: str) -> None:
    failure = raises_sqlstate(conn, "SELECT s3vl.delete_vectors('nul-4', ARRAY[%s])", (f"x{ESC}y",))
    assert failure.sqlstate == "22023"
    assert (
        "INVALID_KEY" in failure.diag.message_detail
        and "double a literal U+2400" in failure.diag.message_primary
    )
