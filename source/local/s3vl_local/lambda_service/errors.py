"""Lambda API errors as the service answers them: HTTP status, x-amzn-ErrorType and a JSON body."""

from __future__ import annotations

import json


class LambdaApiError(Exception):
    """An error response of the Lambda API (what botocore turns into a ClientError)."""

    def __init__(self, status: int, error_type: str, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.reason = reason

    def body(self) -> bytes:
        document = {"Type": "User", "Message": self.message, "message": self.message}
        if self.reason:
            document["Reason"] = self.reason
        return json.dumps(document).encode()


def not_found(arn: str) -> LambdaApiError:
    return LambdaApiError(404, "ResourceNotFoundException", f"Function not found: {arn}")


def invalid_parameter(message: str) -> LambdaApiError:
    return LambdaApiError(400, "InvalidParameterValueException", message)


def throttled(reserved: bool) -> LambdaApiError:
    # Lambda's Reason tells a function's reserved limit apart from the account-wide one.
    reason = "ReservedFunction" if reserved else ""
    reason += "ConcurrentInvocationLimitExceeded"
    return LambdaApiError(429, "TooManyRequestsException", "Rate Exceeded.", reason)
