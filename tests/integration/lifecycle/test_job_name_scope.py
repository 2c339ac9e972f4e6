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
from tests.integration.notify.test_notify import press, signed

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


def test_a_slack_press_on_another_stacks_pool_says_so_and_leaves_the_message_its_buttons(
    team_a: System,
) -> None:
    # One Slack app for two stacks: its Request URL is one stack's, so a press on the other stack's
    # message came here, was answered "gone or has moved on" of a warm pool, and its message lost its
    # buttons ("no longer warm"), for the other stack's people too.
    team_a.sagemaker.create_training_job(
        **training_job_request("team-b-3", keep_alive_seconds=900, tags={"team": "b", "owner": "bob"})
    )
    team_a.settle()
    team_a.control.complete_job("team-b-3")
    team_a.settle()
    posted = len(team_a.slack.received)

    status, text = team_a.press(signed(press("team-b-3", "warmpool_release", "UBOB")))

    assert status == 200
    assert text.startswith(
        "release team-b-3: not this deployment's job: it manages only the jobs whose names begin with "
        "team-a- (job_name_prefixes); nothing was done."
    )
    assert "Request URL" in text  # the fix: the Slack app of the stack that manages it
    answers = team_a.slack.received[posted:]
    assert len(answers) == 1  # the answer alone: the message keeps its buttons
    assert not answers[0]["body"].get("replace_original")
    job = team_a.sagemaker.describe_training_job(TrainingJobName="team-b-3")
    assert job["WarmPoolStatus"]["Status"] == "Available"
    assert team_a.control.update_calls() == []
    assert team_a.registry.get("team-b-3") is None
