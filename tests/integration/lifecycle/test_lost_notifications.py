"""A notification whose sending failed is sent when the event is processed again: nothing said is lost
after the decision that says it was saved."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.integration.conftest import System


@pytest.fixture
def first_notification_fails(system: System) -> Iterator[list[str]]:
    """The engine's first SendMessage to the notify queue fails (a transient SQS error), after the
    decision it announces was saved; SQS then delivers the event again."""
    session = boto3.DEFAULT_SESSION
    assert session is not None
    failed: list[str] = []

    def fail_once(params: dict[str, Any], **_: Any) -> None:
        if params.get("QueueUrl") == system.env.notify_queue_url and not failed:
            failed.append(params["MessageBody"])
            raise RuntimeError("injected: SQS unavailable")

    # registered before the handlers' clients exist: a client copies the session's hooks when made
    session.events.register("provide-client-params.sqs.SendMessage", fail_once)
    try:
        yield failed
    finally:
        session.events.unregister("provide-client-params.sqs.SendMessage", fail_once)


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
