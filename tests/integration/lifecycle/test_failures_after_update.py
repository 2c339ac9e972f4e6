"""A write that fails after SageMaker took a keep-alive update (the update's audit entry, the next
look's schedule, the idle gap and its booking, the registry save, the notification): the retry (SQS
delivering the event or the step again, the reconciler's next run) converges. SageMaker and the
registry agree on the pool, the trail has the decision once, the owner hears it once, and a pool kept
has its next look planned."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from warmpool.cli.main import main
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import lifecycle, reconciler

from tests.integration.conftest import System, hooked

TAGS = {"team": "vision", "owner": "alice"}
KEEP = {"version": 1, "defaults": {"keep_alive_strategy": "fixed-7200"}}  # one step of an hour, then more
RELEASE = {"version": 1, "defaults": {"keep_alive_strategy": "none"}}  # released as soon as it is idle


def _pk(params: dict[str, Any]) -> str:
    item = params.get("Item") or {}
    return str(item.get("pk", {}).get("S", ""))


def _transacts(params: dict[str, Any], prefix: str) -> bool:
    for entry in params.get("TransactItems", []):
        for write in entry.values():
            key = write.get("Item") or write.get("Key") or {}
            if str(key.get("pk", {}).get("S", "")).startswith(prefix):
                return True
    return False


# The writes that follow a successful UpdateTrainingJob, in the engine's order, as (operation, which).
WRITES: dict[str, tuple[str, Callable[[System, dict[str, Any]], bool]]] = {
    "update-audited": (
        "PutItem",
        lambda s, p: (
            p.get("TableName") == s.env.audit_table and p["Item"]["what"]["S"] == "keep-alive-updated"
        ),
    ),
    "next-look-scheduled": ("CreateSchedule", lambda s, p: True),
    "gap-recorded": ("PutItem", lambda s, p: _pk(p).startswith("HIST#KEY#")),
    "gap-booked": ("TransactWriteItems", lambda s, p: _transacts(p, "LEDGER#")),
    "pool-saved": ("TransactWriteItems", lambda s, p: _transacts(p, "POOL#")),
    # in the save's own write: the decision and its entry land together, or neither does
    "decision-audited": (
        "TransactWriteItems",
        lambda s, p: any(
            w.get("Put", {}).get("TableName") == s.env.audit_table
            and w["Put"]["Item"]["what"]["S"] == "decision"
            for w in p.get("TransactItems", [])
        ),
    ),
    "owner-told": ("SendMessage", lambda s, p: p.get("QueueUrl") == s.env.notify_queue_url),
}
SERVICE = {
    "PutItem": "dynamodb",
    "TransactWriteItems": "dynamodb",
    "CreateSchedule": "scheduler",
    "SendMessage": "sqs",
}


@dataclass
class OneWriteFails:
    """The first write `which` after a successful UpdateTrainingJob fails once (DynamoDB, Scheduler or
    SQS answering 500 after botocore's retries); everything else goes through."""

    system: System
    which: str = ""
    failed: list[str] = field(default_factory=list)
    armed: bool = False

    def after_update(self, http_response: Any, **_: Any) -> None:
        if http_response.status_code == 200:
            self.armed = True

    def before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if not self.which or not self.armed or self.failed:
            return
        operation, matches = WRITES[self.which]
        if model.name == operation and matches(self.system, params):
            self.failed.append(operation)
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, operation)


@pytest.fixture
def one_write_fails(system: System) -> Iterator[OneWriteFails]:
    fault = OneWriteFails(system)
    session = boto3.DEFAULT_SESSION
    assert session is not None
    hooks: list[tuple[str, Callable[..., None]]] = [
        ("after-call.sagemaker.UpdateTrainingJob", fault.after_update)
    ]
    for operation, service in SERVICE.items():
        hooks.append((f"provide-client-params.{service}.{operation}", fault.before))
    for name, hook in hooks:
        session.events.register(name, hook)
    for module in (lifecycle, reconciler):  # clients made from now on carry the hooks
        module.runtime.cache_clear()
    try:
        yield fault
    finally:
        for name, hook in hooks:
            session.events.unregister(name, hook)


