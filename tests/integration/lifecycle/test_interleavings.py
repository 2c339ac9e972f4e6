"""Entry points acting on one pool at once.

In AWS the lifecycle function (a job's event, a scheduled step), the Slack function (a button), the
reconciler and a person's `pools extend|release` may all act on the same pool at the same moment; the
registry's optimistic locking is what keeps them from undoing each other. The tests first below each
make one race happen where it matters: just before one function's call to SageMaker or the registry,
another runs to completion (as another function instance would, with clients and state of its own).

The interleavings (at the end) look for such races systematically rather than by luck: for a pair
(A, B) of entry points, A's AWS calls are recorded once; then, for each of them, the scenario is run
again from the same fresh start and, just before A makes that call, B runs to completion, then A goes
on and the system settles. After each interleaving the invariants a user relies on are checked
(`check`). B comes in before every one of A's calls and after the whole of A: about 230
interleavings, 1-2 minutes of CPU, as each runs in a copy of a system set up once (`interleavings`).
`make test` runs them; `make interleavings` runs only them.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import select
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, redirect_stdout
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from io import StringIO
from typing import Any

import boto3
import pytest
from warmpool.cli.main import main as cli
from warmpool.emulator import EmulatorConfig
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import lifecycle, notifier, reconciler, slack_interactive
from warmpool.local.pumps import LocalLambdaContext

from tests.integration.conftest import System, running_system
from tests.integration.notify.test_notify import press, signed

POLICY: dict[str, Any] = {
    "version": 1,
    "defaults": {"keep_alive_strategy": "fixed-1800", "overrides": {"max_extend_minutes": 60}},
    "notifications": {"slack_users": {"alice": "UALICE"}},
}
TAGS = {"team": "vision", "owner": "alice"}
HANDLERS = (lifecycle, notifier, reconciler, slack_interactive)
STEP_LIMIT_SECONDS = 3600  # the stack's MAX_STEP_SECONDS
PER_EXPIRY = frozenset({"expiring-soon", "extended", "shortened"})


@dataclass
class Seen:
    """What the people and functions were told while the scenario ran."""

    promised: list[tuple[str, datetime]] = field(default_factory=list)  # extensions answered done
    released: list[str] = field(default_factory=list)  # jobs whose release was answered done
    answers: list[str] = field(default_factory=list)
    escaped: list[str] = field(default_factory=list)  # exceptions no one retries


Actor = Callable[[System, Seen], None]


def second_container(monkeypatch: pytest.MonkeyPatch) -> Callable[[], AbstractContextManager[None]]:
    """The functions as another instance runs them: within `with second_container(mp)():`, runtimes
    (clients, caches, counters) of their own, the same ones each time."""
    others = {module: functools.cache(module.runtime.__wrapped__) for module in HANDLERS}

    @contextmanager
    def swapped() -> Iterator[None]:
        with monkeypatch.context() as patch:
            for module, runtime in others.items():
                patch.setattr(module, "runtime", runtime)
            yield

    return swapped


Arm = Callable[..., None]
OPERATIONS = ("sagemaker.UpdateTrainingJob", "dynamodb.TransactWriteItems")  # what `before` can wait for


class Before:
    """A before-call hook: once armed, just before the functions' `nth` call of `operation`
    ("service.Operation") from then on, `meanwhile` runs to completion in a second container."""

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.meanwhile: Callable[[], None] | None = None
        self.to_go = 0

    def __call__(self, event_name: str, **_: Any) -> None:
        if self.meanwhile is None or event_name.split(".", 1)[1] != self.operation:
            return
        self.to_go -= 1
        if self.to_go == 0:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()


@pytest.fixture
def before(system: System, monkeypatch: pytest.MonkeyPatch) -> Iterator[Arm]:
    """`before(operation, action, nth=1)`: run `action` as another function instance would, just
    before the functions' `nth` call of `operation` from now on. Registered before the functions'
    clients exist (a client copies the session's hooks when made)."""
    session = boto3.DEFAULT_SESSION
    assert session is not None
    hooks = {operation: Before(operation) for operation in OPERATIONS}
    other = second_container(monkeypatch)

    def arm(operation: str, action: Callable[[], None], nth: int = 1) -> None:
        def meanwhile() -> None:
            with other():
                action()

        hooks[operation].meanwhile, hooks[operation].to_go = meanwhile, nth

    for operation, hook in hooks.items():
        session.events.register(f"before-call.{operation}", hook)
    try:
        yield arm
    finally:
        for operation, hook in hooks.items():
            session.events.unregister(f"before-call.{operation}", hook)


# ------------------------------------------------------------------ entry points
def deliver_queued(system: System, seen: Seen) -> None:
    """The lifecycle function on what is queued for it (a job's event, a fired step)."""
    system.lifecycle.drain()


def fire_step(system: System, seen: Seen) -> None:
    """EventBridge Scheduler fires the pool's due step; the lifecycle function takes it."""
    system.schedules.fire_due()
    system.lifecycle.drain()


def reconcile(system: System, seen: Seen) -> None:
    result = reconciler.handler({}, LocalLambdaContext())
    if result["failed"]:
        seen.escaped.append(f"reconciler: {result['failed']}")


def slack(action: str, job: str = "j1") -> Actor:
    def press_button(system: System, seen: Seen) -> None:
        kind = "release" if action == "warmpool_release" else "extend"
        body = press(job, action, "UALICE", trigger_id=f"{action}.{len(seen.answers)}")
        try:
            _, text = system.press(signed(body))  # the endpoint, then the worker on the queued press
        except Exception as exc:  # Slack does not retry a button press: the person sees an error
            seen.escaped.append(f"slack {action}: {type(exc).__name__}: {exc}")
            return
        if text.startswith(f"{kind} {job}: failed"):  # the worker failed on it: kept in the press DLQ
            seen.escaped.append(f"slack {action}: {text}")
            return
        seen.answers.append(text)
        answered(system, seen, kind, job, text.startswith(f"{kind} {job}: done"), text)

    press_button.__name__ = f"slack_{action}"
    return press_button


def pools_cmd(kind: str, job: str = "j1", minutes: int = 60) -> Actor:
    def run(system: System, seen: Seen) -> None:
        args = [
            "pools",
            kind,
            job,
            "--user",
            "alice",
            *(["--minutes", str(minutes)] if kind == "extend" else []),
        ]
        out = StringIO()
        try:
            with redirect_stdout(out):
                code = cli(args)
        except Exception as exc:  # the person sees a traceback
            seen.escaped.append(f"pools {kind}: {type(exc).__name__}: {exc}")
            return
        seen.answers.append(out.getvalue())
        answered(system, seen, kind, job, code in (0, 3), out.getvalue())

    run.__name__ = f"cli_{kind}"
    return run


def answered(system: System, seen: Seen, kind: str, job: str, granted: bool, text: str) -> None:
    if not granted:
        return
    if kind == "release":
        seen.released.append(job)
        return
    pool_id = system.registry.pool_id_for_job(job)
    record = system.registry.get(pool_id) if pool_id else None
    if record is not None and record.pool.override_until is not None:
        seen.promised.append((job, record.pool.override_until))
    elif "partly done" not in text:
        seen.escaped.append(f"extension answered done without a promise: {text}")


def start_job(name: str) -> Actor:
    """A job of the same shape, which takes the idle warm pool; the lifecycle function on its events."""

    def start(system: System, seen: Seen) -> None:
        system.sagemaker.create_training_job(**training_job_request(name, keep_alive_seconds=600, tags=TAGS))
        system.lifecycle.drain()

    start.__name__ = f"start_{name}"
    return start


# ------------------------------------------------------------------ starting points
def job_ended(system: System) -> None:
    """j1 has run and ended; its event waits in the queue."""
    system.sagemaker.create_training_job(**training_job_request("j1", keep_alive_seconds=600, tags=TAGS))
    system.settle()
    system.control.run_for("j1", 300)
    system.emulator.advance(300)


def pool_warm(system: System) -> None:
    job_ended(system)
    system.settle()


def step_due(system: System) -> None:
    """j1's pool is warm and its planned look is due (not fired yet)."""
    pool_warm(system)
    record = system.registry.get("j1")
    assert record is not None
    assert record.next_check_at is not None
    system.emulator.advance((record.next_check_at - system.control.now()).total_seconds())


# ------------------------------------------------------------------ races found
def warm_until(system: System, job: str) -> datetime | None:
    """When SageMaker lets the pool go (None: no Available pool)."""
    state = system.emulator.job(job)
    if state.warm_pool is None or state.warm_pool.status != "Available" or state.cluster is None:
        return None
    return state.cluster.expires_at


def extended_once(system: System, seen: Seen, expires_at: datetime) -> list[tuple[str, str]]:
    """alice presses "Extend 60" on j1: answered done, promised an hour past `expires_at` (the pool's
    expiry when she pressed) once, not decided again on top of itself, and told of it once. Returns
    what was said, (job, kind) each."""
    slack("warmpool_extend_60")(system, seen)
    assert seen.escaped == []
    [answer] = seen.answers
    assert answer.startswith("extend j1: done")
    assert seen.promised == [("j1", expires_at + timedelta(minutes=60))]
    system.settle()
    told = [(n["job_name"], n["kind"]) for n in system.notifications()]
    assert told.count(("j1", "extended")) == 1
    return told


def test_an_extension_granted_while_the_job_s_end_is_decided_keeps_the_pool_until_the_promised_time(
    system: System, before: Arm
) -> None:
    # alice sees j1 finish and runs `pools extend j1 --minutes 60` while the job's event is being
    # decided: her extension is granted and saved just before the event sets its half-hour keep-alive
    system.set_policy(POLICY)
    seen = Seen()
    before("sagemaker.UpdateTrainingJob", lambda: pools_cmd("extend")(system, seen))
    job_ended(system)
    system.settle()
    assert seen.escaped == []
    [(_, promised)] = seen.promised
    record = system.registry.get("j1")
    assert record is not None
    assert record.pool.override_until == promised
    # SageMaker keeps the pool as long as the registry says (the event's shorter keep-alive, set after
    # her extension, was put back)
    assert warm_until(system, "j1") == record.pool.expires_at
    system.advance((promised - system.control.now()).total_seconds() - 120, tick=300)
    assert warm_until(system, "j1") is not None  # still warm two minutes before the promised time


def test_a_pool_released_before_its_expiry_could_be_put_back_is_no_error(system: System, before: Arm) -> None:
    # as above, and before the event puts back the expiry alice's extension saved, somebody releases
    # the pool in SageMaker: an ordinary race, which its next look records, not a refused update to
    # alarm on
    system.set_policy(POLICY)
    seen = Seen()

    def release_directly() -> None:
        system.sagemaker.update_training_job(
            TrainingJobName="j1", ResourceConfig={"KeepAlivePeriodInSeconds": 0}
        )

    def extend_then_release() -> None:
        pools_cmd("extend")(system, seen)
        before("sagemaker.UpdateTrainingJob", release_directly)  # the event's putting back

    before("sagemaker.UpdateTrainingJob", extend_then_release)
    job_ended(system)
    system.settle()
    assert seen.escaped == []
    pool = system.emulator.job("j1").warm_pool
    assert pool is not None
    assert pool.status == "Terminated"
    assert [e.what for e in system.registry.audit_trail("j1") if e.what == "error"] == []
    system.reconcile()
    record = system.registry.get("j1")
    assert record is not None
    assert record.pool.status.value == "Terminated"


class EndsAfterUpdates:
    """Once armed, the invocation ends right after SageMaker took the `nth` UpdateTrainingJob from
    then on (the update went through; the function did not go on)."""

    def __init__(self) -> None:
        self.to_go = 0
        self.ended: list[str] = []

    def __call__(self, http_response: Any, **_: Any) -> None:
        if self.to_go == 0 or http_response.status_code != 200:
            return
        self.to_go -= 1
        if self.to_go == 0:
            self.ended.append("UpdateTrainingJob")
            raise RuntimeError("injected: the invocation ended after UpdateTrainingJob")


def test_an_expiry_put_back_whose_invocation_ended_before_its_save_is_warmpools_own(
    system: System, before: Arm
) -> None:
    # As above: alice's extension is saved just before the event's update, whose save then fails; the
    # event puts alice's expiry back in SageMaker and the invocation ends before it saves that. The
    # event's retry found SageMaker's keep-alive unlike the one the registry had, and nothing in the
    # trail: it took warmpool's own act for a keep-alive set outside warmpool, told its owner so, and
    # the `job` strategy would have kept it as the job's wish.
    system.set_policy(POLICY)
    seen = Seen()
    ends = EndsAfterUpdates()
    session = boto3.DEFAULT_SESSION
    assert session is not None
    session.events.register("after-call.sagemaker.UpdateTrainingJob", ends)

    saved: list[datetime | None] = []

    def extend_then_end_after_the_putting_back() -> None:
        pools_cmd("extend")(system, seen)
        extended = system.registry.get("j1")
        saved.append(extended.pool.expires_at if extended is not None else None)
        system.emulator.advance(7)  # the event's own update, then its putting back, a few seconds on
        ends.to_go = 2

    try:
        before("sagemaker.UpdateTrainingJob", extend_then_end_after_the_putting_back)
        job_ended(system)
        system.settle()  # the invocation ends after the putting back; SQS delivers the event again
    finally:
        session.events.unregister("after-call.sagemaker.UpdateTrainingJob", ends)
    assert ends.ended == ["UpdateTrainingJob"]
    assert seen.escaped == []
    [expires] = saved
    assert expires is not None
    entries = system.registry.audit_trail("j1")
    assert "keep-alive-set-outside" not in [e.what for e in entries]
    restored = [e.details for e in entries if e.what == "keep-alive-restored"]
    assert [(d["expires_at"], d["recorded_late"]) for d in restored] == [(expires.isoformat(), True)]
    record = system.registry.get("j1")
    assert record is not None
    assert (record.pool.outside_set_at, record.pool.outside_keep_alive_seconds) == (None, None)
    assert record.pool.expires_at == expires == warm_until(system, "j1")
    told = [n["kind"] for n in system.notifications() if n["job_name"] == "j1"]
    assert "keep-alive-set-outside" not in told


def test_a_step_whose_save_another_write_overtakes_keeps_its_extension(system: System, before: Arm) -> None:
    # The pool's step extends it another hour; just before the step saves, another invocation writes
    # the pool without touching SageMaker (a note on the record). The step's extension stands in
    # SageMaker until its retry decides again: putting the other's older expiry back would cut the
    # pool to the minutes left before the step, and in AWS the retry waits out the queue's visibility
    # timeout, longer than the step's margin, so the pool would be gone first.
    system.set_policy({**POLICY, "defaults": {**POLICY["defaults"], "keep_alive_strategy": "fixed-7200"}})
    step_due(system)

    def note_on_the_record() -> None:
        record = system.registry.get("j1")
        assert record is not None
        system.registry.put(replace(record, notified=(*record.notified, "note")), record.pool.version)

    before("dynamodb.TransactWriteItems", note_on_the_record)
    updates_before = len(system.control.update_calls())
    fire_step(system, Seen())
    system.settle()
    updates = system.control.update_calls()[updates_before:]
    assert updates
    assert [u for u in updates if u["seconds"] < 3000] == []


def test_an_extension_pressed_while_the_pool_s_step_is_decided_is_answered_and_kept(
    system: System, before: Arm
) -> None:
    # alice presses "Extend 60" just as the pool's planned look fires: the look saves first
    system.set_policy(POLICY)
    step_due(system)
    seen = Seen()
    before("sagemaker.UpdateTrainingJob", lambda: fire_step(system, seen))
    slack("warmpool_extend_60")(system, seen)
    assert seen.escaped == []  # answered: not an error Slack shows her
    [answer] = seen.answers
    assert answer.startswith("extend j1: done")
    [(_, promised)] = seen.promised
    system.settle()
    record = system.registry.get("j1")
    assert record is not None
    assert warm_until(system, "j1") == record.pool.expires_at
    system.advance((promised - system.control.now()).total_seconds() - 120, tick=300)
    assert warm_until(system, "j1") is not None


def test_a_release_that_another_request_overtakes_is_answered_done_and_announced_once(
    system: System, before: Arm
) -> None:
    # alice presses "Release", then at once "Extend 60" (second thoughts): SageMaker has released the
    # pool when the extension records the pool as it now is, before the release's decision is saved
    system.set_policy(POLICY)
    pool_warm(system)
    system.notifications()
    seen = Seen()
    slack_release = slack("warmpool_release")
    before("dynamodb.TransactWriteItems", lambda: slack("warmpool_extend_60")(system, seen))
    slack_release(system, seen)
    assert seen.escaped == []
    assert seen.answers[-1].startswith("release j1: done")
    system.settle()
    assert warm_until(system, "j1") is None
    told = [n["kind"] for n in system.notifications() if n["job_name"] == "j1"]
    assert told == ["released"]


def test_a_release_pressed_just_after_an_extension_says_it_ends_the_promise_just_given(
    system: System,
) -> None:
    # "Extend 60" then, a moment later from another desk, "Release": the release goes ahead (a person
    # asked, who may), but neither its answer nor its notice may hide that it takes back what the
    # extension's answer promised a moment before
    system.set_policy(POLICY)
    pool_warm(system)
    system.notifications()
    seen = Seen()
    slack("warmpool_extend_60")(system, seen)
    [(_, promised)] = seen.promised
    slack("warmpool_release")(system, seen)
    assert seen.escaped == []
    ends = f"it ends the promise to keep it warm until {promised:%Y-%m-%d %H:%M:%S} UTC"
    assert seen.answers[-1].startswith("release j1: done")
    assert ends in seen.answers[-1]
    system.settle()
    [released] = [n for n in system.notifications() if n["kind"] == "released"]
    assert ends in released["decision"]["reasons"]


def test_an_extension_whose_pool_a_release_takes_before_it_is_answered_says_the_pool_is_gone(
    system: System, before: Arm
) -> None:
    # alice's "Extend 60" is saved; before her function has answered, "Release" from another desk
    # releases the pool (and says it ends her promise). Answered "done" after that, she was told her
    # pool was kept an hour more while it was already gone.
    system.set_policy(POLICY)
    pool_warm(system)
    system.notifications()
    seen = Seen()
    # alice's writes: her decision, then its notice cleared: the release comes in between
    before("dynamodb.TransactWriteItems", lambda: slack("warmpool_release")(system, seen), nth=2)
    slack("warmpool_extend_60")(system, seen)
    assert seen.escaped == []
    released, extended = seen.answers
    assert released.startswith("release j1: done")
    assert "it ends the promise to keep it warm until" in released
    assert not extended.startswith("extend j1: done"), extended
    assert "j1's pool was released before this answer" in extended
    assert "nothing is kept warm" in extended
    system.settle()
    assert warm_until(system, "j1") is None


def test_an_extension_answered_while_a_release_it_has_not_saved_yet_takes_the_pool_says_so(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    # alice's "Extend 60" is saved and its notice sent; before her function answers, `pools release`
    # from another desk has released the pool in SageMaker and not saved that yet (here: its
    # invocation ends there, its next look records it). The registry still read Available: she was
    # answered "done" of a pool SageMaker had released.
    seen = Seen()
    ends = EndsAfterUpdates()
    other = second_container(monkeypatch)
    armed: list[bool] = []

    def release_before_the_answer(params: dict[str, Any], **_: Any) -> None:
        # her notice is sent, its mark removed: the last write before her answer
        if armed != [True] or params.get("Key", {}).get("sk", {}).get("S") != "UNANNOUNCED":
            return
        armed.append(False)
        ends.to_go = 1  # the release's update lands, then its invocation ends
        with other():
            pools_cmd("release")(system, seen)

    session = boto3.DEFAULT_SESSION
    assert session is not None
    hooks = [
        ("provide-client-params.dynamodb.DeleteItem", release_before_the_answer),
        ("after-call.sagemaker.UpdateTrainingJob", ends),
    ]
    for name, hook in hooks:  # before the functions' clients are made: each copies them
        session.events.register(name, hook)
    try:
        system.set_policy(POLICY)
        pool_warm(system)
        system.notifications()
        armed.append(True)
        slack("warmpool_extend_60")(system, seen)
    finally:
        for name, hook in hooks:
            session.events.unregister(name, hook)
    assert ends.ended == ["UpdateTrainingJob"]
    assert warm_until(system, "j1") is None  # SageMaker released it
    [extended] = seen.answers
    assert not extended.startswith("extend j1: done"), extended
    assert "j1's pool was released before this answer" in extended
    assert "alice asked to release it" in extended
    assert "nothing is kept warm" in extended


def test_a_release_for_the_limit_whose_intent_lands_before_a_decisions_clearing_save_stays_warmpools_own(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    # j0's end is decided (its pool ready) and saved with its notice still to send; while it is sent,
    # alice's `pools extend j1` (vision may now keep one pool warm) releases j0 to make room: it saves
    # its intent with j0, SageMaker releases j0, and its invocation ends before its save. The save that
    # then recorded j0's notice sent rewrote the whole pool item and dropped that intent: the next look
    # found j0 released with nothing to tell warmpool's release from one outside warmpool, and recorded
    # `sagemaker.released`.
    limit = {**POLICY["defaults"], "on_limit": "release-least-valuable"}
    system.set_policy({**POLICY, "defaults": {**limit, "max_warm_instances": 2}})
    pool_warm(system)  # j1's
    j0 = training_job_request("j0", keep_alive_seconds=600, tags=TAGS, volume_size_gb=60)
    system.sagemaker.create_training_job(**j0)
    system.settle()
    system.control.run_for("j0", 300)
    system.emulator.advance(300)  # j0 has ended; its event waits in the queue
    system.notifications()
    seen = Seen()
    other = second_container(monkeypatch)
    armed: list[str] = []
    updated: list[str] = []

    def extend_j1_while_j0s_notice_is_sent(params: dict[str, Any], **_: Any) -> None:
        # j0's decision is saved and its notice being queued: the clearing save comes next
        if armed != ["armed"] or params.get("QueueUrl") != system.env.notify_queue_url:
            return
        armed.append("extend j1")
        system.set_policy({**POLICY, "defaults": {**limit, "max_warm_instances": 1}})
        with other():
            pools_cmd("extend", "j1")(system, seen)

    def note_update(params: dict[str, Any], **_: Any) -> None:
        updated.append(str(params.get("TrainingJobName")))

    def end_after_j0_released(http_response: Any, **_: Any) -> None:
        if armed == ["armed", "extend j1"] and updated[-1:] == ["j0"] and http_response.status_code == 200:
            armed.append("ended")
            raise RuntimeError("injected: the invocation ended after releasing j0")

    session = boto3.DEFAULT_SESSION
    assert session is not None
    hooks: list[tuple[str, Callable[..., None]]] = [
        ("provide-client-params.sqs.SendMessage", extend_j1_while_j0s_notice_is_sent),
        ("provide-client-params.sagemaker.UpdateTrainingJob", note_update),
        ("after-call.sagemaker.UpdateTrainingJob", end_after_j0_released),
    ]
    for name, hook in hooks:  # each client copies them when made
        session.events.register(name, hook)
    for module in HANDLERS:  # clients made from now on carry the hooks
        module.runtime.cache_clear()
    try:
        armed.append("armed")
        system.lifecycle.drain()
    finally:
        for name, hook in hooks:
            session.events.unregister(name, hook)
        for module in HANDLERS:
            module.runtime.cache_clear()
    assert armed == ["armed", "extend j1", "ended"]
    assert warm_until(system, "j0") is None  # SageMaker released it
    record = system.registry.get("j0")
    assert record is not None
    assert record.intent is not None  # the release's intent, kept
    assert record.intent["what"] == "released-for-limit"

    system.advance(300)
    system.reconcile()  # the next look records the release

    record = system.registry.get("j0")
    assert record is not None
    assert record.pool.status.value == "Terminated"
    assert record.last_decision is not None
    assert record.last_decision.rule != "sagemaker.released"
    entries = system.registry.audit_trail("j0")
    released = [e.details for e in entries if e.what == "released-for-limit"]
    assert [d.get("recorded_late") for d in released] == [True]
    assert "sagemaker.released" not in [e.details.get("rule") for e in entries]


def test_a_look_the_reconciler_takes_before_its_step_fires_warns_of_the_expiry_once(system: System) -> None:
    # the pool's expiring-soon look is due; the reconciler runs before the scheduler fires it
    system.set_policy(POLICY)
    step_due(system)
    system.notifications()
    system.reconcile()
    system.settle()  # the step fires all the same
    told = [n["kind"] for n in system.notifications() if n["job_name"] == "j1"]
    assert told == ["expiring-soon"]
    system.advance(3600, tick=300)
    told = [n["kind"] for n in system.notifications() if n["job_name"] == "j1"]
    assert "expiring-soon" not in told


def test_an_extension_whose_notice_a_step_overtakes_is_answered_done_and_granted_once(
    system: System, before: Arm
) -> None:
    # alice's "Extend 60" is decided and saved; the pool's planned look fires before her function has
    # recorded the extension's notice sent
    system.set_policy(POLICY)
    step_due(system)
    asked = system.registry.get("j1")
    assert asked is not None
    assert asked.pool.expires_at is not None
    seen = Seen()
    before("dynamodb.TransactWriteItems", lambda: fire_step(system, seen), nth=2)
    extended_once(system, seen, asked.pool.expires_at)


# ------------------------------------------------------------------ the interleavings
class Interleaver:
    """A before-call hook on every client the functions make: counts A's calls, and at the chosen one
    runs B first, with the functions' runtimes of a second container."""

    def __init__(self, pause_at: int | None, meanwhile: Callable[[], None]) -> None:
        self.calls: list[str] = []
        self.pause_at = pause_at
        self.meanwhile = meanwhile
        self.counting = False

    def __call__(self, event_name: str, **_: Any) -> None:
        if not self.counting:
            return
        index = len(self.calls)
        self.calls.append(event_name.split(".", 1)[1])
        if index == self.pause_at:
            self.counting = False
            try:
                self.meanwhile()
            finally:
                self.counting = True


@dataclass(frozen=True)
class Pair:
    start: Callable[[System], None]
    a: Actor
    b: Actor

    @property
    def id(self) -> str:
        return f"{self.a.__name__}-vs-{self.b.__name__}"


PAIRS = [
    Pair(job_ended, deliver_queued, slack("warmpool_extend_60")),
    Pair(step_due, fire_step, slack("warmpool_release")),
    Pair(step_due, fire_step, reconcile),
    Pair(job_ended, deliver_queued, start_job("j2")),
    Pair(pool_warm, slack("warmpool_extend_60"), slack("warmpool_release")),
    Pair(step_due, pools_cmd("extend"), fire_step),
]
# some of the same pairs the other way round, and more pairs
MORE_PAIRS = [
    Pair(step_due, reconcile, fire_step),
    Pair(pool_warm, slack("warmpool_release"), slack("warmpool_extend_60")),
    Pair(step_due, fire_step, slack("warmpool_extend_60")),
    Pair(step_due, slack("warmpool_extend_60"), reconcile),
    Pair(job_ended, deliver_queued, pools_cmd("release")),
    Pair(pool_warm, slack("warmpool_release"), start_job("j2")),
]


Outcome = tuple[list[str], list[str]]  # A's calls, and what broke
Play = Callable[[int | None], Outcome]


@contextmanager
def at_start(monkeypatch: pytest.MonkeyPatch, pair: Pair) -> Iterator[Play]:
    """The pair's system, from scratch, at its starting point: yields `play(pause_at)`, which runs A with
    B in just before A's call number `pause_at` (None: B not at all; A's number of calls: after the
    whole of A), lets the system settle and checks it. A play changes the system: one per `at_start`,
    or each in a copy of it (`forked`)."""
    with monkeypatch.context() as patch, running_system(patch, EmulatorConfig()) as system:
        session = boto3.DEFAULT_SESSION
        assert session is not None
        seen = Seen()
        other = second_container(patch)

        def meanwhile() -> None:
            with other():
                pair.b(system, seen)

        hook = Interleaver(None, meanwhile)
        session.events.register("before-call.*.*", hook)
        try:
            system.set_policy(POLICY)
            pair.start(system)

            def play(pause_at: int | None) -> Outcome:
                hook.pause_at = pause_at
                hook.counting = True
                pair.a(system, seen)
                hook.counting = False
                if pause_at == len(hook.calls):  # B after the whole of A
                    meanwhile()
                system.settle()
                return hook.calls, check(system, seen)

            yield play
        finally:
            session.events.unregister("before-call.*.*", hook)


@contextmanager
def interleavings(monkeypatch: pytest.MonkeyPatch, pair: Pair) -> Iterator[Play]:
    """Yields `run(pause_at)`: one interleaving (as `at_start`'s `play`), each from the same fresh state.

    Setting the system up (moto's resources, a boto3 session and its clients) and bringing it to the
    starting point are the same for every interleaving, and cost about as much as one: they are done
    once, and each interleaving runs in a copy of this process made there (`forked`). A copy still
    replays A from the start, so the scenario's determinism is checked as before. Where there is no
    fork, each interleaving sets the system up again."""
    if not hasattr(os, "fork"):

        def again(pause_at: int | None) -> Outcome:
            with at_start(monkeypatch, pair) as play:
                return play(pause_at)

        yield again
        return
    with at_start(monkeypatch, pair) as play:
        # what exists now is left out of collections while the copies run: a full collection in a copy
        # would write to every page of the heap and so copy it all (twice the copy's CPU)
        gc.collect()
        gc.freeze()
        try:
            yield lambda pause_at: forked(functools.partial(play, pause_at))
        finally:
            gc.unfreeze()


def forked(fn: Callable[[], Outcome]) -> Outcome:
    """`fn()` in a copy of this process: whatever it changes (moto, the emulator, the clock, the
    functions' runtimes) is gone when this returns. The copy runs only this thread (an xdist worker's
    other thread, its channel's reader, is not copied, and nothing here waits for it), reports back
    through a pipe, and leaves by `os._exit`, never returning into pytest."""
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():  # Python 3.12+: the xdist worker's reader thread is not copied
        warnings.filterwarnings("ignore", r".*multi-threaded.*fork", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            try:
                result: dict[str, Any] = {"outcome": fn()}
            except BaseException:  # reported to the test, which fails with it
                result = {"raised": traceback.format_exc()}
            with os.fdopen(write_end, "w") as out:
                json.dump(result, out)
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(0)
    os.close(write_end)
    report = _read_within(read_end, pid, FORK_DEADLINE_S)
    _, status = os.waitpid(pid, 0)
    if report is None:
        pytest.fail(f"the interleaving's process gave no result within {FORK_DEADLINE_S} s: killed")
    if not report:
        code = os.waitstatus_to_exitcode(status)
        pytest.fail(f"the interleaving's process ended without a result (exit code {code})")
    result = json.loads(report)
    if "raised" in result:
        pytest.fail(f"the interleaving raised:\n{result['raised']}", pytrace=False)
    calls, broken = result["outcome"]
    return calls, broken


# far above what one interleaving takes (a few seconds): a copy stuck on a lock it inherited held
# fails its test instead of hanging the suite
FORK_DEADLINE_S = 300.0


def _read_within(fd: int, pid: int, seconds: float) -> str | None:
    """All the copy writes to `fd` until it closes it, or None (the copy killed) past `seconds`."""
    deadline = time.monotonic() + seconds
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks).decode()
            chunks.append(chunk)
    finally:
        os.close(fd)


NEEDS_FORK = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork: each interleaving sets up anew")


@NEEDS_FORK
def test_what_an_interleaving_changes_is_gone_when_it_returns() -> None:
    changed: list[str] = []

    def changes() -> Outcome:
        changed.append("in the copy")
        return ["dynamodb.GetItem"], []

    assert forked(changes) == (["dynamodb.GetItem"], [])
    assert changed == []


@NEEDS_FORK
def test_an_interleaving_stuck_in_its_copy_fails_its_test_instead_of_hanging_the_suite(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys.modules[__name__], "FORK_DEADLINE_S", 0.5)

    def stuck() -> Outcome:
        time.sleep(60)
        return [], []

    started = time.monotonic()
    with pytest.raises(pytest.fail.Exception, match=r"no result within 0\.5 s: killed"):
        forked(stuck)
    assert time.monotonic() - started < 30


@NEEDS_FORK
def test_an_interleaving_that_raises_fails_the_test_with_its_traceback() -> None:
    # an interleaving runs in a copy of the process: what goes wrong there must not be lost
    def raises() -> Outcome:
        raise RuntimeError("the copy's own error")

    with pytest.raises(pytest.fail.Exception, match="RuntimeError: the copy's own error"):
        forked(raises)


def check(system: System, seen: Seen) -> list[str]:
    """The invariants, once the system has settled; returns what broke."""
    broken = list(seen.escaped)
    # a retryable failure is retried by SQS, and the retry succeeds
    dead = system.messages(system.env.lifecycle_dlq_url) + system.messages(system.env.notify_dlq_url)
    broken += [f"dead-lettered: {m['Body'][:200]}" for m in dead]
    broken += untrue_answers(seen)
    # a person's release answered done outdoes an extension granted before it
    promised = {job: until for job, until in seen.promised if job not in seen.released}
    system.reconcile()
    broken += agree(system, "after settling and a reconcile")
    for job in seen.released:
        job_state = system.emulator.job(job)
        if job_state.warm_pool is None or job_state.warm_pool.status != "Terminated":
            broken.append(f"release of {job} answered done, but its pool is {job_state.warm_pool}")
    for job, until in promised.items():
        ahead = (until - system.control.now()).total_seconds() - 120
        if ahead > 0:
            system.advance(ahead, tick=300)
        job_state = system.emulator.job(job)
        if job_state.warm_pool is None or job_state.warm_pool.status != "Available":
            now = system.control.now()
            broken.append(f"{job} promised warm until {until:%H:%M}, but its pool is gone at {now:%H:%M}")
    for _ in range(36):  # until every pool has ended (an hour's keep-alive at most), or 3 hours
        warm = [j for j in system.emulator.jobs.values() if j.warm_pool and j.warm_pool.status == "Available"]
        if not warm and not system.registry.list_by_status("Available"):
            break
        system.advance(300, tick=300)
    broken += agree(system, "at the end")
    updates = system.control.update_calls()
    broken += [f"keep-alive above the step limit: {u}" for u in updates if u["seconds"] > STEP_LIMIT_SECONDS]
    for job in seen.released:
        at_release = next(i for i, u in enumerate(updates) if u["job"] == job and u["seconds"] == 0)
        later = updates[at_release + 1 :]
        broken += [f"{job} extended after its release: {u}" for u in later if u["job"] == job]
    told: dict[tuple[str, str], int] = {}
    said: dict[tuple[str, str, str | None], int] = {}
    for notice in system.notifications():
        job, kind = notice["job_name"], notice["kind"]
        told[(job, kind)] = told.get((job, kind), 0) + 1
        # an extended pool may be told it expires soon, or that it was extended, again: of its new expiry
        expiry = notice.get("facts", {}).get("warm_until") if kind in PER_EXPIRY else None
        said[(job, kind, expiry)] = said.get((job, kind, expiry), 0) + 1
    broken += [f"{job} told {kind} {n} times ({expiry})" for (job, kind, expiry), n in said.items() if n > 1]
    for job in {u["job"] for u in updates if u["seconds"] == 0}:
        if (job, "released") not in told:
            broken.append(f"{job} released without a notice")
    # (a pool taken by the next job, or released on request, before j1's event was decided never was)
    taken = system.emulator.job("j1").warm_pool
    ready = taken is None or (taken.reused_by is None and "j1" not in seen.released)
    if ("j1", "pool-ready") not in told and ready:
        broken.append("j1 never told its pool is ready")
    return broken


def untrue_answers(seen: Seen) -> list[str]:
    """In the order the people were answered: an extension answered done once a release of the pool
    was (the pool was gone when it was said), and a release answered done after an extension whose
    promise it does not say it ends (a promise taken back without a word)."""
    broken: list[str] = []
    released: set[str] = set()
    promised: set[str] = set()
    for text in seen.answers:
        kind, _, rest = text.partition(" ")
        job = rest.split(":", 1)[0]
        if not rest.startswith(f"{job}: done"):
            continue
        if kind == "extend" and job in released:
            broken.append(f"extension of {job} answered done after its release was: {text}")
        elif kind == "extend":
            promised.add(job)
        elif kind == "release":
            released.add(job)
            if job in promised and "it ends the promise" not in text:
                broken.append(f"release of {job} answered done without the promise it ends: {text}")
    return broken


def agree(system: System, when: str) -> list[str]:
    broken: list[str] = []
    for record in system.registry.list_pools():
        pool = record.pool
        job = system.emulator.job(pool.job_name)
        real = job.warm_pool.status if job.warm_pool is not None else None
        if pool.status.value != real:
            broken.append(
                f"{when}: {pool.job_name} is {pool.status.value} in the registry, {real} in SageMaker"
            )
        elif real == "Available" and pool.expires_at != warm_until(system, pool.job_name):
            broken.append(
                f"{when}: {pool.job_name} expires at {pool.expires_at} in the registry, "
                f"{warm_until(system, pool.job_name)} in SageMaker"
            )
    return broken


def interleave(monkeypatch: pytest.MonkeyPatch, pair: Pair) -> None:
    with interleavings(monkeypatch, pair) as run:
        calls, broken = run(None)
        assert broken == []
        points = range(len(calls) + 1)  # B before each of A's calls, and after the whole of A
        print(f"{pair.id}: {len(points)} interleavings of {len(calls)} calls")
        failures: dict[int, list[str]] = {}
        for index in points:
            again, broken = run(index)
            assert again[:index] == calls[:index], "the scenario is not deterministic"
            if broken:
                where = f"B before {calls[index]}" if index < len(calls) else "B after A"
                failures[index] = [where, *broken]
    assert not failures, "\n".join(f"{i}: {'; '.join(what)}" for i, what in failures.items())


@pytest.mark.exhaustive  # ~230 interleavings, 1-2 minutes of CPU: `make interleavings` runs only these
@pytest.mark.slow  # several seconds a pair: started first, not left for the end of `make test`
@pytest.mark.parametrize("pair", PAIRS + MORE_PAIRS, ids=lambda p: p.id)
def test_two_entry_points_on_one_pool_keep_its_promises_at_every_interleaving(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, pair: Pair
) -> None:
    interleave(monkeypatch, pair)


def test_an_extension_that_releases_a_pool_for_the_limit_is_granted_once_when_that_pool_is_written(
    system: System, before: Arm
) -> None:
    # vision may keep one pool warm and releases its longest-idle one to make room; alice presses
    # "Extend 60" on j1 while j0 (older) is warm too: j0 is released for the limit, and the reconciler
    # writes j0 just before alice's function records it gone
    system.set_policy(
        {
            **POLICY,
            "defaults": {**POLICY["defaults"], "max_warm_instances": 2, "on_limit": "release-least-valuable"},
        }
    )
    system.run_job("j0", 300, keep_alive_seconds=600, tags=TAGS, volume_size_gb=60)
    pool_warm(system)
    asked = system.registry.get("j1")
    assert asked is not None
    assert asked.pool.expires_at is not None
    system.set_policy(
        {
            **POLICY,
            "defaults": {**POLICY["defaults"], "max_warm_instances": 1, "on_limit": "release-least-valuable"},
        }
    )
    seen = Seen()
    # alice's writes: j1's decision, its notice cleared, j0's release notice, j0's notice cleared, j0 gone
    before("dynamodb.TransactWriteItems", lambda: reconcile(system, seen), nth=5)
    told = extended_once(system, seen, asked.pool.expires_at)
    assert told.count(("j0", "released")) == 1


def test_an_extension_answered_released_before_this_answer_replaces_its_message_without_buttons(
    system: System, before: Arm
) -> None:
    # alice's "Extend 60" is saved; "Release" from another desk releases the pool before her press is
    # answered. Her answer said the pool was released, and her message kept its Extend and Release
    # buttons, which could only answer "gone".
    system.set_policy(POLICY)
    pool_warm(system)
    seen = Seen()
    before("dynamodb.TransactWriteItems", lambda: slack("warmpool_release")(system, seen), nth=2)
    slack("warmpool_extend_60")(system, seen)
    _, extended = seen.answers
    assert "j1's pool was released before this answer" in extended
    replaced = [r["body"] for r in system.slack.delivered() if r["body"].get("replace_original")]
    # the release's own message, then alice's: each without buttons
    assert [[b["type"] for b in body["blocks"]] for body in replaced] == [["header", "section"]] * 2
    lines = [line for b in replaced[1]["blocks"] for line in b["text"]["text"].splitlines()]
    assert lines[0] == "Warm pool of j1 no longer warm"
    assert lines[1].startswith("Released by ualice via slack at ")
    assert lines[2].startswith("ualice pressed Extend 60 min at ")
