-- Index registry: friendly names for S3 Vectors index ARNs, with the dimension and distance metric
-- the service reports, so that arguments are checked before any invocation. An inactive index keeps
-- its row but cannot be used by name until activated again.

CREATE TABLE IF NOT EXISTS s3vl.index_registry (
    index_name      text        PRIMARY KEY,
    index_arn       text        NOT NULL,
    description     text,
    -- NULL for an index registered before s3vl read them (the original sample recorded none):
    -- validate_config() or register_index() fills them; until then the service checks the vectors.
    dimension       integer     CHECK (dimension BETWEEN 1 AND 4096),
    distance_metric text,
    data_type       text,
    bucket_name     text        NOT NULL,
    region          text        NOT NULL,
    account_id      text        NOT NULL,
    is_active       boolean     NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_by      text        NOT NULL DEFAULT SESSION_USER
);
-- CLASSIC or ENHANCED as GetIndex reported it at registration (NULL: not read yet); a CLASSIC index
-- filters after its approximate search, which query_vectors and search (75_rank.sql) take into account.
ALTER TABLE s3vl.index_registry ADD COLUMN IF NOT EXISTS index_mode text;
-- The full-text searchable metadata keys as GetIndex reported them, [{metadata_key, language, status}]
-- (NULL: not read yet); set_index_mode and configure_text_search (77_text.sql) refresh it.
ALTER TABLE s3vl.index_registry ADD COLUMN IF NOT EXISTS text_search jsonb;
COMMENT ON TABLE s3vl.index_registry IS
    'Registered S3 Vectors indexes; written only by s3vl''s registry functions and validate_config().';

CREATE OR REPLACE FUNCTION s3vl._index_name_pattern()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' $$;

-- An S3 Vectors index ARN in any partition.
CREATE OR REPLACE FUNCTION s3vl._index_arn_pattern()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT '^arn:aws(-[a-z]+)*:s3vectors:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:'
           'bucket/[a-z0-9][a-z0-9-]{1,61}[a-z0-9]/index/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$'
$$;

-- The registry row for a name, whatever its state, or 22023 / 42704.
CREATE OR REPLACE FUNCTION s3vl._registered(p_index_name text)
RETURNS s3vl.index_registry
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_row s3vl.index_registry;
BEGIN
    IF p_index_name IS NULL THEN
        RAISE EXCEPTION 'index_name must not be NULL'
            USING ERRCODE = '22023', HINT = 'Pass the name given to s3vl.register_index (see s3vl.list_indexes()).';
    END IF;
    SELECT * INTO v_row FROM s3vl.index_registry r WHERE r.index_name = p_index_name;
    IF v_row.index_name IS NULL THEN
        RAISE EXCEPTION 'unknown index %', pg_catalog.quote_literal(p_index_name)
            USING ERRCODE = '42704',
                  HINT = 'Register it with s3vl.register_index(index_name, index_arn, description); '
                         'SELECT * FROM s3vl.list_indexes() shows the registered names.';
    END IF;
    RETURN v_row;
END
$$;

-- The registry row for a name that may be used: registered and active (55000 when inactive).
CREATE OR REPLACE FUNCTION s3vl._index(p_index_name text)
RETURNS s3vl.index_registry
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_row s3vl.index_registry := s3vl._registered(p_index_name);
BEGIN
    IF NOT v_row.is_active THEN
        RAISE EXCEPTION 'index % is inactive', pg_catalog.quote_literal(p_index_name)
            USING ERRCODE = '55000',
                  HINT = pg_catalog.format('Run SELECT s3vl.activate_index(%L); to use it again.', p_index_name);
    END IF;
    RETURN v_row;
END
$$;

-- What an index ARN alone tells: a registry row with the ARN, its bucket, Region and account, active.
CREATE OR REPLACE FUNCTION s3vl._arn_index(p_arn text)
RETURNS s3vl.index_registry
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    v_row s3vl.index_registry;
BEGIN
    v_row.index_arn := p_arn;
    v_row.bucket_name := pg_catalog.split_part(pg_catalog.split_part(p_arn, ':', 6), '/', 2);
    v_row.region := pg_catalog.split_part(p_arn, ':', 4);
    v_row.account_id := pg_catalog.split_part(p_arn, ':', 5);
    v_row.is_active := true;
    RETURN v_row;
END
$$;

-- What a query, get or list call works on: exactly one of a registered name and an index ARN. A name that
-- is itself an index ARN is taken as the ARN (as resolve_index_arn does). For an ARN, a registry row with
-- that ARN supplies the dimension and metric; otherwise they are unknown and the service checks them.
CREATE OR REPLACE FUNCTION s3vl._target(p_index_name text, p_index_arn text)
RETURNS s3vl.index_registry
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_arn text := p_index_arn;
    v_row s3vl.index_registry;
