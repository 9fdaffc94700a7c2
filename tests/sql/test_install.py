"""install.sql from either directory, twice; a clear error without aws_lambda; uninstall.sql and
DROP SCHEMA leave nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from s3vl_local.aurora_shim.installer import shim_sql

from .conftest import SQL_DIR, SqlStack, run_psql

SNAPSHOT = """
SELECT 'namespace ' || nspname || ' ' || coalesce(nspacl::text, '') FROM pg_namespace
UNION ALL SELECT 'class ' || oid::regclass::text || ' ' || coalesce(relacl::text, '') FROM pg_class
UNION ALL SELECT 'proc ' || oid::regprocedure::text || ' ' || coalesce(proacl::text, '') FROM pg_proc
UNION ALL SELECT 'type ' || oid::regtype::text FROM pg_type
UNION ALL SELECT 'role ' || rolname FROM pg_roles
UNION ALL SELECT 'extension ' || extname FROM pg_extension
UNION ALL SELECT 'default acl ' || defaclrole::regrole::text FROM pg_default_acl
UNION ALL SELECT 'depend ' || count(*) FROM pg_depend
UNION ALL SELECT 'description ' || count(*) FROM pg_description
UNION ALL SELECT 'shdepend ' || count(*) FROM pg_shdepend
UNION ALL SELECT 'auth member ' || roleid::regrole::text || ' ' || member::regrole::text FROM pg_auth_members
"""


def snapshot(stack_or_dsn: Any, dbname: str) -> set[str]:
    dsn = stack_or_dsn.pg.dsn(dbname=dbname) if isinstance(stack_or_dsn, SqlStack) else stack_or_dsn
    with psycopg.connect(dsn, autocommit=True) as conn:
        return {r[0] for r in conn.execute(SNAPSHOT)}


@pytest.fixture
def scratch_db(sql_stack: SqlStack) -> Iterator[str]:
    name = "s3vl_sql_install"
    sql_stack.create_database(name)
    yield name
    sql_stack.drop_database(name)


def test_install_from_root_and_from_source_sql_is_idempotent(sql_stack: SqlStack, scratch_db: str) -> None:
    first = sql_stack.psql("-f", "source/sql/install.sql", dbname=scratch_db)
    assert first.returncode == 0, first.stderr
    with sql_stack.connect(dbname=scratch_db) as conn:
        conn.execute("SELECT s3vl.configure(%s)", (sql_stack.function_arn,))
        conn.execute("SELECT s3vl.register_index('walk', %s)", (sql_stack.indexes["test-index-5d"].arn,))
    before = snapshot(sql_stack, scratch_db)
    again = sql_stack.psql("-c", r"\i install.sql", dbname=scratch_db, cwd=SQL_DIR)
    assert again.returncode == 0, again.stderr
    assert again.stderr == "", "a repeated install is quiet"
    third = sql_stack.psql("-c", r"\i source/sql/install.sql", dbname=scratch_db)
    assert third.returncode == 0, third.stderr
    assert snapshot(sql_stack, scratch_db) == before
    with sql_stack.connect(dbname=scratch_db) as conn:
        assert conn.execute("SELECT lambda_arn FROM s3vl.get_config()").fetchone() == (
            sql_stack.function_arn,
        )
        assert conn.execute(
            "SELECT count(*) FROM s3vl.query_vectors(ARRAY[1, 2, 3, 4, 5], 'walk', top_k => 3)"
        ).fetchone() == (3,)


def test_install_without_aws_lambda_fails_clearly_and_changes_nothing(sql_stack: SqlStack) -> None:
    name = "s3vl_sql_no_lambda"
    sql_stack.create_database(name, with_shim=False)
    try:
        # aws_lambda is available (as on Aurora), but only a superuser may create it: install as a role
        # that is not one, as on Aurora without rds_superuser.
        with sql_stack.connect(dbname=name) as conn:
            conn.execute("DROP ROLE IF EXISTS s3vl_sql_not_super")
            conn.execute("CREATE ROLE s3vl_sql_not_super LOGIN")
        before = snapshot(sql_stack, name)
        done = sql_stack.psql("-U", "s3vl_sql_not_super", "-f", "source/sql/install.sql", dbname=name)
        assert done.returncode == 3  # psql's exit status when ON_ERROR_STOP stopped the script
        assert "s3vl needs the aws_lambda extension" in done.stderr
        assert "HINT:" in done.stderr and "rds_superuser" in done.stderr
        assert snapshot(sql_stack, name) == before
    finally:
        sql_stack.drop_database(name)
        with sql_stack.connect(dbname="postgres") as conn:
            conn.execute("DROP ROLE IF EXISTS s3vl_sql_not_super")


def test_drop_schema_cascade_leaves_nothing_in_the_database(sql_stack: SqlStack, scratch_db: str) -> None:
    before = snapshot(sql_stack, scratch_db)
    sql_stack.install(scratch_db)
    with sql_stack.connect(dbname=scratch_db) as conn:
        conn.execute("SELECT s3vl.configure(%s)", (sql_stack.function_arn,))
        conn.execute("DROP SCHEMA IF EXISTS s3vl CASCADE")
    # The roles belong to the cluster (and the test database uses them): they stay.
    assert snapshot(sql_stack, scratch_db) == before


def test_uninstall_keeps_roles_still_used_by_another_database(sql_stack: SqlStack, scratch_db: str) -> None:
    before = snapshot(sql_stack, scratch_db)
    sql_stack.install(scratch_db)
    done = sql_stack.psql("-f", "source/sql/uninstall.sql", dbname=scratch_db)
    assert done.returncode == 0, done.stderr
    assert "role s3vl_user kept because it is still referenced" in done.stderr
    assert "s3vl_sql" in done.stderr  # the detail names the database that still uses it
    assert snapshot(sql_stack, scratch_db) == before


def test_uninstall_on_a_fresh_cluster_leaves_no_object_or_role(pg_cluster: Any) -> None:
    """On a cluster where s3vl is installed nowhere else, uninstall.sql removes the roles too."""
    name = "s3vl_sql_uninstall"
    pg_cluster.create_database(name)
    try:
        pg_cluster.psql(shim_sql(), dbname=name)  # the shim's SQL only: the cluster's endpoint stays as it is
        before = snapshot(pg_cluster.dsn(dbname=name), name)
        assert "role s3vl_user" not in before
        assert run_psql(pg_cluster, "-f", "source/sql/install.sql", dbname=name).returncode == 0
        assert "role s3vl_user" in snapshot(pg_cluster.dsn(dbname=name), name)
        done = run_psql(pg_cluster, "-f", "source/sql/uninstall.sql", dbname=name)
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        assert snapshot(pg_cluster.dsn(dbname=name), name) == before
    finally:
        with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
