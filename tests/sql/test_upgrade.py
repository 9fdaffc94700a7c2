"""install.sql upgrades in place, in one transaction, from the two older states a database can be in:

- the ORIGINAL AWS sample (sample-rds-lambda-s3vector-integration): its tables, triggers, types and
  functions are built here from the facts of its public surface (docs/upgrading.md), with rows in them;
- this project's first release (schema without s3vl.version()): its SQL files as released, kept in
  tests/sql/releases/0.1.0.

Each upgraded database must keep its configuration and registry, work at once, and end with exactly
the catalog of a fresh install (nothing left over); running install.sql again changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from .conftest import SqlStack, raises_sqlstate

# This project's first release (commit ea2afb2, schema without version()): its source/sql files, kept
# verbatim here so that the test needs no git history (CI may clone shallow).
PREVIOUS_RELEASE_SQL = Path(__file__).parent / "releases" / "0.1.0"

# The original sample's objects, written from its documented surface. The function bodies stand in for
# the original's (they are replaced by the upgrade); tables, defaults, triggers and types are its shape.
ORIGINAL_DDL = """
CREATE SCHEMA s3vl;
CREATE TABLE s3vl.config (
    id serial PRIMARY KEY,
    lambda_arn text NOT NULL,
    aws_region text NOT NULL DEFAULT 'us-west-2',
    timeout_seconds integer DEFAULT 30 CHECK (timeout_seconds >= 1 AND timeout_seconds <= 900),
    created_at timestamp DEFAULT now(),
    updated_at timestamp DEFAULT now());
CREATE TABLE s3vl.index_registry (
    id serial PRIMARY KEY,
    index_name text UNIQUE NOT NULL,
    index_arn text NOT NULL,
    description text,
    bucket_name text NOT NULL,
    region text NOT NULL DEFAULT 'us-west-2',
    account_id text NOT NULL,
    created_at timestamp DEFAULT now(),
    updated_at timestamp DEFAULT now(),
    is_active boolean DEFAULT TRUE);
CREATE FUNCTION s3vl.update_config_timestamp() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE FUNCTION s3vl.update_index_registry_timestamp() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE TRIGGER trigger_update_s3vl_config_timestamp BEFORE UPDATE ON s3vl.config
    FOR EACH ROW EXECUTE FUNCTION s3vl.update_config_timestamp();
CREATE TRIGGER trigger_update_s3vl_index_registry_timestamp BEFORE UPDATE ON s3vl.index_registry
    FOR EACH ROW EXECUTE FUNCTION s3vl.update_index_registry_timestamp();
CREATE TYPE s3vl.search_result AS (vector_id text, distance float8, similarity_score float8, metadata jsonb);
CREATE TYPE s3vl.query_result AS (vector_id text, found boolean, vector float8[], metadata jsonb);
CREATE TYPE s3vl.list_result AS (vector_id text, vector_data float8[], metadata jsonb);
CREATE FUNCTION s3vl.configure(lambda_arn text, aws_region text DEFAULT 'us-west-2',
    timeout_seconds integer DEFAULT 30) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE FUNCTION s3vl.validate_config() RETURNS TABLE (is_valid boolean, lambda_arn text, aws_region text,
    error_message text, response_time_ms integer) LANGUAGE sql AS 'SELECT true, NULL, NULL, NULL, 0';
CREATE FUNCTION s3vl.register_index(index_name_param text, index_arn_param text,
    description_param text DEFAULT NULL) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE FUNCTION s3vl.resolve_index_arn(index_name_param text) RETURNS text LANGUAGE sql
    AS 'SELECT index_arn FROM s3vl.index_registry WHERE index_name = $1 AND is_active';
CREATE FUNCTION s3vl.query_vectors(query_vector float8[], index_name text DEFAULT NULL,
    index_arn text DEFAULT NULL, top_k integer DEFAULT 10, return_metadata boolean DEFAULT TRUE,
    metadata_filter jsonb DEFAULT NULL) RETURNS SETOF s3vl.search_result LANGUAGE sql
    AS 'SELECT NULL::s3vl.search_result WHERE false';
CREATE FUNCTION s3vl.get_vectors(vector_ids text[], index_name text DEFAULT NULL, index_arn text DEFAULT NULL,
    include_vector_data boolean DEFAULT TRUE, include_metadata boolean DEFAULT TRUE)
    RETURNS TABLE (vector_id text, embedding float8[], metadata jsonb, found boolean) LANGUAGE sql
    AS 'SELECT NULL::text, NULL::float8[], NULL::jsonb, NULL::boolean WHERE false';
