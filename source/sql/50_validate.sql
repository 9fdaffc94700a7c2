-- Validation: the first diagnostic.
--   validate_config_checks(): s3vl's own, one row per check (ok / fail / warn / skipped) with a detail and
--                             its latency; a failing check is a row, never an exception.
--   validate_config():        the original sample's one-row summary of the same checks.
-- Either records its outcome for get_config().last_validation_status, and the dimension and metric of
-- registered indexes that have none yet (rows upgraded from the original sample), unless the transaction
-- is read-only (an Aurora reader): then it only reports.

CREATE OR REPLACE FUNCTION s3vl._elapsed_ms(p_started timestamptz)
RETURNS double precision
LANGUAGE sql VOLATILE
AS $$ SELECT pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - p_started) * 1000 $$;

CREATE OR REPLACE FUNCTION s3vl.validate_config_checks()
RETURNS TABLE (check_name text, status text, detail text, latency_ms double precision)
LANGUAGE plpgsql
AS $$
DECLARE
    v_config s3vl.config;
    v_arn_region text;
    v_started timestamptz;
    v_health jsonb;
    v_index jsonb;
    v_reg record;
    v_error text;
    v_state text;
    v_detail text;
    v_hint text;
    v_first_failure text;
    v_writable boolean := NOT pg_catalog.current_setting('transaction_read_only')::boolean;
