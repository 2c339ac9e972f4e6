"""Phantom pools an older version left in a deployed registry: two pool records for one warm pool, left
for good by a join that was cut short. The reconciler's sweep finds and repairs them once, after the
upgrade (docs/registry.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from warmpool.cli.main import main
from warmpool.handlers import lifecycle, reconciler

from tests.integration.conftest import System
from tests.integration.lifecycle.test_resilience import next_job_seen_first, send

TEAM_OF_ONE = {
    "version": 1,
    "defaults": {"keep_alive_strategy": "fixed-7200"},
    "teams": {"vision": {"max_warm_instances": 1}},
}


def _pool_key(pool_id: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"POOL#{pool_id}"}, "sk": {"S": "STATE"}}


@contextmanager
def _hooked(operation: str, event: str, hook: Any) -> Iterator[None]:
    """`hook` on every DynamoDB `operation` call's `event` (provide-client-params, after-call), for
    the functions' clients made from now on."""
    session = boto3.DEFAULT_SESSION
    assert session is not None
    name = f"{event}.dynamodb.{operation}"
    session.events.register(name, hook)
    try:
        for module in (lifecycle, reconciler):  # clients made from now on carry the hook
            module.runtime.cache_clear()
        yield
    finally:
        session.events.unregister(name, hook)
        for module in (lifecycle, reconciler):
            module.runtime.cache_clear()


@contextmanager
def _hooked_sagemaker(operation: str, hook: Any) -> Iterator[None]:
    session = boto3.DEFAULT_SESSION
    assert session is not None
    name = f"before-parameter-build.sagemaker.{operation}"
    session.events.register(name, hook)
    try:
        yield
    finally:
        session.events.unregister(name, hook)


def _removes(params: dict[str, Any], pool_id: str) -> bool:
    """Whether a TransactWriteItems removes the pool's record: a join's write."""
    return any(i.get("Delete", {}).get("Key") == _pool_key(pool_id) for i in params.get("TransactItems", []))


def joined_in_two_writes_cut_short(system: System, held: list[str], successor: str) -> None:
    """Deliver `held` (the predecessor's events, `next_job_seen_first`) to a join made as the versions
    before it was one transaction made it: the joined pool and the successor's job index written, then
    the successor's record deleted in a second write, which never came (throttled, or the function
    timed out in between). The event's retry then found the pool moved on, and did nothing."""
    second_write: list[str] = []

    def first_write_only(params: dict[str, Any], **_: Any) -> None:
        if _removes(params, successor) and not second_write:
            params["TransactItems"] = [i for i in params["TransactItems"] if "Delete" not in i]
            second_write.append("due")

    def cut_short(**_: Any) -> None:
        if second_write == ["due"]:
            second_write.append("never came")
            raise RuntimeError("injected: the join's second write never came")

    with (
        _hooked("TransactWriteItems", "provide-client-params", first_write_only),
        _hooked("TransactWriteItems", "after-call", cut_short),
    ):
        send(system, held)
        system.settle()  # the failed message is delivered again
    assert second_write == ["due", "never came"]


def joins_failing(system: System, held: list[str], successor: str) -> None:
    """Deliver `held` while every join's write fails: the predecessor is recorded Reused, its successor
    stays a pool of its own. What a version before the join existed left at every such race, and what
    the versions whose join was two writes left when its first failed (its retry said 'unchanged');
    here the messages end in the DLQ, and are taken away."""

    def fail(params: dict[str, Any], **_: Any) -> None:
        if _removes(params, successor):
            raise RuntimeError("injected: the join's write failed")

    with _hooked("TransactWriteItems", "provide-client-params", fail):
        send(system, held)
        system.settle()
    assert system.messages(system.env.lifecycle_dlq_url)


def as_upgraded(system: System) -> None:
    """The registry as an older version left it, read by newly deployed functions: no sweep for
    phantom pools has run in it."""
    boto3.client("dynamodb").delete_item(
        TableName=system.env.pools_table, Key={"pk": {"S": "UPGRADES"}, "sk": {"S": "DONE"}}
    )
    for module in (lifecycle, reconciler):
        module.runtime.cache_clear()


