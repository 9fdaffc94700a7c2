"""health: what runs here (versions, region), and optionally whether an index answers."""

from __future__ import annotations

import os
import platform
from typing import Any

import boto3
import botocore

from .. import HANDLER_VERSION, vector_data
from ..contract import CONTRACT_VERSION
from ..errors import HandlerError
from ..requests import HealthRequest
from .get_index import describe


def run(request: HealthRequest) -> dict[str, Any]:
    result: dict[str, Any] = {
        "handler_version": HANDLER_VERSION,
        "contract_version": CONTRACT_VERSION,
        "boto3_version": boto3.__version__,
        "botocore_version": botocore.__version__,
        "python_version": platform.python_version(),
        "json_decoder": vector_data.DECODER,
        "region": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        "function_name": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
    }
    if request.index is not None:
        # An unreachable index is a finding of the health check, not a failure of it.
        probe: dict[str, Any] = {"index_arn": request.index.arn}
        try:
            index = describe(request.index, "health")
        except HandlerError as exc:
            probe.update(reachable=False, error=exc.to_dict())
        else:
            probe.update(
                reachable=True, dimension=index["dimension"], distance_metric=index["distance_metric"]
            )
            if index["text_search"]:  # the full-text keys and their BUILDING / ACTIVE status
                probe["text_search"] = index["text_search"]
        result["index"] = probe
    return result
