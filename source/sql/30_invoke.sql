-- Invocation: the one place that calls aws_lambda.invoke.
--
-- Every call is bounded by config.timeout_seconds: s3vl._invoke_request sets aws_lambda.request_timeout_ms
-- for the duration of the call. Its SET clause scopes that setting to the function (the value in the
-- clause is a placeholder; set_config overrides it), so the caller's own setting is untouched.
-- The call uses the composite ARN overload with an explicit json payload, which is unambiguous on
-- Aurora (json and jsonb overloads, text overload whose third argument is the region).
--
-- s3vl._invoke takes the request's fields as jsonb; s3vl._invoke_request takes the whole request as
-- json, for callers that build a large request (a query vector) with json_build_object: converting 768
-- numbers to jsonb and back costs more than the rest of the SQL side of a query, and a json value built
-- that way reaches aws_lambda.invoke without being parsed again.

CREATE OR REPLACE FUNCTION s3vl._invoke(
    p_operation text,
    p_fields jsonb,
    p_invocation_type text DEFAULT 'RequestResponse')
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    v_request jsonb;
BEGIN
    v_request := pg_catalog.jsonb_build_object('operation', p_operation, 'contract_version', s3vl._contract_version()) || p_fields;
    IF p_invocation_type = 'Event' THEN
        -- Asynchronous: a failure must raise inside the function so that it reaches the dead-letter queue.
        v_request := v_request || '{"raise_on_error": true}'::jsonb;
    END IF;
    RETURN s3vl._invoke_request(p_operation, v_request::json, p_invocation_type);
END
$$;

-- A call over p_items items whose answer may exceed Lambda's payload limit (54000): NULL then, so that the
-- caller halves its items and calls again; with one item the error stands.
CREATE OR REPLACE FUNCTION s3vl._invoke_or_halve(p_operation text, p_fields jsonb, p_items integer)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
BEGIN
    RETURN s3vl._invoke(p_operation, p_fields);
EXCEPTION WHEN SQLSTATE '54000' THEN
    IF p_items = 1 THEN
        RAISE;
    END IF;
    RETURN NULL;
END
$$;

-- A json request with one more field whose value is already JSON text: the object's closing brace moves
-- after it, so a large value (a query vector) is written once and never converted to jsonb.
CREATE OR REPLACE FUNCTION s3vl._request_with(p_request json, p_field text, p_value text)
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT (pg_catalog.left(p_request::text, -1)
            || pg_catalog.format(', %s : %s}', pg_catalog.to_json(p_field), p_value))::json
$$;

-- p_request: the whole request document (operation, contract_version and the fields).
CREATE OR REPLACE FUNCTION s3vl._invoke_request(
    p_operation text,
    p_request json,
    p_invocation_type text DEFAULT 'RequestResponse')
RETURNS jsonb
LANGUAGE plpgsql
SET aws_lambda.request_timeout_ms = '3000'
AS $$
DECLARE
    v_arn text;
    v_region text;
    v_timeout integer;
    v_limit bigint;
    v_status integer;
    v_payload json;
    v_envelope jsonb;
    v_sqlstate text;
    v_message text;
    v_detail text;
BEGIN
    SELECT c.lambda_arn, c.aws_region, c.timeout_seconds INTO v_arn, v_region, v_timeout
      FROM s3vl.config c WHERE c.singleton;
    IF v_arn IS NULL THEN
        RAISE EXCEPTION 's3vl.%: s3vl is not configured: no Lambda function is stored', p_operation
            USING ERRCODE = '55000',
                  HINT = 'As a member of s3vl_admin run SELECT s3vl.configure(''<LambdaFunctionArn>'', ''<region>'');';
    END IF;

    v_limit := CASE WHEN p_invocation_type = 'Event' THEN 1048576 ELSE 6291456 END;
    IF pg_catalog.octet_length(p_request::text) > v_limit THEN
        RAISE EXCEPTION 's3vl.%: the request is % bytes, over the % byte Lambda payload limit for % invocations',
                p_operation, pg_catalog.octet_length(p_request::text), v_limit, p_invocation_type
            USING ERRCODE = '54000', HINT = 'Pass fewer or smaller items per call.';
    END IF;

    PERFORM pg_catalog.set_config('aws_lambda.request_timeout_ms', (v_timeout * 1000)::text, true);
    BEGIN
        SELECT r.status_code, r.payload INTO v_status, v_payload
          FROM aws_lambda.invoke(aws_commons.create_lambda_function_arn(v_arn, v_region),
                                 p_request, p_invocation_type) AS r;
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        GET STACKED DIAGNOSTICS v_sqlstate = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
        -- A cancel (statement_timeout, pg_cancel_backend) stays a cancel; an invoke timeout that the
        -- extension reports as 57014 is an invocation failure like the others.
        IF v_sqlstate = '57014' AND v_message NOT LIKE 'invoke API failed%' THEN
            RAISE;
        END IF;
        PERFORM s3vl._raise_invoke_error(p_operation, v_arn, v_timeout, v_sqlstate, v_message, v_detail);
    END;

    IF p_invocation_type = 'Event' THEN
        IF v_status IS DISTINCT FROM 202 THEN
            PERFORM s3vl._raise_invalid_response(p_operation,
                pg_catalog.format('status %s for an Event invocation (expected 202)', v_status));
        END IF;
        RETURN NULL;
    END IF;

    IF v_status IS DISTINCT FROM 200 THEN
        PERFORM s3vl._raise_invalid_response(p_operation, pg_catalog.format('status %s (expected 200)', v_status));
    END IF;
    v_envelope := v_payload::jsonb;
    IF v_envelope IS NULL OR pg_catalog.jsonb_typeof(v_envelope) <> 'object' THEN
        PERFORM s3vl._raise_invalid_response(p_operation, 'the payload is not a JSON object');
    END IF;
    IF v_envelope ? 'errorMessage' AND NOT v_envelope ? 'ok' THEN
        -- A function error delivered as a payload rather than raised by aws_lambda.invoke.
        PERFORM s3vl._raise_invoke_error(p_operation, v_arn, v_timeout, 'SV006', 'lambda invocation failed',
                                         v_envelope::text);
    END IF;
    IF pg_catalog.jsonb_typeof(v_envelope -> 'ok') IS DISTINCT FROM 'boolean' THEN
        PERFORM s3vl._raise_invalid_response(p_operation, 'no boolean "ok" field in ' || pg_catalog.left(v_envelope::text, 200));
    END IF;
    IF (v_envelope ->> 'contract_version') IS DISTINCT FROM s3vl._contract_version()::text THEN
        PERFORM s3vl._raise_invalid_response(p_operation,
            pg_catalog.format('contract_version %s (this schema speaks %s)', coalesce(v_envelope ->> 'contract_version', 'missing'),
                              s3vl._contract_version()));
    END IF;
    IF NOT (v_envelope ->> 'ok')::boolean THEN
        PERFORM s3vl._raise_envelope_error(p_operation, v_envelope);
    END IF;
    IF pg_catalog.jsonb_typeof(v_envelope -> 'result') IS DISTINCT FROM 'object' THEN
        PERFORM s3vl._raise_invalid_response(p_operation, 'no "result" object');
    END IF;
    RETURN v_envelope -> 'result';
END
$$;