BEGIN
    IF (p_index_name IS NULL) = (p_index_arn IS NULL) THEN
        RAISE EXCEPTION 'pass exactly one of index_name and index_arn, got %',
                CASE WHEN p_index_name IS NULL THEN 'neither' ELSE 'both' END
            USING ERRCODE = '22023',
                  HINT = 'Pass index_name => ''<registered name>'' (see s3vl.list_indexes()) or '
                         'index_arn => ''arn:aws:s3vectors:...''.';
    END IF;
    IF p_index_name IS NOT NULL THEN
        IF p_index_name !~ s3vl._index_arn_pattern()
           OR EXISTS (SELECT 1 FROM s3vl.index_registry r WHERE r.index_name = p_index_name) THEN
            RETURN s3vl._index(p_index_name);
        END IF;
        v_arn := p_index_name;
    ELSIF v_arn !~ s3vl._index_arn_pattern() THEN
        RAISE EXCEPTION 'invalid S3 Vectors index ARN %', pg_catalog.quote_literal(v_arn)
            USING ERRCODE = '22023',
                  HINT = 'Pass arn:<partition>:s3vectors:<region>:<account>:bucket/<bucket>/index/<index>, '
                         'or index_name => a registered name.';
    END IF;
    SELECT * INTO v_row FROM s3vl.index_registry r WHERE r.index_arn = v_arn
     ORDER BY r.is_active DESC, r.dimension IS NULL, r.index_name LIMIT 1;
    IF v_row.index_name IS NULL THEN
        v_row := s3vl._arn_index(v_arn);
    END IF;
    -- Messages name what the caller passed.
    v_row.index_name := v_arn;
    RETURN v_row;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.resolve_index_arn(index_name_param text)
RETURNS text
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN (s3vl._target(resolve_index_arn.index_name_param, NULL)).index_arn;
END
$$;
COMMENT ON FUNCTION s3vl.resolve_index_arn(text) IS
    'The ARN of an active registered index; an S3 Vectors index ARN is returned as it is. 42704 unknown, 55000 inactive.';

