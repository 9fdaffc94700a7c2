-- Privileges: who runs each s3vl function with whose rights, and who may call it. Nothing for PUBLIC.
-- The tables are reachable only through the SECURITY DEFINER entry points below; aws_lambda is used only
-- inside them, with the installing role's rights, so neither group role needs (or gets) any privilege on
-- aws_lambda or aws_commons.
-- Re-running the install re-applies all of this (CREATE OR REPLACE keeps old grants, REVOKE resets them).

-- Rights and search path, for every function of schema s3vl, here and nowhere else: the files before this
-- one create their functions without SECURITY DEFINER and without a search_path (but for the generated
-- s3vl._contract()). Every install and upgrade passes here, because CREATE OR REPLACE resets both.
-- Never a definer without the pinned path, even between the install's statements: a function that
-- CREATE OR REPLACE leaves behind runs as its caller (it has no rights of its own that a caller's
-- search_path could borrow), and one ALTER sets SECURITY DEFINER and the path together. The install is one
-- transaction, so other sessions see only its end; a schema file run alone outside install.sql leaves
-- its entry points running as their caller, which lacks the rights they need: they fail, closed, until
-- this file runs.
DO $rights$
DECLARE
    -- The entry points that run with the installing role's rights, by name (no s3vl function is
    -- overloaded). Internal s3vl._* functions run as their caller, which is one of these. On purpose not
    -- here: version() reads nothing, and query_synced reads the caller's table with the caller's rights
    -- and row security (85_sync.sql), as do the s3vl._sync_* helpers it calls.
    v_definers constant text[] := ARRAY[
        -- configuration, errors, registry and diagnostics
        'configure', 'get_config', 'error_codes', 'validate_config', 'validate_config_checks',
        'register_index', 'unregister_index', 'activate_index', 'deactivate_index', 'resolve_index_arn',
        'list_indexes', 'get_index_info', 'describe_indexes',
        -- queries, reads and writes
        'query_vectors', 'query_vectors_batch', 'register_index_group', 'unregister_index_group',
        'list_index_groups', 'set_query_cache', 'cache_stats', 'get_vectors', 'list_vectors',
        'list_all_vectors', 'rank_vectors', 'search', 'search_text', 'set_index_mode', 'configure_text_search',
        'remove_text_search', 'put_vectors', 'delete_vectors',
        -- table sync, with its capture trigger and the event trigger that refuses DROP of a synced table
        'sync_table', 'unsync_table', 'sync_capture', 'sync_refuse_drop', 'flush', 'retry_sync',
        'sync_status', 'sync_failures', 'reconcile', 'sync_definition'];
    v_unknown text;
    v_routine record;
BEGIN
    SELECT pg_catalog.string_agg(d, ', ') INTO v_unknown
      FROM pg_catalog.unnest(v_definers) AS d
     WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p
                        WHERE p.pronamespace = 's3vl'::regnamespace AND p.proname = d);
    IF v_unknown IS NOT NULL THEN
        RAISE EXCEPTION 's3vl: 90_privileges.sql names entry points that do not exist: %', v_unknown
            USING ERRCODE = 'XX000',
                  HINT = 'A defect of the s3vl schema: list only functions that the files before 90_privileges.sql create.';
    END IF;
    FOR v_routine IN
        SELECT p.oid::regprocedure AS routine, p.proname = ANY (v_definers) AS definer
          FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = 's3vl'::regnamespace
    LOOP
        EXECUTE pg_catalog.format('ALTER ROUTINE %s %s SET search_path = pg_catalog, pg_temp', v_routine.routine,
                                  CASE WHEN v_routine.definer THEN 'SECURITY DEFINER' ELSE 'SECURITY INVOKER' END);
    END LOOP;
END
$rights$;

REVOKE ALL ON SCHEMA s3vl FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA s3vl FROM PUBLIC, s3vl_user, s3vl_admin;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA s3vl FROM PUBLIC, s3vl_user, s3vl_admin;

GRANT USAGE ON SCHEMA s3vl TO s3vl_user, s3vl_admin;

-- s3vl_user: read vectors and the registry, run the diagnostics.
GRANT EXECUTE ON FUNCTION
    s3vl.version(),
    s3vl.query_vectors(double precision[], text, text, integer, boolean, jsonb),
    s3vl.query_vectors_batch(text, double precision[], integer, boolean, jsonb),
    s3vl.list_index_groups(),
    s3vl.get_vectors(text[], text, text, boolean, boolean),
    s3vl.list_vectors(text, text, integer, text, boolean, boolean, integer, integer),
    s3vl.list_all_vectors(text, boolean, boolean, integer, integer),
    s3vl.rank_vectors(text, double precision[], text[], integer, boolean),
    s3vl.search(text, double precision[], integer, text[], jsonb, boolean),
    s3vl.search_text(text, jsonb, double precision[], integer, jsonb, boolean),
    s3vl.list_indexes(),
    s3vl.cache_stats(),
    s3vl.get_index_info(text),
    s3vl.describe_indexes(),
    s3vl.resolve_index_arn(text),
    s3vl.get_config(),
    s3vl.validate_config(),
    s3vl.validate_config_checks(),
    s3vl.error_codes()
TO s3vl_user;
-- Table sync (85_sync.sql): status and consistent reads for users; reconcile checks repair itself. The
-- capture triggers need no grant: they run as the installing role. The outbox stays unreadable.
GRANT EXECUTE ON FUNCTION
    s3vl.sync_status(),
    s3vl.reconcile(regclass, boolean),
    s3vl.query_synced(regclass, double precision[], integer, jsonb),
    s3vl.sync_definition(regclass),
    s3vl._sync_rows_sql(s3vl.sync_tables),
    s3vl._sync_version(json, jsonb),
    s3vl._sync_metadata(jsonb),
    s3vl._sync_version_key()
TO s3vl_user;

-- s3vl_admin: everything s3vl_user can do, plus the configuration, the registry and writes.
DO $membership$
BEGIN
    IF NOT pg_catalog.pg_has_role('s3vl_admin', 's3vl_user', 'MEMBER') THEN
        GRANT s3vl_user TO s3vl_admin;
    END IF;
END
$membership$;
GRANT EXECUTE ON FUNCTION
    s3vl.configure(text, text, integer),
    s3vl.register_index(text, text, text),
    s3vl.register_index_group(text, text[]),
    s3vl.unregister_index_group(text),
    s3vl.unregister_index(text),
    s3vl.activate_index(text),
    s3vl.deactivate_index(text),
    s3vl.put_vectors(text, text[], double precision[], jsonb[], boolean),
    s3vl.delete_vectors(text, text[], boolean),
    s3vl.set_query_cache(text, interval, integer),
    s3vl.set_index_mode(text, text),
    s3vl.configure_text_search(text, text, text),
    s3vl.remove_text_search(text, text)
TO s3vl_admin;
GRANT EXECUTE ON FUNCTION
    s3vl.sync_table(regclass, text, name, name, text[], boolean),
    s3vl.unsync_table(regclass, boolean),
    s3vl.flush(integer),
    s3vl.retry_sync(regclass),
    s3vl.sync_failures(regclass)
TO s3vl_admin;
