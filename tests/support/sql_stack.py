"""What the SQL and reliability suites share: the database on the local stack (SqlStack), indexes with
their numpy ground truth (Index) created and read back with boto3, psql as a user runs it, and the
assertion that a statement fails.
The fixtures that build them live in tests/sql/conftest.py and tests/reliability/conftest.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from s3vl_local import local_aws

REPO = Path(__file__).resolve().parents[2]  # tests/support/sql_stack.py
SQL_DIR = REPO / "source" / "sql"
DBNAME = "s3vl_sql"
BUCKET = "s3vl-sql-tests"
# What fresh_function's function takes over from the stack's, with its environment variables.
COPIED_SETTINGS = ("Runtime", "Role", "Handler", "Timeout", "MemorySize")
PSQL = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"


def run_psql(pg: Any, *args: str, dbname: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """The psql client as a user runs it (meta-commands such as \\i need it), on cluster `pg`."""
    env = {
        **os.environ,
        "PGHOST": pg.host,
        "PGPORT": str(pg.port),
        "PGUSER": "postgres",
        "PGDATABASE": dbname,
    }
    return subprocess.run(
        [PSQL, "-X", "-q", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@dataclass
class Index:
    """One emulator index and the ground truth the tests compare with."""

    name: str  # registered name in s3vl
    arn: str
    metric: str
    keys: list[str]
    data: np.ndarray  # float32, one row per key
    metadata: list[dict[str, Any]]

    def row(self, key: str) -> np.ndarray:
        return self.data[self.keys.index(key)]

    def ranking(self, query: np.ndarray, mask: np.ndarray | None = None) -> list[tuple[str, float]]:
        """(key, similarity) of every vector, best first, computed with numpy."""
        q = np.asarray(query, dtype=np.float64)
        data = self.data.astype(np.float64)
        if self.metric == "cosine":
            sims = data @ q / (np.linalg.norm(data, axis=1) * np.linalg.norm(q))
        else:
            sims = 1.0 / (1.0 + np.linalg.norm(data - q, axis=1))
        order = np.argsort(-sims, kind="stable")
        return [(self.keys[i], float(sims[i])) for i in order if mask is None or mask[i]]


@dataclass
class SqlStack:
    stack: Any
    env: dict[str, str]
    function_arn: str
    indexes: dict[str, Index] = field(default_factory=dict)

    @property
    def pg(self) -> Any:
        return self.stack.pg

    def connect(self, user: str = "postgres", dbname: str = DBNAME) -> psycopg.Connection[Any]:
        return psycopg.connect(self.pg.dsn(user=user, dbname=dbname), autocommit=True)

    def psql(self, *args: str, dbname: str = DBNAME, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
        return run_psql(self.pg, *args, dbname=dbname, cwd=cwd)

    def install(self, dbname: str = DBNAME) -> None:
        done = self.psql("-f", "source/sql/install.sql", dbname=dbname)
        assert done.returncode == 0, done.stderr

    def s3vectors(self) -> Any:
        return local_aws.client("s3vectors", self.env["AWS_ENDPOINT_URL_S3VECTORS"])

    def lambda_client(self) -> Any:
        return local_aws.client("lambda", self.env["AWS_ENDPOINT_URL_LAMBDA"])

    def create_database(self, dbname: str, with_shim: bool = True) -> None:
        with self.connect(dbname="postgres") as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
            conn.execute(f'CREATE DATABASE "{dbname}"')
        if with_shim:
            self.stack.install_shim(dbname)

    def drop_database(self, dbname: str) -> None:
        with self.connect(dbname="postgres") as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')

    @contextlib.contextmanager
    def configured(
        self, conn: psycopg.Connection[Any], arn: str, timeout_seconds: int = 15
    ) -> Iterator[None]:
        """Point s3vl at another function for the duration of a test, then back at the stack's."""
        conn.execute("SELECT s3vl.configure(%s, NULL, %s)", (arn, timeout_seconds))
        try:
            yield
        finally:
            conn.execute("SELECT s3vl.configure(%s)", (self.function_arn,))

    @contextlib.contextmanager
    def fresh_function(
        self, conn: psycopg.Connection[Any], name: str, variables: dict[str, str] | None = None
    ) -> Iterator[str]:
        """Point s3vl, for one test, at a new function `name` with the stack function's code and settings.

        Like a warm Lambda execution environment, a warm worker keeps its S3 Vectors client and so
        botocore's retry quota across invocations (standard mode: 500 tokens, a retried 5xx costs 14, a
        retried 429 costs 5, a call answered at once gives 1 back): on a worker whose calls earlier tests
        failed persistently the function retries nothing. A test that counts the function's retries runs
        on a new function, whose first worker starts with the whole quota. `variables` add to or replace
        the stack function's environment variables."""
        client = self.lambda_client()
        settings = client.get_function_configuration(FunctionName=self.function_arn)
        environment = {**settings.get("Environment", {}).get("Variables", {}), **(variables or {})}
        timeout_seconds = conn.execute("SELECT timeout_seconds FROM s3vl.get_config()").fetchone()[0]
        arn = client.create_function(
            FunctionName=name,
            Code={"ZipFile": self.stack.zip_path.read_bytes()},
            **{key: settings[key] for key in COPIED_SETTINGS},
            Environment={"Variables": environment},
        )["FunctionArn"]
        try:
            with self.configured(conn, arn, timeout_seconds):
                yield arn
        finally:
            client.delete_function(FunctionName=name)


def create_index(
    client: Any,
    name: str,
    dim: int,
    metric: str,
    keys: list[str],
    data: np.ndarray,
    metadata: list[dict[str, Any]],
    bucket: str = BUCKET,
) -> str:
    """Create float32 index `name` in `bucket`, put keys[i] -> data[i] with metadata[i]; return its ARN."""
    client.create_index(
        vectorBucketName=bucket, indexName=name, dataType="float32", dimension=dim, distanceMetric=metric
    )
    items = [
        {"key": k, "data": {"float32": [float(x) for x in row]}, "metadata": m}
        for k, row, m in zip(keys, data, metadata, strict=True)
    ]
    for start in range(0, len(items), 500):
        client.put_vectors(vectorBucketName=bucket, indexName=name, vectors=items[start : start + 500])
    return str(client.get_index(vectorBucketName=bucket, indexName=name)["index"]["indexArn"])


def index_vectors(client: Any, index: str, bucket: str = BUCKET) -> Iterator[dict[str, Any]]:
    """Every vector of emulator index `index` with its data and metadata, page after page, read with boto3
    (independent of the chain under test)."""
    token = None
    while True:
        extra = {"nextToken": token} if token else {}
        page = client.list_vectors(
            vectorBucketName=bucket, indexName=index, returnData=True, returnMetadata=True, **extra
        )
        yield from page["vectors"]
        token = page.get("nextToken")
        if not token:
            return


def raises_sqlstate(conn: psycopg.Connection[Any], sql: str, params: Any = None) -> psycopg.Error:
    """Run `sql`, which must fail; return the error for its SQLSTATE and diagnostics."""
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(sql, params).fetchall()
    return caught.value
