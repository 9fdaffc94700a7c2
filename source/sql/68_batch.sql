-- Batch queries and index groups.
--
-- s3vl.query_vectors_batch sends many query vectors in one invocation (operation query_vectors_batch);
-- the function fans them out over concurrent QueryVectors calls, so N queries cost about N / 200 s at the
-- per-index query rate instead of N serial invocations. A batch larger than one invocation carries
-- (s3vl._contract_limit('batch_queries_max') queries, 6 MB of request, an estimate of the response) is
-- split over several invocations, one after another; any failure fails the whole call.
--
-- An index group names registered indexes of one dimension and metric (a collection split per tenant, or
-- beyond one index's 2 billion vectors or query rate). query_vectors and query_vectors_batch take a group
-- name where they take an index name: every member is queried in parallel inside the function and the
-- top_k merged (by distance, then the member's position in the group, then key). Writes name a member.

CREATE TABLE IF NOT EXISTS s3vl.index_groups (
    group_name  text        PRIMARY KEY,
    index_names text[]      NOT NULL,  -- the members, in the order that breaks ties between them
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_by  text        NOT NULL DEFAULT SESSION_USER
);

-- True when p_name names an index group and no registered index (an index name wins).
CREATE OR REPLACE FUNCTION s3vl._is_index_group(p_name text)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT EXISTS (SELECT 1 FROM s3vl.index_groups g WHERE g.group_name = p_name)
       AND NOT EXISTS (SELECT 1 FROM s3vl.index_registry r WHERE r.index_name = p_name)
$$;

CREATE OR REPLACE FUNCTION s3vl.register_index_group(group_name text, index_names text[])
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_max integer := s3vl._contract_limit('group_members_max');
    v_first s3vl.index_registry;
    v_member s3vl.index_registry;
    v_name text;
BEGIN
    IF register_index_group.group_name IS NULL OR register_index_group.group_name !~ s3vl._index_name_pattern() THEN
        RAISE EXCEPTION 'group_name % is not a valid name', coalesce(pg_catalog.quote_literal(register_index_group.group_name), 'NULL')
            USING ERRCODE = '22023', HINT = 'Use a name such as an index name: 3-63 characters a-z 0-9 . - starting and ending alphanumeric.';
    END IF;
    IF EXISTS (SELECT 1 FROM s3vl.index_registry r WHERE r.index_name = register_index_group.group_name) THEN
        RAISE EXCEPTION 'group_name % is already a registered index name', pg_catalog.quote_literal(register_index_group.group_name)
            USING ERRCODE = '42710', HINT = 'Choose a group name that no index is registered under.';
    END IF;
    IF register_index_group.index_names IS NULL OR pg_catalog.array_ndims(register_index_group.index_names) IS DISTINCT FROM 1
       OR pg_catalog.cardinality(register_index_group.index_names) NOT BETWEEN 1 AND v_max
       OR pg_catalog.array_position(register_index_group.index_names, NULL) IS NOT NULL
       OR (SELECT pg_catalog.count(DISTINCT n) FROM pg_catalog.unnest(register_index_group.index_names) n)
          <> pg_catalog.cardinality(register_index_group.index_names) THEN
        RAISE EXCEPTION 'index_names must list 1 to % distinct registered index names, got %', v_max,
                coalesce(register_index_group.index_names::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'Pass ARRAY[''index-a'', ''index-b'', ...] with each member once.';
    END IF;
    FOREACH v_name IN ARRAY register_index_group.index_names LOOP
        v_member := s3vl._registered(v_name);
        IF v_member.dimension IS NULL OR v_member.distance_metric IS NULL THEN
            RAISE EXCEPTION 'index % has no recorded dimension and metric', pg_catalog.quote_literal(v_name)
                USING ERRCODE = '55000',
                      HINT = 'Run SELECT s3vl.register_index(name, arn) again (or s3vl.validate_config()) so that s3vl reads them.';
        END IF;
        IF v_first.index_name IS NULL THEN
            v_first := v_member;
        ELSIF (v_member.dimension, v_member.distance_metric) IS DISTINCT FROM (v_first.dimension, v_first.distance_metric) THEN
            RAISE EXCEPTION 'index % is % with dimension %, but index % is % with dimension %: the members of a group must agree',
                    pg_catalog.quote_literal(v_name), v_member.distance_metric, v_member.dimension,
                    pg_catalog.quote_literal(v_first.index_name), v_first.distance_metric, v_first.dimension
                USING ERRCODE = '22023', HINT = 'Group only indexes with the same dimension and distance metric.';
        END IF;
    END LOOP;
    INSERT INTO s3vl.index_groups AS g (group_name, index_names)
    VALUES (register_index_group.group_name, register_index_group.index_names)
    ON CONFLICT ON CONSTRAINT index_groups_pkey
        DO UPDATE SET index_names = EXCLUDED.index_names, created_at = pg_catalog.now(), updated_by = SESSION_USER;
END
$$;
COMMENT ON FUNCTION s3vl.register_index_group(text, text[]) IS
    'Name a group of registered indexes of one dimension and metric; query_vectors and query_vectors_batch '
    'query every member and merge the top_k. Registering an existing group again replaces its members.';

CREATE OR REPLACE FUNCTION s3vl.unregister_index_group(group_name text)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    DELETE FROM s3vl.index_groups g WHERE g.group_name = unregister_index_group.group_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown index group %', coalesce(pg_catalog.quote_literal(unregister_index_group.group_name), 'NULL')
            USING ERRCODE = '42704', HINT = 'SELECT * FROM s3vl.list_index_groups() shows the groups.';
    END IF;
END
$$;
COMMENT ON FUNCTION s3vl.unregister_index_group(text) IS 'Forget an index group; its member indexes stay registered.';

CREATE OR REPLACE FUNCTION s3vl.list_index_groups()
RETURNS TABLE (group_name text, index_names text[], created_at timestamptz, updated_by text)
LANGUAGE sql STABLE
AS $$
    SELECT g.group_name, g.index_names, g.created_at, g.updated_by FROM s3vl.index_groups g ORDER BY g.group_name
$$;
COMMENT ON FUNCTION s3vl.list_index_groups() IS 'The index groups and their members, by name.';

-- What a batch queries: the members of a group in group order (each registered and active), else the one
-- index or ARN s3vl._target resolves.
CREATE OR REPLACE FUNCTION s3vl._batch_targets(p_name text)
RETURNS s3vl.index_registry[]
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_members text[];
BEGIN
    IF p_name IS NULL THEN
        RAISE EXCEPTION 'index_name must not be NULL'
            USING ERRCODE = '22023', HINT = 'Pass a registered index name, an index group name or an index ARN.';
    END IF;
    IF s3vl._is_index_group(p_name) THEN
        SELECT g.index_names INTO v_members FROM s3vl.index_groups g WHERE g.group_name = p_name;
        RETURN ARRAY(SELECT s3vl._index(m) FROM pg_catalog.unnest(v_members) WITH ORDINALITY AS u(m, n) ORDER BY n);
    END IF;
    RETURN ARRAY[s3vl._target(p_name, NULL)];
END
$$;

-- Re-raise the error of one invocation of a batch with the failing query_index in DETAIL: the function
-- names it at the start of its message ("query_index N: ..."); a failure of the invocation itself names
-- the range of queries it carried.
CREATE OR REPLACE FUNCTION s3vl._raise_batch_error(
    p_sqlstate text, p_message text, p_detail text, p_hint text, p_first integer, p_last integer)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_query text := (pg_catalog.regexp_match(p_message, 'query_index (\d+)'))[1];
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = p_sqlstate,
        MESSAGE = p_message,
        DETAIL = coalesce('query_index ' || v_query,
                          pg_catalog.format('query_index %s to %s (one invocation)', p_first, p_last))
                 || coalesce('; ' || p_detail, ''),
        HINT = coalesce(p_hint, '');
END
$$;

CREATE OR REPLACE FUNCTION s3vl.query_vectors_batch(
    index_name text,
    query_vectors double precision[],
    top_k integer DEFAULT 10,
    return_metadata boolean DEFAULT false,
    metadata_filter jsonb DEFAULT NULL)
RETURNS TABLE (query_index integer, rank integer, vector_id text, similarity_score double precision,
               distance double precision, metadata jsonb)
LANGUAGE plpgsql
AS $$
DECLARE
    v_targets s3vl.index_registry[] := s3vl._batch_targets(query_vectors_batch.index_name);
    v_arns json;
    v_vectors text[];
    v_count integer;
    v_position integer := 0;
    v_max_queries integer;
    v_max_bytes bigint := s3vl._contract_limit('lambda_response_bytes') - 65536;  -- room for the other fields
    v_first integer := 1;
    v_last integer;
    v_bytes bigint;
    v_request json;
    v_result jsonb;
    v_sqlstate text;
    v_message text;
    v_detail text;
    v_hint text;
BEGIN
    PERFORM s3vl._check_query_options(query_vectors_batch.top_k, query_vectors_batch.return_metadata,
                                      query_vectors_batch.metadata_filter);
    IF query_vectors_batch.query_vectors IS NULL OR pg_catalog.array_ndims(query_vectors_batch.query_vectors) IS DISTINCT FROM 2 THEN
        RAISE EXCEPTION 'query_vectors must be a two-dimensional array, one row per query vector, got %',
                CASE WHEN query_vectors_batch.query_vectors IS NULL THEN 'NULL'
                     WHEN pg_catalog.cardinality(query_vectors_batch.query_vectors) = 0 THEN 'an empty array'
                     ELSE pg_catalog.format('a %s-dimensional array', pg_catalog.array_ndims(query_vectors_batch.query_vectors)) END
            USING ERRCODE = '22023',
                  HINT = 'Pass ARRAY[ARRAY[x1, ..., xn], ARRAY[y1, ..., yn]], or (SELECT array_agg(v) FROM t) over a table of vectors.';
    END IF;
    v_count := pg_catalog.array_length(query_vectors_batch.query_vectors, 1);

    -- Each row checked and written as the function takes it (float32, shortest digits: s3vl._vector_json).
    BEGIN
        v_vectors := ARRAY(
            SELECT s3vl._vector_json(r.v, v_targets[1], 'query_vectors row ' || r.q)::text
              FROM (SELECT (u.n - 1) / pg_catalog.array_length(query_vectors_batch.query_vectors, 2) + 1 AS q,
                           pg_catalog.array_agg(u.x ORDER BY u.n) AS v
                      FROM pg_catalog.unnest(query_vectors_batch.query_vectors) WITH ORDINALITY AS u(x, n)
                     GROUP BY 1) r
             ORDER BY r.q);
    EXCEPTION WHEN invalid_parameter_value THEN
        GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT, v_hint = PG_EXCEPTION_HINT;
        RAISE EXCEPTION '%', v_message
            USING ERRCODE = '22023', HINT = v_hint,
                  DETAIL = 'query_index ' || coalesce((pg_catalog.regexp_match(v_message, 'query_vectors row (\d+)'))[1], 'unknown');
    END;

    v_arns := pg_catalog.array_to_json(ARRAY(SELECT t.index_arn FROM pg_catalog.unnest(v_targets) t));
    -- Query vectors per invocation: the contract's count of queries (vectors x members), and a response estimate (a result row is about 160
    -- bytes, 2 KB with metadata); a RESPONSE_TOO_LARGE answer halves it below.
    v_max_queries := GREATEST(1, LEAST(s3vl._contract_limit('batch_queries_max') / pg_catalog.cardinality(v_targets),
        v_max_bytes / (query_vectors_batch.top_k * CASE WHEN query_vectors_batch.return_metadata THEN 2048 ELSE 160 END)));

    WHILE v_first <= v_count LOOP
        -- As many queries as the count bound and the request's 6 MB allow, at least one.
        v_last := v_first;
        v_bytes := pg_catalog.octet_length(v_vectors[v_first]) + 1024;
        WHILE v_last < v_count AND v_last - v_first + 1 < v_max_queries
              AND v_bytes + pg_catalog.octet_length(v_vectors[v_last + 1]) + 1 <= v_max_bytes LOOP
            v_last := v_last + 1;
            v_bytes := v_bytes + pg_catalog.octet_length(v_vectors[v_last]) + 1;
        END LOOP;
        v_request := pg_catalog.json_build_object(
            'operation', 'query_vectors_batch',
            'contract_version', s3vl._contract_version(),
            'index_arns', v_arns,
            'query_vectors', ('[' || pg_catalog.array_to_string(v_vectors[v_first:v_last], ',') || ']')::json,
            'top_k', query_vectors_batch.top_k,
            'return_metadata', query_vectors_batch.return_metadata,
            'filter', query_vectors_batch.metadata_filter,
            'first_query_index', v_first);
        BEGIN
            v_result := s3vl._invoke_request('query_vectors_batch', v_request);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_sqlstate = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
                                    v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
            IF v_sqlstate = '54000' AND v_detail LIKE 'error code RESPONSE_TOO_LARGE%' AND v_last > v_first THEN
                -- Fewer queries per invocation from here on; this range is sent again.
                v_max_queries := (v_last - v_first + 1) / 2;
                CONTINUE;
            END IF;
            PERFORM s3vl._raise_batch_error(v_sqlstate, v_message, v_detail, v_hint, v_first, v_last);
        END;
        IF pg_catalog.jsonb_typeof(v_result -> 'results') IS DISTINCT FROM 'array'
           OR pg_catalog.jsonb_array_length(v_result -> 'results') <> v_last - v_first + 1 THEN
            PERFORM s3vl._raise_invalid_response('query_vectors_batch',
                pg_catalog.format('no "results" array of %s entries', v_last - v_first + 1));
        END IF;
        RETURN QUERY
            SELECT v_first + (q.n - 1)::integer,
                   r.k::integer,
                   r.e ->> 'key',
                   (r.e ->> 'similarity')::double precision,
                   (r.e ->> 'distance')::double precision,
                   CASE WHEN query_vectors_batch.return_metadata THEN s3vl._metadata(r.e -> 'metadata') END
              FROM pg_catalog.jsonb_array_elements(v_result -> 'results') WITH ORDINALITY AS q(answer, n),
                   pg_catalog.jsonb_array_elements(q.answer) WITH ORDINALITY AS r(e, k)
             ORDER BY q.n, r.k;
        v_first := v_last + 1;
    END LOOP;
END
$$;
COMMENT ON FUNCTION s3vl.query_vectors_batch(text, double precision[], integer, boolean, jsonb) IS
    'The top_k nearest vectors for each row of a two-dimensional array of query vectors (query_index is the '
    'row, from 1), in as few invocations as the payload limits allow; index_name may name an index group.';
