"""contract.json is the one source of the payload contract: the handler's registries, the SQL schema's
error table and limits, the docs' tables and the CloudFormation role all follow it, value for value."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from s3vl_lambda import contract, errors, limits, permissions
from s3vl_lambda.errors import HandlerError
from s3vl_lambda.operations import RUNNERS
from s3vl_lambda.requests import PARSERS

REPO = Path(__file__).resolve().parents[3]
PACKAGE = REPO / "source" / "lambda" / "src" / "s3vl_lambda"
SQL_DIR = REPO / "source" / "sql"
DOCUMENT: dict[str, Any] = json.loads((PACKAGE / "contract.json").read_text())


def _generator() -> Any:
    path = REPO / "source" / "lambda" / "generate_contract.py"
    spec = importlib.util.spec_from_file_location("generate_contract", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_sql_and_docs_match_the_contract() -> None:
    stale = _generator().drifted()
    assert stale == [], f"{stale} drifted from contract.json: run source/lambda/generate_contract.py"


def test_drift_is_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The drift check must see a changed value, not only a changed name: flip one retryable flag.
    generator = _generator()
    copy = tmp_path / "20_errors.sql"
    shutil.copy(SQL_DIR / "20_errors.sql", copy)
    retryable = '"THROTTLED", "sqlstate": "SV004", "retryable": '
    copy.write_text(copy.read_text().replace(retryable + "true", retryable + "false"))
    render = generator.TARGETS[SQL_DIR / "20_errors.sql"]
    monkeypatch.setattr(generator, "TARGETS", {copy: render})
    assert generator.drifted() == [copy]


def test_operation_registries_follow_the_contract() -> None:
    operations = DOCUMENT["operations"]
    assert {name: frozenset(op["fields"]) for name, op in operations.items()} == contract.OPERATION_FIELDS
    actions = {name: frozenset(op["actions"]) for name, op in operations.items()}
    assert actions == permissions.OPERATION_ACTIONS
    assert set(RUNNERS) == set(PARSERS) == set(operations)
    for name, op in operations.items():
        assert RUNNERS[name].__module__ == f"s3vl_lambda.operations.{op['runner']}"
        assert PARSERS[name].__name__ == name
        assert contract.OPERATIONS[name].reduce == op.get("reduce", "ask for less per call")
        required = {field for field, spec in op["fields"].items() if spec.get("required")}
        assert required == contract.OPERATIONS[name].required
    assert frozenset(DOCUMENT["common_fields"]) == contract.COMMON_FIELDS
    assert DOCUMENT["contract_version"] == contract.CONTRACT_VERSION


@pytest.mark.parametrize("code", sorted(DOCUMENT["errors"]))
def test_handler_error_reports_the_contracts_retryable_flag(code: str) -> None:
    assert HandlerError(code, "m").to_dict()["retryable"] is DOCUMENT["errors"][code]["retryable"]


def test_every_code_the_handler_can_report_is_in_the_contract() -> None:
    source = "\n".join(path.read_text() for path in PACKAGE.rglob("*.py"))
    raised = set(re.findall(r'HandlerError\(\s*"([A-Z_]+)"', source))
    raised |= set(re.findall(r'\bcode(?:, fix)? = "([A-Z_]+)"', source))
    raised |= {code for code, _ in errors._AWS_CODES.values()}
    raised |= {code for _, code, _ in errors._SDK_FAILURES}
    assert raised, "the scan found the handler's codes"
    handler_codes = {code for code, e in DOCUMENT["errors"].items() if e["source"] == "handler"}
    assert raised <= handler_codes, raised - handler_codes
    # One retired code stays in the contract for functions of earlier releases (its cause says so).
    assert handler_codes - raised == {"FILTER_UNKNOWN_OPERATOR"}


def test_error_entries_are_complete() -> None:
    for code, entry in DOCUMENT["errors"].items():
        assert re.fullmatch(r"[0-9A-Z]{5}", entry["sqlstate"]), code
        assert entry["source"] in ("handler", "invoke"), code
        assert isinstance(entry["retryable"], bool), code
        assert entry["cause"] and entry["hint"].endswith("."), code


def test_handler_limits_are_the_contracts_and_agree_with_botocores_model() -> None:
    value = {name: entry["value"] for name, entry in DOCUMENT["limits"].items()}
    assert value["top_k_max"] == limits.TOP_K_MAX
    assert value["filter_max_depth"] == limits.FILTER_MAX_DEPTH
    assert value["metadata_total_bytes"] == limits.METADATA_TOTAL_BYTES
    assert value["metadata_max_keys"] == limits.METADATA_MAX_KEYS
    assert value["put_request_bytes"] == limits.PUT_REQUEST_BYTES
    assert value["lambda_response_bytes"] == limits.LAMBDA_RESPONSE_BYTES
    model = limits.service()
    assert model.dimension == (value["dimension_min"], value["dimension_max"])
    assert model.top_k_min == value["top_k_min"]
    assert model.key_length[1] == value["key_length_max"]
    assert model.list_max_results[1] == value["list_max_results_max"]
    assert model.segment_count_max == value["segment_count_max"]


def test_every_limit_sql_reads_is_in_the_contract() -> None:
    used = {
        name
        for path in SQL_DIR.glob("*.sql")
        for name in re.findall(r"s3vl\._contract_limit\('([a-z_]+)'\)", path.read_text())
    }
    assert "top_k_max" in used
    assert used <= set(DOCUMENT["limits"]), used - set(DOCUMENT["limits"])


def test_no_sql_file_states_the_contract_version_itself() -> None:
    # Requests and answers name the version through s3vl._contract_version(), generated from the contract.
    for path in SQL_DIR.glob("*.sql"):
        text = re.sub(r"-- BEGIN GENERATED.*?-- END GENERATED", "", path.read_text(), flags=re.DOTALL)
        stated = r"""'contract_version',\s*\d|"contract_version":\s*\d|speaks \d"""
        assert not re.search(stated, text), path.name


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_cloudformation_role_grants_exactly_the_contracts_actions() -> None:
    template = cfn_yaml.load(str(REPO / "deployment" / "cloudformation" / "template.yaml"))
    role = template["Resources"]["LambdaExecutionRole"]["Properties"]
    granted = {
        action
        for policy in role["Policies"]
        for statement in _as_list(policy["PolicyDocument"]["Statement"])
        for action in _as_list(statement["Action"])
        if statement["Effect"] == "Allow" and action.startswith("s3vectors:")
    }
    wanted = {action for op in DOCUMENT["operations"].values() for action in op["actions"]}
    assert granted == wanted


@pytest.mark.parametrize("page", ["README.md", "docs/sql-reference.md"])
def test_sqlstate_tables_list_the_contracts_codes(page: str) -> None:
    # | SQLSTATE | meaning | codes |: each SQLSTATE of the contract lists exactly the codes mapped to it.
    by_state: dict[str, set[str]] = {}
    for code, entry in DOCUMENT["errors"].items():
        by_state.setdefault(entry["sqlstate"], set()).add(code)
    listed: dict[str, set[str]] = {}
    for line in (REPO / page).read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] in by_state:
            listed[cells[0]] = set(re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b|\b[A-Z]{4,}\b", cells[2]))
    assert listed == by_state
