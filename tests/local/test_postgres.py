"""The private PostgreSQL cluster: isolated data dir, socket and port; start/stop by PID; plpython3u."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest
from s3vl_local.postgres import PostgresCluster, PostgresError, make_shared_dir
from s3vl_local.processes import is_alive


def test_cluster_listens_on_loopback_with_its_socket_inside_the_data_dir(pg_cluster: PostgresCluster) -> None:
    with psycopg.connect(pg_cluster.dsn()) as conn:
        settings = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('listen_addresses', 'unix_socket_directories', 'port', 'data_directory')"
            ).fetchall()
        )
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
    assert settings["listen_addresses"] == "127.0.0.1"
    assert settings["unix_socket_directories"] == str(pg_cluster.data_dir)
    assert int(settings["port"]) == pg_cluster.port
    assert settings["data_directory"] == str(pg_cluster.data_dir)
    assert (pg_cluster.data_dir / f".s.PGSQL.{pg_cluster.port}").exists()


def test_plpython3u_is_available(pg_cluster: PostgresCluster) -> None:
    pg_cluster.create_database("plpython_check")
    with psycopg.connect(pg_cluster.dsn(dbname="plpython_check"), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS plpython3u")
        conn.execute(
            "CREATE OR REPLACE FUNCTION py_add(a int, b int) RETURNS int "
            "LANGUAGE plpython3u AS 'return a + b'"
        )
        assert conn.execute("SELECT py_add(2, 3)").fetchone() == (5,)


def test_create_database_is_idempotent_and_rejects_odd_names(pg_cluster: PostgresCluster) -> None:
    pg_cluster.create_database("twice")
    pg_cluster.create_database("twice")
    assert pg_cluster.psql("SELECT count(*) FROM pg_database WHERE datname = 'twice'") == "1"
    with pytest.raises(PostgresError, match="not a plain identifier"):
        pg_cluster.create_database("bad; DROP")


def test_start_stop_restart_keeps_port_and_leaves_no_process() -> None:
    state_dir = make_shared_dir(Path(tempfile.mkdtemp(prefix="s3vl-pg-life-")))
    cluster = PostgresCluster(state_dir / "pgdata")
    try:
        cluster.start()
        pid, port = cluster.pid(), cluster.port
        assert pid is not None
        cluster.start()  # already running: same postmaster
        assert cluster.pid() == pid
        cluster.stop()
        assert cluster.pid() is None
        assert not is_alive(pid)
        # A new object on the same data dir finds the port chosen at init.
        again = PostgresCluster(state_dir / "pgdata")
        assert again.port == port
        again.start()
        assert again.psql("SELECT 42") == "42"
        again.stop()
        assert again.pid() is None
    finally:
        cluster.destroy()
        shutil.rmtree(state_dir, ignore_errors=True)


def test_untraversable_parent_is_refused_with_the_fix_when_root() -> None:
    private = Path(tempfile.mkdtemp(prefix="s3vl-pg-private-"))  # mode 0700
    cluster = PostgresCluster(private / "pgdata")
    try:
        if os.geteuid() == 0:
            # The server runs as the postgres OS user, who cannot enter a 0700 root directory.
            with pytest.raises(PostgresError, match="not traversable by the postgres user: chmod o\\+x"):
                cluster.init()
        else:
            # Without root the server runs as the caller, who owns the directory.
            assert cluster.init().is_initialised()
    finally:
        cluster.destroy()
        shutil.rmtree(private, ignore_errors=True)
