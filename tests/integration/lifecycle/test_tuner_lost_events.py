"""A tuning job whose final event is lost: the reconciler gives its trials' pools back to the engine."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from warmpool.emulator.jobs import training_job_request
from warmpool.service.ports import PoolRecord

from tests.integration.conftest import System, first_send_fails

TWO_HOURS = {"version": 1, "defaults": {"keep_alive_strategy": "fixed-7200"}}
TUNING_EVENT = "SageMaker HyperParameter Tuning Job State Change"
TUNING_FINISHED = '"kind": "tuning-job-finished"'


def idle_trial_of_a_running_sweep(system: System, tuning: str = "sweep", trial: str = "hpo-1") -> PoolRecord:
    """A one-trial sweep, still running: its trial's pool is idle and left to the tuner."""
    system.set_policy(TWO_HOURS)
    system.control.start_tuning_job(tuning, [training_job_request(trial, tags={"team": "research"})])
    system.settle()
    system.control.complete_job(trial)
    system.settle()
    record = system.registry.get(trial)
    assert record is not None
    assert (record.pool.status.value, record.tuner_owned) == ("Available", True)
    assert system.control.update_calls() == []  # not decided by the engine while the tuner runs
    return record


def pool_taken_by_another_sweep(system: System, tags: dict[str, str]) -> None:
    """sweep's one trial leaves an idle pool; a trial of sweep-2 (same shape, `tags`) takes it and
    leaves it idle for sweep-2, which still runs. What was said so far is read off."""
    idle_trial_of_a_running_sweep(system, "sweep", "sweep-001-a1b2c3d4")
    system.control.start_tuning_job("sweep-2", [training_job_request("sweep-2-001-a1b2c3d4", tags=tags)])
    system.settle()
    assert system.registry.pool_id_for_job("sweep-2-001-a1b2c3d4") == "sweep-001-a1b2c3d4"
    system.control.complete_job("sweep-2-001-a1b2c3d4")
    system.settle()
    system.notifications()


def test_tuning_job_pools_are_left_to_the_tuner_until_it_ends(system: System) -> None:
    idle_trial_of_a_running_sweep(system)
    system.control.complete_tuning_job("sweep")
    system.settle()
    record = system.registry.get("hpo-1")
    assert record is not None
    assert not record.tuner_owned
    assert [u["seconds"] for u in system.control.update_calls()] == [3600]
    kinds = [n["kind"] for n in system.notifications()]
    assert "tuning-job-finished" in kinds


def sweep_whose_final_event_is_lost(system: System, *, status: str = "Completed") -> str:
    """A one-trial sweep: its trial's pool is idle and the tuner's; the sweep ends, its event is lost.
    Returns the lost event (its body), for a test to deliver late."""
    idle_trial_of_a_running_sweep(system)
    system.control.complete_tuning_job("sweep", status)
    lost = system.messages(system.env.lifecycle_queue_url)  # EventBridge never delivers it
    # a stopped one says Stopping first (StopHyperParameterTuningJob), lost with it
    said = [json.loads(m["Body"]) for m in lost]
    assert [e["detail-type"] for e in said] == [TUNING_EVENT] * (2 if status == "Stopped" else 1)
    assert said[-1]["detail"]["HyperParameterTuningJobStatus"] == status
    system.settle()
    record = system.registry.get("hpo-1")
    assert record is not None
    assert record.tuner_owned  # without its event, nothing has told the engine yet
    system.notifications()  # what was said so far
    return str(lost[-1]["Body"])


def released_reasons(system: System) -> list[str]:
    trail = system.registry.audit_trail("hpo-1")
    return [str(e.details["reason"]) for e in trail if e.what == "tuner-released"]


def test_the_reconciler_decides_a_pool_whose_tuning_job_ended_unseen(system: System) -> None:
    late_event = sweep_whose_final_event_is_lost(system, status="Stopped")

    report = system.reconcile()

    assert report["repaired"] == ["hpo-1"]
    assert report["failed"] == []
    record = system.registry.get("hpo-1")
    assert record is not None
    assert not record.tuner_owned
    assert [u["seconds"] for u in system.control.update_calls()] == [3600]  # decided: extended
    assert record.last_decision is not None
    assert record.next_check_at is not None  # and looked at again, as any pool
    assert released_reasons(system) == ["tuning job sweep is Stopped"]
    decisions = [e for e in system.registry.audit_trail("hpo-1") if e.what == "decision"]
    assert decisions[-1].details["trigger"] == "reconcile"
    said = system.notifications()
    # as its event would have (the trial has no owner tag: its team's admins are told): the notice
    # recorded, the pool given back, then the notice sent, listing it (a notice that fails is sent by
    # a later run)
    assert sorted(n["kind"] for n in said) == ["extended", "missing-tags", "tuning-job-finished"]
    (notice,) = [n for n in said if n["kind"] == "tuning-job-finished"]
    assert notice["facts"]["tuning_job_name"] == "sweep"
    assert notice["facts"]["tuning_job_status"] == "Stopped"
    assert [p["job_name"] for p in notice["facts"]["sweep_pools"]] == ["hpo-1"]

    again = system.reconcile()  # nothing left to repair: no second decision, no second audit entry
    assert again["repaired"] == []
    assert [u["seconds"] for u in system.control.update_calls()] == [3600]
    assert len(released_reasons(system)) == 1

    # The event was late, not lost: it comes now. The owners were told already.
    system.sqs.send_message(QueueUrl=system.env.lifecycle_queue_url, MessageBody=late_event)
    system.settle()
    assert [n["kind"] for n in system.notifications()] == []
    assert [u["seconds"] for u in system.control.update_calls()] == [3600]


