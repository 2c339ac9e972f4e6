"""The invocation ends (a timeout, out of memory) the moment SageMaker has taken warmpool's
UpdateTrainingJob, before the update's own `keep-alive-updated` entry, or that entry's write fails. The
look that comes next (the event or step delivered again, the reconciler's next run) finds SageMaker's
keep-alive changed with nothing in the trail. It took warmpool's own act for someone else's: a release
recorded under `sagemaker.released` ("released outside warmpool"), an extension as a keep-alive set
outside warmpool (`keep-alive-set-outside`), which the `job` strategy then kept as the job's wish. The
trail blamed a person for what warmpool did. The decision's intent, saved with the pool before the
update, tells it apart: what SageMaker shows is what warmpool meant to set, recorded as warmpool's, with
the decision's rule; an update that never happened is never recorded."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from warmpool.cli.main import main
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import lifecycle, reconciler

from tests.integration.conftest import System

TAGS = {"team": "vision", "owner": "alice"}
KEEP = {"version": 1, "defaults": {"keep_alive_strategy": "fixed-7200"}}
# 3600 s at the job's end, then 2100 s at the step 55 minutes on: a value SageMaker did not have
STEPPED = {"version": 1, "defaults": {"keep_alive_strategy": "fixed-5400"}}
RELEASE = {"version": 1, "defaults": {"keep_alive_strategy": "none"}}


@dataclass
class EndsAfterUpdate:
    """Once armed, the invocation ends right after SageMaker took an UpdateTrainingJob (the update
    went through; the function did not go on)."""

    on: bool = False
    ended: list[int] = field(default_factory=list)

    def after_update(self, http_response: Any, params: Any = None, **_: Any) -> None:
        if self.on and http_response.status_code == 200 and not self.ended:
            self.ended.append(http_response.status_code)
            raise RuntimeError("injected: the invocation ended after UpdateTrainingJob")


@dataclass
class UpdateFails:
    """Once armed, the next UpdateTrainingJob fails before it reaches SageMaker (a 500 after
    botocore's retries): nothing is changed there."""

    on: bool = False
    failed: list[str] = field(default_factory=list)

    def before_update(self, **_: Any) -> None:
        if self.on and not self.failed:
            self.failed.append("UpdateTrainingJob")
            raise ClientError(
                {"Error": {"Code": "InternalServerError", "Message": "injected"}}, "UpdateTrainingJob"
            )


@contextmanager
def _hooked(hooks: list[tuple[str, Callable[..., None]]]) -> Iterator[None]:
    session = boto3.DEFAULT_SESSION
    assert session is not None
    for name, hook in hooks:
        session.events.register(name, hook)
    for module in (lifecycle, reconciler):  # clients made from now on carry the hooks
        module.runtime.cache_clear()
    try:
        yield
    finally:
        for name, hook in hooks:
            session.events.unregister(name, hook)
        for module in (lifecycle, reconciler):
            module.runtime.cache_clear()


@pytest.fixture
def ends_after_update(system: System) -> Iterator[EndsAfterUpdate]:
    fault = EndsAfterUpdate()
    with _hooked([("after-call.sagemaker.UpdateTrainingJob", fault.after_update)]):
        yield fault


@pytest.fixture
def update_fails(system: System) -> Iterator[UpdateFails]:
    fault = UpdateFails()
    hooks: list[tuple[str, Callable[..., None]]] = [
        ("provide-client-params.sagemaker.UpdateTrainingJob", fault.before_update)
    ]
    with _hooked(hooks):
        yield fault


def trail(system: System, job: str) -> list[tuple[str, str | None, Any]]:
    """What the auditor reads: each entry's what, its rule, and its keep-alive (updates)."""
    return [
        (e.what, e.details.get("rule"), e.details.get("seconds"))
        for e in system.registry.audit_trail(job)
        if e.what not in ("recorded",)
    ]


def test_a_release_whose_invocation_ended_after_the_update_is_recorded_as_warmpools_with_its_rule(
    system: System, ends_after_update: EndsAfterUpdate
) -> None:
    system.set_policy(RELEASE)
    system.sagemaker.create_training_job(**training_job_request("rel-1", keep_alive_seconds=600, tags=TAGS))
    system.settle()
    system.control.run_for("rel-1", 300)
    system.emulator.advance(300 + 120)
    ends_after_update.on = True
    system.settle()  # the invocation ends after the release; SQS delivers the event again

    assert ends_after_update.ended
    rule = "defaults.keep_alive_strategy"
    assert trail(system, "rel-1") == [("keep-alive-updated", rule, 0), ("decision", rule, None)]
    said = [n for n in system.notifications() if n["kind"] == "released"]
    assert [n["decision"]["rule"] for n in said] == [rule]  # not `sagemaker.released`
    updated = [e for e in system.registry.audit_trail("rel-1") if e.what == "keep-alive-updated"]
    decided = [e for e in system.registry.audit_trail("rel-1") if e.what == "decision"]
    assert updated[0].details["decision_id"] == decided[0].details["decision_id"]
    record = system.registry.get("rel-1")
    assert record is not None
    assert (record.pool.status.value, record.intent) == ("Terminated", None)


def test_a_step_whose_invocation_ended_after_the_update_is_not_taken_for_a_keep_alive_set_outside(
    system: System, ends_after_update: EndsAfterUpdate
) -> None:
    system.set_policy(STEPPED)
    system.run_job("step-1", 300, keep_alive_seconds=600, tags=TAGS)
    system.notifications()
    ends_after_update.on = True
    system.advance(3600, tick=300)  # the step at 55 minutes: extended, then the invocation ends

    assert ends_after_update.ended
    whats = [w for w, _, _ in trail(system, "step-1")]
    assert "keep-alive-set-outside" not in whats
    updates = [(r, s) for w, r, s in trail(system, "step-1") if w == "keep-alive-updated"]
    assert updates == [("defaults.keep_alive_strategy", 3600), ("defaults.keep_alive_strategy", 2100)]
    record = system.registry.get("step-1")
    assert record is not None
    # the `job` strategy would keep a keep-alive set outside as the job's wish: none was
    assert (record.pool.outside_set_at, record.pool.outside_keep_alive_seconds) == (None, None)
    job = system.emulator.job("step-1")
    assert job.cluster is not None
    assert record.pool.expires_at == job.cluster.expires_at


def test_a_persons_extension_whose_invocation_ended_after_the_update_is_recorded_with_who_asked(
    system: System, ends_after_update: EndsAfterUpdate
) -> None:
    # nobody sends a person's request again: the pool's next look finds the keep-alive bob was
    # granted, which read as someone's in the console
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "fixed-1800"}})
    system.run_job("ask-1", 300, keep_alive_seconds=600, tags=TAGS)
    ends_after_update.on = True
    with pytest.raises(RuntimeError, match="invocation ended"):
        main(["pools", "extend", "ask-1", "--minutes", "90", "--user", "bob"])
    assert ends_after_update.ended
    system.advance(20 * 60, tick=300)  # its planned look (the warning before the expiry it had)

    entries = system.registry.audit_trail("ask-1")
    assert "keep-alive-set-outside" not in [e.what for e in entries]
    asked = [e.details for e in entries if e.what == "keep-alive-updated" and e.details.get("user")]
    assert [(d["rule"], d["user"], d["via"], d["recorded_late"]) for d in asked] == [
        ("request.cli", "bob", "cli", True)
    ]
    record = system.registry.get("ask-1")
    assert record is not None
    assert record.pool.outside_set_at is None


