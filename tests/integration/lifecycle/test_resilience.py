"""Duplicated, reordered, late and lost events; throttling; jobs that vanished; bad messages."""

import json
from typing import Any

import boto3
import pytest
from warmpool.cli.main import main
from warmpool.domain.model import IdleGap
from warmpool.emulator import EmulatorConfig
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import lifecycle, reconciler

from tests.integration.conftest import System

TWO_HOURS = {"version": 1, "defaults": {"keep_alive_strategy": "fixed-7200"}}


def take_events(system: System) -> list[str]:
    """Take every message off the lifecycle queue (as if EventBridge had not delivered them yet)."""
    return [m["Body"] for m in system.messages(system.env.lifecycle_queue_url)]


def send(system: System, bodies: list[str]) -> None:
    for body in bodies:
        system.sqs.send_message(QueueUrl=system.env.lifecycle_queue_url, MessageBody=body)


def finished_job(system: System, name: str, keep_alive: int = 600) -> list[str]:
    system.sagemaker.create_training_job(
        **training_job_request(name, keep_alive_seconds=keep_alive, tags={"team": "vision", "owner": "alice"})
    )
    system.control.run_for(name, 300)
    system.emulator.advance(300)
    return take_events(system)


def next_job_seen_first(system: System, first: str, second: str) -> list[str]:
    """`first` ends and `second` takes its warm pool, but `first`'s events are held back (returned):
    `second`'s are delivered, so it is registered as a pool of its own, the engine unable to tell yet."""
    system.sagemaker.create_training_job(
        **training_job_request(first, keep_alive_seconds=600, tags={"team": "vision", "owner": "alice"})
    )
    system.settle()  # recorded InUse
    system.control.run_for(first, 300)
    system.emulator.advance(300)
    held = take_events(system)  # first's Completed event: the registry has it InUse
    system.sagemaker.create_training_job(
        **training_job_request(second, keep_alive_seconds=600, tags={"team": "vision", "owner": "alice"})
    )
    pending = take_events(system)
    held += [b for b in pending if json.loads(b)["detail"]["TrainingJobName"] == first]
    send(system, [b for b in pending if b not in held])
    system.settle()
    return held


def test_duplicates_do_nothing_twice(system: System) -> None:
    system.set_policy(TWO_HOURS)
    bodies = finished_job(system, "dup-1")
    send(system, bodies + bodies + bodies)
    system.settle()
    assert [u["seconds"] for u in system.control.update_calls()] == [3600]
    assert [n["kind"] for n in system.notifications()] == ["pool-ready"]


def test_reordered_events_converge_on_the_truth(system: System) -> None:
    system.set_policy(TWO_HOURS)
    bodies = finished_job(system, "ord-1")
    assert [json.loads(b)["detail"]["TrainingJobStatus"] for b in bodies] == ["InProgress", "Completed"]
    send(system, list(reversed(bodies)))
    system.settle()
    record = system.registry.get("ord-1")
    assert record is not None
    assert record.pool.status.value == "Available"
    assert [u["seconds"] for u in system.control.update_calls()] == [3600]


def test_late_event_for_a_pool_that_moved_on(system: System) -> None:
    system.set_policy(TWO_HOURS)  # on time, the Completed event would extend the pool to an hour
    bodies = finished_job(system, "late-1", keep_alive=600)
    system.emulator.advance(700)  # the pool expired before anything was delivered
    send(system, bodies)
    system.settle()
    record = system.registry.get("late-1")
    assert record is not None
    assert record.pool.status.value == "Terminated"
    assert system.control.update_calls() == []


def test_a_late_event_of_an_earlier_job_leaves_the_pool_with_its_current_job(system: System) -> None:
    system.set_policy({"version": 1, "defaults": {"overrides": {"max_extend_minutes": 120}}})
    started, completed = finished_job(system, "early-1")
    send(system, [completed])  # early-1's InProgress event is held back
    system.settle()
    system.sagemaker.create_training_job(
        **training_job_request("early-2", keep_alive_seconds=600, tags={"team": "vision", "owner": "alice"})
    )
    system.control.run_for("early-2", 300)
    system.advance(360)  # early-2 ran on early-1's pool and is idle now
    assert main(["pools", "extend", "early-2", "--minutes", "60"]) == 0
    before = system.registry.get("early-1")
    assert before is not None
    assert before.pool.job_name == "early-2"
    assert before.pool.override_until is not None
    system.settle()
    system.notifications()  # what was said so far

    send(system, [started])  # delivered at last
    system.settle()

    after = system.registry.get("early-1")
    assert after is not None
    assert (after.pool.job_name, after.pool.status.value) == ("early-2", "Available")
    assert after.pool.override_until == before.pool.override_until
    assert after.pool.lineage == ("early-1", "early-2")
    assert after.pool.lineage_jobs == 2
    assert after.schedule_name == before.schedule_name
    assert system.notifications() == []  # no second "pool ready"


