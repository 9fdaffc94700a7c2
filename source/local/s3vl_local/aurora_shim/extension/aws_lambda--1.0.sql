-- aws_lambda for the s3vl local stack: Aurora PostgreSQL's functions, signatures, defaults, OUT
-- parameters, errors and grants, so that the s3vl schema runs unchanged. The invocation goes over HTTP
-- to the local Lambda service (the Lambda Invoke API) at the URL in the setting aws_lambda.endpoint_url,
-- which only a superuser chooses (see aws_lambda_local.invoke).
\echo Use "CREATE EXTENSION aws_lambda CASCADE" to load this file. \quit

-- The HTTP client lives apart so that \df aws_lambda.* lists exactly Aurora's functions.
CREATE SCHEMA aws_lambda_local;

-- The one function that talks HTTP. Aurora's settings come with every call (invoke() passes
-- current_setting(), cheaper than a query from PL/Python) so that SET in a session applies at once;
-- missing settings fall back to Aurora's defaults. Each session keeps its connection
-- to the service alive between calls (a new TCP connection and service thread per call cost more than
-- the rest of the shim); connect_timeout_ms applies when a connection is made. A failure comes back as
-- error_sqlstate/error_message/error_detail/error_hint for invoke() to raise: an error raised inside
-- PL/Python would carry a "plpy.Error: " prefix that Aurora's messages do not have.
CREATE FUNCTION aws_lambda_local.invoke_api(
    function_name text, region text, request_payload text, invocation_type text, log_type text,
    context text, qualifier text, endpoint_url text, connect_timeout_ms text, request_timeout_ms text,
    OUT status_code int, OUT payload text, OUT executed_version text, OUT log_result text,
    OUT error_sqlstate text, OUT error_message text, OUT error_detail text, OUT error_hint text)
