"""Reachability probes for the local stack: one short request to a service, as its clients would send it.

A PID that is alive says nothing about whether a service answers (a frozen or wedged process keeps its
PID) or whether the parts point at each other; `s3vl-local up` and `status` ask each part instead. Each
probe returns None when the service answered as expected, else the reason in words.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
from typing import Any
from urllib.parse import urlsplit

from s3vl_local.fault_plans import CONTROL_PATH
from s3vl_local.postgres import PG_BIN, SUPERUSER_ROLE, PostgresCluster

PROBE_TIMEOUT_S = 3.0


def http_json(url: str, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
    """(status, decoded JSON body) of one request to `url`; OSError or ValueError when there is none."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=PROBE_TIMEOUT_S
    )
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    return response.status, json.loads(raw or b"null")


def s3vectors(url: str) -> str | None:
    """The emulator answers on its control path, which fault plans neither fail nor count, so that asking
    never disturbs a test that injects faults, nor mistakes an injected error for a dead emulator."""
    try:
        status, state = http_json(url, "GET", CONTROL_PATH)
    except (OSError, ValueError) as error:
        return f"no answer from {url} ({type(error).__name__}: {error})"
    if status != 200 or not isinstance(state, dict) or "plans" not in state:
        return f"{url} answered GET {CONTROL_PATH} with HTTP {status}: not the S3 Vectors emulator"
    return None


def lambda_service(url: str, service_path: str) -> tuple[dict[str, Any] | None, str | None]:
    """(its settings, None) if the service answers GET `service_path` and ListFunctions, else (None, why)."""
    try:
        status, settings = http_json(url, "GET", service_path)
        listed, _ = http_json(url, "GET", "/2015-03-31/functions/")
    except (OSError, ValueError) as error:
        return None, f"no answer from {url} ({type(error).__name__}: {error})"
    if status != 200 or listed != 200 or not isinstance(settings, dict):
        return None, f"{url} answered HTTP {status} on {service_path} and {listed} on ListFunctions"
    return settings, None


def postgres_setting(cluster: PostgresCluster, setting: str) -> tuple[str | None, str | None]:
    """(the setting's value in a new session, None) when PostgreSQL accepts a connection, else (None, why)."""
    conninfo = (
        f"host={cluster.host} port={cluster.port} user={SUPERUSER_ROLE} dbname=postgres "
        f"connect_timeout={int(PROBE_TIMEOUT_S)}"
    )
    query = f"SELECT current_setting('{setting}', true)"
    try:
        done = subprocess.run(
            [str(PG_BIN / "psql"), "--no-psqlrc", "-At", "-d", conninfo, "-c", query],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S + 2,
            check=False,
            env={**os.environ, "PGAPPNAME": "s3vl-local status"},
        )
    except subprocess.TimeoutExpired:
        return None, f"no answer from {cluster.host}:{cluster.port} within {PROBE_TIMEOUT_S + 2:.0f} s"
    if done.returncode != 0:
        return None, f"cannot connect to {cluster.host}:{cluster.port}: {done.stderr.strip()}"
    return done.stdout.strip(), None