def test_a_next_job_seen_before_its_predecessor_ended_joins_the_lineage_when_it_does(system: System) -> None:
    held = next_job_seen_first(system, "race-1", "race-2")  # race-2 runs on race-1's warm pool
    assert system.registry.pool_id_for_job("race-2") == "race-2"

    send(system, held)  # race-1 is seen at last: Completed, and its pool Reused by race-2
    system.settle()

    assert system.registry.pool_id_for_job("race-2") == "race-1"
    assert system.registry.get("race-2") is None
    record = system.registry.get("race-1")
    assert record is not None
    assert (record.pool.job_name, record.pool.status.value) == ("race-2", "InUse")
    assert (record.pool.lineage, record.pool.lineage_jobs) == (("race-1", "race-2"), 2)
    history, _ = system.registry.history(record.pool.match_key.digest(), "vision")
    assert [g.reused for g in history] == [True]  # the idle gap race-2 ended
    by_key = system.registry.pools_of_key(record.pool.match_key.digest())
    assert [(r.pool.pool_id, r.pool.status.value) for r in by_key] == [("race-1", "InUse")]


def test_a_join_whose_write_failed_and_was_retried_leaves_one_pool(system: System) -> None:
    held = next_job_seen_first(system, "race-1", "race-2")
    assert system.registry.pool_id_for_job("race-2") == "race-2"  # registered as a pool of its own

    session = boto3.DEFAULT_SESSION
    assert session is not None
    failed: list[str] = []
    successor = {"pk": {"S": "POOL#race-2"}, "sk": {"S": "STATE"}}

    def fail_removing_the_successor(params: dict[str, Any], **_: Any) -> None:
        # the write that removes race-2's own record fails once (throttled, or the Lambda timed out)
        removes = params.get("Key") == successor or any(
            i.get("Delete", {}).get("Key") == successor for i in params.get("TransactItems", [])
        )
        if removes and not failed:
            failed.append("the join's removal of race-2's record")
            raise RuntimeError("injected: the join was cut short")

    session.events.register("provide-client-params.dynamodb.DeleteItem", fail_removing_the_successor)
    session.events.register("provide-client-params.dynamodb.TransactWriteItems", fail_removing_the_successor)
    try:
        for module in (lifecycle, reconciler):  # clients made from now on carry the hooks
            module.runtime.cache_clear()
        send(system, held)
        system.settle()  # the failed message is delivered again
    finally:
        session.events.unregister("provide-client-params.dynamodb.DeleteItem", fail_removing_the_successor)
        session.events.unregister(
            "provide-client-params.dynamodb.TransactWriteItems", fail_removing_the_successor
        )
    system.control.run_for("race-2", 300)
    system.advance(400)
    system.reconcile()

    assert failed
    assert system.registry.get("race-2") is None  # no second pool for the one warm pool
    record = system.registry.get("race-1")
    assert record is not None
    assert (record.pool.job_name, record.pool.status.value) == ("race-2", "Available")
    assert [r.pool.pool_id for r in system.registry.list_by_status("Available")] == ["race-1"]
    by_key = system.registry.pools_of_key(record.pool.match_key.digest())
    assert [r.pool.pool_id for r in by_key] == ["race-1"]


