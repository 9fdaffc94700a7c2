"""Only a superuser chooses where the shim sends invocations: a role that may call aws_lambda.invoke but
is not a superuser cannot point aws_lambda.endpoint_url at another host or port, however it sets it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from s3vl_local.aurora_shim.installer import install_shim, set_endpoint
from s3vl_local.postgres import PostgresCluster

DB = "shim_endpoint"
ROLE = "shim_endpoint_user"
CALL = "SELECT * FROM aws_lambda.invoke(aws_commons.create_lambda_function_arn('f'), '{}'::json)"
# A forged endpoint is never answered here: a call that reaches it ends at this timeout (57014).
SHORT_TIMEOUT = "SET aws_lambda.request_timeout_ms = 300"


class Listener:
    """A loopback port that accepts connections and never answers: `connections()` counts who came."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def connections(self) -> int:
        count = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return count
            conn.close()
            count += 1


@pytest.fixture
def listener() -> Iterator[Listener]:
    started = Listener()
    yield started
    started.sock.close()


@pytest.fixture(scope="module")
def dsn(pg_cluster: PostgresCluster, closed_endpoint: str) -> Iterator[str]:
    """The shim pointed at a closed port: a call that goes where the configuration says fails with 08001."""
    pg_cluster.create_database(DB)
    install_shim(pg_cluster, DB, closed_endpoint)
    pg_cluster.psql(
        f"DROP ROLE IF EXISTS {ROLE}; CREATE ROLE {ROLE} LOGIN; GRANT USAGE ON SCHEMA aws_lambda TO {ROLE}; "
        f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA aws_lambda TO {ROLE}",
        dbname=DB,
    )
    yield pg_cluster.dsn(dbname=DB)
    pg_cluster.psql(f"DROP OWNED BY {ROLE}; DROP ROLE {ROLE}", dbname=DB)


def _as_role(dsn: str, **kwargs: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(dsn.replace("user=postgres", f"user={ROLE}"), autocommit=True, **kwargs)


def _call_error(conn: psycopg.Connection[Any]) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(CALL)
    return caught.value


@pytest.mark.parametrize(
    "how",
    [
        "SET aws_lambda.endpoint_url = '{url}'",
        "SELECT set_config('aws_lambda.endpoint_url', '{url}', false)",
        "BEGIN; SET LOCAL aws_lambda.endpoint_url = '{url}'",
    ],
)
def test_a_role_that_sets_another_endpoint_is_refused_and_nothing_is_sent(
    dsn: str, listener: Listener, how: str
) -> None:
    with _as_role(dsn) as conn:
        conn.execute(SHORT_TIMEOUT)
        conn.execute(how.format(url=listener.url))
        error = _call_error(conn)
    assert error.sqlstate == "42501"
    assert error.diag.message_primary == 'permission denied to set parameter "aws_lambda.endpoint_url"'
    assert listener.url in (error.diag.message_detail or "")
    assert "ALTER SYSTEM SET aws_lambda.endpoint_url" in (error.diag.message_hint or "")
    assert listener.connections() == 0


def test_an_endpoint_in_the_connection_options_is_refused(dsn: str, listener: Listener) -> None:
    with _as_role(dsn, options=f"-c aws_lambda.endpoint_url={listener.url}") as conn:
        assert conn.execute("SHOW aws_lambda.endpoint_url").fetchone() == (listener.url,)
        conn.execute(SHORT_TIMEOUT)
        assert _call_error(conn).sqlstate == "42501"
    assert listener.connections() == 0


def test_a_role_cannot_store_an_endpoint_in_its_own_settings(dsn: str, listener: Listener) -> None:
    with _as_role(dsn) as conn, pytest.raises(psycopg.Error) as caught:
        conn.execute(f"ALTER ROLE CURRENT_USER SET aws_lambda.endpoint_url = '{listener.url}'")
    assert caught.value.sqlstate == "42501"


def test_the_configured_endpoint_stays_usable(dsn: str, closed_endpoint: str) -> None:
    with _as_role(dsn) as conn:
        assert _call_error(conn).sqlstate == "08001"  # the configured (closed) endpoint was tried
        conn.execute(f"SET aws_lambda.endpoint_url = '{closed_endpoint}'")  # the same value: harmless
        assert _call_error(conn).sqlstate == "08001"
        conn.execute("SET aws_lambda.request_timeout_ms = 250")  # Aurora's timeouts stay per session
        assert conn.execute("SHOW aws_lambda.request_timeout_ms").fetchone() == ("250",)


@pytest.mark.parametrize("target", ["ROLE {role}", "DATABASE {db}", "ROLE {role} IN DATABASE {db}"])
def test_a_value_a_superuser_set_with_alter_database_or_role_is_used(
    dsn: str, listener: Listener, target: str
) -> None:
    scope = target.format(role=ROLE, db=DB)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f"ALTER {scope} SET aws_lambda.endpoint_url = '{listener.url}'")
    try:
        with _as_role(dsn) as conn:
            conn.execute(SHORT_TIMEOUT)
            error = _call_error(conn)
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f"ALTER {scope} RESET aws_lambda.endpoint_url")
    assert error.sqlstate == "57014", error  # it went to the listener, which never answers
    assert listener.connections() == 1


def test_a_superuser_session_may_set_the_endpoint(dsn: str, listener: Listener) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SHORT_TIMEOUT)
        conn.execute(f"SET aws_lambda.endpoint_url = '{listener.url}'")
        assert _call_error(conn).sqlstate == "57014"
    assert listener.connections() == 1


def test_a_superuser_session_acting_as_the_role_is_refused(dsn: str, listener: Listener) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"SET ROLE {ROLE}")
        conn.execute(SHORT_TIMEOUT)
        conn.execute(f"SET aws_lambda.endpoint_url = '{listener.url}'")
        assert _call_error(conn).sqlstate == "42501"
    assert listener.connections() == 0


def test_a_reload_makes_the_new_value_the_only_one(
    pg_cluster: PostgresCluster, dsn: str, listener: Listener, closed_endpoint: str
) -> None:
    """The configured value is read once per configuration load: after ALTER SYSTEM and a reload an open
    session goes to the new endpoint, and the old one is no longer one it may choose."""
    with _as_role(dsn) as conn:
        conn.execute(SHORT_TIMEOUT)
        assert _call_error(conn).sqlstate == "08001"
        set_endpoint(pg_cluster, listener.url)
        try:
            conn.execute("SELECT pg_sleep(0.2)")  # the session re-reads the configuration between commands
            assert _call_error(conn).sqlstate == "57014"
            assert listener.connections() == 1
            conn.execute(f"SET aws_lambda.endpoint_url = '{closed_endpoint}'")
            assert _call_error(conn).sqlstate == "42501"
        finally:
            set_endpoint(pg_cluster, closed_endpoint)
