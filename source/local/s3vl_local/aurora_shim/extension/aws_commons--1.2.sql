-- aws_commons for the s3vl local stack: the Lambda function ARN type and its constructor, as on Aurora.
\echo Use "CREATE EXTENSION aws_commons" to load this file. \quit

CREATE TYPE aws_commons._lambda_function_arn_1 AS (function_name text, region text);

CREATE FUNCTION aws_commons.create_lambda_function_arn(function_name text, region text DEFAULT NULL)
RETURNS aws_commons._lambda_function_arn_1
LANGUAGE sql IMMUTABLE
AS $$ SELECT ROW($1, $2)::aws_commons._lambda_function_arn_1 $$;

-- aws_commons is usable by everyone: it only builds a value.
GRANT USAGE ON SCHEMA aws_commons TO PUBLIC;
GRANT EXECUTE ON FUNCTION aws_commons.create_lambda_function_arn(text, text) TO PUBLIC;
