"""A notification whose sending failed is sent when the event is processed again: nothing said is lost
after the decision that says it was saved."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.integration.conftest import System, first_send_fails


@pytest.fixture
def first_notification_fails(system: System) -> Iterator[list[str]]:
    """The first notification fails to send, after the decision it announces was saved."""
    yield from first_send_fails(system, lambda _: True)


@pytest.fixture
def first_release_of_room_1_fails(system: System) -> Iterator[list[str]]:
    """The first "released" notice about room-1 fails to send, after SageMaker released its pool."""
    yield from first_send_fails(
        system, lambda body: '"kind": "released"' in body and '"job_name": "room-1"' in body
    )


@pytest.mark.parametrize(
    ("strategy", "kind", "status"),
    [("fixed-7200", "pool-ready", "Available"), ("none", "released", "Terminated")],
)
def test_a_notification_that_failed_to_send_is_sent_on_the_retry(
    system: System, first_notification_fails: list[str], strategy: str, kind: str, status: str
) -> None:
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": strategy}})
    system.run_job("n-1", 300, keep_alive_seconds=600, tags={"team": "nlp", "owner": "alice"})
    system.advance(120)

    assert len(first_notification_fails) == 1
    assert f'"kind": "{kind}"' in first_notification_fails[0]
    said = system.notifications()
    assert [n["kind"] for n in said] == [kind]  # sent once, after all
    assert said[0]["job_name"] == "n-1"
    record = system.registry.get("n-1")
    assert record is not None
    assert record.pool.status.value == status
    assert record.unannounced == ()


def test_a_no_warm_pool_warning_that_failed_to_send_is_sent_on_the_retry(
    system: System, first_notification_fails: list[str]
) -> None:
    system.control.set_quota("ml.g5.2xlarge", 0)
    system.run_job("q-1", 300, keep_alive_seconds=600, tags={"team": "nlp", "owner": "alice"})
    system.advance(120)

    assert len(first_notification_fails) == 1
    assert [n["kind"] for n in system.notifications()] == ["no-warm-pool"]


def test_a_pool_released_to_make_room_tells_its_owner_once_when_thefirst_send_fails(
    system: System, first_release_of_room_1_fails: list[str]
) -> None:
    rules = {
        "keep_alive_strategy": "fixed-3600",
        "max_warm_instances": 1,
        "on_limit": "release-least-valuable",
    }
    system.set_policy({"version": 1, "teams": {"vision": rules}})
    system.run_job("room-1", 300, tags={"team": "vision", "owner": "alice"})
    system.run_job("room-2", 300, volume_size_gb=60, tags={"team": "vision", "owner": "bob"})
    # room-1 made room for room-2: released in SageMaker before its owner's notice failed to send
    assert len(first_release_of_room_1_fails) == 1
    job = system.sagemaker.describe_training_job(TrainingJobName="room-1")
    assert job["WarmPoolStatus"]["Status"] == "Terminated"
    said = system.notifications()
    told = [(n["kind"], n["owner"]) for n in said if n["job_name"] == "room-1"]
    assert told == [("pool-ready", "alice"), ("released", "alice")]
    (notice,) = [n for n in said if n["job_name"] == "room-1" and n["kind"] == "released"]
    assert notice["decision"]["action"] == "release"  # room-1's own release, and the rule that made room
    assert notice["decision"]["rule"].startswith("teams.vision")
    # later looks (the reconciler, room-2's next steps) tell nobody again
    system.reconcile()
    system.advance(2 * 3600, tick=300)
    again = [n["kind"] for n in system.notifications() if n["job_name"] == "room-1"]
    assert again == []
    record = system.registry.get("room-1")
    assert record is not None
    assert record.pool.status.value == "Terminated"
    assert record.unannounced == ()


@pytest.mark.parametrize("writes", [1, 4], ids=["once", "at-every-read-again"])
def test_a_pool_released_to_make_room_while_its_own_look_writes_it_tells_its_owner_once(
    system: System, writes: int
) -> None:
    # room-1's record is written by another invocation (its own scheduled look, say) after room-2's
    # decision read it, while SageMaker released it; and, the second time, after each time the engine
    # read it again: the "released" notice must still go out, once
    session = boto3.DEFAULT_SESSION
    assert session is not None
    touched: list[int] = []

    def write_room_1() -> None:
        record = system.registry.get("room-1")  # the test's own client: no hooks
        assert record is not None
        touched.append(system.registry.put(record, record.pool.version).pool.version)

    def while_released(params: dict[str, Any], **_: Any) -> None:
        if params.get("TrainingJobName") != "room-1" or touched:
            return
        if params.get("ResourceConfig", {}).get("KeepAlivePeriodInSeconds") == 0:
            write_room_1()

    def after_read(params: dict[str, Any], **_: Any) -> None:
        if touched and len(touched) < writes and params.get("Key", {}).get("pk") == {"S": "POOL#room-1"}:
            write_room_1()

    rules = {
        "keep_alive_strategy": "fixed-3600",
        "max_warm_instances": 1,
        "on_limit": "release-least-valuable",
    }
    system.set_policy({"version": 1, "teams": {"vision": rules}})
    reads: list[dict[str, Any]] = []  # an after-call hook is not given the call's parameters

    def remember(params: dict[str, Any], **_: Any) -> None:
        reads.append(params)

    def after(**_: Any) -> None:
        after_read(reads[-1])

    hooks = [
        ("provide-client-params.sagemaker.UpdateTrainingJob", while_released),
        ("provide-client-params.dynamodb.GetItem", remember),
        ("after-call.dynamodb.GetItem", after),
    ]
    for name, hook in hooks:
        session.events.register(name, hook)
    try:
        system.run_job("room-1", 300, tags={"team": "vision", "owner": "alice"})
        system.run_job("room-2", 300, volume_size_gb=60, tags={"team": "vision", "owner": "bob"})
    finally:
        for name, hook in hooks:
            session.events.unregister(name, hook)
    assert len(touched) == writes  # the concurrent writes happened
    job = system.sagemaker.describe_training_job(TrainingJobName="room-1")
    assert job["WarmPoolStatus"]["Status"] == "Terminated"
    system.reconcile()
    system.advance(2 * 3600, tick=300)
    told = [(n["kind"], n["owner"]) for n in system.notifications() if n["job_name"] == "room-1"]
    assert told == [("pool-ready", "alice"), ("released", "alice")]
    record = system.registry.get("room-1")
    assert record is not None
    assert record.pool.status.value == "Terminated"
    assert record.unannounced == ()
