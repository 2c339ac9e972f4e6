"""The "tuning job finished" notice is never lost: recorded before it is sent, marked sent after, and
sent by the reconciler's next run when that did not happen (retries run out, a crash, a pool handed
back some other way); said once, whoever sends it; and said also when no pool is the tuning job's any
more."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from warmpool.emulator.jobs import training_job_request

from tests.integration.conftest import System, subscribe
from tests.integration.lifecycle.test_tuner_lost_events import (
    TUNING_EVENT,
    TUNING_FINISHED,
    idle_trial_of_a_running_sweep,
    pool_taken_by_another_sweep,
    sweep_whose_final_event_is_lost,
)

# longer than a notice recorded but not yet sent is left to the invocation that recorded it
A_FEW_MINUTES = 300


class LambdaTimeout(BaseException):
    """The runtime ends the invocation (a timeout, out of memory): no handler in it runs, not even an
    `except Exception`."""


@dataclass
class Outage:
    """What the engine's sends of a "tuning job finished" notice, and its writes marking one sent,
    meet while set (botocore's hooks, as the clients see them)."""

    send_fails_with: BaseException | None = None
    mark_sent_fails_with: BaseException | None = None
    failed_sends: list[str] = field(default_factory=list)


@pytest.fixture
def outage(system: System) -> Iterator[Outage]:
    session = boto3.DEFAULT_SESSION
    assert session is not None
    state = Outage()

    def send(params: dict[str, Any], **_: Any) -> None:
        body = str(params.get("MessageBody", ""))
        notify = params.get("QueueUrl") == system.env.notify_queue_url
        if notify and TUNING_FINISHED in body and state.send_fails_with is not None:
            state.failed_sends.append(body)
            raise state.send_fails_with

    def mark_sent(params: dict[str, Any], **_: Any) -> None:
        key = str(params.get("Key", {}).get("pk", {}).get("S", ""))
        if key.startswith("TUNING#") and state.mark_sent_fails_with is not None:
            raise state.mark_sent_fails_with

    # registered before the handlers' clients exist: a client copies the session's hooks when made
    session.events.register("provide-client-params.sqs.SendMessage", send)
    session.events.register("provide-client-params.dynamodb.UpdateItem", mark_sent)
    try:
        yield state
    finally:
        session.events.unregister("provide-client-params.sqs.SendMessage", send)
        session.events.unregister("provide-client-params.dynamodb.UpdateItem", mark_sent)


def finished(system: System) -> list[dict[str, Any]]:
    return [n for n in system.notifications() if n["kind"] == "tuning-job-finished"]


def test_a_notice_whose_event_ran_out_of_retries_is_sent_by_the_reconciler(
    system: System, outage: Outage
) -> None:
    idle_trial_of_a_running_sweep(system)
    system.notifications()  # what was said so far
    outage.send_fails_with = RuntimeError("injected: SQS unavailable")

    system.control.complete_tuning_job("sweep")
    system.settle()  # the notice fails at every try of the event, which ends in the DLQ

    dead = system.messages(system.env.lifecycle_dlq_url)
    assert [json.loads(m["Body"])["detail-type"] for m in dead] == [TUNING_EVENT]
    assert len(outage.failed_sends) == 5
    assert finished(system) == []
    record = system.registry.get("hpo-1")
    assert record is not None
    assert not record.tuner_owned  # the pool was given back at the first try: no run looks at it again

    outage.send_fails_with = None  # SQS is back
    system.advance(A_FEW_MINUTES)
    system.reconcile()

    said = finished(system)
    assert [n["facts"]["tuning_job_name"] for n in said] == ["sweep"]
    assert said[0]["facts"]["tuning_job_status"] == "Completed"
    assert said[0]["team"] == "research"  # the trial's team, as its event would have told
    system.advance(A_FEW_MINUTES)
    system.reconcile()
    assert finished(system) == []  # once


def test_a_sweep_whose_trials_pool_ran_out_before_the_reconciler_saw_its_end_is_announced(
    system: System,
) -> None:
    # The sweep's final event is lost; the trial's pool, left to the tuner, runs out at its own
    # keep-alive (SageMaker sends no event for that). The reconciler finds it gone and records it so,
    # which gives it back to the engine: not by the tuner's path, which then never sees the sweep again.
    late_event = sweep_whose_final_event_is_lost(system)
    system.advance(600)

    report = system.reconcile()

    assert report["repaired"] == ["hpo-1"]
    record = system.registry.get("hpo-1")
    assert record is not None
    assert (record.pool.status.value, record.tuner_owned) == ("Terminated", False)
    said = finished(system)
    assert [n["facts"]["tuning_job_name"] for n in said] == ["sweep"]
    assert report["tuning_notices"] == ["sweep"]  # told on the look at its pool: the run's log says so

    # nothing says it again: neither later runs nor the event (late, not lost, after all)
    system.advance(A_FEW_MINUTES)
    system.reconcile()
    system.sqs.send_message(QueueUrl=system.env.lifecycle_queue_url, MessageBody=late_event)
    system.settle()
    system.reconcile()
    assert finished(system) == []


def test_an_event_that_crashed_between_recording_and_sending_the_notice_is_healed_by_the_reconciler(
    system: System, outage: Outage
) -> None:
    idle_trial_of_a_running_sweep(system)
    system.notifications()  # what was said so far
    outage.send_fails_with = LambdaTimeout()

    system.control.complete_tuning_job("sweep")
    with pytest.raises(LambdaTimeout):
        system.settle()  # the invocation ends as it sends the notice

    outage.send_fails_with = None
    system.settle()
    assert finished(system) == []
    system.advance(A_FEW_MINUTES)
    system.reconcile()

    assert [n["facts"]["tuning_job_name"] for n in finished(system)] == ["sweep"]
    system.advance(A_FEW_MINUTES)
    system.reconcile()
    assert finished(system) == []


def test_a_reconciler_run_that_crashed_between_recording_and_sending_the_notice_is_healed_by_the_next(
    system: System, outage: Outage
) -> None:
    sweep_whose_final_event_is_lost(system)
    outage.send_fails_with = LambdaTimeout()

    with pytest.raises(LambdaTimeout):
        system.reconcile()  # it sees the sweep's end, and ends as it sends the notice

    outage.send_fails_with = None
    system.settle()
    assert finished(system) == []
    system.emulator.advance(A_FEW_MINUTES)  # left unsent past the grace for the run that recorded it
    report = system.reconcile()

    assert report["failed"] == []
    assert report["repaired"] == []  # given back by the run that crashed, before the send
    assert [n["facts"]["tuning_job_name"] for n in finished(system)] == ["sweep"]
    record = system.registry.get("hpo-1")
    assert record is not None
    assert not record.tuner_owned
    system.advance(A_FEW_MINUTES)
    system.reconcile()
    assert finished(system) == []


def test_a_notice_sent_whose_record_was_not_marked_sent_is_not_said_twice(
    system: System, outage: Outage
) -> None:
    idle_trial_of_a_running_sweep(system)
    system.notifications()  # what was said so far
    outage.mark_sent_fails_with = LambdaTimeout()

    system.control.complete_tuning_job("sweep")
    with pytest.raises(LambdaTimeout):
        system.settle()  # the notice went out; the invocation ends before it records that

    outage.mark_sent_fails_with = None
    system.settle()
    assert [n["facts"]["tuning_job_name"] for n in finished(system)] == ["sweep"]
    system.advance(A_FEW_MINUTES)
    system.reconcile()  # sends the notice again, as recorded: the notifier has said it, and drops it
    system.advance(A_FEW_MINUTES)
    system.reconcile()
    assert finished(system) == []


def test_a_sweep_whose_only_pool_another_sweep_took_tells_its_trials_team_it_finished(
    system: System,
) -> None:
    # sweep's one trial leaves an idle pool; a trial of sweep-2 (same shape) takes it and leaves it
    # idle for sweep-2, which still runs. No pool is sweep's when it ends: its team hears all the same.
    pool_taken_by_another_sweep(system, {"team": "vision", "owner": "bob"})

    system.control.complete_tuning_job("sweep")
    system.settle()

    said = finished(system)
    assert [n["facts"]["tuning_job_name"] for n in said] == ["sweep"]
    notice = said[0]
    # to sweep's trial's team (its tags), not to the team of sweep-2's trial, which holds the pool now
    assert (notice["team"], notice["owner"], notice["job_name"]) == ("research", None, "sweep-001-a1b2c3d4")
    assert notice["facts"]["tuning_job_status"] == "Completed"
    assert notice["facts"]["best_training_job"] == "sweep-001-a1b2c3d4"
    assert "no warm pool" in notice["text"]
    record = system.registry.get("sweep-001-a1b2c3d4")
    assert record is not None
    assert record.tuner_owned  # sweep-2's pool is left to sweep-2

    system.advance(A_FEW_MINUTES)
    system.reconcile()
    assert finished(system) == []  # once


def test_the_reconciler_reads_only_the_notices_not_marked_sent(system: System) -> None:
    # Each run looks for notices left unsent: one Query of a partition that a notice leaves once sent.
    idle_trial_of_a_running_sweep(system)
    system.control.complete_tuning_job("sweep")
    system.settle()
    assert [n["facts"]["tuning_job_name"] for n in finished(system)] == ["sweep"]
    system.advance(A_FEW_MINUTES)
    system.clear_counts()

    system.reconcile()

    assert system.queries.get("by_status:TUNING#UNSENT") == 1
    assert system.items_read.get("by_status:TUNING#UNSENT") == 0
    assert not any(target.startswith("table:TUNER#") for target in system.queries)  # no tuning job read


# how long the reconciler leaves a running tuning job, none of whose pools it is looking at, before it
# describes it again
HALF_AN_HOUR = 1800


def sweep_whose_pool_ran_out_while_it_ran(system: System) -> None:
    """A one-trial sweep whose trial's pool, left to the tuner, runs out at its own keep-alive while the
    sweep still runs (SageMaker sends no event for that; the reconciler finds it gone). Then the sweep
    ends and its event is lost: no pool is left to bring a look back to it."""
    idle_trial_of_a_running_sweep(system)
    system.advance(900)  # past the trial's keep-alive (600 s)
    system.reconcile()
    record = system.registry.get("hpo-1")
    assert record is not None
    assert record.pool.status.value == "Terminated"
    system.control.complete_tuning_job("sweep")
    lost = system.messages(system.env.lifecycle_queue_url)  # EventBridge never delivers it
    assert [json.loads(m["Body"])["detail-type"] for m in lost] == [TUNING_EVENT]
    system.settle()
    system.notifications()  # what was said so far


def test_a_sweep_whose_final_event_is_lost_while_no_pool_is_its_is_announced_once(system: System) -> None:
    research = subscribe(
        system.env.topic_arn, "research-tuning", {"team": ["research"], "kind": ["tuning-job-finished"]}
    )
    sweep_whose_pool_ran_out_while_it_ran(system)
    system.advance(HALF_AN_HOUR)

    report = system.reconcile()

    said = finished(system)
    assert [n["facts"]["tuning_job_name"] for n in said] == ["sweep"]
    assert said[0]["facts"]["tuning_job_status"] == "Completed"
    assert said[0]["facts"]["best_training_job"] == "hpo-1"
    (message,) = system.messages(research)  # the trial's team hears it, by its SNS attributes
    envelope = json.loads(message["Body"])
    attributes = {k: v["Value"] for k, v in envelope["MessageAttributes"].items()}
    assert attributes == {
        "team": "research",
        "owner": "none",
        "kind": "tuning-job-finished",
        "severity": "info",
    }
    assert envelope["Subject"] == "Tuning job sweep finished"
    assert report["failed"] == []
    assert report["tuning_notices"] == ["sweep"]  # the run's log says so

    # said once: neither later runs nor a late event say it again, nor is the sweep described again
    described = system.api_calls.get("DescribeHyperParameterTuningJob", 0)
    system.advance(HALF_AN_HOUR)
    again = system.reconcile()
    assert again["tuning_notices"] == []
    assert system.api_calls.get("DescribeHyperParameterTuningJob", 0) == described
    assert finished(system) == []


def test_a_sweep_whose_only_pool_another_sweep_took_is_announced_when_its_event_is_lost(
    system: System,
) -> None:
    pool_taken_by_another_sweep(system, {"team": "vision", "owner": "bob"})
    system.control.complete_tuning_job("sweep")
    system.messages(system.env.lifecycle_queue_url)  # its event is lost

    report = system.reconcile()

    said = finished(system)
    assert [n["facts"]["tuning_job_name"] for n in said] == ["sweep"]
    # to sweep's trial's team, on no pool: sweep-2's pool is left to sweep-2, which still runs
    notice = said[0]
    assert (notice["team"], notice["pool_id"]) == ("research", "tuning-sweep")
    assert notice["facts"]["pool_id"] is None
    assert report["tuning_notices"] == ["sweep"]
    record = system.registry.get("sweep-001-a1b2c3d4")
    assert record is not None
    assert record.tuner_owned
    system.advance(HALF_AN_HOUR)
    system.reconcile()
    assert finished(system) == []


def test_a_running_sweep_without_pools_is_described_at_most_every_half_hour(system: System) -> None:
    sweep_whose_pool_ran_out_while_it_ran(system)
    system.control.start_tuning_job("other", [training_job_request("other-1", tags={"team": "research"})])
    system.settle()  # a sweep whose trial runs: its pool is InUse
    system.clear_counts()

    for _ in range(6):  # a run every 5 minutes, for half an hour
        system.advance(300)
        system.reconcile()

    # each sweep described once: the running one, and the one that ended, whose owners were told then
    assert [n["facts"]["tuning_job_name"] for n in finished(system)] == ["sweep"]
    assert system.api_calls.get("DescribeHyperParameterTuningJob", 0) == 2


def test_a_sweep_deleted_before_the_reconciler_saw_its_end_is_not_described_again(system: System) -> None:
    sweep_whose_pool_ran_out_while_it_ran(system)
    system.sagemaker.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="sweep")
    system.advance(HALF_AN_HOUR)
    system.clear_counts()

    report = system.reconcile()

    assert system.api_calls.get("DescribeHyperParameterTuningJob", 0) == 1  # looked for, found gone
    assert report["failed"] == []
    assert report["tuning_notices"] == []  # nothing to tell of a tuning job SageMaker no longer knows
    system.advance(HALF_AN_HOUR)
    system.reconcile()
    assert system.api_calls.get("DescribeHyperParameterTuningJob", 0) == 1  # not watched any more
    assert finished(system) == []


