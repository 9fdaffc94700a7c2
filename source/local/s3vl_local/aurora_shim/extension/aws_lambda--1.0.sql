-- aws_lambda for the s3vl local stack: Aurora PostgreSQL's functions, signatures, defaults, OUT
-- parameters, errors and grants, so that the s3vl schema runs unchanged. The invocation goes over HTTP
-- to the local Lambda service (the Lambda Invoke API) at the URL in the setting aws_lambda.endpoint_url,
-- which only a superuser chooses (see aws_lambda_local.invoke).
\echo Use "CREATE EXTENSION aws_lambda CASCADE" to load this file. \quit

-- The HTTP client lives apart so that \df aws_lambda.* lists exactly Aurora's functions.
CREATE SCHEMA aws_lambda_local;

-- The one function that talks HTTP, through the Python module aws_lambda_client.py that the installer
-- writes beside this script (and names here). It is loaded once per session and kept in SD with its
-- connection to the service. Aurora's settings come with every call (invoke() passes
-- current_setting(), cheaper than a query from PL/Python) so that SET in a session applies at once. A
-- failure comes back as error_sqlstate/error_message/error_detail/error_hint for invoke() to raise.
CREATE FUNCTION aws_lambda_local.invoke_api(
    function_name text, region text, request_payload text, invocation_type text, log_type text,
    context text, qualifier text, endpoint_url text, connect_timeout_ms text, request_timeout_ms text,
    OUT status_code int, OUT payload text, OUT executed_version text, OUT log_result text,
    OUT error_sqlstate text, OUT error_message text, OUT error_detail text, OUT error_hint text)
