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
    s3vl.query_vectors(text, double precision[], integer, boolean, jsonb),
    s3vl.get_vectors(text, text[], boolean, boolean),
    s3vl.list_vectors(text, integer, text, boolean, boolean, integer, integer),
    s3vl.list_all_vectors(text, boolean, boolean, integer, integer),
    s3vl.list_indexes(),
    s3vl.get_config(),
    s3vl.validate_config(),
    s3vl.error_codes()
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
    s3vl.unregister_index(text),
    s3vl.put_vectors(text, text[], double precision[], jsonb[], boolean),
    s3vl.delete_vectors(text, text[], boolean)
TO s3vl_admin;
