"""A deployment upgraded over an older one reads what the older versions left (docs/registry.md, "What
an upgrade keeps"): a test writes an item as an older version's code wrote it (the commit is named),
then has the new functions, the reconciler and the CLI read it; an item no version wrote is named, with
what to do."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from warmpool.cli.main import main
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import lifecycle, notifier, reconciler, slack_interactive

from tests.integration.conftest import System, hooked
from tests.integration.runbooks.test_runbooks import emf_counts

TAGS = {"team": "vision", "owner": "alice"}
RELEASE = {"version": 1, "defaults": {"keep_alive_strategy": "none"}}  # released as soon as it is idle
# a decision's audit details as the versions before the audit table wrote them (the decision's JSON
# and the trigger; no policy_version, user or via yet)
OLDER_DECISION = {
    "action": "extend",
    "dry_run": False,
    "horizon_seconds": 1800,
    "keep_alive_seconds": 1800,
    "next_check_at": None,
    "notify": [],
    "reasons": ["strategy fixed-1800 wants 30 min of warm time"],
    "release_pool_ids": [],
    "rule": "defaults.keep_alive_strategy",
    "trigger": "job-ended",
}


def upgraded(system: System) -> None:
    """The new functions start: nothing they cached before is kept."""
    for module in (lifecycle, reconciler, notifier, slack_interactive):
        module.runtime.cache_clear()


def older_audit_entry(
    pool_id: str, at: datetime, job_name: str, what: str, details: dict[str, Any]
) -> dict[str, Any]:
    """An audit entry as the versions before the audit table wrote it, into the registry table
    (DynamoPoolRegistry.audit at 83428c0^; 1c9de1e's had a shorter random suffix, same order)."""
    return {
        "pk": {"S": f"POOL#{pool_id}"},
        "sk": {"S": f"AUDIT#{at.isoformat()}#{time.time_ns():020d}{uuid.uuid4().hex[:4]}"},
        "job_name": {"S": job_name},
        "what": {"S": what},
        "details": {"S": json.dumps(details, default=str, sort_keys=True)},
        "ttl": {"N": str(int(at.timestamp()) + 90 * 86400)},
    }


def move_trail_to_the_registry_table(system: System, pool_id: str) -> list[str]:
    """The pool's trail as an older version left it: in the registry table, none in the audit table."""
    dynamodb = boto3.client("dynamodb")
    items = dynamodb.query(
        TableName=system.env.audit_table,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": f"POOL#{pool_id}"}},
    )["Items"]
    for item in items:
        dynamodb.delete_item(TableName=system.env.audit_table, Key={"pk": item["pk"], "sk": item["sk"]})
        dynamodb.put_item(TableName=system.env.pools_table, Item=item)
    return [item["what"]["S"] for item in items]


def shown_trail(capsys: pytest.CaptureFixture[str], job: str) -> list[tuple[str, str]]:
    capsys.readouterr()
    assert main(["pools", "show", job, "--format", "json"]) == 0
    return [(a["job"], a["what"]) for a in json.loads(capsys.readouterr().out)["audit"]]


def test_pools_show_lists_the_trail_an_older_version_wrote_into_the_registry_table(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    system.run_job("up-1", 300, keep_alive_seconds=900, tags=TAGS)
    record = system.registry.get("up-1")
    assert record is not None
    assert record.pool.available_since is not None
    ended = record.pool.available_since
    # what the version before the audit table recorded of the pool's first job, before the upgrade
    older = [
        older_audit_entry("up-1", ended, "up-0", "recorded", {"state": "InUse", "trigger": "job-ended"}),
        older_audit_entry("up-1", ended, "up-0", "decision", OLDER_DECISION),
    ]
    new = shown_trail(capsys, "up-1")
    for item in older:
        boto3.client("dynamodb").put_item(TableName=system.env.pools_table, Item=item)
    upgraded(system)

    trail = shown_trail(capsys, "up-1")
    # the older entries too, in the order they were written, among the new ones of the same time
    assert sorted(trail) == sorted([*new, ("up-0", "recorded"), ("up-0", "decision")])
    assert trail.index(("up-0", "recorded")) < trail.index(("up-0", "decision"))
    assert main(["pools", "show", "up-1"]) == 0
    assert "up-0  decision  extend (defaults.keep_alive_strategy)" in capsys.readouterr().out


@pytest.fixture
def save_fails_once(system: System) -> Iterator[list[str]]:
    """The first save of a pool after a successful UpdateTrainingJob fails (DynamoDB answering 500
    after botocore's retries), as the invocation of an older version ended there."""
    failed: list[str] = []
    updated: list[bool] = []

    def after_update(http_response: Any, **_: Any) -> None:
        if http_response.status_code == 200:
            updated.append(True)

    def before(params: dict[str, Any], **_: Any) -> None:
        saves_a_pool = any(
            str((w.get("Item") or {}).get("pk", {}).get("S", "")).startswith("POOL#")
            for entry in params.get("TransactItems", [])
            for w in entry.values()
        )
        if updated and saves_a_pool and not failed:
            failed.append("TransactWriteItems")
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, "Transact")

    with (
        hooked("after-call.sagemaker.UpdateTrainingJob", after_update),
        hooked("provide-client-params.dynamodb.TransactWriteItems", before),
    ):
        upgraded(system)  # clients made from now on carry the hooks
        yield failed


def test_a_release_an_older_version_made_but_never_saved_is_recorded_with_its_rule(
    system: System, save_fails_once: list[str]
) -> None:
    system.set_policy(RELEASE)
    system.sagemaker.create_training_job(**training_job_request("uprel-1", keep_alive_seconds=600, tags=TAGS))
    system.settle()
    system.control.run_for("uprel-1", 300)
    system.emulator.advance(300)
    system.lifecycle.pump_once()  # the older version released the pool; its save failed
    assert save_fails_once
    # the update's entry, naming the rule that released the pool, is where that version wrote it
    assert "keep-alive-updated" in move_trail_to_the_registry_table(system, "uprel-1")
    upgraded(system)
    system.settle()  # the event delivered again, to the new version (or redriven from the DLQ)

    said = [n for n in system.notifications() if n["kind"] == "released"]
    assert [(n["job_name"], n["decision"]["rule"]) for n in said] == [
        ("uprel-1", "defaults.keep_alive_strategy")
    ]
    trail = system.registry.audit_trail("uprel-1")
    assert [e.details.get("rule") for e in trail if e.what == "decision"] == ["defaults.keep_alive_strategy"]


def test_a_pool_item_no_version_wrote_is_named_with_what_to_do(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    system.run_job("up-2", 300, keep_alive_seconds=900, tags=TAGS)
    dynamodb = boto3.client("dynamodb")
    key = {"pk": {"S": "POOL#up-2"}, "sk": {"S": "STATE"}}
    item = dynamodb.get_item(TableName=system.env.pools_table, Key=key)["Item"]
    body = json.loads(item["record"]["S"])
    del body["pool"]["match_key"]  # edited by hand: no version wrote a pool without its match key
    item["record"] = {"S": json.dumps(body)}
    dynamodb.put_item(TableName=system.env.pools_table, Item=item)
    capsys.readouterr()

    assert main(["pools", "show", "up-2"]) == 2
    assert capsys.readouterr().err == (
        "warmpool: registry item POOL#up-2 / STATE cannot be read (field pool.match_key: KeyError: "
        "no 'match_key'): it was edited by hand or written by a version this one does not know. "
        "Restore it from the registry table's point-in-time recovery, or write it again as "
        "docs/registry.md describes the pool item\n"
    )


def test_pools_list_and_costs_name_an_item_no_version_wrote_and_show_the_others(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    """One pool item edited by hand failed the whole `pools list` and `pools costs` (exit 2, nothing
    listed), where the reconciler skips it and goes on with the others."""
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "fixed-3600"}})
    system.run_job("up-edited", 300, keep_alive_seconds=900, tags=TAGS)
    system.run_job("up-fine", 300, keep_alive_seconds=900, volume_size_gb=60, tags={**TAGS, "team": "nlp"})
    edited_by_hand(system, "up-edited", lambda body: body["pool"].update(status="Warm"))
    system.advance(600)
    capsys.readouterr()
    named = (
        "registry item POOL#up-edited / STATE cannot be read (field pool.status: ValueError: 'Warm' is "
        "not a valid WarmPoolStatus): it was edited by hand or written by a version this one does not "
        "know. Restore it from the registry table's point-in-time recovery, or write it again as "
        "docs/registry.md describes the pool item"
    )

    assert main(["pools", "list"]) == 1  # something could not be read
    captured = capsys.readouterr()
    assert [line.split()[0] for line in captured.out.splitlines()[2:]] == ["up-fine"]
    assert captured.err == f"warmpool: left out of the list: {named}\n"

    assert main(["pools", "list", "--format", "json"]) == 1
    captured = capsys.readouterr()
    assert [row["job"] for row in json.loads(captured.out)] == ["up-fine"]  # valid JSON, the others
    assert captured.err == f"warmpool: left out of the list: {named}\n"

    assert main(["pools", "costs", "--format", "json"]) == 1
    captured = capsys.readouterr()
    teams = {row["team"]: row for row in json.loads(captured.out)["teams"]}
    assert teams["nlp"]["warm_instances"] == 1  # the readable pool, counted
    assert captured.err.endswith(
        f"warmpool: left out of the costs (its idle time now is not counted): {named}\n"
    )