CREATE FUNCTION s3vl.list_vectors(index_arn text DEFAULT NULL, index_name text DEFAULT NULL,
    max_results integer DEFAULT 100, next_token text DEFAULT NULL, return_data boolean DEFAULT FALSE,
    return_metadata boolean DEFAULT TRUE) RETURNS TABLE (vector_id text, vector_data float8[], metadata jsonb,
    response_next_token text, total_count integer) LANGUAGE sql
    AS 'SELECT NULL::text, NULL::float8[], NULL::jsonb, NULL::text, NULL::integer WHERE false';
"""

# Objects of schema s3vl, and triggers and temporary tables anywhere, with what defines them.
CATALOG = """
SELECT 'routine ' || p.oid::regprocedure::text || ' -> ' || pg_get_function_result(p.oid)
       || ' args ' || pg_get_function_arguments(p.oid) || ' definer ' || p.prosecdef
       || ' config ' || coalesce(p.proconfig::text, '') || ' acl ' || coalesce(p.proacl::text, '')
  FROM pg_proc p WHERE p.pronamespace = 's3vl'::regnamespace
UNION ALL
SELECT 'relation ' || c.relname || ' ' || c.relkind::text || ' acl ' || coalesce(c.relacl::text, '')
  FROM pg_class c WHERE c.relnamespace = 's3vl'::regnamespace
UNION ALL
SELECT 'column ' || a.attrelid::regclass::text || '.' || a.attname
       || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull
       || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') || ' #' || a.attnum
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.relnamespace = 's3vl'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'constraint ' || conrelid::regclass::text || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 's3vl'::regnamespace
UNION ALL
SELECT 'type ' || t.oid::regtype::text FROM pg_type t WHERE t.typnamespace = 's3vl'::regnamespace
UNION ALL
SELECT 'trigger ' || tgname || ' on ' || tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal
UNION ALL
SELECT 'temporary ' || relname FROM pg_class WHERE relpersistence = 't'
UNION ALL
SELECT 'comment ' || p.oid::regprocedure::text || ' ' || d.description
  FROM pg_description d JOIN pg_proc p ON d.classoid = 'pg_proc'::regclass AND d.objoid = p.oid
 WHERE p.pronamespace = 's3vl'::regnamespace
