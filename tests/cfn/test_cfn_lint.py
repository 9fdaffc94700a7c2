"""The template is valid CloudFormation in every Region we support, by cfn-lint's resource specs."""

from __future__ import annotations

from cfn_template import TEMPLATE_PATH, template
from cfnlint.api import ManualArgs, lint_file

# Regions where S3 Vectors is offered, spread over the continents (resource and runtime support differ).
REGIONS = [
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-central-1",
    "eu-west-1",
    "ap-southeast-2",
    "ap-northeast-1",
]


def test_cfn_lint_reports_nothing_in_any_region_including_informational_rules() -> None:
    matches = lint_file(TEMPLATE_PATH, config=ManualArgs(regions=REGIONS, include_checks=["I"]))
    assert [str(m) for m in matches] == []


def test_template_declares_the_s3_vectors_resource_types() -> None:
    types = {r["Type"] for r in template()["Resources"].values()}
    assert {"AWS::S3Vectors::VectorBucket", "AWS::S3Vectors::Index"} <= types


def test_every_checkov_skip_is_justified_in_the_resource_metadata() -> None:
    skips = [
        (name, skip)
        for name, resource in template()["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips, "the template is expected to document its checkov skips"
    for name, skip in skips:
        assert skip["id"].startswith("CKV"), (name, skip)
        assert len(skip.get("comment", "").split()) >= 10, f"{name}: skip {skip['id']} needs a real reason"