def edited_by_hand(system: System, pool_id: str, edit: Any) -> None:
    """The pool's item as someone left it after editing its record by hand (`edit(body)`)."""
    dynamodb = boto3.client("dynamodb")
    key = {"pk": {"S": f"POOL#{pool_id}"}, "sk": {"S": "STATE"}}
    item = dynamodb.get_item(TableName=system.env.pools_table, Key=key)["Item"]
    body = json.loads(item["record"]["S"])
    edit(body)
    item["record"] = {"S": json.dumps(body)}
    dynamodb.put_item(TableName=system.env.pools_table, Item=item)


def test_the_reconciler_skips_a_pool_item_no_version_wrote_names_it_and_repairs_the_others(
    system: System, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """One item edited by hand stopped every reconciler run: no pool repaired, no step taken, no digest,
    until someone restored it."""
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "fixed-7200"}})
    # of two teams: a decision reads its team's warm pools, which an unreadable one of them fails
    for name, instance_type, team in (
        ("aa-edited", "ml.g5.2xlarge", "vision"),
        ("zz-fine", "ml.g5.4xlarge", "nlp"),
    ):
        system.sagemaker.create_training_job(
            **training_job_request(name, instance_type=instance_type, tags={**TAGS, "team": team})
        )
        system.control.run_for(name, 300)
    system.advance(300)  # two pools, Available together, each kept an hour
    edited_by_hand(system, "aa-edited", lambda body: body["pool"].update(status="Warm"))
    system.sagemaker.create_training_job(
        **training_job_request("mm-running", instance_type="ml.c5.xlarge", tags=TAGS)
    )
    system.settle()  # still running, its pool InUse
    edited_by_hand(system, "mm-running", lambda body: body.update(next_check_at="soon"))
    system.emulator.advance(3400)  # both steps were due; neither tick fired
    for schedule in system.schedules.due():
        system.schedules._scheduler.delete_schedule(
            Name=schedule["Name"], GroupName=system.env.scheduler_group
        )
    capsys.readouterr()

    report = system.reconcile()

    assert report["rescheduled"] == ["zz-fine"]
    assert [(u["job"], u["seconds"]) for u in system.control.update_calls()][2:] == [("zz-fine", 3600)]
    # SageMaker lists its pool Available: the run's look at it names the item, the field and the fix
    assert report["failed"] == [
        "aa-edited: UnreadableItemError: registry item POOL#aa-edited / STATE cannot be read "
        "(field pool.status: ValueError: 'Warm' is not a valid WarmPoolStatus): it was edited by hand or "
        "written by a version this one does not know. Restore it from the registry table's "
        "point-in-time recovery, or write it again as docs/registry.md describes the pool item",
        # skipped in the run's listing of the pools InUse: named by its key
        "POOL#mm-running / STATE: UnreadableItemError: registry item POOL#mm-running / STATE cannot be "
        "read (field next_check_at: ValueError: Invalid isoformat string: 'soon'): it was edited by hand "
        "or written by a version this one does not know. Restore it from the registry table's "
        "point-in-time recovery, or write it again as docs/registry.md describes the pool item",
    ]
    counts = emf_counts(capsys.readouterr().out)
    assert (counts.get("UnreadableItems"), counts.get("ReconcilerFailures")) == (2, 2)
    (logged,) = [
        r for r in caplog.records if r.getMessage() == "reconciled, some pools could not be repaired"
    ]
    assert logged.__dict__["failed"] == report["failed"]


