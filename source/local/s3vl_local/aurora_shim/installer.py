"""Install the Aurora aws_lambda shim into a database of a local cluster and point it at a Lambda service.

The endpoint is a cluster-wide setting (ALTER SYSTEM SET aws_lambda.endpoint_url), so install.sql, which
must stay identical to what runs on Aurora, never sees it. Aurora's two timeout settings get their Aurora
defaults the same way, so SHOW works as on Aurora and SET in a session overrides them.
"""

from __future__ import annotations

import time
from importlib import resources

from s3vl_local.postgres import PostgresCluster, PostgresError

ENDPOINT_SETTING = "aws_lambda.endpoint_url"
DEFAULT_SETTINGS = {"aws_lambda.connect_timeout_ms": "1000", "aws_lambda.request_timeout_ms": "3000"}
SETTING_VISIBLE_TIMEOUT_S = 10


def shim_sql() -> str:
    return resources.files("s3vl_local.aurora_shim").joinpath("shim.sql").read_text()


def install_shim(cluster: PostgresCluster, dbname: str, endpoint_url: str) -> None:
    """Create the shim in `dbname` (idempotent) and make every session call `endpoint_url`."""
    cluster.psql(shim_sql(), dbname=dbname)
    set_endpoint(cluster, endpoint_url)


def set_endpoint(cluster: PostgresCluster, endpoint_url: str) -> None:
    """Point the shim at `endpoint_url` in every database and session of the cluster, then reload."""
    if "'" in endpoint_url:
        raise PostgresError(f"endpoint URL {endpoint_url!r} must not contain a quote")
    settings = {ENDPOINT_SETTING: endpoint_url, **DEFAULT_SETTINGS}
    # PostgreSQL 15's ALTER SYSTEM only accepts a custom setting the session already knows: SET it first.
    # psql runs statements from stdin one by one, outside a transaction block, as ALTER SYSTEM requires.
    script = "".join(f"SET {name} = '{value}';\n" for name, value in settings.items())
    script += "".join(f"ALTER SYSTEM SET {name} = '{value}';\n" for name, value in settings.items())
    cluster.psql(script + "SELECT pg_reload_conf();\n")
    # The reload is asynchronous; wait until a new session sees the value so callers never race it.
    deadline = time.monotonic() + SETTING_VISIBLE_TIMEOUT_S
    while cluster.psql(f"SELECT current_setting('{ENDPOINT_SETTING}', true)") != endpoint_url:
        if time.monotonic() > deadline:
            raise PostgresError(
                f"{ENDPOINT_SETTING} did not take effect after pg_reload_conf(): see {cluster.log_file}"
            )
        time.sleep(0.05)
