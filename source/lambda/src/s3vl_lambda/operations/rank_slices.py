"""rank_vectors over many candidates: slices of them ranked at once by other invocations of this function.

Ranking is bound by one CPU: decoding GetVectors answers and scoring takes about 7 ms per 100 candidates
of 768 dimensions, and the GIL serialises it whatever the thread count (rank.py). With
S3VL_RANK_SLICE_IDS set (the CloudFormation template sets 1000), a request with more distinct candidates
than that is cut into slices of that many: this invocation ranks the first slice and invokes the function
itself (RequestResponse, the same version) for each other slice, all at once, so that each slice has a CPU
of its own. A slice answers its top_k with float64 distances, so the merge is exact, as s3vl's merge of
several invocations is. At most 16 slices run at once (more candidates make larger slices), and a slice's
request says it is one (`slice`), so it is never sliced again: one call fans out once.

A slice that Lambda refuses for concurrency (429: the function's reserved concurrency is in use) is ranked
in this invocation instead: the same answer, later. Any other failure to invoke raises with its fix, and
a slice's own error is raised as the slice raised it (it speaks this contract).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .. import nul_escape, vector_data
from ..clients import SLICE_CONCURRENCY, lambda_client
from ..contract import CONTRACT_VERSION
from ..errors import HandlerError, from_aws
from ..rank_request import RankRequest

SETTING = "S3VL_RANK_SLICE_IDS"
_INVOKE_ACTION = frozenset({"lambda:InvokeFunction"})


@dataclasses.dataclass(frozen=True)
class Ranked:
    """What ranking some candidates found: their top_k as (float64 distance, key as returned to SQL)."""

    rows: list[tuple[float, str]]
    missing: int  # distinct keys not in the index
    batches: int  # GetVectors calls for the candidates
    throttled: int  # 429 and 503 answers retried
    invoked: int = 0  # slices ranked by other invocations
    refused: int = 0  # slices Lambda refused for concurrency, ranked here instead


def slice_size() -> int:
    """The setting: candidates per slice, 0 (unset) for none."""
    text = os.environ.get("S3VL_RANK_SLICE_IDS", "").strip()
    if not text:
        return 0
    if not text.isdecimal():
        raise HandlerError(
            "INVALID_SETTING",
            f"the function's environment variable {SETTING} is {text[:40]!r}, not a whole number: set it to "
            "the candidates per rank_vectors slice (1000 in the CloudFormation template), or 0 for none",
        )
    return int(text)


def cut(keys: list[str], size: int) -> list[list[str]]:
    """`keys` in slices of `size` (one slice when slicing is off or not needed); at most SLICE_CONCURRENCY, so
    larger slices when there are more keys than SLICE_CONCURRENCY slices of `size`."""
    if size <= 0 or len(keys) <= size:
        return [keys]
    count = min(-(-len(keys) // size), SLICE_CONCURRENCY)
    step = -(-len(keys) // count)
    return [keys[start : start + step] for start in range(0, len(keys), step)]


def invoke(request: RankRequest, keys: list[str], rank_here: Callable[[list[str]], Ranked]) -> Ranked:
    """`keys` ranked by another invocation of this function; by rank_here when Lambda refuses it for
    concurrency."""
    event = {
        "operation": "rank_vectors",
        "contract_version": CONTRACT_VERSION,
        "index_arn": request.index.arn,
        "distance_metric": request.distance_metric,
        "query_vector": request.query_vector,
        "keys": [nul_escape.encode(key) for key in keys],
        "top_k": request.top_k,
        "return_metadata": False,
        "slice": True,
    }
    name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if not name:
        raise HandlerError(
            "INVALID_SETTING",
            f"{SETTING} is set but AWS_LAMBDA_FUNCTION_NAME is not, so the function cannot invoke itself: "
            f"run it in Lambda, or unset {SETTING}",
        )
    qualifier = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION") or "$LATEST"
    try:
        answer = lambda_client(request.index.region).invoke(
            FunctionName=name, Qualifier=qualifier, Payload=vector_data.dumps(event)
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "TooManyRequestsException":
            return dataclasses.replace(rank_here(keys), refused=1)
        raise _invoke_error(exc, name) from exc
    except BotoCoreError as exc:
        raise _invoke_error(exc, name) from exc
    return _answer(answer, name)


def _invoke_error(exc: ClientError | BotoCoreError, name: str) -> HandlerError:
    """The contract error of a failed invocation of the function by itself: from_aws's code, with the fix
    for Lambda."""
    error = from_aws(exc, "Invoke", _INVOKE_ACTION)
    route = (
        "give the function's subnets a route to the Lambda endpoint (NAT gateway or a lambda interface VPC "
        f"endpoint, as Aurora uses), or set {SETTING} to 0"
    )
    fix = {
        "ACCESS_DENIED": f"grant the execution role lambda:InvokeFunction on function {name} (the "
        f"CloudFormation template does), or set {SETTING} to 0",
        "ENDPOINT_UNREACHABLE": route,
        # In a VPC without a route, connecting times out rather than being refused.
        "AWS_TIMEOUT": f"if connecting timed out, {route}; else raise the function's timeout",
    }.get(error.code, f"see the error, or set {SETTING} to 0 to rank in one invocation")
    return error.reworded(
        f"rank_vectors could not invoke function {name} for a slice of its candidates ({exc}): {fix}"
    )


def _answer(answer: Any, name: str) -> Ranked:
    payload = answer["Payload"].read()
    if answer.get("FunctionError"):
        detail = _json_object(payload)
        kind = str(detail.get("errorType") or answer["FunctionError"])
        code = "DEADLINE_EXCEEDED" if kind == "Sandbox.Timedout" else "AWS_ERROR"
        raise HandlerError(
            code,
            f"a rank_vectors slice invocation of function {name} failed ({kind}: "
            f"{str(detail.get('errorMessage'))[:300]}): pass fewer candidate ids per call, raise the "
            f"function's timeout or memory, or see its log",
            aws_error_code=kind,
        )
    envelope = _json_object(payload)
    if envelope.get("ok") is not True:
        error = envelope.get("error") or {}
        raise HandlerError(
            str(error.get("code") or "AWS_ERROR"),
            str(error.get("message") or f"a slice invocation answered {payload[:200]!r}"),
            aws_error_code=error.get("aws_error_code"),
            aws_request_id=error.get("aws_request_id"),
            http_status=error.get("http_status"),
        )
    result = envelope["result"]
    return Ranked(
        rows=[(row["exact_distance"], row["key"]) for row in result["vectors"]],
        missing=result["missing"],
        batches=result["batches"],
        throttled=result["throttled"],
        invoked=1,
    )


def _json_object(payload: bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {}