def sagemaker_expiry(system: System, name: str) -> Any:
    job = system.emulator.job(name)
    assert job.cluster is not None
    return job.cluster.expires_at


def sagemaker_status(system: System, name: str) -> str:
    pool = system.emulator.job(name).warm_pool
    assert pool is not None
    return pool.status


def decisions(system: System, name: str) -> list[str]:
    """The actions of the pool's decisions, as its trail has them."""
    trail = system.registry.audit_trail(name)
    return [str(e.details.get("action")) for e in trail if e.what == "decision"]


def planned(system: System) -> list[str]:
    listed = system.schedules._scheduler.list_schedules(GroupName=system.env.scheduler_group)
    return [s["Name"] for s in listed["Schedules"]]


RELEASED_WRITES = [
    "update-audited",
    "gap-recorded",
    "gap-booked",
    "pool-saved",
    "decision-audited",
    "owner-told",
]


def released_as_decided(system: System, name: str, which: str) -> None:
    """What the owner and the trail have of a release: said once, decided once, and its gap learned.
    Its rule is the policy's, also when the update's own audit entry failed too (it was
    `sagemaker.released`, released outside warmpool: the intent saved before the update says whose)."""
    record = system.registry.get(name)
    assert record is not None
    assert record.pool.status.value == "Terminated"
    assert sagemaker_status(system, name) == "Terminated"
    said = [n for n in system.notifications() if n["kind"] == "released"]
    assert (decisions(system, name)[-1:], [n["job_name"] for n in said]) == (["release"], [name])
    assert said[0]["decision"]["rule"] == "defaults.keep_alive_strategy", which
    # its idle time as SageMaker billed it (a release whose save failed was first seen gone: $0.00)
    warm = system.sagemaker.describe_training_job(TrainingJobName=name)["WarmPoolStatus"]
    assert said[0]["facts"]["idle_seconds"] == warm["ResourceRetainedBillableTimeInSeconds"] > 0
    assert record.unannounced == ()
    history, _ = system.registry.history(record.pool.match_key.digest(), "vision")
    assert [g.job_name for g in history][-1:] == [name]


@pytest.mark.parametrize("which", RELEASED_WRITES)
def test_a_pool_released_at_its_jobs_end_is_announced_when_the_event_is_delivered_again(
    system: System, one_write_fails: OneWriteFails, which: str
) -> None:
    system.set_policy(RELEASE)
    system.sagemaker.create_training_job(**training_job_request("rel-1", keep_alive_seconds=600, tags=TAGS))
    system.settle()
    system.control.run_for("rel-1", 300)
    system.emulator.advance(300 + 120)  # its end is delivered two minutes late: two idle minutes
    one_write_fails.which = which
    system.settle()

    assert one_write_fails.failed  # after the release, and SQS delivered the event again
    assert decisions(system, "rel-1") == ["release"]
    released_as_decided(system, "rel-1", which)


@pytest.mark.parametrize("which", RELEASED_WRITES)
def test_a_pool_released_at_its_step_is_announced_when_the_step_is_delivered_again(
    system: System, one_write_fails: OneWriteFails, which: str
) -> None:
    system.set_policy(KEEP)
    system.run_job("srel-1", 300, keep_alive_seconds=600, tags=TAGS)
    system.notifications()
    system.set_policy(RELEASE)  # its next step releases it
    one_write_fails.which = which
    system.advance(3600, tick=300)

    assert one_write_fails.failed
    assert decisions(system, "srel-1") == ["extend", "release"]
    released_as_decided(system, "srel-1", which)


