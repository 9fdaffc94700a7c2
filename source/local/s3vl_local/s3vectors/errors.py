"""The S3 Vectors error codes the emulator answers with, each with its HTTP status from the service model."""

from __future__ import annotations


class S3VectorsError(Exception):
    """An error the emulator returns as `x-amzn-ErrorType: <code>` plus `{"__type", "message"}`."""

    code = "InternalServerException"
    status = 500

    def __init__(self, message: str, field_list: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_list = field_list

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {"__type": self.code, "message": self.message}
        if self.field_list:
            body["fieldList"] = self.field_list
        return body


class ValidationException(S3VectorsError):
    code = "ValidationException"
    status = 400


class AccessDeniedException(S3VectorsError):
    code = "AccessDeniedException"
    status = 403


class NotFoundException(S3VectorsError):
    code = "NotFoundException"
    status = 404


class ConflictException(S3VectorsError):
    code = "ConflictException"
    status = 409


class ServiceQuotaExceededException(S3VectorsError):
    code = "ServiceQuotaExceededException"
    status = 402


class InternalServerException(S3VectorsError):
    code = "InternalServerException"
    status = 500
