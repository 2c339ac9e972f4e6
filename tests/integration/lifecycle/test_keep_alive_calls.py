"""A keep-alive set outside warmpool (someone's own UpdateTrainingJob, the console), heard of through
CloudTrail's record of the call (an account with a trail logging management events, which the emulator
stands in for with `emit_keep_alive_calls`): the pool is looked at when it is set, not at its next look."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from warmpool.emulator import EmulatorConfig
from warmpool.emulator.core import _deliver_to_eventbridge
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import lifecycle
from warmpool.local.resources import put_lifecycle_rules

from tests.integration.conftest import System

TAGS = {"team": "nlp", "owner": "alice"}
CALLS = "AWS API Call via CloudTrail"
SET_3000 = {"keepAlivePeriodInSeconds": 3000}
FIXED_30_MIN = {"version": 1, "defaults": {"keep_alive_strategy": "fixed-1800"}}
UNDONE = (
    "the keep-alive set outside warmpool at 2026-03-02 09:10:00 UTC (warm until 2026-03-02 10:00:00 UTC) "
    "is not kept: strategy fixed-1800 decides; ask for more time with `warmpool pools extend` or the "
    "Slack buttons"
)


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(emit_keep_alive_calls=True)


def _set_outside(system: System, job: str, seconds: int) -> None:
    system.sagemaker.update_training_job(
        TrainingJobName=job, ResourceConfig={"KeepAlivePeriodInSeconds": seconds}
    )


def _calls(system: System) -> list[dict[str, Any]]:
    return [e for e in system.emulator.events if e["detail-type"] == CALLS]


def _trail(system: System, job: str) -> list[tuple[str, str, str]]:
    """(time, what, trigger) of the pool's audit entries after its first decision."""
    return [
        (f"{e.at:%H:%M}", e.what, str(e.details.get("trigger", "")))
        for e in system.registry.audit_trail(job)
        if e.what in ("keep-alive-set-outside", "decision")
    ]


def test_a_keep_alive_extended_outside_warmpool_is_undone_and_told_when_it_is_set(system: System) -> None:
    # The team keeps pools 30 minutes (warm until 09:35). At 09:10 the owner set 3000 s in the console
    # (until 10:00): warmpool saw it only at the pool's look at 09:20, and the pool billed the ten minutes
    # in between at the setting's rate of idling; nobody was told it was undone.
    system.set_policy(FIXED_30_MIN)
    system.run_job("ct-ext", 300, keep_alive_seconds=600, tags=TAGS)
    system.advance(5 * 60)
    system.notifications()

    _set_outside(system, "ct-ext", 3000)
    system.settle()  # CloudTrail's record of the call reaches the lifecycle queue: no time passes

    assert [u["seconds"] for u in system.control.update_calls()] == [1800, 3000, 1500]  # until 09:35 again
    assert _trail(system, "ct-ext") == [
        ("09:05", "decision", "job-event"),
        ("09:10", "keep-alive-set-outside", "keep-alive-call"),
        ("09:10", "decision", "keep-alive-call"),
    ]
    [outside] = [e for e in system.registry.audit_trail("ct-ext") if e.what == "keep-alive-set-outside"]
    assert (outside.details["seconds"], outside.details["was_seconds"]) == (3000, 1800)
    [told] = system.notifications()
    assert (told["kind"], told["job_name"], told["facts"]["warm_until"]) == (
        "shortened",
        "ct-ext",
        "2026-03-02T09:35:00+00:00",
    )
    assert told["decision"]["reasons"][-1] == UNDONE  # why, and how to ask for more time
    assert system.messages(system.env.lifecycle_dlq_url) == []


def test_a_keep_alive_set_outside_warmpool_under_the_job_strategy_is_recorded_at_once(system: System) -> None:
    system.run_job("ct-job", 300, keep_alive_seconds=1800, tags=TAGS)
    system.advance(5 * 60)
    _set_outside(system, "ct-job", 3000)
    system.settle()

    record = system.registry.get("ct-job")
    assert record is not None
    assert (record.pool.outside_keep_alive_seconds, f"{record.pool.expires_at:%H:%M}") == (3000, "10:00")
    assert ("09:10", "keep-alive-set-outside", "keep-alive-call") in _trail(system, "ct-job")
    assert [u["seconds"] for u in system.control.update_calls()] == [3000]  # the owner's, kept