def test_a_joined_job_was_no_cold_start_and_the_history_is_as_if_in_order(system: System) -> None:
    def start(name: str) -> None:
        tags = {"team": "vision", "owner": "alice"}
        system.sagemaker.create_training_job(**training_job_request(name, keep_alive_seconds=600, tags=tags))

    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "fixed-600"}})
    for name, seconds in (("old-1", 300), ("old-2", 360)):  # two pools side by side, both released unused
        start(name)
        system.control.run_for(name, seconds)
    system.advance(360 + 600 + 120)
    old = system.registry.get("old-2")
    assert old is not None
    digest = old.pool.match_key.digest()

    def histories() -> tuple[list[IdleGap], list[IdleGap]]:
        key, team = system.registry.history(digest, "vision")
        return list(key), list(team)

    assert [g.reused for g in histories()[0]] == [False, False]
    start("race-1")
    system.settle()  # a true cold start: old-2's released gap (the latest) was a wait until race-1 came
    in_order = histories()
    assert [g.reused for g in in_order[0]] == [False, True]
    system.control.run_for("race-1", 300)
    system.emulator.advance(300)
    completed = take_events(system)  # race-1's Completed event is held back
    start("race-2")
    pending = take_events(system)
    held = [b for b in pending if json.loads(b)["detail"]["TrainingJobName"] == "race-1"]
    first = [b for b in pending if b not in held]
    send(system, first)
    system.settle()  # race-2 took race-1's pool, but looks like a cold start: old-1's gap is uncensored
    assert [g.reused for g in histories()[0]] == [True, True]

    send(system, [*completed, *held])
    system.settle()  # race-2 joins race-1's lineage: it did not start cold

    key, team = histories()
    assert key[:2] == in_order[0]  # old-1's gap released again, exactly as it was; old-2's stays observed
    assert team[:2] == in_order[1]
    race_1_ended = system.sagemaker.describe_training_job(TrainingJobName="race-1")["TrainingEndTime"]
    assert [(g.started_at, g.reused) for g in key[2:]] == [(race_1_ended, True)]  # the gap race-2 ended
    assert team == key
    joins = [e for e in system.registry.audit_trail("race-1") if e.what == "reused"]
    assert [e.details.get("cold_start_undone") for e in joins] == [True]

    send(system, [*first, *completed, *held])  # duplicates, and the reconciler looking again
    system.settle()
    system.reconcile()
    assert histories() == (key, team)


def test_a_joined_successor_that_was_idle_already_keeps_its_next_step(system: System) -> None:
    system.set_policy(TWO_HOURS)
    held = next_job_seen_first(system, "join-1", "join-2")
    system.control.run_for("join-2", 300)
    system.advance(360)  # join-2 ended on its own pool record and was extended to an hour
    assert system.registry.pool_id_for_job("join-2") == "join-2"

    send(system, held)
    system.settle()  # join-2 joins join-1's lineage
    assert system.registry.pool_id_for_job("join-2") == "join-1"
    system.advance(3600, tick=300)  # past the hour: the next step must have come
    record = system.registry.get("join-1")
    assert record is not None
    assert record.pool.status.value == "Available"
    assert [u["seconds"] for u in system.control.update_calls() if u["job"] == "join-2"][-2:] == [3600, 3600]


def test_a_record_left_on_an_earlier_reused_job_is_healed_by_the_next_jobs_event(system: System) -> None:
    from dataclasses import replace

    from warmpool.domain.model import WarmPoolStatus

    system.set_policy(TWO_HOURS)
    system.run_job("heal-1", 300, keep_alive_seconds=600, tags={"team": "vision", "owner": "alice"})
    system.sagemaker.create_training_job(
        **training_job_request("heal-2", keep_alive_seconds=600, tags={"team": "vision", "owner": "alice"})
    )
    system.settle()
    current = system.registry.get("heal-1")
    assert current is not None
    assert current.pool.job_name == "heal-2"
    # What an older version could leave: the pool's record back on heal-1, Reused, heal-2 not in it.
    left = replace(current.pool, job_name="heal-1", status=WarmPoolStatus.REUSED, lineage=("heal-1",))
    system.registry.put(replace(current, pool=left), current.pool.version)

    system.control.run_for("heal-2", 300)
    system.advance(360)  # heal-2's Completed event

    record = system.registry.get("heal-1")
    assert record is not None
    assert (record.pool.job_name, record.pool.status.value) == ("heal-2", "Available")
    assert [u["job"] for u in system.control.update_calls()][-1] == "heal-2"


def test_event_for_a_job_that_no_longer_exists(system: System) -> None:
    bodies = finished_job(system, "gone-1")
    completed = json.loads(bodies[1])
    completed["detail"]["TrainingJobName"] = "never-existed"
    send(system, [json.dumps(completed)])
    system.settle()
    assert system.registry.pool_id_for_job("never-existed") is None
    assert system.messages(system.env.lifecycle_dlq_url) == []


def test_throttled_describe_is_retried(system: System) -> None:
    bodies = finished_job(system, "thr-1")
    system.control.inject_faults("DescribeTrainingJob", "ThrottlingException", count=3)
    send(system, bodies)
    system.settle()
    assert system.emulator.fault_counts["DescribeTrainingJob"] == 3
    record = system.registry.get("thr-1")
    assert record is not None
    assert record.pool.status.value == "Available"


