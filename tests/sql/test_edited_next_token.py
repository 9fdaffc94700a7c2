"""An edited next token reaches SQL as INVALID_NEXT_TOKEN (22023, not retryable), through the real shim,
Lambda service, handler and emulator: before, the emulator failed with a 500, which the handler reports
as SERVICE_UNAVAILABLE (retryable, SV004), so a caller would retry a request that can never succeed."""

from __future__ import annotations

import base64
import json
from typing import Any

from .conftest import SqlStack, raises_sqlstate

PAGE = (
    "SELECT response_next_token FROM s3vl.list_vectors("
    "index_name => 'test-index-5d', max_results => 20, next_token => %s, return_metadata => FALSE)"
)


def _edit(token: str, **changes: Any) -> str:
    state = json.loads(base64.urlsafe_b64decode(token))
    state.update(changes)
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def test_edited_next_token_is_invalid_next_token(sql_stack: SqlStack, conn: Any) -> None:
    token = conn.execute(PAGE, (None,)).fetchone()[0]
    assert token
    for bad in (_edit(token, k=5), _edit(token, s='["another index", 1, 0]')):
        error = raises_sqlstate(conn, PAGE, (bad,))
        assert error.sqlstate == "22023", (error.sqlstate, error.diag.message_primary)
        assert "INVALID_NEXT_TOKEN" in (error.diag.message_detail or ""), error.diag.message_detail
        assert "retryable false" in (error.diag.message_detail or "")
        assert "nextToken" in (error.diag.message_primary or "")
