-- s3vl: remove everything install.sql created.
--
--   psql -f source/sql/uninstall.sql    or    \i uninstall.sql   (from source/sql)
--
-- Drops the schema with all its tables and functions, then the group roles s3vl_user and s3vl_admin
-- unless they still hold privileges or members elsewhere (another database where s3vl is installed,
-- or grants made outside s3vl), in which case a NOTICE says why they were kept.
-- The aws_lambda extension is left in place: other applications may use it.

\set s3vl_saved_on_error_stop :ON_ERROR_STOP
\set ON_ERROR_STOP on

BEGIN;

-- The cascade lists every dropped object as a NOTICE: keep the output to what matters.
SET LOCAL client_min_messages = warning;
DROP SCHEMA IF EXISTS s3vl CASCADE;
SET LOCAL client_min_messages = notice;

DO $roles$
DECLARE
    v_role text;
    v_message text;
BEGIN
    FOREACH v_role IN ARRAY ARRAY['s3vl_admin', 's3vl_user'] LOOP
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = v_role);
        BEGIN
            EXECUTE pg_catalog.format('DROP ROLE %I', v_role);
        EXCEPTION WHEN dependent_objects_still_exist THEN
            GET STACKED DIAGNOSTICS v_message = PG_EXCEPTION_DETAIL;
            RAISE NOTICE 'role % kept because it is still referenced: %', v_role, v_message
                USING HINT = 'Uninstall s3vl from the other databases too, or REVOKE those privileges, then DROP ROLE.';
        END;
    END LOOP;
END
$roles$;

COMMIT;

\set ON_ERROR_STOP :s3vl_saved_on_error_stop
\unset s3vl_saved_on_error_stop
