"""The whole local stack: PostgreSQL with the Aurora shim, the S3 Vectors emulator and the Lambda service.

Every process runs in the background with a PID file under the state directory (run/), so `up` finds a
running stack and leaves it be, and `down` stops exactly what `up` started. `up` also (re)deploys the
function s3vl-vector-query from the zip package.sh builds and writes stack.env for the shell.

The parts name each other by URL (the Lambda service's functions call the emulator, the shim calls the
Lambda service), so a part that restarts keeps its port (run/<name>.port), and `up` leaves only a stack
whose parts answer and point at each other: a part that does not answer is replaced, a Lambda service
whose functions call another emulator is restarted. `status` asks each part, not only its PID.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import ClientError

from s3vl_local import awscli_model, latency_profiles, local_aws, probes
from s3vl_local.aurora_shim.installer import ENDPOINT_SETTING, install_shim
from s3vl_local.lambda_service.events import DEAD_LETTER_DIR
from s3vl_local.lambda_service.functions import function_arn
from s3vl_local.lambda_service.logs import log_path
from s3vl_local.lambda_service.server import SERVICE_PATH
from s3vl_local.postgres import SUPERUSER_ROLE, PostgresCluster, make_shared_dir
from s3vl_local.processes import is_alive, stop_pid


def _checkout(module: Path) -> Path:
    """The s3vl checkout: the nearest directory holding source/lambda/package.sh above `module` (an
    editable install) or else above the working directory (an installed copy run from the checkout)."""
    for start in (module.resolve(), Path.cwd().resolve()):
        for directory in (start, *start.parents):
            if (directory / "source" / "lambda" / "package.sh").is_file():
                return directory
    return Path.cwd()  # the commands that need the checkout's files name the missing file


REPO = _checkout(Path(__file__))
PACKAGE_SCRIPT = REPO / "source" / "lambda" / "package.sh"
DEFAULT_ZIP = REPO / "source" / "lambda" / "build" / "sample-rds-lambda-s3vector.zip"
FUNCTION_NAME = "s3vl-vector-query"
FUNCTION_HANDLER = "lambda_function.lambda_handler"
FUNCTION_TIMEOUT_S = 10
FUNCTION_MEMORY_MB = 128
# As the CloudFormation template's RankSliceIds default: rank_vectors ranks more candidates than this in
# slices, each by an invocation of its own (docs/sql-reference.md, rank_vectors).
RANK_SLICE_IDS = 1000
DEMO_INDEX_ARN = (
    f"arn:aws:s3vectors:{local_aws.REGION}:{local_aws.ACCOUNT}:bucket/s3vl-vector-bucket/index/test-index-5d"
)
DAEMON_START_TIMEOUT_S = 30
PORT_FREE_WAIT_S = 3.0  # how long a restart waits for its recorded port before it takes another
S3VECTORS_ENV = "AWS_ENDPOINT_URL_S3VECTORS"  # how the Lambda service's functions find the emulator
RUNNING, STOPPED, UNREACHABLE = "running", "stopped", "unreachable"


class StackError(RuntimeError):
    """The local stack could not start or stop; the message names the cause and the fix."""


@dataclass
class Component:
    """What `status` found for one part: its state (RUNNING, STOPPED or UNREACHABLE) and a line saying so."""

    name: str
    state: str
    detail: str


@dataclass
class Daemon:
    """A background service of the stack: `python -m <module> --port PORT ...` printing its URL."""

    name: str
    module: str
    args: list[str]
    run_dir: Path
    # Files under run_dir named for the daemon. args: the arguments it runs with (start() restarts a
    # daemon that runs with others); port: the port it last served on, kept by stop() so that a
    # restart binds the same port.
    pid_file: Path = field(init=False)
    url_file: Path = field(init=False)
    log_file: Path = field(init=False)
    args_file: Path = field(init=False)
    port_file: Path = field(init=False)

    def __post_init__(self) -> None:
        self.pid_file, self.url_file, self.log_file, self.args_file, self.port_file = (
            self.run_dir / f"{self.name}.{suffix}" for suffix in ("pid", "url", "log", "args", "port")
        )

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if is_alive(pid) and self._is_ours(pid) else None

    def _is_ours(self, pid: int) -> bool:
        """A PID from the file may have been reused by another process since this daemon died."""
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return self.module.encode() in argv

    def recorded_port(self) -> int | None:
        try:
            port = int(self.port_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return port if 0 < port < 65536 else None

    def url(self) -> str | None:
        if self.pid() is None:
            return None
        try:
            return self.url_file.read_text().strip()
        except FileNotFoundError:
            return None

    def start(self) -> str:
        """Start unless running with these arguments (a latency profile, say), on the recorded port when it
        is free, else on any; return its URL."""
        url = self.url()
        if url and self._runs_with_args():
            return url
        if url:
            self.stop()
        port = self.recorded_port()
        if port is not None and _bindable(port, PORT_FREE_WAIT_S):
            try:
                return self._spawn(port)
            except StackError:
                pass  # the start failed on that port: try any port before giving up
        return self._spawn(0)  # the port is taken: a new one, which dependents then follow

    def _spawn(self, port: int) -> str:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", self.module, "--port", str(port), *self.args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the shell that ran `s3vl-local up`
                cwd=REPO,
            )
        self.pid_file.write_text(str(process.pid))
        self.args_file.write_text("\0".join(self.args))
        marker = "listening on "
        deadline = time.monotonic() + DAEMON_START_TIMEOUT_S
        while time.monotonic() < deadline:
            for line in self.log_file.read_text().splitlines():
                if marker in line:
                    url = line.split(marker, 1)[1].strip()
                    self.url_file.write_text(url)
                    self.port_file.write_text(url.rsplit(":", 1)[1])
                    return url
            if process.poll() is not None:
                break
            time.sleep(0.05)
        stop_pid(process.pid)
        raise StackError(
            f"{self.name} did not start: see {self.log_file}\n{self.log_file.read_text()[-2000:]}"
        )

    def _runs_with_args(self) -> bool:
        try:
            return self.args_file.read_text() == "\0".join(self.args)
        except FileNotFoundError:
            return True  # started before arguments were recorded: leave it be

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None:
            stop_pid(pid, timeout_s=30)
        self.pid_file.unlink(missing_ok=True)
        self.url_file.unlink(missing_ok=True)


class LocalStack:
    """The local stack with its state in `state_dir`; PGDATABASE is `dbname` (the shim is installed there)."""

    def __init__(
        self,
        state_dir: Path,
        dbname: str = "s3vl",
        zip_path: Path = DEFAULT_ZIP,
        latency_profile: str = latency_profiles.NONE,
    ) -> None:
        latency_profiles.profile(latency_profile)  # an unknown name fails here, not in a daemon
        self.latency_profile = latency_profile
        self.state_dir = Path(state_dir).absolute()
        self.dbname = dbname
        self.zip_path = zip_path
        self.run_dir = self.state_dir / "run"
        self.pg = PostgresCluster(self.state_dir / "postgres")
        self.emulator = Daemon(
            "s3vectors",
            "s3vl_local.s3vectors",
            ["--data-dir", str(self.state_dir / "s3vectors"), "--latency-profile", latency_profile],
            self.run_dir,
        )
        # Its arguments name the emulator's URL, known once the emulator runs: set in start().
        self.lambda_service = Daemon("lambda", "s3vl_local.lambda_service", [], self.run_dir)
        self.env_file = self.state_dir / "stack.env"
        # The AWS CLI's own s3vectors model lacks queryTexts: stack.env points it at boto3's.
        self.aws_models_dir = self.state_dir / "aws-models"

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> LocalStack:
        """Start what is not running (or does not answer), restart the Lambda service when its functions
        call another emulator, deploy the function from the current zip, point the shim at the service,
        write stack.env; raise unless every part then answers and points at the others."""
        make_shared_dir(self.state_dir)
        self.pg.start()
        s3vectors_url = self._answering(self.emulator, probes.s3vectors)
        self.lambda_service.args = ["--state-dir", str(self.lambda_state_dir)]
        self.lambda_service.args += ["--function-env", f"{S3VECTORS_ENV}={s3vectors_url}"]
        self.lambda_service.args += ["--latency-profile", self.latency_profile]
        lambda_url = self._answering(
            self.lambda_service, lambda url: self._lambda_problem(url, s3vectors_url)
        )
        self.deploy_function(lambda_url)
        self.install_shim(self.dbname)
        awscli_model.write_model_dir(self.aws_models_dir)
        self.env_file.write_text(
            "# The local s3vl stack (s3vl-local up). Use it with:  source "
            + str(self.env_file)
            + "\n"
            + "".join(f"export {key}={shlex.quote(value)}\n" for key, value in self.env().items())
        )
        broken = [f"{part.name} {part.detail}" for part in self.health() if part.state != RUNNING]
        if broken:
            raise StackError("the stack started but does not work: " + "; ".join(broken))
        return self

    @staticmethod
    def _answering(daemon: Daemon, problem_of: Callable[[str], str | None]) -> str:
        """Start `daemon` unless it runs; one that runs but does not answer as required is restarted."""
        url = daemon.start()
        if problem_of(url) is None:
            return url
        daemon.stop()
        url = daemon.start()
        problem = problem_of(url)
        if problem is not None:
            raise StackError(f"{daemon.name} started but {problem}: see {daemon.log_file}")
        return url

    @staticmethod
    def _lambda_problem(lambda_url: str, s3vectors_url: str | None) -> str | None:
        """Why the Lambda service at `lambda_url` does not serve this stack, or None when it does."""
        settings, problem = probes.lambda_service(lambda_url, SERVICE_PATH)
        if problem is not None or settings is None:
            return problem
        called = settings.get("function_env", {}).get(S3VECTORS_ENV)
        if called != s3vectors_url:
            return f"its functions call S3 Vectors at {called}, not the emulator at {s3vectors_url}"
        return None

    def stop(self) -> None:
        """Stop the Lambda service (and with it its workers), the emulator and PostgreSQL, by PID."""
        self.lambda_service.stop()
        self.emulator.stop()
        self.pg.stop()
        self.env_file.unlink(missing_ok=True)

    def status(self) -> dict[str, str]:
        return {part.name: part.detail for part in self.health()}

    def health(self) -> list[Component]:
        """Each part as its clients find it: running means it answers and points at the running others."""
        fix = "run `s3vl-local up`"
        s3vectors_url = self.emulator.url()
        lambda_url = self.lambda_service.url()

        postgres = Component("postgres", STOPPED, "stopped")
        if self.pg.is_running():
            where = f"{self.pg.host}:{self.pg.port}"
            endpoint, problem = probes.postgres_setting(self.pg, ENDPOINT_SETTING)
            if problem is not None:
                detail = f"unreachable: {problem} (pid {self.pg.pid()}): run `s3vl-local down`, then up"
                postgres = Component("postgres", UNREACHABLE, detail)
            elif lambda_url and endpoint != lambda_url:
                detail = f"on {where}, but the shim calls {endpoint or 'nothing'}, not the Lambda service"
                postgres = Component("postgres", UNREACHABLE, f"{detail} at {lambda_url}: {fix}")
            else:
                postgres = Component("postgres", RUNNING, f"running on {where}")

        s3vectors = Component("s3vectors", STOPPED, "stopped")
        if s3vectors_url:
            problem = probes.s3vectors(s3vectors_url)
            if problem is None:
                s3vectors = Component("s3vectors", RUNNING, f"running at {s3vectors_url}")
            else:
                detail = f"unreachable: {problem} (pid {self.emulator.pid()}): {fix} to restart it"
                s3vectors = Component("s3vectors", UNREACHABLE, detail)

        lambda_ = Component("lambda", STOPPED, "stopped")
        if lambda_url:
            problem = self._lambda_problem(lambda_url, s3vectors_url)
            if problem is None:
                lambda_ = Component("lambda", RUNNING, f"running at {lambda_url}")
            else:
                detail = f"unreachable: {problem} (pid {self.lambda_service.pid()}): {fix}"
                lambda_ = Component("lambda", UNREACHABLE, detail)
        dead_letters = self.dead_letter_count()
        if dead_letters:
            lambda_.detail += f"; {dead_letters} failed Event invocation(s) in {self.dead_letter_dir}"
        return [postgres, s3vectors, lambda_]

    @property
    def lambda_state_dir(self) -> Path:
        return self.state_dir / "lambda"

    def function_log(self, name: str = FUNCTION_NAME) -> Path:
        """The log of function `name`: START..REPORT and the handler's lines of every invocation."""
        return log_path(self.lambda_state_dir, name)

    @property
    def dead_letter_dir(self) -> Path:
        """Where the Lambda service writes Event invocations that failed every attempt."""
        return self.lambda_state_dir / DEAD_LETTER_DIR

    def dead_letter_count(self) -> int:
        files = sorted(self.dead_letter_dir.glob("*.jsonl"))
        return sum(len(path.read_bytes().splitlines()) for path in files)

    def env(self) -> dict[str, str]:
        """The stack.env variables; raises when a component is not running."""
        s3vectors_url = self.emulator.url()
        lambda_url = self.lambda_service.url()
        if not (self.pg.is_running() and s3vectors_url and lambda_url):
            raise StackError(f"the local stack in {self.state_dir} is not running: run `s3vl-local up`")
        return {
            "PGHOST": self.pg.host,
            "PGPORT": str(self.pg.port),
            "PGDATABASE": self.dbname,
            "PGUSER": SUPERUSER_ROLE,
            "AWS_ENDPOINT_URL_S3VECTORS": s3vectors_url,
            "AWS_ENDPOINT_URL_LAMBDA": lambda_url,
            "AWS_ACCESS_KEY_ID": local_aws.ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": local_aws.SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": local_aws.REGION,
            "S3VL_LAMBDA_FUNCTION_ARN": function_arn(FUNCTION_NAME),
            "S3VL_S3_INDEX_ARN": DEMO_INDEX_ARN,
            "AWS_DATA_PATH": str(self.aws_models_dir),
        }

    # --- parts ------------------------------------------------------------------------------------

    def install_shim(self, dbname: str) -> None:
        """Create `dbname` if needed and install the Aurora shim there, pointed at this stack's service."""
        lambda_url = self.lambda_service.url()
        if not lambda_url:
            raise StackError("the Lambda service is not running: run `s3vl-local up` first")
        self.pg.create_database(dbname)
        install_shim(self.pg, dbname, lambda_url)

    def deploy_function(self, lambda_url: str) -> None:
        """Create s3vl-vector-query, or update its code and settings when they differ from the zip's."""
        if not self.zip_path.exists():
            build = subprocess.run([str(PACKAGE_SCRIPT)], capture_output=True, text=True, check=False)
            if build.returncode != 0 or not self.zip_path.exists():
                raise StackError(f"{PACKAGE_SCRIPT} failed (exit {build.returncode}): {build.stderr.strip()}")
        code = self.zip_path.read_bytes()
        client = local_aws.client("lambda", lambda_url)
        settings = {
            "Handler": FUNCTION_HANDLER,
            "Timeout": FUNCTION_TIMEOUT_S,
            "MemorySize": FUNCTION_MEMORY_MB,
            "Environment": {"Variables": {"S3VL_RANK_SLICE_IDS": str(RANK_SLICE_IDS)}},
        }
        try:
            current = client.get_function_configuration(FunctionName=FUNCTION_NAME)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            client.create_function(
                FunctionName=FUNCTION_NAME,
                Runtime=f"python3.{sys.version_info.minor}",
                Role=f"arn:aws:iam::{local_aws.ACCOUNT}:role/s3vl-lambda-execution-role",
                Code={"ZipFile": code},
                **settings,
            )
            return
        if current["CodeSha256"] != base64.b64encode(hashlib.sha256(code).digest()).decode():
            client.update_function_code(FunctionName=FUNCTION_NAME, ZipFile=code)
        if any(current.get(key) != value for key, value in settings.items()):
            client.update_function_configuration(FunctionName=FUNCTION_NAME, **settings)


def _bindable(port: int, wait_s: float) -> bool:
    """Whether a server can bind 127.0.0.1:`port` (as the daemons do, with SO_REUSEADDR) within `wait_s`.
    Just after a daemon was killed the kernel may refuse its port for a moment while the dead process's
    connections close, so a refusal is retried until `wait_s` has passed."""
    deadline = time.monotonic() + wait_s
    while True:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
                return True
            except OSError:
                if time.monotonic() > deadline:
                    return False
        time.sleep(0.1)


def default_state_dir() -> Path:
    return Path(os.environ.get("S3VL_STATE_DIR", ".local"))