@pytest.mark.parametrize("which", RELEASED_WRITES)
def test_a_pool_the_reconciler_released_is_announced_at_its_next_run(
    system: System, one_write_fails: OneWriteFails, which: str
) -> None:
    system.set_policy(KEEP)
    system.run_job("rrel-1", 300, keep_alive_seconds=600, tags=TAGS)
    system.notifications()
    system.set_policy(RELEASE)
    system.emulator.advance(3400)  # its step was due; the tick never fired
    for schedule in system.schedules.due():
        system.schedules._scheduler.delete_schedule(
            Name=schedule["Name"], GroupName=system.env.scheduler_group
        )
    one_write_fails.which = which
    first = system.reconcile()
    second = system.reconcile()

    assert one_write_fails.failed
    assert [f.split(":")[0] for f in first["failed"] + second["failed"]] == ["rrel-1"]
    assert decisions(system, "rrel-1") == ["extend", "release"]
    released_as_decided(system, "rrel-1", which)


@pytest.mark.parametrize("which", ["update-audited", "next-look-scheduled", "pool-saved", "decision-audited"])
def test_a_step_that_extends_converges_when_its_message_is_delivered_again(
    system: System, one_write_fails: OneWriteFails, which: str
) -> None:
    system.set_policy(KEEP)
    system.run_job("step-1", 300, keep_alive_seconds=600, tags=TAGS)
    system.notifications()
    one_write_fails.which = which
    system.advance(3600, tick=300)  # the step at 55 minutes

    assert one_write_fails.failed
    record = system.registry.get("step-1")
    assert record is not None
    assert record.pool.status.value == "Available"
    assert record.pool.expires_at == sagemaker_expiry(system, "step-1")
    # the step delivered again is a look of its own at the pool the step extended: nothing more to do
    # (a decision's entry is written with its save). It extended the pool again, once more than the
    # policy asks: the step had set the keep-alive the pool already had (3600 s), and the registry's
    # expiry, an hour old, read as due; the step's intent, saved before its update, gives the new one
    assert decisions(system, "step-1") == ["extend", "keep"]
    assert [u["seconds"] for u in system.control.update_calls()] == [3600, 3600]
    assert system.notifications() == []
    assert record.schedule_name in planned(system)


@pytest.mark.parametrize("which", ["owner-told"])
def test_a_pool_kept_at_its_jobs_end_is_audited_and_announced_once_when_a_write_after_its_save_fails(
    system: System, one_write_fails: OneWriteFails, which: str
) -> None:
    system.set_policy(KEEP)
    one_write_fails.which = which
    system.run_job("kept-1", 300, keep_alive_seconds=600, tags=TAGS)

    assert one_write_fails.failed
    record = system.registry.get("kept-1")
    assert record is not None
    assert record.pool.expires_at == sagemaker_expiry(system, "kept-1")
    assert decisions(system, "kept-1") == ["extend"]
    assert [n["kind"] for n in system.notifications()] == ["pool-ready"]
    assert record.schedule_name in planned(system)


def test_a_release_a_person_asked_for_is_announced_by_the_reconciler_when_its_send_fails(
    system: System, one_write_fails: OneWriteFails
) -> None:
    # nobody sends a person's request again, and no look comes back to a pool released: the notice
    # saved with the release is what the reconciler's next run finds
    system.set_policy(KEEP)
    system.run_job("ask-1", 300, keep_alive_seconds=600, tags=TAGS)
    system.notifications()
    one_write_fails.which = "owner-told"
    assert main(["pools", "release", "ask-1", "--user", "bob"]) != 0  # the command failed...
    assert one_write_fails.failed == ["SendMessage"]
    assert sagemaker_status(system, "ask-1") == "Terminated"
    assert system.notifications() == []  # ...after the release, and its owner was not told

    report = system.reconcile()

    assert report["failed"] == []
    said = system.notifications()
    assert [(n["kind"], n["job_name"]) for n in said] == [("released", "ask-1")]
    assert said[0]["decision"]["action"] == "release"
    record = system.registry.get("ask-1")
    assert record is not None
    assert (record.pool.status.value, record.unannounced) == ("Terminated", ())
    assert system.registry.unannounced_pools() == []
    system.reconcile()  # said once
    assert system.notifications() == []