def test_a_sweep_the_role_may_not_read_fails_in_the_report_and_is_announced_once_it_may(
    system: System,
) -> None:
    sweep_whose_pool_ran_out_while_it_ran(system)
    system.advance(HALF_AN_HOUR)
    system.control.inject_faults("DescribeHyperParameterTuningJob", "AccessDeniedException", count=1)

    report = system.reconcile()

    (failure,) = report["failed"]
    assert failure.startswith("sweep: ReadNotPermittedError")
    assert "sagemaker:DescribeHyperParameterTuningJob" in failure  # what to grant
    assert finished(system) == []

    report = system.reconcile()  # allowed again: the next run tells the owners
    assert report["failed"] == []
    assert report["tuning_notices"] == ["sweep"]
    assert [n["facts"]["tuning_job_name"] for n in finished(system)] == ["sweep"]


def test_an_earlier_sweep_s_notice_still_unsent_is_sent_before_the_new_sweep_s_is_recorded_over_it(
    system: System, outage: Outage
) -> None:
    # sweep's notice could not be sent (SQS down): it waits, recorded, for the reconciler. A script
    # deletes the sweep and starts one of the same name at once, which ends before the reconciler runs:
    # its notice, written over the earlier one, must not make that one lost
    idle_trial_of_a_running_sweep(system, "sweep", "sweep-001-aaaa1111")
    outage.send_fails_with = RuntimeError("injected: SQS unavailable")
    system.control.complete_tuning_job("sweep")
    system.settle()  # the notice fails at every try of the event
    assert finished(system) == []
    outage.send_fails_with = None  # SQS is back
    system.sagemaker.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="sweep")
    system.emulator.advance(60)
    trial = training_job_request("sweep-001-bbbb2222", tags={"team": "research", "owner": "bob"})
    system.control.start_tuning_job("sweep", [trial])
    system.settle()
    system.control.complete_job("sweep-001-bbbb2222")
    system.settle()

    system.control.complete_tuning_job("sweep")
    system.settle()

    said = finished(system)
    assert [(n["job_name"], n["owner"]) for n in said] == [
        ("sweep-001-aaaa1111", None),  # the earlier sweep's, first
        ("sweep-001-bbbb2222", "bob"),
    ]
