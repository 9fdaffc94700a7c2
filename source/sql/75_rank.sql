-- Exact ranking over candidates chosen in SQL (rank_vectors), and one search call that picks between that
-- and the service's approximate search (search). docs/sql-reference.md, "Filtered search".

-- rank_vectors ranks inside the Lambda function (operation rank_vectors); an earlier release computed the
-- distances here.
DROP FUNCTION IF EXISTS s3vl._rank_distance(text, double precision[], double precision[], double precision);

-- The contract's similarity from a reported distance (as the handler computes it for query_vectors).
CREATE OR REPLACE FUNCTION s3vl._rank_similarity(p_metric text, p_distance double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN p_metric = 'cosine' THEN 1.0 - p_distance ELSE 1.0 / (1.0 + p_distance) END
$$;

-- The index a rank or search call works on: it must have a known metric and dimension.
CREATE OR REPLACE FUNCTION s3vl._rank_index(p_index_name text, p_top_k integer, p_return_metadata boolean)
RETURNS s3vl.index_registry
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_index s3vl.index_registry := s3vl._target(p_index_name, NULL);
BEGIN
    IF v_index.distance_metric IS NULL OR v_index.dimension IS NULL THEN
        RAISE EXCEPTION 'the distance metric and dimension of index % are not known', pg_catalog.quote_literal(p_index_name)
            USING ERRCODE = '55000',
                  HINT = 'Register the index with s3vl.register_index (it reads them from S3 Vectors), or run '
                         'SELECT * FROM s3vl.validate_config(); for an index registered by an earlier release.';
    END IF;
    PERFORM s3vl._check_query_options(p_top_k, p_return_metadata, NULL);
    RETURN v_index;
END
$$;

-- The distinct ids of a candidate array, in first-seen order; NULL array: 22023, empty array: no ids.
CREATE OR REPLACE FUNCTION s3vl._rank_ids(p_ids text[], p_argument text)
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF p_ids IS NOT NULL AND pg_catalog.cardinality(p_ids) = 0 THEN
        RETURN '{}';  -- a SQL filter that chose nothing: an empty ranking, not an error
    END IF;
    PERFORM s3vl._check_keys(p_ids, p_argument);
    RETURN ARRAY(SELECT u.id FROM pg_catalog.unnest(p_ids) WITH ORDINALITY AS u(id, n)
                  GROUP BY u.id ORDER BY pg_catalog.min(u.n));
END
$$;

-- Rows for ranked ids and their reported distances, best first, with metadata when asked (one get_vectors
-- call for the winners only: candidates are fetched without it, which keeps their invocations small).
CREATE OR REPLACE FUNCTION s3vl._rank_rows(
    p_index s3vl.index_registry, p_keys text[], p_distances double precision[], p_return_metadata boolean)
RETURNS TABLE (vector_id text, similarity_score double precision, distance double precision, metadata jsonb)
LANGUAGE plpgsql
AS $$
DECLARE
    v_metadata jsonb[];
BEGIN
    IF pg_catalog.cardinality(p_keys) = 0 THEN
        RETURN;
    END IF;
    IF p_return_metadata THEN
        SELECT pg_catalog.array_agg(g.metadata ORDER BY g.n) INTO v_metadata
          FROM s3vl.get_vectors(p_keys, NULL, p_index.index_arn, false, true) WITH ORDINALITY
               AS g(vector_id, embedding, metadata, found, n);
    END IF;
    RETURN QUERY
        SELECT r.id, s3vl._rank_similarity(p_index.distance_metric, r.d), r.d, v_metadata[r.n]
          FROM unnest(p_keys, p_distances) WITH ORDINALITY AS r(id, d, n)
         ORDER BY r.n;
END
$$;

-- How many candidates one rank_vectors invocation ranks: the function decodes every candidate's vector
-- (with the orjson the zip carries, about 7 ms of one CPU per 100 ids at 768 dimensions with the scoring;
-- several times that with the standard json module), so a request is bounded by its elements (10,416 ids
-- at 768 dimensions, about 0.7 s of one CPU when the function does not slice them) to stay well within the
-- function's timeout and the time its client keeps for a request attempt; docs/sql-reference.md,
-- "rank_vectors".
CREATE OR REPLACE FUNCTION s3vl._rank_ids_per_call(p_dimension integer)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT GREATEST(100, 8000000 / GREATEST(p_dimension, 1))
$$;

-- The candidate ids in invocations: consecutive slices of p_ids whose keys fit one request beside the query
-- vector (Lambda's 6 MB request payload, less a margin for the other fields), and at most
-- _rank_ids_per_call of them.
CREATE OR REPLACE FUNCTION s3vl._rank_chunks(p_ids text[], p_query json, p_per_call integer)
RETURNS SETOF text[]
LANGUAGE sql IMMUTABLE
AS $$
    SELECT pg_catalog.array_agg(c.id ORDER BY c.n)
      FROM (SELECT u.id, u.n,
                   pg_catalog.sum(pg_catalog.octet_length(pg_catalog.to_json(u.id)::text) + 1) OVER (ORDER BY u.n) AS bytes
              FROM pg_catalog.unnest(p_ids) WITH ORDINALITY AS u(id, n)) AS c
     GROUP BY (c.bytes - 1) / (6291456 - 65536 - pg_catalog.octet_length(p_query::text)), (c.n - 1) / p_per_call
     ORDER BY pg_catalog.min(c.n)
$$;

CREATE OR REPLACE FUNCTION s3vl.rank_vectors(
    index_name text,
    query_vector double precision[],
    vector_ids text[],
    top_k integer DEFAULT 10,
    return_metadata boolean DEFAULT false)
RETURNS TABLE (vector_id text, similarity_score double precision, distance double precision, metadata jsonb)
LANGUAGE plpgsql
AS $$
DECLARE
    v_index s3vl.index_registry := s3vl._rank_index(rank_vectors.index_name, rank_vectors.top_k, rank_vectors.return_metadata);
    v_query json;
    v_ids text[];
    v_chunks text[];  -- JSON arrays of keys, one per invocation
    v_position integer := 1;
    v_with_metadata boolean;
    v_result jsonb;
    v_rows jsonb := '[]';
    v_missing bigint := 0;
    v_keys text[];
    v_distances double precision[];
BEGIN
    -- Checked and rounded to float32 as the service stores a vector.
    v_query := s3vl._vector_json(rank_vectors.query_vector, v_index, 'query_vector');
    v_ids := s3vl._rank_ids(rank_vectors.vector_ids, 'vector_ids');
    IF pg_catalog.cardinality(v_ids) = 0 THEN
        RETURN;
    END IF;
    v_chunks := ARRAY(SELECT pg_catalog.array_to_json(c)::text
                        FROM s3vl._rank_chunks(v_ids, v_query, s3vl._rank_ids_per_call(v_index.dimension)) AS c);
    -- The winners' metadata comes with the answer of a single invocation; otherwise (or when it would not
    -- fit the response) it is read afterwards for the merged top_k only.
    v_with_metadata := rank_vectors.return_metadata AND pg_catalog.cardinality(v_chunks) = 1;

    -- The function reads the candidates' vectors and ranks them itself: only each invocation's top_k
    -- comes back. Invocations run one after another (aws_lambda invokes synchronously).
    WHILE v_position <= pg_catalog.cardinality(v_chunks) LOOP
        BEGIN
            v_result := s3vl._invoke_request('rank_vectors', pg_catalog.json_build_object(
                'operation', 'rank_vectors',
                'contract_version', s3vl._contract_version(),
                'index_arn', v_index.index_arn,
                'distance_metric', v_index.distance_metric,
                'query_vector', v_query,
                'keys', v_chunks[v_position]::json,
                'top_k', rank_vectors.top_k,
                'return_metadata', v_with_metadata));
        EXCEPTION WHEN SQLSTATE '54000' THEN
            IF NOT v_with_metadata THEN
                RAISE;
            END IF;
            v_with_metadata := false;  -- the winners' metadata is too large for one response
            CONTINUE;
        END;
        IF pg_catalog.jsonb_typeof(v_result -> 'vectors') IS DISTINCT FROM 'array'
           OR pg_catalog.jsonb_typeof(v_result -> 'missing') IS DISTINCT FROM 'number' THEN
            PERFORM s3vl._raise_invalid_response('rank_vectors', 'no "vectors" array or "missing" count');
        END IF;
        v_rows := v_rows || (v_result -> 'vectors');
        v_missing := v_missing + (v_result ->> 'missing')::bigint;
        v_position := v_position + 1;
    END LOOP;

    IF v_missing > 0 THEN
        RAISE NOTICE 'rank_vectors: % of % distinct vector ids are not in index % and were ignored',
                v_missing, pg_catalog.cardinality(v_ids), pg_catalog.quote_literal(rank_vectors.index_name)
            USING HINT = 'Check the SQL that chose the ids, or write the missing vectors with s3vl.put_vectors.';
    END IF;
    IF v_with_metadata THEN
        RETURN QUERY
            SELECT e ->> 'key', (e ->> 'similarity')::double precision, (e ->> 'distance')::double precision,
                   s3vl._metadata(e -> 'metadata')
              FROM pg_catalog.jsonb_array_elements(v_rows) WITH ORDINALITY AS t(e, n)
             ORDER BY t.n;
        RETURN;
    END IF;
    -- Each invocation's top_k merged by the exact float64 distance, ties by id (code points), as the
    -- function orders them.
    SELECT pg_catalog.array_agg(r.key ORDER BY r.exact, r.key COLLATE "C"),
           pg_catalog.array_agg(r.reported ORDER BY r.exact, r.key COLLATE "C")
      INTO v_keys, v_distances
      FROM (SELECT e ->> 'key' AS key, (e ->> 'exact_distance')::double precision AS exact,
                   (e ->> 'distance')::double precision AS reported
              FROM pg_catalog.jsonb_array_elements(v_rows) AS e) AS r;
    RETURN QUERY SELECT * FROM s3vl._rank_rows(v_index, coalesce(v_keys[1:rank_vectors.top_k], '{}'),
                                               coalesce(v_distances[1:rank_vectors.top_k], '{}'),
                                               rank_vectors.return_metadata);
END
$$;
COMMENT ON FUNCTION s3vl.rank_vectors(text, double precision[], text[], integer, boolean) IS
    'The exact top_k nearest of the given vector ids (ranked inside the Lambda function with the index''s '
    'metric), best first; ids not in the index are ignored and counted in a NOTICE, duplicates count once.';

-- One query_vectors call as search uses it: (keys, distances) best first; its own CLASSIC NOTICE is
-- silenced, search says what it did itself.
CREATE OR REPLACE FUNCTION s3vl._search_ann(
    p_index s3vl.index_registry, p_query double precision[], p_top_k integer, p_filter jsonb,
    OUT keys text[], OUT distances double precision[])
LANGUAGE plpgsql
SET client_min_messages = warning
AS $$
BEGIN
    SELECT coalesce(pg_catalog.array_agg(q.vector_id ORDER BY q.n), '{}'),
           coalesce(pg_catalog.array_agg(q.distance ORDER BY q.n), '{}')
      INTO keys, distances
      FROM s3vl.query_vectors(p_query, NULL, p_index.index_arn, p_top_k, false, p_filter) WITH ORDINALITY
           AS q(vector_id, distance, similarity_score, metadata, n);
END
$$;

CREATE OR REPLACE FUNCTION s3vl.search(
    index_name text,
    query_vector double precision[],
    top_k integer DEFAULT 10,
    candidate_ids text[] DEFAULT NULL,
    metadata_filter jsonb DEFAULT NULL,
    return_metadata boolean DEFAULT false)
RETURNS TABLE (vector_id text, similarity_score double precision, distance double precision, metadata jsonb)
LANGUAGE plpgsql
AS $$
DECLARE
    v_index s3vl.index_registry := s3vl._rank_index(search.index_name, search.top_k, search.return_metadata);
    v_ids text[];
    v_rank_calls integer;
    v_k integer;
    v_widest integer;
    v_found record;
    v_keys text[];
    v_distances double precision[];
BEGIN
    IF search.candidate_ids IS NOT NULL AND search.metadata_filter IS NOT NULL THEN
        RAISE EXCEPTION 'search takes candidate_ids or metadata_filter, not both'
            USING ERRCODE = '0A000',
                  HINT = 'Put the metadata condition into the SQL that chooses candidate_ids, or pass only metadata_filter.';
    END IF;

    IF search.candidate_ids IS NULL THEN
        -- ANN with the service's filter. A CLASSIC index filters after its approximate search, so a
        -- short answer may hide matches: widen top_k tenfold up to the service maximum.
        v_k := search.top_k;
        LOOP
            SELECT * INTO v_found FROM s3vl._search_ann(v_index, search.query_vector, v_k, search.metadata_filter);
            EXIT WHEN pg_catalog.cardinality(v_found.keys) >= search.top_k OR search.metadata_filter IS NULL
                   OR v_index.index_mode IS DISTINCT FROM 'CLASSIC' OR v_k = s3vl._contract_limit('top_k_max');
            v_k := LEAST(s3vl._contract_limit('top_k_max'), v_k * 10);
        END LOOP;
        RAISE NOTICE 'search: path ann, query_vectors with top_k %', v_k;
        IF pg_catalog.cardinality(v_found.keys) < search.top_k AND search.metadata_filter IS NOT NULL
           AND v_index.index_mode = 'CLASSIC' THEN
            RAISE NOTICE 'search: % of % rows: index % is CLASSIC, which filters after an approximate search, so more vectors may match',
                    pg_catalog.cardinality(v_found.keys), search.top_k, pg_catalog.quote_literal(search.index_name)
                USING HINT = pg_catalog.format('Choose the candidates in SQL and pass candidate_ids (exact), or switch '
                                               'the index with SELECT s3vl.set_index_mode(%L, ''ENHANCED''); (an s3vl_admin).',
                                               search.index_name);
        END IF;
        RETURN QUERY SELECT * FROM s3vl._rank_rows(v_index, v_found.keys[1:search.top_k],
                                                   v_found.distances[1:search.top_k], search.return_metadata);
        RETURN;
    END IF;

    v_ids := s3vl._rank_ids(search.candidate_ids, 'candidate_ids');
    -- The exact path's work: the candidates' vector data in slices of about 4 MB of JSON (what
    -- rank_vectors' function reads and decodes); the ANN path may page about as many times, no more.
    v_rank_calls := (pg_catalog.cardinality(v_ids) + s3vl._items_per_call(v_index.dimension, true, false) - 1)
                    / s3vl._items_per_call(v_index.dimension, true, false);
    IF v_rank_calls > 2 THEN
        v_k := LEAST(s3vl._contract_limit('top_k_max'), GREATEST(search.top_k, 100));
        v_widest := LEAST(s3vl._contract_limit('top_k_max'), GREATEST(v_k, 100 * v_rank_calls));
        LOOP
            SELECT * INTO v_found FROM s3vl._search_ann(v_index, search.query_vector, v_k, NULL);
            -- The candidates among the ANN's nearest (a hash join: thousands of ids on both sides).
            SELECT coalesce(pg_catalog.array_agg(a.id ORDER BY a.n), '{}'), coalesce(pg_catalog.array_agg(a.d ORDER BY a.n), '{}')
              INTO v_keys, v_distances
              FROM unnest(v_found.keys, v_found.distances) WITH ORDINALITY AS a(id, d, n)
              JOIN pg_catalog.unnest(v_ids) AS c(id) ON c.id = a.id;
            -- Enough candidates, or the ANN answer holds the whole index (fewer rows than asked).
            IF pg_catalog.cardinality(v_keys) >= search.top_k OR pg_catalog.cardinality(v_found.keys) < v_k THEN
                RAISE NOTICE 'search: path ann, query_vectors with top_k % kept % of % candidates',
                    v_k, pg_catalog.cardinality(v_keys), pg_catalog.cardinality(v_ids);
                RETURN QUERY SELECT * FROM s3vl._rank_rows(v_index, v_keys[1:search.top_k],
                                                           v_distances[1:search.top_k], search.return_metadata);
                RETURN;
            END IF;
            EXIT WHEN v_k >= v_widest;
            v_k := v_widest;
        END LOOP;
        RAISE NOTICE 'search: path rank_vectors over % candidates (query_vectors with top_k % kept only % of them)',
            pg_catalog.cardinality(v_ids), v_k, pg_catalog.cardinality(v_keys);
    ELSE
        RAISE NOTICE 'search: path rank_vectors over % candidates', pg_catalog.cardinality(v_ids);
    END IF;
    RETURN QUERY SELECT * FROM s3vl.rank_vectors(search.index_name, search.query_vector, v_ids, search.top_k,
                                                 search.return_metadata);
END
$$;
COMMENT ON FUNCTION s3vl.search(text, double precision[], integer, text[], jsonb, boolean) IS
    'Nearest vectors by the cheaper correct path: rank_vectors over few candidate_ids, a widening ANN query over '
    'many or for a metadata_filter; a NOTICE names the path and any short answer.';
