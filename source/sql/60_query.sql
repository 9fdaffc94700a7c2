-- Similarity search.

-- Check one vector against a registered index and return it as a JSON array; 22023 otherwise.
-- Accepts any numeric array type through the implicit cast to double precision[]. The index stores
-- float32, so each element is rounded to float32 here, as S3 Vectors would round it, and written with
-- the shortest digits that read back as that float32 (extra_float_digits pinned): about 8.5 KB for 768
-- elements instead of 15 KB of double digits, and every JSON reader and writer along the chain (the
-- Lambda runtime, boto3, the service) parses and prints half the digits. json, not jsonb: numbers are
-- written once instead of going through numeric and back.
DROP FUNCTION IF EXISTS s3vl._vector_json(double precision[], s3vl.index_registry, text);
CREATE FUNCTION s3vl._vector_json(
    p_vector double precision[], p_index s3vl.index_registry, p_argument text)
RETURNS json
LANGUAGE plpgsql IMMUTABLE
SET extra_float_digits = 3
AS $$
DECLARE
    v_rounded real[];
BEGIN
    IF p_vector IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', p_argument
            USING ERRCODE = '22023',
                  HINT = pg_catalog.format('Pass an array of %s numbers.', coalesce(p_index.dimension::text, 'the index''s dimension'));
    END IF;
    IF pg_catalog.array_ndims(p_vector) IS DISTINCT FROM 1 THEN
        RAISE EXCEPTION '% must be a one-dimensional array with % elements, got %', p_argument,
                coalesce(p_index.dimension::text, 'the index''s'),
                CASE WHEN pg_catalog.cardinality(p_vector) = 0 THEN 'an empty array'
                     ELSE pg_catalog.format('a %s-dimensional array', pg_catalog.array_ndims(p_vector)) END
            USING ERRCODE = '22023',
                  HINT = pg_catalog.format('Pass ARRAY[x1, ..., x%s] for index %s.', coalesce(p_index.dimension::text, 'n'),
                                           p_index.index_name);
    END IF;
    -- An unknown dimension (index given by ARN only, or registered by the original sample and not yet
    -- validated) is checked by the service instead.
    IF pg_catalog.cardinality(p_vector) <> p_index.dimension THEN
        RAISE EXCEPTION '% has % elements but index % has dimension %', p_argument, pg_catalog.cardinality(p_vector),
                pg_catalog.quote_literal(p_index.index_name), p_index.dimension
            USING ERRCODE = '22023', HINT = 'Pass a vector with as many elements as the index dimension.';
    END IF;
    IF pg_catalog.array_position(p_vector, NULL) IS NOT NULL THEN
        -- Positions count from 1 whatever the array's lower bound.
        RAISE EXCEPTION '% has a NULL element at position %', p_argument,
                pg_catalog.array_position(p_vector, NULL) - pg_catalog.array_lower(p_vector, 1) + 1
            USING ERRCODE = '22023', HINT = 'Replace NULL elements with numbers.';
    END IF;
    IF 'NaN'::double precision = ANY (p_vector) OR 'Infinity'::double precision = ANY (p_vector)
       OR '-Infinity'::double precision = ANY (p_vector) THEN
        RAISE EXCEPTION '% contains NaN or Infinity', p_argument
            USING ERRCODE = '22023', HINT = 'S3 Vectors accepts finite numbers only.';
    END IF;
    -- 2^128 - 2^103: from this magnitude on, rounding to float32 gives Infinity.
    IF 3.4028235677973366e38::double precision <= ANY (p_vector) OR -3.4028235677973366e38::double precision >= ANY (p_vector) THEN
        RAISE EXCEPTION '% has an element beyond the float32 range (largest magnitude 3.4028235e38)', p_argument
            USING ERRCODE = '22023', HINT = 'S3 Vectors stores float32: scale the vector into that range.';
    END IF;
    BEGIN
        v_rounded := p_vector::real[];
    EXCEPTION WHEN numeric_value_out_of_range THEN
        -- PostgreSQL refuses to round a non-zero magnitude at or below 2^-150 to float32's zero; the
        -- service would store zero, so send zero.
        v_rounded := ARRAY(
            SELECT CASE WHEN pg_catalog.abs(x) <= 7.006492321624085e-46::double precision THEN 0 ELSE x END::real
              FROM pg_catalog.unnest(p_vector) WITH ORDINALITY AS u(x, n) ORDER BY n);
    END;
    IF p_index.distance_metric = 'cosine' AND 0 = ALL (v_rounded) THEN
        RAISE EXCEPTION '% is the zero vector once rounded to float32, which has no direction on the cosine index %',
                p_argument, pg_catalog.quote_literal(p_index.index_name)
            USING ERRCODE = '22023', HINT = 'Pass a vector with at least one element of magnitude above 1e-45.';
    END IF;
    RETURN pg_catalog.array_to_json(v_rounded);
