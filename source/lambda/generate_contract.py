#!/usr/bin/env python3
"""Write what comes from the payload contract (src/s3vl_lambda/contract.json) into the files that need it:
the generated part of source/sql/20_errors.sql (contract version, limits, error_codes()) and the tables of
docs/payload-contract.md. The Lambda package reads the contract itself at import time.

    generate_contract.py           rewrite the generated parts
    generate_contract.py --check   exit 1, naming the files, when a generated part differs from the contract
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE / "src"))

from s3vl_lambda import contract  # noqa: E402

SOURCE = "source/lambda/src/s3vl_lambda/contract.json"
SQL_BEGIN = f"-- BEGIN GENERATED from {SOURCE} by generate_contract.py"
SQL_END = "-- END GENERATED"
DOC_BEGIN = f"<!-- BEGIN GENERATED from {SOURCE} by generate_contract.py -->"
DOC_END = "<!-- END GENERATED -->"


def sql() -> str:
    """The contract as SQL reads it: a JSON document with every text's placeholders filled in, one error
    code per line. 20_errors.sql's functions (error_codes(), _contract_version(), _contract_limit())
    read it, so nothing but this document is generated."""
    fields = ("code", "sqlstate", "retryable", "source", "hint")
    errors = ",\n".join(
        "    " + json.dumps({name: getattr(e, name) for name in fields}, ensure_ascii=False)
        for e in contract.ERRORS.values()
    )
    document = (
        f'{{"contract_version": {contract.CONTRACT_VERSION},\n'
        f' "limits": {json.dumps(contract.LIMITS, sort_keys=True)},\n'
        f' "errors": [\n{errors}\n]}}'
    )
    assert "$contract$" not in document
    return f"""{SQL_BEGIN}; do not edit by hand.
CREATE OR REPLACE FUNCTION s3vl._contract()
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $function$ SELECT $contract${document}$contract$::jsonb $function$;
{SQL_END}"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def docs() -> dict[str, str]:
    document = contract.document()
    operations = []
    for name, entry in document["operations"].items():
        fields = []
        for field, spec in entry["fields"].items():
            shown = f"`{field}`" + ("*" if spec.get("required") else "")
            if spec.get("doc"):
                shown += f" ({contract.text(spec['doc'])})"
            fields.append(shown)
        operations.append(f"| `{name}` | {', '.join(fields)} | {_cell(contract.text(entry['result']))} |")
    handler = [e for e in contract.ERRORS.values() if e.source == "handler"]
    invoke = [e for e in contract.ERRORS.values() if e.source == "invoke"]

    def table(errors: list[contract.ErrorCode]) -> str:
        return "\n".join(
            f"| `{e.code}` | {e.sqlstate} | {'yes' if e.retryable else 'no'} | {_cell(e.cause)} |"
            for e in errors
        )

    limits = "\n".join(
        f"| `{name}` | {entry['value']} | {_cell(entry['doc'])} |"
        for name, entry in document["limits"].items()
    )
    return {
        "operations": f"""{DOC_BEGIN}
| operation | fields (required*) | `result` |
|---|---|---|
{chr(10).join(operations)}
{DOC_END}""",
        "errors": f"""{DOC_BEGIN}
Reported by the handler in the envelope's `error.code`:

| code | SQLSTATE | retryable | cause |
|---|---|---|---|
{table(handler)}

Detected by s3vl's SQL around `aws_lambda.invoke` (never in an envelope):

| code | SQLSTATE | retryable | cause |
|---|---|---|---|
{table(invoke)}
{DOC_END}""",
        "limits": f"""{DOC_BEGIN}
| limit | value | what |
|---|---|---|
{limits}
{DOC_END}""",
    }


def _replace_between(text: str, begin: str, end: str, new: str, occurrence: int) -> str:
    """`text` with its `occurrence`-th (0-based) begin..end region replaced by `new`."""
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(begin, start + 1)
    stop = text.index(end, start) + len(end)
    return text[:start] + new + text[stop:]


def _sql_file(text: str) -> str:
    return _replace_between(text, SQL_BEGIN, SQL_END, sql(), 0)


def _doc_file(text: str) -> str:
    parts = docs()
    for position, name in enumerate(("operations", "limits", "errors")):
        text = _replace_between(text, DOC_BEGIN, DOC_END, parts[name], position)
    return text


TARGETS: dict[Path, Callable[[str], str]] = {
    REPO / "source" / "sql" / "20_errors.sql": _sql_file,
    REPO / "docs" / "payload-contract.md": _doc_file,
}


def drifted() -> list[Path]:
    """The target files whose generated parts differ from the contract."""
    return [path for path, render in TARGETS.items() if render(text := path.read_text("utf-8")) != text]


def main(argv: list[str]) -> int:
    if argv[1:] == ["--check"]:
        stale = drifted()
        for path in stale:
            print(f"{path.relative_to(REPO)} differs from {SOURCE}: run generate_contract.py")
        return 1 if stale else 0
    for path, render in TARGETS.items():
        path.write_text(render(path.read_text("utf-8")), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
