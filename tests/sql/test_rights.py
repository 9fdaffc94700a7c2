"""Who runs with whose rights: every function of schema s3vl pins its search_path, and exactly the entry
points that 90_privileges.sql lists (and docs/sql-reference.md documents) run as SECURITY DEFINER. That
file is the only one that sets either, so that no function can be a definer without the pinned path, even
between the install's statements."""

from __future__ import annotations

import re
from typing import Any

import psycopg

from .conftest import REPO, SQL_DIR

PINNED = "search_path=pg_catalog, pg_temp"


def _listed_definers() -> set[str]:
    """The names in 90_privileges.sql's v_definers array."""
    text = (SQL_DIR / "90_privileges.sql").read_text()
    listed = re.search(r"v_definers constant text\[\] := ARRAY\[(.*?)\];", text, re.S)
    assert listed, "90_privileges.sql no longer lists the definer entry points in v_definers"
    return set(re.findall(r"'(\w+)'", re.sub(r"--[^\n]*", "", listed.group(1))))


def _code(text: str) -> str:
    """SQL without comments."""
    return re.sub(r"--[^\n]*", "", text)


def test_every_function_pins_its_search_path(conn: psycopg.Connection[Any]) -> None:
    rows = conn.execute(
        "SELECT p.oid::regprocedure::text, p.proconfig FROM pg_proc p "
        "WHERE p.pronamespace = 's3vl'::regnamespace"
    ).fetchall()
    assert len(rows) > 50
    assert [name for name, config in rows if PINNED not in (config or [])] == []


def _documented_definers() -> set[str]:
    """docs/sql-reference.md, "Privileges": the functions of its table and the table-sync triggers run as
    definer, but for version and query_synced, which run as their caller."""
    doc = (REPO / "docs" / "sql-reference.md").read_text().split("## Privileges", 1)[1]
    rows = re.findall(r"^\| ([a-z_, ()]+) \| (?:yes|no) \|", doc, re.M)
    assert len(rows) > 5, "the Privileges table of docs/sql-reference.md was not found"
    names = {re.match(r"\w+", cell.strip()).group(0) for row in rows for cell in row.split(",")}  # type: ignore[union-attr]
    return names - {"version", "query_synced"} | {"sync_capture", "sync_refuse_drop"}


def test_the_definers_are_the_listed_and_documented_entry_points(conn: psycopg.Connection[Any]) -> None:
    definers = {
        name
        for (name,) in conn.execute(
            "SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 's3vl'::regnamespace AND p.prosecdef"
        )
    }
    assert definers == _listed_definers()
    assert definers == _documented_definers()
    # Internal helpers run as their caller, one of the entry points.
    assert not any(name.startswith("_") for name in definers)


def test_only_90_privileges_sets_rights_or_a_search_path() -> None:
    others = [path for path in sorted(SQL_DIR.glob("*.sql")) if path.name != "90_privileges.sql"]
    assert len(others) > 10
    offending = [
        path.name
        for path in others
        if re.search(r"SECURITY\s+(DEFINER|INVOKER)|search_path", _code(path.read_text()), re.I)
    ]
    assert offending == []
