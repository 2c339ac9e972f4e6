"""A SageMaker or DynamoDB throttle during a batch: the lifecycle function's AWS calls retry with
backoff, but never past the function's timeout (docs/deploy.md, `LifecycleDlqDepth`)."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import botocore.endpoint
import botocore.retries.bucket
import pytest
from moto.sns.exceptions import SNSException
from moto.sns.models import SNSBackend
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import reconciler
from warmpool.local.pumps import LocalLambdaContext
from warmpool.service import wiring

from infra.constants import LIFECYCLE_TIMEOUT_SECONDS, RECONCILER_TIMEOUT_SECONDS
from tests.integration.conftest import System, emf_documents

NOTIFIER_TIMEOUT_SECONDS = 60  # the stack's (infra/constructs/notifications.py)

TWO_HOURS = {"version": 1, "defaults": {"keep_alive_strategy": "fixed-7200"}}


def virtual_backoff(monkeypatch: pytest.MonkeyPatch) -> Callable[[], float]:
    """botocore's retry back-offs (and its adaptive rate limiter's waits) pass in virtual time, added to
    the real time the invocation's deadline is measured in; returns that clock."""
    slept = [0.0]

    def sleep(seconds: float) -> None:
        slept[0] += seconds

    def clock() -> float:
        return time.monotonic() + slept[0]

    class Condition(threading.Condition):
        def wait(self, timeout: float | None = None) -> bool:
            sleep(timeout or 0.0)  # the rate limiter's wait for a token
            return True

    fake = SimpleNamespace(sleep=sleep, time=lambda: time.time() + slept[0], monotonic=clock)
    monkeypatch.setattr(botocore.endpoint, "time", fake)
    monkeypatch.setattr(botocore.retries.bucket, "time", fake)
    monkeypatch.setattr(
        botocore.retries.bucket, "threading", SimpleNamespace(Condition=Condition, Lock=threading.Lock)
    )
    monkeypatch.setattr(wiring.OVERRIDES, "monotonic", clock, raising=False)
    random.seed(7)  # botocore's jitter
    return clock


def finished_jobs(system: System, names: list[str]) -> list[str]:
    """Each job started, run and ended with a pool; their events, held back from the queue."""
    for name in names:
        tags = {"team": "vision", "owner": "alice"}
        system.sagemaker.create_training_job(**training_job_request(name, keep_alive_seconds=600, tags=tags))
        system.control.run_for(name, 300)
    system.emulator.advance(300)
    return [m["Body"] for m in system.messages(system.env.lifecycle_queue_url)]


def test_a_throttled_batch_ends_before_the_timeout_and_its_events_are_decided_once_after(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    system.set_policy(TWO_HOURS)
    names = [f"thr-{i}" for i in range(5)]
    bodies = finished_jobs(system, names)
    assert len(bodies) == 10  # each job's InProgress and Completed: one batch
    clock = virtual_backoff(monkeypatch)
    system.control.inject_faults("UpdateTrainingJob", "ThrottlingException", count=10_000)  # an outage
    for body in bodies:
        system.sqs.send_message(QueueUrl=system.env.lifecycle_queue_url, MessageBody=body)

    started = clock()
    assert system.lifecycle.pump_once() == 10  # one invocation, of the ten events
    took = clock() - started

    # Lambda ends an invocation at its timeout, and the whole batch comes back, done or not
    assert took < LIFECYCLE_TIMEOUT_SECONDS, f"the batch ran {took:.0f} s, past the function's timeout"
    assert system.lifecycle.stats.failures >= 1  # what it could not do is delivered again
    assert system.control.update_calls() == []

    system.control.clear_faults()  # the throttle is over
    system.settle()

    for name in names:
        record = system.registry.get(name)
        assert record is not None
        assert record.pool.status.value == "Available"
    updates = [(u["job"], u["seconds"]) for u in system.control.update_calls()]
    assert sorted(updates) == [(name, 3600) for name in names]  # each pool kept, once
    ready = [n["job_name"] for n in system.notifications() if n["kind"] == "pool-ready"]
    assert sorted(ready) == names  # each owner told once
    assert system.messages(system.env.lifecycle_dlq_url) == []


def test_calls_outside_an_invocation_keep_every_retry(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the CLI (`pools extend`) is no Lambda: its calls retry as botocore does
    virtual_backoff(monkeypatch)
    bodies = finished_jobs(system, ["cli-1"])
    assert json.loads(bodies[-1])["detail"]["TrainingJobStatus"] == "Completed"
    system.control.inject_faults("DescribeTrainingJob", "ThrottlingException", count=6)
    description = wiring.boto_client("sagemaker").describe_training_job(TrainingJobName="cli-1")
    assert description["TrainingJobStatus"] == "Completed"
    assert system.emulator.fault_counts["DescribeTrainingJob"] == 6


def test_a_throttled_reconciler_run_ends_before_the_timeout_naming_what_it_could_not_repair(
    system: System, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    system.set_policy(TWO_HOURS)
    names = [f"lost-{i:02}" for i in range(20)]
    finished_jobs(system, names)  # every event lost: the reconciler's to repair
    clock = virtual_backoff(monkeypatch)
    system.control.inject_faults("DescribeTrainingJob", "ThrottlingException", count=10_000)
    capsys.readouterr()

    started = clock()
    report = reconciler.handler({}, LocalLambdaContext(remaining_millis=RECONCILER_TIMEOUT_SECONDS * 1000))
    took = clock() - started

    assert took < RECONCILER_TIMEOUT_SECONDS, f"the run took {took:.0f} s, past the function's timeout"
    assert [line.split(":")[0] for line in report["failed"]] == names  # its log names each one
    published = [d for d in emf_documents(capsys.readouterr().out) if "ReconcilerFailures" in d]
    assert [sum(d["ReconcilerFailures"]) for d in published] == [20]  # the alarm's metric

    system.control.clear_faults()  # the throttle is over: the next run repairs them all
    assert system.reconcile()["repaired"] == names
    assert sorted(u["job"] for u in system.control.update_calls()) == names


class ThrottledError(SNSException):
    code = "Throttled"  # SNS's ThrottledException (HTTP 429)
    message = "Rate exceeded"


def sns_throttles(monkeypatch: pytest.MonkeyPatch) -> None:
    """SNS throttles every Publish of the account (`ThrottledException`, as moto's SNS answers it)."""

    def publish(*_: Any, **__: Any) -> None:
        raise ThrottledError()

    monkeypatch.setattr(SNSBackend, "publish", publish)


def test_a_throttled_notifier_batch_ends_before_the_timeout_and_each_copy_goes_once(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    system.set_policy(TWO_HOURS)
    names = [f"told-{i}" for i in range(5)]
    for body in finished_jobs(system, names):
        system.sqs.send_message(QueueUrl=system.env.lifecycle_queue_url, MessageBody=body)
    system.lifecycle.drain()  # five "pool ready" notices queued for the notifier
    clock = virtual_backoff(monkeypatch)

    with monkeypatch.context() as outage:
        sns_throttles(outage)
        started = clock()
        assert system.notifier.pump_once() == 5
        took = clock() - started

    assert took < NOTIFIER_TIMEOUT_SECONDS, f"the batch ran {took:.0f} s, past the function's timeout"
    assert system.notifier.stats.failures == 5  # all delivered again
    assert system.notifications() == []
    system.settle()  # SNS is back
    ready = [n["job_name"] for n in system.notifications() if n["kind"] == "pool-ready"]
    assert sorted(ready) == names  # each once
