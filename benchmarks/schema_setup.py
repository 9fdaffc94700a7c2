"""Benchmarks' common set-up: a new database on a running local stack, with the shim and the s3vl schema."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import psycopg

REPO = Path(__file__).resolve().parents[1]


def install_schema(stack: Any, dbname: str) -> None:
    """(Re)create `dbname`, install the Aurora shim there, then source/sql/install.sql with psql."""
    with psycopg.connect(stack.pg.dsn(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {dbname}")
        conn.execute(f"CREATE DATABASE {dbname}")
    stack.install_shim(dbname)
    subprocess.run(
        ["psql", "-X", "-q", "-h", stack.pg.host, "-p", str(stack.pg.port), "-U", "postgres", "-d", dbname,
         "-f", str(REPO / "source" / "sql" / "install.sql")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
