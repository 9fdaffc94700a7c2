"""Every S3 Vectors call goes through here so that AWS failures become contract errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from ..errors import from_aws
from ..permissions import OPERATION_ACTIONS

T = TypeVar("T")


def call(operation: str, action: str, method: Callable[..., T], **params: Any) -> T:
    """Call a client `method` (the S3 Vectors `action`) on behalf of contract `operation`."""
    try:
        return method(**params)
    except (ClientError, BotoCoreError) as exc:
        raise from_aws(exc, action, OPERATION_ACTIONS[operation]) from exc