LANGUAGE plpython3u VOLATILE
AS $py$
if "client" not in SD:
    import importlib.util
    spec = importlib.util.spec_from_file_location("aws_lambda_client", "@MODULE_DIR@/aws_lambda_client.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    SD["client"] = module.InvokeClient()
return SD["client"].invoke(function_name, region, request_payload, invocation_type, log_type, context,
                           qualifier, endpoint_url, connect_timeout_ms, request_timeout_ms)
$py$;

-- The endpoint URL that the server configuration gives this session: ALTER DATABASE/ROLE ... SET (which
-- only a superuser can write for this setting) in PostgreSQL's order of precedence, else the
-- configuration files (postgresql.conf, ALTER SYSTEM). Reading pg_file_settings parses those files
-- (0.3 ms), so the answer is kept until this session re-reads them (pg_conf_load_time() changes).
CREATE FUNCTION aws_lambda_local.configured_endpoint_url(conf_loaded timestamptz, login_role name)
RETURNS text
LANGUAGE plpython3u VOLATILE
AS $py$
key = (conf_loaded, login_role)
cached = SD.get("configured")
if cached is not None and cached[0] == key:
    return cached[1]
if "plan" not in SD:
    SD["plan"] = plpy.prepare("""
        SELECT coalesce(
            (SELECT pg_catalog.substr(c, pg_catalog.strpos(c, '=') + 1)
               FROM pg_catalog.pg_db_role_setting s, pg_catalog.unnest(s.setconfig) AS c
              WHERE pg_catalog.lower(pg_catalog.split_part(c, '=', 1)) = 'aws_lambda.endpoint_url'
                AND s.setdatabase IN (0, (SELECT d.oid FROM pg_catalog.pg_database d
                                           WHERE d.datname = pg_catalog.current_database()))
                AND s.setrole IN (0, (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = $1))
              ORDER BY s.setrole <> 0 DESC, s.setdatabase <> 0 DESC
              LIMIT 1),
            (SELECT f.setting FROM pg_catalog.pg_file_settings f
              WHERE pg_catalog.lower(f.name) = 'aws_lambda.endpoint_url' AND f.applied
              ORDER BY f.seqno DESC
              LIMIT 1)) AS value""", ["name"])
value = plpy.execute(SD["plan"], [login_role])[0]["value"]
SD["configured"] = (key, value)
return value
$py$;

-- Raises what invoke_api reports, with Aurora's plain messages ("lambda invocation failed", "invoke API
-- failed"); SQLSTATEs are documented in docs/local-stack.md.
-- aws_lambda.endpoint_url is a custom setting, which any session can SET (or pass in its connection
-- options): a session whose role is not a superuser may only use the value the server configuration
-- gives it, so it can neither send invocations nor take answers from another host or port.
CREATE FUNCTION aws_lambda_local.invoke(
    function_name text, region text, request_payload text, invocation_type text, log_type text,
    context text, qualifier text,
    OUT status_code int, OUT response_payload text, OUT executed_version text, OUT log_result text)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    r record;
    v_endpoint text := pg_catalog.current_setting('aws_lambda.endpoint_url', true);
    v_configured text;
BEGIN
    -- is_superuser is the session's role, unchanged inside SECURITY DEFINER functions, and no one can SET it.
    IF v_endpoint <> '' AND pg_catalog.current_setting('is_superuser') <> 'on' THEN
        v_configured := aws_lambda_local.configured_endpoint_url(pg_catalog.pg_conf_load_time(), session_user);
        IF v_endpoint IS DISTINCT FROM v_configured THEN
            RAISE EXCEPTION USING ERRCODE = '42501',
                MESSAGE = 'permission denied to set parameter "aws_lambda.endpoint_url"',
                DETAIL = pg_catalog.format('This session uses %L, but the server configuration sets %L: only '
                    'a superuser chooses where invocations go (postgresql.conf, ALTER SYSTEM, or ALTER '
                    'DATABASE/ROLE ... SET).', v_endpoint, v_configured),
                HINT = 'RESET aws_lambda.endpoint_url (and remove it from the connection options); to '
                    'change it, a superuser runs ALTER SYSTEM SET aws_lambda.endpoint_url = ''<url>'' and '
                    'SELECT pg_reload_conf(), as s3vl-local up does.';
        END IF;
    END IF;
    SELECT * INTO r FROM aws_lambda_local.invoke_api(function_name, region, request_payload, invocation_type,
        log_type, context, qualifier, v_endpoint,
        pg_catalog.current_setting('aws_lambda.connect_timeout_ms', true),
        pg_catalog.current_setting('aws_lambda.request_timeout_ms', true));
    IF r.error_sqlstate IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = r.error_sqlstate, MESSAGE = r.error_message,
            DETAIL = r.error_detail, HINT = r.error_hint;
    END IF;
    status_code := r.status_code;
    response_payload := r.payload;
    executed_version := r.executed_version;
    log_result := r.log_result;
END
$$;

-- Aurora's four overloads. SECURITY DEFINER so that EXECUTE on aws_lambda.invoke is the only grant a
-- caller needs (as on Aurora); the HTTP client itself stays private. Every name in these bodies and in
-- the functions they call is schema-qualified, so no search_path a caller sets can redirect them; the
-- search_path is not pinned with SET because that replans every call (+0.5 ms, benchmarks/bench_shim.py).
CREATE FUNCTION aws_lambda.invoke(
    IN function_name aws_commons._lambda_function_arn_1, IN payload json,
    IN invocation_type text DEFAULT 'RequestResponse', IN log_type text DEFAULT 'None',
    IN context json DEFAULT NULL, IN qualifier varchar(128) DEFAULT NULL,
    OUT status_code int, OUT payload json, OUT executed_version text, OUT log_result text)
LANGUAGE sql VOLATILE SECURITY DEFINER
AS $$
    SELECT r.status_code, r.response_payload::pg_catalog.json, r.executed_version, r.log_result
    FROM aws_lambda_local.invoke(($1).function_name, ($1).region, $2::pg_catalog.text, $3, $4, $5::pg_catalog.text, $6) AS r
$$;

CREATE FUNCTION aws_lambda.invoke(
    IN function_name aws_commons._lambda_function_arn_1, IN payload jsonb,
    IN invocation_type text DEFAULT 'RequestResponse', IN log_type text DEFAULT 'None',
    IN context jsonb DEFAULT NULL, IN qualifier varchar(128) DEFAULT NULL,
    OUT status_code int, OUT payload jsonb, OUT executed_version text, OUT log_result text)
LANGUAGE sql VOLATILE SECURITY DEFINER
AS $$
    SELECT r.status_code, r.response_payload::pg_catalog.jsonb, r.executed_version, r.log_result
    FROM aws_lambda_local.invoke(($1).function_name, ($1).region, $2::pg_catalog.text, $3, $4, $5::pg_catalog.text, $6) AS r
$$;

CREATE FUNCTION aws_lambda.invoke(
    IN function_name text, IN payload json, IN region text DEFAULT NULL,
    IN invocation_type text DEFAULT 'RequestResponse', IN log_type text DEFAULT 'None',
    IN context json DEFAULT NULL, IN qualifier varchar(128) DEFAULT NULL,
    OUT status_code int, OUT payload json, OUT executed_version text, OUT log_result text)
LANGUAGE sql VOLATILE SECURITY DEFINER
AS $$
    SELECT r.status_code, r.response_payload::pg_catalog.json, r.executed_version, r.log_result
    FROM aws_lambda_local.invoke($1, $3, $2::pg_catalog.text, $4, $5, $6::pg_catalog.text, $7) AS r
$$;

CREATE FUNCTION aws_lambda.invoke(
    IN function_name text, IN payload jsonb, IN region text DEFAULT NULL,
    IN invocation_type text DEFAULT 'RequestResponse', IN log_type text DEFAULT 'None',
    IN context jsonb DEFAULT NULL, IN qualifier varchar(128) DEFAULT NULL,
    OUT status_code int, OUT payload jsonb, OUT executed_version text, OUT log_result text)
LANGUAGE sql VOLATILE SECURITY DEFINER
AS $$
    SELECT r.status_code, r.response_payload::pg_catalog.jsonb, r.executed_version, r.log_result
    FROM aws_lambda_local.invoke($1, $3, $2::pg_catalog.text, $4, $5, $6::pg_catalog.text, $7) AS r
$$;

-- Grants as on Aurora: nothing for PUBLIC on aws_lambda; roles need USAGE on the schema and EXECUTE.
REVOKE ALL ON SCHEMA aws_lambda FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA aws_lambda FROM PUBLIC;
REVOKE ALL ON SCHEMA aws_lambda_local FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA aws_lambda_local FROM PUBLIC;