def test_a_pool_released_outside_warmpool_is_told_to_its_owner_once(system: System) -> None:
    system.set_policy(KEEP)
    system.run_job("out-1", 300, keep_alive_seconds=600, tags=TAGS)
    system.notifications()
    # someone sets the keep-alive to 0 in the console: no decision of warmpool's released it
    system.sagemaker.update_training_job(
        TrainingJobName="out-1", ResourceConfig={"KeepAlivePeriodInSeconds": 0}
    )
    system.reconcile()
    system.reconcile()

    said = system.notifications()
    assert [(n["kind"], n["decision"]["rule"]) for n in said] == [("released", "sagemaker.released")]
    assert decisions(system, "out-1") == ["extend", "release"]
    record = system.registry.get("out-1")
    assert record is not None
    assert (record.pool.status.value, record.unannounced) == ("Terminated", ())


def test_the_notice_of_a_pool_released_outside_warmpool_says_what_its_idle_time_cost(system: System) -> None:
    system.set_policy(KEEP)
    system.run_job("out-2", 300, keep_alive_seconds=600, instance_count=2, tags=TAGS)
    system.advance(20 * 60, tick=300)  # idle 20 minutes, on warmpool's keep-alive
    system.notifications()
    system.sagemaker.update_training_job(
        TrainingJobName="out-2", ResourceConfig={"KeepAlivePeriodInSeconds": 0}
    )
    system.advance(4 * 60)  # no event: the reconciler finds it gone minutes later
    system.reconcile()

    said = [n for n in system.notifications() if n["kind"] == "released"]
    assert [n["decision"]["rule"] for n in said] == ["sagemaker.released"]
    billed = system.sagemaker.describe_training_job(TrainingJobName="out-2")["WarmPoolStatus"]
    assert billed["ResourceRetainedBillableTimeInSeconds"] == 20 * 60
    # what SageMaker billed: 20 minutes of two ml.g5.2xlarge at 1.515 $/h, said as "$1.01 so far"
    # (it said $0.00: warmpool never saw when this idle time began)
    assert said[0]["facts"]["idle_cost_so_far_usd"] == round(20 * 60 * 2 * 1.515 / 3600, 4)
    assert said[0]["facts"]["idle_seconds"] == 20 * 60


def left_unaudited_by_an_older_version(system: System, name: str) -> None:
    """The pool's last decision as a version before the entry was written with the save left it when
    the entry's own write failed: saved with the pool (`unaudited`, with when it was decided), not in
    the trail."""
    table = boto3.client("dynamodb")
    items = table.query(
        TableName=system.env.audit_table,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": f"POOL#{name}"}},
    )["Items"]
    last = [i for i in items if i["what"]["S"] == "decision"][-1]
    table.delete_item(TableName=system.env.audit_table, Key={"pk": last["pk"], "sk": last["sk"]})
    record = system.registry.get(name)
    assert record is not None
    decided_at = last["sk"]["S"].split("#")[1]
    unaudited = {**json.loads(last["details"]["S"]), "decided_at": decided_at}
    system.registry.put(replace(record, unaudited=unaudited), record.pool.version)


def test_a_persons_extension_an_older_version_left_unaudited_is_audited_by_the_reconciler_with_who_asked(
    system: System,
) -> None:
    # nobody sends a person's request again: the entry saved with the decision is what the
    # reconciler's next run writes, naming who asked
    system.set_policy(KEEP)
    system.run_job("ask-2", 300, keep_alive_seconds=600, tags=TAGS)
    assert main(["pools", "extend", "ask-2", "--minutes", "90", "--user", "bob"]) == 0
    left_unaudited_by_an_older_version(system, "ask-2")

    assert system.reconcile()["failed"] == []
    system.reconcile()

    trail = [e for e in system.registry.audit_trail("ask-2") if e.what == "decision"]
    assert [(e.details["trigger"], e.details.get("user")) for e in trail] == [
        ("job-event", None),
        ("user", "bob"),
    ]
    record = system.registry.get("ask-2")
    assert record is not None
    assert record.unaudited is None
    assert system.registry.unannounced_pools() == []


