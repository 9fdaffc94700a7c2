-- Prerequisites: the aws_lambda interface, the schema, and the two group roles.

-- aws_lambda: on Aurora the extension provides it; on the local stack a shim with the same
-- signatures is already installed. Detect the interface first, create the extension only if it is
-- missing, and fail with the cause and the fix otherwise.
DO $prereq$
DECLARE
    v_message text;
BEGIN
    IF EXISTS (
        SELECT 1
          FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'aws_lambda' AND p.proname = 'invoke')
       AND EXISTS (
        SELECT 1
          FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'aws_commons' AND p.proname = 'create_lambda_function_arn')
    THEN
        RETURN;
    END IF;
    BEGIN
        CREATE EXTENSION IF NOT EXISTS aws_lambda CASCADE;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT;
        RAISE EXCEPTION 's3vl needs the aws_lambda extension, which is not available: %', v_message
            USING ERRCODE = '58P01',
                  HINT = 'On Aurora PostgreSQL run the install as a member of rds_superuser so that '
                         'CREATE EXTENSION aws_lambda CASCADE succeeds; on the local stack install the '
                         'aws_lambda shim first (s3vl-local up does it).';
    END;
END
$prereq$;

CREATE SCHEMA IF NOT EXISTS s3vl;
COMMENT ON SCHEMA s3vl IS
    'Query and maintain Amazon S3 Vectors indexes from SQL through a Lambda function (aws_lambda.invoke).';

-- Group roles (cluster-wide, NOLOGIN): grant them to login roles.
--   s3vl_user : query, get and list vectors, list indexes, read the configuration, run the checks.
--   s3vl_admin: everything s3vl_user can do, plus configure, register/unregister indexes, write.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 's3vl_user') THEN
        CREATE ROLE s3vl_user NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 's3vl_admin') THEN
        CREATE ROLE s3vl_admin NOLOGIN;
    END IF;
END
$roles$;
