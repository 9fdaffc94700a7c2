"""The S3 Vectors error codes the emulator answers with, each with its HTTP status from the service model."""

from __future__ import annotations

from typing import Any


class S3VectorsError(Exception):
    """An error the emulator returns as `x-amzn-ErrorType: <code>` plus `{"__type", "message"}`."""

    code = "InternalServerException"
    status = 500

    def __init_subclass__(cls, status: int | None = None, **kwargs: Any) -> None:
        """`class XException(S3VectorsError, status=400)` answers with code "XException" and that status."""
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.code, cls.status = cls.__name__, status

    def __init__(self, message: str, field_list: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_list = field_list

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {"__type": self.code, "message": self.message}
        if self.field_list:
            body["fieldList"] = self.field_list
        return body


class ValidationException(S3VectorsError, status=400): ...


class NotFoundException(S3VectorsError, status=404): ...


class ConflictException(S3VectorsError, status=409): ...


class InternalServerException(S3VectorsError, status=500): ...