UNION ALL
SELECT 'schema acl ' || coalesce(nspacl::text, '') FROM pg_namespace WHERE nspname = 's3vl'
"""


def catalog(stack: SqlStack, dbname: str) -> set[str]:
    with stack.connect(dbname=dbname) as conn:
        return {r[0] for r in conn.execute(CATALOG)}


@pytest.fixture(scope="module")
def fresh_catalog(sql_stack: SqlStack) -> set[str]:
    """The catalog of a fresh install, to compare every upgraded database with."""
    name = "s3vl_sql_fresh"
    sql_stack.create_database(name)
    try:
        sql_stack.install(name)
        return catalog(sql_stack, name)
    finally:
        sql_stack.drop_database(name)


@pytest.fixture
def old_db(sql_stack: SqlStack) -> Iterator[str]:
    name = "s3vl_sql_upgrade"
    sql_stack.create_database(name)
    yield name
    sql_stack.drop_database(name)


def _upgrade(stack: SqlStack, dbname: str) -> None:
    done = stack.psql("-f", "source/sql/install.sql", dbname=dbname)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr


def _original_state(stack: SqlStack, dbname: str, aws_region: str = "us-west-2") -> dict[str, Any]:
    walk = stack.indexes["test-index-5d"]
    rand = stack.indexes["rand-64"]
    with stack.connect(dbname=dbname) as conn:
        conn.execute(ORIGINAL_DDL)
        # Two configurations: the newest by updated_at is the one in force.
        conn.execute(
            "INSERT INTO s3vl.config (lambda_arn, aws_region, timeout_seconds, created_at, updated_at) "
            "VALUES "
            "('arn:aws:lambda:us-west-2:000000000000:function:retired', 'us-west-2', 5, "
            " '2025-01-01 00:00:00', '2025-01-01 00:00:00'), "
            "(%s, %s, 20, '2025-02-01 08:00:00', '2025-03-01 09:30:00')",
            (stack.function_arn, aws_region),
        )
        for name, arn, active in (("demo-index", walk.arn, True), ("parked", rand.arn, False)):
            conn.execute(
                "INSERT INTO s3vl.index_registry (index_name, index_arn, description, bucket_name, region, "
                "account_id, created_at, updated_at, is_active) "
                "VALUES (%s, %s, %s, 's3vl-sql-tests', 'us-west-2', '000000000000', "
                "'2025-02-02 10:00:00', '2025-02-03 11:00:00', %s)",
                (name, arn, f"{name} from the original", active),
            )
    return {"walk": walk, "rand": rand}


def test_upgrade_from_the_original_sample_keeps_config_and_registry(
    sql_stack: SqlStack, old_db: str, fresh_catalog: set[str]
) -> None:
    indexes = _original_state(sql_stack, old_db)
    _upgrade(sql_stack, old_db)
    with sql_stack.connect(dbname=old_db) as conn:
        assert conn.execute("SELECT s3vl.version()").fetchone() == ("2.0.0",)
        config = conn.execute(
            "SELECT lambda_arn, aws_region, timeout_seconds, created_at::text, updated_at::text "
            "FROM s3vl.get_config()"
        ).fetchall()
        assert config == [
            (sql_stack.function_arn, "us-west-2", 20, "2025-02-01 08:00:00", "2025-03-01 09:30:00")
        ]
        registry = conn.execute(
            "SELECT index_name, index_arn, description, created_at::text, updated_at::text, is_active "
            "FROM s3vl.list_indexes()"
        ).fetchall()
        assert registry == [
            ("demo-index", indexes["walk"].arn, "demo-index from the original", "2025-02-02 10:00:00",
             "2025-02-03 11:00:00", True),
            ("parked", indexes["rand"].arn, "parked from the original", "2025-02-02 10:00:00",
             "2025-02-03 11:00:00", False),
        ]  # fmt: skip

        # Works at once: the original's call shape on the active index, before any validation.
        query = [0.23, -0.41, 0.88, 0.0, 0.03]
        rows = conn.execute(
            "SELECT vector_id, similarity_score, metadata FROM s3vl.query_vectors("
            "query_vector => %s::numeric[], index_name => 'demo-index', top_k => 3)",
            (query,),
        ).fetchall()
        expected = indexes["walk"].ranking(np.array(query))[:3]
        assert [r[0] for r in rows] == [k for k, _ in expected]
        assert [r[1] for r in rows] == pytest.approx([s for _, s in expected], abs=1e-5)
        assert all(r[2] is not None for r in rows)

        # The inactive index stays inactive, and works once activated.
        error = raises_sqlstate(
            conn, "SELECT * FROM s3vl.get_vectors(ARRAY['r0001'], index_name => 'parked')"
        )
        assert error.sqlstate == "55000" and "activate_index" in error.diag.message_hint
        assert conn.execute("SELECT s3vl.activate_index('parked')").fetchone() == (True,)
        got = conn.execute("SELECT embedding FROM s3vl.get_vectors(ARRAY['r0001'], index_name => 'parked')")
        assert np.array_equal(np.array(got.fetchone()[0], dtype=np.float32), indexes["rand"].row("r0001"))

        # Dimension and metric, which the original never recorded, are read by validate_config().
        unknown = conn.execute("SELECT index_name, dimension FROM s3vl.describe_indexes()").fetchall()
        assert unknown == [("demo-index", None), ("parked", None)]
        valid = conn.execute("SELECT is_valid, error_message FROM s3vl.validate_config()").fetchone()
        assert valid == (True, None)
        known = conn.execute("SELECT index_name, dimension, distance_metric FROM s3vl.describe_indexes()")
        assert known.fetchall() == [("demo-index", 5, "cosine"), ("parked", 64, "cosine")]
        assert conn.execute("SELECT last_validation_status FROM s3vl.get_config()").fetchone() == ("HEALTHY",)

    assert catalog(sql_stack, old_db) == fresh_catalog
    _upgrade(sql_stack, old_db)  # idempotent: a second run changes nothing
    assert catalog(sql_stack, old_db) == fresh_catalog


def test_upgraded_region_that_differs_from_the_arn_is_flagged(sql_stack: SqlStack, old_db: str) -> None:
    """The original defaulted aws_region to us-west-2 whatever the ARN said: such a configuration is kept
    as it was, and validate_config() says what is wrong and how to fix it."""
    _original_state(sql_stack, old_db, aws_region="eu-central-1")
    _upgrade(sql_stack, old_db)
    with sql_stack.connect(dbname=old_db) as conn:
        assert conn.execute("SELECT aws_region FROM s3vl.get_config()").fetchone() == ("eu-central-1",)
        is_valid, arn, region, message, _ = conn.execute("SELECT * FROM s3vl.validate_config()").fetchone()
        assert (is_valid, arn, region) == (False, sql_stack.function_arn, "eu-central-1")
        assert message.startswith(
            "configuration: the configured Region eu-central-1 differs from the Region us-west-2"
        )
        assert "s3vl.configure(" in message
        status = conn.execute("SELECT last_validation_status FROM s3vl.get_config()").fetchone()[0]
        assert status == "ERROR: " + message
        conn.execute("SELECT s3vl.configure(%s)", (sql_stack.function_arn,))
        assert conn.execute("SELECT is_valid, aws_region FROM s3vl.validate_config()").fetchone() == (
            True,
            "us-west-2",
        )


def _install_previous_release(stack: SqlStack, dbname: str) -> None:
    """The first release's SQL files (tests/sql/releases/0.1.0), installed as it installed itself."""
    done = stack.psql("-f", str(PREVIOUS_RELEASE_SQL / "install.sql"), dbname=dbname)
    assert done.returncode == 0, done.stderr


