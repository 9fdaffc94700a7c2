-- Upgrade in place, first half: recognise what is installed in schema s3vl and, for an older schema,
-- set its configuration and registry aside in temporary tables, then drop its objects so that the
-- files that follow create the current ones. 95_upgrade_finish.sql puts the rows back.
--
-- Recognised states:
--   none      nothing installed (or an empty schema s3vl)
--   current   s3vl.version() answers this file's version: nothing to migrate (a re-run)
--   s3vl-1    this project's first release: s3vl.config(singleton, lambda_arn, region, ...), no version()
--   original  the AWS sample this project reimplements: s3vl.config(id serial, lambda_arn, aws_region, ...),
--             s3vl.index_registry(id serial, ..., is_active) and timestamp triggers
-- Anything else stops the install (one transaction: nothing changes).

CREATE OR REPLACE FUNCTION s3vl._installed_state()
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_version text;
    v_state text;
BEGIN
    IF pg_catalog.to_regprocedure('s3vl.version()') IS NOT NULL THEN
        EXECUTE 'SELECT s3vl.version()' INTO v_version;
        RETURN 'version ' || v_version;
    END IF;
    -- A column that only one older shape has tells which it is; the original's columns are looked for first.
    SELECT m.state INTO v_state
      FROM (VALUES (1, 'original', 'config', 'id'), (2, 'original', 'index_registry', 'is_active'),
                   (3, 's3vl-1', 'config', 'singleton'), (4, 's3vl-1', 'index_registry', 'dimension'))
           AS m(n, state, rel, col)
     WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid = pg_catalog.to_regclass('s3vl.' || m.rel) AND a.attname = m.col
                      AND NOT a.attisdropped)
     ORDER BY m.n
     LIMIT 1;
    IF v_state IS NOT NULL THEN
        RETURN v_state;
    END IF;
    -- This function itself is the only object of a schema created by an interrupted first run.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relnamespace = 's3vl'::regnamespace)
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc
                        WHERE pronamespace = 's3vl'::regnamespace AND proname <> '_installed_state') THEN
        RETURN 'none';
    END IF;
    RETURN 'unknown';
END
$$;

DO $upgrade$
DECLARE
    v_state text := s3vl._installed_state();
    v_this constant text := '2.0.0';  -- the version s3vl.version() below answers: keep them equal
    v_object record;
    v_message text;
    v_detail text;
