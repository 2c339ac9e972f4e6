"""Changes made outside warmpool (someone's own UpdateTrainingJob, the console) and warmpool's own
updates, under the default `job` strategy: the job's keep-alive is what it was created with, or what a
person set outside warmpool since, never what warmpool itself set."""

from __future__ import annotations

from datetime import timedelta

import pytest
from warmpool.cli.main import main

from tests.integration.conftest import System

TAGS = {"team": "nlp", "owner": "alice"}


def _set_outside(system: System, job: str, seconds: int) -> None:
    system.sagemaker.update_training_job(
        TrainingJobName=job, ResourceConfig={"KeepAlivePeriodInSeconds": seconds}
    )


def _billed(system: System, job: str) -> int:
    pool = system.sagemaker.describe_training_job(TrainingJobName=job)["WarmPoolStatus"]
    assert pool["Status"] == "Terminated"
    return int(pool["ResourceRetainedBillableTimeInSeconds"])


def _decisions(system: System, job: str) -> list[tuple[str, tuple[str, ...]]]:
    return [
        (str(e.details["action"]), tuple(e.details["reasons"]))
        for e in system.registry.audit_trail(job)
        if e.what == "decision"
    ]


def test_a_pool_extended_outside_warmpool_stays_warm_as_long_as_that_update_keeps_it(system: System) -> None:
    # The job asked for 30 minutes; five minutes after it ended, its owner set 3000 s in the console
    # (warm until 10:00). warmpool's next look read the 3000 s as the job's wish counted from its end,
    # set 2100 s itself, then read its own 2100 s back as the job's wish and released the pool at 09:40:
    # 35 minutes of warm time where the owner had asked for 55.
    system.run_job("out-ext", 300, keep_alive_seconds=1800, tags=TAGS)
    ended = system.control.now()
    system.advance(300)
    _set_outside(system, "out-ext", 3000)
    system.advance(80 * 60, tick=300)

    assert _billed(system, "out-ext") == 55 * 60  # until 10:00, as the owner's update set it
    assert [u["seconds"] for u in system.control.update_calls()] == [3000]  # warmpool changed nothing
    trail = system.registry.audit_trail("out-ext")
    [outside] = [e for e in trail if e.what == "keep-alive-set-outside"]
    assert (outside.details["seconds"], outside.details["was_seconds"]) == (3000, 1800)
    assert outside.details["expires_at"] == (ended + timedelta(minutes=55)).isoformat()
    last_action, reasons = _decisions(system, "out-ext")[-1]
    assert last_action == "keep"
    assert reasons == (
        "strategy job wants 55 min of warm time: its keep-alive was set to 3000 s outside warmpool at "
        "2026-03-02 09:10:00 UTC (warm until 2026-03-02 10:00:00 UTC), in place of the job's own 1800 s",
    )
    kinds = [(n["kind"], n["facts"]["warm_until"]) for n in system.notifications()]
    assert kinds[-1] == ("expiring-soon", "2026-03-02T10:00:00+00:00")
    assert "released" not in [kind for kind, _ in kinds]


def test_a_pool_shortened_outside_warmpool_is_kept_until_that_update_ends_it_not_released_sooner(
    system: System,
) -> None:
    # The job asked for an hour (warm until 10:05); at 09:40 someone set 15 minutes (until 09:55).
    # warmpool's look at 09:50 read 900 s as counted from the job's end (09:20, long past) and released
    # the pool five minutes before the time the person had set.
    system.run_job("out-short", 300, keep_alive_seconds=3600, tags=TAGS)
    system.advance(35 * 60)
    _set_outside(system, "out-short", 900)
    system.advance(40 * 60, tick=300)

    assert _billed(system, "out-short") == 50 * 60  # until 09:55
    assert [u["seconds"] for u in system.control.update_calls()] == [900]
    action, reasons = _decisions(system, "out-short")[-1]
    assert action == "keep"
    assert "its keep-alive was set to 900 s outside warmpool at 2026-03-02 09:40:00 UTC" in reasons[0]