def test_an_update_that_failed_after_its_intent_was_saved_is_not_recorded(
    system: System, update_fails: UpdateFails
) -> None:
    # the intent is saved, then SageMaker never gets the update: the retry records only its own
    system.set_policy(KEEP)
    system.run_job("step-2", 300, keep_alive_seconds=600, tags=TAGS)
    update_fails.on = True
    system.advance(3600, tick=300)

    assert update_fails.failed
    updates = [e.details for e in system.registry.audit_trail("step-2") if e.what == "keep-alive-updated"]
    assert [d.get("recorded_late", False) for d in updates] == [False, False]
    assert len({d["decision_id"] for d in updates}) == 2
    record = system.registry.get("step-2")
    assert record is not None
    assert record.intent is None


@dataclass
class EndsAfterReleaseOf:
    """The invocation ends right after SageMaker took the release (a keep-alive of 0) of `job`."""

    job: str
    asked: list[dict[str, Any]] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)

    def before(self, params: dict[str, Any], **_: Any) -> None:
        self.asked.append(params)

    def after(self, http_response: Any, **_: Any) -> None:
        params = self.asked[-1] if self.asked else {}
        seconds = params.get("ResourceConfig", {}).get("KeepAlivePeriodInSeconds")
        if params.get("TrainingJobName") == self.job and seconds == 0 and not self.ended:
            self.ended.append(self.job)
            raise RuntimeError("injected: the invocation ended after the release")


def test_a_pool_released_for_a_limit_whose_invocation_ended_then_is_recorded_with_the_limits_rule(
    system: System,
) -> None:
    # one warm pool for the team: lim-2's pool ends, and its decision releases lim-1's to make room;
    # the invocation ends right after. lim-1's next look found it gone with a keep-alive of 0 and told
    # its owner it had been released outside warmpool (`sagemaker.released`)
    limit = {"max_warm_instances": 1, "on_limit": "release-least-valuable"}
    system.set_policy(
        {"version": 1, "defaults": {"keep_alive_strategy": "fixed-3600"}, "teams": {"vision": limit}}
    )
    system.run_job("lim-1", 300, keep_alive_seconds=600, tags=TAGS)
    fault = EndsAfterReleaseOf("lim-1")
    hooks: list[tuple[str, Callable[..., None]]] = [
        ("provide-client-params.sagemaker.UpdateTrainingJob", fault.before),
        ("after-call.sagemaker.UpdateTrainingJob", fault.after),
    ]
    with _hooked(hooks):
        system.run_job("lim-2", 300, keep_alive_seconds=600, volume_size_gb=60, tags=TAGS)
    assert fault.ended == ["lim-1"]
    system.notifications()
    system.reconcile()

    said = [n for n in system.notifications() if n["kind"] == "released" and n["job_name"] == "lim-1"]
    rules = [n["decision"]["rule"] for n in said]
    assert rules == ["defaults.keep_alive_strategy"]  # said once, by the deciding decision's rule
    limited = [e for e in system.registry.audit_trail("lim-1") if e.what == "released-for-limit"]
    assert [(e.details["rule"], e.details["recorded_late"]) for e in limited] == [(rules[0], True)]
    record = system.registry.get("lim-1")
    assert record is not None
    assert record.pool.status.value == "Terminated"
