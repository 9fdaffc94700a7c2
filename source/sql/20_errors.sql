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

-- The payload contract as this schema speaks it: s3vl._contract() below, read by the functions after it.
-- BEGIN GENERATED from source/lambda/src/s3vl_lambda/contract.json by generate_contract.py; do not edit by hand.
CREATE OR REPLACE FUNCTION s3vl._contract()
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $function$ SELECT $contract${"contract_version": 1,
 "limits": {"batch_queries_max": 500, "dimension_max": 4096, "dimension_min": 1, "filter_max_depth": 32, "group_members_max": 32, "key_length_max": 1024, "lambda_response_bytes": 6291456, "list_max_results_default": 500, "list_max_results_max": 1000, "metadata_filterable_bytes": 2048, "metadata_max_keys": 50, "metadata_total_bytes": 40960, "put_request_bytes": 20971520, "query_text_length_max": 1024, "query_texts_max": 10, "segment_count_max": 16, "text_key_length_max": 63, "top_k_default": 10, "top_k_max": 10000, "top_k_min": 1},
 "errors": [
    {"code": "INVALID_REQUEST", "sqlstate": "SV008", "retryable": false, "source": "handler", "hint": "Deploy the Lambda package that matches this s3vl schema (payload contract version 1)."},
    {"code": "INVALID_SETTING", "sqlstate": "SV008", "retryable": false, "source": "handler", "hint": "Fix the function's environment variable named in the message (aws lambda update-function-configuration --environment), as docs/deployment.md describes."},
    {"code": "UNSUPPORTED_CONTRACT_VERSION", "sqlstate": "SV008", "retryable": false, "source": "handler", "hint": "Deploy the Lambda package that matches this s3vl schema (payload contract version 1)."},
    {"code": "UNKNOWN_OPERATION", "sqlstate": "SV008", "retryable": false, "source": "handler", "hint": "Deploy the Lambda package that matches this s3vl schema (payload contract version 1)."},
    {"code": "UNKNOWN_FIELD", "sqlstate": "SV008", "retryable": false, "source": "handler", "hint": "Deploy the Lambda package that matches this s3vl schema (payload contract version 1)."},
    {"code": "MISSING_FIELD", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Pass the missing argument."},
    {"code": "INVALID_FIELD_TYPE", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Pass the argument with the documented type."},
    {"code": "INVALID_INDEX_ARN", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Register the index with its ARN, arn:<partition>:s3vectors:<region>:<account>:bucket/<bucket>/index/<index>."},
    {"code": "INVALID_TOP_K", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Pass top_k between 1 and 10000."},
    {"code": "INVALID_DIMENSION", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Pass a vector of the index's dimension."},
    {"code": "INVALID_VECTOR_VALUE", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Pass vectors of numbers only."},
    {"code": "NON_FINITE_VALUE", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Remove NaN and Infinity from the vector."},
    {"code": "INVALID_KEY", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Use vector ids of 1 to 1024 characters."},
    {"code": "EMPTY_KEYS", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Pass at least one vector id."},
    {"code": "INVALID_BATCH", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Call s3vl.query_vectors_batch, which splits the queries over invocations, and register groups of at most 32 distinct indexes."},
    {"code": "INVALID_MAX_RESULTS", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Pass max_results between 1 and 1000."},
    {"code": "INVALID_SEGMENT", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Pass segment_count (1..16) and segment_index (0..segment_count-1) together, or neither."},
    {"code": "INVALID_NEXT_TOKEN", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Pass the next_token returned by the previous list_vectors page, or NULL for the first page."},
    {"code": "FILTER_NOT_OBJECT", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Pass metadata_filter as a non-empty JSON object, e.g. '{\"category\": \"test\"}'::jsonb."},
    {"code": "FILTER_UNKNOWN_OPERATOR", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Use only $eq $ne $gt $gte $lt $lte $in $nin $exists $startsWith $and $or in metadata_filter."},
    {"code": "FILTER_INVALID_OPERAND", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Fix the operand named in the message."},
    {"code": "FILTER_EMPTY_LOGICAL", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Give $and / $or a non-empty array of filters."},
    {"code": "FILTER_TOO_DEEP", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Nest metadata_filter at most 32 filters deep through $and / $or: flatten nested $and, use $in for an $or of $eq."},
    {"code": "INVALID_METADATA", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Pass metadata as a JSON object whose values are strings, numbers, booleans or non-empty lists."},
    {"code": "METADATA_TOO_LARGE", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Keep metadata under 40 KB per vector, of which at most 2 KB filterable."},
    {"code": "METADATA_TOO_MANY_KEYS", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Keep metadata to at most 50 keys per vector."},
    {"code": "INVALID_TEXT_SEARCH", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "Pass query_texts as {\"<metadata key>\": \"<text>\"} with 1 to 10 keys, index modes CLASSIC or ENHANCED, languages en fr es pt it de nl zh ja ko."},
    {"code": "VALIDATION_FAILED", "sqlstate": "22023", "retryable": false, "source": "handler", "hint": "S3 Vectors rejected an argument (for example a filter on a non-filterable key, an unknown filter operator or a zero vector on a cosine index): correct it as the message says."},
    {"code": "RESPONSE_TOO_LARGE", "sqlstate": "54000", "retryable": false, "source": "handler", "hint": "Reduce top_k, the number of ids per call, max_results, or do not return vector data or metadata."},
    {"code": "INDEX_NOT_FOUND", "sqlstate": "SV002", "retryable": false, "source": "handler", "hint": "The registered index ARN does not exist in S3 Vectors: check it with aws s3vectors get-index --index-arn <arn>, then call s3vl.register_index again with the right ARN."},
    {"code": "ACCESS_DENIED", "sqlstate": "SV003", "retryable": false, "source": "handler", "hint": "Grant the Lambda execution role the s3vectors actions on this index (see the CloudFormation template); querying with a filter or metadata also needs s3vectors:GetVectors."},
    {"code": "CONFLICT", "sqlstate": "SV001", "retryable": false, "source": "handler", "hint": "Resolve the conflict named in DETAIL, then retry."},
    {"code": "QUOTA_EXCEEDED", "sqlstate": "SV001", "retryable": false, "source": "handler", "hint": "Request a quota increase or remove unused resources."},
    {"code": "KMS_ERROR", "sqlstate": "SV001", "retryable": false, "source": "handler", "hint": "Check the KMS key of the vector bucket and the Lambda role's permission to use it."},
    {"code": "AWS_ERROR", "sqlstate": "SV001", "retryable": false, "source": "handler", "hint": "Look up the AWS error code in DETAIL in the S3 Vectors documentation."},
    {"code": "THROTTLED", "sqlstate": "SV004", "retryable": true, "source": "handler", "hint": "Retry later with backoff, or lower the request rate."},
    {"code": "SERVICE_UNAVAILABLE", "sqlstate": "SV004", "retryable": true, "source": "handler", "hint": "Retry later with backoff."},
    {"code": "ENDPOINT_UNREACHABLE", "sqlstate": "SV004", "retryable": true, "source": "handler", "hint": "Retry later; check that the Lambda function can reach the S3 Vectors endpoint (network, VPC endpoint or NAT)."},
    {"code": "AWS_TIMEOUT", "sqlstate": "SV005", "retryable": true, "source": "handler", "hint": "Retry later; if it persists reduce top_k or the batch size."},
    {"code": "DEADLINE_EXCEEDED", "sqlstate": "SV005", "retryable": true, "source": "handler", "hint": "Raise the Lambda function timeout (LambdaTimeout) and s3vl.configure(..., timeout_seconds => ...), or reduce the work per call."},
    {"code": "LAMBDA_FUNCTION_ERROR", "sqlstate": "SV006", "retryable": false, "source": "invoke", "hint": "Read the function's CloudWatch log for the error in DETAIL; redeploy the package if it is a defect."},
    {"code": "LAMBDA_FUNCTION_TIMEOUT", "sqlstate": "SV005", "retryable": true, "source": "invoke", "hint": "The function ran past its own timeout: raise LambdaTimeout, or reduce top_k or the batch size."},
    {"code": "INVOKE_TIMEOUT", "sqlstate": "SV005", "retryable": true, "source": "invoke", "hint": "The invocation exceeded s3vl's timeout: raise it with s3vl.configure(..., timeout_seconds => N), or reduce the work per call."},
    {"code": "LAMBDA_ACCESS_DENIED", "sqlstate": "SV003", "retryable": false, "source": "invoke", "hint": "Attach an IAM role allowed to lambda:InvokeFunction on this function to the cluster (aws rds add-role-to-db-cluster --feature-name Lambda)."},
    {"code": "LAMBDA_THROTTLED", "sqlstate": "SV004", "retryable": true, "source": "invoke", "hint": "Retry later; raise the function's reserved concurrency if it persists."},
    {"code": "LAMBDA_NOT_FOUND", "sqlstate": "SV007", "retryable": false, "source": "invoke", "hint": "Check the function ARN stored with s3vl.configure() (see s3vl.get_config())."},
    {"code": "LAMBDA_UNREACHABLE", "sqlstate": "SV007", "retryable": true, "source": "invoke", "hint": "Check the network path from the database to the Lambda endpoint (outbound 443, NAT or VPC endpoint) and the function ARN in s3vl.get_config()."},
    {"code": "INVALID_RESPONSE", "sqlstate": "SV008", "retryable": false, "source": "invoke", "hint": "Deploy the Lambda package that matches this s3vl schema (payload contract version 1)."}
]}$contract$::jsonb $function$;
-- END GENERATED

-- The payload contract version this schema speaks: sent with every request, expected in every answer.
CREATE OR REPLACE FUNCTION s3vl._contract_version()
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (s3vl._contract() ->> 'contract_version')::integer $$;

-- A limit of the contract by name, checked in SQL before paying for an invocation. Immutable: a call
-- with a constant name is folded into the plan.
CREATE OR REPLACE FUNCTION s3vl._contract_limit(p_name text)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    v_value integer := (s3vl._contract() -> 'limits' ->> p_name)::integer;
BEGIN
    IF v_value IS NULL THEN
        RAISE EXCEPTION 's3vl: the payload contract has no limit named %', coalesce(pg_catalog.quote_literal(p_name), 'NULL')
            USING ERRCODE = 'XX000',
                  HINT = 'A defect of the s3vl schema: name a limit of contract.json, then regenerate with generate_contract.py.';
    END IF;
    RETURN v_value;
END
$$;

-- One row per error code: the payload contract's codes and the invocation failures s3vl detects.
-- A definer entry point (90_privileges.sql): s3vl_user may call it, not the internal s3vl._contract() it reads.
CREATE OR REPLACE FUNCTION s3vl.error_codes()
RETURNS TABLE (error_code text, sqlstate text, retryable boolean, source text, hint text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT e ->> 'code', e ->> 'sqlstate', (e ->> 'retryable')::boolean, e ->> 'source', e ->> 'hint'
      FROM pg_catalog.jsonb_array_elements(s3vl._contract() -> 'errors') WITH ORDINALITY AS t(e, n)
     ORDER BY t.n
$$;
COMMENT ON FUNCTION s3vl.error_codes() IS
    'Every error code s3vl can report, with its SQLSTATE, whether a retry can help, and the fix.';

-- Raise the error an ok:false envelope reports.
CREATE OR REPLACE FUNCTION s3vl._raise_envelope_error(p_operation text, p_envelope jsonb)
RETURNS void
LANGUAGE plpgsql
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
AS $$
BEGIN
    RAISE EXCEPTION 's3vl.%: the Lambda function returned an unexpected response: %', p_operation, p_what
        USING ERRCODE = 'SV008',
              HINT = (SELECT e.hint FROM s3vl.error_codes() e WHERE e.error_code = 'INVALID_RESPONSE');
END
$$;
