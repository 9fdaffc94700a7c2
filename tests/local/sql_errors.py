"""The error a statement raises on its own connection, as a given role, for the shim's tests."""

from __future__ import annotations

import psycopg
import pytest


def sql_error(dsn: str, sql: str, user: str = "postgres", setup: str | None = None) -> psycopg.Error:
    """Run `sql`, which must fail, as `user` on a new autocommit connection (after `setup`, if any);
    returns the error for its SQLSTATE and diagnostics."""
    with psycopg.connect(dsn.replace("user=postgres", f"user={user}"), autocommit=True) as conn:
        if setup:
            conn.execute(setup)
        with pytest.raises(psycopg.Error) as caught:
            conn.execute(sql)
    return caught.value
