"""Jobs the engine may not update: left to their own keep-alive, or refused by SageMaker (IAM)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import lifecycle, reconciler, slack_interactive

from tests.integration.conftest import System

TWO_HOURS = {"version": 1, "defaults": {"keep_alive_strategy": "fixed-7200"}}


def _kinds(system: System, job: str) -> list[str]:
    return [n["kind"] for n in system.notifications() if n["job_name"] == job]


def test_with_update_requires_tag_untagged_jobs_keep_their_own_keep_alive(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPDATE_REQUIRES_TAG", "warmpool:managed")
    for module in (lifecycle, reconciler, slack_interactive):
        module.runtime.cache_clear()
    system.set_policy(TWO_HOURS)
    system.run_job("free-1", 300, instance_type="ml.g5.4xlarge")
    system.run_job("managed-1", 300, tags={"team": "nlp", "warmpool:managed": "yes"})

    assert [(u["job"], u["seconds"]) for u in system.control.update_calls()] == [("managed-1", 3600)]
    free = system.registry.get("free-1")
    assert free is not None
    assert free.last_decision is not None
    assert free.last_decision.rule == "engine.update_requires_tag"
    assert free.last_error is None
    system.advance(900)  # its own 600 s keep-alive ran out: recorded, with its gap
    free = system.registry.get("free-1")
    assert free is not None
    assert free.pool.status.value == "Terminated"
    assert [u["job"] for u in system.control.update_calls()] == ["managed-1"]


def test_an_update_sagemaker_denies_is_audited_alarmed_and_not_announced(system: System) -> None:
    system.set_policy(TWO_HOURS)
    system.control.inject_faults("UpdateTrainingJob", "AccessDeniedException", count=1)
    system.run_job("denied-1", 300, tags={"team": "nlp"})

    record = system.registry.get("denied-1")
    assert record is not None
    assert record.pool.status.value == "Available"
    assert record.last_error is not None
    assert "AccessDeniedException" in record.last_error
    errors = [e for e in system.registry.audit_trail("denied-1") if e.what == "error"]
    assert [e.details["operation"] for e in errors] == ["UpdateTrainingJob"]
    assert "extended" not in _kinds(system, "denied-1")
    assert system.messages(system.env.lifecycle_dlq_url) == []  # refused for good: not retried to the DLQ
    assert system.control.update_calls() == []


def test_a_short_keep_alive_the_role_may_not_extend_is_tried_again_before_it_runs_out(
    system: System,
) -> None:
    # a 15-minute keep-alive: the look its expiry plans (a warning 15 minutes before it) is already
    # past, so the next look was just after the pool had gone. Tried again in 5 minutes, the update goes
    # through once the permission is granted (an SCP fixed, a boundary widened) and the pool is kept.
    system.set_policy(TWO_HOURS)
    system.control.inject_faults("UpdateTrainingJob", "AccessDeniedException", count=1)
    system.run_job("denied-2", 300, keep_alive_seconds=900, tags={"team": "nlp"})
    assert system.control.update_calls() == []  # refused
    system.advance(20 * 60)  # past its own keep-alive
    assert [(u["job"], u["seconds"]) for u in system.control.update_calls()] == [("denied-2", 3600)]
    job = system.sagemaker.describe_training_job(TrainingJobName="denied-2")
    assert job["WarmPoolStatus"]["Status"] == "Available"
    errors = [e for e in system.registry.audit_trail("denied-2") if e.what == "error"]
    assert len(errors) == 1  # refused once, then granted


def test_a_pool_taken_by_the_next_job_during_a_step_is_recorded_reused_not_an_error(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    system.set_policy(TWO_HOURS)
    system.run_job("race-1", 300, tags={"team": "nlp"})  # one hour on, the next step is due 55 min on
    session = boto3.DEFAULT_SESSION
    assert session is not None
    raced: list[str] = []

    def next_job_arrives_first(params: dict[str, Any], **_: Any) -> None:
        # a user submits a matching job between the engine's DescribeTrainingJob and its update
        if params.get("TrainingJobName") == "race-1" and not raced:
            raced.append("race-2")
            system.sagemaker.create_training_job(**training_job_request("race-2", tags={"team": "nlp"}))

    session.events.register("provide-client-params.sagemaker.UpdateTrainingJob", next_job_arrives_first)
    try:
        for module in (lifecycle, reconciler):  # clients made from now on carry the hook
            module.runtime.cache_clear()
        capsys.readouterr()
        system.advance(3300)  # the step is due
    finally:
        session.events.unregister("provide-client-params.sagemaker.UpdateTrainingJob", next_job_arrives_first)
    system.settle()
    metrics = capsys.readouterr().out

    assert raced
    record = system.registry.get("race-1")
    assert record is not None
    assert (record.pool.job_name, record.pool.status.value) == ("race-2", "InUse")
    assert record.pool.lineage == ("race-1", "race-2")
    assert record.last_error is None
    assert [e.what for e in system.registry.audit_trail("race-1") if e.what == "error"] == []
    assert '"PoolMovedOn"' in metrics  # counted for what it is: EMF on the function's output
    assert '"PermanentErrors"' not in metrics  # no "keep-alive update was refused" alarm
