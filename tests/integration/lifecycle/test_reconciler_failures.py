"""A pool the reconciler cannot repair does not keep it from repairing the others."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from warmpool.emulator.jobs import training_job_request

from tests.integration.conftest import System

TWO_HOURS = {"version": 1, "defaults": {"keep_alive_strategy": "fixed-7200"}}


@pytest.fixture
def describe_fails_for() -> Iterator[set[str]]:
    """Job names whose DescribeTrainingJob fails at every call (SageMaker answering 500 for them)."""
    names: set[str] = set()

    def fail(params: dict[str, Any], **_: Any) -> None:
        if params.get("TrainingJobName") in names:
            raise ClientError(
                {"Error": {"Code": "InternalFailure", "Message": "injected"}}, "DescribeTrainingJob"
            )

    events = boto3.DEFAULT_SESSION.events if boto3.DEFAULT_SESSION else None
    assert events is not None
    events.register("before-parameter-build.sagemaker.DescribeTrainingJob", fail)
    yield names
    events.unregister("before-parameter-build.sagemaker.DescribeTrainingJob", fail)


def test_one_pool_failing_at_every_run_leaves_the_others_repaired(
    system: System, describe_fails_for: set[str]
) -> None:
    system.set_policy(TWO_HOURS)
    for name, instance_type in (("aa-broken", "ml.g5.2xlarge"), ("zz-fine", "ml.g5.4xlarge")):
        system.sagemaker.create_training_job(**training_job_request(name, instance_type=instance_type))
        system.control.run_for(name, 300)
    system.advance(300)  # two pools of two shapes, Available together
    assert [u["seconds"] for u in system.control.update_calls()] == [3600, 3600]
    system.emulator.advance(3400)  # both pools' step at 55 minutes was due; neither tick fired
    due = system.schedules.due()
    assert len(due) == 2
    for schedule in due:
        system.schedules._scheduler.delete_schedule(
            Name=schedule["Name"], GroupName=system.env.scheduler_group
        )
    describe_fails_for.add("aa-broken")  # sorted first: before the fix, it stopped the whole run

    report = system.reconcile()

    assert report["rescheduled"] == ["zz-fine"]
    assert len(report["failed"]) == 1
    assert report["failed"][0].startswith("aa-broken: ClientError")
    assert "InternalFailure" in report["failed"][0]
    assert [u["seconds"] for u in system.control.update_calls()] == [3600, 3600, 3600]
    assert system.control.update_calls()[-1]["job"] == "zz-fine"

    describe_fails_for.clear()  # SageMaker answers again: the next run takes the step left behind
    report = system.reconcile()
    assert report["rescheduled"] == ["aa-broken"]
    assert report["failed"] == []
    assert system.control.update_calls()[-1]["job"] == "aa-broken"
