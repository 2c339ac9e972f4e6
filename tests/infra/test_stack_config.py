"""The stack's configuration is refused at synth when the engine could not run with it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError


def test_a_margin_as_long_as_the_step_fails_synth_naming_both_fields(tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    # step_margin_seconds keeps its default of 300
    refused = r"step_margin_seconds \(300\) must be less than max_step_seconds \(300\)"
    with pytest.raises(ValidationError, match=refused):
        build_app(context={"warmpool": {"max_step_seconds": 300}}, outdir=str(tmp_path / "out"))
    assert not list(tmp_path.glob("out/*.template.json"))  # nothing was synthesized


def test_a_step_shorter_than_five_minutes_fails_synth(tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    # the engine looks again at least a minute on: a one-minute step would run out first
    context: dict[str, object] = {"warmpool": {"max_step_seconds": 60, "step_margin_seconds": 30}}
    with pytest.raises(
        ValidationError, match=r"max_step_seconds\n  Input should be greater than or equal to 300"
    ):
        build_app(context=context, outdir=str(tmp_path / "out"))


def _log_retentions(template: dict[str, Any]) -> list[int]:
    return [
        r["Properties"]["RetentionInDays"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Logs::LogGroup"
    ]


def test_every_log_group_keeps_logs_as_long_as_configured(tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    build_app(context={"warmpool": {"log_retention_days": 400}}, outdir=str(tmp_path)).synth()
    template = json.loads((tmp_path / "WarmPoolManager.template.json").read_text())
    # the four functions' logs and the Slack endpoint's access logs
    assert _log_retentions(template) == [400] * 5


def test_a_retention_cloudwatch_does_not_offer_fails_synth_naming_the_choices(tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    with pytest.raises(
        ValidationError, match=r"log_retention_days\n.*45 is not a retention period .* 30, 60,"
    ):
        build_app(context={"warmpool": {"log_retention_days": 45}}, outdir=str(tmp_path / "out"))
    assert not list(tmp_path.glob("out/*.template.json"))


def test_the_config_given_with_dash_c_as_docs_show_configures_the_stack(tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    # `cdk deploy -c warmpool='{"log_retention_days": 400}'`: the CDK CLI passes every -c value as text
    given = json.dumps({"log_retention_days": 400})
    build_app(context={"warmpool": given}, outdir=str(tmp_path)).synth()
    template = json.loads((tmp_path / "WarmPoolManager.template.json").read_text())
    assert _log_retentions(template) == [400] * 5
