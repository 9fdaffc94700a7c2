"""The installed schema speaks the contract of contract.json: every error code with its SQLSTATE, retryable
flag, source and hint; the contract version; the limits SQL checks before paying for an invocation."""

from __future__ import annotations

from typing import Any

import psycopg
from s3vl_lambda import contract

from .conftest import raises_sqlstate


def test_error_codes_are_the_contracts_row_for_row(conn: psycopg.Connection[Any]) -> None:
    rows = conn.execute(
        "SELECT error_code, sqlstate, retryable, source, hint FROM s3vl.error_codes()"
    ).fetchall()
    wanted = [(e.code, e.sqlstate, e.retryable, e.source, e.hint) for e in contract.ERRORS.values()]
    assert rows == wanted


def test_contract_version_and_limits_are_the_contracts(conn: psycopg.Connection[Any]) -> None:
    assert conn.execute("SELECT s3vl._contract_version()").fetchone() == (contract.CONTRACT_VERSION,)
    for name, value in contract.LIMITS.items():
        assert conn.execute("SELECT s3vl._contract_limit(%s)", (name,)).fetchone() == (value,), name
    error = raises_sqlstate(conn, "SELECT s3vl._contract_limit('no_such_limit')")
    assert error.sqlstate == "XX000" and "no_such_limit" in str(error)


def test_top_k_beyond_the_contract_is_refused_in_sql(conn: psycopg.Connection[Any]) -> None:
    top = contract.LIMITS["top_k_max"]
    error = raises_sqlstate(
        conn,
        "SELECT * FROM s3vl.query_vectors(ARRAY[0.1, 0.2, 0.3, 0.4, 0.5], 'test-index-5d', NULL, %s)",
        (top + 1,),
    )
    assert error.sqlstate == "22023"
    assert f"between 1 and {top}, got {top + 1}" in str(error)
    assert error.diag.message_hint == f"Pass top_k => n with 1 <= n <= {top}."