def test_upgrade_from_the_previous_release_keeps_config_and_registry(
    sql_stack: SqlStack, old_db: str, fresh_catalog: set[str]
) -> None:
    walk = sql_stack.indexes["test-index-5d"]
    euc = sql_stack.indexes["euc-8"]
    _install_previous_release(sql_stack, old_db)
    with sql_stack.connect(dbname=old_db) as conn:
        # The previous release's call shapes.
        assert conn.execute("SELECT s3vl.configure(%s, NULL, 25)", (sql_stack.function_arn,)).fetchone()[0]
        conn.execute("SELECT s3vl.register_index('walk', %s, 'the walkthrough')", (walk.arn,))
        conn.execute("SELECT s3vl.register_index('euc', %s)", (euc.arn,))
        before = conn.execute(
            "SELECT index_name, registered_at, updated_by FROM s3vl.list_indexes() ORDER BY index_name"
        ).fetchall()
        assert conn.execute(
            "SELECT count(*) FROM s3vl.query_vectors('walk', ARRAY[1, 2, 3, 4, 5], 3)"
        ).fetchone() == (3,)
        assert conn.execute("SELECT to_regprocedure('s3vl.version()')").fetchone() == (None,)

    _upgrade(sql_stack, old_db)
    with sql_stack.connect(dbname=old_db) as conn:
        assert conn.execute("SELECT s3vl.version()").fetchone() == ("2.0.0",)
        assert conn.execute(
            "SELECT lambda_arn, aws_region, timeout_seconds FROM s3vl.get_config()"
        ).fetchall() == [(sql_stack.function_arn, "us-west-2", 25)]
        after = conn.execute(
            "SELECT index_name, created_at, updated_by, dimension, distance_metric, is_active, description "
            "FROM s3vl.describe_indexes()"
        ).fetchall()
        assert [(r[0], r[1], r[2]) for r in after] == [tuple(b) for b in before]
        assert [r[3:] for r in after] == [
            (8, "euclidean", True, None),
            (5, "cosine", True, "the walkthrough"),
        ]
        query = np.linspace(-1, 1, 8)
        rows = conn.execute(
            "SELECT vector_id FROM s3vl.query_vectors(%s::float8[], 'euc', top_k => 4)", (query.tolist(),)
        ).fetchall()
        assert [r[0] for r in rows] == [k for k, _ in euc.ranking(query)[:4]]
    assert catalog(sql_stack, old_db) == fresh_catalog
    _upgrade(sql_stack, old_db)
    assert catalog(sql_stack, old_db) == fresh_catalog


def test_an_object_of_the_users_on_the_old_functions_stops_the_upgrade_unchanged(
    sql_stack: SqlStack, old_db: str
) -> None:
    """Without CASCADE: a view over an old function is not dropped silently; the install stops, names it,
    and leaves the old state as it was."""
    _original_state(sql_stack, old_db)
    with sql_stack.connect(dbname=old_db) as conn:
        conn.execute(
            "CREATE VIEW public.active_indexes AS SELECT s3vl.resolve_index_arn('demo-index') AS arn"
        )
    before = catalog(sql_stack, old_db)
    done = sql_stack.psql("-f", "source/sql/install.sql", dbname=old_db)
    assert done.returncode == 3
    assert "cannot upgrade schema s3vl (original)" in done.stderr and "active_indexes" in done.stderr
    assert catalog(sql_stack, old_db) == before


def test_a_newer_schema_is_not_downgraded(sql_stack: SqlStack, old_db: str) -> None:
    sql_stack.install(old_db)
    with sql_stack.connect(dbname=old_db) as conn:
        conn.execute(
            "CREATE OR REPLACE FUNCTION s3vl.version() RETURNS text LANGUAGE sql AS $$ SELECT '9.0.0' $$"
        )
    done = sql_stack.psql("-f", "source/sql/install.sql", dbname=old_db)
    assert done.returncode == 3
    assert "schema s3vl is at version 9.0.0" in done.stderr and "downgrades are not supported" in done.stderr