-- The original sample's signature. Reads dimension, metric and data type from the index (so the index
-- must exist and s3vl be configured); registering a name again updates it and makes it active.
CREATE OR REPLACE FUNCTION s3vl.register_index(
    index_name_param text,
    index_arn_param text,
    description_param text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    v_name text := register_index.index_name_param;
    v_arn text := register_index.index_arn_param;
    v_parts s3vl.index_registry;
    v_info jsonb;
BEGIN
    IF v_name IS NULL OR v_name !~ s3vl._index_name_pattern() THEN
        RAISE EXCEPTION 'invalid index name %', coalesce(pg_catalog.quote_literal(v_name), 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'Use 1 to 128 characters: letters, digits, ".", "_" and "-", starting with a letter or digit.';
    END IF;
    IF v_arn IS NULL OR v_arn !~ s3vl._index_arn_pattern() THEN
        RAISE EXCEPTION 'invalid S3 Vectors index ARN %', coalesce(pg_catalog.quote_literal(v_arn), 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'Pass arn:<partition>:s3vectors:<region>:<account>:bucket/<bucket>/index/<index>, '
                         'e.g. the S3VectorIndexArn output of the CloudFormation stack.';
    END IF;
    v_parts := s3vl._arn_index(v_arn);

    v_info := s3vl._invoke('get_index', pg_catalog.jsonb_build_object('index_arn', v_arn));
    IF pg_catalog.jsonb_typeof(v_info -> 'dimension') IS DISTINCT FROM 'number'
       OR pg_catalog.jsonb_typeof(v_info -> 'distance_metric') IS DISTINCT FROM 'string' THEN
        PERFORM s3vl._raise_invalid_response('register_index', 'get_index returned no dimension or distance_metric');
    END IF;

    INSERT INTO s3vl.index_registry AS r
        (index_name, index_arn, description, dimension, distance_metric, data_type, bucket_name, region,
         account_id, is_active, created_at, updated_at, updated_by, index_mode, text_search)
    VALUES (v_name, v_arn, register_index.description_param,
            (v_info ->> 'dimension')::integer, v_info ->> 'distance_metric', coalesce(v_info ->> 'data_type', 'float32'),
            v_parts.bucket_name, v_parts.region, v_parts.account_id, true, pg_catalog.now(), pg_catalog.now(), SESSION_USER, v_info ->> 'index_mode', v_info -> 'text_search')
    ON CONFLICT ON CONSTRAINT index_registry_pkey DO UPDATE
       SET index_arn = EXCLUDED.index_arn,
           description = EXCLUDED.description,
           dimension = EXCLUDED.dimension,
           distance_metric = EXCLUDED.distance_metric,
           data_type = EXCLUDED.data_type,
           bucket_name = EXCLUDED.bucket_name,
           region = EXCLUDED.region,
           account_id = EXCLUDED.account_id,
           is_active = true,
           updated_at = EXCLUDED.updated_at,
           updated_by = EXCLUDED.updated_by,
           index_mode = EXCLUDED.index_mode,
           text_search = EXCLUDED.text_search;
    RETURN true;
END
$$;
COMMENT ON FUNCTION s3vl.register_index(text, text, text) IS
    'Map a name to an S3 Vectors index ARN; reads dimension and metric from the index. Re-registering updates and activates.';

-- Set is_active; true once done (also when it already had that state).
CREATE OR REPLACE FUNCTION s3vl._set_active(p_index_name text, p_active boolean)
RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM s3vl._registered(p_index_name);
    UPDATE s3vl.index_registry r
       SET is_active = p_active, updated_at = pg_catalog.now(), updated_by = SESSION_USER
     WHERE r.index_name = p_index_name AND r.is_active IS DISTINCT FROM p_active;
    RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.activate_index(index_name_param text)
RETURNS boolean
LANGUAGE sql
AS $$ SELECT s3vl._set_active(activate_index.index_name_param, true) $$;
COMMENT ON FUNCTION s3vl.activate_index(text) IS 'Allow a registered index to be used by name again. 42704 when unknown.';

CREATE OR REPLACE FUNCTION s3vl.deactivate_index(index_name_param text)
RETURNS boolean
LANGUAGE sql
AS $$ SELECT s3vl._set_active(deactivate_index.index_name_param, false) $$;
COMMENT ON FUNCTION s3vl.deactivate_index(text) IS
    'Keep a registered index but refuse its use by name (55000) until activate_index. 42704 when unknown.';

CREATE OR REPLACE FUNCTION s3vl.unregister_index(index_name_param text)
RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM s3vl._registered(unregister_index.index_name_param);
    DELETE FROM s3vl.index_registry r WHERE r.index_name = unregister_index.index_name_param;
    RETURN true;
END
$$;
COMMENT ON FUNCTION s3vl.unregister_index(text) IS
    'Forget a registered index, active or not (the S3 Vectors index itself is not touched). 42704 when unknown.';

-- The original sample's columns, active indexes first, then by name. Times are the session's local time.
CREATE OR REPLACE FUNCTION s3vl.list_indexes()
RETURNS TABLE (index_name text, index_arn text, description text, bucket_name text, region text, account_id text,
               created_at timestamp, updated_at timestamp, is_active boolean)
LANGUAGE sql STABLE
AS $$
    SELECT r.index_name, r.index_arn, r.description, r.bucket_name, r.region, r.account_id,
           r.created_at::timestamp, r.updated_at::timestamp, r.is_active
      FROM s3vl.index_registry r
     ORDER BY r.is_active DESC, r.index_name
$$;
COMMENT ON FUNCTION s3vl.list_indexes() IS 'The registered indexes, active first, then by name.';

CREATE OR REPLACE FUNCTION s3vl.get_index_info(index_name_param text)
RETURNS TABLE (index_name text, index_arn text, description text, bucket_name text, region text, account_id text,
               created_at timestamp, updated_at timestamp, is_active boolean)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_row s3vl.index_registry := s3vl._registered(get_index_info.index_name_param);
BEGIN
    RETURN QUERY SELECT v_row.index_name, v_row.index_arn, v_row.description, v_row.bucket_name, v_row.region,
                        v_row.account_id, v_row.created_at::timestamp, v_row.updated_at::timestamp, v_row.is_active;
END
$$;
COMMENT ON FUNCTION s3vl.get_index_info(text) IS
    'One registered index, active or not, with the columns of list_indexes(). 42704 when unknown.';

-- s3vl's own: every column the registry keeps, including what the original did not record. Its columns
-- grew (index_mode, text_search), which CREATE OR REPLACE cannot do: drop the older shape first.
DO $describe$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_proc p
                WHERE p.oid = pg_catalog.to_regprocedure('s3vl.describe_indexes()')
                  AND NOT 'text_search' = ANY (p.proargnames)) THEN
        DROP FUNCTION s3vl.describe_indexes();
    END IF;
END
$describe$;
CREATE OR REPLACE FUNCTION s3vl.describe_indexes()
RETURNS TABLE (index_name text, index_arn text, description text, dimension integer, distance_metric text,
               data_type text, bucket_name text, region text, account_id text, is_active boolean,
               created_at timestamptz, updated_at timestamptz, updated_by text, index_mode text, text_search jsonb)
LANGUAGE sql STABLE
AS $$
    SELECT r.index_name, r.index_arn, r.description, r.dimension, r.distance_metric, r.data_type, r.bucket_name,
           r.region, r.account_id, r.is_active, r.created_at, r.updated_at, r.updated_by, r.index_mode, r.text_search
      FROM s3vl.index_registry r
     ORDER BY r.is_active DESC, r.index_name
$$;
COMMENT ON FUNCTION s3vl.describe_indexes() IS
    'The registered indexes with dimension, distance metric, data type, who changed them last, index mode and '
    'full-text searchable keys (NULL: not read yet).';
