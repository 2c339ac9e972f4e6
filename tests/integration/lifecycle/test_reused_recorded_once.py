"""A pool the next job took is recorded Reused once: one `recorded` entry with `state=Reused` in its
trail, however the predecessor's event, its retries, the join and the reconciler interleave. A QA pass
once saw the entry several times; each interleaving below is one that could write it again."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import lifecycle, reconciler
from warmpool.models.events import STEP_DETAIL_TYPE, STEP_SOURCE

from tests.integration.conftest import System, hooked

POLICY = {"version": 1, "defaults": {"keep_alive_strategy": "fixed-1800"}}
TAGS = {"team": "vision", "owner": "alice"}


def recorded_reused(system: System, pool_id: str = "j1") -> list[str]:
    """The trail's `recorded` entries of state Reused, by the trigger that wrote each."""
    return [
        str(e.details.get("trigger"))
        for e in system.registry.audit_trail(pool_id)
        if e.what == "recorded" and e.details.get("state") == "Reused"
    ]


def joined(system: System) -> None:
    """j2 is in j1's lineage, on j1's pool id, and no pool of its own is left."""
    record = system.registry.get("j1")
    assert record is not None
    assert (record.pool.job_name, record.pool.lineage) == ("j2", ("j1", "j2"))
    assert system.registry.get("j2") is None


def fresh_clients() -> None:
    for module in (lifecycle, reconciler):  # clients made from now on carry the hooks
        module.runtime.cache_clear()


@pytest.fixture
def warm(system: System) -> Iterator[System]:
    """j1 ran and ended; its pool is warm and decided."""
    system.set_policy(POLICY)
    system.run_job("j1", 300, keep_alive_seconds=600, tags=TAGS)
    yield system
    fresh_clients()


def take_pool(system: System) -> list[dict[str, Any]]:
    """j2, of j1's shape, takes its warm pool: j1 Reused; the events it sent, taken off the queue."""
    system.sagemaker.create_training_job(**training_job_request("j2", keep_alive_seconds=600, tags=TAGS))
    return system.messages(system.env.lifecycle_queue_url)


def send(system: System, messages: list[dict[str, Any]]) -> None:
    for message in messages:
        system.sqs.send_message(QueueUrl=system.env.lifecycle_queue_url, MessageBody=message["Body"])


def of_job(messages: list[dict[str, Any]], job: str) -> list[dict[str, Any]]:
    return [m for m in messages if json.loads(m["Body"])["detail"]["TrainingJobName"] == job]


def describe_of_fails(job: str) -> Callable[..., None]:
    """DescribeTrainingJob of `job` throttled past botocore's retries, every time."""

    def fail(params: dict[str, Any], **_: Any) -> None:
        if params.get("TrainingJobName") == job:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "injected"}}, "Describe")

    return fail


def step_of_j1(system: System) -> str:
    """j1's planned look, as EventBridge Scheduler sends it."""
    record = system.registry.get("j1")
    assert record is not None
    assert record.next_check_at is not None
    step = {
        "TrainingJobName": "j1",
        "PoolId": "j1",
        "Step": record.pool.steps_taken,
        "At": record.next_check_at.strftime("%Y-%m-%dT%H:%M"),
    }
    return json.dumps({"source": STEP_SOURCE, "detail-type": STEP_DETAIL_TYPE, "detail": step})


def fire(system: System, step: str) -> None:
    """The step sent (already on its way when j1 was recorded Reused: a cancel that came too late)."""
    system.sqs.send_message(QueueUrl=system.env.lifecycle_queue_url, MessageBody=step)


def test_a_step_retried_while_the_join_fails_records_the_pool_reused_once(warm: System) -> None:
    # j2 took j1's pool; its events are late. j1's step finds j1 Reused, records it, and joins j2, whose
    # describe is throttled: the step fails, and SQS delivers it again, and again. Each delivery found
    # j1 Reused as saved, saved it again and wrote `recorded state=Reused` again (five in the trail)
    step = step_of_j1(warm)
    events = take_pool(warm)
    with hooked("provide-client-params.sagemaker.DescribeTrainingJob", describe_of_fails("j2")):
        fresh_clients()
        fire(warm, step)
        warm.lifecycle.drain()
    fresh_clients()
    send(warm, events)  # j2's own event, once SageMaker answers
    warm.settle()

    assert recorded_reused(warm) == ["step-due"]
    joined(warm)


def test_the_reconciler_looking_at_the_pool_as_its_step_records_it_reused_records_it_once(
    warm: System,
) -> None:
    # the reconciler lists j1 Available in the registry and not in SageMaker's listing; before it looks
    # at j1, j1's step records it Reused and its join finds j2's describe throttled
    step = step_of_j1(warm)
    events = take_pool(warm)
    went: list[str] = []

    def meanwhile(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key", {}).get("pk", {}).get("S") == "JOB#j1" and not went:
            went.append("step")
            with hooked("provide-client-params.sagemaker.DescribeTrainingJob", describe_of_fails("j2")):
                fresh_clients()
                fire(warm, step)
                warm.lifecycle.pump_once()
            fresh_clients()

    with hooked("provide-client-params.dynamodb.GetItem", meanwhile):
        fresh_clients()
        reconciler.handler({}, None)
    fresh_clients()
    assert went == ["step"]
    send(warm, events)
    warm.settle()
    warm.reconcile()

    assert recorded_reused(warm) == ["step-due"]
    joined(warm)


def test_the_step_duplicated_and_after_the_join_records_the_pool_reused_once(warm: System) -> None:
    # j1's step delivered twice, then j2's event, then the step once more (out of order): the later
    # ones find the pool moved on to j2
    step = step_of_j1(warm)
    events = take_pool(warm)
    fire(warm, step)
    fire(warm, step)
    warm.lifecycle.drain()
    send(warm, events)
    fire(warm, step)
    warm.settle()
    warm.reconcile()

    assert recorded_reused(warm) == ["step-due"]
    joined(warm)