def test_a_released_notice_an_older_version_saved_unsent_and_unlisted_is_sent_after_the_upgrade(
    system: System,
) -> None:
    keep = {"version": 1, "defaults": {"keep_alive_strategy": "fixed-7200"}}
    system.set_policy(keep)
    system.run_job("unsent-1", 300, keep_alive_seconds=600, tags=TAGS)
    system.notifications()
    system.set_policy(RELEASE)
    system.emulator.advance(3400)  # its step was due; the tick never fired: the reconciler decides

    def fail(params: dict[str, Any], **_: Any) -> None:
        if params.get("QueueUrl") == system.env.notify_queue_url:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, "SendMessage")

    for schedule in system.schedules.due():
        system.schedules._scheduler.delete_schedule(
            Name=schedule["Name"], GroupName=system.env.scheduler_group
        )
    with hooked("provide-client-params.sqs.SendMessage", fail):
        upgraded(system)
        assert {f.split(":")[0] for f in system.reconcile()["failed"]} == {"unsent-1"}
    record = system.registry.get("unsent-1")
    assert record is not None
    assert record.pool.status.value == "Terminated"
    assert record.unannounced == ("released",)
    # saved as the versions between fb5c77d and edcd533 saved it: with its notice, without the mark
    # that lists it for the reconciler, and no such repair made yet
    dynamodb = boto3.client("dynamodb")
    dynamodb.delete_item(
        TableName=system.env.pools_table, Key={"pk": {"S": "POOL#unsent-1"}, "sk": {"S": "UNANNOUNCED"}}
    )
    dynamodb.update_item(
        TableName=system.env.pools_table,
        Key={"pk": {"S": "UPGRADES"}, "sk": {"S": "DONE"}},
        UpdateExpression="DELETE complete :r",
        ExpressionAttributeValues={":r": {"SS": ["unannounced-marks"]}},
    )
    upgraded(system)

    assert system.reconcile()["failed"] == []
    said = [(n["kind"], n["job_name"]) for n in system.notifications()]
    assert said == [("released", "unsent-1")]
    record = system.registry.get("unsent-1")
    assert record is not None
    assert record.unannounced == ()
    assert system.reconcile()["failed"] == []  # later runs send nothing again
    assert system.notifications() == []


