-- Writing and deleting vectors, from arrays; from a table through array_agg:
--   SELECT s3vl.put_vectors('my-index', array_agg(id), array_agg(embedding), array_agg(meta)) FROM items;
-- Items are sent in as few invocations as the Lambda payload limits allow (the function then splits
-- them into the service's batches of at most 500). With async => true each invocation is an Event
-- (asynchronous) invocation with raise_on_error, so that a failure reaches the dead-letter queue.

-- Send a batch of put_vectors items or delete_vectors keys; returns the count the function reports.
CREATE OR REPLACE FUNCTION s3vl._write_batch(
    p_operation text, p_index s3vl.index_registry, p_items jsonb[], p_async boolean,
    p_done bigint, p_total bigint)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_field text := CASE WHEN p_operation = 'put_vectors' THEN 'vectors' ELSE 'keys' END;
    v_result jsonb;
    v_state text;
    v_message text;
    v_detail text;
    v_hint text;
BEGIN
    v_result := s3vl._invoke(p_operation,
                             pg_catalog.jsonb_build_object('index_arn', p_index.index_arn, v_field, pg_catalog.to_jsonb(p_items)),
                             CASE WHEN p_async THEN 'Event' ELSE 'RequestResponse' END);
    IF p_async THEN
        RETURN pg_catalog.cardinality(p_items);
    END IF;
    RETURN coalesce((v_result ->> CASE WHEN p_operation = 'put_vectors' THEN 'written' ELSE 'deleted' END)::bigint,
                    pg_catalog.cardinality(p_items));
EXCEPTION WHEN OTHERS THEN
    -- Earlier batches are already applied (an invocation is not undone by ROLLBACK): say so.
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL,
                            v_hint = PG_EXCEPTION_HINT;
    RAISE EXCEPTION '%', v_message
        USING ERRCODE = v_state,
              DETAIL = concat_ws('; ', nullif(v_detail, ''),
                                 pg_catalog.format('%s of %s items were applied before this failure', p_done, p_total)),
              HINT = concat_ws(' ', nullif(v_hint, ''),
                               'Writes are idempotent (put overwrites by id, delete ignores missing ids): run the call again.');
END
$$;

-- Send items (put_vectors items or delete_vectors keys) in greedy batches under the request payload limit
-- of the invocation type and at most p_max_items each; returns the total count the function reports.
CREATE OR REPLACE FUNCTION s3vl._write_items(
    p_operation text, p_index s3vl.index_registry, p_items jsonb[], p_async boolean, p_max_items integer)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_budget integer := CASE WHEN p_async THEN 1000000 ELSE 5000000 END;
    v_total bigint := pg_catalog.cardinality(p_items);
    v_item jsonb;
    v_item_bytes integer;
    v_batch jsonb[] := '{}';
    v_batch_bytes integer := 0;
    v_done bigint := 0;
BEGIN
    FOREACH v_item IN ARRAY p_items LOOP
        v_item_bytes := pg_catalog.octet_length(v_item::text) + 2;
        IF pg_catalog.cardinality(v_batch) > 0
           AND (v_batch_bytes + v_item_bytes > v_budget OR pg_catalog.cardinality(v_batch) >= p_max_items) THEN
            v_done := v_done + s3vl._write_batch(p_operation, p_index, v_batch, p_async, v_done, v_total);
            v_batch := '{}';
            v_batch_bytes := 0;
        END IF;
        v_batch := v_batch || v_item;
        v_batch_bytes := v_batch_bytes + v_item_bytes;
    END LOOP;
    RETURN v_done + s3vl._write_batch(p_operation, p_index, v_batch, p_async, v_done, v_total);
END
$$;

CREATE OR REPLACE FUNCTION s3vl.put_vectors(
    index_name text,
    vector_ids text[],
    vectors double precision[],
    metadata jsonb[] DEFAULT NULL,
    async boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_index s3vl.index_registry;
    v_rows integer;
    v_dim integer;
    v_bad record;
    v_items jsonb[];
BEGIN
    v_index := s3vl._index(put_vectors.index_name);
    PERFORM s3vl._check_keys(put_vectors.vector_ids, 'vector_ids');
    IF put_vectors.async IS NULL THEN
        RAISE EXCEPTION 'async must not be NULL' USING ERRCODE = '22023', HINT = 'Pass TRUE or FALSE.';
    END IF;
    SELECT k.id, min(k.n) AS first_pos, max(k.n) AS last_pos INTO v_bad
      FROM pg_catalog.unnest(put_vectors.vector_ids) WITH ORDINALITY AS k(id, n)
     GROUP BY k.id HAVING count(*) > 1 ORDER BY 2 LIMIT 1;
    IF v_bad.id IS NOT NULL THEN
        RAISE EXCEPTION 'vector_ids repeats % (positions % and %)', pg_catalog.quote_literal(v_bad.id), v_bad.first_pos, v_bad.last_pos
            USING ERRCODE = '22023', HINT = 'Pass each vector id once per call.';
    END IF;

    -- vectors: one row per id (a two-dimensional array), or a plain array for a single id.
    v_rows := pg_catalog.cardinality(put_vectors.vector_ids);
    IF put_vectors.vectors IS NULL OR pg_catalog.cardinality(put_vectors.vectors) = 0 THEN
        RAISE EXCEPTION 'vectors must be a non-empty array' USING ERRCODE = '22023',
            HINT = 'Pass ARRAY[[x1, ..., xd], ...] with one row per vector id, or array_agg(embedding).';
    ELSIF pg_catalog.array_ndims(put_vectors.vectors) = 1 AND v_rows = 1 THEN
        v_dim := pg_catalog.cardinality(put_vectors.vectors);
    ELSIF pg_catalog.array_ndims(put_vectors.vectors) = 2 THEN
        v_dim := pg_catalog.array_length(put_vectors.vectors, 2);
        IF pg_catalog.array_length(put_vectors.vectors, 1) <> v_rows THEN
            RAISE EXCEPTION 'vectors has % rows but vector_ids has % elements', pg_catalog.array_length(put_vectors.vectors, 1), v_rows
                USING ERRCODE = '22023', HINT = 'Pass one vector row per vector id.';
        END IF;
    ELSE
        RAISE EXCEPTION 'vectors must have one row per vector id (a two-dimensional array), got % dimensions for % ids',
                pg_catalog.array_ndims(put_vectors.vectors), v_rows
            USING ERRCODE = '22023', HINT = 'Pass ARRAY[[x1, ..., xd], ...] or array_agg(embedding).';
    END IF;
    IF v_dim <> v_index.dimension THEN
        RAISE EXCEPTION 'vectors have % elements but index % has dimension %', v_dim,
                pg_catalog.quote_literal(v_index.index_name), v_index.dimension
            USING ERRCODE = '22023', HINT = 'Pass vectors with as many elements as the index dimension.';
    END IF;
    SELECT (u.n - 1) / v_dim + 1 AS row_number, u.x INTO v_bad
      FROM pg_catalog.unnest(put_vectors.vectors) WITH ORDINALITY AS u(x, n)
     WHERE u.x IS NULL OR u.x IN ('NaN'::double precision, 'Infinity'::double precision, '-Infinity'::double precision)
     ORDER BY u.n LIMIT 1;
    IF v_bad.row_number IS NOT NULL THEN
        RAISE EXCEPTION 'the vector for % (row %) contains %', pg_catalog.quote_literal(put_vectors.vector_ids[v_bad.row_number]),
                v_bad.row_number, coalesce(v_bad.x::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'S3 Vectors accepts finite numbers only.';
    END IF;
    IF v_index.distance_metric = 'cosine' THEN
        SELECT (u.n - 1) / v_dim + 1 AS row_number INTO v_bad
          FROM pg_catalog.unnest(put_vectors.vectors) WITH ORDINALITY AS u(x, n)
         GROUP BY 1 HAVING bool_and(u.x = 0) ORDER BY 1 LIMIT 1;
        IF v_bad.row_number IS NOT NULL THEN
            RAISE EXCEPTION 'the vector for % (row %) is the zero vector, which the cosine index % rejects',
                    pg_catalog.quote_literal(put_vectors.vector_ids[v_bad.row_number]), v_bad.row_number,
                    pg_catalog.quote_literal(v_index.index_name)
                USING ERRCODE = '22023', HINT = 'Give every vector at least one non-zero element.';
        END IF;
    END IF;
    IF put_vectors.metadata IS NOT NULL THEN
        IF pg_catalog.array_ndims(put_vectors.metadata) IS DISTINCT FROM 1
           OR pg_catalog.cardinality(put_vectors.metadata) <> v_rows THEN
            RAISE EXCEPTION 'metadata must be NULL or a one-dimensional array with one element per vector id (% expected, got %)',
                    v_rows, pg_catalog.cardinality(put_vectors.metadata)
                USING ERRCODE = '22023', HINT = 'Pass array_agg(metadata) from the same rows, with NULL for no metadata.';
        END IF;
        SELECT m.n AS row_number INTO v_bad
          FROM pg_catalog.unnest(put_vectors.metadata) WITH ORDINALITY AS m(doc, n)
         WHERE m.doc IS NOT NULL AND pg_catalog.jsonb_typeof(m.doc) <> 'object' ORDER BY m.n LIMIT 1;
        IF v_bad.row_number IS NOT NULL THEN
            RAISE EXCEPTION 'metadata element % is not a JSON object', v_bad.row_number
                USING ERRCODE = '22023', HINT = 'Pass metadata as JSON objects, e.g. ''{"category": "demo"}''::jsonb, or NULL.';
        END IF;
    END IF;

    SELECT array_agg(pg_catalog.jsonb_build_object('key', put_vectors.vector_ids[g.r], 'data', pg_catalog.to_jsonb(g.d))
                     || CASE WHEN put_vectors.metadata[g.r] IS NULL THEN '{}'::jsonb
                             ELSE pg_catalog.jsonb_build_object('metadata', put_vectors.metadata[g.r]) END
                     ORDER BY g.r) INTO v_items
      FROM (SELECT (u.n - 1) / v_dim + 1 AS r, array_agg(u.x ORDER BY u.n) AS d
              FROM pg_catalog.unnest(put_vectors.vectors) WITH ORDINALITY AS u(x, n)
             GROUP BY 1) AS g;
    RETURN s3vl._write_items('put_vectors', v_index, v_items, put_vectors.async, 2000);
END
$$;
COMMENT ON FUNCTION s3vl.put_vectors(text, text[], double precision[], jsonb[], boolean) IS
    'Insert or overwrite vectors: one id per row of vectors (2-D array), optional metadata per id. '
    'Returns the number written (or enqueued, with async).';

CREATE OR REPLACE FUNCTION s3vl.delete_vectors(
    index_name text,
    vector_ids text[],
    async boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_index s3vl.index_registry;
    v_keys jsonb[];
BEGIN
    v_index := s3vl._index(delete_vectors.index_name);
    PERFORM s3vl._check_keys(delete_vectors.vector_ids, 'vector_ids');
    IF delete_vectors.async IS NULL THEN
        RAISE EXCEPTION 'async must not be NULL' USING ERRCODE = '22023', HINT = 'Pass TRUE or FALSE.';
    END IF;
    -- Each id once, in first-seen order.
    SELECT array_agg(pg_catalog.to_jsonb(k.id) ORDER BY k.first_pos) INTO v_keys
      FROM (SELECT u.id, min(u.n) AS first_pos
              FROM pg_catalog.unnest(delete_vectors.vector_ids) WITH ORDINALITY AS u(id, n) GROUP BY u.id) AS k;
    RETURN s3vl._write_items('delete_vectors', v_index, v_keys, delete_vectors.async, 5000);
END
$$;
COMMENT ON FUNCTION s3vl.delete_vectors(text, text[], boolean) IS
    'Delete vectors by id (missing ids are not an error). Returns the number of distinct ids sent.';