def test_warmpools_own_update_is_not_read_back_as_the_jobs_keep_alive(system: System) -> None:
    # The team kept pools 30 minutes (warmpool set 1800 s when the job ended, at 09:05), then went back
    # to the default strategy at 09:10: at the pool's look at 09:20 the job's own 10 minutes are over,
    # and it is released. warmpool read its own 1800 s back as the job's keep-alive and kept the pool
    # until 09:35, twice as long as its job had asked.
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "fixed-1800"}})
    system.run_job("own-1", 300, keep_alive_seconds=600, tags=TAGS)
    assert [u["seconds"] for u in system.control.update_calls()] == [1800]
    system.advance(5 * 60)
    system.set_policy({"version": 1})
    system.advance(40 * 60, tick=300)

    assert _billed(system, "own-1") == 15 * 60  # released at its look at 09:20
    assert [u["seconds"] for u in system.control.update_calls()] == [1800, 0]
    action, reasons = _decisions(system, "own-1")[-1]
    assert action == "release"
    assert reasons[0] == "strategy job wants 10 min of warm time"
    assert [e for e in system.registry.audit_trail("own-1") if e.what == "keep-alive-set-outside"] == []


def test_under_another_strategy_a_keep_alive_set_outside_warmpool_is_undone_and_the_reason_says_why(
    system: System,
) -> None:
    # The team keeps pools 30 minutes (fixed-1800): its owner's own 3000 s, set at 09:10, is the
    # policy's to undo, at the pool's look at 09:20. warmpool took SageMaker's keep-alive for the 09:35
    # it had set itself, found the pool still warm at its look after that, and released it at 09:40
    # with only "strategy fixed-1800 wants 30 min": nothing said why the owner's own setting was undone.
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "fixed-1800"}})
    system.run_job("fixed-1", 300, keep_alive_seconds=600, tags=TAGS)
    system.advance(5 * 60)
    _set_outside(system, "fixed-1", 3000)
    system.advance(40 * 60, tick=300)

    assert _billed(system, "fixed-1") == 30 * 60  # until 09:35, as the policy says
    assert [u["seconds"] for u in system.control.update_calls()] == [1800, 3000, 900]
    action, reasons = _decisions(system, "fixed-1")[-1]
    assert action == "shorten"
    assert reasons == (
        "strategy fixed-1800 wants 30 min of warm time",
        "the keep-alive set outside warmpool at 2026-03-02 09:10:00 UTC (warm until 2026-03-02 10:00:00 UTC) "
        "is not kept: strategy fixed-1800 decides; ask for more time with `warmpool pools extend` or the "
        "Slack buttons",
    )
    # and its owner is told: the plan did not change (30 minutes), so no notice said the setting was undone
    told = [
        (n["kind"], n["facts"]["warm_until"], n["decision"]["reasons"][-1]) for n in system.notifications()
    ]
    assert ("shortened", "2026-03-02T09:35:00+00:00", reasons[-1]) in told


def test_under_another_strategy_a_pool_shortened_outside_warmpool_is_not_extended_again(
    system: System,
) -> None:
    # The team keeps pools three hours (fixed-10800, in hourly steps, the next at 10:00). At 09:58 its
    # owner, done for the day, set 3 minutes in the console (warm until 10:01, before the 10:05 it had):
    # warmpool's step at 10:00 set another hour, and the pool idled on against its owner's wish to
    # spend less.
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "fixed-10800"}})
    system.run_job("fixed-2", 300, keep_alive_seconds=600, tags=TAGS)
    system.advance(53 * 60)
    _set_outside(system, "fixed-2", 180)
    system.advance(60 * 60)

    assert _billed(system, "fixed-2") == 56 * 60  # until 10:01, as its owner set it
    assert [u["seconds"] for u in system.control.update_calls()] == [3600, 180]
    action, reasons = _decisions(system, "fixed-2")[-1]
    assert action == "keep"
    assert reasons[-1] == (
        "the keep-alive set outside warmpool at 2026-03-02 09:58:00 UTC (warm until 2026-03-02 10:01:00 UTC) "
        "is kept: it is shorter"
    )


