-- Configuration: which Lambda function every call goes to, its Region, the invocation timeout, and the
-- outcome of the last validation.
-- One row at most. Only SECURITY DEFINER functions read or write it; no role can write it directly,
-- so a member of s3vl_user cannot redirect invocations.

CREATE TABLE IF NOT EXISTS s3vl.config (
    singleton              boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    lambda_arn             text        NOT NULL,
    aws_region             text        NOT NULL,
    timeout_seconds        integer     NOT NULL CHECK (timeout_seconds BETWEEN 1 AND 900),
    created_at             timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at             timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_by             text        NOT NULL DEFAULT SESSION_USER,
    -- The outcome of the last validate_config() since the configuration last changed (NULL: none yet).
    last_validation_status text,
    validated_at           timestamptz
);
COMMENT ON TABLE s3vl.config IS 'The Lambda function s3vl invokes (one row); written only by s3vl.configure().';

-- A full Lambda function ARN in any partition (aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, ...),
-- optionally with a version or alias qualifier.
CREATE OR REPLACE FUNCTION s3vl._lambda_arn_pattern()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT '^arn:aws(-[a-z]+)*:lambda:([a-z]{2}(-[a-z]+)+-[0-9]+):[0-9]{12}:function:'
           '[A-Za-z0-9_-]{1,64}(:(\$LATEST|[A-Za-z0-9_-]{1,128}))?$'
$$;

CREATE OR REPLACE FUNCTION s3vl._region_pattern()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '^[a-z]{2}(-[a-z]+)+-[0-9]+$' $$;

-- The original sample's signature. aws_region defaults to the ARN's Region (the original defaulted to
-- us-west-2 whatever the ARN said, a configuration that cannot work for a function elsewhere).
CREATE OR REPLACE FUNCTION s3vl.configure(
    lambda_arn text,
    aws_region text DEFAULT NULL,
    timeout_seconds integer DEFAULT 30)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    v_arn_region text;
BEGIN
    IF configure.lambda_arn IS NULL OR configure.lambda_arn !~ s3vl._lambda_arn_pattern() THEN
        RAISE EXCEPTION 'invalid Lambda function ARN %', coalesce(pg_catalog.quote_literal(configure.lambda_arn), 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'Pass the full function ARN, arn:<partition>:lambda:<region>:<account>:function:<name>'
                         '[:<alias or version>], e.g. the LambdaFunctionArn output of the CloudFormation stack.';
    END IF;
    v_arn_region := pg_catalog.split_part(configure.lambda_arn, ':', 4);
    IF configure.aws_region IS NOT NULL AND configure.aws_region !~ s3vl._region_pattern() THEN
        RAISE EXCEPTION 'invalid AWS region %', pg_catalog.quote_literal(configure.aws_region)
            USING ERRCODE = '22023', HINT = 'Pass a region code such as us-west-2, or omit aws_region.';
    END IF;
    IF configure.aws_region IS NOT NULL AND configure.aws_region <> v_arn_region THEN
        RAISE EXCEPTION 'aws_region % does not match the Region % of the function ARN',
                pg_catalog.quote_literal(configure.aws_region), pg_catalog.quote_literal(v_arn_region)
            USING ERRCODE = '22023',
                  HINT = pg_catalog.format('Pass aws_region => %L (the function''s Region), or omit aws_region.', v_arn_region);
    END IF;
    IF configure.timeout_seconds IS NULL OR configure.timeout_seconds NOT BETWEEN 1 AND 900 THEN
        RAISE EXCEPTION 'timeout_seconds must be between 1 and 900, got %', coalesce(configure.timeout_seconds::text, 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'Use a value at least as long as the Lambda function''s own timeout (10 s in the '
                         'CloudFormation template), so that the function''s timeout is reported first.';
    END IF;

    -- A changed configuration has not been validated yet: the last outcome is cleared.
    INSERT INTO s3vl.config AS c (singleton, lambda_arn, aws_region, timeout_seconds, created_at, updated_at, updated_by)
    VALUES (true, configure.lambda_arn, v_arn_region, configure.timeout_seconds, pg_catalog.now(), pg_catalog.now(),
            SESSION_USER)
    ON CONFLICT ON CONSTRAINT config_pkey DO UPDATE
       SET lambda_arn = EXCLUDED.lambda_arn,
           aws_region = EXCLUDED.aws_region,
           timeout_seconds = EXCLUDED.timeout_seconds,
           updated_at = EXCLUDED.updated_at,
           updated_by = EXCLUDED.updated_by,
           last_validation_status = NULL,
           validated_at = NULL;
    RETURN true;
END
$$;
COMMENT ON FUNCTION s3vl.configure(text, text, integer) IS
    'Store the Lambda function ARN every s3vl call invokes and the timeout that bounds each invocation; true when stored.';

-- The original sample's columns. Times are the session's local time (timestamp without time zone).
CREATE OR REPLACE FUNCTION s3vl.get_config()
RETURNS TABLE (lambda_arn text, aws_region text, timeout_seconds integer, created_at timestamp, updated_at timestamp,
               config_age_hours numeric, last_validation_status text)
LANGUAGE sql STABLE
AS $$
    SELECT c.lambda_arn, c.aws_region, c.timeout_seconds, c.created_at::timestamp, c.updated_at::timestamp,
           pg_catalog.round(pg_catalog.date_part('epoch', pg_catalog.now() - c.updated_at)::numeric / 3600, 2),
           coalesce(c.last_validation_status, 'NOT VALIDATED: run SELECT * FROM s3vl.validate_config();')
      FROM s3vl.config c
$$;
COMMENT ON FUNCTION s3vl.get_config() IS
    'The stored configuration (no row before s3vl.configure()), its age and the outcome of the last validate_config().';
