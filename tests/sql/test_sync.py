"""Table sync (source/sql/85_sync.sql, docs/sync.md): capture in the writer's transaction, flush through the
whole chain into the emulator, parking of refused changes, staleness, reconcile, consistent reads,
privileges and every refused set-up. The index content is read back with boto3, independently of s3vl.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
import pytest
from support.sql_stack import index_vectors

from .conftest import BUCKET, SqlStack, raises_sqlstate

_names = itertools.count()
# The pg_cron command docs/sync.md documents: a minute of flushes, each committed, about one a second.
FLUSH_EVERY_SECOND = (
    "DO $$DECLARE r record; started timestamptz := clock_timestamp(); BEGIN LOOP "
    "SELECT * INTO r FROM s3vl.flush(); COMMIT; "
    "EXIT WHEN clock_timestamp() > started + interval '55 seconds'; "
    "IF r.sent = 0 THEN PERFORM pg_sleep(1); END IF; END LOOP; END$$"
)


@dataclass
class Synced:
    table: str
    index: str  # registered name, also the emulator index name


def index_content(sql_stack: SqlStack, index: str) -> dict[str, tuple[list[float], dict[str, Any]]]:
    """key -> (float32 vector, metadata) of the whole emulator index, read with boto3."""
    return {
        v["key"]: (v["data"]["float32"], v.get("metadata") or {})
        for v in index_vectors(sql_stack.s3vectors(), index)
    }


def table_content(conn: psycopg.Connection[Any], table: str, metadata: list[str]) -> dict[str, Any]:
    """key -> (float32 vector, metadata without the version) of the table, as the index should hold it."""
    rows = conn.execute(f"SELECT id::text, emb::real[], to_jsonb(t) FROM {table} t").fetchall()
    out = {}
    for key, emb, whole in rows:
        meta = {c: whole[c] for c in metadata if whole[c] is not None}
        out[key] = (np.asarray(emb, dtype=np.float32).tolist(), meta)
    return out


def assert_index_equals_table(
    sql_stack: SqlStack, conn: psycopg.Connection[Any], synced: Synced, metadata: list[str]
) -> None:
    index = index_content(sql_stack, synced.index)
    table = table_content(conn, synced.table, metadata)
    assert sorted(index) == sorted(table)
    for key, (vector, meta) in table.items():
        got_vector, got_meta = index[key]
        np.testing.assert_array_equal(
            np.asarray(got_vector, dtype=np.float32), np.asarray(vector, dtype=np.float32)
        )
        version = got_meta.pop("s3vl_version")
        assert len(version) == 16
        assert {k: (float(v) if isinstance(v, (int, float)) else v) for k, v in got_meta.items()} == {
            k: (float(v) if isinstance(v, (int, float)) else v) for k, v in meta.items()
        }


@pytest.fixture
def make_synced(sql_stack: SqlStack) -> Iterator[Callable[..., Synced]]:
    """Create an emulator index (cosine) and register it; create a table items-like table; drop both after."""
    made: list[Synced] = []
    client = sql_stack.s3vectors()

    def make(dim: int = 4, emb_type: str = "real[]", extra: str = "category text, price numeric") -> Synced:
        n = next(_names)
        synced = Synced(f"public.sync_items_{n}", f"sync-{n}")
        client.create_index(
            vectorBucketName=BUCKET,
            indexName=synced.index,
            dataType="float32",
            dimension=dim,
            distanceMetric="cosine",
        )
        arn = client.get_index(vectorBucketName=BUCKET, indexName=synced.index)["index"]["indexArn"]
        with sql_stack.connect() as conn:
            conn.execute("SELECT s3vl.register_index(%s, %s)", (synced.index, arn))
            conn.execute(
                f"CREATE TABLE {synced.table} (id integer PRIMARY KEY, emb {emb_type}, {extra}, note text)"
            )
        made.append(synced)
        return synced

    yield make
    with sql_stack.connect() as conn:
        for synced in made:
            if conn.execute(
                "SELECT 1 FROM s3vl.sync_tables WHERE table_name = %s", (synced.table,)
            ).fetchone():
                conn.execute("SELECT s3vl.unsync_table(%s, discard_pending => true)", (synced.table,))
            conn.execute(f"DROP TABLE IF EXISTS {synced.table}")
            conn.execute("SELECT s3vl.unregister_index(%s)", (synced.index,))
            client.delete_index(vectorBucketName=BUCKET, indexName=synced.index)


def sync(
    conn: psycopg.Connection[Any], synced: Synced, metadata: list[str] | None = None, backfill: bool = True
) -> int:
    return conn.execute(
        "SELECT s3vl.sync_table(%s, %s, 'id', 'emb', %s, %s)",
        (synced.table, synced.index, metadata if metadata is not None else ["category", "price"], backfill),
    ).fetchone()[0]


def flush(conn: psycopg.Connection[Any], max_items: int | None = None) -> tuple[int, int, int]:
    return conn.execute("SELECT sent, failed, pending FROM s3vl.flush(%s)", (max_items,)).fetchone()


def status(conn: psycopg.Connection[Any], synced: Synced) -> dict[str, Any]:
    cur = conn.execute("SELECT * FROM s3vl.sync_status() WHERE table_name = %s", (synced.table,))
    names = [d.name for d in cur.description]
    return dict(zip(names, cur.fetchone(), strict=True))


def test_changes_are_captured_in_the_writers_transaction_and_flushed(
    sql_stack: SqlStack, conn: psycopg.Connection[Any], make_synced: Callable[..., Synced]
) -> None:
    synced = make_synced()
    t = synced.table
    conn.execute(f"INSERT INTO {t} VALUES (1, '{{1,0,0,0}}', 'a', 1.5), (2, '{{0,1,0,0}}', 'b', NULL)")
    assert sync(conn, synced) == 2  # backfill
    with conn.transaction():
        conn.execute(f"INSERT INTO {t} VALUES (3, '{{0,0,1,0}}', 'c', 3)")
        conn.execute(f"UPDATE {t} SET emb = '{{0.5,0.5,0,0}}' WHERE id = 1")
    with pytest.raises(psycopg.errors.DivisionByZero), conn.transaction():
        conn.execute(f"INSERT INTO {t} VALUES (4, '{{0,0,0,1}}', 'd', 4)")
        conn.execute("SELECT 1/0")
    conn.execute(f"UPDATE {t} SET note = 'not synced' WHERE id = 2")  # no synced column: nothing captured
    assert status(conn, synced)["pending"] == 4  # 2 backfilled, insert 3, update 1: not the rolled back 4
    assert flush(conn) == (3, 0, 0)  # key 1's two changes coalesce
    assert_index_equals_table(sql_stack, conn, synced, ["category", "price"])

    conn.execute(f"DELETE FROM {t} WHERE id = 2")
    conn.execute(f"UPDATE {t} SET id = 30, category = 'moved' WHERE id = 3")  # key change: delete 3, put 30
    for i in range(5):
        conn.execute(f"UPDATE {t} SET price = {i} WHERE id = 1")
    assert flush(conn) == (4, 0, 0)
    assert_index_equals_table(sql_stack, conn, synced, ["category", "price"])
    row = status(conn, synced)
    assert row["pending"] == 0 and row["failed"] == 0 and row["last_flush_at"] is not None


def test_double_precision_embedding_and_max_items(
    sql_stack: SqlStack, conn: psycopg.Connection[Any], make_synced: Callable[..., Synced]
) -> None:
    synced = make_synced(dim=8, emb_type="double precision[]")
    sync(conn, synced, metadata=["category"])
    rng = np.random.default_rng(3)
    data = rng.standard_normal((30, 8))
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {synced.table} (id, emb, category) VALUES (%s, %s, %s)",
            [(i, data[i].tolist(), f"c{i % 3}") for i in range(30)],
        )
    assert flush(conn, max_items=10) == (10, 0, 20)
    assert flush(conn) == (20, 0, 0)
    assert_index_equals_table(sql_stack, conn, synced, ["category"])


def test_a_change_the_service_refuses_is_parked_and_does_not_block_others(
    sql_stack: SqlStack, conn: psycopg.Connection[Any], make_synced: Callable[..., Synced]
) -> None:
    synced = make_synced()
    sync(conn, synced, metadata=["category"])
    conn.execute(
        f"INSERT INTO {synced.table} (id, emb, category) "
        f"SELECT i, ARRAY[1, i, 0, 0]::real[], CASE WHEN i = 7 THEN repeat('x', 50000) ELSE 'ok' END "
        f"FROM generate_series(1, 20) i"
    )
    assert flush(conn) == (19, 1, 0)
    row = status(conn, synced)
    assert row["failed"] == 1 and row["pending"] == 0
    assert "METADATA_TOO_LARGE" in row["last_error"] or "40960" in row["last_error"]
    failures = conn.execute(
        "SELECT vector_id, state, last_sqlstate FROM s3vl.sync_failures(%s)", (synced.table,)
    ).fetchall()
    assert failures == [("7", "failed", "22023")]
    assert "7" not in index_content(sql_stack, synced.index)
    # Fixing the row enqueues it again; once sent, the parked change is gone too.
    conn.execute(f"UPDATE {synced.table} SET category = 'fixed' WHERE id = 7")
    assert flush(conn) == (1, 0, 0)
    assert status(conn, synced)["failed"] == 0
    assert_index_equals_table(sql_stack, conn, synced, ["category"])


def test_reconcile_finds_missing_orphaned_and_stale_vectors_and_repairs_them(
    sql_stack: SqlStack, conn: psycopg.Connection[Any], make_synced: Callable[..., Synced]
) -> None:
    synced = make_synced()
    conn.execute(
        f"INSERT INTO {synced.table} (id, emb, category) SELECT i, ARRAY[1, i, 0, 0]::real[], 'c' "
        "FROM generate_series(1, 1500) i"
    )
    sync(conn, synced)
    assert flush(conn) == (1500, 0, 0)
    assert conn.execute("SELECT * FROM s3vl.reconcile(%s)", (synced.table,)).fetchall() == []
    client = sql_stack.s3vectors()
    sel = {"vectorBucketName": BUCKET, "indexName": synced.index}
    client.delete_vectors(**sel, keys=["10"])
    client.put_vectors(**sel, vectors=[{"key": "9999", "data": {"float32": [1, 1, 1, 1]}}])
    # A late send of an older version (e.g. from a flusher that died mid-invocation) overtakes the newer one.
    old = client.get_vectors(**sel, keys=["20"], returnData=True, returnMetadata=True)["vectors"][0]
    conn.execute(f"UPDATE {synced.table} SET emb = '{{2,2,2,2}}' WHERE id = 20")
    assert flush(conn) == (1, 0, 0)
    client.put_vectors(**sel, vectors=[{"key": "20", "data": old["data"], "metadata": old["metadata"]}])
    found = conn.execute("SELECT vector_id, problem FROM s3vl.reconcile(%s)", (synced.table,)).fetchall()
    assert found == [("10", "missing"), ("20", "stale"), ("9999", "orphaned")]
    repaired = conn.execute(
        "SELECT count(*) FROM s3vl.reconcile(%s, repair => true)", (synced.table,)
    ).fetchone()
    assert repaired[0] == 3 and status(conn, synced)["pending"] == 3
    assert flush(conn) == (3, 0, 0)
    assert conn.execute("SELECT * FROM s3vl.reconcile(%s)", (synced.table,)).fetchall() == []
    assert_index_equals_table(sql_stack, conn, synced, ["category", "price"])


def test_query_synced_drops_orphaned_and_stale_results(
    sql_stack: SqlStack, conn: psycopg.Connection[Any], make_synced: Callable[..., Synced]
) -> None:
    synced = make_synced()
    conn.execute(
        f"INSERT INTO {synced.table} (id, emb, category) VALUES "
        "(1, '{1,0,0,0}', 'a'), (2, '{0.9,0.1,0,0}', 'b'), (3, '{0.8,0.2,0,0}', 'c'), (4, '{0,0,0,1}', 'd')"
    )
    sync(conn, synced)
    flush(conn)
    query = "SELECT vector_id FROM s3vl.query_synced(%s, '{1,0,0,0}', 3)"
    assert [r[0] for r in conn.execute(query, (synced.table,))] == ["1", "2", "3"]
    # Not flushed yet: row 2 is gone (its vector is orphaned), row 3 changed (its vector is stale).
    conn.execute(f"DELETE FROM {synced.table} WHERE id = 2")
    conn.execute(f"UPDATE {synced.table} SET category = 'changed' WHERE id = 3")
    raw = conn.execute(
        "SELECT vector_id FROM s3vl.query_vectors(index_name => %s, query_vector => '{1,0,0,0}', top_k => 3)",
        (synced.index,),
    ).fetchall()
    assert [r[0] for r in raw] == ["1", "2", "3"]
    assert [r[0] for r in conn.execute(query, (synced.table,))] == ["1"]
    flush(conn)
    assert [r[0] for r in conn.execute(query, (synced.table,))] == ["1", "3", "4"]


def test_privileges_writer_needs_no_s3vl_rights_and_the_outbox_is_closed(
    sql_stack: SqlStack, conn: psycopg.Connection[Any], make_synced: Callable[..., Synced]
) -> None:
    synced = make_synced()
    sync(conn, synced)
    roles = ("sync_writer", "sync_reader", "sync_admin")
    for role in roles:
        conn.execute(f"DROP ROLE IF EXISTS {role}")
        conn.execute(f"CREATE ROLE {role} LOGIN")
    try:
        conn.execute(f"GRANT INSERT, UPDATE, DELETE, SELECT ON {synced.table} TO sync_writer")
        conn.execute("GRANT s3vl_user TO sync_reader")
        conn.execute(f"GRANT SELECT ON {synced.table} TO sync_reader")
        conn.execute("GRANT s3vl_admin TO sync_admin")
        with sql_stack.connect(user="sync_writer") as writer:
            writer.execute(f"INSERT INTO {synced.table} (id, emb) VALUES (1, '{{1,2,3,4}}')")
            writer.execute(f"UPDATE {synced.table} SET emb = '{{4,3,2,1}}' WHERE id = 1")
        with sql_stack.connect(user="sync_reader") as reader:
            assert raises_sqlstate(reader, "SELECT * FROM s3vl.sync_outbox").sqlstate == "42501"
            assert raises_sqlstate(reader, "SELECT * FROM s3vl.flush()").sqlstate == "42501"
            assert (
                raises_sqlstate(reader, "SELECT s3vl.unsync_table(%s)", (synced.table,)).sqlstate == "42501"
            )
            error = raises_sqlstate(reader, "SELECT * FROM s3vl.reconcile(%s, true)", (synced.table,))
            assert error.sqlstate == "42501" and "s3vl_admin" in str(error)
            assert reader.execute(
                "SELECT pending FROM s3vl.sync_status() WHERE table_name = %s", (synced.table,)
            ).fetchone() == (2,)  # two changes of one key
        with sql_stack.connect(user="sync_admin") as admin:
            # s3vl_admin alone does not reach a table its login cannot read.
            error = raises_sqlstate(admin, "SELECT s3vl.unsync_table(%s)", (synced.table,))
            assert error.sqlstate == "42501"
            assert admin.execute("SELECT sent FROM s3vl.flush()").fetchone() == (1,)
        assert_index_equals_table(sql_stack, conn, synced, ["category", "price"])
    finally:
        conn.execute(f"REVOKE ALL ON {synced.table} FROM sync_writer, sync_reader")
        for role in roles:
            conn.execute(f"DROP ROLE {role}")


def test_refused_set_ups_and_writes(
    sql_stack: SqlStack, conn: psycopg.Connection[Any], make_synced: Callable[..., Synced]
) -> None:
    synced = make_synced()
    t = synced.table
    conn.execute("CREATE TABLE sync_no_pk (id integer, emb real[])")
    try:
        error = raises_sqlstate(
            conn, "SELECT s3vl.sync_table('sync_no_pk', %s, 'id', 'emb')", (synced.index,)
        )
        assert error.sqlstate == "55000" and "no primary key" in str(error)
        assert "ADD PRIMARY KEY" in error.diag.message_hint
    finally:
        conn.execute("DROP TABLE sync_no_pk")
    error = raises_sqlstate(conn, "SELECT s3vl.sync_table(%s, %s, 'id', 'vector')", (t, synced.index))
    assert error.sqlstate == "42703" and "vector" in str(error) and "emb" in error.diag.message_hint
    error = raises_sqlstate(conn, "SELECT s3vl.sync_table(%s, %s, 'id', 'emb', '{nope}')", (t, synced.index))
    assert error.sqlstate == "42703"
    error = raises_sqlstate(conn, "SELECT s3vl.sync_table(%s, %s, 'id', 'note')", (t, synced.index))
    assert error.sqlstate == "42804"
    error = raises_sqlstate(conn, "SELECT s3vl.sync_table(%s, %s, 'note', 'emb')", (t, synced.index))
    assert error.sqlstate == "42P10"
    error = raises_sqlstate(conn, "SELECT s3vl.sync_table(%s, 'no-such-index', 'id', 'emb')", (t,))
    assert error.sqlstate == "42704"
    conn.execute(
        f"ALTER TABLE {t} ADD COLUMN doc jsonb, ADD COLUMN a varchar(4000), ADD COLUMN b varchar(4000)"
    )
    error = raises_sqlstate(conn, "SELECT s3vl.sync_table(%s, %s, 'id', 'emb', '{doc}')", (t, synced.index))
    assert error.sqlstate == "42804" and "jsonb" in str(error)
    error = raises_sqlstate(conn, "SELECT s3vl.sync_table(%s, %s, 'id', 'emb', '{a,b}')", (t, synced.index))
    assert error.sqlstate == "54000" and "40 KB" in str(error)
    # An existing row with a NULL embedding stops the sync (nothing is left half done).
    conn.execute(f"INSERT INTO {t} (id, emb) VALUES (1, NULL)")
    error = raises_sqlstate(conn, "SELECT s3vl.sync_table(%s, %s, 'id', 'emb')", (t, synced.index))
    assert error.sqlstate == "22004" and "'1'" in str(error)
    assert conn.execute("SELECT count(*) FROM s3vl.sync_tables WHERE table_name = %s", (t,)).fetchone() == (
        0,
    )
    conn.execute(f"DELETE FROM {t}")

    sync(conn, synced)
    error = raises_sqlstate(conn, "SELECT s3vl.sync_table(%s, %s, 'id', 'emb')", (t, synced.index))
    assert error.sqlstate == "42710"
    # Capture refuses rows that cannot be vectors, in the writer's statement.
    error = raises_sqlstate(conn, f"INSERT INTO {t} (id, emb) VALUES (2, NULL)")
    assert error.sqlstate == "22004" and "NULL" in str(error)
    error = raises_sqlstate(conn, f"INSERT INTO {t} (id, emb) VALUES (2, '{{1,2,3}}')")
    assert error.sqlstate == "22023" and "dimension 4" in str(error)
    error = raises_sqlstate(conn, f"INSERT INTO {t} (id, emb) VALUES (2, '{{0,0,0,0}}')")
    assert error.sqlstate == "22023" and "zero vector" in str(error)
    error = raises_sqlstate(conn, f"INSERT INTO {t} (id, emb) VALUES (2, '{{1,NaN,0,0}}')")
    assert error.sqlstate == "22023"
    assert status(conn, synced)["pending"] == 0

    conn.execute(f"INSERT INTO {t} (id, emb) VALUES (2, '{{1,2,3,4}}')")
    error = raises_sqlstate(conn, f"TRUNCATE {t}")
    assert error.sqlstate == "55006" and "unsync_table" in error.diag.message_hint
    error = raises_sqlstate(conn, f"DROP TABLE {t}")
    assert error.sqlstate == "55006" and "unsync_table" in error.diag.message_hint
    error = raises_sqlstate(conn, "SELECT s3vl.unsync_table(%s)", (t,))
    assert (
        error.sqlstate == "55006"
        and "1 change(s)" in str(error)
        and "discard_pending" in error.diag.message_hint
    )
    assert flush(conn) == (1, 0, 0)
    assert conn.execute("SELECT s3vl.unsync_table(%s)", (t,)).fetchone() == (0,)
    conn.execute(f"INSERT INTO {t} (id, emb) VALUES (3, NULL)")  # no longer synced: nothing checked
    assert conn.execute("SELECT count(*) FROM s3vl.sync_outbox").fetchone() == (0,)
    error = raises_sqlstate(conn, "SELECT * FROM s3vl.reconcile(%s)", (t,))
    assert error.sqlstate == "42704"


@pytest.mark.parametrize(
    ("emb", "words"),
    [("{0,0,0,0}", "zero vector"), ("{1e39,0,0,1}", "float32 range"), ("{1,2,3}", "dimension 4")],
)
def test_the_backfill_refuses_existing_rows_as_capture_refuses_new_ones(
    conn: psycopg.Connection[Any], make_synced: Callable[..., Synced], emb: str, words: str
) -> None:
    synced = make_synced(emb_type="double precision[]")
    t = synced.table
    conn.execute(f"INSERT INTO {t} (id, emb) VALUES (1, '{{1,2,3,4}}'), (2, %s)", (emb,))
    error = raises_sqlstate(conn, "SELECT s3vl.sync_table(%s, %s, 'id', 'emb')", (t, synced.index))
    assert error.sqlstate == "22023" and words in str(error) and "'2'" in str(error)
    synced_tables = conn.execute("SELECT count(*) FROM s3vl.sync_tables WHERE table_name = %s", (t,))
    assert synced_tables.fetchone() == (0,)
    # The same row written after a sync without backfill is refused by capture with the same message.
    conn.execute(f"DELETE FROM {t} WHERE id = 2")
    conn.execute("SELECT s3vl.sync_table(%s, %s, 'id', 'emb', backfill => false)", (t, synced.index))
    captured = raises_sqlstate(conn, f"INSERT INTO {t} (id, emb) VALUES (2, %s)", (emb,))
    assert (captured.sqlstate, captured.diag.message_primary, captured.diag.message_hint) == (
        error.sqlstate,
        error.diag.message_primary,
        error.diag.message_hint,
    )


def test_a_scheduled_flush_with_pg_cron(
    sql_stack: SqlStack, conn: psycopg.Connection[Any], make_synced: Callable[..., Synced]
) -> None:
    synced = make_synced()
    sync(conn, synced)
    dbname = conn.info.dbname
    with sql_stack.connect(dbname="postgres") as cron:
        cron.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
        job = cron.execute(
            "SELECT cron.schedule_in_database('s3vl-flush-test', '* * * * *', %s, %s)",
            (FLUSH_EVERY_SECOND, dbname),
        ).fetchone()[0]
        try:
            conn.execute(f"INSERT INTO {synced.table} (id, emb, category) VALUES (1, '{{1,2,3,4}}', 'cron')")
            deadline = time.monotonic() + 75  # the job starts at the next minute
            while time.monotonic() < deadline and "1" not in index_content(sql_stack, synced.index):
                time.sleep(0.5)
            assert "1" in index_content(sql_stack, synced.index)
            # Then a change is visible within a few of the loop's flushes.
            conn.execute(f"INSERT INTO {synced.table} (id, emb, category) VALUES (2, '{{4,3,2,1}}', 'cron')")
            started = time.monotonic()
            while time.monotonic() - started < 10 and "2" not in index_content(sql_stack, synced.index):
                time.sleep(0.1)
            assert "2" in index_content(sql_stack, synced.index)
            assert_index_equals_table(sql_stack, conn, synced, ["category", "price"])
        finally:
            cron.execute("SELECT cron.unschedule(%s)", (job,))
            # Stop the running loop of this job, if any, before the table goes away.
            cron.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND query = %s",
                (dbname, FLUSH_EVERY_SECOND),
            )
        details = cron.execute("SELECT status FROM cron.job_run_details WHERE jobid = %s", (job,)).fetchall()
        assert details, json.dumps(details)


def test_uninstall_with_a_synced_table_keeps_the_table_without_triggers(sql_stack: SqlStack) -> None:
    dbname = "s3vl_sql_sync_uninstall"
    sql_stack.create_database(dbname)
    try:
        sql_stack.install(dbname)
        index = sql_stack.indexes["test-index-5d"]
        with sql_stack.connect(dbname=dbname) as conn:
            conn.execute("SELECT s3vl.configure(%s)", (sql_stack.function_arn,))
            conn.execute("SELECT s3vl.register_index('walk', %s)", (index.arn,))
            conn.execute("CREATE TABLE kept (id text PRIMARY KEY, emb real[])")
            conn.execute("SELECT s3vl.sync_table('kept', 'walk', 'id', 'emb')")
            conn.execute("INSERT INTO kept VALUES ('a', '{1,2,3,4,5}')")
        done = sql_stack.psql("-f", "source/sql/uninstall.sql", dbname=dbname)
        assert done.returncode == 0, done.stderr
        with sql_stack.connect(dbname=dbname) as conn:
            assert conn.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'kept'::regclass"
            ).fetchone() == (0,)
            assert conn.execute("SELECT count(*) FROM pg_event_trigger").fetchone() == (0,)
            conn.execute("INSERT INTO kept VALUES ('b', NULL)")  # nothing captures or checks it any more
            conn.execute("DROP TABLE kept")
    finally:
        sql_stack.drop_database(dbname)


def test_a_key_is_sent_by_one_flusher_at_a_time(
    sql_stack: SqlStack, conn: psycopg.Connection[Any], make_synced: Callable[..., Synced]
) -> None:
    synced = make_synced()
    sync(conn, synced)
    conn.execute(f"INSERT INTO {synced.table} (id, emb) VALUES (1, '{{1,0,0,0}}'), (2, '{{0,1,0,0}}')")
    with sql_stack.connect() as first, sql_stack.connect() as second:
        first.execute("BEGIN")
        assert first.execute("SELECT * FROM s3vl.flush(1)").fetchone() == (1, 0, 1)  # owns key 1 until COMMIT
        conn.execute(f"UPDATE {synced.table} SET emb = '{{0,0,1,0}}' WHERE id = 1")
        # The new change of key 1 waits for the first flusher; key 2 is free.
        assert second.execute("SELECT * FROM s3vl.flush()").fetchone() == (1, 0, 2)
        first.execute("COMMIT")
        assert second.execute("SELECT * FROM s3vl.flush()").fetchone() == (1, 0, 0)
    assert_index_equals_table(sql_stack, conn, synced, ["category", "price"])


def test_a_partitioned_table_with_typed_metadata(
    sql_stack: SqlStack, conn: psycopg.Connection[Any], make_synced: Callable[..., Synced]
) -> None:
    synced = make_synced()
    table = "public.sync_parted"
    conn.execute(
        f"CREATE TABLE {table} (id bigint PRIMARY KEY, emb real[], day date, tags text[], hot boolean) "
        "PARTITION BY RANGE (id)"
    )
    conn.execute(f"CREATE TABLE {table}_low PARTITION OF {table} FOR VALUES FROM (0) TO (100)")
    conn.execute(f"CREATE TABLE {table}_high PARTITION OF {table} FOR VALUES FROM (100) TO (200)")
    try:
        conn.execute("SELECT s3vl.sync_table(%s, %s, 'id', 'emb', '{day,tags,hot}')", (table, synced.index))
        conn.execute(
            f"INSERT INTO {table} VALUES (1, '{{1,0,0,0}}', '2026-12-03', '{{a,b}}', true), "
            f"(150, '{{0,1,0,0}}', NULL, '{{}}', false)"
        )
        conn.execute(f"UPDATE {table} SET id = 151 WHERE id = 150")  # moves between keys, same partition
        assert flush(conn) == (3, 0, 0)
        content = index_content(sql_stack, synced.index)
        assert sorted(content) == ["1", "151"]
        first = {k: v for k, v in content["1"][1].items() if k != "s3vl_version"}
        assert first == {"day": "2026-12-03", "tags": ["a", "b"], "hot": True}
        # NULL and the empty array are left out: S3 Vectors rejects empty lists.
        assert {k for k in content["151"][1] if k != "s3vl_version"} == {"hot"}
        assert conn.execute("SELECT * FROM s3vl.reconcile(%s)", (table,)).fetchall() == []
    finally:
        conn.execute("SELECT s3vl.unsync_table(%s, discard_pending => true)", (table,))
        conn.execute(f"DROP TABLE {table}")