def test_warmpools_own_calls_and_the_refused_ones_change_nothing(system: System) -> None:
    # warmpool's own UpdateTrainingJob is recorded by CloudTrail too: the look it leads to finds the pool as
    # warmpool saved it. A call SageMaker refused (the pool InUse) has an errorCode: the rule lets it by.
    system.set_policy(FIXED_30_MIN)
    system.sagemaker.create_training_job(**training_job_request("ct-own", keep_alive_seconds=600, tags=TAGS))
    system.settle()
    with pytest.raises(system.sagemaker.exceptions.ClientError):
        _set_outside(system, "ct-own", 3000)  # InUse: refused
    system.control.run_for("ct-own", 300)
    system.advance(300)
    system.advance(10 * 60)

    calls = _calls(system)
    assert ["errorCode" in c["detail"] for c in calls] == [True, False]  # the refused call, warmpool's own
    assert [u["seconds"] for u in system.control.update_calls()] == [1800]
    assert _trail(system, "ct-own") == [("09:05", "decision", "job-event")]  # one decision, no other
    assert system.messages(system.env.lifecycle_dlq_url) == []
    assert system.lifecycle.stats.failures == 0


def test_the_same_record_delivered_twice_is_looked_at_once(system: System) -> None:
    system.set_policy(FIXED_30_MIN)
    system.run_job("ct-dup", 300, keep_alive_seconds=600, tags=TAGS)
    system.advance(5 * 60)
    _set_outside(system, "ct-dup", 3000)
    system.settle()
    system.notifications()
    [copy] = [c for c in _calls(system) if c["detail"]["requestParameters"]["resourceConfig"] == SET_3000]

    _deliver_to_eventbridge(copy["account"], copy["region"], copy)  # EventBridge delivers at least once
    system.advance(60)

    assert [u["seconds"] for u in system.control.update_calls()] == [1800, 3000, 1500]
    assert [w for _, w, t in _trail(system, "ct-dup") if t == "keep-alive-call"] == [
        "keep-alive-set-outside",
        "decision",
    ]
    assert system.notifications() == []


def _call_record(job: str | None, **detail: Any) -> dict[str, Any]:
    parameters = {"trainingJobName": job} if job is not None else None
    return {
        "version": "0",
        "id": "7d1f7bd4-0000-4000-8000-000000000001",
        "detail-type": CALLS,
        "source": "aws.sagemaker",
        "account": "123456789012",
        "time": "2026-03-02T09:10:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventSource": "sagemaker.amazonaws.com",
            "eventName": "UpdateTrainingJob",
            "eventID": "3c8c6c4e-0000-4000-8000-000000000002",
            "eventTime": "2026-03-02T09:10:00Z",
            "requestParameters": parameters,
            **detail,
        },
    }


def test_a_record_warmpool_cannot_read_goes_to_the_dlq_naming_the_field(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    for body in (_call_record(None), _call_record("ct-bad", eventName="CreateTrainingJob")):
        system.sqs.send_message(QueueUrl=system.env.lifecycle_queue_url, MessageBody=json.dumps(body))
    system.settle()

    dead = system.messages(system.env.lifecycle_dlq_url)
    fields = sorted(m["MessageAttributes"]["field"]["StringValue"] for m in dead)
    assert fields == ["detail.eventName", "detail.requestParameters"]
    reasons = " | ".join(m["MessageAttributes"]["reason"]["StringValue"] for m in dead)
    assert "Input should be 'UpdateTrainingJob'" in reasons
    out = capsys.readouterr().out
    assert '"EventsRejected":[1.0,1.0]' in out


def test_a_call_on_another_stacks_job_is_left_to_that_stack(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOB_NAME_PREFIXES", "team-a-")
    lifecycle.runtime.cache_clear()
    put_lifecycle_rules(
        boto3.client("events", region_name=system.env.region),
        "warmpool",
        system.env.lifecycle_queue_arn,
        ("team-a-",),
    )
    system.set_policy(FIXED_30_MIN)
    system.run_job("team-b-1", 300, keep_alive_seconds=600, tags=TAGS)
    _set_outside(system, "team-b-1", 3000)
    system.settle()
    # and one sent by hand past the rule
    system.sqs.send_message(
        QueueUrl=system.env.lifecycle_queue_url, MessageBody=json.dumps(_call_record("team-b-1"))
    )
    system.settle()

    assert [u["job"] for u in system.control.update_calls()] == ["team-b-1"]  # the person's call only
    assert system.registry.get("team-b-1") is None
    assert system.messages(system.env.lifecycle_dlq_url) == []
