"""What users and the rest of the project rely on: parameters, outputs, names, and the code layout."""

from __future__ import annotations

import json
import re
from itertools import takewhile
from pathlib import Path

import pytest
from cfn_template import (
    PARAMETERS_EXAMPLE_PATH,
    REPO,
    default_parameters,
    evaluate,
    properties,
    template,
)
from s3vl_local.stack import RANK_SLICE_IDS

ISSUE_OUTPUTS = {
    "AuroraRoleAttachmentCommand",
    "LambdaFunctionArn",
    "LambdaFunctionName",
    "S3VectorIndexArn",
    "S3VectorBucketArn",
    "S3VectorBucketName",
    "AuroraLambdaRoleArn",
    "AuroraClusterIdentifier",
    "DeadLetterQueueArn",
    "DeadLetterQueueUrl",
    "LambdaSecurityGroupId",
}
# The outputs the walkthrough reads with describe-stacks, and the parameters it tells the user to edit.
WALKTHROUGH_OUTPUTS = {
    "AuroraRoleAttachmentCommand",
    "LambdaFunctionArn",
    "S3VectorIndexArn",
    "AuroraLambdaRoleArn",
    "AuroraClusterIdentifier",
}
WALKTHROUGH_PARAMETERS = {
    "AuroraClusterArn",
    "VpcId",
    "SubnetIds",
    "ResourcePrefix",
    "LambdaTimeout",
    "LambdaMemorySize",
}
LAMBDA_SRC = REPO / "source" / "lambda" / "src"
PACKAGE_SH = REPO / "source" / "lambda" / "package.sh"
ZIP_NAME = "sample-rds-lambda-s3vector.zip"


def test_outputs_are_exactly_the_documented_set() -> None:
    assert set(template()["Outputs"]) == ISSUE_OUTPUTS
    assert set(template()["Outputs"]) >= WALKTHROUGH_OUTPUTS


def test_walkthrough_parameters_exist_with_their_defaults() -> None:
    parameters = template()["Parameters"]
    assert set(parameters) >= WALKTHROUGH_PARAMETERS
    assert parameters["ResourcePrefix"]["Default"] == "s3vl"
    assert parameters["LambdaTimeout"]["Default"] == 10
    assert parameters["LambdaMemorySize"]["Default"] == 128
    assert parameters["IndexDimension"]["Default"] == 5
    assert parameters["IndexDistanceMetric"]["Default"] == "cosine"


def test_rank_slices_come_from_a_parameter_whose_default_the_local_stack_uses() -> None:
    parameters = template()["Parameters"]
    assert parameters["RankSliceIds"]["Default"] == RANK_SLICE_IDS
    variables = properties("VectorQueryFunction")["Environment"]["Variables"]
    params = default_parameters() | {"RankSliceIds": "0"}
    assert evaluate(variables["S3VL_RANK_SLICE_IDS"], params) == "0"


def _documents() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_every_output_and_parameter_named_in_the_docs_exists() -> None:
    outputs, parameters = set(template()["Outputs"]), set(template()["Parameters"])
    referenced_outputs: set[str] = set()
    referenced_parameters: set[str] = set()
    for doc in _documents():
        text = doc.read_text()
        # The walkthrough's describe-stacks query (OutputKey==`Name`) and the guide's `out Name` helper.
        referenced_outputs |= set(re.findall(r"(?:OutputKey==\\?`|\bout )([A-Z]\w+)", text))
        referenced_parameters |= set(re.findall(r'"ParameterKey":\s*"(\w+)"', text))
        referenced_parameters |= set(re.findall(r"ParameterKey=(\w+)", text))
    assert referenced_outputs, "docs/deployment.md reads the stack outputs with describe-stacks"
    assert referenced_outputs - outputs == set()
    assert referenced_parameters - parameters == set()


def _first_column_names(doc: str, header: str) -> set[str]:
    """Backticked names in the first column of the markdown table that starts with `header`."""
    lines = doc.split(header, 1)[1].splitlines()[2:]
    rows = takewhile(lambda line: line.startswith("|"), lines)
    return {name for row in rows for name in re.findall(r"`(\w+)`", row.split("|")[1])}


def test_deployment_guide_tables_list_every_parameter_and_output() -> None:
    guide = (REPO / "docs" / "deployment.md").read_text()
    assert _first_column_names(guide, "| parameter | default | meaning |") == set(template()["Parameters"])
    assert _first_column_names(guide, "| output | use |") == set(template()["Outputs"])