def test_a_decision_audited_late_by_the_reconciler_is_in_the_trail_when_it_was_decided(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # bob's extension, left unaudited by an older version, is audited by the reconciler's run ten
    # minutes on: the trail says when he was granted it, not when its entry could be written
    system.set_policy(KEEP)
    system.run_job("ask-3", 300, keep_alive_seconds=600, tags=TAGS)
    asked_at = system.emulator.now()
    assert main(["pools", "extend", "ask-3", "--minutes", "30", "--user", "bob"]) == 0
    left_unaudited_by_an_older_version(system, "ask-3")
    system.advance(600)
    assert system.reconcile()["failed"] == []

    capsys.readouterr()  # the functions' logs
    assert main(["pools", "show", "ask-3", "--format", "json"]) == 0
    trail = json.loads(capsys.readouterr().out)["audit"]
    asked = [e for e in trail if e["details"].get("user") == "bob"]
    assert [(e["what"], e["at"]) for e in asked] == [("decision", asked_at.isoformat())]
    assert "decided_at" not in asked[0]["details"]


@pytest.mark.parametrize("which", RELEASED_WRITES[:4])
def test_a_pool_the_reconciler_found_unregistered_and_released_is_recorded_and_announced_at_its_next_run(
    system: System, one_write_fails: OneWriteFails, which: str
) -> None:
    # its events were lost: the registry never had the pool, the reconciler finds it Available in
    # SageMaker's listing and releases it; a write after the release fails. Nothing lists the pool
    # again (SageMaker no longer has it Available, the registry never had it): the next run must
    # find what the first one did.
    system.set_policy(RELEASE)
    system.sagemaker.create_training_job(**training_job_request("lost-1", keep_alive_seconds=600, tags=TAGS))
    system.control.run_for("lost-1", 300)
    system.emulator.advance(300 + 120)
    system.messages(system.env.lifecycle_queue_url)  # its events: lost
    assert system.registry.get("lost-1") is None
    one_write_fails.which = which
    first = system.reconcile()
    second = system.reconcile()

    assert one_write_fails.failed
    assert [f.split(":")[0] for f in first["failed"] + second["failed"]] == ["lost-1"]
    assert decisions(system, "lost-1") == ["release"]
    released_as_decided(system, "lost-1", which)


def test_a_pool_the_reconciler_found_unregistered_and_cannot_record_is_not_released(system: System) -> None:
    # the registry refuses the record the release would leave: nothing is done in SageMaker, and the
    # next run decides the pool by the policy then, which keeps it
    system.set_policy(RELEASE)
    system.sagemaker.create_training_job(**training_job_request("lost-2", keep_alive_seconds=600, tags=TAGS))
    system.control.run_for("lost-2", 300)
    system.emulator.advance(300)
    system.messages(system.env.lifecycle_queue_url)  # its events: lost

    def registry_down(params: dict[str, Any], **_: Any) -> None:
        if _transacts(params, "POOL#"):
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, "Transact")

    with hooked("provide-client-params.dynamodb.TransactWriteItems", registry_down):
        for module in (lifecycle, reconciler):
            module.runtime.cache_clear()
        first = system.reconcile()
    for module in (lifecycle, reconciler):
        module.runtime.cache_clear()

    assert [f.split(":")[0] for f in first["failed"]] == ["lost-2"]
    assert system.control.update_calls() == []
    assert sagemaker_status(system, "lost-2") == "Available"
    system.set_policy(KEEP)
    assert system.reconcile()["failed"] == []
    assert [u["seconds"] for u in system.control.update_calls()] == [3600]
    assert decisions(system, "lost-2") == ["extend"]


