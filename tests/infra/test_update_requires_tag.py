"""`update_requires_tag`: IAM lets the engine update only tagged jobs, and the engine knows it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ENGINE_FUNCTIONS = ("Lifecycle", "Reconciler", "SlackInteractive")


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