BEGIN
    IF v_state IN ('none', 'version ' || v_this) THEN
        RETURN;
    END IF;
    IF v_state LIKE 'version %' THEN
        RAISE EXCEPTION 'schema s3vl is at version %, which this install.sql (version %) cannot upgrade',
                pg_catalog.substr(v_state, 9), v_this
            USING ERRCODE = '55000',
                  HINT = 'Install the s3vl release that matches the installed version, or a newer one; '
                         'downgrades are not supported.';
    END IF;
    IF v_state = 'unknown' THEN
        RAISE EXCEPTION 'schema s3vl holds objects that are neither an s3vl release nor the original sample'
            USING ERRCODE = '55000',
                  HINT = 'Move those objects to another schema (or DROP SCHEMA s3vl CASCADE if they are not needed), '
                         'then run install.sql again.';
    END IF;

    -- Set the rows aside in the current shape. ON COMMIT DROP: nothing outlives the install.
    CREATE TEMPORARY TABLE s3vl_upgrade_config (
        lambda_arn text, aws_region text, timeout_seconds integer,
        created_at timestamptz, updated_at timestamptz, updated_by text) ON COMMIT DROP;
    CREATE TEMPORARY TABLE s3vl_upgrade_registry (
        index_name text, index_arn text, description text, dimension integer, distance_metric text,
        data_type text, bucket_name text, region text, account_id text, is_active boolean,
        created_at timestamptz, updated_at timestamptz, updated_by text) ON COMMIT DROP;

    IF v_state = 'original' THEN
        -- Its newest row (by updated_at) is the configuration; the others are history.
        IF pg_catalog.to_regclass('s3vl.config') IS NOT NULL THEN
            INSERT INTO pg_temp.s3vl_upgrade_config
            SELECT c.lambda_arn, c.aws_region, coalesce(c.timeout_seconds, 30),
                   coalesce(c.created_at, c.updated_at, pg_catalog.now()),
                   coalesce(c.updated_at, c.created_at, pg_catalog.now()), SESSION_USER
              FROM s3vl.config c
             ORDER BY c.updated_at DESC NULLS LAST, c.id DESC
             LIMIT 1;
        END IF;
        -- Dimension and metric were never recorded: NULL until validate_config() or register_index() reads them.
        IF pg_catalog.to_regclass('s3vl.index_registry') IS NOT NULL THEN
            INSERT INTO pg_temp.s3vl_upgrade_registry
            SELECT r.index_name, r.index_arn, r.description, NULL, NULL, NULL, r.bucket_name, r.region,
                   r.account_id, coalesce(r.is_active, true), coalesce(r.created_at, pg_catalog.now()),
                   coalesce(r.updated_at, r.created_at, pg_catalog.now()), SESSION_USER
              FROM s3vl.index_registry r;
        END IF;
    ELSE
        IF pg_catalog.to_regclass('s3vl.config') IS NOT NULL THEN
            INSERT INTO pg_temp.s3vl_upgrade_config
            SELECT c.lambda_arn, c.region, c.timeout_seconds, c.updated_at, c.updated_at, c.updated_by
              FROM s3vl.config c;
        END IF;
        IF pg_catalog.to_regclass('s3vl.index_registry') IS NOT NULL THEN
            INSERT INTO pg_temp.s3vl_upgrade_registry
            SELECT r.index_name, r.index_arn, r.description, r.dimension, r.distance_metric, r.data_type,
                   r.bucket_name, r.region, r.account_id, true, r.registered_at, r.updated_at, r.updated_by
              FROM s3vl.index_registry r;
        END IF;
    END IF;

    -- Drop every object of the old schema (the schema itself, its owner and its grants stay), without
    -- CASCADE: an object of the user's that depends on one of them stops the upgrade instead of being
    -- dropped silently. Order: triggers, views, routines (except this file's helper), tables, types.
    BEGIN
        FOR v_object IN
            SELECT pg_catalog.format('DROP TRIGGER %I ON %s', t.tgname, t.tgrelid::regclass) AS ddl
              FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
             WHERE c.relnamespace = 's3vl'::regnamespace AND NOT t.tgisinternal
            UNION ALL
            SELECT pg_catalog.format('DROP %s %s', CASE c.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END,
                                     c.oid::regclass)
              FROM pg_catalog.pg_class c
             WHERE c.relnamespace = 's3vl'::regnamespace AND c.relkind IN ('v', 'm')
        LOOP
            EXECUTE v_object.ddl;
        END LOOP;
        FOR v_object IN
            SELECT p.oid::regprocedure AS routine FROM pg_catalog.pg_proc p
             WHERE p.pronamespace = 's3vl'::regnamespace AND p.proname <> '_installed_state'
        LOOP
            EXECUTE pg_catalog.format('DROP ROUTINE %s', v_object.routine);
        END LOOP;
        FOR v_object IN
            SELECT c.oid::regclass AS rel, c.relkind FROM pg_catalog.pg_class c
             WHERE c.relnamespace = 's3vl'::regnamespace AND c.relkind IN ('r', 'p', 'f')
        LOOP
            EXECUTE pg_catalog.format('DROP %sTABLE %s', CASE WHEN v_object.relkind = 'f' THEN 'FOREIGN ' ELSE '' END,
                                      v_object.rel);
        END LOOP;
        -- Sequences not owned by a dropped column, then composite, enum and domain types.
        FOR v_object IN
            SELECT c.oid::regclass AS rel FROM pg_catalog.pg_class c
             WHERE c.relnamespace = 's3vl'::regnamespace AND c.relkind = 'S'
        LOOP
            EXECUTE pg_catalog.format('DROP SEQUENCE %s', v_object.rel);
        END LOOP;
        FOR v_object IN
            SELECT t.oid::regtype AS typ, t.typtype FROM pg_catalog.pg_type t
             WHERE t.typnamespace = 's3vl'::regnamespace AND t.typelem = 0
               AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND EXISTS (
                        SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c')))
        LOOP
            EXECUTE pg_catalog.format('DROP %s %s', CASE WHEN v_object.typtype = 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
                                      v_object.typ);
        END LOOP;
    EXCEPTION WHEN dependent_objects_still_exist THEN
        GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
        RAISE EXCEPTION 'cannot upgrade schema s3vl (%): %', v_state, v_message
            USING ERRCODE = '2BP01', DETAIL = v_detail,
                  HINT = 'Drop the objects named in DETAIL (they use the old s3vl objects), run install.sql, '
                         'then create them again against the new functions.';
    END;
END
$upgrade$;

CREATE OR REPLACE FUNCTION s3vl.version()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '2.0.0'::text $$;
COMMENT ON FUNCTION s3vl.version() IS
    'The version of the installed s3vl schema; install.sql upgrades older versions and the original sample in place.';
