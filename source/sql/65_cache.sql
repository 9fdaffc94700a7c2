-- Query result cache, opt-in per index: s3vl.set_query_cache(index_name, ttl).
--
-- An entry is keyed by a hash of the whole query_vectors request (index ARN, the vector after float32
-- rounding, top_k, filter, flags, contract version): identical queries within the TTL are answered here
-- without an invocation. Staleness is bounded two ways:
--   * every write through s3vl (put_vectors, delete_vectors, table sync) advances the index's generation,
--     a sequence, after its invocation; an entry is served only while its generation is current.
--     Sequences are not transactional, so a write is seen at once by every session, even before the
--     writer commits and even if it rolls back (the service write is not undone either);
--   * the TTL bounds staleness from writers outside s3vl (the AWS CLI, another application).
-- The cache belongs to the index ARN: a query by any registered name or by ARN shares it. Entries are
-- read only inside s3vl.query_vectors (SECURITY DEFINER, after its checks); the tables and sequences
-- are the installing role's alone, so no role reads another's results except by being allowed to run
-- the same query.

CREATE SEQUENCE IF NOT EXISTS s3vl.query_cache_ids;

CREATE TABLE IF NOT EXISTS s3vl.query_cache (
    index_arn   text        PRIMARY KEY,
    index_name  text        NOT NULL,  -- the name set_query_cache was called with, for cache_stats
    ttl         interval    NOT NULL CHECK (ttl > interval '0'),
    max_entries integer     NOT NULL CHECK (max_entries > 0),
    -- Three sequences per cached index: its write generation, and hit and miss counters (not
    -- transactional, so counting never blocks another session nor fails with the caller's rollback).
    generation  regclass    NOT NULL,
    hits        regclass    NOT NULL,
    misses      regclass    NOT NULL,
    enabled_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    enabled_by  text        NOT NULL DEFAULT SESSION_USER
);
COMMENT ON TABLE s3vl.query_cache IS
    'Indexes whose query_vectors results are cached (s3vl.set_query_cache); read and written only by s3vl.';

CREATE TABLE IF NOT EXISTS s3vl.query_cache_entries (
    index_arn  text        NOT NULL REFERENCES s3vl.query_cache ON DELETE CASCADE,
    request    bytea       NOT NULL,  -- sha256 of the request document
    generation bigint      NOT NULL,
    filled_at  timestamptz NOT NULL,
    result     jsonb       NOT NULL,
    PRIMARY KEY (index_arn, request)
);
CREATE INDEX IF NOT EXISTS query_cache_entries_age ON s3vl.query_cache_entries (index_arn, filled_at);
COMMENT ON TABLE s3vl.query_cache_entries IS
    'Cached query_vectors results; never readable by s3vl_user or s3vl_admin directly.';

-- Results larger than this are not cached: one entry must not crowd out the rest.
CREATE OR REPLACE FUNCTION s3vl._query_cache_max_result_bytes()
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 1048576 $$;

-- A sequence's current value; 0 before its first nextval.
CREATE OR REPLACE FUNCTION s3vl._query_cache_counter(p_sequence regclass)
RETURNS bigint
LANGUAGE sql STABLE
AS $$ SELECT coalesce(pg_catalog.pg_sequence_last_value(p_sequence), 0) $$;

-- The cached answer to p_request, or NULL. o_generation (NULL when the index is not cached) is the
-- generation to store a fresh answer under: read before the invocation, so that a write finishing
-- during it makes that answer stale at once.
CREATE OR REPLACE FUNCTION s3vl._query_cache_get(
    p_index_arn text, p_request json, OUT o_result jsonb, OUT o_generation bigint)
LANGUAGE plpgsql
AS $$
DECLARE
    v_cache s3vl.query_cache;
    v_counting boolean := pg_catalog.current_setting('transaction_read_only') = 'off';
BEGIN
    SELECT * INTO v_cache FROM s3vl.query_cache c WHERE c.index_arn = p_index_arn;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    o_generation := s3vl._query_cache_counter(v_cache.generation);
    SELECT e.result INTO o_result
      FROM s3vl.query_cache_entries e
     WHERE e.index_arn = p_index_arn
       AND e.request = pg_catalog.sha256(pg_catalog.convert_to(p_request::text, 'UTF8'))
       AND e.generation = o_generation
       AND e.filled_at > pg_catalog.clock_timestamp() - v_cache.ttl;
    IF v_counting THEN  -- a read-only transaction is served, but cannot advance a sequence
        PERFORM pg_catalog.nextval(CASE WHEN o_result IS NULL THEN v_cache.misses ELSE v_cache.hits END);
    END IF;
END
$$;

-- Store a fresh answer obtained under p_generation; drop stale, expired and surplus entries of the index.
CREATE OR REPLACE FUNCTION s3vl._query_cache_put(
    p_index_arn text, p_request json, p_result jsonb, p_generation bigint)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_cache s3vl.query_cache;
BEGIN
    IF p_generation IS NULL OR pg_catalog.current_setting('transaction_read_only') = 'on'
       OR pg_catalog.pg_column_size(p_result) > s3vl._query_cache_max_result_bytes() THEN
        RETURN;
    END IF;
    SELECT * INTO v_cache FROM s3vl.query_cache c WHERE c.index_arn = p_index_arn;
    IF NOT FOUND OR s3vl._query_cache_counter(v_cache.generation) <> p_generation THEN
        RETURN;  -- turned off, or written to while we asked: the answer may already be stale
    END IF;
    DELETE FROM s3vl.query_cache_entries e
     WHERE e.index_arn = p_index_arn
       AND (e.generation <> p_generation OR e.filled_at <= pg_catalog.clock_timestamp() - v_cache.ttl);
    INSERT INTO s3vl.query_cache_entries AS e (index_arn, request, generation, filled_at, result)
    VALUES (p_index_arn, pg_catalog.sha256(pg_catalog.convert_to(p_request::text, 'UTF8')), p_generation,
            pg_catalog.clock_timestamp(), p_result)
    ON CONFLICT (index_arn, request) DO UPDATE
        SET generation = excluded.generation, filled_at = excluded.filled_at, result = excluded.result;
    -- The size bound: the oldest entries beyond max_entries go.
    DELETE FROM s3vl.query_cache_entries e
     WHERE e.index_arn = p_index_arn
       AND e.request IN (SELECT o.request FROM s3vl.query_cache_entries o
                          WHERE o.index_arn = p_index_arn
                          ORDER BY o.filled_at DESC OFFSET v_cache.max_entries);
END
$$;

-- Makes the index's cached results stale (s3vl._invoke_write calls it).
CREATE OR REPLACE FUNCTION s3vl._query_cache_invalidate(p_index_arn text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_generation regclass;
BEGIN
    SELECT c.generation INTO v_generation FROM s3vl.query_cache c WHERE c.index_arn = p_index_arn;
    IF FOUND THEN
        PERFORM pg_catalog.nextval(v_generation);
    END IF;
END
$$;

-- Every invocation that writes to an index (put_vectors, delete_vectors, sync's flush) goes through here,
-- so that the index's cached results are stale after it, and after a failed one too: part of its items
-- may be applied. The sequence ignores the rollback of this block, so the invalidation stands whether or
-- not the caller catches the error.
CREATE OR REPLACE FUNCTION s3vl._invoke_write(
    p_operation text, p_index_arn text, p_request json, p_invocation_type text DEFAULT 'RequestResponse')
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    v_result jsonb;
BEGIN
    v_result := s3vl._invoke_request(p_operation, p_request, p_invocation_type);
    PERFORM s3vl._query_cache_invalidate(p_index_arn);
    RETURN v_result;
EXCEPTION WHEN OTHERS THEN
    PERFORM s3vl._query_cache_invalidate(p_index_arn);
    RAISE;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.set_query_cache(
    index_name text, ttl interval, max_entries integer DEFAULT 1000)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    v_index s3vl.index_registry;
    v_cache s3vl.query_cache;
    v_id bigint;
BEGIN
    v_index := s3vl._index(set_query_cache.index_name);
    IF set_query_cache.ttl IS NOT NULL AND set_query_cache.ttl <= interval '0' THEN
        RAISE EXCEPTION 'ttl must be a positive interval, got %', set_query_cache.ttl
            USING ERRCODE = '22023', HINT = 'Pass e.g. interval ''5 minutes'', or NULL to turn the cache off.';
    END IF;
    IF set_query_cache.max_entries IS NULL OR set_query_cache.max_entries < 1 THEN
        RAISE EXCEPTION 'max_entries must be a positive integer, got %', coalesce(set_query_cache.max_entries::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'Pass max_entries => n with n >= 1 (default 1000).';
    END IF;
    SELECT * INTO v_cache FROM s3vl.query_cache c WHERE c.index_arn = v_index.index_arn FOR UPDATE;
    IF set_query_cache.ttl IS NULL THEN
        IF FOUND THEN
            DELETE FROM s3vl.query_cache c WHERE c.index_arn = v_index.index_arn;  -- entries cascade
            EXECUTE pg_catalog.format('DROP SEQUENCE %s, %s, %s', v_cache.generation, v_cache.hits, v_cache.misses);
        END IF;
        RETURN false;
    END IF;
    IF FOUND THEN
        UPDATE s3vl.query_cache c
           SET ttl = set_query_cache.ttl, max_entries = set_query_cache.max_entries
         WHERE c.index_arn = v_index.index_arn;
        RETURN true;
    END IF;
    v_id := pg_catalog.nextval('s3vl.query_cache_ids');
    EXECUTE pg_catalog.format('CREATE SEQUENCE s3vl.%I; CREATE SEQUENCE s3vl.%I; CREATE SEQUENCE s3vl.%I',
                              'query_cache_' || v_id || '_generation', 'query_cache_' || v_id || '_hits',
                              'query_cache_' || v_id || '_misses');
    INSERT INTO s3vl.query_cache (index_arn, index_name, ttl, max_entries, generation, hits, misses)
    VALUES (v_index.index_arn, v_index.index_name, set_query_cache.ttl, set_query_cache.max_entries,
            pg_catalog.format('s3vl.%I', 'query_cache_' || v_id || '_generation')::regclass,
            pg_catalog.format('s3vl.%I', 'query_cache_' || v_id || '_hits')::regclass,
            pg_catalog.format('s3vl.%I', 'query_cache_' || v_id || '_misses')::regclass);
    RETURN true;
END
$$;
COMMENT ON FUNCTION s3vl.set_query_cache(text, interval, integer) IS
    'Cache query_vectors results of the index for ttl (NULL turns the cache off and empties it), keeping at '
    'most max_entries results; every write through s3vl to the index invalidates them at once.';

CREATE OR REPLACE FUNCTION s3vl.cache_stats()
RETURNS TABLE (index_name text, index_arn text, ttl interval, max_entries integer,
               hits bigint, misses bigint, entries bigint, bytes bigint)
LANGUAGE sql
AS $$
    SELECT c.index_name, c.index_arn, c.ttl, c.max_entries,
           s3vl._query_cache_counter(c.hits), s3vl._query_cache_counter(c.misses),
           count(e.request), coalesce(sum(pg_catalog.pg_column_size(e.result)), 0)::bigint
      FROM s3vl.query_cache c
      LEFT JOIN s3vl.query_cache_entries e
        ON e.index_arn = c.index_arn
       AND e.generation = s3vl._query_cache_counter(c.generation)
       AND e.filled_at > pg_catalog.clock_timestamp() - c.ttl
     GROUP BY c.index_arn
     ORDER BY c.index_name
$$;
COMMENT ON FUNCTION s3vl.cache_stats() IS
    'Per cached index: its settings, hits and misses since set_query_cache turned it on, and the live '
    '(current, unexpired) entries and their bytes.';
