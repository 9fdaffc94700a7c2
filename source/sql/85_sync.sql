-- Table sync: keep a table and its vector index in step (docs/sync.md).
--
-- Change capture: AFTER ROW triggers on the synced table write the changed key into s3vl.sync_outbox in
-- the writer's own transaction (ROLLBACK captures nothing, COMMIT captures everything). An outbox entry
-- says only "this key changed": s3vl.flush() reads the row as it is when it sends, puts it if it exists
-- and deletes its vector otherwise. Several changes of one key therefore coalesce to the latest, and a
-- resend after a crash sends the same (or a newer) state: puts and deletes are idempotent.
-- An entry is deleted only by the flush that locked it before reading the row and whose send succeeded,
-- in the same transaction; a per-key advisory lock keeps two flushers from sending one key at once.

CREATE TABLE IF NOT EXISTS s3vl.sync_tables (
    table_oid        oid         PRIMARY KEY,
    table_name       text        NOT NULL,  -- as at sync time, for messages
    index_name       text        NOT NULL,
    key_column       name        NOT NULL,
    key_type         text        NOT NULL,  -- format_type of the key column: flush casts the ids back to it
    embedding_column name        NOT NULL,
    metadata_columns text[]      NOT NULL DEFAULT '{}',
    synced_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    synced_by        text        NOT NULL DEFAULT SESSION_USER,
    last_flush_at    timestamptz,
    last_error       text,
    last_error_at    timestamptz
);
COMMENT ON TABLE s3vl.sync_tables IS 'Tables kept in step with an index; written by s3vl.sync_table/unsync_table.';

CREATE TABLE IF NOT EXISTS s3vl.sync_outbox (
    change_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_oid       oid         NOT NULL,
    vector_id       text        NOT NULL,
    enqueued_at     timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    state           text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT '-infinity',
    last_error      text,
    last_sqlstate   text
);
CREATE INDEX IF NOT EXISTS sync_outbox_key ON s3vl.sync_outbox (table_oid, vector_id);
COMMENT ON TABLE s3vl.sync_outbox IS
    'Keys changed in synced tables and not yet sent (pending) or refused for good (failed).';

-- The metadata key that carries each synced vector's version (see s3vl._sync_version).
CREATE OR REPLACE FUNCTION s3vl._sync_version_key()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 's3vl_version' $$;

