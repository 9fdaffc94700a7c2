"""One S3 Vectors client per region per container, created on first use and reused, and the Lambda client
rank_vectors invokes the function itself with (operations/rank_slices.py).

Endpoints come from boto3's own configuration (AWS_ENDPOINT_URL_S3VECTORS and AWS_ENDPOINT_URL_LAMBDA
included), so the same code talks to AWS and to the local stack.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from . import HANDLER_VERSION, deadline
from .sdk import sdk_session

if TYPE_CHECKING:
    from mypy_boto3_s3vectors import S3VectorsClient

# get_vectors runs this many GetVectors calls at once; the connection pool must hold them all.
MAX_CONCURRENT_CALLS = 8
# rank_vectors runs this many GetVectors calls at once: 5,000 candidates are 50 calls of ~40 ms, so two
# rounds; the per-index read rate (hundreds a second) is what bounds more.
RANK_CONCURRENCY = 32
# query_vectors_batch runs this many QueryVectors calls at once (operations/batch.py): at ~115 ms a
# query, ~280/s against a 200/s per-index limit, so the index's rate bounds a batch; 429s are backed off.
BATCH_CONCURRENCY = 32
RETRY_ATTEMPTS = 3  # standard mode: the first attempt plus two retries, with jittered backoff
# Standard mode also keeps a retry quota per client, so per warm container and across invocations: a
# retry spends from it and only calls answered without retry refill it, so after a burst of failures
# the container retries nothing for a while (the SDK's guard against retry storms on a failing service).
CONNECT_TIMEOUT_S = (0.5, 2.0)  # bounds of the connect timeout
READ_TIMEOUT_S = (1.0, 30.0)  # bounds of the read timeout

_lock = threading.Lock()
_boto3_session: boto3.session.Session | None = None
_clients: dict[tuple[str, int], S3VectorsClient] = {}
_lambda_clients: dict[str, Any] = {}
# rank_vectors invokes the function itself for at most this many slices at once.
SLICE_CONCURRENCY = 16


def timeouts_for(budget_s: float) -> tuple[float, float]:
    """(connect, read) timeouts for a function with `budget_s` seconds to work.

    An attempt (connect + read) takes at most half the budget, so a stuck connection times out
    and is reported while the function can still answer.
    """
    connect = min(max(budget_s * 0.1, CONNECT_TIMEOUT_S[0]), CONNECT_TIMEOUT_S[1])
    read = min(max(budget_s * 0.4, READ_TIMEOUT_S[0]), READ_TIMEOUT_S[1])
    return connect, read


def _session() -> boto3.session.Session:
    """The container's boto3 session (callers hold _lock)."""
    global _boto3_session
    if _boto3_session is None:
        # Built on the botocore session limits.py reads the model through: the model is parsed once.
        _boto3_session = boto3.session.Session(botocore_session=sdk_session())
    return _boto3_session


def lambda_client(region: str) -> Any:
    """The region's Lambda client: one attempt per call (a slice Lambda refuses is ranked by the caller),
    and a read timeout of the whole time the invocation that created it had (a slice may take as long)."""
    with _lock:
        client = _lambda_clients.get(region)
        if client is None:
            remaining = deadline.current().remaining_s()
            config = Config(
                region_name=region,
                connect_timeout=timeouts_for(remaining)[0],
                read_timeout=max(remaining, READ_TIMEOUT_S[0]),
                retries={"mode": "standard", "total_max_attempts": 1},
                max_pool_connections=SLICE_CONCURRENCY,
                user_agent_extra=f"s3vl/{HANDLER_VERSION}",
            )
            client = _session().client("lambda", config=config)
            _lambda_clients[region] = client
        return client


def client_for(region: str, attempts: int = RETRY_ATTEMPTS) -> S3VectorsClient:
    """The region's client; its timeouts come from the remaining time of the invocation that
    created it (every invocation of a function starts with the same timeout)."""
    with _lock:
        # attempts=1: the caller retries itself (query_vectors_batch backs off on 429 in operations/batch.py).
        client = _clients.get((region, attempts))
        if client is None:
            client = _create(region, attempts)
            _clients[(region, attempts)] = client
        return client


def _create(region: str, attempts: int) -> S3VectorsClient:
    connect, read = timeouts_for(deadline.current().remaining_s())
    config = Config(
        region_name=region,
        connect_timeout=connect,
        read_timeout=read,
        retries={"mode": "standard", "total_max_attempts": attempts},
        # The one-attempt client is the bulk callers' (query_vectors_batch, rank_vectors, backoff.py), whose
        # parameters the handler has checked (validation.py): botocore's check walks every key and vector
        # element again, 0.5 ms of a GetVectors of 100 keys' 2 ms of SDK work.
        parameter_validation=attempts != 1,
        max_pool_connections=max(MAX_CONCURRENT_CALLS, RANK_CONCURRENCY, BATCH_CONCURRENCY),
        user_agent_extra=f"s3vl/{HANDLER_VERSION}",
    )
    client = _session().client("s3vectors", config=config)
    attempt_s = connect + read

    def check_deadline(**_: Any) -> None:
        # Runs before every HTTP attempt, retries included: never start one that cannot finish.
        deadline.current().require(attempt_s, "one S3 Vectors request attempt")

    client.meta.events.register("before-send.s3vectors", check_deadline)
    return client
