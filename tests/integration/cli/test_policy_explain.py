"""`warmpool policy explain --job` beside what the engine decides for the same pool, on moto with the
emulator."""

import json
from pathlib import Path

import pytest
from warmpool.cli.main import main
from warmpool.emulator.jobs import training_job_request

from tests.integration.conftest import System

POLICY = {"version": 1, "teams": {"vision": {"keep_alive_strategy": "fixed-3600", "max_warm_instances": 1}}}


def test_explain_says_it_decides_the_pool_without_the_teams_other_pools(
    system: System, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # vision may keep one warm instance: its second pool is released by the engine, where explain, which
    # reads no other pool, said `extend` without a word
    system.set_policy(POLICY)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(POLICY))
    for name, volume in (("first", 50), ("second", 60)):  # two shapes: the second is a pool of its own
        tags = {"team": "vision", "owner": "alice"}
        system.sagemaker.create_training_job(
            **training_job_request(name, volume_size_gb=volume, keep_alive_seconds=600, tags=tags)
        )
        system.settle()
        system.control.complete_job(name)
        if name == "first":
            system.settle()
    now = system.control.now().isoformat()
    capsys.readouterr()
    explain = ["policy", "explain", "--policy", str(policy), "--job", "second", "--now", now]
    assert main(explain) == 0  # before the engine has seen the second job end
    out = capsys.readouterr().out
    assert "decision: extend" in out
    assert (
        "not read: the team's other warm pools (max_warm_instances 1); an extension a person was promised "
        "(overrides). The engine reads them, and may decide otherwise: `warmpool pools show second` shows "
        "its last decision.\n"
    ) in out
    assert main([*explain, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["not_read"] == [
        "the team's other warm pools (max_warm_instances 1)",
        "an extension a person was promised (overrides)",
    ]
    system.settle()  # the engine decides it, reading the first pool
    capsys.readouterr()
    assert main(["pools", "show", "second", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["last_decision"] == "release (teams.vision.max_warm_instances)"