END
$$;

-- A vector's metadata as returned to SQL: the object, or NULL when the vector has none.
CREATE OR REPLACE FUNCTION s3vl._metadata(p_metadata jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN pg_catalog.jsonb_typeof(p_metadata) = 'object' AND p_metadata <> '{}'::jsonb THEN p_metadata END
$$;

-- The original sample's row type for a search result, kept for code that declares it.
DO $types$
BEGIN
    IF pg_catalog.to_regtype('s3vl.search_result') IS NULL THEN
        CREATE TYPE s3vl.search_result AS (
            vector_id text, distance double precision, similarity_score double precision, metadata jsonb);
    END IF;
END
$types$;

-- The options every query function shares, checked in one place with one set of messages.
CREATE OR REPLACE FUNCTION s3vl._check_query_options(p_top_k integer, p_return_metadata boolean, p_metadata_filter jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF p_top_k IS NULL OR p_top_k NOT BETWEEN s3vl._contract_limit('top_k_min') AND s3vl._contract_limit('top_k_max') THEN
        RAISE EXCEPTION 'top_k must be between % and %, got %', s3vl._contract_limit('top_k_min'),
                s3vl._contract_limit('top_k_max'), coalesce(p_top_k::text, 'NULL')
            USING ERRCODE = '22023', HINT = pg_catalog.format('Pass top_k => n with %s <= n <= %s.',
                                                              s3vl._contract_limit('top_k_min'),
                                                              s3vl._contract_limit('top_k_max'));
    END IF;
    IF p_return_metadata IS NULL THEN
        RAISE EXCEPTION 'return_metadata must not be NULL' USING ERRCODE = '22023', HINT = 'Pass TRUE or FALSE.';
    END IF;
    IF p_metadata_filter IS NOT NULL
       AND (pg_catalog.jsonb_typeof(p_metadata_filter) <> 'object' OR p_metadata_filter = '{}'::jsonb) THEN
        RAISE EXCEPTION 'metadata_filter must be a non-empty JSON object, got %', p_metadata_filter
            USING ERRCODE = '22023',
                  HINT = 'Pass e.g. ''{"category": "test"}''::jsonb, or NULL for no filter.';
    END IF;
END
$$;

-- The original sample's signature: query_vector first, exactly one of index_name / index_arn.
CREATE OR REPLACE FUNCTION s3vl.query_vectors(
    query_vector double precision[],
    index_name text DEFAULT NULL,
    index_arn text DEFAULT NULL,
    top_k integer DEFAULT 10,
    return_metadata boolean DEFAULT true,
    metadata_filter jsonb DEFAULT NULL)
RETURNS TABLE (vector_id text, distance double precision, similarity_score double precision, metadata jsonb)
LANGUAGE plpgsql
AS $$
DECLARE
    v_index s3vl.index_registry;
    v_request json;
    v_result jsonb;
    v_cached jsonb;
    v_generation bigint;
BEGIN
    -- An index group (68_batch.sql): every member queried inside the function, the top_k merged.
    IF query_vectors.index_arn IS NULL AND s3vl._is_index_group(query_vectors.index_name) THEN
        RETURN QUERY SELECT b.vector_id, b.distance, b.similarity_score, b.metadata
          FROM s3vl.query_vectors_batch(query_vectors.index_name, ARRAY[query_vectors.query_vector], query_vectors.top_k,
                                        query_vectors.return_metadata, query_vectors.metadata_filter) b ORDER BY b.rank;
        RETURN;
    END IF;
    v_index := s3vl._target(query_vectors.index_name, query_vectors.index_arn);
    PERFORM s3vl._check_query_options(query_vectors.top_k, query_vectors.return_metadata, query_vectors.metadata_filter);
    -- Built as json (see s3vl._invoke_request): the vector is written once, never converted to jsonb.
    v_request := pg_catalog.json_build_object(
        'operation', 'query_vectors',
        'contract_version', s3vl._contract_version(),
        'index_arn', v_index.index_arn,
        'query_vector', s3vl._vector_json(query_vectors.query_vector, v_index, 'query_vector'),
        'top_k', query_vectors.top_k,
        'return_metadata', query_vectors.return_metadata);
    IF query_vectors.metadata_filter IS NOT NULL THEN
        v_request := s3vl._request_with(v_request, 'filter', query_vectors.metadata_filter::text);
    END IF;

    -- The result cache (65_cache.sql), when set_query_cache turned it on for this index.
    SELECT c.o_result, c.o_generation INTO v_cached, v_generation
      FROM s3vl._query_cache_get(v_index.index_arn, v_request) c;
    v_result := coalesce(v_cached, s3vl._invoke_request('query_vectors', v_request));
    IF pg_catalog.jsonb_typeof(v_result -> 'vectors') IS DISTINCT FROM 'array' THEN
        PERFORM s3vl._raise_invalid_response('query_vectors', 'no "vectors" array');
    END IF;
    IF v_cached IS NULL THEN
        PERFORM s3vl._query_cache_put(v_index.index_arn, v_request, v_result, v_generation);
    END IF;

    -- CLASSIC filters after its approximate search: a short answer may hide matching vectors.
    IF query_vectors.metadata_filter IS NOT NULL AND v_index.index_mode = 'CLASSIC'
       AND pg_catalog.jsonb_array_length(v_result -> 'vectors') < query_vectors.top_k THEN
        RAISE NOTICE 'query_vectors returned % of % rows: index % is CLASSIC, which applies the filter after an approximate search, so more vectors may match',
                pg_catalog.jsonb_array_length(v_result -> 'vectors'), query_vectors.top_k, pg_catalog.quote_literal(v_index.index_name)
            USING HINT = pg_catalog.format('Use s3vl.search(...) (it widens the search), choose candidates in SQL for '
                                           's3vl.rank_vectors, or switch the index with SELECT s3vl.set_index_mode(%L, ''ENHANCED''); '
                                           '(an s3vl_admin).', v_index.index_name);
    END IF;
    RETURN QUERY
        SELECT e ->> 'key',
               (e ->> 'distance')::double precision,
               (e ->> 'similarity')::double precision,
               CASE WHEN query_vectors.return_metadata THEN s3vl._metadata(e -> 'metadata') END
          FROM pg_catalog.jsonb_array_elements(v_result -> 'vectors') WITH ORDINALITY AS t(e, n)
         ORDER BY t.n;
END
$$;
COMMENT ON FUNCTION s3vl.query_vectors(double precision[], text, text, integer, boolean, jsonb) IS
    'The top_k nearest vectors to query_vector, best first: id, distance as S3 Vectors reports it, similarity '
    '(1.0 = same direction for cosine), and metadata unless return_metadata => false.';
