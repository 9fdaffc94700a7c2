-- Privileges. Nothing for PUBLIC. The tables are reachable only through the SECURITY DEFINER
-- functions; aws_lambda is used only inside those functions, with the installing role's rights, so
-- neither group role needs (or gets) any privilege on aws_lambda or aws_commons.
-- Re-running the install re-applies all of this (CREATE OR REPLACE keeps old grants, REVOKE resets them).

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
