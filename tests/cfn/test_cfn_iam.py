"""Least privilege: the execution role grants what the handler calls and no more; the Aurora role only
invokes this function, and only this cluster can use it."""

from __future__ import annotations

from typing import Any

import pytest
from cfn_template import default_parameters, evaluate, properties, resources, template
from s3vl_lambda.permissions import OPERATION_ACTIONS, required_actions


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(role: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in properties(role).get("Policies", [])
        for statement in _as_list(policy["PolicyDocument"]["Statement"])
    ]


def granted_actions(role: str, prefix: str) -> set[str]:
    return {
        action
        for statement in statements(role)
        if statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"])
        if action.startswith(prefix)
    }


def test_execution_role_grants_exactly_the_s3vectors_actions_of_the_handler() -> None:
    assert granted_actions("LambdaExecutionRole", "s3vectors:") == set(required_actions())


def test_query_with_filter_or_metadata_is_covered_by_get_vectors() -> None:
    # S3 Vectors authorises a filtered query, or one returning metadata, against GetVectors too.
    assert {"s3vectors:QueryVectors", "s3vectors:GetVectors"} <= OPERATION_ACTIONS["query_vectors"]
    assert {"s3vectors:QueryVectors", "s3vectors:GetVectors"} <= granted_actions(
        "LambdaExecutionRole", "s3vectors:"
    )


def test_every_s3vectors_statement_is_scoped_to_the_index_of_this_stack() -> None:
    s3v = [
        s
        for s in statements("LambdaExecutionRole")
        if any(a.startswith("s3vectors:") for a in _as_list(s["Action"]))
    ]
    assert s3v
    for statement in s3v:
        # All handler actions are index-level (GetIndex, QueryVectors, GetVectors, ListVectors,
        # PutVectors, DeleteVectors): the index ARN is the only resource they need.
        assert evaluate(statement["Resource"]) == "<VectorIndex.IndexArn>", statement


@pytest.mark.parametrize("role", ["LambdaExecutionRole", "AuroraLambdaRole"])
def test_no_statement_uses_a_wildcard_action_or_a_managed_policy(role: str) -> None:
    for statement in statements(role):
        for action in _as_list(statement["Action"]):
            assert "*" not in action and "?" not in action, (role, statement)
    # Managed policies would bring permissions nobody reviewed here (AWSLambdaVPCAccessExecutionRole
    # grants log writes on every log group).
    assert "ManagedPolicyArns" not in properties(role)


def test_logs_are_written_only_to_the_functions_own_log_group() -> None:
    log_statements = [
        s
        for s in statements("LambdaExecutionRole")
        if any(a.startswith("logs:") for a in _as_list(s["Action"]))
    ]
    assert granted_actions("LambdaExecutionRole", "logs:") == {"logs:CreateLogStream", "logs:PutLogEvents"}
    for statement in log_statements:
        assert evaluate(statement["Resource"]) == "<FunctionLogGroup.Arn>"
    log_group = properties("FunctionLogGroup")
    assert evaluate(log_group["LogGroupName"]) == "/aws/lambda/s3vl-vector-query"
    assert evaluate(properties("VectorQueryFunction")["LoggingConfig"]["LogGroup"]) == "<FunctionLogGroup>"


def test_only_the_dead_letter_queue_can_receive_messages() -> None:
    sqs = [
        s
        for s in statements("LambdaExecutionRole")
        if any(a.startswith("sqs:") for a in _as_list(s["Action"]))
    ]
    assert granted_actions("LambdaExecutionRole", "sqs:") == {"sqs:SendMessage"}
    assert [evaluate(s["Resource"]) for s in sqs] == ["<DeadLetterQueue.Arn>"]


def test_network_interface_permissions_are_the_ec2_part_of_the_vpc_managed_policy_only() -> None:
    assert granted_actions("LambdaExecutionRole", "ec2:") == {
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    }
    for statement in statements("LambdaExecutionRole"):
        actions = _as_list(statement["Action"])
        if evaluate(statement["Resource"]) == "*":
            # Only calls without resource-level permissions may name every resource.
            assert all(a.startswith("ec2:Describe") for a in actions), statement
    every_prefix = {a.split(":")[0] for s in statements("LambdaExecutionRole") for a in _as_list(s["Action"])}
    assert every_prefix == {"s3vectors", "logs", "sqs", "ec2", "lambda"}


def test_execution_role_is_assumed_by_lambda_only() -> None:
    trust = _as_list(properties("LambdaExecutionRole")["AssumeRolePolicyDocument"]["Statement"])
    assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
    assert evaluate(properties("VectorQueryFunction")["Role"]) == "<LambdaExecutionRole.Arn>"


def test_aurora_role_may_only_invoke_this_function() -> None:
    assert statements("AuroraLambdaRole") == [
        {
            "Sid": "InvokeVectorQueryFunction",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": {"Fn::GetAtt": ["VectorQueryFunction", "Arn"]},
        }
    ]


def test_aurora_role_is_trusted_by_rds_for_this_cluster_and_account_only() -> None:
    (trust,) = _as_list(properties("AuroraLambdaRole")["AssumeRolePolicyDocument"]["Statement"])
    assert trust["Principal"] == {"Service": "rds.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    params = default_parameters() | {
        "AuroraClusterArn": "arn:aws-us-gov:rds:us-gov-west-1:123456789012:cluster:db1"
    }
    condition = evaluate(trust["Condition"], params)
    assert condition["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert condition["ArnEquals"] == {
        "aws:SourceArn": "arn:aws-us-gov:rds:us-gov-west-1:123456789012:cluster:db1"
    }


def test_only_two_roles_and_no_standalone_policies() -> None:
    assert set(resources("AWS::IAM::Role")) == {"LambdaExecutionRole", "AuroraLambdaRole"}
    standalone = [
        r
        for r in template()["Resources"].values()
        if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
    ]
    assert standalone == []


def test_the_function_may_invoke_itself_and_no_other_function() -> None:
    # rank_vectors' slices (operations/rank_slices.py): the function's own ARN, unqualified and qualified.
    role = statements("LambdaExecutionRole")
    invoke = [s for s in role if "lambda:InvokeFunction" in _as_list(s["Action"])]
    assert [_as_list(s["Action"]) for s in invoke] == [["lambda:InvokeFunction"]]
    own = "arn:aws:lambda:us-west-2:123456789012:function:s3vl-vector-query"
    assert evaluate(invoke[0]["Resource"]) == [own, f"{own}:*"]
    assert evaluate(properties("VectorQueryFunction")["FunctionName"]) == "s3vl-vector-query"
    assert granted_actions("LambdaExecutionRole", "lambda:") == {"lambda:InvokeFunction"}