LANGUAGE plpython3u VOLATILE
AS $py$
# The definitions run once per session (kept in SD), not on every call: a class and a dozen functions
# cost more to create than the call itself.
if "invoke" not in SD:
    import base64
    import json
    import select
    import socket
    import time
    import urllib.parse

    LOCAL_ACCOUNT = "000000000000"  # = s3vl_local.local_aws.ACCOUNT (tests/local checks)
    LOCAL_REGION = "us-west-2"
    TIMEOUT_RANGE_MS = (1, 900000)

    class Failure(Exception):
        def __init__(self, sqlstate, message, detail, hint):
            super().__init__(message)
            self.row = (None, None, None, None, sqlstate, message, detail, hint)

    API_FAILURE_HINTS = {
        "08001": "Check that the local Lambda service runs (s3vl-local status) and aws_lambda.endpoint_url points at it.",
        "08006": "Check the local Lambda service's log; the connection broke before a response arrived.",
        "57014": "Raise aws_lambda.request_timeout_ms (SET aws_lambda.request_timeout_ms = ...) or make the call faster.",
        "39000": "Check the function name, qualifier and invocation type; retry later when throttled.",
    }

    def api_failed(sqlstate, detail):
        return Failure(sqlstate, "invoke API failed", f"AWS Lambda client returned '{detail}'", API_FAILURE_HINTS[sqlstate])

    def timeout_ms(raw, name, default):
        """The setting aws_lambda.<name> in milliseconds (its text `raw`), or `default` when unset."""
        if raw in (None, ""):
            return default
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or not TIMEOUT_RANGE_MS[0] <= value <= TIMEOUT_RANGE_MS[1]:
            raise Failure(
                "22023",
                f"invalid value for parameter \"aws_lambda.{name}\": \"{raw}\"",
                f"aws_lambda.{name} is the timeout in milliseconds for calls to AWS Lambda.",
                f"Use an integer number of milliseconds between {TIMEOUT_RANGE_MS[0]} and {TIMEOUT_RANGE_MS[1]}.",
            )
        return value

    def readable(sock):
        poller = select.poll()  # not select.select: a backend's descriptors can exceed FD_SETSIZE
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))

    class Connection:
        """One HTTP/1.1 connection to the service. The exchange is written out here rather than left to
        http.client, whose header handling (the email package) cost more than the rest of the shim."""

        def __init__(self, sock):
            self.sock = sock
            self.reader = sock.makefile("rb")

        def close(self):
            self.reader.close()
            self.sock.close()

    def connection(endpoint, url, connect_timeout):
        """The session's kept-alive connection to `endpoint`, or a new one.

        An idle connection the service closed (it stopped or restarted) reads as EOF: it is replaced
        before anything is sent, so a request is never sent twice."""
        kept = SD.pop("connection", None)
        if kept is not None:
            kept_endpoint, conn = kept
            if kept_endpoint == endpoint and not readable(conn.sock):
                return conn
            conn.close()
        try:
            sock = socket.create_connection((url.hostname, url.port or 80), timeout=connect_timeout / 1000)
        except TimeoutError:
            raise api_failed(
                "08001",
                f"Connect timeout on endpoint URL: \"{endpoint}\" after {connect_timeout} ms"
                " (aws_lambda.connect_timeout_ms)",
            ) from None
        except OSError as exc:
            raise api_failed("08001", f"Could not connect to the endpoint URL: \"{endpoint}\": {exc}") from None
        # Without it a request's body waits for the ACK of its headers (Nagle + delayed ACK, up to 40 ms).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return Connection(sock)

    def header(name, value):
        if "\r" in value or "\n" in value:
            raise ValueError(f"Invalid header value {value.encode()!r}")
        return f"{name}: {value}\r\n"

    def exchange(conn, request, deadline):
        """Send `request`; return the status, the headers (lower-case names), the body and whether the
        connection can carry another request. Every socket wait gets only what is left until `deadline`."""
        conn.sock.settimeout(max(deadline - time.monotonic(), 0.001))
        conn.sock.sendall(request)
        status_line = conn.reader.readline(65537)
        if not status_line:
            raise ConnectionResetError("Remote end closed connection without response")
        version, _, rest = status_line.decode("iso-8859-1").partition(" ")
        if not version.startswith("HTTP/") or not rest[:3].isdigit():
            raise ConnectionError(f"malformed HTTP status line {status_line[:100]!r}")
        headers = {}
        while True:
            line = conn.reader.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("iso-8859-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        conn.sock.settimeout(max(deadline - time.monotonic(), 0.001))
        length = headers.get("content-length")
        if length is None:  # the body ends with the connection
            return int(rest[:3]), headers, conn.reader.read(), False
        body = conn.reader.read(int(length))
        if len(body) != int(length):
            raise ConnectionResetError(f"connection closed after {len(body)} of {length} response bytes")
        keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        return int(rest[:3]), headers, body, keep_alive

    def post(endpoint, url, path, body, headers, connect_timeout, request_timeout):
        started = time.monotonic()
        request = (f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                   + "".join(header(name, value) for name, value in headers.items())
                   + f"Content-Length: {len(body)}\r\n\r\n").encode("iso-8859-1") + body
        conn = connection(endpoint, url, connect_timeout)
        # request_timeout_ms bounds the whole request, connecting included.
        deadline = started + request_timeout / 1000
        try:
            status, response_headers, response_body, keep_alive = exchange(conn, request, deadline)
        except TimeoutError:
            conn.close()
            raise api_failed(
                "57014",
                f"Read timeout on endpoint URL: \"{endpoint}\" after {request_timeout} ms"
                " (aws_lambda.request_timeout_ms)",
            ) from None
        except OSError as exc:
            conn.close()
            raise api_failed("08006", f"Connection to the endpoint URL \"{endpoint}\" failed: {exc}") from None
        except BaseException:
            conn.close()  # never keep a connection with a request or response half done
            raise
        if keep_alive:
            SD["connection"] = (endpoint, conn)
        else:
            conn.close()
        return status, response_headers, response_body

    def invoke(function_name, region, request_payload, invocation_type, log_type, context, qualifier,
               endpoint_url, connect_timeout_ms, request_timeout_ms):
        connect_timeout = timeout_ms(connect_timeout_ms, "connect_timeout_ms", 1000)
        request_timeout = timeout_ms(request_timeout_ms, "request_timeout_ms", 3000)
        if not endpoint_url:
            raise Failure(
                "55000",
                "invoke API failed",
                "aws_lambda.endpoint_url is not set, so the local Lambda service cannot be reached.",
                "Start the local stack with `s3vl-local up` (or `make up`), which installs the shim and sets it.",
            )
        if not function_name:
            raise Failure("22004", "invoke API failed", "function_name must not be NULL or empty.",
                          "Pass a function name or ARN, e.g. aws_commons.create_lambda_function_arn('my-function').")

        # The ARN Aurora names in its error messages.
        if function_name.startswith("arn:"):
            arn = function_name
        elif ":function:" in function_name:
            arn = f"arn:aws:lambda:{region or LOCAL_REGION}:{function_name}"
        else:
            arn = f"arn:aws:lambda:{region or LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{function_name}"

        url = urllib.parse.urlsplit(endpoint_url)
        path = "/2015-03-31/functions/" + urllib.parse.quote(function_name, safe="") + "/invocations"
        if qualifier is not None:
            path += "?" + urllib.parse.urlencode({"Qualifier": qualifier})
        headers = {"Content-Type": "application/json", "X-Amz-Invocation-Type": str(invocation_type)}
        if log_type is not None:
            headers["X-Amz-Log-Type"] = log_type
        if context is not None:
            headers["X-Amz-Client-Context"] = base64.b64encode(context.encode()).decode()
        body = (request_payload if request_payload is not None else "null").encode()
        status, response_headers, response_body = post(
            endpoint_url, url, path, body, headers, connect_timeout, request_timeout)

        text = response_body.decode("utf-8", errors="replace")
        if status >= 300:
            try:
                error = json.loads(text)
                message = error.get("Message") or error.get("message") or text
            except (ValueError, AttributeError):
                message = text
            error_type = (response_headers.get("x-amzn-errortype") or "ServiceException").split(":", 1)[0]
            raise api_failed("39000", f"{error_type}: {message} (HTTP {status})")

        function_error = response_headers.get("x-amz-function-error")
        if function_error:
            try:
                error = json.loads(text)
                details = f"{error.get('errorType', 'Error')}: {error.get('errorMessage', '')}"
            except (ValueError, AttributeError):
                details = text
            raise Failure(
                "38000",
                "lambda invocation failed",
                f"\"{arn}\" returned error \"{function_error}\", details: \"{details}\"",
                "The function raised, timed out or crashed: read its log (log_type => 'Tail', or the Lambda service log).",
            )
        return (status, text or None, response_headers.get("x-amz-executed-version"),
                response_headers.get("x-amz-log-result"), None, None, None, None)

    def invoke_or_failure(*args):
        try:
            return invoke(*args)
        except Failure as failure:
            return failure.row

    SD["invoke"] = invoke_or_failure

return SD["invoke"](function_name, region, request_payload, invocation_type, log_type, context, qualifier,
                    endpoint_url, connect_timeout_ms, request_timeout_ms)
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