def listed(capsys: pytest.CaptureFixture[str]) -> list[tuple[str, str, str]]:
    """`warmpool pools list`: (pool, job, state) per row."""
    capsys.readouterr()
    assert main(["pools", "list", "--format", "json"]) == 0
    return [(r["pool"], r["job"], r["state"]) for r in json.loads(capsys.readouterr().out)]


def test_a_phantom_left_by_a_join_cut_short_is_removed_by_the_reconciler(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    held = next_job_seen_first(system, "race-1", "race-2")  # race-2 runs on race-1's warm pool
    joined_in_two_writes_cut_short(system, held, "race-2")
    as_upgraded(system)
    # One warm pool, two pools: race-2's own record outlived the join, race-2's job index names race-1.
    assert listed(capsys) == [("race-1", "race-2", "InUse"), ("race-2", "race-2", "InUse")]
    assert system.registry.pool_id_for_job("race-2") == "race-1"
    kept = system.registry.get("race-1")
    assert kept is not None
    digest = kept.pool.match_key.digest()
    histories = system.registry.history(digest, "vision")
    assert [(g.job_name, g.reused) for g in histories[0]] == [("race-1", True)]  # race-2 ended its gap

    report = system.reconcile()

    assert listed(capsys) == [("race-1", "race-2", "InUse")]
    assert report["phantoms"] == ["race-2"]
    assert system.registry.get("race-2") is None
    assert [r.pool.pool_id for r in system.registry.pools_of_key(digest)] == ["race-1"]
    after = system.registry.get("race-1")
    assert after is not None
    assert (after.pool.lineage, after.pool.lineage_jobs) == (("race-1", "race-2"), 2)
    assert after.pool.lifetime_started_at == kept.pool.lifetime_started_at
    assert system.registry.history(digest, "vision") == histories  # the gap is not recorded again
    removed = [e for e in system.registry.audit_trail("race-1") if e.what == "phantom-removed"]
    assert [(e.job_name, e.details["phantom"], e.details["phantom_state"]) for e in removed] == [
        ("race-2", "race-2", "InUse")
    ]

    assert system.reconcile()["phantoms"] == []  # done once
    system.control.run_for("race-2", 300)
    system.advance(400)  # race-2 ended: its pool is race-1's, Available
    assert listed(capsys) == [("race-1", "race-2", "Available")]
    system.advance(7200, tick=600)  # and expired
    # the phantom, left InUse, would have been "repaired" by every run, for good
    assert system.reconcile()["repaired"] == []
    assert [e.what for e in system.registry.audit_trail("race-1")].count("phantom-removed") == 1


def test_a_phantom_left_available_no_longer_counts_against_the_team_limit(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    system.set_policy(TEAM_OF_ONE)
    held = next_job_seen_first(system, "join-1", "join-2")
    system.control.run_for("join-2", 300)
    system.advance(360)  # join-2 ended on a pool record of its own: Available, kept two hours
    joined_in_two_writes_cut_short(system, held, "join-2")
    as_upgraded(system)
    # vision has one warm instance, counted twice: its next step would release it to stay at the limit
    assert listed(capsys) == [("join-1", "join-2", "Available"), ("join-2", "join-2", "Available")]
    system.notifications()

    report = system.reconcile()
    system.advance(3600, tick=300)  # the step at 55 minutes

    warm = system.sagemaker.describe_training_job(TrainingJobName="join-2")["WarmPoolStatus"]
    assert warm["Status"] == "Available"
    assert 0 not in [u["seconds"] for u in system.control.update_calls()]
    assert "policy-limit" not in [n["kind"] for n in system.notifications()]
    assert listed(capsys) == [("join-1", "join-2", "Available")]
    record = system.registry.get("join-1")
    assert record is not None
    assert record.last_decision is not None
    assert record.last_decision.rule == "defaults.keep_alive_strategy"
    assert report["phantoms"] == ["join-2"]


def test_a_predecessor_left_reused_with_its_successor_unjoined_is_joined_by_the_reconciler(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    held = next_job_seen_first(system, "split-1", "split-2")
    joins_failing(system, held, "split-2")
    as_upgraded(system)
    # One warm pool, two pools: the lineage split, split-2's pool dated from split-2's start.
    assert listed(capsys) == [("split-1", "split-1", "Reused"), ("split-2", "split-2", "InUse")]
    assert main(["pools", "show", "split-2", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["lineage"] == ["split-2"]
    reused = system.registry.get("split-1")
    assert reused is not None
    digest = reused.pool.match_key.digest()
    histories = system.registry.history(digest, "vision")
    assert [(g.job_name, g.reused) for g in histories[0]] == [("split-1", True)]  # recorded before the write
    cost = system.registry.idle_cost("vision", system.emulator.clock.now())

    report = system.reconcile()

    assert listed(capsys) == [("split-1", "split-2", "InUse")]
    assert report["phantoms"] == ["split-2"]
    assert system.registry.pool_id_for_job("split-2") == "split-1"
    record = system.registry.get("split-1")
    assert record is not None
    assert (record.pool.lineage, record.pool.lineage_jobs) == (("split-1", "split-2"), 2)
    assert record.pool.lifetime_started_at == reused.pool.lifetime_started_at
    assert system.registry.history(digest, "vision") == histories  # the idle gap once
    assert system.registry.idle_cost("vision", system.emulator.clock.now()) == cost  # booked once
    joins = [e for e in system.registry.audit_trail("split-1") if e.what == "reused"]
    assert [(e.details["by"], e.details.get("repair")) for e in joins] == [("split-2", "phantom-pools")]
    assert system.reconcile()["phantoms"] == []


@pytest.mark.parametrize("code", ["InternalFailure", "ThrottlingException"])
def test_a_sweep_that_could_not_repair_a_pool_is_made_again_then_not_again(
    system: System, capsys: pytest.CaptureFixture[str], code: str
) -> None:
    held = next_job_seen_first(system, "again-1", "again-2")
    joins_failing(system, held, "again-2")
    as_upgraded(system)

    unavailable = {"again-1"}  # SageMaker answers a transient error for it, for the first run

    def describe(params: dict[str, Any], **_: Any) -> None:
        if params.get("TrainingJobName") in unavailable:
            raise ClientError({"Error": {"Code": code, "Message": "injected"}}, "DescribeTrainingJob")

    with _hooked_sagemaker("DescribeTrainingJob", describe):
        failing = system.reconcile()
        unavailable.clear()
        assert len(listed(capsys)) == 2
        again = system.reconcile()  # swept again: repaired
    assert listed(capsys) == [("again-1", "again-2", "InUse")]
    assert [f.split(":")[0] for f in failing["failed"]] == ["again-1"]
    assert (failing["phantoms"], again["phantoms"]) == ([], ["again-2"])
    system.clear_counts()
    assert system.reconcile()["phantoms"] == []
    assert "by_status:STATUS#Reused" not in system.queries  # swept to the end: not again


def test_a_sweep_the_role_may_not_read_a_job_for_is_reported_once_and_not_made_again(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    held = next_job_seen_first(system, "denied-1", "denied-2")
    joins_failing(system, held, "denied-2")
    as_upgraded(system)

    def describe(params: dict[str, Any], **_: Any) -> None:
        if params.get("TrainingJobName") == "denied-1":  # the role may not read it, for good
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "injected"}}, "DescribeTrainingJob"
            )

    with _hooked_sagemaker("DescribeTrainingJob", describe):
        first = system.reconcile()
        system.clear_counts()
        later = [system.reconcile() for _ in range(2)]
        # the sweep is not made again: no listing of the Reused pools, no describe, no failure reported
        assert "by_status:STATUS#Reused" not in system.queries
        assert [(r["phantoms"], r["failed"]) for r in later] == [([], []), ([], [])]
    # reported, with what to do, and audited on the pool: `pools show` says why the phantom is left
    assert [f.split(": ")[:2] for f in first["failed"]] == [["denied-1", "ReadNotPermittedError"]]
    assert "grant the engine's role sagemaker:DescribeTrainingJob" in first["failed"][0]
    trail = [e for e in system.registry.audit_trail("denied-1") if e.what == "phantom-sweep-failed"]
    assert [e.details["repair"] for e in trail] == ["phantom-pools"]
    assert first["phantoms"] == []
    assert listed(capsys) == [("denied-1", "denied-1", "Reused"), ("denied-2", "denied-2", "InUse")]