-- The version of a synced vector: the first 16 hex digits of the MD5 of the float32 vector as JSON text
-- (shortest digits that read back as each float32) and of the metadata's jsonb text, joined by '|'.
-- The row and the index agree exactly when their versions match.
CREATE OR REPLACE FUNCTION s3vl._sync_version(p_data json, p_metadata jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT pg_catalog.left(pg_catalog.md5(p_data::text || '|' || p_metadata::text), 16) $$;

-- Metadata columns as a JSON object without NULL values and empty arrays (S3 Vectors rejects empty lists).
CREATE OR REPLACE FUNCTION s3vl._sync_metadata(p_columns jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(pg_catalog.jsonb_object_agg(e.key, e.value), '{}'::jsonb)
      FROM pg_catalog.jsonb_each(p_columns) AS e
     WHERE e.value <> 'null'::jsonb AND e.value <> '[]'::jsonb
$$;

-- The sync_tables row of a table, or 42704 when it is not synced.
CREATE OR REPLACE FUNCTION s3vl._sync_table(p_table regclass)
RETURNS s3vl.sync_tables
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_sync s3vl.sync_tables;
BEGIN
    IF p_table IS NULL THEN
        RAISE EXCEPTION 'table_name must not be NULL' USING ERRCODE = '22023', HINT = 'Pass the synced table, e.g. ''public.items''.';
    END IF;
    SELECT * INTO v_sync FROM s3vl.sync_tables s WHERE s.table_oid = p_table;
    IF v_sync.table_oid IS NULL THEN
        RAISE EXCEPTION 'table % is not synced', p_table
            USING ERRCODE = '42704',
                  HINT = 'Sync it with s3vl.sync_table(...); SELECT * FROM s3vl.sync_status() lists the synced tables.';
    END IF;
    RETURN v_sync;
END
$$;

-- The query that reads synced rows as vectors: (vector_id, data json of float32, metadata jsonb with the
-- version). $1 is a text[] of keys, or NULL for every row.
CREATE OR REPLACE FUNCTION s3vl._sync_rows_sql(p_sync s3vl.sync_tables)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT pg_catalog.format(
        'SELECT r.vector_id, r.data, r.metadata || pg_catalog.jsonb_build_object(%L, s3vl._sync_version(r.data, r.metadata)) '
        'FROM (SELECT t.%I::text AS vector_id, pg_catalog.array_to_json(t.%I::real[]) AS data, %s AS metadata '
        'FROM %s t WHERE $1 IS NULL OR t.%I = ANY ($1::%s[])) r',
        s3vl._sync_version_key(), p_sync.key_column, p_sync.embedding_column,
        CASE WHEN pg_catalog.cardinality(p_sync.metadata_columns) = 0 THEN '''{}''::jsonb'
             ELSE 's3vl._sync_metadata(pg_catalog.jsonb_build_object('
                  || (SELECT pg_catalog.string_agg(pg_catalog.format('%L, t.%I', c, c), ', ' ORDER BY n)
                        FROM pg_catalog.unnest(p_sync.metadata_columns) WITH ORDINALITY AS m(c, n))
                  || '))' END,
        p_sync.table_oid::regclass, p_sync.key_column, p_sync.key_type)
$$;

-- Check one embedding as captured; raises 22004 / 22023 naming the table, the key and the fix.
CREATE OR REPLACE FUNCTION s3vl._sync_check_embedding(
    p_sync s3vl.sync_tables, p_index s3vl.index_registry, p_key text, p_vector double precision[])
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_where text := pg_catalog.format('%s row %s', p_sync.table_name, pg_catalog.quote_literal(p_key));
    v_rounded real[];
BEGIN
    IF pg_catalog.char_length(p_key) NOT BETWEEN 1 AND s3vl._contract_limit('key_length_max') THEN
        RAISE EXCEPTION '%: the key is % characters long, which cannot be a vector id', v_where, pg_catalog.char_length(p_key)
            USING ERRCODE = '22023', HINT = pg_catalog.format('Vector ids have 1 to %s characters: shorten the key.',
                                                              s3vl._contract_limit('key_length_max'));
    END IF;
    IF p_vector IS NULL THEN
        RAISE EXCEPTION '%: column % is NULL, and a synced row needs an embedding', v_where, p_sync.embedding_column
            USING ERRCODE = '22004',
                  HINT = pg_catalog.format('Write the embedding in the same statement as the row, or keep rows without '
                                           'one in another table; index %s takes one vector per row.', p_index.index_name);
    END IF;
    IF pg_catalog.array_ndims(p_vector) IS DISTINCT FROM 1 OR pg_catalog.cardinality(p_vector) <> p_index.dimension THEN
        RAISE EXCEPTION '%: column % has % elements in % dimension(s), but index % has dimension %', v_where,
                p_sync.embedding_column, pg_catalog.cardinality(p_vector), coalesce(pg_catalog.array_ndims(p_vector), 0),
                pg_catalog.quote_literal(p_index.index_name), p_index.dimension
            USING ERRCODE = '22023', HINT = pg_catalog.format('Write a one-dimensional array of %s numbers.', p_index.dimension);
    END IF;
    IF pg_catalog.array_position(p_vector, NULL) IS NOT NULL THEN
        RAISE EXCEPTION '%: column % has a NULL element at position %', v_where, p_sync.embedding_column,
                pg_catalog.array_position(p_vector, NULL)
            USING ERRCODE = '22004', HINT = 'Replace NULL elements with numbers.';
    END IF;
    IF 'NaN'::double precision = ANY (p_vector) OR 'Infinity'::double precision = ANY (p_vector)
       OR '-Infinity'::double precision = ANY (p_vector) THEN
        RAISE EXCEPTION '%: column % contains NaN or Infinity', v_where, p_sync.embedding_column
            USING ERRCODE = '22023', HINT = 'S3 Vectors accepts finite numbers only.';
    END IF;
    BEGIN
        v_rounded := p_vector::real[];
    EXCEPTION WHEN numeric_value_out_of_range THEN
        RAISE EXCEPTION '%: column % has an element beyond the float32 range', v_where, p_sync.embedding_column
            USING ERRCODE = '22023', HINT = 'S3 Vectors stores float32: scale the vector into that range.';
    END;
    IF p_index.distance_metric = 'cosine' AND 0 = ALL (v_rounded) THEN
        RAISE EXCEPTION '%: column % is the zero vector, which the cosine index % rejects', v_where,
                p_sync.embedding_column, pg_catalog.quote_literal(p_index.index_name)
            USING ERRCODE = '22023', HINT = 'Give every vector at least one non-zero element.';
    END IF;
END
$$;

-- The capture trigger: runs with the installing role's rights, so any role allowed to write the table
-- writes the outbox without any s3vl privilege. TG_ARGV[0] is the synced table's oid (a partition's
-- trigger reports the partition as TG_RELID).
CREATE OR REPLACE FUNCTION s3vl.sync_capture()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    v_sync s3vl.sync_tables;
    v_index s3vl.index_registry;
    v_new_key text;
    v_old_key text;
    v_vector double precision[];
BEGIN
    SELECT * INTO v_sync FROM s3vl.sync_tables s WHERE s.table_oid = TG_ARGV[0]::oid;
    IF v_sync.table_oid IS NULL THEN
        RETURN NULL;  -- a trigger left behind by a failed unsync: nothing is synced any more
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE pg_catalog.format('SELECT ($1).%I::text, ($1).%I::double precision[]', v_sync.key_column,
                                  v_sync.embedding_column)
           INTO v_new_key, v_vector USING NEW;
        SELECT * INTO v_index FROM s3vl.index_registry r WHERE r.index_name = v_sync.index_name;
        IF v_index.index_name IS NOT NULL THEN
            PERFORM s3vl._sync_check_embedding(v_sync, v_index, v_new_key, v_vector);
        END IF;
        INSERT INTO s3vl.sync_outbox (table_oid, vector_id) VALUES (v_sync.table_oid, v_new_key);
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        EXECUTE pg_catalog.format('SELECT ($1).%I::text', v_sync.key_column) INTO v_old_key USING OLD;
        IF v_old_key IS DISTINCT FROM v_new_key THEN
            INSERT INTO s3vl.sync_outbox (table_oid, vector_id) VALUES (v_sync.table_oid, v_old_key);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION s3vl._sync_refuse_truncate()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'TRUNCATE of % is refused: it is synced to a vector index and TRUNCATE reports no keys', TG_RELID::regclass
        USING ERRCODE = '55006',
              HINT = pg_catalog.format('DELETE FROM %s (captured), or SELECT s3vl.unsync_table(%L) first.',
                                       TG_RELID::regclass, TG_RELID::regclass::text);
END
$$;

-- DROP of a synced table (alone or through DROP SCHEMA ... CASCADE) is refused: its pending changes and
-- the index would be left without the rows they describe.
CREATE OR REPLACE FUNCTION s3vl.sync_refuse_drop()
RETURNS event_trigger
LANGUAGE plpgsql
AS $$
DECLARE
    v_table text;
    v_index text;
BEGIN
    IF pg_catalog.to_regclass('s3vl.sync_tables') IS NULL THEN
        RETURN;  -- s3vl itself is being dropped
    END IF;
    SELECT s.table_name, s.index_name INTO v_table, v_index
      FROM pg_catalog.pg_event_trigger_dropped_objects() d
      JOIN s3vl.sync_tables s ON s.table_oid = d.objid
     WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objsubid = 0
     LIMIT 1;
    IF v_table IS NOT NULL THEN
        RAISE EXCEPTION 'table % is synced to index %: drop refused', v_table, pg_catalog.quote_literal(v_index)
            USING ERRCODE = '55006',
                  HINT = pg_catalog.format('Run SELECT s3vl.unsync_table(%L) first (see s3vl.sync_status() for pending changes).', v_table);
    END IF;
END
$$;

DO $event$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = 's3vl_sync_refuse_drop') THEN
        CREATE EVENT TRIGGER s3vl_sync_refuse_drop ON sql_drop EXECUTE FUNCTION s3vl.sync_refuse_drop();
    END IF;
END
$event$;

-- Column types that become metadata values, with the most UTF-8 JSON bytes a value can take (NULL:
-- unbounded, checked per row at flush).
CREATE OR REPLACE FUNCTION s3vl._sync_metadata_width(p_type oid, p_typmod integer)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN p_type = 'pg_catalog.bool'::regtype THEN 5
        WHEN p_type IN ('pg_catalog.int2'::regtype, 'pg_catalog.int4'::regtype) THEN 11
        WHEN p_type = 'pg_catalog.int8'::regtype THEN 20
        WHEN p_type IN ('pg_catalog.float4'::regtype, 'pg_catalog.float8'::regtype) THEN 26
        WHEN p_type IN ('pg_catalog.date'::regtype, 'pg_catalog.uuid'::regtype) THEN 40
        WHEN p_type IN ('pg_catalog.timestamp'::regtype, 'pg_catalog.timestamptz'::regtype) THEN 40
        WHEN p_type IN ('pg_catalog.varchar'::regtype, 'pg_catalog.bpchar'::regtype) AND p_typmod > 4
            THEN (p_typmod - 4) * 6 + 2  -- a character escaped as \uXXXX is 6 bytes
        ELSE NULL END
$$;

CREATE OR REPLACE FUNCTION s3vl._sync_metadata_type_ok(p_type oid)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(t.typcategory IN ('S', 'N', 'B', 'D')  -- strings, numbers, booleans, dates and times
                    OR (t.typcategory = 'A' AND e.typcategory IN ('S', 'N', 'B', 'D'))
                    OR t.oid = 'pg_catalog.uuid'::regtype OR e.oid = 'pg_catalog.uuid'::regtype, false)
      FROM pg_catalog.pg_type t LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
     WHERE t.oid = p_type
$$;

CREATE OR REPLACE FUNCTION s3vl.sync_table(
    table_name regclass,
    index_name text,
    key_column name,
    embedding_column name,
    metadata_columns text[] DEFAULT NULL,
    backfill boolean DEFAULT true)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_table regclass := sync_table.table_name;
    v_index s3vl.index_registry;
    v_class record;
    v_key record;
    v_embedding record;
    v_column record;
    v_metadata text[] := coalesce(sync_table.metadata_columns, '{}');
    v_bytes bigint := 0;
    v_sync s3vl.sync_tables;
    v_row record;
    v_count bigint := 0;
    v_columns text;
BEGIN
    IF v_table IS NULL THEN
        RAISE EXCEPTION 'table_name must not be NULL' USING ERRCODE = '22023', HINT = 'Pass the table, e.g. ''public.items''.';
    END IF;
    IF sync_table.backfill IS NULL THEN
        RAISE EXCEPTION 'backfill must not be NULL' USING ERRCODE = '22023', HINT = 'Pass TRUE or FALSE.';
    END IF;
    v_index := s3vl._index(sync_table.index_name);
    SELECT c.relkind, c.relpersistence, c.relname INTO v_class FROM pg_catalog.pg_class c WHERE c.oid = v_table;
    IF v_class.relkind NOT IN ('r', 'p') OR v_class.relpersistence = 't' THEN
        RAISE EXCEPTION '% is not a permanent table', v_table
            USING ERRCODE = '42809', HINT = 'Sync a regular or partitioned table (not a view, foreign or temporary table).';
    END IF;
    -- The function runs with the installing role's rights: the caller must be allowed to read the table
    -- and to put triggers on it.
    IF NOT (pg_catalog.has_table_privilege(SESSION_USER, v_table, 'SELECT')
            AND pg_catalog.has_table_privilege(SESSION_USER, v_table, 'TRIGGER')) THEN
        RAISE EXCEPTION 'permission denied: % needs SELECT and TRIGGER on % to sync it', SESSION_USER, v_table
            USING ERRCODE = '42501', HINT = pg_catalog.format('GRANT SELECT, TRIGGER ON %s TO %I;', v_table, SESSION_USER);
    END IF;
    IF EXISTS (SELECT 1 FROM s3vl.sync_tables s WHERE s.table_oid = v_table) THEN
        RAISE EXCEPTION 'table % is already synced to index %', v_table,
                (SELECT pg_catalog.quote_literal(s.index_name) FROM s3vl.sync_tables s WHERE s.table_oid = v_table)
            USING ERRCODE = '42710', HINT = pg_catalog.format('Run SELECT s3vl.unsync_table(%L) first to change it.', v_table::text);
    END IF;

    SELECT a.attname, a.atttypid, a.attnotnull INTO v_key
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = v_table AND a.attname = sync_table.key_column AND a.attnum > 0 AND NOT a.attisdropped;
    SELECT a.attname, a.atttypid INTO v_embedding
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = v_table AND a.attname = sync_table.embedding_column AND a.attnum > 0 AND NOT a.attisdropped;
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO v_columns
      FROM pg_catalog.pg_attribute a WHERE a.attrelid = v_table AND a.attnum > 0 AND NOT a.attisdropped;
    IF v_key.attname IS NULL OR v_embedding.attname IS NULL THEN
        RAISE EXCEPTION 'column % of table % does not exist',
                pg_catalog.quote_ident(CASE WHEN v_key.attname IS NULL THEN coalesce(sync_table.key_column, 'NULL')
                                            ELSE coalesce(sync_table.embedding_column, 'NULL') END), v_table
            USING ERRCODE = '42703', HINT = pg_catalog.format('Its columns are: %s.', v_columns);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = v_table AND i.indisprimary) THEN
        RAISE EXCEPTION 'table % has no primary key', v_table
            USING ERRCODE = '55000',
                  HINT = pg_catalog.format('s3vl keys each vector by the row''s primary key: ALTER TABLE %s ADD PRIMARY KEY (%I);',
                                           v_table, sync_table.key_column);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                    WHERE i.indrelid = v_table AND i.indisprimary AND i.indnatts = 1
                      AND i.indkey[0] = (SELECT a.attnum FROM pg_catalog.pg_attribute a
                                          WHERE a.attrelid = v_table AND a.attname = sync_table.key_column)) THEN
        RAISE EXCEPTION 'column % is not the primary key of table %', pg_catalog.quote_ident(sync_table.key_column), v_table
            USING ERRCODE = '42P10',
                  HINT = 'Pass the single-column primary key as key_column (a composite key cannot be one vector id).';
    END IF;
    IF v_embedding.atttypid NOT IN ('pg_catalog.float4[]'::regtype, 'pg_catalog.float8[]'::regtype) THEN
        RAISE EXCEPTION 'column % of table % is %, not real[] or double precision[]', pg_catalog.quote_ident(sync_table.embedding_column),
                v_table, pg_catalog.format_type(v_embedding.atttypid, NULL)
            USING ERRCODE = '42804', HINT = 'Store the embedding as real[] or double precision[].';
    END IF;

    IF pg_catalog.array_ndims(v_metadata) > 1 OR pg_catalog.array_position(v_metadata, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'metadata_columns must be a flat array of column names without NULL'
            USING ERRCODE = '22023', HINT = 'Pass e.g. ARRAY[''category'', ''price''].';
    END IF;
    IF s3vl._sync_version_key() = ANY (v_metadata) THEN
        RAISE EXCEPTION 'metadata column % has the name of the version key s3vl adds', s3vl._sync_version_key()
            USING ERRCODE = '42701', HINT = 'Rename the column or leave it out of metadata_columns.';
    END IF;
    IF (SELECT count(DISTINCT c) FROM pg_catalog.unnest(v_metadata) c) <> pg_catalog.cardinality(v_metadata) THEN
        RAISE EXCEPTION 'metadata_columns names a column twice' USING ERRCODE = '42701', HINT = 'Name each column once.';
    END IF;
    IF pg_catalog.cardinality(v_metadata) + 1 > s3vl._contract_limit('metadata_max_keys') THEN
        RAISE EXCEPTION '% metadata columns plus the version key exceed the % metadata keys S3 Vectors allows per vector',
                pg_catalog.cardinality(v_metadata), s3vl._contract_limit('metadata_max_keys')
            USING ERRCODE = '54000',
                  HINT = pg_catalog.format('Pass at most %s metadata columns.', s3vl._contract_limit('metadata_max_keys') - 1);
    END IF;
    FOR v_column IN
        SELECT m.c, a.attname, a.atttypid, a.atttypmod
          FROM pg_catalog.unnest(v_metadata) WITH ORDINALITY AS m(c, n)
          LEFT JOIN pg_catalog.pg_attribute a
            ON a.attrelid = v_table AND a.attname = m.c AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY m.n
    LOOP
        IF v_column.attname IS NULL THEN
            RAISE EXCEPTION 'metadata column % of table % does not exist', pg_catalog.quote_ident(v_column.c), v_table
                USING ERRCODE = '42703', HINT = pg_catalog.format('Its columns are: %s.', v_columns);
        END IF;
        IF v_column.attname = sync_table.embedding_column OR NOT s3vl._sync_metadata_type_ok(v_column.atttypid) THEN
            RAISE EXCEPTION 'column % (%) cannot be vector metadata', pg_catalog.quote_ident(v_column.c),
                    pg_catalog.format_type(v_column.atttypid, v_column.atttypmod)
                USING ERRCODE = '42804',
                      HINT = 'Metadata values are strings, numbers, booleans, dates or arrays of them; leave the column out.';
        END IF;
        -- "name":value, plus a comma.
        v_bytes := v_bytes + pg_catalog.octet_length(pg_catalog.to_json(v_column.c)::text) + 2
                   + coalesce(s3vl._sync_metadata_width(v_column.atttypid, v_column.atttypmod), 0);
    END LOOP;
    IF v_bytes + 40 > s3vl._contract_limit('metadata_total_bytes') THEN
        RAISE EXCEPTION 'metadata columns % can take % bytes per vector, over the % KB S3 Vectors allows', v_metadata, v_bytes + 40,
                s3vl._contract_limit('metadata_total_bytes') / 1024
            USING ERRCODE = '54000', HINT = 'Pass fewer or narrower metadata columns.';
    END IF;

    INSERT INTO s3vl.sync_tables (table_oid, table_name, index_name, key_column, key_type, embedding_column, metadata_columns)
    VALUES (v_table, v_table::text, v_index.index_name, sync_table.key_column,
            pg_catalog.format_type(v_key.atttypid, NULL), sync_table.embedding_column, v_metadata)
    RETURNING * INTO v_sync;

    -- Rows already there must be valid vectors too, by the capture trigger's own check: the first one
    -- that is not stops sync_table with the error its write would have raised.
    IF sync_table.backfill THEN
        FOR v_row IN EXECUTE pg_catalog.format('SELECT t.%I::text AS k, t.%I::double precision[] AS v FROM %s t',
                                               sync_table.key_column, sync_table.embedding_column, v_table) LOOP
            PERFORM s3vl._sync_check_embedding(v_sync, v_index, v_row.k, v_row.v);
        END LOOP;
        EXECUTE pg_catalog.format('INSERT INTO s3vl.sync_outbox (table_oid, vector_id) SELECT $1, t.%1$I::text FROM %2$s t ORDER BY t.%1$I',
                                  sync_table.key_column, v_table)
          USING v_sync.table_oid;
        GET DIAGNOSTICS v_count = ROW_COUNT;
    END IF;

    EXECUTE pg_catalog.format(
        'CREATE TRIGGER s3vl_sync_insert_delete AFTER INSERT OR DELETE ON %s '
        'FOR EACH ROW EXECUTE FUNCTION s3vl.sync_capture(%L)', v_table, v_sync.table_oid);
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER s3vl_sync_update AFTER UPDATE OF %s ON %s FOR EACH ROW WHEN (%s) '
        'EXECUTE FUNCTION s3vl.sync_capture(%L)',
        (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(c), ', ')
           FROM pg_catalog.unnest(ARRAY[sync_table.key_column::text, sync_table.embedding_column::text] || v_metadata) c),
        v_table,
        (SELECT pg_catalog.string_agg(pg_catalog.format('OLD.%1$I IS DISTINCT FROM NEW.%1$I', c), ' OR ')
           FROM pg_catalog.unnest(ARRAY[sync_table.key_column::text, sync_table.embedding_column::text] || v_metadata) c),
        v_sync.table_oid);
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER s3vl_sync_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION s3vl._sync_refuse_truncate()',
        v_table);
    RETURN v_count;
END
$$;
COMMENT ON FUNCTION s3vl.sync_table(regclass, text, name, name, text[], boolean) IS
    'Capture every change of the table''s key, embedding and metadata columns for s3vl.flush(); '
    'returns the number of existing rows enqueued (backfill).';

CREATE OR REPLACE FUNCTION s3vl.unsync_table(table_name regclass, discard_pending boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_sync s3vl.sync_tables := s3vl._sync_table(unsync_table.table_name);
    v_waiting bigint;
BEGIN
    IF NOT pg_catalog.has_table_privilege(SESSION_USER, v_sync.table_oid, 'TRIGGER') THEN
        RAISE EXCEPTION 'permission denied: % needs TRIGGER on % to unsync it', SESSION_USER, v_sync.table_name
            USING ERRCODE = '42501', HINT = pg_catalog.format('GRANT TRIGGER ON %s TO %I;', v_sync.table_name, SESSION_USER);
    END IF;
    SELECT count(*) INTO v_waiting FROM s3vl.sync_outbox o WHERE o.table_oid = v_sync.table_oid;
    IF v_waiting > 0 AND NOT coalesce(unsync_table.discard_pending, false) THEN
        RAISE EXCEPTION 'table % has % change(s) not yet in index %', v_sync.table_name, v_waiting,
                pg_catalog.quote_literal(v_sync.index_name)
            USING ERRCODE = '55006',
                  HINT = pg_catalog.format('Run SELECT * FROM s3vl.flush(); until nothing is pending (failed changes: '
                                           'see s3vl.sync_status()), or pass discard_pending => true to drop them.');
    END IF;
    -- Wait for a flush sending this table's changes (it holds them FOR UPDATE) before discarding them.
    PERFORM 1 FROM s3vl.sync_outbox o WHERE o.table_oid = v_sync.table_oid FOR UPDATE;
    DELETE FROM s3vl.sync_outbox o WHERE o.table_oid = v_sync.table_oid;
    GET DIAGNOSTICS v_waiting = ROW_COUNT;
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS s3vl_sync_insert_delete ON %s', v_sync.table_oid::regclass);
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS s3vl_sync_update ON %s', v_sync.table_oid::regclass);
    EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS s3vl_sync_truncate ON %s', v_sync.table_oid::regclass);
    DELETE FROM s3vl.sync_tables s WHERE s.table_oid = v_sync.table_oid;
    RETURN v_waiting;
END
$$;
COMMENT ON FUNCTION s3vl.unsync_table(regclass, boolean) IS
    'Stop capturing the table''s changes (its vectors stay in the index); refuses while changes are '
    'pending unless discard_pending. Returns the number of changes discarded.';

-- Flushing.

-- The advisory lock that makes one flusher at a time the owner of a key.
CREATE OR REPLACE FUNCTION s3vl._sync_lock_key(p_table oid, p_vector_id text)
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT pg_catalog.hashtextextended(p_table::text || '/' || p_vector_id, 5318008) $$;

-- Wait before the next attempt of a change whose send failed for a reason a retry can fix: 0.5 s doubled
-- per attempt up to 5 minutes, plus up to 50 % random jitter so that flushers do not retry in step.
CREATE OR REPLACE FUNCTION s3vl._sync_backoff(p_attempts integer)
RETURNS interval
LANGUAGE sql VOLATILE
AS $$
    SELECT pg_catalog.make_interval(secs => LEAST(300, 0.5 * 2 ^ LEAST(GREATEST(p_attempts, 1) - 1, 10))
                                            * (1 + pg_catalog.random() * 0.5))
$$;

-- One invocation: put_vectors of items ({key, data, metadata} JSON texts) or delete_vectors of keys
-- (JSON strings). The request is built as text: the vectors are copied, never parsed into jsonb.
CREATE OR REPLACE FUNCTION s3vl._sync_send(p_index s3vl.index_registry, p_delete boolean, p_items text[])
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_operation text := CASE WHEN p_delete THEN 'delete_vectors' ELSE 'put_vectors' END;
BEGIN
    PERFORM s3vl._invoke_write(
        v_operation,
        p_index.index_arn,
        pg_catalog.format('{"operation": %s, "contract_version": %s, "index_arn": %s, %s: [%s]}',
                          pg_catalog.to_json(v_operation), s3vl._contract_version(), pg_catalog.to_json(p_index.index_arn),
                          CASE WHEN p_delete THEN '"keys"' ELSE '"vectors"' END,
                          pg_catalog.array_to_string(p_items, ','))::json);
END
$$;

-- Send the owned changes of one table: p_items (put items, or for deletes the keys as JSON strings), one
-- per key of p_keys, in batches
-- under the service's 500 per call and the Lambda payload limit. A batch the service refuses as invalid
-- is halved until the change at fault is alone, which is parked as failed; a batch that fails for any
-- other reason stays pending with a backoff, and the flush stops (the next batches would fail alike).
CREATE OR REPLACE FUNCTION s3vl._sync_send_batches(
    p_sync s3vl.sync_tables, p_index s3vl.index_registry, p_delete boolean, p_keys text[], p_items text[],
    p_ids bigint[], OUT sent bigint, OUT failed bigint, OUT stopped boolean, OUT error text)
LANGUAGE plpgsql
AS $$
DECLARE
    v_budget constant integer := 5000000;
    v_count integer := coalesce(pg_catalog.cardinality(p_keys), 0);
    v_lo integer[] := '{}';
    v_hi integer[] := '{}';
    v_first integer := 1;
    v_last integer;
    v_bytes bigint;
    v_top integer;
    v_a integer;
    v_b integer;
    v_state text;
    v_message text;
    v_detail text;
BEGIN
    sent := 0;
    failed := 0;
    stopped := false;
    -- Greedy batches, pushed so that the first one is on top of the stack.
    WHILE v_first <= v_count LOOP
        v_last := v_first;
        v_bytes := pg_catalog.octet_length(p_items[v_first]);
        WHILE v_last < v_count AND v_last - v_first + 1 < 500
              AND v_bytes + pg_catalog.octet_length(p_items[v_last + 1]) + 1 <= v_budget LOOP
            v_last := v_last + 1;
            v_bytes := v_bytes + pg_catalog.octet_length(p_items[v_last]) + 1;
        END LOOP;
        v_lo := v_first || v_lo;
        v_hi := v_last || v_hi;
        v_first := v_last + 1;
    END LOOP;

    WHILE pg_catalog.cardinality(v_lo) > 0 LOOP
        v_top := pg_catalog.cardinality(v_lo);
        v_a := v_lo[v_top];
        v_b := v_hi[v_top];
        v_lo := v_lo[1 : v_top - 1];
        v_hi := v_hi[1 : v_top - 1];
        BEGIN
            PERFORM s3vl._sync_send(p_index, p_delete, p_items[v_a : v_b]);
            -- Sent: the changes this flush owns are done, and so are older changes parked as failed.
            DELETE FROM s3vl.sync_outbox o
             WHERE o.table_oid = p_sync.table_oid AND o.vector_id = ANY (p_keys[v_a : v_b])
               AND (o.change_id = ANY (p_ids) OR (o.state = 'failed' AND o.change_id < (SELECT max(i) FROM pg_catalog.unnest(p_ids) i)));
            sent := sent + (v_b - v_a + 1);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
            error := pg_catalog.format('%s: %s%s', v_state, v_message, coalesce(' (' || nullif(v_detail, '') || ')', ''));
            IF (v_state LIKE '22%' OR v_state = '54000') AND v_b > v_a THEN
                v_lo := v_lo || ARRAY[(v_a + v_b) / 2 + 1, v_a];
                v_hi := v_hi || ARRAY[v_b, (v_a + v_b) / 2];
            ELSIF v_state LIKE '22%' OR v_state = '54000' THEN
                UPDATE s3vl.sync_outbox o
                   SET state = 'failed', attempts = o.attempts + 1, last_error = error, last_sqlstate = v_state
                 WHERE o.table_oid = p_sync.table_oid AND o.vector_id = p_keys[v_a] AND o.change_id = ANY (p_ids);
                failed := failed + 1;
            ELSE
                UPDATE s3vl.sync_outbox o
                   SET attempts = o.attempts + 1, next_attempt_at = pg_catalog.clock_timestamp() + s3vl._sync_backoff(o.attempts + 1),
                       last_error = error, last_sqlstate = v_state
                 WHERE o.table_oid = p_sync.table_oid AND o.vector_id = ANY (p_keys[v_a : v_b]) AND o.change_id = ANY (p_ids);
                stopped := true;
                RETURN;
            END IF;
        END;
    END LOOP;
END
$$;

-- Send the owned changes (p_ids, of keys p_keys) of one table: read each key's row as it is now, put it
-- if it exists and delete its vector otherwise.
CREATE OR REPLACE FUNCTION s3vl._sync_flush_table(
    p_table oid, p_keys text[], p_ids bigint[], OUT sent bigint, OUT failed bigint, OUT stopped boolean, OUT error text)
LANGUAGE plpgsql
SET extra_float_digits = 3
AS $$
DECLARE
    v_sync s3vl.sync_tables;
    v_index s3vl.index_registry;
    v_put_keys text[];
    v_put_items text[];
    v_delete_keys text[];
    v_state text;
    v_message text;
    v_part record;
BEGIN
    sent := 0;
    failed := 0;
    stopped := false;
    SELECT * INTO v_sync FROM s3vl.sync_tables s WHERE s.table_oid = p_table;
    IF v_sync.table_oid IS NULL THEN
        UPDATE s3vl.sync_outbox o
           SET state = 'failed', last_error = 'the table is not synced any more', last_sqlstate = '42704'
         WHERE o.table_oid = p_table AND o.change_id = ANY (p_ids);
        failed := pg_catalog.cardinality(p_keys);
        RETURN;
    END IF;
    BEGIN
        v_index := s3vl._index(v_sync.index_name);
        EXECUTE 'SELECT array_agg(r.vector_id ORDER BY k.n), '
                '       array_agg(pg_catalog.json_build_object(''key'', r.vector_id, ''data'', r.data, ''metadata'', r.metadata)::text ORDER BY k.n) '
                '  FROM pg_catalog.unnest($1) WITH ORDINALITY AS k(id, n) '
                '  JOIN (' || s3vl._sync_rows_sql(v_sync) || ') AS r(vector_id, data, metadata) ON r.vector_id = k.id'
           INTO v_put_keys, v_put_items USING p_keys;
    EXCEPTION WHEN OTHERS THEN
        -- The index was unregistered, a column renamed, ...: keep the changes for after the fix.
        GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
        error := v_state || ': ' || v_message;
        UPDATE s3vl.sync_outbox o
           SET attempts = o.attempts + 1, next_attempt_at = pg_catalog.clock_timestamp() + s3vl._sync_backoff(o.attempts + 1),
               last_error = error, last_sqlstate = v_state
         WHERE o.table_oid = p_table AND o.change_id = ANY (p_ids);
        RETURN;
    END;
    SELECT array_agg(k.id ORDER BY k.n) INTO v_delete_keys
      FROM pg_catalog.unnest(p_keys) WITH ORDINALITY AS k(id, n)
     WHERE k.id <> ALL (coalesce(v_put_keys, '{}'));
    -- Keys are distinct, so puts and deletes commute.
    IF v_put_keys IS NOT NULL THEN
        v_part := s3vl._sync_send_batches(v_sync, v_index, false, v_put_keys, v_put_items, p_ids);
        sent := sent + v_part.sent;
        failed := failed + v_part.failed;
        error := coalesce(v_part.error, error);
        IF v_part.stopped THEN
            stopped := true;
            RETURN;
        END IF;
    END IF;
    IF v_delete_keys IS NOT NULL THEN
        v_part := s3vl._sync_send_batches(v_sync, v_index, true, v_delete_keys,
                                          ARRAY(SELECT pg_catalog.to_json(k)::text FROM pg_catalog.unnest(v_delete_keys) k), p_ids);
        sent := sent + v_part.sent;
        failed := failed + v_part.failed;
        error := coalesce(v_part.error, error);
        stopped := v_part.stopped;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION s3vl.flush(max_items integer DEFAULT NULL)
RETURNS TABLE (sent bigint, failed bigint, pending bigint)
LANGUAGE plpgsql
AS $$
DECLARE
    v_left bigint;
    v_seen bigint[] := '{}';
    v_due bigint[];
    v_own_tables oid[];
    v_own_keys text[];
    v_ids bigint[];
    v_table oid;
    v_part record;
    v_sent bigint := 0;
    v_failed bigint := 0;
    v_stopped boolean := false;
    v_flushed oid[] := '{}';
    v_errors jsonb := '{}';
BEGIN
    IF flush.max_items IS NOT NULL AND flush.max_items < 1 THEN
        RAISE EXCEPTION 'max_items must be NULL (everything due) or at least 1, got %', flush.max_items
            USING ERRCODE = '22023', HINT = 'Pass max_items => n with n >= 1, or omit it.';
    END IF;
    v_left := coalesce(flush.max_items, 9223372036854775807);
    WHILE v_left > 0 AND NOT v_stopped LOOP
        -- Claim the oldest due changes no other flusher holds...
        SELECT array_agg(d.change_id) INTO v_due
          FROM (SELECT o.change_id FROM s3vl.sync_outbox o
                 WHERE o.state = 'pending' AND o.next_attempt_at <= pg_catalog.clock_timestamp()
                   AND o.change_id <> ALL (v_seen)
                 ORDER BY o.change_id LIMIT LEAST(v_left, 500)
                   FOR UPDATE SKIP LOCKED) AS d;
        EXIT WHEN v_due IS NULL;
        v_left := v_left - pg_catalog.cardinality(v_due);
        -- ... own their keys (a key another flusher owns waits for its next flush) ...
        SELECT array_agg(k.table_oid ORDER BY k.first_id), array_agg(k.vector_id ORDER BY k.first_id)
          INTO v_own_tables, v_own_keys
          FROM (SELECT o.table_oid, o.vector_id, min(o.change_id) AS first_id
                  FROM s3vl.sync_outbox o WHERE o.change_id = ANY (v_due) GROUP BY 1, 2) AS k
         WHERE pg_catalog.pg_try_advisory_xact_lock(s3vl._sync_lock_key(k.table_oid, k.vector_id));
        -- Changes of keys owned elsewhere stay locked by this transaction (SKIP LOCKED does not skip
        -- its own locks): remember them so that the next claim passes over them. Every other claimed
        -- change is deleted, parked or put off by the time of the next claim.
        SELECT v_seen || coalesce(array_agg(o.change_id), '{}') INTO v_seen
          FROM s3vl.sync_outbox o
         WHERE o.change_id = ANY (v_due)
           AND NOT EXISTS (SELECT 1 FROM unnest(v_own_tables, v_own_keys) AS k(table_oid, vector_id)
                            WHERE k.table_oid = o.table_oid AND k.vector_id = o.vector_id);
        CONTINUE WHEN v_own_keys IS NULL;
        -- ... and take every pending change of those keys: the row read next covers them all.
        SELECT array_agg(c.change_id) INTO v_ids
          FROM (SELECT o.change_id
                  FROM s3vl.sync_outbox o
                  JOIN unnest(v_own_tables, v_own_keys) AS k(table_oid, vector_id)
                    ON o.table_oid = k.table_oid AND o.vector_id = k.vector_id
                 WHERE o.state = 'pending'
                   FOR UPDATE OF o SKIP LOCKED) AS c;
        FOR v_table IN SELECT DISTINCT t FROM pg_catalog.unnest(v_own_tables) t ORDER BY 1 LOOP
            v_part := s3vl._sync_flush_table(
                v_table,
                ARRAY(SELECT k.vector_id FROM unnest(v_own_tables, v_own_keys) WITH ORDINALITY AS k(table_oid, vector_id, n)
                       WHERE k.table_oid = v_table ORDER BY k.n),
                v_ids);
            v_sent := v_sent + v_part.sent;
            v_failed := v_failed + v_part.failed;
            IF v_part.sent > 0 THEN
                v_flushed := v_flushed || v_table;
            END IF;
            IF v_part.error IS NOT NULL THEN
                v_errors := v_errors || pg_catalog.jsonb_build_object(v_table::text, v_part.error);
            END IF;
            IF v_part.stopped THEN
                v_stopped := true;
                EXIT;
            END IF;
        END LOOP;
    END LOOP;
    -- Per-table status last, without waiting: a row another flush is updating keeps that flush's status
    -- (each change's own error stays in the outbox, see sync_failures).
    UPDATE s3vl.sync_tables s
       SET last_flush_at = CASE WHEN s.table_oid = ANY (v_flushed) THEN pg_catalog.clock_timestamp() ELSE s.last_flush_at END,
           last_error = coalesce(v_errors ->> s.table_oid::text, s.last_error),
           last_error_at = CASE WHEN v_errors ? s.table_oid::text THEN pg_catalog.clock_timestamp() ELSE s.last_error_at END
     WHERE s.table_oid IN (SELECT s2.table_oid FROM s3vl.sync_tables s2
                            WHERE s2.table_oid = ANY (v_flushed) OR v_errors ? s2.table_oid::text
                              FOR UPDATE SKIP LOCKED);
    RETURN QUERY SELECT v_sent, v_failed, (SELECT count(*) FROM s3vl.sync_outbox o WHERE o.state = 'pending');
END
$$;
COMMENT ON FUNCTION s3vl.flush(integer) IS
    'Send due changes of synced tables to their indexes (at most max_items changes claimed); returns the '
    'vectors sent (put or deleted), the changes parked as failed, and the changes still pending.';

CREATE OR REPLACE FUNCTION s3vl.retry_sync(table_name regclass DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_count bigint;
BEGIN
    IF retry_sync.table_name IS NOT NULL THEN
        PERFORM s3vl._sync_table(retry_sync.table_name);
    END IF;
    UPDATE s3vl.sync_outbox o SET state = 'pending', next_attempt_at = '-infinity'
     WHERE (retry_sync.table_name IS NULL OR o.table_oid = retry_sync.table_name)
       AND (o.state = 'failed' OR o.next_attempt_at > pg_catalog.clock_timestamp());
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$$;
COMMENT ON FUNCTION s3vl.retry_sync(regclass) IS
    'Make failed changes pending again and waiting ones due now (after fixing a cause); returns how many.';

-- Status.

CREATE OR REPLACE FUNCTION s3vl.sync_status()
RETURNS TABLE (table_name text, index_name text, pending bigint, failed bigint, oldest_pending_age interval,
               last_error text, last_error_at timestamptz, last_flush_at timestamptz)
LANGUAGE sql STABLE
AS $$
    SELECT s.table_oid::regclass::text, s.index_name,
           count(o.change_id) FILTER (WHERE o.state = 'pending'),
           count(o.change_id) FILTER (WHERE o.state = 'failed'),
           pg_catalog.clock_timestamp() - min(o.enqueued_at) FILTER (WHERE o.state = 'pending'),
           s.last_error, s.last_error_at, s.last_flush_at
      FROM s3vl.sync_tables s LEFT JOIN s3vl.sync_outbox o ON o.table_oid = s.table_oid
     GROUP BY s.table_oid, s.index_name, s.last_error, s.last_error_at, s.last_flush_at
     ORDER BY 1
$$;
COMMENT ON FUNCTION s3vl.sync_status() IS
    'Per synced table: pending and failed changes, age of the oldest pending one, last error, last flush.';

CREATE OR REPLACE FUNCTION s3vl.sync_failures(table_name regclass DEFAULT NULL)
RETURNS TABLE (table_name text, vector_id text, state text, attempts integer, next_attempt_at timestamptz,
               last_sqlstate text, last_error text)
LANGUAGE sql STABLE
AS $$
    SELECT o.table_oid::regclass::text, o.vector_id, o.state, o.attempts, o.next_attempt_at, o.last_sqlstate, o.last_error
      FROM s3vl.sync_outbox o
     WHERE o.last_error IS NOT NULL AND (sync_failures.table_name IS NULL OR o.table_oid = sync_failures.table_name)
     ORDER BY o.change_id
$$;
COMMENT ON FUNCTION s3vl.sync_failures(regclass) IS
    'Changes whose last send failed: parked (failed) or waiting for a retry (pending), with the error.';

-- Reconcile: compare the whole index with the table.

CREATE OR REPLACE FUNCTION s3vl.reconcile(table_name regclass, repair boolean DEFAULT false)
RETURNS TABLE (vector_id text, problem text, detail text)
LANGUAGE plpgsql
SET extra_float_digits = 3
AS $$
DECLARE
    v_sync s3vl.sync_tables := s3vl._sync_table(reconcile.table_name);
    v_ids text[];
    v_versions text[];
    v_fix text[] := '{}';
    v_row record;
BEGIN
    IF reconcile.repair IS NULL THEN
        RAISE EXCEPTION 'repair must not be NULL' USING ERRCODE = '22023', HINT = 'Pass TRUE or FALSE.';
    END IF;
    IF NOT pg_catalog.has_table_privilege(SESSION_USER, v_sync.table_oid, 'SELECT') THEN
        RAISE EXCEPTION 'permission denied: % needs SELECT on % to reconcile it', SESSION_USER, v_sync.table_name
            USING ERRCODE = '42501', HINT = 'Ask the table''s owner for SELECT.';
    END IF;
    IF reconcile.repair AND NOT pg_catalog.pg_has_role(SESSION_USER, 's3vl_admin', 'MEMBER') THEN
        RAISE EXCEPTION 'permission denied: reconcile(repair => true) needs s3vl_admin'
            USING ERRCODE = '42501', HINT = 'Run it as a member of s3vl_admin, or without repair to only report.';
    END IF;
    SELECT coalesce(array_agg(a.vector_id), '{}'), coalesce(array_agg(a.metadata ->> s3vl._sync_version_key()), '{}')
      INTO v_ids, v_versions
      FROM s3vl.list_all_vectors(v_sync.index_name, return_metadata => true) AS a;
    FOR v_row IN EXECUTE
        'SELECT coalesce(t.vector_id, i.vector_id) AS vector_id, '
        '       CASE WHEN i.vector_id IS NULL THEN ''missing'' WHEN t.vector_id IS NULL THEN ''orphaned'' ELSE ''stale'' END AS problem, '
        '       CASE WHEN i.vector_id IS NULL THEN ''the row has no vector'' '
        '            WHEN t.vector_id IS NULL THEN ''the vector has no row'' '
        '            ELSE pg_catalog.format(''vector version %s, row version %s'', coalesce(i.version, ''none''), t.version) END '
        '       || CASE WHEN EXISTS (SELECT 1 FROM s3vl.sync_outbox o WHERE o.table_oid = $4 '
        '                             AND o.vector_id = coalesce(t.vector_id, i.vector_id)) '
        '               THEN ''; a change is waiting in the outbox'' ELSE '''' END AS detail '
        '  FROM (SELECT r.vector_id, r.metadata ->> ' || pg_catalog.quote_literal(s3vl._sync_version_key()) || ' AS version '
        '          FROM (' || s3vl._sync_rows_sql(v_sync) || ') AS r(vector_id, data, metadata)) AS t '
        '  FULL JOIN unnest($2::text[], $3::text[]) AS i(vector_id, version) ON i.vector_id = t.vector_id '
        ' WHERE i.vector_id IS NULL OR t.vector_id IS NULL OR i.version IS DISTINCT FROM t.version '
        ' ORDER BY 1'
        USING NULL::text[], v_ids, v_versions, v_sync.table_oid
    LOOP
        vector_id := v_row.vector_id;
        problem := v_row.problem;
        detail := v_row.detail;
        v_fix := v_fix || v_row.vector_id;
        RETURN NEXT;
    END LOOP;
    IF reconcile.repair AND pg_catalog.cardinality(v_fix) > 0 THEN
        -- A change per key: flush reads the row and puts it, or deletes the vector when there is none.
        INSERT INTO s3vl.sync_outbox (table_oid, vector_id) SELECT v_sync.table_oid, f FROM pg_catalog.unnest(v_fix) f;
    END IF;
END
$$;
COMMENT ON FUNCTION s3vl.reconcile(regclass, boolean) IS
    'Every difference between the table and its index (missing, orphaned, stale vectors), listing the whole '
    'index; repair => true enqueues a change per difference for s3vl.flush().';

-- Consistent reads.

-- How a table is synced (index, key, embedding and metadata columns), for callers without access to the
-- registry: query_synced reads the table with its caller's rights and needs only this.
CREATE OR REPLACE FUNCTION s3vl.sync_definition(table_name regclass)
RETURNS s3vl.sync_tables
LANGUAGE sql STABLE
AS $$ SELECT s3vl._sync_table(sync_definition.table_name) $$;
COMMENT ON FUNCTION s3vl.sync_definition(regclass) IS
    'How the table is synced: its sync_tables row (index, key, embedding and metadata columns, last flush and error).';

-- query_vectors on the table's index, keeping only results whose row exists and whose vector is the
-- row's current version. Not a definer entry point (90_privileges.sql): the table is read with the
-- caller's rights and row security.
CREATE OR REPLACE FUNCTION s3vl.query_synced(
    table_name regclass,
    query_vector double precision[],
    top_k integer DEFAULT 10,
    metadata_filter jsonb DEFAULT NULL)
RETURNS TABLE (vector_id text, similarity_score double precision, distance double precision, metadata jsonb)
LANGUAGE plpgsql
SET extra_float_digits = 3
AS $$
DECLARE
    v_sync s3vl.sync_tables;
    v_ids text[];
    v_scores double precision[];
    v_distances double precision[];
    v_metadata jsonb[];
BEGIN
    v_sync := s3vl.sync_definition(query_synced.table_name);
    -- Named arguments and result columns: independent of their order in query_vectors.
    SELECT array_agg(q.vector_id ORDER BY q.ordinality), array_agg(q.similarity_score ORDER BY q.ordinality),
           array_agg(q.distance ORDER BY q.ordinality), array_agg(q.metadata ORDER BY q.ordinality)
      INTO v_ids, v_scores, v_distances, v_metadata
      FROM s3vl.query_vectors(index_name => v_sync.index_name, query_vector => query_synced.query_vector,
                              top_k => query_synced.top_k, return_metadata => true,
                              metadata_filter => query_synced.metadata_filter) WITH ORDINALITY AS q;
    IF v_ids IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE
        'SELECT q.id, q.score, q.distance, q.metadata '
        '  FROM unnest($1, $2, $3, $4) WITH ORDINALITY AS q(id, score, distance, metadata, n) '
        '  JOIN (' || s3vl._sync_rows_sql(v_sync) || ') AS r(vector_id, data, metadata) '
        '    ON r.vector_id = q.id AND (r.metadata ->> ' || pg_catalog.quote_literal(s3vl._sync_version_key()) || ') '
        '       = (q.metadata ->> ' || pg_catalog.quote_literal(s3vl._sync_version_key()) || ') '
        ' ORDER BY q.n'
        USING v_ids, v_scores, v_distances, v_metadata;
END
$$;
COMMENT ON FUNCTION s3vl.query_synced(regclass, double precision[], integer, jsonb) IS
    'query_vectors on a synced table''s index without the results whose row is gone or whose vector is '
    'stale (so possibly fewer than top_k); metadata includes s3vl_version.';