def index_added_since(system: System, pool_id: str) -> None:
    """An upgrade that adds an index: the registry has no record of its backfill, and the pool's item,
    written before it, lacks its keys (`by_match`, `by_team`, `by_type`)."""
    dynamodb = boto3.client("dynamodb")
    dynamodb.delete_item(
        TableName=system.env.pools_table, Key={"pk": {"S": "INDEXES"}, "sk": {"S": "BACKFILL"}}
    )
    dynamodb.update_item(
        TableName=system.env.pools_table,
        Key={"pk": {"S": f"POOL#{pool_id}"}, "sk": {"S": "STATE"}},
        UpdateExpression="REMOVE gsi2pk, gsi2sk, gsi3pk, gsi3sk, gsi4pk, gsi4sk",
    )
    upgraded(system)


def pool_item(system: System, pool_id: str) -> dict[str, Any]:
    key = {"pk": {"S": f"POOL#{pool_id}"}, "sk": {"S": "STATE"}}
    item: dict[str, Any] = boto3.client("dynamodb").get_item(TableName=system.env.pools_table, Key=key)[
        "Item"
    ]
    return item


def test_an_unreadable_item_during_an_index_backfill_is_named_and_does_not_fail_the_phase(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    """An item edited by hand while an upgrade's index backfill was pending had every reconciler run report
    the `index-backfill` phase failed (ReconcilerPhasesFailed, its alarm) though it did all the rest: it
    is skipped and named as the run's listings skip it (UnreadableItems pages), the others get their
    keys, and the backfill completes at the first run after the item is restored."""
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "fixed-7200"}})
    for name, instance_type in (("aa-edited", "ml.g5.2xlarge"), ("zz-fine", "ml.g5.4xlarge")):
        system.sagemaker.create_training_job(
            **training_job_request(name, instance_type=instance_type, tags=TAGS)
        )
        system.control.run_for(name, 300)
    system.advance(300)
    index_added_since(system, "zz-fine")
    original = pool_item(system, "aa-edited")
    edited_by_hand(system, "aa-edited", lambda body: body["pool"].update(status="Warm"))
    capsys.readouterr()

    for _ in range(2):  # every run while the item is unreadable
        report = system.reconcile()
        assert report["phases_failed"] == []
        assert [f.split(": ")[0] for f in report["failed"]] == ["aa-edited"]
        assert "field pool.status" in report["failed"][0]
        counts = emf_counts(capsys.readouterr().out)
        assert (counts.get("UnreadableItems"), counts.get("ReconcilerPhasesFailed")) == (1, None)
        assert {"gsi2pk", "gsi3pk", "gsi4pk"} <= set(pool_item(system, "zz-fine"))
    backfill = {"pk": {"S": "INDEXES"}, "sk": {"S": "BACKFILL"}}
    assert "Item" not in boto3.client("dynamodb").get_item(TableName=system.env.pools_table, Key=backfill)

    boto3.client("dynamodb").put_item(TableName=system.env.pools_table, Item=original)  # restored
    report = system.reconcile()
    assert (report["phases_failed"], report["failed"]) == ([], [])
    done = boto3.client("dynamodb").get_item(TableName=system.env.pools_table, Key=backfill)["Item"]
    assert set(done["complete"]["SS"]) == {"by_match", "by_team", "by_type"}


def test_an_index_backfill_that_fails_is_still_a_failed_phase(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    """The phase's alarm still fires for a real failure: DynamoDB refusing the backfill's record."""
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "fixed-7200"}})
    system.run_job("fine-1", 300, tags=TAGS)
    index_added_since(system, "fine-1")

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key", {}).get("pk") == {"S": "INDEXES"}:
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, "UpdateItem")

    capsys.readouterr()
    with hooked("provide-client-params.dynamodb.UpdateItem", refuse):
        upgraded(system)
        report = system.reconcile()
    assert report["phases_failed"] == ["index-backfill"]
    assert emf_counts(capsys.readouterr().out).get("ReconcilerPhasesFailed") == 1
