"""Tuning jobs already running when warmpool is upgraded to the version that watches them: one whose
pools were all taken by other jobs before this version saved any of them has no watch. The reconciler's
first run after the upgrade watches it, once, so that its owners are told it finished even when its
final event is lost (docs/registry.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from warmpool.handlers import lifecycle, reconciler

from tests.integration.conftest import System, hooked, subscribe
from tests.integration.lifecycle.test_tuner_lost_events import TUNING_EVENT, pool_taken_by_another_sweep

HALF_AN_HOUR = 1800  # how long a watched tuning job found running is left before it is described again


def as_upgraded_from_a_version_without_watches(system: System) -> None:
    """The registry as the version before tuning-job watches left it, read by newly deployed functions:
    no `TUNING#<arn>` / `WATCH` item (that version wrote none), and no record that the upgrade's
    repair of them has run."""
    dynamodb = boto3.client("dynamodb")
    table = system.env.pools_table
    watches = dynamodb.query(
        TableName=table,
        IndexName="by_status",
        KeyConditionExpression="gsi1pk = :w",
        ExpressionAttributeValues={":w": {"S": "TUNING#WATCHED"}},
    )["Items"]
    assert watches  # written by this version's saves: taken away
    for item in watches:
        dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": "UPGRADES"}, "sk": {"S": "DONE"}},
        UpdateExpression="DELETE complete :r",
        ExpressionAttributeValues={":r": {"SS": ["tuning-watches"]}},
    )
    for module in (lifecycle, reconciler):
        module.runtime.cache_clear()


def sweep_running_at_the_upgrade_whose_pool_another_sweep_took(system: System) -> str:
    """sweep's one trial left its pool idle to sweep, which runs; a trial of sweep-2 took it and left it
    idle to sweep-2, which runs too; then warmpool is upgraded. Returns a queue its team's
    "tuning job finished" notices reach (by their SNS attributes)."""
    research = subscribe(
        system.env.topic_arn, "research-tuning", {"team": ["research"], "kind": ["tuning-job-finished"]}
    )
    pool_taken_by_another_sweep(system, {"team": "vision", "owner": "bob"})
    record = system.registry.get("sweep-001-a1b2c3d4")
    assert record is not None
    assert record.pool.job_name == "sweep-2-001-a1b2c3d4"  # no pool is sweep's any more
    as_upgraded_from_a_version_without_watches(system)
    return research


def sweep_ends_and_its_event_is_lost(system: System) -> None:
    system.control.complete_tuning_job("sweep")
    lost = system.messages(system.env.lifecycle_queue_url)  # EventBridge never delivers it
    assert [json.loads(m["Body"])["detail-type"] for m in lost] == [TUNING_EVENT]
    system.settle()


def finished(system: System) -> list[dict[str, Any]]:
    return [n for n in system.notifications() if n["kind"] == "tuning-job-finished"]


def test_a_sweep_running_at_the_upgrade_whose_pools_were_taken_is_announced_when_its_event_is_lost(
    system: System,
) -> None:
    research = sweep_running_at_the_upgrade_whose_pool_another_sweep_took(system)

    report = system.reconcile()  # the first run after the upgrade

    assert report["tuning_watches"] == ["sweep", "sweep-2"]  # both ran unwatched
    assert report["failed"] == []
    sweep_ends_and_its_event_is_lost(system)
    system.advance(HALF_AN_HOUR)
    system.clear_counts()
    for module in (lifecycle, reconciler):
        module.runtime.cache_clear()  # a function instance started since reads the registry again
    report = system.reconcile()

    said = finished(system)
    assert [n["facts"]["tuning_job_name"] for n in said] == ["sweep"]
    # to sweep's trial's team, on no pool: the pool is sweep-2's, which still runs
    assert (said[0]["team"], said[0]["pool_id"]) == ("research", "tuning-sweep")
    assert said[0]["facts"]["tuning_job_status"] == "Completed"
    (message,) = system.messages(research)
    assert json.loads(message["Body"])["Subject"] == "Tuning job sweep finished"
    assert report["tuning_notices"] == ["sweep"]
    assert report["failed"] == []
    # the repair is not made again: nothing listed, nothing watched anew
    assert report["tuning_watches"] == []
    assert system.api_calls.get("ListHyperParameterTuningJobs", 0) == 0


@pytest.fixture
def first_watch_write_fails(system: System) -> Iterator[list[str]]:
    """The first write of sweep's watch fails (a throttled write that ran out of retries, a 5xx)."""
    failed: list[str] = []

    def fail_once(params: dict[str, Any], **_: Any) -> None:
        key = str(params.get("Item", {}).get("pk", {}).get("S", ""))
        if key.endswith("/sweep") and params["Item"]["sk"]["S"] == "WATCH" and not failed:
            failed.append(key)
            raise RuntimeError("injected: DynamoDB unavailable")

    with hooked("provide-client-params.dynamodb.PutItem", fail_once):  # before the upgrade's clients
        yield failed


def test_a_repair_that_failed_part_way_is_made_again_and_watches_only_what_was_left(
    system: System, first_watch_write_fails: list[str]
) -> None:
    sweep_running_at_the_upgrade_whose_pool_another_sweep_took(system)

    report = system.reconcile()

    assert len(first_watch_write_fails) == 1
    assert report["tuning_watches"] == ["sweep-2"]  # the other tuning job is watched all the same
    (failure,) = report["failed"]
    assert failure == "sweep: RuntimeError: injected: DynamoDB unavailable"

    report = system.reconcile()  # made again: sweep-2's watch is there already, sweep's is written

    assert report["tuning_watches"] == ["sweep"]
    assert report["failed"] == []
    sweep_ends_and_its_event_is_lost(system)
    system.advance(HALF_AN_HOUR)
    system.clear_counts()
    report = system.reconcile()
    assert system.api_calls.get("ListHyperParameterTuningJobs", 0) == 0  # done: not made again
    assert report["tuning_notices"] == ["sweep"]
    assert [n["facts"]["tuning_job_name"] for n in finished(system)] == ["sweep"]
    system.advance(HALF_AN_HOUR)
    system.reconcile()
    assert finished(system) == []  # once


def test_a_role_that_may_not_list_tuning_jobs_is_reported_and_the_repair_made_once_it_may(
    system: System,
) -> None:
    sweep_running_at_the_upgrade_whose_pool_another_sweep_took(system)
    system.control.inject_faults("ListHyperParameterTuningJobs", "AccessDeniedException", count=1)

    report = system.reconcile()

    (failure,) = report["failed"]
    assert failure.startswith("tuning-watches: ReadNotPermittedError")
    assert "sagemaker:ListHyperParameterTuningJobs" in failure  # what to grant
    assert report["tuning_watches"] == []

    report = system.reconcile()  # allowed again: the next run makes the repair

    assert report["failed"] == []
    assert report["tuning_watches"] == ["sweep", "sweep-2"]
    sweep_ends_and_its_event_is_lost(system)
    system.advance(HALF_AN_HOUR)
    system.reconcile()
    assert [n["facts"]["tuning_job_name"] for n in finished(system)] == ["sweep"]
