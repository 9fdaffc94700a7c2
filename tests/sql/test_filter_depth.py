"""A metadata_filter nested beyond s3vl's documented limit (32 filters through $and / $or) raises 22023
FILTER_TOO_DEEP, whatever the depth, instead of failing in the function, the runtime or the service."""

from __future__ import annotations

import pytest

from .conftest import SqlStack, raises_sqlstate

QUERY = (
    "SELECT vector_id FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3, 0.4, 0.5], 'test-index-5d', "
    "top_k => 5, return_metadata => FALSE, metadata_filter => %s::jsonb)"
)


def nested(depth: int) -> str:
    """A filter `depth` filters deep ($and inside $and), as JSON text: json.dumps itself recurses."""
    return '{"$and": [' * (depth - 1) + '{"category": "test"}' + "]}" * (depth - 1)


def test_a_filter_at_the_limit_is_answered(sql_stack: SqlStack, conn) -> None:
    flat = conn.execute(QUERY, (nested(1),)).fetchall()
    assert flat and conn.execute(QUERY, (nested(32),)).fetchall() == flat


@pytest.mark.parametrize("depth", [33, 100, 490])
def test_a_deeper_filter_raises_22023(conn, depth: int) -> None:
    failure = raises_sqlstate(conn, QUERY, (nested(depth),))
    assert failure.sqlstate == "22023", str(failure)
    assert "FILTER_TOO_DEEP" in failure.diag.message_detail
    assert (
        "nested 33 filters deep" in failure.diag.message_primary and "flatten" in failure.diag.message_primary
    )