def test_a_tuning_job_that_no_longer_exists_runs_no_trials(system: System) -> None:
    sweep_whose_final_event_is_lost(system)
    system.sagemaker.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="sweep")

    report = system.reconcile()

    assert report["repaired"] == ["hpo-1"]
    record = system.registry.get("hpo-1")
    assert record is not None
    assert not record.tuner_owned
    assert [u["seconds"] for u in system.control.update_calls()] == [3600]
    assert released_reasons(system) == ["tuning job sweep no longer exists"]


def test_a_running_tuning_job_keeps_its_pools_and_is_described_once_per_run(system: System) -> None:
    system.set_policy(TWO_HOURS)
    trials = [training_job_request(f"hpo-{i}", tags={"team": "research"}) for i in (1, 2)]
    system.control.start_tuning_job("sweep", trials)
    system.settle()
    for name in ("hpo-1", "hpo-2"):
        system.control.complete_job(name)
    system.settle()
    before = system.api_calls.get("DescribeHyperParameterTuningJob", 0)

    report = system.reconcile()

    assert report["repaired"] == []
    assert system.api_calls.get("DescribeHyperParameterTuningJob", 0) - before == 1
    for name in ("hpo-1", "hpo-2"):
        record = system.registry.get(name)
        assert record is not None
        assert record.tuner_owned
    assert system.control.update_calls() == []


def test_a_role_that_may_not_read_tuning_jobs_fails_that_pool_not_the_run(system: System) -> None:
    sweep_whose_final_event_is_lost(system)
    system.sagemaker.create_training_job(**training_job_request("lost-1", instance_type="ml.g5.4xlarge"))
    system.control.run_for("lost-1", 300)
    system.emulator.advance(300)
    system.messages(system.env.lifecycle_queue_url)  # lost-1's events are lost too
    system.control.inject_faults("DescribeHyperParameterTuningJob", "AccessDeniedException", count=1)

    report = system.reconcile()

    assert report["repaired"] == ["lost-1"]  # the other pool is repaired all the same
    assert len(report["failed"]) == 1
    failure = report["failed"][0]
    assert failure.startswith("hpo-1: ReadNotPermittedError")
    assert "AccessDeniedException" in failure
    assert "sagemaker:DescribeHyperParameterTuningJob" in failure  # what to grant
    record = system.registry.get("hpo-1")
    assert record is not None
    assert record.tuner_owned  # left as it was, for the next run

    report = system.reconcile()  # allowed again: the next run gives the pool back
    assert report["repaired"] == ["hpo-1"]
    assert report["failed"] == []
    record = system.registry.get("hpo-1")
    assert record is not None
    assert not record.tuner_owned


def test_a_tuning_job_named_with_capitals_keeps_its_trials_pools_while_it_runs(system: System) -> None:
    # SageMaker writes the tuning job's name lowercased in its ARN; described by that name, "Sweep" does
    # not exist. Its trials are named after it, which gives the case back.
    trial = "Sweep-001-a1b2c3d4"
    record = idle_trial_of_a_running_sweep(system, "Sweep", trial)
    assert record.pool.tuning_job_arn is not None
    assert record.pool.tuning_job_arn.endswith("/sweep")

    report = system.reconcile()

    assert report["repaired"] == []
    assert report["failed"] == []
    after = system.registry.get(trial)
    assert after is not None
    assert after.tuner_owned
    assert system.control.update_calls() == []  # not decided by the engine while the tuner runs


def test_the_tuning_job_name_takes_its_case_from_the_trial() -> None:
    from warmpool.service.lifecycle import tuning_job_name

    arn = "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/mysweep"
    assert tuning_job_name(arn, "MySweep-001-a1b2c3d4") == "MySweep"
    assert tuning_job_name(arn, "mysweep-002-0f0f0f0f") == "mysweep"
    assert tuning_job_name(arn, "MySweepTwo-001-a1b2c3d4") == "mysweep"  # another job's trial: the ARN's
    assert tuning_job_name(arn, "other") == "mysweep"
    assert tuning_job_name(arn, "MySweep") == "MySweep"  # its own name, as SageMaker lists it