def test_malformed_events_go_to_the_dlq_without_blocking_the_batch(system: System) -> None:
    bodies = finished_job(system, "ok-1")
    unknown = json.dumps({"source": "aws.ec2", "detail-type": "EC2 Instance State-change", "detail": {}})
    broken = json.loads(bodies[1])
    broken["detail"]["TrainingJobStatus"] = "Exploded"
    send(system, ["{not json", unknown, json.dumps(broken), *bodies])
    system.settle()
    record = system.registry.get("ok-1")
    assert record is not None
    assert record.pool.status.value == "Available"
    dead = system.messages(system.env.lifecycle_dlq_url)
    reasons = {m["MessageAttributes"]["field"]["StringValue"] for m in dead}
    assert reasons == {"body", "detail-type", "detail.TrainingJobStatus"}
    assert system.lifecycle.stats.failures == 0


def test_reconciler_repairs_a_pool_whose_events_were_all_dropped(system: System) -> None:
    system.set_policy(TWO_HOURS)
    finished_job(system, "lost-1")  # events taken and dropped
    assert system.registry.get("lost-1") is None
    report = system.reconcile()
    assert report["repaired"] == ["lost-1"]
    record = system.registry.get("lost-1")
    assert record is not None
    assert record.pool.status.value == "Available"
    assert [u["seconds"] for u in system.control.update_calls()] == [3600]
    # and a pool that moved on silently (reused, events dropped) is noticed too
    system.sagemaker.create_training_job(**training_job_request("lost-2"))
    take_events(system)
    report = system.reconcile()
    assert report["repaired"] == ["lost-1"]
    record = system.registry.get("lost-1")
    assert record is not None
    assert record.pool.job_name == "lost-2"
    assert record.pool.lineage == ("lost-1", "lost-2")


def test_reconciler_repairs_a_pool_left_in_use_after_its_job_ended_unseen(system: System) -> None:
    system.set_policy(TWO_HOURS)
    system.sagemaker.create_training_job(**training_job_request("gone-1", keep_alive_seconds=60))
    system.settle()  # InProgress: recorded as InUse
    system.sagemaker.create_training_job(**training_job_request("still-1"))
    system.settle()
    system.control.run_for("gone-1", 300)
    system.emulator.advance(300 + 120)  # ended, idled its 60 s and terminated
    take_events(system)  # ...while its events were lost
    record = system.registry.get("gone-1")
    assert record is not None
    assert record.pool.status.value == "InUse"
    report = system.reconcile()
    assert report["repaired"] == ["gone-1"]  # still-1 is running: left alone
    record = system.registry.get("gone-1")
    assert record is not None
    assert record.pool.status.value == "Terminated"
    still = system.registry.get("still-1")
    assert still is not None
    assert still.pool.status.value == "InUse"
    assert system.reconcile()["repaired"] == []
    # its idle minute, never seen, is still learned from, as long as SageMaker billed it
    history, _ = system.registry.history(record.pool.match_key.digest(), None)
    assert [(g.job_name, round(g.seconds), g.reused) for g in history] == [("gone-1", 60, False)]


def test_reconciler_takes_the_step_when_a_tick_never_fired(system: System) -> None:
    system.set_policy(TWO_HOURS)
    send(system, finished_job(system, "tick-1"))
    system.settle()
    system.emulator.advance(3400)  # the step at 55 min was due; nobody fired it
    schedules = system.schedules.due()
    steps = [json.loads(s["Target"]["Input"])["detail"] for s in schedules]
    assert [(d["PoolId"], d["Purpose"]) for d in steps] == [("tick-1", "step")]
    for schedule in schedules:
        system.schedules._scheduler.delete_schedule(
            Name=schedule["Name"], GroupName=system.env.scheduler_group
        )
    report = system.reconcile()
    assert report["rescheduled"] == ["tick-1"]
    assert [u["seconds"] for u in system.control.update_calls()] == [3600, 3600]


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(warm_pool_status_delay_seconds=2)])
def test_missing_warm_pool_status_is_retried_not_concluded(system: System) -> None:
    send(system, finished_job(system, "lag-1")[1:])
    system.settle()
    record = system.registry.get("lag-1")
    assert record is not None
    assert record.pool.status.value == "Available"
    assert "no-warm-pool" not in [n["kind"] for n in system.notifications()]