@dataclass
class EndsAfterSave:
    """The invocation ends (a timeout, out of memory) the moment the save that records a decision
    changing SageMaker has landed, before anything after it: the write went through, the function did
    not go on."""

    on: bool = False
    armed: bool = False
    saving: bool = False
    ended: list[str] = field(default_factory=list)

    def after_update(self, http_response: Any, **_: Any) -> None:
        if self.on and http_response.status_code == 200 and not self.ended:
            self.armed = True

    def before_save(self, params: dict[str, Any], **_: Any) -> None:
        self.saving = self.armed and not self.ended and _transacts(params, "POOL#")

    def after_save(self, http_response: Any, **_: Any) -> None:
        if self.saving and http_response.status_code == 200:
            self.saving, self.armed = False, False
            self.ended.append("TransactWriteItems")
            raise RuntimeError("injected: the invocation ended after the save")


@pytest.fixture
def ends_after_save(system: System) -> Iterator[EndsAfterSave]:
    fault = EndsAfterSave()
    session = boto3.DEFAULT_SESSION
    assert session is not None
    hooks: list[tuple[str, Callable[..., None]]] = [
        ("after-call.sagemaker.UpdateTrainingJob", fault.after_update),
        ("provide-client-params.dynamodb.TransactWriteItems", fault.before_save),
        ("after-call.dynamodb.TransactWriteItems", fault.after_save),
    ]
    for name, hook in hooks:
        session.events.register(name, hook)
    for module in (lifecycle, reconciler):
        module.runtime.cache_clear()
    try:
        yield fault
    finally:
        for name, hook in hooks:
            session.events.unregister(name, hook)


def test_a_decision_saved_by_an_invocation_that_ended_then_is_in_the_trail_once(
    system: System, ends_after_save: EndsAfterSave
) -> None:
    # the job's end: kept, saved, and the invocation ends; SQS delivers the event again, which finds
    # the pool saved as decided. The auditor finds the update and the decision that made it.
    system.set_policy(KEEP)
    ends_after_save.on = True
    system.run_job("crash-1", 300, keep_alive_seconds=600, tags=TAGS)

    assert ends_after_save.ended
    assert [u["seconds"] for u in system.control.update_calls()] == [3600]
    assert decisions(system, "crash-1") == ["extend"]
    record = system.registry.get("crash-1")
    assert record is not None
    assert record.pool.expires_at == sagemaker_expiry(system, "crash-1")
    assert [n["kind"] for n in system.notifications()] == ["pool-ready"]


def test_a_persons_extension_saved_by_an_invocation_that_ended_then_is_in_the_trail_with_who_asked(
    system: System, ends_after_save: EndsAfterSave
) -> None:
    # nobody sends a person's request again: the trail has their decision all the same
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "fixed-1800"}})
    system.run_job("crash-2", 300, keep_alive_seconds=600, tags=TAGS)
    ends_after_save.on = True
    with pytest.raises(RuntimeError, match="invocation ended"):
        main(["pools", "extend", "crash-2", "--minutes", "90", "--user", "bob"])
    assert ends_after_save.ended
    system.reconcile()

    trail = [e for e in system.registry.audit_trail("crash-2") if e.what == "decision"]
    assert [(e.details["trigger"], e.details.get("user")) for e in trail] == [
        ("job-event", None),
        ("user", "bob"),
    ]


def test_a_persons_extension_whose_save_fails_after_the_update_names_who_asked_in_the_trail(
    system: System, one_write_fails: OneWriteFails
) -> None:
    # the decision's entry rides in the save, lost with it: the update's own entry is what the trail
    # keeps of the request, and it said why (the rule `request.cli`) but not who asked
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "fixed-600"}})
    system.run_job("ask-2", 300, keep_alive_seconds=600, tags=TAGS)
    one_write_fails.which = "pool-saved"  # the next save after an update: the request's
    assert main(["pools", "extend", "ask-2", "--minutes", "90", "--user", "bob"]) != 0  # the command failed
    assert one_write_fails.failed == ["TransactWriteItems"]

    updated = [e for e in system.registry.audit_trail("ask-2") if e.what == "keep-alive-updated"]
    asked = [e.details for e in updated if e.details["rule"].startswith("request.")]
    assert [(d["rule"], d.get("user"), d.get("via")) for d in asked] == [("request.cli", "bob", "cli")]
