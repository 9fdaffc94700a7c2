-- Index registry: friendly names for S3 Vectors index ARNs, with the dimension and distance metric
-- the service reports, so that arguments are checked before any invocation.

CREATE TABLE IF NOT EXISTS s3vl.index_registry (
    index_name      text        PRIMARY KEY,
    index_arn       text        NOT NULL,
    description     text,
    dimension       integer     NOT NULL CHECK (dimension BETWEEN 1 AND 4096),
    distance_metric text        NOT NULL,
    data_type       text        NOT NULL,
    bucket_name     text        NOT NULL,
    region          text        NOT NULL,
    account_id      text        NOT NULL,
    registered_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_by      text        NOT NULL DEFAULT SESSION_USER
);
COMMENT ON TABLE s3vl.index_registry IS
    'Registered S3 Vectors indexes; written only by s3vl.register_index() and s3vl.unregister_index().';

CREATE OR REPLACE FUNCTION s3vl._index_name_pattern()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' $$;

-- An S3 Vectors index ARN in any partition.
CREATE OR REPLACE FUNCTION s3vl._index_arn_pattern()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT '^arn:aws(-[a-z]+)*:s3vectors:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:'
           'bucket/[a-z0-9][a-z0-9-]{1,61}[a-z0-9]/index/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$'
$$;

-- The registry row for a name, or 22023 / 42704.
CREATE OR REPLACE FUNCTION s3vl._index(p_index_name text)
RETURNS s3vl.index_registry
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
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

CREATE OR REPLACE FUNCTION s3vl.register_index(
    index_name text,
    index_arn text,
    description text DEFAULT NULL)
RETURNS s3vl.index_registry
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_info jsonb;
    v_row s3vl.index_registry;
BEGIN
    IF register_index.index_name IS NULL OR register_index.index_name !~ s3vl._index_name_pattern() THEN
        RAISE EXCEPTION 'invalid index name %', coalesce(pg_catalog.quote_literal(register_index.index_name), 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'Use 1 to 128 characters: letters, digits, ".", "_" and "-", starting with a letter or digit.';
    END IF;
    IF register_index.index_arn IS NULL OR register_index.index_arn !~ s3vl._index_arn_pattern() THEN
        RAISE EXCEPTION 'invalid S3 Vectors index ARN %', coalesce(pg_catalog.quote_literal(register_index.index_arn), 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'Pass arn:<partition>:s3vectors:<region>:<account>:bucket/<bucket>/index/<index>, '
                         'e.g. the S3VectorIndexArn output of the CloudFormation stack.';
    END IF;

    v_info := s3vl._invoke('get_index', pg_catalog.jsonb_build_object('index_arn', register_index.index_arn));
    IF pg_catalog.jsonb_typeof(v_info -> 'dimension') IS DISTINCT FROM 'number'
       OR pg_catalog.jsonb_typeof(v_info -> 'distance_metric') IS DISTINCT FROM 'string' THEN
        PERFORM s3vl._raise_invalid_response('register_index', 'get_index returned no dimension or distance_metric');
    END IF;

    INSERT INTO s3vl.index_registry AS r
        (index_name, index_arn, description, dimension, distance_metric, data_type, bucket_name, region,
         account_id, registered_at, updated_at, updated_by)
    VALUES (register_index.index_name, register_index.index_arn, register_index.description,
            (v_info ->> 'dimension')::integer, v_info ->> 'distance_metric', coalesce(v_info ->> 'data_type', 'float32'),
            pg_catalog.split_part(pg_catalog.split_part(register_index.index_arn, ':', 6), '/', 2),
            pg_catalog.split_part(register_index.index_arn, ':', 4),
            pg_catalog.split_part(register_index.index_arn, ':', 5),
            pg_catalog.now(), pg_catalog.now(), SESSION_USER)
    ON CONFLICT ON CONSTRAINT index_registry_pkey DO UPDATE
       SET index_arn = EXCLUDED.index_arn,
           description = EXCLUDED.description,
           dimension = EXCLUDED.dimension,
           distance_metric = EXCLUDED.distance_metric,
           data_type = EXCLUDED.data_type,
           bucket_name = EXCLUDED.bucket_name,
           region = EXCLUDED.region,
           account_id = EXCLUDED.account_id,
           updated_at = EXCLUDED.updated_at,
           updated_by = EXCLUDED.updated_by
    RETURNING * INTO v_row;
    RETURN v_row;
END
$$;
COMMENT ON FUNCTION s3vl.register_index(text, text, text) IS
    'Map a name to an S3 Vectors index ARN; reads dimension and metric from the index. Re-registering updates.';

CREATE OR REPLACE FUNCTION s3vl.unregister_index(index_name text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM s3vl._index(unregister_index.index_name);
    DELETE FROM s3vl.index_registry r WHERE r.index_name = unregister_index.index_name;
END
$$;
COMMENT ON FUNCTION s3vl.unregister_index(text) IS
    'Forget a registered index (the S3 Vectors index itself is not touched).';

CREATE OR REPLACE FUNCTION s3vl.list_indexes()
RETURNS SETOF s3vl.index_registry
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM s3vl.index_registry r ORDER BY r.index_name $$;
COMMENT ON FUNCTION s3vl.list_indexes() IS 'The registered indexes, by name.';