def test_quota_means_no_warm_pool_and_the_owner_is_told(system: System) -> None:
    system.control.set_quota("ml.g5.2xlarge", 0)
    send(system, finished_job(system, "quota-1"))
    system.settle()
    notes = system.notifications()
    assert [n["kind"] for n in notes] == ["no-warm-pool"]
    assert "quota" in notes[0]["facts"]["reason"]


def test_a_sequential_sweep_hands_one_pool_from_trial_to_trial(system: System) -> None:
    system.set_policy(TWO_HOURS)
    trials = [training_job_request(f"seq-{i}", tags={"team": "research"}) for i in range(3)]
    system.control.start_tuning_job("sweep", trials, max_parallel=1)
    system.settle()
    for name in ("seq-0", "seq-1", "seq-2"):
        system.control.complete_job(name)  # the next trial starts at once, on this one's pool
        system.settle()
    record = system.registry.get("seq-0")  # the pool is named after its first job
    assert record is not None
    assert record.pool.lineage == ("seq-0", "seq-1", "seq-2")
    assert record.tuner_owned
    assert system.control.update_calls() == []  # left to the tuner while it runs
    history, _ = system.registry.history(record.pool.match_key.digest(), "research")
    assert [g.reused for g in history] == [True, True]  # each hand-over is an observed gap
    system.control.complete_tuning_job("sweep")
    system.settle()
    assert [u["seconds"] for u in system.control.update_calls()] == [3600]


def test_a_cold_start_beside_a_near_match_is_reported(system: System) -> None:
    send(system, finished_job(system, "near-1"))
    system.settle()
    system.notifications()
    system.sagemaker.create_training_job(
        **training_job_request("near-2", volume_size_gb=200, tags={"team": "vision", "owner": "alice"})
    )
    system.settle()
    notes = [n for n in system.notifications() if n["kind"] == "missed-pool"]
    assert len(notes) == 1
    assert notes[0]["facts"]["differing_fields"] == ["ResourceConfig.VolumeSizeInGB"]
    assert notes[0]["facts"]["nearby_pool_job"] == "near-1"


def test_a_running_jobs_event_reads_each_gap_history_once(system: System) -> None:
    # Only an Available pool is decided, and only a decision learns from the idle-gap histories; a job
    # that starts cold reads each once, to answer for the latest released pool of its shape and team.
    import boto3

    keys: list[str] = []

    def read(params: dict[str, Any], **_: Any) -> None:
        keys.append(params["Key"]["pk"]["S"])

    boto3.DEFAULT_SESSION.events.register("provide-client-params.dynamodb.GetItem", read)
    try:
        system.sagemaker.create_training_job(**training_job_request("running-1", tags={"team": "vision"}))
        system.settle()
    finally:
        boto3.DEFAULT_SESSION.events.unregister("provide-client-params.dynamodb.GetItem", read)
    record = system.registry.get("running-1")
    assert record is not None
    assert record.pool.status.value == "InUse"
    histories = [k for k in keys if k.startswith("HIST#")]
    assert sorted(histories) == [f"HIST#KEY#{record.pool.match_key.digest()}", "HIST#TEAM#vision"]


def test_api_calls_per_event(system: System) -> None:
    system.set_policy(TWO_HOURS)
    bodies: list[Any] = finished_job(system, "calls-1")
    system.api_calls.clear()
    send(system, bodies)
    system.settle()
    counted = ("DescribeTrainingJob", "UpdateTrainingJob", "ListTags", "CreateSchedule", "GetParameter")
    calls = {name: system.api_calls.get(name, 0) for name in counted}
    # InProgress: describe; Completed: describe, one update and one step schedule. The events carry
    # the job's tags, so ListTags is never needed. The policy is read once per event (the tests keep no
    # policy cache: POLICY_CACHE_SECONDS=0) and once by the notifier.
    assert calls == {
        "DescribeTrainingJob": 2,
        "UpdateTrainingJob": 1,
        "ListTags": 0,
        "CreateSchedule": 1,
        "GetParameter": 3,
    }
    # the update's intent, saved with the pool before it (one UpdateItem: 35 calls before it was kept)
    assert system.api_calls.get("UpdateItem", 0) == 4
    assert sum(system.api_calls.values()) <= 36
    print(f"\nAWS API calls for one job's two events: {dict(sorted(system.api_calls.items()))}")
