"""Two warmpool stacks in one account, each managing the jobs whose names begin with its
`job_name_prefixes`: the rules, the reconciler, the decisions and `pools extend|release` keep to them."""

from __future__ import annotations

import boto3
import pytest
from warmpool.cli.main import main
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import lifecycle, reconciler, slack_interactive
from warmpool.local.resources import put_lifecycle_rules

from tests.integration.conftest import System

TWO_HOURS = {"version": 1, "defaults": {"keep_alive_strategy": "fixed-7200"}}


@pytest.fixture
def team_a(system: System, monkeypatch: pytest.MonkeyPatch) -> System:
    """This stack manages the jobs named team-a-...; another stack in the account has the rest."""
    monkeypatch.setenv("JOB_NAME_PREFIXES", "team-a-")
    for module in (lifecycle, reconciler, slack_interactive):
        module.runtime.cache_clear()
    events = boto3.client("events", region_name=system.env.region)
    put_lifecycle_rules(events, "warmpool", system.env.lifecycle_queue_arn, ("team-a-",))
    system.set_policy(TWO_HOURS)
    return system


def test_a_stack_with_job_name_prefixes_manages_only_its_own_jobs(team_a: System) -> None:
    team_a.run_job("team-a-1", 300, tags={"team": "a"})
    team_a.run_job("team-b-1", 300, instance_type="ml.g5.4xlarge", tags={"team": "b"})

    # the rule let only team-a-1's events through: its pool kept two hours, team-b-1's left to the other stack
    assert [(u["job"], u["seconds"]) for u in team_a.control.update_calls()] == [("team-a-1", 3600)]
    assert team_a.registry.get("team-a-1") is not None
    assert team_a.registry.get("team-b-1") is None
    assert {n["job_name"] for n in team_a.notifications()} == {"team-a-1"}

    # the reconciler lists every Available pool of the account, and leaves team-b-1's alone
    report = team_a.reconcile()
    assert team_a.registry.get("team-b-1") is None
    assert [u["job"] for u in team_a.control.update_calls()] == ["team-a-1"]
    assert "team-b-1" not in str(report)
    job = team_a.sagemaker.describe_training_job(TrainingJobName="team-b-1")
    assert job["WarmPoolStatus"]["Status"] == "Available"


def test_a_person_cannot_extend_or_release_another_stacks_pool_through_this_one(
    team_a: System, capsys: pytest.CaptureFixture[str]
) -> None:
    team_a.sagemaker.create_training_job(
        **training_job_request("team-b-2", keep_alive_seconds=900, tags={"team": "b", "owner": "bob"})
    )
    team_a.settle()
    team_a.control.complete_job("team-b-2")
    team_a.settle()
    capsys.readouterr()

    assert main(["pools", "release", "team-b-2", "--user", "bob"]) == 1
    said = capsys.readouterr().out
    assert (
        "team-b-2 is not this deployment's job: it manages only the jobs whose names begin with team-a-"
        in said
    )
    assert main(["pools", "extend", "team-b-2", "--minutes", "30", "--user", "bob"]) == 1
    assert "(job_name_prefixes)" in capsys.readouterr().out
    job = team_a.sagemaker.describe_training_job(TrainingJobName="team-b-2")
    assert job["WarmPoolStatus"]["Status"] == "Available"  # neither released nor kept longer
    assert team_a.control.update_calls() == []
    assert team_a.registry.get("team-b-2") is None  # nor recorded in this stack's registry
