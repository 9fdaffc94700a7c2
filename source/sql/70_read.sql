-- Reading vectors by id, and listing an index page by page or whole.

-- Check an array of vector ids (any lower bound); 22023 otherwise.
CREATE OR REPLACE FUNCTION s3vl._check_keys(p_keys text[], p_argument text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    v_bad integer;
    v_length integer;
BEGIN
    IF p_keys IS NULL OR pg_catalog.cardinality(p_keys) = 0 THEN
        RAISE EXCEPTION '% must be a non-empty array of vector ids, got %', p_argument,
                CASE WHEN p_keys IS NULL THEN 'NULL' ELSE 'an empty array' END
            USING ERRCODE = '22023', HINT = 'Pass e.g. ARRAY[''vec_001'', ''vec_002''].';
    END IF;
    IF pg_catalog.array_ndims(p_keys) <> 1 THEN
        RAISE EXCEPTION '% must be a one-dimensional array, got % dimensions', p_argument, pg_catalog.array_ndims(p_keys)
            USING ERRCODE = '22023', HINT = 'Pass a flat array of vector ids.';
    END IF;
    v_bad := pg_catalog.array_position(p_keys, NULL) - pg_catalog.array_lower(p_keys, 1) + 1;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION '% has a NULL element at position %', p_argument, v_bad
            USING ERRCODE = '22023', HINT = 'Remove NULL ids from the array.';
    END IF;
    -- Positions count from 1 whatever the array's lower bound.
    SELECT k.n, pg_catalog.char_length(k.id) INTO v_bad, v_length
      FROM pg_catalog.unnest(p_keys) WITH ORDINALITY AS k(id, n)
     WHERE pg_catalog.char_length(k.id) NOT BETWEEN 1 AND s3vl._contract_limit('key_length_max')
     ORDER BY k.n LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RAISE EXCEPTION '% element % is % characters long', p_argument, v_bad, v_length
            USING ERRCODE = '22023',
                  HINT = pg_catalog.format('Vector ids have 1 to %s characters.', s3vl._contract_limit('key_length_max'));
    END IF;
END
$$;

-- How many items fit one synchronous response: a conservative estimate well under Lambda's 6 MB,
-- from the index dimension (about 12 JSON bytes per float32) and the optional metadata.
CREATE OR REPLACE FUNCTION s3vl._items_per_call(p_dimension integer, p_with_data boolean, p_with_metadata boolean)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT LEAST(1000, GREATEST(1, 4000000 / (200 + CASE WHEN p_with_data THEN p_dimension * 14 ELSE 0 END
                                                 + CASE WHEN p_with_metadata THEN 4096 ELSE 0 END)))
$$;

-- A JSON array of float32 values as real[] (JSON array text and array literal differ only in brackets).
CREATE OR REPLACE FUNCTION s3vl._real_array(p_data jsonb)
RETURNS real[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN pg_catalog.jsonb_typeof(p_data) = 'array'
                THEN pg_catalog.translate(p_data::text, '[]', '{}')::real[] END
$$;

-- The original sample's row types for get and list results, kept for code that declares them.
DO $types$
BEGIN
    IF pg_catalog.to_regtype('s3vl.query_result') IS NULL THEN
        CREATE TYPE s3vl.query_result AS (
            vector_id text, found boolean, vector double precision[], metadata jsonb);
    END IF;
    IF pg_catalog.to_regtype('s3vl.list_result') IS NULL THEN
        CREATE TYPE s3vl.list_result AS (vector_id text, vector_data double precision[], metadata jsonb);
    END IF;
END
$types$;

-- The original sample's signature: vector_ids first, exactly one of index_name / index_arn.
-- embedding holds the float32 values the index stores, exactly, as double precision.
CREATE OR REPLACE FUNCTION s3vl.get_vectors(
    vector_ids text[],
    index_name text DEFAULT NULL,
    index_arn text DEFAULT NULL,
    include_vector_data boolean DEFAULT true,
    include_metadata boolean DEFAULT true)
RETURNS TABLE (vector_id text, embedding double precision[], metadata jsonb, found boolean)
LANGUAGE plpgsql
AS $$
DECLARE
    v_index s3vl.index_registry;
    v_ids text[];
    v_data boolean := get_vectors.include_vector_data;
    v_meta boolean := get_vectors.include_metadata;
    v_total integer;
    v_pos integer := 1;
    v_chunk integer;
    v_keys text[];
    v_result jsonb;
BEGIN
    v_index := s3vl._target(get_vectors.index_name, get_vectors.index_arn);
    PERFORM s3vl._check_keys(get_vectors.vector_ids, 'vector_ids');
    IF v_data IS NULL OR v_meta IS NULL THEN
        RAISE EXCEPTION 'include_vector_data and include_metadata must not be NULL'
            USING ERRCODE = '22023', HINT = 'Pass TRUE or FALSE.';
    END IF;
    -- A slice counts from 1: '[0:2]={a,b,c}' and '{a,b,c}' are the same ids.
    v_ids := get_vectors.vector_ids[pg_catalog.array_lower(get_vectors.vector_ids, 1):];
    v_total := pg_catalog.cardinality(v_ids);
    v_chunk := s3vl._items_per_call(coalesce(v_index.dimension, 4096), v_data, v_meta);

    -- One invocation per chunk; a chunk whose answer would exceed the payload limit is halved.
    WHILE v_pos <= v_total LOOP
        v_keys := v_ids[v_pos : v_pos + v_chunk - 1];
        v_result := s3vl._invoke_or_halve('get_vectors', pg_catalog.jsonb_build_object(
            'index_arn', v_index.index_arn, 'keys', pg_catalog.to_jsonb(v_keys),
            'return_data', v_data, 'return_metadata', v_meta), v_chunk);
        IF v_result IS NULL THEN
            v_chunk := GREATEST(1, v_chunk / 2);
            CONTINUE;
        END IF;
        IF pg_catalog.jsonb_typeof(v_result -> 'vectors') IS DISTINCT FROM 'array'
           OR pg_catalog.jsonb_array_length(v_result -> 'vectors') <> pg_catalog.cardinality(v_keys)
           OR EXISTS (SELECT 1
                        FROM pg_catalog.jsonb_array_elements(v_result -> 'vectors') WITH ORDINALITY AS t(e, n)
                       WHERE (t.e ->> 'key') IS DISTINCT FROM v_keys[t.n]) THEN
            PERFORM s3vl._raise_invalid_response('get_vectors', 'the answer does not list the requested ids in order');
        END IF;
        RETURN QUERY
            SELECT t.e ->> 'key',
                   CASE WHEN v_data THEN s3vl._real_array(t.e -> 'data')::double precision[] END,
                   CASE WHEN v_meta THEN s3vl._metadata(t.e -> 'metadata') END,
                   coalesce((t.e ->> 'found')::boolean, false)
              FROM pg_catalog.jsonb_array_elements(v_result -> 'vectors') WITH ORDINALITY AS t(e, n)
             ORDER BY t.n;
        v_pos := v_pos + pg_catalog.cardinality(v_keys);
    END LOOP;
END
$$;
COMMENT ON FUNCTION s3vl.get_vectors(text[], text, text, boolean, boolean) IS
    'One row per requested id, in input order (duplicates repeated): its vector and metadata, and found.';

-- The original sample's signature (index_arn first), then s3vl's segment arguments. One page of
-- ListVectors: every row carries the token of the next page (NULL on the last page) and the number of
-- rows in this page. A page the service returns empty but with a token is followed, so zero rows
-- means the end.
CREATE OR REPLACE FUNCTION s3vl.list_vectors(
    index_arn text DEFAULT NULL,
    index_name text DEFAULT NULL,
    max_results integer DEFAULT 100,
    next_token text DEFAULT NULL,
    return_data boolean DEFAULT false,
    return_metadata boolean DEFAULT true,
    segment_count integer DEFAULT NULL,
    segment_index integer DEFAULT NULL)
RETURNS TABLE (vector_id text, vector_data double precision[], metadata jsonb, response_next_token text,
               total_count integer)
LANGUAGE plpgsql
AS $$
DECLARE
    v_index s3vl.index_registry;
    v_page jsonb;
BEGIN
    v_index := s3vl._target(list_vectors.index_name, list_vectors.index_arn);
    v_page := s3vl._list_page(v_index, list_vectors.max_results, list_vectors.next_token, list_vectors.return_data,
                              list_vectors.return_metadata, list_vectors.segment_count, list_vectors.segment_index);
    RETURN QUERY
        SELECT t.e ->> 'key',
               CASE WHEN list_vectors.return_data THEN s3vl._real_array(t.e -> 'data')::double precision[] END,
               CASE WHEN list_vectors.return_metadata THEN s3vl._metadata(t.e -> 'metadata') END,
               v_page ->> 'next_token',
               pg_catalog.jsonb_array_length(v_page -> 'vectors')
          FROM pg_catalog.jsonb_array_elements(v_page -> 'vectors') WITH ORDINALITY AS t(e, n)
         ORDER BY t.n;
END
$$;
COMMENT ON FUNCTION s3vl.list_vectors(text, text, integer, text, boolean, boolean, integer, integer) IS
    'One page of the index; pass the rows'' response_next_token as next_token for the next page (NULL: last page).';

-- Fetch one non-empty page (or the end). Halves the page when the answer would exceed the payload limit.
CREATE OR REPLACE FUNCTION s3vl._list_page(
    p_index s3vl.index_registry, p_max_results integer, p_page_token text, p_return_data boolean,
    p_return_metadata boolean, p_segment_count integer, p_segment_index integer)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    v_size integer := p_max_results;
    v_token text := p_page_token;
    v_request jsonb;
    v_result jsonb;
BEGIN
    IF p_max_results IS NULL OR p_max_results NOT BETWEEN 1 AND s3vl._contract_limit('list_max_results_max') THEN
        RAISE EXCEPTION 'max_results must be between 1 and %, got %', s3vl._contract_limit('list_max_results_max'),
                coalesce(p_max_results::text, 'NULL')
            USING ERRCODE = '22023', HINT = pg_catalog.format('Pass max_results => n with 1 <= n <= %s.',
                                                              s3vl._contract_limit('list_max_results_max'));
    END IF;
    IF p_page_token IS NOT NULL AND p_page_token = '' THEN
        RAISE EXCEPTION 'next_token must be NULL or a token returned as response_next_token'
            USING ERRCODE = '22023', HINT = 'Pass NULL for the first page.';
    END IF;
    IF p_return_data IS NULL OR p_return_metadata IS NULL THEN
        RAISE EXCEPTION 'return_data and return_metadata must not be NULL'
            USING ERRCODE = '22023', HINT = 'Pass TRUE or FALSE.';
    END IF;
    IF (p_segment_count IS NULL) <> (p_segment_index IS NULL)
       OR p_segment_count NOT BETWEEN 1 AND s3vl._contract_limit('segment_count_max')
       OR p_segment_index NOT BETWEEN 0 AND p_segment_count - 1 THEN
        RAISE EXCEPTION 'segment_count must be 1..% and segment_index 0..segment_count-1, given together; got % and %',
                s3vl._contract_limit('segment_count_max'),
                coalesce(p_segment_count::text, 'NULL'), coalesce(p_segment_index::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'Pass both (to scan segments in parallel) or neither.';
    END IF;
    v_size := LEAST(v_size, s3vl._items_per_call(coalesce(p_index.dimension, 4096), p_return_data, p_return_metadata));
    LOOP
        v_request := pg_catalog.jsonb_build_object('index_arn', p_index.index_arn, 'max_results', v_size,
                                                   'return_data', p_return_data, 'return_metadata', p_return_metadata);
        IF v_token IS NOT NULL THEN
            v_request := v_request || pg_catalog.jsonb_build_object('next_token', v_token);
        END IF;
        IF p_segment_count IS NOT NULL THEN
            v_request := v_request || pg_catalog.jsonb_build_object('segment_count', p_segment_count,
                                                                   'segment_index', p_segment_index);
        END IF;
        v_result := s3vl._invoke_or_halve('list_vectors', v_request, v_size);
        IF v_result IS NULL THEN
            v_size := GREATEST(1, v_size / 2);
            CONTINUE;
        END IF;
        IF pg_catalog.jsonb_typeof(v_result -> 'vectors') IS DISTINCT FROM 'array' THEN
            PERFORM s3vl._raise_invalid_response('list_vectors', 'no "vectors" array');
        END IF;
        v_token := nullif(v_result ->> 'next_token', '');
        IF pg_catalog.jsonb_array_length(v_result -> 'vectors') > 0 OR v_token IS NULL THEN
            RETURN pg_catalog.jsonb_build_object('vectors', v_result -> 'vectors', 'next_token', v_token);
        END IF;
    END LOOP;
END
$$;

-- Every vector of the index (or of one segment), paging internally.
CREATE OR REPLACE FUNCTION s3vl.list_all_vectors(
    index_name text,
    return_data boolean DEFAULT false,
    return_metadata boolean DEFAULT false,
    segment_count integer DEFAULT NULL,
    segment_index integer DEFAULT NULL)
RETURNS TABLE (vector_id text, vector real[], metadata jsonb)
LANGUAGE plpgsql
AS $$
DECLARE
    v_index s3vl.index_registry;
    v_page jsonb;
    v_token text;
BEGIN
    v_index := s3vl._index(list_all_vectors.index_name);
    LOOP
        v_page := s3vl._list_page(v_index, s3vl._contract_limit('list_max_results_max'), v_token, list_all_vectors.return_data,
                                  list_all_vectors.return_metadata, list_all_vectors.segment_count,
                                  list_all_vectors.segment_index);
        RETURN QUERY
            SELECT t.e ->> 'key',
                   CASE WHEN list_all_vectors.return_data THEN s3vl._real_array(t.e -> 'data') END,
                   CASE WHEN list_all_vectors.return_metadata THEN s3vl._metadata(t.e -> 'metadata') END
              FROM pg_catalog.jsonb_array_elements(v_page -> 'vectors') WITH ORDINALITY AS t(e, n)
             ORDER BY t.n;
        v_token := v_page ->> 'next_token';
        EXIT WHEN v_token IS NULL;
    END LOOP;
END
$$;
COMMENT ON FUNCTION s3vl.list_all_vectors(text, boolean, boolean, integer, integer) IS
    'Every vector of the index (or of one segment of segment_count), following next tokens internally.';
