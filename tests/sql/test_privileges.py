"""Privileges, as non-superuser login roles: s3vl_user reads, s3vl_admin also configures and writes,
PUBLIC can do nothing; nobody reaches the tables, the internal functions or aws_lambda directly."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from .conftest import SqlStack, raises_sqlstate

ROLES = {"s3vl_t_reader": "s3vl_user", "s3vl_t_admin": "s3vl_admin", "s3vl_t_nobody": None}
Q5 = "ARRAY[0.1, 0.2, 0.3, 0.4, 0.5]"

READ = [
    f"SELECT * FROM s3vl.query_vectors({Q5}, 'test-index-5d', top_k => 3)",
    "SELECT * FROM s3vl.get_vectors(ARRAY['vec_001'], 'test-index-5d')",
    "SELECT * FROM s3vl.list_vectors(index_name => 'test-index-5d', max_results => 5)",
    "SELECT count(*) FROM s3vl.list_all_vectors('test-index-5d')",
    "SELECT * FROM s3vl.list_indexes()",
    "SELECT * FROM s3vl.get_index_info('test-index-5d')",
    "SELECT * FROM s3vl.describe_indexes()",
    "SELECT s3vl.resolve_index_arn('test-index-5d')",
    "SELECT * FROM s3vl.get_config()",
    "SELECT * FROM s3vl.validate_config()",
    "SELECT * FROM s3vl.validate_config_checks()",
    "SELECT * FROM s3vl.error_codes()",
    "SELECT s3vl.version()",
]
ADMIN = [
    "SELECT s3vl.configure('arn:aws:lambda:us-west-2:000000000000:function:somewhere-else')",
    "SELECT s3vl.register_index('other', "
    "'arn:aws:s3vectors:us-west-2:000000000000:bucket/s3vl-sql-tests/index/walk-5d')",
    "SELECT s3vl.unregister_index('test-index-5d')",
    "SELECT s3vl.deactivate_index('test-index-5d')",
    "SELECT s3vl.activate_index('test-index-5d')",
    "SELECT s3vl.put_vectors('test-index-5d', ARRAY['p'], ARRAY[[1, 2, 3, 4, 5]])",
    "SELECT s3vl.delete_vectors('test-index-5d', ARRAY['p'])",
]
DIRECT = [
    "SELECT * FROM s3vl.config",
    "UPDATE s3vl.config SET lambda_arn = 'arn:aws:lambda:us-west-2:000000000000:function:evil'",
    "INSERT INTO s3vl.index_registry (index_name) VALUES ('x')",
    "SELECT s3vl._invoke('health', '{}'::jsonb)",
    "SELECT * FROM aws_lambda.invoke(aws_commons.create_lambda_function_arn("
    "'arn:aws:lambda:us-west-2:000000000000:function:s3vl-vector-query'), '{}'::json)",
    "CREATE FUNCTION s3vl.query_vectors_evil() RETURNS int LANGUAGE sql AS 'SELECT 1'",
]


@pytest.fixture(scope="module")
def logins(sql_stack: SqlStack) -> Iterator[None]:
    with sql_stack.connect() as conn:
        for login, group in ROLES.items():
            conn.execute(f"DROP ROLE IF EXISTS {login}")
            conn.execute(f"CREATE ROLE {login} LOGIN")
            if group:
                conn.execute(f"GRANT {group} TO {login}")
    yield
    with sql_stack.connect() as conn:
        for login in ROLES:
            conn.execute(f"DROP ROLE {login}")


def _as(sql_stack: SqlStack, login: str) -> psycopg.Connection:
    return sql_stack.connect(user=login)


@pytest.mark.usefixtures("logins")
@pytest.mark.parametrize("sql", READ)
def test_user_can_read(sql_stack: SqlStack, sql: str) -> None:
    with _as(sql_stack, "s3vl_t_reader") as conn:
        assert conn.execute(sql).fetchall()


@pytest.mark.usefixtures("logins")
@pytest.mark.parametrize("sql", ADMIN + DIRECT)
def test_user_cannot_configure_register_write_or_go_around(sql_stack: SqlStack, sql: str) -> None:
    with _as(sql_stack, "s3vl_t_reader") as conn:
        assert raises_sqlstate(conn, sql).sqlstate == "42501"
    with sql_stack.connect() as conn:
        assert (
            conn.execute("SELECT lambda_arn FROM s3vl.get_config()").fetchone()[0] == sql_stack.function_arn
        )


@pytest.mark.usefixtures("logins")
@pytest.mark.parametrize("sql", READ + ADMIN + DIRECT)
def test_public_can_do_nothing(sql_stack: SqlStack, sql: str) -> None:
    with _as(sql_stack, "s3vl_t_nobody") as conn:
        assert raises_sqlstate(conn, sql).sqlstate == "42501"


@pytest.mark.usefixtures("logins")
def test_admin_can_configure_register_and_write(sql_stack: SqlStack) -> None:
    index = sql_stack.indexes["test-index-5d"]
    with _as(sql_stack, "s3vl_t_admin") as conn:
        assert conn.execute(READ[0]).fetchall()
        conn.execute("SELECT s3vl.configure(%s, 'us-west-2', 20)", (sql_stack.function_arn,))
        row = conn.execute("SELECT s3vl.register_index('admin-copy', %s)", (index.arn,)).fetchone()
        assert row == (True,)
        assert conn.execute(
            "SELECT dimension FROM s3vl.describe_indexes() WHERE index_name = 'admin-copy'"
        ).fetchone() == (5,)
        assert conn.execute("SELECT s3vl.deactivate_index('admin-copy')").fetchone() == (True,)
        assert conn.execute("SELECT s3vl.activate_index('admin-copy')").fetchone() == (True,)
        assert conn.execute(
            "SELECT s3vl.put_vectors('admin-copy', ARRAY['adm'], ARRAY[[1, 2, 3, 4, 5]])"
        ).fetchone() == (1,)
        assert conn.execute("SELECT s3vl.delete_vectors('admin-copy', ARRAY['adm'])").fetchone() == (1,)
        conn.execute("SELECT s3vl.unregister_index('admin-copy')")
        assert conn.execute(
            "SELECT detail LIKE '%set by s3vl_t_admin' FROM s3vl.validate_config_checks() "
            "WHERE check_name = 'configuration'"
        ).fetchone() == (True,)
        for sql in DIRECT:
            assert raises_sqlstate(conn, sql).sqlstate == "42501"
    with sql_stack.connect() as conn:
        conn.execute("SELECT s3vl.configure(%s)", (sql_stack.function_arn,))


def test_catalog_has_no_public_grant(conn) -> None:
    public = conn.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p, "
        "aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a "
        "WHERE p.pronamespace = 's3vl'::regnamespace AND a.grantee = 0 "
        "UNION ALL SELECT c.oid::regclass::text FROM pg_class c, "
        "aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a "
        "WHERE c.relnamespace = 's3vl'::regnamespace AND a.grantee = 0 "
        "UNION ALL SELECT 'schema' FROM pg_namespace n, aclexplode(n.nspacl) a "
        "WHERE n.nspname = 's3vl' AND a.grantee = 0"
    ).fetchall()
    assert public == []