BEGIN
    SELECT * INTO v_config FROM s3vl.config c WHERE c.singleton;
    IF v_config.lambda_arn IS NULL THEN
        RETURN QUERY VALUES
            ('configuration'::text, 'fail'::text,
             'no Lambda function is configured: run SELECT s3vl.configure(''<LambdaFunctionArn>'', ''<region>'');'::text,
             NULL::double precision),
            ('lambda_invoke', 'skipped', 'needs a configuration', NULL),
            ('handler_version', 'skipped', 'needs a configuration', NULL);
        RETURN;
    END IF;

    -- aws_lambda sends the invocation to the configured Region: a function ARN of another Region is not
    -- found there. Only a configuration carried over from the original sample can differ (configure()
    -- refuses the mismatch).
    v_arn_region := pg_catalog.split_part(v_config.lambda_arn, ':', 4);
    IF v_config.aws_region IS DISTINCT FROM v_arn_region THEN
        v_detail := pg_catalog.format(
            'the configured Region %s differs from the Region %s of the function ARN %s: '
            'run SELECT s3vl.configure(%L); to take the ARN''s Region',
            v_config.aws_region, v_arn_region, v_config.lambda_arn, v_config.lambda_arn);
        v_first_failure := 'configuration: ' || v_detail;
        RETURN QUERY SELECT 'configuration'::text, 'fail'::text, v_detail, NULL::double precision;
    ELSE
        RETURN QUERY SELECT 'configuration'::text, 'ok'::text,
            pg_catalog.format('function %s in %s, invocation timeout %s s, set by %s', v_config.lambda_arn,
                              v_config.aws_region, v_config.timeout_seconds, v_config.updated_by),
            NULL::double precision;
    END IF;

    v_started := pg_catalog.clock_timestamp();
    BEGIN
        v_health := s3vl._invoke('health', '{}'::jsonb);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_error = MESSAGE_TEXT, v_state = RETURNED_SQLSTATE,
                                v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
    END;
    IF v_health IS NULL THEN
        -- The DETAIL carries the clue (e.g. Runtime.ImportModuleError before the code is deployed).
        v_detail := pg_catalog.format('SQLSTATE %s: %s%s%s', v_state, v_error,
                                      coalesce(' DETAIL: ' || nullif(v_detail, ''), ''),
                                      coalesce(' HINT: ' || nullif(v_hint, ''), ''));
        v_first_failure := coalesce(v_first_failure, 'lambda_invoke: ' || v_detail);
        RETURN QUERY SELECT 'lambda_invoke'::text, 'fail'::text, v_detail, s3vl._elapsed_ms(v_started);
        RETURN QUERY SELECT 'handler_version'::text, 'skipped'::text, 'needs a working invocation'::text,
            NULL::double precision;
        RETURN QUERY SELECT 'index:' || r.index_name, 'skipped'::text,
            CASE WHEN r.is_active THEN 'needs a working invocation' ELSE 'inactive' END, NULL::double precision
          FROM s3vl.index_registry r ORDER BY r.index_name;
    ELSE
        RETURN QUERY SELECT 'lambda_invoke'::text, 'ok'::text,
            pg_catalog.format('function %s answered from region %s', coalesce(v_health ->> 'function_name', v_config.lambda_arn),
                              coalesce(v_health ->> 'region', 'unknown')),
            s3vl._elapsed_ms(v_started);
        IF (v_health ->> 'contract_version') IS DISTINCT FROM s3vl._contract_version()::text THEN
            v_first_failure := coalesce(v_first_failure, pg_catalog.format(
                'handler_version: the function speaks payload contract %s, this schema speaks %s: deploy the matching package',
                coalesce(v_health ->> 'contract_version', 'unknown'), s3vl._contract_version()));
        END IF;
        RETURN QUERY SELECT 'handler_version'::text,
            CASE WHEN (v_health ->> 'contract_version') = s3vl._contract_version()::text THEN 'ok' ELSE 'fail' END,
            pg_catalog.format('handler %s, payload contract %s (this schema speaks %s), boto3 %s, python %s',
                              coalesce(v_health ->> 'handler_version', 'unknown'),
                              coalesce(v_health ->> 'contract_version', 'unknown'), s3vl._contract_version(),
                              coalesce(v_health ->> 'boto3_version', 'unknown'),
                              coalesce(v_health ->> 'python_version', 'unknown')),
            NULL::double precision;

        FOR v_reg IN SELECT * FROM s3vl.index_registry r ORDER BY r.index_name LOOP
            IF NOT v_reg.is_active THEN
                RETURN QUERY SELECT 'index:' || v_reg.index_name, 'skipped'::text,
                    pg_catalog.format('inactive (s3vl.activate_index(%L) to use it)', v_reg.index_name),
                    NULL::double precision;
                CONTINUE;
            END IF;
            v_started := pg_catalog.clock_timestamp();
            v_index := NULL;
            BEGIN
                v_index := s3vl._invoke('health', pg_catalog.jsonb_build_object('index_arn', v_reg.index_arn)) -> 'index';
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS v_error = MESSAGE_TEXT, v_state = RETURNED_SQLSTATE, v_detail = PG_EXCEPTION_DETAIL;
            END;
            IF v_index IS NULL OR NOT coalesce((v_index ->> 'reachable')::boolean, false) THEN
                v_detail := CASE WHEN v_index IS NULL
                                 THEN pg_catalog.format('SQLSTATE %s: %s%s', v_state, v_error,
                                                        coalesce(' DETAIL: ' || nullif(v_detail, ''), ''))
                                 ELSE pg_catalog.format('%s unreachable: %s', v_reg.index_arn,
                                                        coalesce(v_index ->> 'error', 'no detail')) END;
                v_first_failure := coalesce(v_first_failure, 'index:' || v_reg.index_name || ': ' || v_detail);
                RETURN QUERY SELECT 'index:' || v_reg.index_name, 'fail'::text, v_detail, s3vl._elapsed_ms(v_started);
            ELSIF v_reg.dimension IS NULL THEN
                -- First sight of an index registered without them: record what the service reports.
                IF v_writable THEN
                    UPDATE s3vl.index_registry r
                       SET dimension = (v_index ->> 'dimension')::integer, distance_metric = v_index ->> 'distance_metric',
                           data_type = coalesce(r.data_type, 'float32')
                     WHERE r.index_name = v_reg.index_name;
                END IF;
                RETURN QUERY SELECT 'index:' || v_reg.index_name, 'ok'::text,
                    pg_catalog.format('%s reachable, %s-dimensional %s%s', v_reg.index_arn, v_index ->> 'dimension',
                                      v_index ->> 'distance_metric',
                                      CASE WHEN v_writable THEN ' (now recorded in the registry)'
                                           ELSE ' (not recorded: read-only transaction)' END),
                    s3vl._elapsed_ms(v_started);
            ELSIF (v_index ->> 'dimension')::integer IS DISTINCT FROM v_reg.dimension
                  OR (v_index ->> 'distance_metric') IS DISTINCT FROM v_reg.distance_metric THEN
                RETURN QUERY SELECT 'index:' || v_reg.index_name, 'warn'::text,
                    pg_catalog.format('%s is now %s-dimensional %s but registered as %s-dimensional %s: '
                                      'run s3vl.register_index again', v_reg.index_arn, v_index ->> 'dimension',
                                      v_index ->> 'distance_metric', v_reg.dimension, v_reg.distance_metric),
                    s3vl._elapsed_ms(v_started);
            ELSIF EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(
                              CASE WHEN pg_catalog.jsonb_typeof(v_index -> 'text_search') = 'array'
                                   THEN v_index -> 'text_search' ELSE '[]'::jsonb END) k
                           WHERE k ->> 'status' = 'BUILDING') THEN
                -- A text key still backfilling refuses search_text on it (77_text.sql).
                RETURN QUERY SELECT 'index:' || v_reg.index_name, 'warn'::text,
                    pg_catalog.format('%s reachable, but full-text search on metadata key(s) %s is still BUILDING and '
                                      'not serving queries: wait, then run s3vl.validate_config() again',
                                      v_reg.index_arn,
                                      (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(k ->> 'metadata_key'), ', ')
                                         FROM pg_catalog.jsonb_array_elements(v_index -> 'text_search') k
                                        WHERE k ->> 'status' = 'BUILDING')),
                    s3vl._elapsed_ms(v_started);
            ELSE
                RETURN QUERY SELECT 'index:' || v_reg.index_name, 'ok'::text,
                    pg_catalog.format('%s reachable, %s-dimensional %s', v_reg.index_arn, v_reg.dimension,
                                      v_reg.distance_metric),
                    s3vl._elapsed_ms(v_started);
            END IF;
        END LOOP;
    END IF;

    IF v_writable THEN
        UPDATE s3vl.config c
           SET last_validation_status = coalesce('ERROR: ' || v_first_failure, 'HEALTHY'),
               validated_at = pg_catalog.now()
         WHERE c.singleton;
    END IF;
