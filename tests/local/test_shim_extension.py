"""The shim is a real extension pair, as on Aurora: aws_lambda and aws_commons with Aurora PostgreSQL 15's
versions, listed in pg_available_extensions, created by CREATE EXTENSION aws_lambda CASCADE, and an
earlier install (from before the shim was an extension, or from an older script) upgraded in place with
its grants kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from s3vl_local.aurora_shim.installer import (
    extension_dir,
    extension_files,
    install_extension_files,
    install_shim,
)
from s3vl_local.postgres import PostgresCluster, PostgresError
from sql_errors import sql_error

# The shim as it was before it was an extension: its own SQL plus two catalog rows in pg_extension.
SHIM_BEFORE_EXTENSION = Path(__file__).with_name("shim_before_extension.sql")
CALL = "SELECT * FROM aws_lambda.invoke(aws_commons.create_lambda_function_arn('f'), '{}'::json)"
ROLE = "shim_ext_caller"
TEXT_JSONB_INVOKE = "aws_lambda.invoke(text, jsonb, text, text, text, jsonb, varchar)"


@pytest.fixture(scope="module", autouse=True)
def caller_role(pg_cluster: PostgresCluster) -> None:
    pg_cluster.psql(f"DROP ROLE IF EXISTS {ROLE}; CREATE ROLE {ROLE} LOGIN")


def _fresh_db(cluster: PostgresCluster, name: str) -> str:
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return cluster.dsn(dbname=name)


def _rows(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(sql).fetchall()


def _installed(dsn: str) -> list[tuple[Any, ...]]:
    """Each aws_* extension with its version, whether it has member objects, and whether its comment (which
    names its script's digest) is the one of the files now in the extension directory."""
    return _rows(
        dsn,
        "SELECT e.extname, e.extversion, "
        "EXISTS (SELECT FROM pg_depend d WHERE d.refobjid = e.oid AND d.deptype = 'e'), "
        "obj_description(e.oid, 'pg_extension') IS NOT DISTINCT FROM a.comment "
        "FROM pg_extension e JOIN pg_available_extensions a ON a.name = e.extname "
        "WHERE e.extname LIKE 'aws%' ORDER BY 1",
    )


def _grant_caller(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"GRANT USAGE ON SCHEMA aws_lambda TO {ROLE}")
        conn.execute(f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA aws_lambda TO {ROLE}")


def test_both_extensions_are_available_with_auroras_versions(pg_cluster: PostgresCluster) -> None:
    install_extension_files()
    rows = _rows(
        pg_cluster.dsn(),
        "SELECT name, default_version, comment FROM pg_available_extensions "
        "WHERE name IN ('aws_lambda', 'aws_commons') ORDER BY 1",
    )
    assert [row[:2] for row in rows] == [("aws_commons", "1.2"), ("aws_lambda", "1.0")]
    assert all("s3vl local stand-in" in row[2] for row in rows)
    versions = _rows(
        pg_cluster.dsn(), "SELECT requires FROM pg_available_extension_versions WHERE name = 'aws_lambda'"
    )
    assert versions == [(["aws_commons", "plpython3u"],)]


def test_extension_files_are_written_once(pg_cluster: PostgresCluster) -> None:
    directory = install_extension_files()
    stamps = {name: (directory / name).stat().st_mtime_ns for name in extension_files()}
    assert install_extension_files() == directory == extension_dir()
    assert {name: (directory / name).stat().st_mtime_ns for name in extension_files()} == stamps
    for name, content in extension_files().items():
        assert (directory / name).read_text() == content
        assert "@REVISION@" not in content
    assert not list(directory.glob(".aws_*")), "no temporary file is left behind"


def test_create_extension_cascade_creates_aws_commons_and_plpython3u(pg_cluster: PostgresCluster) -> None:
    install_extension_files()
    dsn = _fresh_db(pg_cluster, "shim_ext_cascade")
    with psycopg.connect(dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as caught:
            conn.execute("CREATE EXTENSION aws_lambda")
        assert caught.value.sqlstate == "42704"
        assert 'required extension "aws_commons" is not installed' in str(caught.value)
        conn.execute("CREATE EXTENSION aws_lambda CASCADE")
        members = conn.execute(
            "SELECT e.extname, count(*) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid "
            "JOIN pg_proc p ON p.oid = d.objid AND d.classid = 'pg_proc'::regclass "
            "WHERE d.deptype = 'e' AND e.extname LIKE 'aws%' "
            "AND p.pronamespace::regnamespace::text = e.extname "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert _installed(dsn) == [("aws_commons", "1.2", True, True), ("aws_lambda", "1.0", True, True)]
    assert ("plpython3u",) in _rows(dsn, "SELECT extname FROM pg_extension")
    # aws_commons: the ARN constructor; aws_lambda: Aurora's four overloads.
    assert members == [("aws_commons", 1), ("aws_lambda", 4)]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP EXTENSION aws_lambda, aws_commons")
        left = conn.execute(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname LIKE 'aws%'"
        ).fetchone()
        private_schema = conn.execute("SELECT to_regnamespace('aws_lambda_local')").fetchone()
    assert left == (0,) and private_schema == (None,)


def test_install_upgrades_a_shim_from_before_it_was_an_extension(
    pg_cluster: PostgresCluster, closed_endpoint: str
) -> None:
    dsn = _fresh_db(pg_cluster, "shim_ext_legacy")
    pg_cluster.psql(SHIM_BEFORE_EXTENSION.read_text(), dbname="shim_ext_legacy")
    _grant_caller(dsn)
    assert _installed(dsn) == [("aws_commons", "1.0", False, False), ("aws_lambda", "1.0", False, False)]

    install_shim(pg_cluster, "shim_ext_legacy", closed_endpoint)

    assert _installed(dsn) == [("aws_commons", "1.2", True, True), ("aws_lambda", "1.0", True, True)]
    # The role's grants survived the upgrade: its call reaches the (closed) endpoint.
    assert sql_error(dsn, CALL, ROLE).sqlstate == "08001"
    public = _rows(
        dsn,
        "SELECT p.proname, bool_or(has_function_privilege('public', p.oid, 'EXECUTE')) FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN ('aws_lambda', 'aws_commons') "
        "GROUP BY 1 ORDER BY 1",
    )
    assert public == [("create_lambda_function_arn", True), ("invoke", False)]


def test_install_reinstalls_an_extension_from_an_older_script_and_keeps_grants(
    pg_cluster: PostgresCluster, closed_endpoint: str
) -> None:
    dsn = _fresh_db(pg_cluster, "shim_ext_older")
    install_shim(pg_cluster, "shim_ext_older", closed_endpoint)
    _grant_caller(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        # An older script: another comment, and one overload fewer.
        conn.execute("COMMENT ON EXTENSION aws_lambda IS 'an older revision'")
        conn.execute(f"ALTER EXTENSION aws_lambda DROP FUNCTION {TEXT_JSONB_INVOKE}")
        conn.execute(f"DROP FUNCTION {TEXT_JSONB_INVOKE}")
    install_shim(pg_cluster, "shim_ext_older", closed_endpoint)
    assert _installed(dsn) == [("aws_commons", "1.2", True, True), ("aws_lambda", "1.0", True, True)]
    assert _rows(dsn, f"SELECT to_regprocedure('{TEXT_JSONB_INVOKE}') IS NOT NULL") == [(True,)]
    assert sql_error(dsn, CALL, ROLE).sqlstate == "08001"


def test_a_second_install_changes_nothing(pg_cluster: PostgresCluster, closed_endpoint: str) -> None:
    dsn = _fresh_db(pg_cluster, "shim_ext_twice")
    install_shim(pg_cluster, "shim_ext_twice", closed_endpoint)
    objects = (
        "SELECT p.oid, p.proacl::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname LIKE 'aws%' UNION ALL SELECT oid, extversion FROM pg_extension ORDER BY 1"
    )
    before = _rows(dsn, objects)
    install_shim(pg_cluster, "shim_ext_twice", closed_endpoint)
    assert _rows(dsn, objects) == before


def test_an_upgrade_blocked_by_a_dependent_object_changes_nothing_and_names_it(
    pg_cluster: PostgresCluster, closed_endpoint: str
) -> None:
    dsn = _fresh_db(pg_cluster, "shim_ext_blocked")
    install_shim(pg_cluster, "shim_ext_blocked", closed_endpoint)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE targets (arn aws_commons._lambda_function_arn_1)")
        conn.execute("COMMENT ON EXTENSION aws_commons IS 'an older revision'")
    before = _rows(dsn, "SELECT extname, oid FROM pg_extension ORDER BY 1")
    with pytest.raises(PostgresError) as caught:
        install_shim(pg_cluster, "shim_ext_blocked", closed_endpoint)
    message = str(caught.value)
    assert "cannot upgrade the aws_lambda shim: other objects depend on it" in message
    assert "table targets" in message and "install the shim again" in message
    assert _rows(dsn, "SELECT extname, oid FROM pg_extension ORDER BY 1") == before