def test_a_pool_that_ended_on_a_keep_alive_set_outside_warmpool_says_when_in_its_trail(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its owner was told it stays warm until 10:05; at 09:15 someone set 5 minutes in the console and
    # it ended at 09:20, before warmpool's next look. `pools show` said only "recorded Terminated".
    system.run_job("out-end", 300, keep_alive_seconds=3600, tags=TAGS)
    system.advance(10 * 60)
    _set_outside(system, "out-end", 300)
    system.advance(10 * 60)
    system.reconcile()
    capsys.readouterr()

    assert main(["pools", "show", "out-end"]) == 0
    shown = capsys.readouterr().out
    assert (
        "ended_at=2026-03-02T09:20:00+00:00 expected_until=2026-03-02T10:05:00+00:00 "
        "keep_alive_set_outside=300 state=Terminated trigger=reconcile was_seconds=3600"
    ) in shown


def test_a_pool_whose_job_was_deleted_is_recorded_gone_and_no_longer_counts_for_its_team(
    system: System,
) -> None:
    # A cleanup script deletes ended jobs: one whose pool had just expired (SageMaker refuses to delete
    # a job that keeps an Available pool) went before warmpool's look after its expiry. The registry
    # kept the pool Available for good: the team's only warm instance, so its next pool was released
    # ("team nlp already has 1 warm instance"), and every reconciler run audited `job-missing` again.
    system.set_policy({"version": 1, "defaults": {"max_warm_instances": 1}})
    system.run_job("del-1", 300, keep_alive_seconds=600, tags=TAGS)
    system.advance(600)  # 09:15: its keep-alive has run out; warmpool looks at 09:16
    system.sagemaker.delete_training_job(TrainingJobName="del-1")
    system.advance(5 * 60)
    for _ in range(3):
        system.reconcile()
        system.advance(5 * 60)

    record = system.registry.get("del-1")
    assert record is not None
    assert (record.pool.status.value, record.next_check_at) == ("Terminated", None)
    missing = [e for e in system.registry.audit_trail("del-1") if e.what == "job-missing"]
    assert [(e.details["trigger"], e.details["state"]) for e in missing] == [("step-due", "Terminated")]
    history, _ = system.registry.history(record.pool.match_key.digest(), "nlp")
    assert [(round(g.seconds), g.reused) for g in history] == [(600, False)]  # warm until its expiry

    system.run_job("next-1", 300, keep_alive_seconds=600, tags=TAGS)
    assert [u["job"] for u in system.control.update_calls()] == []  # kept on its own keep-alive
    kinds = [n["kind"] for n in system.notifications() if n["job_name"] == "next-1"]
    assert kinds == ["pool-ready"]


def test_a_new_job_of_a_deleted_jobs_name_gets_a_pool_of_its_own(system: System) -> None:
    # A pipeline names its jobs after the model it trains: it deletes the last run's job (its pool long
    # gone) and starts one of the same name a month later. warmpool took it for the old job: the pool's
    # lifetime counted from the old job's start, and the new pool was released at once, "capped by the
    # pool's maximum lifetime".
    system.run_job("re-1", 300, keep_alive_seconds=600, tags=TAGS)
    system.advance(15 * 60)
    system.sagemaker.delete_training_job(TrainingJobName="re-1")
    system.emulator.advance(29 * 24 * 3600)
    system.settle()
    system.run_job("re-1", 300, keep_alive_seconds=1800, tags={"team": "nlp", "owner": "bob"})
    system.reconcile()  # (its events, the same as the old job's, may be taken for duplicates for a day)
    system.advance(40 * 60, tick=300)

    assert _billed(system, "re-1") == 30 * 60  # its own keep-alive
    assert [u["seconds"] for u in system.control.update_calls()] == []
    record = system.registry.get("re-1")
    assert record is not None
    assert (record.pool.owner, record.pool.lineage) == ("bob", ("re-1",))
    assert record.pool.lifetime_started_at == system.emulator.job("re-1").created_at
    trail = [e.what for e in system.registry.audit_trail("re-1")]
    assert trail.count("name-reused") == 1
    assert [n["kind"] for n in system.notifications() if n["owner"] == "bob"][:1] == ["pool-ready"]