def test_parameters_example_is_what_create_stack_accepts() -> None:
    entries = json.loads(PARAMETERS_EXAMPLE_PATH.read_text())
    assert isinstance(entries, list)
    for entry in entries:
        assert set(entry) == {"ParameterKey", "ParameterValue"}, entry
        assert isinstance(entry["ParameterValue"], str), entry
    keys = [e["ParameterKey"] for e in entries]
    assert len(keys) == len(set(keys))
    declared = template()["Parameters"]
    assert set(keys) <= set(declared)
    required = {name for name, p in declared.items() if "Default" not in p}
    assert required <= set(keys)


def _accepted(name: str, value: str) -> bool:
    """Whether CloudFormation's parameter constraints accept `value` for parameter `name`."""
    declared = template()["Parameters"][name]
    if "AllowedPattern" in declared and not re.fullmatch(declared["AllowedPattern"], value):
        return False
    if "AllowedValues" in declared and value not in [str(v) for v in declared["AllowedValues"]]:
        return False
    if declared["Type"] == "Number":
        number = float(value)
        if number < declared.get("MinValue", number) or number > declared.get("MaxValue", number):
            return False
    return True


def test_example_values_satisfy_the_parameter_constraints() -> None:
    for entry in json.loads(PARAMETERS_EXAMPLE_PATH.read_text()):
        assert _accepted(entry["ParameterKey"], entry["ParameterValue"]), entry


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:rds:us-west-2:123456789012:cluster:my-aurora-cluster",
        "arn:aws-cn:rds:cn-north-1:123456789012:cluster:db",
        "arn:aws-us-gov:rds:us-gov-west-1:123456789012:cluster:Prod-1",
        "arn:aws-iso-b:rds:us-isob-east-1:123456789012:cluster:x",
    ],
)
def test_cluster_arn_of_every_partition_is_accepted(arn: str) -> None:
    assert _accepted("AuroraClusterArn", arn)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:rds:us-west-2:123456789012:db:my-instance",
        "arn:aws:rds:us-west-2:12345678901:cluster:short-account",
        "arn:azure:rds:us-west-2:123456789012:cluster:c",
        "arn:aws:rds:us-west-2:123456789012:cluster:1starts-with-digit",
        "my-aurora-cluster",
    ],
)
def test_other_arns_are_rejected(arn: str) -> None:
    assert not _accepted("AuroraClusterArn", arn)


def test_role_attachment_command_and_cluster_identifier_come_from_the_cluster_arn() -> None:
    params = default_parameters() | {
        "AuroraClusterArn": "arn:aws-us-gov:rds:us-gov-east-1:123456789012:cluster:db-7"
    }
    rendered = (
        "AuroraClusterIdentifier",
        "AuroraRoleAttachmentCommand",
        "LambdaFunctionArn",
        "S3VectorIndexArn",
        "AuroraLambdaRoleArn",
    )
    outputs = {k: evaluate(template()["Outputs"][k]["Value"], params) for k in rendered}
    assert outputs["AuroraClusterIdentifier"] == "db-7"
    assert outputs["AuroraRoleAttachmentCommand"] == (
        "aws rds add-role-to-db-cluster --db-cluster-identifier db-7"
        " --role-arn <AuroraLambdaRole.Arn> --feature-name Lambda --region us-gov-east-1"
    )
    assert outputs["LambdaFunctionArn"] == "<VectorQueryFunction.Arn>"
    assert outputs["S3VectorIndexArn"] == "<VectorIndex.IndexArn>"
    assert outputs["AuroraLambdaRoleArn"] == "<AuroraLambdaRole.Arn>"


def test_bucket_name_output_is_the_name_part_of_the_bucket_arn() -> None:
    value = template()["Outputs"]["S3VectorBucketName"]["Value"]
    assert value == {
        "Fn::Select": [1, {"Fn::Split": ["bucket/", {"Fn::GetAtt": ["VectorBucket", "VectorBucketArn"]}]}]
    }
    name = evaluate(properties("VectorBucket")["VectorBucketName"])
    assert name == "s3vl-vectors-123456789012-us-west-2"
    assert f"arn:aws:s3vectors:us-west-2:123456789012:bucket/{name}".split("bucket/")[1] == name


