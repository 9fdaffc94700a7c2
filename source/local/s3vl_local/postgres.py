"""A private PostgreSQL 15 cluster for the local stack and the tests.

The cluster lives entirely in one data directory chosen by the caller (its Unix socket too), listens on
127.0.0.1 only, trusts local connections and is started and stopped by PID through pg_ctl. The system's own
clusters (/var/lib/postgresql, /var/run/postgresql) are never touched.

PostgreSQL refuses to run as root, so when the caller is root every server-side command runs as the
`postgres` OS user, and the data directory is handed to that user.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
from pathlib import Path

from s3vl_local.processes import is_alive

PG_BIN = Path(os.environ.get("S3VL_PG_BIN", "/usr/lib/postgresql/15/bin"))
SERVER_USER = "postgres"
SUPERUSER_ROLE = "postgres"
HOST = "127.0.0.1"
START_TIMEOUT_S = 60


class PostgresError(RuntimeError):
    """The cluster could not be initialised, started, stopped or queried; the message names the fix."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def make_shared_dir(path: Path) -> Path:
    """Create `path` (mode 0755) so that the `postgres` OS user can traverse it when we run as root."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    return path


def _running_as_root() -> bool:
    return os.geteuid() == 0


class PostgresCluster:
    """One cluster in `data_dir`; `port` is chosen at init() when not given and kept in postgresql.conf."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.host = HOST
        self._port = port

    # --- properties -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            self._port = self._configured_port()
        if self._port is None:
            raise PostgresError(f"cluster in {self.data_dir} has no port yet: call init() first")
        return self._port

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def dsn(self, user: str = SUPERUSER_ROLE, dbname: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={user} dbname={dbname}"

    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def pid(self) -> int | None:
        """PID of the running postmaster, or None when the cluster is not running."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None
        return pid if is_alive(pid) else None

    def is_running(self) -> bool:
        return self.pid() is not None

    # --- lifecycle --------------------------------------------------------------------------------

    def init(self) -> PostgresCluster:
        """initdb with trust auth, then point socket, port and listen address at this cluster only."""
        if self.is_initialised():
            return self
        self._check_binaries()
        self._prepare_data_dir()
        if self._port is None:
            self._port = free_port()
        self._run_server_cmd(
            [
                str(PG_BIN / "initdb"),
                "--pgdata",
                str(self.data_dir),
                "--username",
                SUPERUSER_ROLE,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C.UTF-8",
                "--no-sync",
            ],
            what="initdb",
        )
        settings = {
            "port": str(self._port),
            "listen_addresses": f"'{HOST}'",
            # The socket stays inside the data directory: never /var/run/postgresql.
            "unix_socket_directories": f"'{self.data_dir}'",
            # A disposable local cluster: durability is not worth the fsync cost on a shared machine.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "50",
            "shared_buffers": "32MB",
        }
        if (PG_BIN.parent / "lib" / "pg_cron.so").exists():
            # pg_cron schedules s3vl.flush as on Aurora: jobs live in database postgres (Aurora's default)
            # and reach other databases with cron.schedule_in_database; they connect over loopback TCP.
            settings["shared_preload_libraries"] = "'pg_cron'"
            settings["cron.database_name"] = "'postgres'"
            settings["cron.host"] = f"'{HOST}'"
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# s3vl local cluster\n")
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")
        return self

    def start(self) -> PostgresCluster:
        """Start the server (init() first when needed); a running cluster is left as it is."""
        self.init()
        if self.is_running():
            return self
        self._run_server_cmd(
            [
                str(PG_BIN / "pg_ctl"),
                "start",
                "--pgdata",
                str(self.data_dir),
                "--log",
                str(self.log_file),
                "--wait",
                "--timeout",
                str(START_TIMEOUT_S),
                "--silent",
            ],
            what="pg_ctl start",
        )
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown) and wait until its postmaster has exited."""
        if not self.is_running():
            return
        self._run_server_cmd(
            [str(PG_BIN / "pg_ctl"), "stop", "--pgdata", str(self.data_dir), "--mode", "fast", "--wait"],
            what="pg_ctl stop",
        )

    def destroy(self) -> None:
        """Stop the server and delete its data directory."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    # --- client helpers ---------------------------------------------------------------------------

    def psql(self, sql: str, dbname: str = "postgres", user: str = SUPERUSER_ROLE) -> str:
        """Run `sql` with psql (stop on the first error) and return its unaligned output."""
        cmd = [
            str(PG_BIN / "psql"),
            "--no-psqlrc",
            "--quiet",
            "--tuples-only",
            "--no-align",
            "--set",
            "ON_ERROR_STOP=1",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--username",
            user,
            "--dbname",
            dbname,
        ]
        result = subprocess.run(cmd, input=sql, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PostgresError(f"psql on database {dbname!r} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def create_database(self, dbname: str) -> None:
        """Create `dbname` unless it exists."""
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", dbname):
            raise PostgresError(f"database name {dbname!r} is not a plain identifier: use letters, digits, _")
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{dbname}'")
        if not exists:
            self.psql(f'CREATE DATABASE "{dbname}"')

    # --- internals --------------------------------------------------------------------------------

    def _configured_port(self) -> int | None:
        conf = self.data_dir / "postgresql.conf"
        try:
            text = conf.read_text()
        except FileNotFoundError:
            return None
        ports = re.findall(r"^port = (\d+)$", text, flags=re.MULTILINE)
        return int(ports[-1]) if ports else None

    def _check_binaries(self) -> None:
        for name in ("initdb", "pg_ctl", "psql"):
            if not (PG_BIN / name).exists():
                raise PostgresError(
                    f"{PG_BIN / name} not found: install postgresql-15 and postgresql-plpython3-15 "
                    "(apt-get install postgresql-15 postgresql-plpython3-15) or set S3VL_PG_BIN"
                )
        if not (PG_BIN.parent / "lib" / "plpython3.so").exists():
            raise PostgresError("plpython3 is missing: apt-get install postgresql-plpython3-15")

    def _prepare_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not _running_as_root():
            self.data_dir.chmod(0o700)
            return
        # The postgres user must be able to reach the data directory through every parent.
        for parent in self.data_dir.parents:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                raise PostgresError(
                    f"{parent} (mode {stat.filemode(mode)}) is not traversable by the postgres user: "
                    f"chmod o+x {parent}, or create the state directory with make_shared_dir()"
                )
        account = pwd.getpwnam(SERVER_USER)
        os.chown(self.data_dir, account.pw_uid, account.pw_gid)
        self.data_dir.chmod(0o700)

    def _run_server_cmd(self, cmd: list[str], what: str) -> None:
        if _running_as_root():
            cmd = ["runuser", "-u", SERVER_USER, "--", *cmd]
        # Run from a directory the postgres user can read, and never inherit the caller's PG* settings.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C.UTF-8"
        result = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd="/", env=env)
        if result.returncode != 0:
            log_tail = ""
            if self.log_file.exists():
                log_tail = "\n".join(self.log_file.read_text(errors="replace").splitlines()[-15:])
            raise PostgresError(
                f"{what} failed for {self.data_dir} (exit {result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}\n{log_tail}".rstrip()
            )
