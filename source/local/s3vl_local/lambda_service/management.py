"""The function-management API s3vl uses: create, read, update and delete functions and their reserved
concurrency. A change retires the function's idle workers, so that the next invocation runs it as it
is now."""

from __future__ import annotations

from typing import Any

from s3vl_local.lambda_service.errors import invalid_parameter
from s3vl_local.lambda_service.functions import Function, FunctionStore, parse_function_ref
from s3vl_local.lambda_service.http_base import Response
from s3vl_local.lambda_service.pools import FunctionPools


class FunctionApi:
    def __init__(self, store: FunctionStore, pools: FunctionPools) -> None:
        self._store = store
        self._pools = pools

    def create_function(self, body: dict[str, Any]) -> Response:
        function = self._store.create(body)
        return Response.json(201, function.configuration)

    def list_functions(self) -> Response:
        return Response.json(200, {"Functions": [f.configuration for f in self._store.list()]})

    def get_function(self, ref: str, query: dict[str, str]) -> Response:
        function = self._lookup(ref, query)
        document: dict[str, Any] = {
            "Configuration": function.configuration,
            "Code": {
                "RepositoryType": "S3",
                "Location": (self._store.root / function.name / "code.zip").as_uri(),
            },
        }
        if function.reserved_concurrency is not None:
            document["Concurrency"] = {"ReservedConcurrentExecutions": function.reserved_concurrency}
        return Response.json(200, document)

    def get_function_configuration(self, ref: str, query: dict[str, str]) -> Response:
        return Response.json(200, self._lookup(ref, query).configuration)

    def update_function_code(self, ref: str, body: dict[str, Any]) -> Response:
        name = _unqualified(ref)
        function = self._store.update_code(name, body)
        self._pools.retire(name)
        return Response.json(200, function.configuration)

    def update_configuration(self, ref: str, body: dict[str, Any]) -> Response:
        name = _unqualified(ref)
        function = self._store.update_configuration(name, body)
        self._pools.retire(name)
        return Response.json(200, function.configuration)

    def delete_function(self, ref: str) -> Response:
        name = _unqualified(ref)
        self._store.delete(name)
        self._pools.retire(name)
        return Response(204)

    def put_function_concurrency(self, ref: str, body: dict[str, Any]) -> Response:
        reserved = body.get("ReservedConcurrentExecutions")
        if not isinstance(reserved, int):
            raise invalid_parameter("ReservedConcurrentExecutions must be an integer.")
        self._store.set_reserved_concurrency(_unqualified(ref), reserved)
        return Response.json(200, {"ReservedConcurrentExecutions": reserved})

    def delete_concurrency(self, ref: str) -> Response:
        self._store.set_reserved_concurrency(_unqualified(ref), None)
        return Response(204)

    def get_function_concurrency(self, ref: str) -> Response:
        function = self._store.get(_unqualified(ref))
        if function.reserved_concurrency is None:
            return Response.json(200, {})
        return Response.json(200, {"ReservedConcurrentExecutions": function.reserved_concurrency})

    def _lookup(self, ref: str, query: dict[str, str]) -> Function:
        name, qualifier = parse_function_ref(ref, query.get("Qualifier"))
        return self._store.get(name, qualifier)


def _unqualified(ref: str) -> str:
    name, qualifier = parse_function_ref(ref)
    if qualifier:
        raise invalid_parameter("Only the unqualified function ($LATEST) can be changed locally.")
    return name
