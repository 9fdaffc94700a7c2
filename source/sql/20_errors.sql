-- Errors: every failure of a remote call becomes one specific SQLSTATE, with the cause in MESSAGE,
-- the codes (contract error code, AWS error code, request ids) in DETAIL and the fix in HINT.
--
-- Custom SQLSTATE class SV (remote failures):
--   SV001 S3 Vectors rejected the request (an AWS error not listed below)
--   SV002 the registered index does not exist in S3 Vectors
--   SV003 access denied (Lambda execution role, or the cluster's permission to invoke the function)
--   SV004 throttled or temporarily unavailable: retry with backoff
--   SV005 timeout (the invocation, the function, or S3 Vectors)
--   SV006 the Lambda function failed (unhandled error, crash)
--   SV007 the Lambda function could not be invoked (unreachable, not found)
--   SV008 the function does not speak this schema's payload contract (version or shape mismatch)
-- Standard SQLSTATEs: 22023 invalid argument, 42704 unknown index, 55000 not configured,
-- 54000 result or request over Lambda's payload limits.

-- BEGIN GENERATED from source/lambda/src/s3vl_lambda/contract.json by generate_contract.py; do not edit by hand.

-- The payload contract version this schema speaks: sent with every request, expected in every answer.
CREATE OR REPLACE FUNCTION s3vl._contract_version()
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 1 $$;

-- A limit of the contract by name (contract.json "limits"), checked in SQL before paying for an invocation.
CREATE OR REPLACE FUNCTION s3vl._contract_limit(p_name text)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN CASE p_name
        WHEN 'dimension_max' THEN 4096
        WHEN 'dimension_min' THEN 1
        WHEN 'filter_max_depth' THEN 32
        WHEN 'key_length_max' THEN 1024
        WHEN 'lambda_response_bytes' THEN 6291456
        WHEN 'list_max_results_default' THEN 500
        WHEN 'list_max_results_max' THEN 1000
        WHEN 'metadata_filterable_bytes' THEN 2048
        WHEN 'metadata_max_keys' THEN 50
        WHEN 'metadata_total_bytes' THEN 40960
        WHEN 'put_request_bytes' THEN 20971520
        WHEN 'segment_count_max' THEN 16
        WHEN 'top_k_default' THEN 10
        WHEN 'top_k_max' THEN 10000
        WHEN 'top_k_min' THEN 1
        ELSE s3vl._unknown_contract_limit(p_name) END;
END
$$;

CREATE OR REPLACE FUNCTION s3vl._unknown_contract_limit(p_name text)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 's3vl: the payload contract has no limit named %', pg_catalog.quote_literal(p_name)
        USING ERRCODE = 'XX000',
              HINT = 'A defect of the s3vl schema: regenerate it with source/lambda/generate_contract.py.';
END
$$;

-- One row per error code: the payload contract's codes and the invocation failures s3vl detects.
CREATE OR REPLACE FUNCTION s3vl.error_codes()
RETURNS TABLE (error_code text, sqlstate text, retryable boolean, source text, hint text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM (VALUES
        ('INVALID_REQUEST', 'SV008', false, 'handler',
         'Deploy the Lambda package that matches this s3vl schema (payload contract version 1).'),
        ('UNSUPPORTED_CONTRACT_VERSION', 'SV008', false, 'handler',
         'Deploy the Lambda package that matches this s3vl schema (payload contract version 1).'),
        ('UNKNOWN_OPERATION', 'SV008', false, 'handler',
         'Deploy the Lambda package that matches this s3vl schema (payload contract version 1).'),
        ('UNKNOWN_FIELD', 'SV008', false, 'handler',
         'Deploy the Lambda package that matches this s3vl schema (payload contract version 1).'),
        ('MISSING_FIELD', '22023', false, 'handler',
         'Pass the missing argument.'),
        ('INVALID_FIELD_TYPE', '22023', false, 'handler',
         'Pass the argument with the documented type.'),
        ('INVALID_INDEX_ARN', '22023', false, 'handler',
         'Register the index with its ARN, arn:<partition>:s3vectors:<region>:<account>:bucket/<bucket>/index/<index>.'),
        ('INVALID_TOP_K', '22023', false, 'handler',
         'Pass top_k between 1 and 10000.'),
        ('INVALID_DIMENSION', '22023', false, 'handler',
         'Pass vectors with 1 to 4096 elements.'),
        ('INVALID_VECTOR_VALUE', '22023', false, 'handler',
         'Pass vectors of numbers only.'),
        ('NON_FINITE_VALUE', '22023', false, 'handler',
         'Remove NaN and Infinity from the vector.'),
        ('INVALID_KEY', '22023', false, 'handler',
         'Use vector ids of 1 to 1024 characters.'),
        ('EMPTY_KEYS', '22023', false, 'handler',
         'Pass at least one vector id.'),
        ('INVALID_MAX_RESULTS', '22023', false, 'handler',
         'Pass max_results between 1 and 1000.'),
        ('INVALID_SEGMENT', '22023', false, 'handler',
         'Pass segment_count (1..16) and segment_index (0..segment_count-1) together, or neither.'),
        ('INVALID_NEXT_TOKEN', '22023', false, 'handler',
         'Pass the next_token returned by the previous list_vectors page, or NULL for the first page.'),
        ('FILTER_NOT_OBJECT', '22023', false, 'handler',
         'Pass metadata_filter as a non-empty JSON object, e.g. ''{"category": "test"}''::jsonb.'),
        ('FILTER_UNKNOWN_OPERATOR', '22023', false, 'handler',
         'Use only $eq $ne $gt $gte $lt $lte $in $nin $exists $startsWith $and $or in metadata_filter.'),
        ('FILTER_INVALID_OPERAND', '22023', false, 'handler',
         'Fix the operand named in the message.'),
        ('FILTER_EMPTY_LOGICAL', '22023', false, 'handler',
         'Give $and / $or a non-empty array of filters.'),
        ('FILTER_TOO_DEEP', '22023', false, 'handler',
         'Nest metadata_filter at most 32 filters deep through $and / $or: flatten nested $and, use $in for an $or of $eq.'),
        ('INVALID_METADATA', '22023', false, 'handler',
         'Pass metadata as a JSON object whose values are strings, numbers, booleans or non-empty lists.'),
        ('METADATA_TOO_LARGE', '22023', false, 'handler',
         'Keep metadata under 40 KB per vector, of which at most 2 KB filterable.'),
        ('METADATA_TOO_MANY_KEYS', '22023', false, 'handler',
         'Keep metadata to at most 50 keys per vector.'),
        ('VALIDATION_FAILED', '22023', false, 'handler',
         'S3 Vectors rejected an argument (for example a filter on a non-filterable key, an unknown filter operator or a zero vector on a cosine index): correct it as the message says.'),
        ('RESPONSE_TOO_LARGE', '54000', false, 'handler',
         'Reduce top_k, the number of ids per call, max_results, or do not return vector data or metadata.'),
        ('INDEX_NOT_FOUND', 'SV002', false, 'handler',
         'The registered index ARN does not exist in S3 Vectors: check it with aws s3vectors get-index --index-arn <arn>, then call s3vl.register_index again with the right ARN.'),
        ('ACCESS_DENIED', 'SV003', false, 'handler',
         'Grant the Lambda execution role the s3vectors actions on this index (see the CloudFormation template); querying with a filter or metadata also needs s3vectors:GetVectors.'),
        ('CONFLICT', 'SV001', false, 'handler',
         'Resolve the conflict named in DETAIL, then retry.'),
        ('QUOTA_EXCEEDED', 'SV001', false, 'handler',
         'Request a quota increase or remove unused resources.'),
        ('KMS_ERROR', 'SV001', false, 'handler',
         'Check the KMS key of the vector bucket and the Lambda role''s permission to use it.'),
        ('AWS_ERROR', 'SV001', false, 'handler',
         'Look up the AWS error code in DETAIL in the S3 Vectors documentation.'),
        ('THROTTLED', 'SV004', true, 'handler',
         'Retry later with backoff, or lower the request rate.'),
        ('SERVICE_UNAVAILABLE', 'SV004', true, 'handler',
         'Retry later with backoff.'),
        ('ENDPOINT_UNREACHABLE', 'SV004', true, 'handler',
         'Retry later; check that the Lambda function can reach the S3 Vectors endpoint (network, VPC endpoint or NAT).'),
        ('AWS_TIMEOUT', 'SV005', true, 'handler',
         'Retry later; if it persists reduce top_k or the batch size.'),
        ('DEADLINE_EXCEEDED', 'SV005', true, 'handler',
         'Raise the Lambda function timeout (LambdaTimeout) and s3vl.configure(..., timeout_seconds => ...), or reduce the work per call.'),
        ('LAMBDA_FUNCTION_ERROR', 'SV006', false, 'invoke',
         'Read the function''s CloudWatch log for the error in DETAIL; redeploy the package if it is a defect.'),
        ('LAMBDA_FUNCTION_TIMEOUT', 'SV005', true, 'invoke',
         'The function ran past its own timeout: raise LambdaTimeout, or reduce top_k or the batch size.'),
        ('INVOKE_TIMEOUT', 'SV005', true, 'invoke',
         'The invocation exceeded s3vl''s timeout: raise it with s3vl.configure(..., timeout_seconds => N), or reduce the work per call.'),
        ('LAMBDA_ACCESS_DENIED', 'SV003', false, 'invoke',
         'Attach an IAM role allowed to lambda:InvokeFunction on this function to the cluster (aws rds add-role-to-db-cluster --feature-name Lambda).'),
        ('LAMBDA_THROTTLED', 'SV004', true, 'invoke',
         'Retry later; raise the function''s reserved concurrency if it persists.'),
        ('LAMBDA_NOT_FOUND', 'SV007', false, 'invoke',
         'Check the function ARN stored with s3vl.configure() (see s3vl.get_config()).'),
        ('LAMBDA_UNREACHABLE', 'SV007', true, 'invoke',
         'Check the network path from the database to the Lambda endpoint (outbound 443, NAT or VPC endpoint) and the function ARN in s3vl.get_config().'),
        ('INVALID_RESPONSE', 'SV008', false, 'invoke',
         'Deploy the Lambda package that matches this s3vl schema (payload contract version 1).')
    ) AS t(error_code, sqlstate, retryable, source, hint)
$$;
-- END GENERATED
COMMENT ON FUNCTION s3vl.error_codes() IS
    'Every error code s3vl can report, with its SQLSTATE, whether a retry can help, and the fix.';

-- Raise the error an ok:false envelope reports.
CREATE OR REPLACE FUNCTION s3vl._raise_envelope_error(p_operation text, p_envelope jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_error jsonb := coalesce(p_envelope -> 'error', '{}'::jsonb);
    v_code text := coalesce(v_error ->> 'code', 'AWS_ERROR');
    v_sqlstate text;
    v_hint text;
BEGIN
    SELECT e.sqlstate, e.hint INTO v_sqlstate, v_hint FROM s3vl.error_codes() e WHERE e.error_code = v_code;
    IF v_sqlstate IS NULL THEN
        v_sqlstate := 'SV001';
        v_hint := 'Look up the error code in DETAIL; the Lambda package may be newer than this schema.';
    END IF;
    RAISE EXCEPTION 's3vl.%: %', p_operation, coalesce(v_error ->> 'message', 'the Lambda function reported an error')
        USING ERRCODE = v_sqlstate,
              DETAIL = pg_catalog.format(
                  'error code %s; AWS error code %s; HTTP status %s; retryable %s; AWS request id %s; '
                  'Lambda request id %s',
                  v_code, coalesce(v_error ->> 'aws_error_code', 'none'), coalesce(v_error ->> 'http_status', 'none'),
                  coalesce(v_error ->> 'retryable', 'false'), coalesce(v_error ->> 'aws_request_id', 'none'),
                  coalesce(p_envelope ->> 'request_id', 'none')),
              HINT = v_hint;
END
$$;

-- Raise the error for a failed aws_lambda.invoke call. Aurora reports a function error as
-- "lambda invocation failed" with the function's error in DETAIL, and a transport failure as
-- "invoke API failed" with the client error in DETAIL; the local shim reports the same way.
CREATE OR REPLACE FUNCTION s3vl._raise_invoke_error(
    p_operation text, p_function_arn text, p_timeout_seconds integer,
    p_sqlstate text, p_message text, p_detail text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_text text := pg_catalog.lower(coalesce(p_message, '') || ' ' || coalesce(p_detail, ''));
    v_code text;
    v_sqlstate text;
    v_hint text;
BEGIN
    IF v_text LIKE '%lambda invocation failed%' THEN
        v_code := CASE WHEN v_text ~ 'task timed out|timed out after' THEN 'LAMBDA_FUNCTION_TIMEOUT'
                       ELSE 'LAMBDA_FUNCTION_ERROR' END;
    ELSIF v_text ~ 'connect timeout|could not connect|connection refused' THEN
        v_code := 'LAMBDA_UNREACHABLE';
    ELSIF v_text ~ 'timeout|timed out' THEN
        v_code := 'INVOKE_TIMEOUT';
    ELSIF v_text ~ 'accessdenied|access denied|not authorized|forbidden|status code: 403|status 403' THEN
        v_code := 'LAMBDA_ACCESS_DENIED';
    ELSIF v_text ~ 'toomanyrequests|throttl|rate exceeded|status code: 429|status 429' THEN
        v_code := 'LAMBDA_THROTTLED';
    ELSIF v_text ~ 'resourcenotfound|function not found|status code: 404|status 404' THEN
        v_code := 'LAMBDA_NOT_FOUND';
    ELSE
        v_code := 'LAMBDA_UNREACHABLE';
    END IF;
    SELECT e.sqlstate, e.hint INTO v_sqlstate, v_hint FROM s3vl.error_codes() e WHERE e.error_code = v_code;
    RAISE EXCEPTION 's3vl.%: %: %', p_operation,
            CASE v_code
                WHEN 'LAMBDA_FUNCTION_ERROR' THEN 'the Lambda function failed'
                WHEN 'LAMBDA_FUNCTION_TIMEOUT' THEN 'the Lambda function timed out'
                WHEN 'INVOKE_TIMEOUT' THEN pg_catalog.format('no answer within the %s s invocation timeout', p_timeout_seconds)
                WHEN 'LAMBDA_ACCESS_DENIED' THEN 'not allowed to invoke the Lambda function'
                WHEN 'LAMBDA_THROTTLED' THEN 'the Lambda invocation was throttled'
                WHEN 'LAMBDA_NOT_FOUND' THEN 'the Lambda function does not exist'
                ELSE 'the Lambda service could not be reached' END,
            p_message
        USING ERRCODE = v_sqlstate,
              DETAIL = pg_catalog.format('error code %s; function %s; timeout %s s; SQLSTATE from aws_lambda %s; %s',
                                         v_code, p_function_arn, p_timeout_seconds, p_sqlstate,
                                         coalesce(p_detail, 'no detail')),
              HINT = v_hint;
END
$$;

-- Raise SV008 for a response that does not follow the payload contract.
CREATE OR REPLACE FUNCTION s3vl._raise_invalid_response(p_operation text, p_what text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 's3vl.%: the Lambda function returned an unexpected response: %', p_operation, p_what
        USING ERRCODE = 'SV008',
              HINT = (SELECT e.hint FROM s3vl.error_codes() e WHERE e.error_code = 'INVALID_RESPONSE');
END
$$;
