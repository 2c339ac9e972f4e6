"""`update_requires_tag`: IAM lets the engine update only tagged jobs, and the engine knows it."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

from tests.infra.conftest import ROOT

ENGINE_FUNCTIONS = ("Lifecycle", "Reconciler", "SlackPresses")


def test_the_engine_is_told_which_jobs_its_role_may_update(tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    build_app(context={"warmpool": {"update_requires_tag": "warmpool:managed"}}, outdir=str(tmp_path)).synth()
    template = json.loads((tmp_path / "WarmPoolManager.template.json").read_text())
    resources: dict[str, dict[str, Any]] = template["Resources"]

    statements = [
        s
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "UpdateKeepAliveOnly"
    ]
    assert statements
    assert all(s["Condition"] == {"Null": {"aws:ResourceTag/warmpool:managed": "false"}} for s in statements)

    functions = {
        name: r["Properties"].get("Environment", {}).get("Variables", {})
        for name, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function"
    }
    engine = {name: env for name, env in functions.items() if any(f in name for f in ENGINE_FUNCTIONS)}
    assert len(engine) == len(ENGINE_FUNCTIONS)
    assert all(env.get("UPDATE_REQUIRES_TAG") == "warmpool:managed" for env in engine.values())
    outputs = {o["Description"]: o["Value"] for o in template["Outputs"].values() if "Description" in o}
    assert outputs["UPDATE_REQUIRES_TAG"] == "warmpool:managed"


def test_the_line_docs_cli_md_exports_the_outputs_with_gives_the_cli_a_tag_key_with_a_space_whole(
    tmp_path: Path,
) -> None:
    """A tag key may hold spaces (`Cost Center`): the CLI's `policy explain` decides with the key the
    functions have only if the one line of docs/cli.md exports the output as it is, not its first word."""
    written = (ROOT / "docs" / "cli.md").read_text()
    (line,) = re.findall(r"```sh\n(eval \"\$\(aws cloudformation describe-stacks.*?)\n```", written, re.S)
    # `aws cloudformation describe-stacks ... --output text`: each output's description and value, a tab apart
    outputs = [
        ("UPDATE_REQUIRES_TAG", "Cost Center"),
        ("POOLS_TABLE_NAME", "WarmPoolManager-Pools-1"),
        ("Set as the Request URL of your Slack app's Interactivity", "https://example.com/slack/actions"),
    ]
    aws = tmp_path / "aws"
    aws.write_text("#!/bin/sh\nprintf '%s' \"$WARMPOOL_TEST_OUTPUTS\"\n")
    aws.chmod(0o755)
    env = {
        "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}",
        "WARMPOOL_TEST_OUTPUTS": "".join(f"{description}\t{value}\n" for description, value in outputs),
    }
    result = subprocess.run(
        ["bash", "-c", f'{line}\nprintf "%s|" "$UPDATE_REQUIRES_TAG" "$POOLS_TABLE_NAME"'],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Cost Center|WarmPoolManager-Pools-1|"
