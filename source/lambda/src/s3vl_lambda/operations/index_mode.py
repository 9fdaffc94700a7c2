"""set_index_mode: UpdateIndexMode (CLASSIC or ENHANCED, switched in place), then the index as GetIndex
reports it, so that the caller records what the service holds."""

from __future__ import annotations

from typing import Any

from ..clients import client_for
from ..text_requests import IndexModeRequest
from .aws_call import call
from .get_index import describe


def run(request: IndexModeRequest) -> dict[str, Any]:
    client = client_for(request.index.region)
    call(
        "set_index_mode",
        "UpdateIndexMode",
        client.update_index_mode,
        indexArn=request.index.arn,
        indexMode=request.index_mode,
    )
    return describe(request.index, "set_index_mode")
