-- validate_config(): the first diagnostic. Each check reports ok / fail / warn / skipped with a detail
-- and its latency; a failing check is a row, never an exception.

CREATE OR REPLACE FUNCTION s3vl.validate_config()
RETURNS TABLE (check_name text, status text, detail text, latency_ms double precision)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_arn text;
    v_region text;
    v_timeout integer;
    v_started timestamptz;
    v_health jsonb;
    v_index jsonb;
    v_reg record;
    v_error text;
    v_state text;
    v_detail text;
    v_hint text;
BEGIN
    SELECT c.lambda_arn, c.region, c.timeout_seconds INTO v_arn, v_region, v_timeout
      FROM s3vl.config c WHERE c.singleton;
    IF v_arn IS NULL THEN
        RETURN QUERY VALUES
            ('configuration'::text, 'fail'::text,
             'no Lambda function is configured: run SELECT s3vl.configure(''<LambdaFunctionArn>'', ''<region>'');'::text,
             NULL::double precision),
            ('lambda_invoke', 'skipped', 'needs a configuration', NULL),
            ('handler_version', 'skipped', 'needs a configuration', NULL);
        RETURN;
    END IF;
    RETURN QUERY SELECT 'configuration'::text, 'ok'::text,
        pg_catalog.format('function %s in %s, invocation timeout %s s', v_arn, v_region, v_timeout),
        NULL::double precision;

    v_started := pg_catalog.clock_timestamp();
    BEGIN
        v_health := s3vl._invoke('health', '{}'::jsonb);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS v_error = MESSAGE_TEXT, v_state = RETURNED_SQLSTATE,
                                v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
    END;
    IF v_health IS NULL THEN
        -- The DETAIL carries the clue (e.g. Runtime.ImportModuleError before the code is deployed).
        RETURN QUERY SELECT 'lambda_invoke'::text, 'fail'::text,
            pg_catalog.format('SQLSTATE %s: %s%s%s', v_state, v_error, coalesce(' DETAIL: ' || nullif(v_detail, ''), ''),
                              coalesce(' HINT: ' || nullif(v_hint, ''), '')),
            s3vl._elapsed_ms(v_started);
        RETURN QUERY SELECT 'handler_version'::text, 'skipped'::text, 'needs a working invocation'::text,
            NULL::double precision;
        RETURN QUERY SELECT 'index:' || r.index_name, 'skipped'::text, 'needs a working invocation'::text,
            NULL::double precision
          FROM s3vl.index_registry r ORDER BY r.index_name;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'lambda_invoke'::text, 'ok'::text,
        pg_catalog.format('function %s answered from region %s', coalesce(v_health ->> 'function_name', v_arn),
                          coalesce(v_health ->> 'region', 'unknown')),
        s3vl._elapsed_ms(v_started);
    RETURN QUERY SELECT 'handler_version'::text,
        CASE WHEN (v_health ->> 'contract_version') = '1' THEN 'ok' ELSE 'fail' END,
        pg_catalog.format('handler %s, payload contract %s (this schema speaks 1), boto3 %s, python %s',
                          coalesce(v_health ->> 'handler_version', 'unknown'),
                          coalesce(v_health ->> 'contract_version', 'unknown'),
                          coalesce(v_health ->> 'boto3_version', 'unknown'),
                          coalesce(v_health ->> 'python_version', 'unknown')),
        NULL::double precision;

    FOR v_reg IN SELECT * FROM s3vl.index_registry r ORDER BY r.index_name LOOP
        v_started := pg_catalog.clock_timestamp();
        v_index := NULL;
        BEGIN
            v_index := s3vl._invoke('health', pg_catalog.jsonb_build_object('index_arn', v_reg.index_arn)) -> 'index';
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_error = MESSAGE_TEXT, v_state = RETURNED_SQLSTATE, v_detail = PG_EXCEPTION_DETAIL;
        END;
        RETURN QUERY SELECT 'index:' || v_reg.index_name,
            CASE WHEN v_index IS NULL OR NOT coalesce((v_index ->> 'reachable')::boolean, false) THEN 'fail'
                 WHEN (v_index ->> 'dimension')::integer IS DISTINCT FROM v_reg.dimension
                      OR (v_index ->> 'distance_metric') IS DISTINCT FROM v_reg.distance_metric THEN 'warn'
                 ELSE 'ok' END,
            CASE WHEN v_index IS NULL THEN pg_catalog.format('SQLSTATE %s: %s%s', v_state, v_error,
                                                             coalesce(' DETAIL: ' || nullif(v_detail, ''), ''))
                 WHEN NOT coalesce((v_index ->> 'reachable')::boolean, false) THEN
                     pg_catalog.format('%s unreachable: %s', v_reg.index_arn, coalesce(v_index ->> 'error', 'no detail'))
                 WHEN (v_index ->> 'dimension')::integer IS DISTINCT FROM v_reg.dimension
                      OR (v_index ->> 'distance_metric') IS DISTINCT FROM v_reg.distance_metric THEN
                     pg_catalog.format('%s is now %s-dimensional %s but registered as %s-dimensional %s: '
                                       'run s3vl.register_index again', v_reg.index_arn, v_index ->> 'dimension',
                                       v_index ->> 'distance_metric', v_reg.dimension, v_reg.distance_metric)
                 ELSE pg_catalog.format('%s reachable, %s-dimensional %s', v_reg.index_arn, v_reg.dimension,
                                        v_reg.distance_metric) END,
            s3vl._elapsed_ms(v_started);
    END LOOP;
END
$$;
COMMENT ON FUNCTION s3vl.validate_config() IS
    'Check the configuration, a test invocation, the handler''s contract version and each registered index.';

CREATE OR REPLACE FUNCTION s3vl._elapsed_ms(p_started timestamptz)
RETURNS double precision
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - p_started) * 1000 $$;