def test_function_name_is_the_one_the_walkthrough_updates() -> None:
    assert evaluate(properties("VectorQueryFunction")["FunctionName"]) == "s3vl-vector-query"
    walkthrough_command = "aws lambda update-function-code --function-name s3vl-vector-query"
    assert walkthrough_command in (REPO / "docs" / "deployment.md").read_text()


def test_handler_setting_names_the_entry_point_in_the_package_source() -> None:
    function = properties("VectorQueryFunction")
    module, _, attribute = function["Handler"].partition(".")
    entry = LAMBDA_SRC / f"{module}.py"
    assert entry.is_file()
    assert re.search(rf"^def {attribute}\(event", entry.read_text(), re.MULTILINE)
    # The runtime must be a Python the handler supports (requires-python in pyproject.toml).
    minimum = re.search(r'requires-python = ">=3\.(\d+)"', (REPO / "pyproject.toml").read_text())
    runtime = re.fullmatch(r"python3\.(\d+)", function["Runtime"])
    assert minimum and runtime and int(runtime.group(1)) >= int(minimum.group(1))


def test_package_script_builds_the_zip_the_docs_deploy_with_that_entry_module() -> None:
    script = PACKAGE_SH.read_text()
    assert ZIP_NAME in script
    assert "lambda_function" in script
    assert f"fileb://build/{ZIP_NAME}" in (REPO / "docs" / "deployment.md").read_text()


def _settings_read_by_the_handler() -> set[str]:
    names: set[str] = set()
    for source in LAMBDA_SRC.rglob("*.py"):
        names |= set(
            re.findall(
                r"""(?:environ\.get|getenv|environ)\s*[\(\[]\s*["']([A-Z0-9_]+)["']""", source.read_text()
            )
        )
    return names


def test_environment_sets_only_what_the_handler_reads_and_no_endpoint_override() -> None:
    variables = properties("VectorQueryFunction")["Environment"]["Variables"]
    assert "S3VL_LOG_LEVEL" in variables
    assert set(variables) <= _settings_read_by_the_handler()
    assert not [name for name in variables if name.startswith("AWS_")]


def test_function_runs_in_the_given_subnets_with_its_own_https_only_security_group() -> None:
    vpc = properties("VectorQueryFunction")["VpcConfig"]
    params = default_parameters()
    assert evaluate(vpc["SubnetIds"], params) == params["SubnetIds"].split(",")
    assert evaluate(vpc["SecurityGroupIds"]) == ["<LambdaSecurityGroup>"]
    group = properties("LambdaSecurityGroup")
    assert evaluate(group["VpcId"], params) == params["VpcId"]
    assert "SecurityGroupIngress" not in group
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in group["SecurityGroupEgress"]] == [
        ("tcp", 443, 443)
    ]


def test_reserved_concurrency_timeout_and_memory_come_from_parameters() -> None:
    function = properties("VectorQueryFunction")
    params = default_parameters() | {
        "ReservedConcurrency": "7",
        "LambdaTimeout": "30",
        "LambdaMemorySize": "512",
    }
    assert evaluate(function["ReservedConcurrentExecutions"], params) == "7"
    assert evaluate(function["Timeout"], params) == "30"
    assert evaluate(function["MemorySize"], params) == "512"
    assert evaluate(properties("FunctionLogGroup")["RetentionInDays"], params) == "14"


def test_index_shape_comes_from_parameters() -> None:
    index = properties("VectorIndex")
    params = default_parameters() | {"IndexDimension": "1024", "IndexDistanceMetric": "euclidean"}
    rendered = evaluate(index, params)
    assert (rendered["Dimension"], rendered["DistanceMetric"], rendered["DataType"]) == (
        "1024",
        "euclidean",
        "float32",
    )
    assert rendered["IndexName"] == "s3vl-1024d-euclidean"
    assert rendered["VectorBucketArn"] == "<VectorBucket.VectorBucketArn>"
    assert "MetadataConfiguration" not in rendered


def test_non_filterable_metadata_keys_are_set_only_when_given() -> None:
    params = default_parameters() | {"NonFilterableMetadataKeys": "source_text,raw"}
    rendered = evaluate(properties("VectorIndex"), params)
    assert rendered["MetadataConfiguration"] == {"NonFilterableMetadataKeys": ["source_text", "raw"]}


def test_vector_bucket_is_encrypted() -> None:
    assert properties("VectorBucket")["EncryptionConfiguration"]["SseType"] in ("AES256", "aws:kms")
