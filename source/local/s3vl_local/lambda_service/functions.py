"""Function definitions of the local Lambda service: names and ARNs, configuration, code, persistence.

Each function lives in STATE/functions/<name>/: function.json (its FunctionConfiguration document and
reserved concurrency), code.zip as uploaded and code/<sha256>/ with the zip unpacked (the task root).
Only the unqualified function ($LATEST) exists; versions and aliases are not published locally.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import io
import json
import re
import shutil
import threading
import uuid
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s3vl_local.lambda_service.errors import LambdaApiError, invalid_parameter, not_found
from s3vl_local.local_aws import ACCOUNT, REGION

LATEST = "$LATEST"
SUPPORTED_RUNTIME = re.compile(r"python3\.\d+")
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
QUALIFIER = re.compile(r"\$LATEST|[A-Za-z0-9_-]{1,128}")
FUNCTION_REF = re.compile(
    r"(?:arn:(?P<partition>aws[a-zA-Z-]*):lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:"
    r"|(?P<partial_account>\d{12}):function:)?(?P<name>[^:]+)(?::(?P<qualifier>[^:]+))?"
)
DEFAULT_TIMEOUT_S = 3
# Lambda's deployment package limit (250 MB unzipped) and its answer to an upload with nothing in it.
MAX_UNZIPPED_BYTES = 262_144_000
EMPTY_ZIP_MESSAGE = "Uploaded file must be a non-empty zip"
DEFAULT_MEMORY_MB = 128


def function_arn(name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def parse_function_ref(ref: str, qualifier: str | None = None) -> tuple[str, str | None]:
    """Name and qualifier from a name, partial ARN or ARN (each optionally `:qualifier`) plus ?Qualifier."""
    match = FUNCTION_REF.fullmatch(ref)
    if not match or not NAME.fullmatch(match["name"]):
        raise LambdaApiError(
            400,
            "ValidationException",
            f"1 validation error detected: Value '{ref}' at 'functionName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?"
            "([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
        )
    derived = match["qualifier"]
    if derived and qualifier and derived != qualifier:
        raise invalid_parameter(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    chosen = derived or qualifier
    if chosen is not None and not QUALIFIER.fullmatch(chosen):
        raise invalid_parameter(
            f"Invalid qualifier {chosen!r}: use $LATEST (versions are not published locally)."
        )
    _check_local(match, chosen)
    return match["name"], chosen


def _check_local(match: re.Match[str], qualifier: str | None) -> None:
    """The service is Lambda in one Region of one account: an ARN naming another Region, account or
    partition names a function that does not exist here, and is answered as Lambda answers it."""
    region = match["region"] or REGION
    if region != REGION:
        raise LambdaApiError(
            404,
            "ResourceNotFoundException",
            f"Functions from '{region}' are not reachable in this region ('{REGION}')",
        )
    account = match["account"] or match["partial_account"] or ACCOUNT
    if account != ACCOUNT or (match["partition"] or "aws") != "aws":
        arn = f"arn:{match['partition'] or 'aws'}:lambda:{region}:{account}:function:{match['name']}"
        raise not_found(f"{arn}:{qualifier}" if qualifier else arn)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


@dataclass
class Function:
    """A snapshot of one function; `generation` changes with every update so warm workers can retire."""

    configuration: dict[str, Any]
    code_dir: Path
    reserved_concurrency: int | None
    generation: int
    # Read from the configuration, which does not change: an update makes a new snapshot.
    name: str = field(init=False)
    timeout_s: int = field(init=False)
    memory_mb: int = field(init=False)
    handler: str = field(init=False)
    variables: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        configuration = self.configuration
        self.name = str(configuration["FunctionName"])
        self.timeout_s = int(configuration["Timeout"])
        self.memory_mb = int(configuration["MemorySize"])
        self.handler = str(configuration["Handler"])
        self.variables = dict(configuration.get("Environment", {}).get("Variables", {}))


class FunctionStore:
    """Thread-safe store of functions under `root`, reloaded from disk when the service restarts."""

    def __init__(self, root: Path) -> None:
        self.root = root / "functions"
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._functions: dict[str, Function] = {}
        self._generation = 0
        for record in sorted(self.root.glob("*/function.json")):
            saved = json.loads(record.read_text())
            configuration = saved["configuration"]
            self._functions[configuration["FunctionName"]] = Function(
                configuration,
                self._code_dir(configuration["FunctionName"], configuration["CodeSha256"]),
                saved.get("reserved_concurrency"),
                self._next_generation(),
            )

    # --- queries ----------------------------------------------------------------------------------

    def get(self, name: str, qualifier: str | None = None) -> Function:
        with self._lock:
            function = self._functions.get(name)
        if function is None or qualifier not in (None, LATEST):
            raise not_found(function_arn(name, qualifier))
        return function

    def list(self) -> list[Function]:
        with self._lock:
            return sorted(self._functions.values(), key=lambda f: f.name)

    # --- changes ----------------------------------------------------------------------------------

    def create(self, request: dict[str, Any]) -> Function:
        name, qualifier = parse_function_ref(str(request.get("FunctionName", "")))
        if qualifier:
            raise invalid_parameter("FunctionName must not carry a qualifier when creating a function.")
        runtime = str(request.get("Runtime", ""))
        if not SUPPORTED_RUNTIME.fullmatch(runtime):
            raise invalid_parameter(f"Runtime {runtime!r} is not supported locally: use a python3.x runtime.")
        if not request.get("Handler"):
            raise invalid_parameter("Handler is required, e.g. lambda_function.lambda_handler.")
        zip_bytes = _zip_from(request.get("Code", {}))
        configuration: dict[str, Any] = {
            "FunctionName": name,
            "FunctionArn": function_arn(name),
            "Runtime": runtime,
            "Role": request.get("Role", f"arn:aws:iam::{ACCOUNT}:role/lambda-role"),
            "Handler": request["Handler"],
            "Description": request.get("Description", ""),
            "Version": LATEST,
            "TracingConfig": {"Mode": "PassThrough"},
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": ["x86_64"],
            "EphemeralStorage": {"Size": 512},
        }
        _apply_settings(configuration, request)
        with self._lock:
            if name in self._functions:
                raise LambdaApiError(409, "ResourceConflictException", f"Function already exist: {name}")
            function = self._store_code(configuration, zip_bytes, reserved=None)
        return function

    def update_code(self, name: str, request: dict[str, Any]) -> Function:
        zip_bytes = _zip_from(request)
        with self._lock:
            current = self._require(name)
            return self._store_code(dict(current.configuration), zip_bytes, current.reserved_concurrency)

    def update_configuration(self, name: str, request: dict[str, Any]) -> Function:
        with self._lock:
            current = self._require(name)
            configuration = dict(current.configuration)
            if "Handler" in request:
                configuration["Handler"] = request["Handler"]
            if "Description" in request:
                configuration["Description"] = request["Description"]
            _apply_settings(configuration, request)
            return self._save(configuration, current.code_dir, current.reserved_concurrency)

    def set_reserved_concurrency(self, name: str, reserved: int | None) -> Function:
        if reserved is not None and reserved < 0:
            raise invalid_parameter("ReservedConcurrentExecutions must be 0 or more.")
        with self._lock:
            current = self._require(name)
            return self._save(dict(current.configuration), current.code_dir, reserved)

    def delete(self, name: str) -> None:
        with self._lock:
            self._require(name)
            del self._functions[name]
            shutil.rmtree(self.root / name, ignore_errors=True)

    # --- internals (called with the lock held) ----------------------------------------------------

    def _require(self, name: str) -> Function:
        function = self._functions.get(name)
        if function is None:
            raise not_found(function_arn(name))
        return function

    def _next_generation(self) -> int:
        self._generation += 1
        return self._generation

    def _code_dir(self, name: str, sha256_b64: str) -> Path:
        digest = base64.b64decode(sha256_b64).hex()
        return self.root / name / "code" / digest

    def _store_code(self, configuration: dict[str, Any], zip_bytes: bytes, reserved: int | None) -> Function:
        name = configuration["FunctionName"]
        configuration["CodeSize"] = len(zip_bytes)
        configuration["CodeSha256"] = base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()
        code_dir = self._code_dir(name, configuration["CodeSha256"])
        if not code_dir.exists():
            staging = code_dir.with_name(code_dir.name + ".partial")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)  # a zip of directories only still yields a task root
            with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
                archive.extractall(staging)
            staging.rename(code_dir)
        (self.root / name / "code.zip").write_bytes(zip_bytes)
        return self._save(configuration, code_dir, reserved)

    def _save(self, configuration: dict[str, Any], code_dir: Path, reserved: int | None) -> Function:
        configuration["LastModified"] = _now()
        configuration["RevisionId"] = str(uuid.uuid4())
        name = configuration["FunctionName"]
        record = self.root / name / "function.json"
        record.parent.mkdir(parents=True, exist_ok=True)
        saved = {"configuration": configuration, "reserved_concurrency": reserved}
        record.write_text(json.dumps(saved, indent=1))
        function = Function(configuration, code_dir, reserved, self._next_generation())
        self._functions[name] = function
        return function


def _apply_settings(configuration: dict[str, Any], request: dict[str, Any]) -> None:
    timeout = request.get("Timeout", configuration.get("Timeout", DEFAULT_TIMEOUT_S))
    memory = request.get("MemorySize", configuration.get("MemorySize", DEFAULT_MEMORY_MB))
    if not isinstance(timeout, int) or not 1 <= timeout <= 900:
        raise invalid_parameter(f"Timeout must be 1..900 seconds, got {timeout!r}.")
    if not isinstance(memory, int) or not 128 <= memory <= 10240:
        raise invalid_parameter(f"MemorySize must be 128..10240 MB, got {memory!r}.")
    configuration["Timeout"] = timeout
    configuration["MemorySize"] = memory
    if "Environment" in request:
        variables = (request["Environment"] or {}).get("Variables") or {}
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in variables.items()):
            raise invalid_parameter("Environment.Variables must map strings to strings.")
        configuration["Environment"] = {"Variables": variables}


def _zip_from(code: dict[str, Any]) -> bytes:
    """The uploaded zip, refused as Lambda refuses it: empty, not a zip, corrupt or too large unzipped.
    A zip without the handler module is accepted, as by Lambda; invoking it is Runtime.ImportModuleError."""
    encoded = code.get("ZipFile")
    if encoded is None:
        raise invalid_parameter("The local Lambda service takes code as ZipFile only (fileb://package.zip).")
    if not isinstance(encoded, str):
        raise LambdaApiError(
            400,
            "InvalidRequestContentException",
            "Could not parse request body into json: ZipFile must be a base64-encoded string.",
        )
    try:
        zip_bytes = base64.b64decode(encoded, validate=True)
        if not zip_bytes:
            raise invalid_parameter(EMPTY_ZIP_MESSAGE)
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
            members = archive.infolist()
            if not members:
                raise invalid_parameter(EMPTY_ZIP_MESSAGE)
            # Checked before any member is read: the declared sizes bound what extraction would write.
            if sum(member.file_size for member in members) >= MAX_UNZIPPED_BYTES:
                raise invalid_parameter(f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")
            if archive.testzip() is not None:
                raise zipfile.BadZipFile("corrupt member")
    except (binascii.Error, zipfile.BadZipFile, zlib.error, ValueError, EOFError) as exc:
        raise invalid_parameter(
            f"Could not unzip uploaded file. Please check your file, then try to upload again. ({exc})"
        ) from None
    return zip_bytes