END
$$;
COMMENT ON FUNCTION s3vl.validate_config_checks() IS
    'Check the configuration, a test invocation, the handler''s contract version and each active registered index: one row per check.';

-- The original sample's shape: one row. is_valid is false when any check fails; error_message is the
-- first failure (check name and detail); response_time_ms is the test invocation's round trip.
CREATE OR REPLACE FUNCTION s3vl.validate_config()
RETURNS TABLE (is_valid boolean, lambda_arn text, aws_region text, error_message text, response_time_ms integer)
LANGUAGE plpgsql
AS $$
DECLARE
    v_checks record;
    v_valid boolean := true;
    v_message text;
    v_latency integer;
BEGIN
    FOR v_checks IN SELECT * FROM s3vl.validate_config_checks() LOOP
        IF v_checks.status = 'fail' THEN
            v_valid := false;
            v_message := coalesce(v_message, v_checks.check_name || ': ' || v_checks.detail);
        END IF;
        IF v_checks.status = 'warn' THEN
            -- Not a failure (is_valid stays true), but nothing the caller should miss.
            RAISE WARNING '%: %', v_checks.check_name, v_checks.detail
                USING HINT = 'SELECT * FROM s3vl.validate_config_checks() lists every check.';
        END IF;
        IF v_checks.check_name = 'lambda_invoke' THEN
            v_latency := pg_catalog.round(v_checks.latency_ms)::integer;
        END IF;
    END LOOP;
    RETURN QUERY SELECT v_valid, c.lambda_arn, c.aws_region, v_message, v_latency
                   FROM (SELECT 1) AS one LEFT JOIN s3vl.config c ON c.singleton;
END
$$;
COMMENT ON FUNCTION s3vl.validate_config() IS
    'One row: whether the configuration works (a test invocation, the handler''s contract, every active index) and why not.';
