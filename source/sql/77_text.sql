-- Full-text (BM25) and hybrid (text + vector, reciprocal rank fusion) search, and the index administration
-- it needs: S3 Vectors answers queryTexts only on ENHANCED indexes, over metadata keys configured for full
-- text. set_index_mode (UpdateIndexMode) and configure_text_search / remove_text_search
-- (UpdateMetadataConfiguration) change the index and record what GetIndex then reports in the registry.

-- The analyzer languages of S3 Vectors (botocore's LanguageCode).
CREATE OR REPLACE FUNCTION s3vl._text_languages()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ARRAY['en', 'fr', 'es', 'pt', 'it', 'de', 'nl', 'zh', 'ja', 'ko'] $$;

-- A full-text searchable metadata key: 1..text_key_length_max characters, or 22023.
CREATE OR REPLACE FUNCTION s3vl._check_text_key(p_key text, p_argument text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF p_key IS NULL OR pg_catalog.length(p_key) NOT BETWEEN 1 AND s3vl._contract_limit('text_key_length_max') THEN
        RAISE EXCEPTION '% must be a metadata key of 1 to % characters, got %', p_argument,
                s3vl._contract_limit('text_key_length_max'),
                coalesce(pg_catalog.length(p_key) || ' characters', 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'Full-text search works on metadata keys of at most 63 characters holding text.';
    END IF;
END
$$;

-- A text query needs an ENHANCED index: 55000 naming the fix when the registry records CLASSIC.
CREATE OR REPLACE FUNCTION s3vl._require_enhanced(p_index s3vl.index_registry, p_what text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF p_index.index_mode = 'CLASSIC' THEN
        RAISE EXCEPTION '% needs an ENHANCED index and % is CLASSIC', p_what, pg_catalog.quote_literal(p_index.index_name)
            USING ERRCODE = '55000',
                  HINT = pg_catalog.format('Switch it with SELECT s3vl.set_index_mode(%L, ''ENHANCED''); (an s3vl_admin), '
                                           'then add the searchable keys with s3vl.configure_text_search.',
                                           p_index.index_name);
    END IF;
END
$$;

-- Record mode and text keys from a get_index result (set_index_mode, configure_text_search).
CREATE OR REPLACE FUNCTION s3vl._record_index_state(p_index_name text, p_info jsonb)
RETURNS void
LANGUAGE sql
AS $$
    UPDATE s3vl.index_registry r
       SET index_mode = p_info ->> 'index_mode', text_search = p_info -> 'text_search',
           updated_at = pg_catalog.now(), updated_by = SESSION_USER
     WHERE r.index_name = p_index_name
$$;

CREATE OR REPLACE FUNCTION s3vl.search_text(
    index_name text,
    query_texts jsonb,
    query_vector double precision[] DEFAULT NULL,
    top_k integer DEFAULT 10,
    metadata_filter jsonb DEFAULT NULL,
    return_metadata boolean DEFAULT false)
RETURNS TABLE (vector_id text, fused_score double precision, bm25_scores jsonb, vector_distance double precision,
               metadata jsonb)
LANGUAGE plpgsql
AS $$
DECLARE
    v_index s3vl.index_registry;
    v_key text;
    v_text jsonb;
    v_request json;
    v_result jsonb;
    v_message text;
BEGIN
    v_index := s3vl._target(search_text.index_name, NULL);
    IF search_text.query_texts IS NULL OR pg_catalog.jsonb_typeof(search_text.query_texts) <> 'object'
       OR (SELECT pg_catalog.count(*) FROM pg_catalog.jsonb_object_keys(search_text.query_texts))
          NOT BETWEEN 1 AND s3vl._contract_limit('query_texts_max') THEN
        RAISE EXCEPTION 'query_texts must be a JSON object of 1 to % metadata keys, got %',
                s3vl._contract_limit('query_texts_max'), coalesce(pg_catalog.left(search_text.query_texts::text, 200), 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'Pass e.g. ''{"description": "red running shoes"}''::jsonb: each key a full-text searchable '
                         'metadata key, each value the text to search it for.';
    END IF;
    FOR v_key, v_text IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(search_text.query_texts) e LOOP
        PERFORM s3vl._check_text_key(v_key, 'a query_texts key');
        IF pg_catalog.jsonb_typeof(v_text) IS DISTINCT FROM 'string'
           OR pg_catalog.length(v_text #>> '{}') NOT BETWEEN 1 AND s3vl._contract_limit('query_text_length_max') THEN
            RAISE EXCEPTION 'query_texts -> % must be a text of 1 to % characters, got %', pg_catalog.quote_literal(v_key),
                    s3vl._contract_limit('query_text_length_max'),
                    CASE WHEN pg_catalog.jsonb_typeof(v_text) = 'string'
                         THEN pg_catalog.length(v_text #>> '{}') || ' characters'
                         ELSE 'a JSON ' || pg_catalog.jsonb_typeof(v_text) END
                USING ERRCODE = '22023', HINT = 'Shorten the text, or pass it as a JSON string.';
        END IF;
    END LOOP;
    PERFORM s3vl._check_query_options(search_text.top_k, search_text.return_metadata, search_text.metadata_filter);
    PERFORM s3vl._require_enhanced(v_index, 'search_text');

    v_request := pg_catalog.json_build_object(
        'operation', 'search_text',
        'contract_version', s3vl._contract_version(),
        'index_arn', v_index.index_arn,
        'query_texts', search_text.query_texts,
        'top_k', search_text.top_k,
        'return_metadata', search_text.return_metadata);
    -- The vector and the filter go in as query_vectors sends them.
    IF search_text.query_vector IS NOT NULL THEN
        v_request := s3vl._request_with(v_request, 'query_vector',
                                        s3vl._vector_json(search_text.query_vector, v_index, 'query_vector')::text);
    END IF;
    IF search_text.metadata_filter IS NOT NULL THEN
        v_request := s3vl._request_with(v_request, 'filter', search_text.metadata_filter::text);
    END IF;
    BEGIN
        v_result := s3vl._invoke_request('search_text', v_request);
    EXCEPTION WHEN invalid_parameter_value THEN
        -- The registry did not know the index was CLASSIC (registered before, or switched outside s3vl).
        GET STACKED DIAGNOSTICS v_message = MESSAGE_TEXT;
        IF v_message LIKE '%ENHANCED mode%' THEN
            v_index.index_mode := 'CLASSIC';
            PERFORM s3vl._require_enhanced(v_index, 'search_text');
        END IF;
        RAISE;
    END;
    IF pg_catalog.jsonb_typeof(v_result -> 'vectors') IS DISTINCT FROM 'array' THEN
        PERFORM s3vl._raise_invalid_response('search_text', 'no "vectors" array');
    END IF;
    RETURN QUERY
        SELECT e ->> 'key',
               (e ->> 'fused_score')::double precision,
               e -> 'bm25_scores',
               (e ->> 'vector_distance')::double precision,
               CASE WHEN search_text.return_metadata THEN s3vl._metadata(e -> 'metadata') END
          FROM pg_catalog.jsonb_array_elements(v_result -> 'vectors') WITH ORDINALITY AS t(e, n)
         ORDER BY t.n;
END
$$;
COMMENT ON FUNCTION s3vl.search_text(text, jsonb, double precision[], integer, jsonb, boolean) IS
    'Full-text search over the metadata keys of query_texts ({"key": "text"}), hybrid with query_vector; best '
    'first. ENHANCED indexes only (s3vl.set_index_mode, s3vl.configure_text_search).';

CREATE OR REPLACE FUNCTION s3vl.set_index_mode(index_name text, mode text)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    v_index s3vl.index_registry := s3vl._index(set_index_mode.index_name);
    v_info jsonb;
BEGIN
    IF set_index_mode.mode IS NULL OR pg_catalog.upper(set_index_mode.mode) NOT IN ('CLASSIC', 'ENHANCED') THEN
        RAISE EXCEPTION 'mode must be CLASSIC or ENHANCED, got %', coalesce(pg_catalog.quote_literal(set_index_mode.mode), 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'ENHANCED filters before searching and answers full-text and hybrid queries; CLASSIC filters after.';
    END IF;
    v_info := s3vl._invoke('set_index_mode', pg_catalog.jsonb_build_object(
        'index_arn', v_index.index_arn, 'index_mode', pg_catalog.upper(set_index_mode.mode)));
    PERFORM s3vl._record_index_state(v_index.index_name, v_info);
    RETURN v_info ->> 'index_mode';
END
$$;
COMMENT ON FUNCTION s3vl.set_index_mode(text, text) IS
    'Switch a registered index to CLASSIC or ENHANCED in place (UpdateIndexMode); returns the mode the index now reports.';

CREATE OR REPLACE FUNCTION s3vl.configure_text_search(index_name text, metadata_key text, language text DEFAULT 'en')
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    v_index s3vl.index_registry := s3vl._index(configure_text_search.index_name);
    v_info jsonb;
BEGIN
    PERFORM s3vl._check_text_key(configure_text_search.metadata_key, 'metadata_key');
    IF configure_text_search.language IS NULL OR NOT configure_text_search.language = ANY (s3vl._text_languages()) THEN
        RAISE EXCEPTION 'language % is not one S3 Vectors analyzes', coalesce(pg_catalog.quote_literal(configure_text_search.language), 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'Use one of ' || pg_catalog.array_to_string(s3vl._text_languages(), ', ') || '.';
    END IF;
    PERFORM s3vl._require_enhanced(v_index, 'configure_text_search');
    v_info := s3vl._invoke('configure_text_search', pg_catalog.jsonb_build_object(
        'index_arn', v_index.index_arn, 'metadata_key', configure_text_search.metadata_key,
        'language', configure_text_search.language));
    PERFORM s3vl._record_index_state(v_index.index_name, v_info);
    RETURN (SELECT k ->> 'status' FROM pg_catalog.jsonb_array_elements(v_info -> 'text_search') k
             WHERE k ->> 'metadata_key' = configure_text_search.metadata_key);
END
$$;
COMMENT ON FUNCTION s3vl.configure_text_search(text, text, text) IS
    'Make a metadata key full-text searchable (UpdateMetadataConfiguration); returns its status, BUILDING while '
    'S3 Vectors indexes the vectors already stored, then ACTIVE (see s3vl.validate_config_checks()).';

CREATE OR REPLACE FUNCTION s3vl.remove_text_search(index_name text, metadata_key text)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    v_index s3vl.index_registry := s3vl._index(remove_text_search.index_name);
BEGIN
    PERFORM s3vl._check_text_key(remove_text_search.metadata_key, 'metadata_key');
    PERFORM s3vl._record_index_state(v_index.index_name, s3vl._invoke('configure_text_search',
        pg_catalog.jsonb_build_object('index_arn', v_index.index_arn, 'metadata_key', remove_text_search.metadata_key,
                                      'remove', true)));
    RETURN true;
END
$$;
COMMENT ON FUNCTION s3vl.remove_text_search(text, text) IS
    'Stop full-text search on a metadata key (UpdateMetadataConfiguration delete); the metadata itself stays.';
