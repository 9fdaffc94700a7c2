-- Writing and deleting vectors, from arrays; from a table through array_agg:
--   SELECT s3vl.put_vectors('my-index', array_agg(id), array_agg(embedding), array_agg(meta)) FROM items;
-- Items are sent in as few invocations as the Lambda payload limits allow (the function then splits
-- them into the service's batches of at most 500). With async => true each invocation is an Event
-- (asynchronous) invocation with raise_on_error, so that a failure reaches the dead-letter queue.
-- Items travel as json, never jsonb: 768 numbers parsed into numeric and printed again cost more than
-- the rest of building an item (see s3vl._invoke_request).

-- Their jsonb[] predecessors.
DROP FUNCTION IF EXISTS s3vl._write_batch(text, s3vl.index_registry, jsonb[], boolean, bigint, bigint);
DROP FUNCTION IF EXISTS s3vl._write_items(text, s3vl.index_registry, jsonb[], boolean, integer);

-- Send a batch of put_vectors items or delete_vectors keys; returns the count the function reports.
-- p_done items of the call's p_total were applied by earlier batches. On failure MESSAGE and DETAIL give
-- the same count of items applied: the function's own count for its batch when it reports one, read
-- from its message "(N of M vectors were written | keys were deleted before the failure" (written by
-- HandlerError.note_applied) and restated for the whole call.
CREATE OR REPLACE FUNCTION s3vl._write_batch(
    p_operation text, p_index s3vl.index_registry, p_items json[], p_async boolean,
    p_done bigint, p_total bigint)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_field text := CASE WHEN p_operation = 'put_vectors' THEN 'vectors' ELSE 'keys' END;
    v_counted constant text := '\((\d+) of \d+ (vectors were written|keys were deleted) before the failure';
    v_result jsonb;
    v_state text;
    v_message text;
    v_detail text;
    v_hint text;
    v_match text[];
    v_applied text;
    v_note text;
BEGIN
    -- An Event invocation raises on error inside the function, so that a failure reaches the dead-letter queue.
    v_result := s3vl._invoke_write(
        p_operation,
        p_index.index_arn,
        pg_catalog.json_build_object('operation', p_operation, 'contract_version', s3vl._contract_version(), 'index_arn', p_index.index_arn,
                                     v_field, pg_catalog.array_to_json(p_items), 'raise_on_error', p_async),
        CASE WHEN p_async THEN 'Event' ELSE 'RequestResponse' END);
    IF p_async THEN
        RETURN pg_catalog.cardinality(p_items);
    END IF;
    RETURN coalesce((v_result ->> CASE WHEN p_operation = 'put_vectors' THEN 'written' ELSE 'deleted' END)::bigint,
                    pg_catalog.cardinality(p_items));
EXCEPTION WHEN OTHERS THEN
    -- Earlier batches are already applied (an invocation is not undone by ROLLBACK): say how many.
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL,
                            v_hint = PG_EXCEPTION_HINT;
    v_match := pg_catalog.regexp_match(v_message, v_counted);
    IF v_match IS NOT NULL THEN
        v_applied := (p_done + v_match[1]::bigint)::text;
        v_message := pg_catalog.regexp_replace(v_message, v_counted,
                                               pg_catalog.format('(%s of %s \2 before the failure', v_applied, p_total));
    ELSIF v_state IN ('SV005', 'SV006', 'SV007') THEN
        -- A timeout, crash or lost connection: the invocation may have applied part of its batch.
        v_applied := 'at least ' || p_done;
        v_note := pg_catalog.format('the failed invocation may have applied part of its %s items',
                                    pg_catalog.cardinality(p_items));
    ELSE
        -- Refused before the function wrote anything (invalid, too large, not invoked).
        v_applied := p_done::text;
    END IF;
    RAISE EXCEPTION '%', v_message
        USING ERRCODE = v_state,
              DETAIL = concat_ws('; ', nullif(v_detail, ''),
                                 pg_catalog.format('%s of %s items were applied before this failure',
                                                   v_applied, p_total),
                                 v_note),
              HINT = concat_ws(' ', nullif(v_hint, ''),
                               'Writes are idempotent (put overwrites by id, delete ignores missing ids): run the call again.');
END
$$;

-- Send items (put_vectors items or delete_vectors keys) in greedy batches under the request payload limit
-- of the invocation type and at most p_max_items each; returns the total count the function reports.
CREATE OR REPLACE FUNCTION s3vl._write_items(
    p_operation text, p_index s3vl.index_registry, p_items json[], p_async boolean, p_max_items integer)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_budget integer := CASE WHEN p_async THEN 1000000 ELSE 5000000 END;
    v_total bigint := pg_catalog.cardinality(p_items);
    v_item json;
    v_item_bytes integer;
    v_batch json[] := '{}';
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

-- The index a write goes to, after the checks put_vectors and delete_vectors share: an active registered
-- index, valid vector ids, and async given.
CREATE OR REPLACE FUNCTION s3vl._write_index(p_index_name text, p_ids text[], p_async boolean)
RETURNS s3vl.index_registry
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_index s3vl.index_registry := s3vl._index(p_index_name);
BEGIN
    PERFORM s3vl._check_keys(p_ids, 'vector_ids');
    IF p_async IS NULL THEN
        RAISE EXCEPTION 'async must not be NULL' USING ERRCODE = '22023', HINT = 'Pass TRUE or FALSE.';
    END IF;
    RETURN v_index;
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
AS $$
DECLARE
    -- Slices start at 1 whatever the caller's lower bounds ('[0:1]={...}'), so the i-th id, the i-th
    -- vector row and the i-th metadata element pair up by position.
    v_ids text[] := put_vectors.vector_ids[:];
    v_vectors double precision[] := put_vectors.vectors[:];
    v_metadata jsonb[] := put_vectors.metadata[:];
    v_index s3vl.index_registry;
    v_rows integer;
    v_dim integer;
    v_bad record;
    v_row record;
    v_vector json;
    v_items json[] := '{}';
BEGIN
    v_index := s3vl._write_index(put_vectors.index_name, v_ids, put_vectors.async);
    SELECT k.id, min(k.n) AS first_pos, max(k.n) AS last_pos INTO v_bad
      FROM pg_catalog.unnest(v_ids) WITH ORDINALITY AS k(id, n)
     GROUP BY k.id HAVING count(*) > 1 ORDER BY 2 LIMIT 1;
    IF v_bad.id IS NOT NULL THEN
        RAISE EXCEPTION 'vector_ids repeats % (positions % and %)', pg_catalog.quote_literal(v_bad.id), v_bad.first_pos, v_bad.last_pos
            USING ERRCODE = '22023', HINT = 'Pass each vector id once per call.';
    END IF;

    -- vectors: one row per id (a two-dimensional array), or a plain array for a single id.
    v_rows := pg_catalog.cardinality(v_ids);
    IF v_vectors IS NULL OR pg_catalog.cardinality(v_vectors) = 0 THEN
        RAISE EXCEPTION 'vectors must be a non-empty array' USING ERRCODE = '22023',
            HINT = 'Pass ARRAY[[x1, ..., xd], ...] with one row per vector id, or array_agg(embedding).';
    ELSIF pg_catalog.array_ndims(v_vectors) = 1 AND v_rows = 1 THEN
        v_dim := pg_catalog.cardinality(v_vectors);
    ELSIF pg_catalog.array_ndims(v_vectors) = 2 THEN
        v_dim := pg_catalog.array_length(v_vectors, 2);
        IF pg_catalog.array_length(v_vectors, 1) <> v_rows THEN
            RAISE EXCEPTION 'vectors has % rows but vector_ids has % elements', pg_catalog.array_length(v_vectors, 1), v_rows
                USING ERRCODE = '22023', HINT = 'Pass one vector row per vector id.';
        END IF;
    ELSE
        RAISE EXCEPTION 'vectors must have one row per vector id (a two-dimensional array), got % dimensions for % ids',
                pg_catalog.array_ndims(v_vectors), v_rows
            USING ERRCODE = '22023', HINT = 'Pass ARRAY[[x1, ..., xd], ...] or array_agg(embedding).';
    END IF;
    IF v_dim <> v_index.dimension THEN
        RAISE EXCEPTION 'vectors have % elements but index % has dimension %', v_dim,
                pg_catalog.quote_literal(v_index.index_name), v_index.dimension
            USING ERRCODE = '22023', HINT = 'Pass vectors with as many elements as the index dimension.';
    END IF;
    IF v_metadata IS NOT NULL THEN
        IF pg_catalog.array_ndims(v_metadata) IS DISTINCT FROM 1 OR pg_catalog.cardinality(v_metadata) <> v_rows THEN
            RAISE EXCEPTION 'metadata must be NULL or a one-dimensional array with one element per vector id (% expected, got %)',
                    v_rows, pg_catalog.cardinality(v_metadata)
                USING ERRCODE = '22023', HINT = 'Pass array_agg(metadata) from the same rows, with NULL for no metadata.';
        END IF;
        SELECT m.n AS row_number INTO v_bad
          FROM pg_catalog.unnest(v_metadata) WITH ORDINALITY AS m(doc, n)
         WHERE m.doc IS NOT NULL AND pg_catalog.jsonb_typeof(m.doc) <> 'object' ORDER BY m.n LIMIT 1;
        IF v_bad.row_number IS NOT NULL THEN
            RAISE EXCEPTION 'metadata element % is not a JSON object', v_bad.row_number
                USING ERRCODE = '22023', HINT = 'Pass metadata as JSON objects, e.g. ''{"category": "demo"}''::jsonb, or NULL.';
        END IF;
    END IF;

    -- Each row is checked and rounded to float32 by s3vl._vector_json, as query vectors are: the values
    -- sent, and the zero-vector check on a cosine index, do not depend on the session's extra_float_digits.
    FOR v_row IN
        SELECT (u.n - 1) / v_dim + 1 AS r, array_agg(u.x ORDER BY u.n) AS d
          FROM pg_catalog.unnest(v_vectors) WITH ORDINALITY AS u(x, n)
         GROUP BY 1 ORDER BY 1
    LOOP
        v_vector := s3vl._vector_json(v_row.d, v_index,
                                      pg_catalog.format('the vector for %s (row %s)',
                                                        pg_catalog.quote_literal(v_ids[v_row.r]), v_row.r));
        v_items := v_items || CASE
            WHEN v_metadata[v_row.r] IS NULL THEN pg_catalog.json_build_object('key', v_ids[v_row.r], 'data', v_vector)
            ELSE pg_catalog.json_build_object('key', v_ids[v_row.r], 'data', v_vector, 'metadata', v_metadata[v_row.r]) END;
    END LOOP;
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
AS $$
DECLARE
    v_ids text[] := delete_vectors.vector_ids[:];  -- 1-based, whatever the caller's lower bound
    v_index s3vl.index_registry;
    v_keys json[];
BEGIN
    v_index := s3vl._write_index(delete_vectors.index_name, v_ids, delete_vectors.async);
    -- Each id once, in first-seen order.
    SELECT array_agg(pg_catalog.to_json(k.id) ORDER BY k.first_pos) INTO v_keys
      FROM (SELECT u.id, min(u.n) AS first_pos
              FROM pg_catalog.unnest(v_ids) WITH ORDINALITY AS u(id, n) GROUP BY u.id) AS k;
    RETURN s3vl._write_items('delete_vectors', v_index, v_keys, delete_vectors.async, 5000);
END
$$;
COMMENT ON FUNCTION s3vl.delete_vectors(text, text[], boolean) IS
    'Delete vectors by id (missing ids are not an error). Returns the number of distinct ids sent.';