def test_a_pool_taken_by_another_sweeps_trial_stays_with_that_sweep_when_the_first_ends(
    system: System,
) -> None:
    # sweep's trial leaves an idle pool; a trial of sweep-2 (same shape) takes it, ends, and leaves it
    # idle for sweep-2, which still runs. sweep ending must not hand sweep-2's pool to the engine.
    pool_taken_by_another_sweep(system, {"team": "research"})

    system.control.complete_tuning_job("sweep")
    system.settle()

    record = system.registry.get("sweep-001-a1b2c3d4")
    assert record is not None
    assert (record.pool.job_name, record.pool.status.value) == ("sweep-2-001-a1b2c3d4", "Available")
    assert record.tuner_owned  # sweep-2 still runs: its pool is left to it
    assert system.control.update_calls() == []  # not decided by the engine
    trail = system.registry.audit_trail(record.pool.pool_id)
    assert [e for e in trail if e.what == "tuner-released"] == []
    # no trial of sweep holds a pool any more: its owners are told that it finished, on no pool
    finished = [n for n in system.notifications() if n["kind"] == "tuning-job-finished"]
    assert [(n["facts"]["tuning_job_name"], n["pool_id"]) for n in finished] == [("sweep", "tuning-sweep")]

    system.control.complete_tuning_job("sweep-2")
    system.settle()  # sweep-2's end gives its pool back, and its owners are told
    record = system.registry.get("sweep-001-a1b2c3d4")
    assert record is not None
    assert not record.tuner_owned
    assert [u["seconds"] for u in system.control.update_calls()] == [3600]
    finished = [n for n in system.notifications() if n["kind"] == "tuning-job-finished"]
    assert [n["facts"]["tuning_job_name"] for n in finished] == ["sweep-2"]


@pytest.fixture
def first_tuning_notice_fails(system: System) -> Iterator[list[str]]:
    """The engine's first SendMessage of a "tuning job finished" notice fails (a transient SQS error);
    SQS then delivers the event being processed again."""
    yield from first_send_fails(system, lambda body: TUNING_FINISHED in body)


def test_a_tuning_finished_notice_that_failed_to_send_is_sent_on_the_retry(
    system: System, first_tuning_notice_fails: list[str]
) -> None:
    idle_trial_of_a_running_sweep(system)
    system.notifications()  # what was said so far

    system.control.complete_tuning_job("sweep")
    system.settle()  # the tuning job's event fails once, and SQS delivers it again

    assert len(first_tuning_notice_fails) == 1
    said = system.notifications()
    # the pool's own notices were sent before the failure: the retry does not repeat them
    assert [n["kind"] for n in said] == ["extended", "missing-tags", "tuning-job-finished"]
    assert said[2]["facts"]["tuning_job_name"] == "sweep"  # sent once, after all
    assert [u["seconds"] for u in system.control.update_calls()] == [3600]
    system.reconcile()  # nor does a later run say it again
    assert [n["kind"] for n in system.notifications()] == []


def test_a_tuning_finished_notice_the_reconciler_failed_to_send_is_sent_by_its_next_run_once(
    system: System, first_tuning_notice_fails: list[str]
) -> None:
    late_event = sweep_whose_final_event_is_lost(system)

    report = system.reconcile()  # it sees the sweep's end, and its notice fails to send

    assert len(first_tuning_notice_fails) == 1
    assert len(report["failed"]) == 1
    assert report["failed"][0].endswith("RuntimeError: injected: SQS unavailable")
    assert "tuning-job-finished" not in [n["kind"] for n in system.notifications()]
    # its pool was given back all the same (its decision to SNS; to Slack with the notice, once sent)
    assert report["repaired"] == ["hpo-1"]

    # a later run sends it, once it is left unsent past the grace for the invocation that recorded it
    system.emulator.advance(300)
    report = system.reconcile()

    assert report["failed"] == []
    assert report["repaired"] == []

    finished = [n for n in system.notifications() if n["kind"] == "tuning-job-finished"]
    assert [n["facts"]["tuning_job_name"] for n in finished] == ["sweep"]  # told, once
    record = system.registry.get("hpo-1")
    assert record is not None
    assert not record.tuner_owned  # and the pool is the engine's, decided once
    assert [u["seconds"] for u in system.control.update_calls()] == [3600]
    assert len(released_reasons(system)) == 1

    # nothing says it again: neither later runs nor the event (late, not lost, after all)
    system.reconcile()
    system.sqs.send_message(QueueUrl=system.env.lifecycle_queue_url, MessageBody=late_event)
    system.settle()
    system.reconcile()
    assert "tuning-job-finished" not in [n["kind"] for n in system.notifications()]
    assert len(released_reasons(system)) == 1  # given back once
