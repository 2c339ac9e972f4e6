"""The tests and `make synth` build the template `cdk deploy` deploys: with cdk.json's context.

The CDK CLI reads cdk.json and hands its `context` (the feature flags) to `python3 app.py`; the tests
and `make synth` run the app without the CLI. Without cdk.json's flags they would check another template
(IAM policies, cdk-nag, cfn-lint) than the one deployed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.infra.conftest import ROOT, Synthesized

pytestmark = pytest.mark.slow

MINIMIZE_POLICIES = "@aws-cdk/aws-iam:minimizePolicies"


def cdk_json_context() -> dict[str, object]:
    context: dict[str, object] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def test_the_app_gets_the_context_cdk_json_gives_the_cdk_cli(tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    given = cdk_json_context()
    assert given[MINIMIZE_POLICIES] is True  # the flag the template test below sees
    app = build_app(context={"warmpool": {"log_retention_days": 400}}, outdir=str(tmp_path))
    assert {key: app.node.try_get_context(key) for key in given} == given
    # and the context the caller passes, as `-c` would
    assert app.node.try_get_context("warmpool") == {"log_retention_days": 400}


def test_iam_policies_are_minimized_as_cdk_json_asks(synthesized: Synthesized) -> None:
    # With the flag, CDK merges the statements of a policy that grant the same resources (those with a
    # Sid stay as written); without it, e.g. the idempotency table is granted in two statements.
    for name, policy in synthesized.resources("AWS::IAM::Policy").items():
        granted = Counter(
            (
                statement["Effect"],
                json.dumps(statement.get("Condition"), sort_keys=True),
                json.dumps(statement["Resource"], sort_keys=True),
            )
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if "Sid" not in statement
        )
        assert [key for key, count in granted.items() if count > 1] == [], name


def test_the_context_the_cdk_cli_passes_in_wins_over_cdk_json(tmp_path: Path) -> None:
    # `cdk synth -c @aws-cdk/aws-iam:minimizePolicies=false`: the CLI passes its context in
    # CDK_CONTEXT_JSON, read by the App in its own process, hence a process of its own here.
    cli_context = {**cdk_json_context(), MINIMIZE_POLICIES: False, "warmpool": {"log_retention_days": 400}}
    script = (
        "import json, sys\n"
        "from app import build_app\n"
        "app = build_app(outdir=sys.argv[1])\n"
        "print(json.dumps({k: app.node.try_get_context(k) for k in json.loads(sys.argv[2])}))\n"
    )
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(cli_context),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "18,20",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "lambdas"), str(ROOT)]),
    }
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), json.dumps(cli_context)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == cli_context
