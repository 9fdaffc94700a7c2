"""Handler errors with the contract's stable codes, and the mapping of AWS failures onto them."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    HTTPClientError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotocoreConnectionError,
)

from .contract import ERRORS

# Codes whose cause may go away on its own (contract.json "retryable"): the caller may retry the request.
RETRYABLE_CODES = frozenset(code for code, error in ERRORS.items() if error.retryable)

# AWS error code -> (contract code, what the caller should do about it).
_AWS_CODES: dict[str, tuple[str, str]] = {
    "NotFoundException": (
        "INDEX_NOT_FOUND",
        "check the index ARN (aws s3vectors get-index --index-arn ...) and register the right one",
    ),
    "AccessDeniedException": (
        "ACCESS_DENIED",
        "grant the function's execution role {actions} on the index",
    ),
    "ValidationException": (
        "VALIDATION_FAILED",
        "fix the request so that it matches the index (dimension, metadata, filterable keys)",
    ),
    "ConflictException": ("CONFLICT", "retry after the conflicting operation has finished"),
    "ServiceQuotaExceededException": ("QUOTA_EXCEEDED", "request a quota increase or reduce usage"),
    "TooManyRequestsException": ("THROTTLED", "retry later or lower the request rate"),
    "ServiceUnavailableException": ("SERVICE_UNAVAILABLE", "retry later"),
    "InternalServerException": ("SERVICE_UNAVAILABLE", "retry later"),
    "RequestTimeoutException": ("AWS_TIMEOUT", "retry, or ask for less work per call"),
}


# botocore failures without an AWS answer, first match wins (a ConnectTimeoutError is a ConnectionError);
# the botocore exception name stands in for the AWS error code.
_SDK_FAILURES: tuple[tuple[tuple[type[Exception], ...], str, str], ...] = (
    (
        (ConnectTimeoutError, ReadTimeoutError),
        "AWS_TIMEOUT",
        "timed out talking to the S3 Vectors endpoint ({exc}) after the client's retries: retry, ask for "
        "less work per call, or raise the Lambda timeout",
    ),
    (
        (BotocoreConnectionError, HTTPClientError),
        "ENDPOINT_UNREACHABLE",
        "could not reach the S3 Vectors endpoint ({exc}): check the function's network path to S3 Vectors "
        "(VPC endpoint or NAT) or AWS_ENDPOINT_URL_S3VECTORS",
    ),
    (
        # Client-side SDK failures: no credentials, bad parameters the SDK refused...
        (BotoCoreError,),
        "AWS_ERROR",
        "failed in the AWS SDK before S3 Vectors answered ({name}: {exc}): check the function's credentials "
        "and configuration",
    ),
)


class HandlerError(Exception):
    """A failure the handler anticipates; it becomes the envelope's `error` object."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        aws_error_code: str | None = None,
        aws_request_id: str | None = None,
        http_status: int | None = None,
        applied: int | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.aws_error_code = aws_error_code
        self.aws_request_id = aws_request_id
        self.http_status = http_status
        # put_vectors / delete_vectors: items of the request applied before the failure.
        self.applied = applied

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE_CODES

    def reworded(self, message: str) -> HandlerError:
        """This error with another message; its code and AWS details kept."""
        return HandlerError(
            self.code,
            message,
            aws_error_code=self.aws_error_code,
            aws_request_id=self.aws_request_id,
            http_status=self.http_status,
            applied=self.applied,
        )

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "retryable": self.retryable,
            "aws_error_code": self.aws_error_code,
            "aws_request_id": self.aws_request_id,
            "http_status": self.http_status,
        }
        if self.applied is not None:
            found["applied"] = self.applied
        return found

    def note_applied(self, applied: int, total: int, what: str, why_safe: str) -> None:
        """Record how many of a write's `total` items were applied before this failure; s3vl's SQL reads
        the count from the message's "(N of M ... before the failure" (80_write.sql)."""
        self.applied = applied
        self.message += f" ({applied} of {total} {what} before the failure; {why_safe})"


def from_aws(exc: ClientError | BotoCoreError, action: str, actions: frozenset[str]) -> HandlerError:
    """Translate a boto3/botocore exception raised by `action` (e.g. QueryVectors) into a HandlerError.

    `actions` are the IAM actions the operation needs, named in the ACCESS_DENIED message.
    """
    if isinstance(exc, ClientError):
        return _from_client_error(exc, action, actions)
    for kinds, code, what in _SDK_FAILURES:
        if isinstance(exc, kinds):
            name = type(exc).__name__
            return HandlerError(code, f"{action} " + what.format(exc=exc, name=name), aws_error_code=name)
    raise AssertionError(f"unmapped botocore exception {type(exc).__name__}")  # BotoCoreError is the last row


def _from_client_error(exc: ClientError, action: str, actions: frozenset[str]) -> HandlerError:
    response: dict[str, Any] = dict(exc.response)
    error = response.get("Error", {})
    metadata = response.get("ResponseMetadata", {})
    aws_code = str(error.get("Code") or "Unknown")
    aws_message = str(error.get("Message") or "no message")
    status = metadata.get("HTTPStatusCode")
    request_id = metadata.get("RequestId") or None
    if aws_code == "ValidationException" and "nexttoken" in aws_message.lower():
        # A stale token, or one from another listing: the caller's fix is about the token, not the index.
        code = "INVALID_NEXT_TOKEN"
        fix = "pass the token from the previous page unchanged, or none to start over"
    elif aws_code in _AWS_CODES:
        code, fix = _AWS_CODES[aws_code]
        fix = fix.format(actions=", ".join(sorted(actions)))
    elif aws_code.startswith("Kms"):
        code, fix = "KMS_ERROR", "check the KMS key of the vector bucket and the role's kms permissions"
    else:
        code, fix = "AWS_ERROR", "see the AWS error code and message"
    return HandlerError(
        code,
        f"S3 Vectors {action} failed with {aws_code}: {aws_message}: {fix}",
        aws_error_code=aws_code,
        aws_request_id=str(request_id) if request_id else None,
        http_status=status if isinstance(status, int) else None,
    )
