"""A pool the reconciler cannot repair does not keep it from repairing the others."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import reconciler

from tests.integration.conftest import System, hooked, no_backoff
from tests.integration.runbooks.test_runbooks import emf_counts

TWO_HOURS = {"version": 1, "defaults": {"keep_alive_strategy": "fixed-7200"}}
TAGS = {"team": "vision", "owner": "alice"}


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


def test_sagemaker_throttling_the_listings_leaves_the_pools_the_registry_knows_looked_at(
    system: System,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An AWS incident: SageMaker throttles ListTrainingJobs past the retries. The run failed as a whole
    with the throttle, no report, and a pool whose step never fired went unextended with it."""
    no_backoff(monkeypatch)  # botocore's back-offs and its rate limiter's waits
    system.set_policy(TWO_HOURS)
    system.run_job("known-1", 300, tags=TAGS)  # kept an hour, its step at 55 minutes
    system.sagemaker.create_training_job(
        **training_job_request("lost-1", instance_type="ml.g5.4xlarge", keep_alive_seconds=3600)
    )
    system.control.run_for("lost-1", 300)
    system.emulator.advance(300)
    system.messages(system.env.lifecycle_queue_url)  # lost-1's events, lost
    system.emulator.advance(3100)  # known-1's step was due; its tick never fired
    for schedule in system.schedules.due():
        system.schedules._scheduler.delete_schedule(
            Name=schedule["Name"], GroupName=system.env.scheduler_group
        )
    system.control.inject_faults("ListTrainingJobs", "ThrottlingException", count=10_000)
    capsys.readouterr()

    report = system.reconcile()

    assert report["rescheduled"] == ["known-1"]
    assert [(u["job"], u["seconds"]) for u in system.control.update_calls()] == [
        ("known-1", 3600),
        ("known-1", 3600),
    ]
    assert report["phases_failed"] == ["sagemaker-available", "sagemaker-in-use"]
    assert [f.split(": ")[0] for f in report["failed"]] == ["sagemaker-available", "sagemaker-in-use"]
    assert all("(ThrottlingException) when calling the ListTrainingJobs" in f for f in report["failed"])
    assert report["available_in_sagemaker"] is None
    counts = emf_counts(capsys.readouterr().out)
    assert (counts.get("ReconcilerPhasesFailed"), counts.get("ReconcilerFailures")) == (2, 2)
    (logged,) = [
        r for r in caplog.records if r.getMessage() == "reconciled, some pools could not be repaired"
    ]
    assert logged.__dict__["phases_failed"] == report["phases_failed"]

    system.control.clear_faults()  # the incident ends: the next run finds the pool whose events were lost
    report = system.reconcile()
    assert (report["repaired"], report["phases_failed"], report["failed"]) == (["lost-1"], [], [])


def test_a_run_that_could_read_nothing_from_the_registry_fails_whole_naming_each_phase(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DynamoDB refusing every Query: no pool, watch or notice can be read, and the run fails (its
    function's Errors: ReconcilerErrors), its error naming what each phase met."""
    no_backoff(monkeypatch)  # botocore's back-offs and its rate limiter's waits
    system.set_policy(TWO_HOURS)
    system.run_job("known-2", 300, tags=TAGS)

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, "Query")

    with hooked("before-parameter-build.dynamodb.Query", refuse):
        reconciler.runtime.cache_clear()  # its clients made with the hook
        with pytest.raises(RuntimeError) as raised:  # ReconcilerFailedError
            system.reconcile()
    said = str(raised.value)
    assert said.startswith("the reconciler could do nothing: no pool, watch or notice could be read (")
    for name in ("registry-available", "watched-tuning-jobs", "unsent-tuning-notices", "unannounced-pools"):
        assert f"{name}: ClientError: An error occurred (InternalServerError) when calling the Query" in said
    reconciler.runtime.cache_clear()
    assert system.reconcile()["failed"] == []
