"""Read deployment/cloudformation/template.yaml and evaluate the intrinsic functions the tests need.

The template is parsed with cfn-lint's own decoder (the YAML short forms !Sub, !GetAtt... become
their long JSON forms). `evaluate` renders a value for given parameter values, the way CloudFormation
would, for the small set of functions the template uses; resource attributes it cannot know become
placeholders such as "<VectorIndex.IndexArn>" so that tests can assert what a value points at.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

REPO = Path(__file__).resolve().parents[2]
CFN_DIR = REPO / "deployment" / "cloudformation"
TEMPLATE_PATH = CFN_DIR / "template.yaml"
PARAMETERS_EXAMPLE_PATH = CFN_DIR / "parameters-example.json"

PSEUDO = {
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::Region": "us-west-2",
}


class NoValue:
    """AWS::NoValue: the property is left out."""


@cache
def template() -> dict[str, Any]:
    return json.loads(json.dumps(cfn_yaml.load(str(TEMPLATE_PATH))))


def resources(type_name: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template()["Resources"].items() if r["Type"] == type_name}


def properties(logical_id: str) -> dict[str, Any]:
    return dict(template()["Resources"][logical_id]["Properties"])


def default_parameters() -> dict[str, Any]:
    """Each parameter's default; the required ones get the example file's value."""
    values = {k: p.get("Default") for k, p in template()["Parameters"].items()}
    for entry in json.loads(PARAMETERS_EXAMPLE_PATH.read_text()):
        if values.get(entry["ParameterKey"]) is None:
            values[entry["ParameterKey"]] = entry["ParameterValue"]
    return values


def _parameter_value(name: str, params: dict[str, Any]) -> Any:
    declared = template()["Parameters"][name]
    value = params[name]
    if declared["Type"] in ("CommaDelimitedList", "List<AWS::EC2::Subnet::Id>"):
        return [v.strip() for v in str(value).split(",")]
    return str(value)


def condition(name: str, params: dict[str, Any]) -> bool:
    return bool(evaluate(template()["Conditions"][name], params))


def evaluate(node: Any, params: dict[str, Any] | None = None) -> Any:
    """Render `node` with parameter values `params` (defaults when None)."""
    params = default_parameters() if params is None else params
    if isinstance(node, list):
        return [v for v in (evaluate(n, params) for n in node) if not isinstance(v, NoValue)]
    if not isinstance(node, dict):
        return node
    if len(node) != 1 or not next(iter(node)).startswith(("Fn::", "Ref")):
        return {
            k: v for k, v in ((k, evaluate(v, params)) for k, v in node.items()) if not isinstance(v, NoValue)
        }
    ((fn, arg),) = node.items()
    if fn == "Ref":
        if arg == "AWS::NoValue":
            return NoValue()
        if arg in PSEUDO:
            return PSEUDO[arg]
        if arg in template()["Parameters"]:
            return _parameter_value(arg, params)
        return f"<{arg}>"
    if fn == "Fn::GetAtt":
        return f"<{arg[0]}.{arg[1]}>"
    if fn == "Fn::Sub":
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        variables = {k: evaluate(v, params) for k, v in extra.items()}
        return _substitute(text, variables, params)
    if fn == "Fn::Select":
        return evaluate(arg[1], params)[int(arg[0])]
    if fn == "Fn::Split":
        return evaluate(arg[1], params).split(arg[0])
    if fn == "Fn::Join":
        return arg[0].join(evaluate(arg[1], params))
    if fn == "Fn::If":
        return evaluate(arg[1] if condition(arg[0], params) else arg[2], params)
    if fn == "Fn::Equals":
        return evaluate(arg[0], params) == evaluate(arg[1], params)
    if fn == "Fn::Not":
        return not evaluate(arg[0], params)
    raise NotImplementedError(f"intrinsic function {fn} is not evaluated by tests/cfn/cfn_template.py")


def _substitute(text: str, variables: dict[str, Any], params: dict[str, Any]) -> str:
    out, rest = [], text
    while "${" in rest:
        before, _, after = rest.partition("${")
        name, _, rest = after.partition("}")
        out.append(before)
        if name in variables:
            out.append(str(variables[name]))
        elif "." in name:
            out.append(f"<{name}>")
        else:
            value = evaluate({"Ref": name}, params)
            out.append(",".join(value) if isinstance(value, list) else str(value))
    out.append(rest)
    return "".join(out)
