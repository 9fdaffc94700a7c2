"""Install the Aurora aws_lambda shim into a database of a local cluster and point it at a Lambda service.

The shim is two extensions, aws_commons and aws_lambda, with Aurora PostgreSQL 15's names and versions:
their control and script files go into PostgreSQL's extension directory (`pg_config --sharedir`), so
that they are listed in pg_available_extensions and `CREATE EXTENSION aws_lambda CASCADE` works as on
Aurora. aws_lambda's HTTP client, the Python module aws_lambda_client.py, goes there too: PL/Python runs
the server's Python, which cannot import this package. shim.sql then creates (or upgrades) them in one
database.

The endpoint is a cluster-wide setting (ALTER SYSTEM SET aws_lambda.endpoint_url), so install.sql, which
must stay identical to what runs on Aurora, never sees it. Aurora's two timeout settings get their Aurora
defaults the same way, so SHOW works as on Aurora and SET in a session overrides them.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import tempfile
import time
from importlib import resources
from pathlib import Path

from s3vl_local.postgres import PG_BIN, PostgresCluster, PostgresError

ENDPOINT_SETTING = "aws_lambda.endpoint_url"
DEFAULT_SETTINGS = {"aws_lambda.connect_timeout_ms": "1000", "aws_lambda.request_timeout_ms": "3000"}
SETTING_VISIBLE_TIMEOUT_S = 10
# Aurora PostgreSQL 15's versions ("Extension versions for Amazon Aurora PostgreSQL", release notes).
EXTENSION_VERSIONS = {"aws_commons": "1.2", "aws_lambda": "1.0"}
REVISION_MARK = "@REVISION@"
# The Python module aws_lambda's script loads, installed beside it; the script names it by its path.
CLIENT_MODULE = "aws_lambda_client.py"
MODULE_DIR_MARK = "@MODULE_DIR@"


def _package_file(name: str) -> str:
    return resources.files("s3vl_local.aurora_shim").joinpath(name).read_text()


def extension_files() -> dict[str, str]:
    """The file names and contents to place in PostgreSQL's extension directory.

    Each control file's comment names a digest of its script (aws_lambda's with the client module): shim.sql
    compares it with the comment of the installed extension to find an install made from older files."""
    client = _package_file(CLIENT_MODULE)
    files = {CLIENT_MODULE: client}
    for name, version in EXTENSION_VERSIONS.items():
        script = _package_file(f"extension/{name}--{version}.sql").replace(
            MODULE_DIR_MARK, str(extension_dir())
        )
        # aws_lambda's script runs the client module: a change to either makes a new revision.
        covered = script + client if name == "aws_lambda" else script
        revision = hashlib.sha256(covered.encode()).hexdigest()[:12]
        control = _package_file(f"extension/{name}.control")
        files[f"{name}.control"] = control.replace(REVISION_MARK, revision)
        files[f"{name}--{version}.sql"] = script
    return files


@functools.cache
def extension_dir() -> Path:
    """PostgreSQL's extension directory, for the server binaries the local cluster runs."""
    done = subprocess.run(
        [str(PG_BIN / "pg_config"), "--sharedir"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise PostgresError(
            f"{PG_BIN / 'pg_config'} --sharedir failed ({done.stderr.strip()}): install postgresql-15 "
            "(apt-get install postgresql-15) or set S3VL_PG_BIN"
        )
    return Path(done.stdout.strip()) / "extension"


def install_extension_files() -> Path:
    """Write the shim's extension files where PostgreSQL looks for them; unchanged files stay untouched.

    Each file is written next to its place and renamed over it, so that a server reading it (another test
    run, another stack) never sees half a file."""
    directory = extension_dir()
    for name, content in extension_files().items():
        target = directory / name
        try:
            if target.exists() and target.read_text() == content:
                continue
            fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
            try:
                with os.fdopen(fd, "w") as handle:
                    handle.write(content)
                os.chmod(temp, 0o644)
                os.replace(temp, target)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise PostgresError(
                f"cannot write the aws_lambda shim's extension file {target}: {exc}. PostgreSQL reads "
                f"extensions only from {directory}: run the stack (make up) or the tests as root once"
            ) from exc
    return directory


def shim_sql() -> str:
    """The SQL that creates or upgrades the shim in one database (psql, as a superuser).

    The extension files it needs are written first."""
    install_extension_files()
    return _package_file("shim.sql")


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
