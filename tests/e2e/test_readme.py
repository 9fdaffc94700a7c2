"""Every command README.md shows is executed here, so the README cannot drift from the code.

Each fenced block carries a marker (see readme_blocks.py). `local` blocks run for real, in README order
and in one shell, on the stack the demo left running; `aws` blocks run in another shell in which `aws`
is the real AWS CLI with botocore's Stubber in place of AWS (aws_stub.py); `make` blocks are checked
with `make -n`. The SQL reference tables are compared with the installed schema.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from . import aws_stub
from .conftest import REPO, DemoStack, clean_environment
from .readme_blocks import MARKERS, README, Block, blocks_marked, marker_lines, read_blocks
from .readme_session import run_session

TEMPLATE = REPO / "deployment" / "cloudformation" / "template.yaml"
PARAMETERS_EXAMPLE = REPO / "deployment" / "cloudformation" / "parameters-example.json"
VENV_BIN = REPO / ".venv" / "bin"


def _path_without_venv() -> str:
    # The README's own `source .venv/bin/activate` must be what puts the project's tools first.
    return os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != VENV_BIN)


def _readme_section(title: str) -> str:
    text = README.read_text()
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _table_rows(text: str, header_start: str) -> list[list[str]]:
    """Cells of the markdown table whose header row starts with `header_start`."""
    lines = text.split(header_start, 1)[1].splitlines()[2:]
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _rstrip_lines(text: str) -> str:
    # psql pads aligned cells with spaces; trailing ones are not part of what a reader sees.
    return "\n".join(line.rstrip() for line in text.splitlines())


# --- markers ------------------------------------------------------------------------------------------


def test_every_fenced_block_has_a_known_marker() -> None:
    blocks = read_blocks()
    assert blocks
    unmarked = [block.where() for block in blocks if block.marker is None]
    assert not unmarked, f"fenced blocks without a <!-- test: ... --> marker: {unmarked}"
    unknown = [(line, name) for line, name in marker_lines() if name not in MARKERS]
    assert not unknown, f"unknown markers (known: {MARKERS}): {unknown}"


def test_every_marker_introduces_a_block() -> None:
    introduced = len([block for block in read_blocks() if block.marker is not None])
    assert len(marker_lines()) == introduced


def test_block_languages_fit_their_markers() -> None:
    allowed = {"local": {"sh", "sql"}, "aws": {"sh"}, "make": {"sh"}, "text": {"text"}, "output": {"text"}}
    wrong = [
        (b.where(), b.marker, b.language) for b in read_blocks() if b.language not in allowed[b.marker or ""]
    ]
    assert not wrong, f"language not allowed for the marker: {wrong}"


def test_each_kind_of_marker_is_used() -> None:
    assert {block.marker for block in read_blocks()} == set(MARKERS)


# --- make ---------------------------------------------------------------------------------------------


def _make_commands() -> list[tuple[Block, list[str]]]:
    commands = []
    for block in blocks_marked("make"):
        for line in block.text.splitlines():
            command = line.split("#", 1)[0].split()
            if command:
                commands.append((block, command))
    return commands


@pytest.mark.parametrize(
    ("block", "command"), _make_commands(), ids=[" ".join(c) for _, c in _make_commands()]
)
def test_make_block_names_a_real_target(block: Block, command: list[str], tmp_path: Path) -> None:
    assert command[0] == "make" and len(command) > 1, (
        f"{block.where()}: a make block holds make commands only"
    )
    targets = subprocess.run(["make", "help"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    listed = {line.split("\t", 1)[0] for line in targets.splitlines()} | {"help"}
    for target in command[1:]:
        assert target in listed, f"{block.where()}: `make {target}` is not listed by `make help`"
    # A state directory that does not exist: even a mistaken real run could not touch .local.
    env = {**os.environ, "S3VL_STATE_DIR": str(tmp_path / "state")}
    dry = subprocess.run(["make", "-n", *command[1:]], cwd=REPO, env=env, capture_output=True, text=True)
    assert dry.returncode == 0, f"{block.where()}: make -n {' '.join(command[1:])}: {dry.stderr}"


# --- local: for real on the demo's stack --------------------------------------------------------------


def test_local_blocks_run_on_the_demo_stack(demo_stack: DemoStack, tmp_path: Path) -> None:
    assert demo_stack.runs and demo_stack.runs[-1].returncode == 0, "the demo failed: see test_demo.py"
    blocks = blocks_marked("local")
    env = clean_environment(S3VL_STATE_DIR=str(demo_stack.state_dir), PATH=_path_without_venv())
    # The README speaks of the default state directory; here the stack lives in the demo's own.
    session = run_session(
        blocks, cwd=REPO, env=env, work_dir=tmp_path, rewrite={".local/": "$S3VL_STATE_DIR/"}
    )
    assert session.finished(), session.failure()

    by_text = {block.text: session.block_output(block) for block in blocks}

    def output_of(fragment: str) -> str:
        (text,) = [t for t in by_text if fragment in t]
        return by_text[text]

    assert re.search(r"^lambda\s+running at http://127\.0\.0\.1:\d+$", output_of("s3vl-local status"), re.M)
    assert "test-index-5d" in output_of("s3vl.list_indexes()")
    faults = output_of("/_s3vl/faults")
    assert "SV004" in faults and "failed as injected" in faults
    deployed = output_of("update-function-code")
    assert '"Active"' in deployed and '"Successful"' in deployed
    validated = _rstrip_lines(output_of("validate_config()"))
    assert re.search(
        r"^ is_valid \| +lambda_arn +\| aws_region \| error_message \| response_time_ms$", validated, re.M
    )
    assert re.search(r"^ t +\| arn:aws:lambda:\S+ \| us-west-2 +\| +\| +\d+$", validated, re.M), validated
    identical = re.findall(r"^ (vec_\d+)\s+\|\s+(\S+)$", output_of("-0.116703"), re.M)
    assert identical == [("vec_048", "1.000000"), ("vec_049", "1.000000"), ("vec_050", "1.000000")]
    joined = re.findall(r"^ (vec_\d+)\s+\|", output_of("JOIN s3vl_demo_products"), re.M)
    assert joined == ["vec_006", "vec_007"]
    # Each output block shows what the local block just before it printed on this stack.
    shown = [(before, block) for before, block in pairwise(read_blocks()) if block.marker == "output"]
    assert shown, "the README shows no query results"
    for before, block in shown:
        assert before.marker == "local", f"{block.where()}: an output block follows a local block"
        printed = _rstrip_lines(session.block_output(before))
        assert _rstrip_lines(block.text) in printed, (
            f"{block.where()} is not what {before.where()} printed:\n{printed}"
        )
    # The clean-up block ran last: the schema is gone.
    with demo_stack.connect() as conn:
        assert conn.execute("SELECT to_regnamespace('s3vl')").fetchone() == (None,)


# --- aws: the real CLI, AWS stubbed -------------------------------------------------------------------


def _stub_calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_aws_blocks_run_with_the_real_cli_against_stubbed_aws(tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    shutil.copytree(REPO / "deployment", root / "deployment")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    aws = bin_dir / "aws"
    aws.write_text(f'#!/bin/sh\nexec {sys.executable} {Path(aws_stub.__file__)} "$@"\n')
    aws.chmod(aws.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "aws-calls.jsonl"
    env = clean_environment(
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        AWS_DEFAULT_REGION=aws_stub.REGION,
        AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
        AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        S3VL_AWS_STUB_LOG=str(log),
    )
    show = "S3VL_LAMBDA_FUNCTION_ARN S3VL_S3_INDEX_ARN"
    epilogue = f'for v in {show}; do printf \'::env %s=%s\\n\' "$v" "${{!v}}"; done'
    session = run_session(blocks_marked("aws"), cwd=root, env=env, work_dir=tmp_path, epilogue=epilogue)
    assert session.finished(), session.failure()

    outputs = aws_stub.OUTPUTS
    exported = dict(re.findall(r"^::env (\w+)=(.*)$", session.output, re.M))
    assert exported == {
        "S3VL_LAMBDA_FUNCTION_ARN": outputs["LambdaFunctionArn"],
        "S3VL_S3_INDEX_ARN": outputs["S3VectorIndexArn"],
    }
    assert outputs["AuroraRoleAttachmentCommand"] in session.output.splitlines()
    assert outputs["LambdaFunctionArn"] in session.output.splitlines()
    parameters_file = root / "deployment" / "cloudformation" / "parameters.json"
    assert parameters_file.read_text() == PARAMETERS_EXAMPLE.read_text()

    calls = _stub_calls(log)
    operations = [call["operation"] for call in calls]
    assert operations[0] == "CreateStack"
    assert operations[-2:] == ["DeleteStack", "DescribeStacks"]
    create = calls[0]["params"]
    assert create["StackName"] == aws_stub.STACK_NAME
    assert create["TemplateBody"] == TEMPLATE.read_text()
    assert create["Parameters"] == json.loads(PARAMETERS_EXAMPLE.read_text())
    assert create["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    role_calls = [c for c in calls if c["service"] == "rds"]
    assert [c["operation"] for c in role_calls] == ["AddRoleToDBCluster", "RemoveRoleFromDBCluster"]
    for call in role_calls:
        assert call["params"] == {
            "DBClusterIdentifier": outputs["AuroraClusterIdentifier"],
            "RoleArn": outputs["AuroraLambdaRoleArn"],
            "FeatureName": "Lambda",
        }
        assert call["region"] == aws_stub.REGION
    assert {c["params"]["StackName"] for c in calls if c["service"] == "cloudformation"} == {
        aws_stub.STACK_NAME
    }


def _render(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{([\w:.]+)\}", lambda m: values[m.group(1)], text)


def test_the_stubbed_stack_is_the_one_the_template_creates_from_the_example_parameters() -> None:
    template = json.loads(json.dumps(cfn_yaml.load(str(TEMPLATE))))
    outputs = aws_stub.OUTPUTS
    assert set(outputs) == set(template["Outputs"])
    parameters = {e["ParameterKey"]: e["ParameterValue"] for e in json.loads(PARAMETERS_EXAMPLE.read_text())}
    assert parameters["AuroraClusterArn"] == aws_stub.CLUSTER_ARN
    values = {
        **parameters,
        "AWS::AccountId": aws_stub.ACCOUNT,
        "AWS::Region": aws_stub.REGION,
        "ClusterIdentifier": aws_stub.CLUSTER_ARN.split(":")[6],
        "ClusterRegion": aws_stub.CLUSTER_ARN.split(":")[3],
        "AuroraLambdaRole.Arn": outputs["AuroraLambdaRoleArn"],
    }
    resources = template["Resources"]

    def name(logical_id: str, prop: str) -> str:
        return _render(resources[logical_id]["Properties"][prop]["Fn::Sub"], values)

    command = template["Outputs"]["AuroraRoleAttachmentCommand"]["Value"]["Fn::Sub"][0]
    assert _render(command, values) == outputs["AuroraRoleAttachmentCommand"]
    assert outputs["AuroraClusterIdentifier"] == values["ClusterIdentifier"]
    assert outputs["LambdaFunctionName"] == name("VectorQueryFunction", "FunctionName")
    assert outputs["LambdaFunctionArn"].endswith(f":function:{outputs['LambdaFunctionName']}")
    assert outputs["S3VectorBucketName"] == name("VectorBucket", "VectorBucketName")
    assert outputs["S3VectorIndexArn"] == (
        f"{outputs['S3VectorBucketArn']}/index/{name('VectorIndex', 'IndexName')}"
    )
    assert outputs["AuroraLambdaRoleArn"].endswith(f":role/{name('AuroraLambdaRole', 'RoleName')}")
    assert outputs["DeadLetterQueueArn"].endswith(f":{name('DeadLetterQueue', 'QueueName')}")


# --- the SQL reference against the installed schema ---------------------------------------------------


def _normalise_signature(text: str) -> str:
    text = re.sub(r"::[a-z ]+(\[\])?", "", text)  # DEFAULT NULL::text -> DEFAULT NULL
    return text.replace("TABLE(", "TABLE (").replace("timestamp with time zone", "timestamptz")


def test_sql_reference_lists_every_function_as_installed(demo_stack: DemoStack) -> None:
    assert demo_stack.functions, "the demo failed: see test_demo.py"
    rows = _table_rows(_readme_section("SQL reference"), "| function | returns | role |")
    documented = {re.match(r"`s3vl\.(\w+)\(", row[0]).group(1): row for row in rows}  # type: ignore[union-attr]
    assert set(documented) == set(demo_stack.functions)
    # docs/sql-reference.md, or the page of the feature a function belongs to (docs/sync.md).
    doc = "\n".join(path.read_text() for path in sorted((REPO / "docs").glob("*.md")))
    for name, function in demo_stack.functions.items():
        function_cell, returns_cell, role_cell = documented[name]
        signature = f"s3vl.{name}({_normalise_signature(function['arguments'])})"
        assert function_cell == f"`{signature}`"
        assert signature in doc, f"no page of docs/ shows {signature}"
        assert f"`{_normalise_signature(function['result'])}`" in returns_cell, name
        assert function["admin"], f"s3vl_admin cannot execute {name}"
        assert role_cell == ("s3vl_user" if function["user"] else "s3vl_admin"), name


def test_sqlstate_table_matches_the_schema(demo_stack: DemoStack) -> None:
    assert demo_stack.error_codes, "the demo failed: see test_demo.py"
    rows = _table_rows(_readme_section("SQL reference"), "| SQLSTATE | meaning |")
    documented = {row[0]: {re.match(r"[A-Z_]+", c).group(0) for c in row[2].split(", ") if c} for row in rows}  # type: ignore[union-attr]
    raised = set()
    for sql_file in (REPO / "source" / "sql").glob("*.sql"):
        raised |= set(re.findall(r"ERRCODE = '(\w{5})'", sql_file.read_text()))
    mapped: dict[str, set[str]] = {}
    for code, sqlstate in demo_stack.error_codes:
        mapped.setdefault(sqlstate, set()).add(code)
    # PostgreSQL's own: permission denied, and a cancel that s3vl leaves as it is.
    assert set(documented) == raised | set(mapped) | {"42501", "57014"}
    for sqlstate, codes in documented.items():
        assert codes == mapped.get(sqlstate, set()), sqlstate


def test_troubleshooting_names_known_sqlstates_and_real_messages() -> None:
    rows = _table_rows(_readme_section("Troubleshooting"), "| message | SQLSTATE |")
    sqlstates = {row[0] for row in _table_rows(_readme_section("SQL reference"), "| SQLSTATE | meaning |")}
    sources = [
        *(REPO / "source").rglob("*.sql"),
        *(REPO / "source").rglob("*.py"),
        *(REPO / "source").rglob("*.sh"),
    ]
    corpus = "\n".join(path.read_text() for path in sources)
    assert len(rows) >= 15
    for message_cell, sqlstate, _cause, _fix in rows:
        assert sqlstate in sqlstates or sqlstate.startswith("("), sqlstate
        if sqlstate in ("42501", "(psql)"):
            continue  # PostgreSQL's and psql's own messages
        message = re.match(r"`([^`]+)`", message_cell).group(1)  # type: ignore[union-attr]
        # Literal runs between what varies: placeholders, quoted names, numbers, AWS operation and error
        # names (CamelCase), and the ": " that joins a cause to the error aws_lambda reported.
        varying = r"<[^>]+>|'[^']*'|\d+|\b[A-Z][a-z]+[A-Z]\w*|\.\.\.|: "
        fragments = [f.strip() for f in re.split(varying, message)]
        assert any(len(f.split()) >= 2 and f in corpus for f in fragments), f"{message!r} is not in source/"
        missing = [f for f in fragments if len(f.split()) >= 3 and f not in corpus]
        assert not missing, f"{message!r}: {missing} not in source/"
