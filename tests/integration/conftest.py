"""An end-to-end system on moto: the warm-pool emulator, the stack's resources, the real handlers, and
pumps standing in for Lambda's SQS polling and for EventBridge Scheduler. Reused by every integration
test (lifecycle, notifications, CLI, demo, chaos)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from moto import mock_aws
from moto.sns.models import Subscription
from warmpool.adapters.registry import DynamoPoolRegistry
from warmpool.domain.clock import ManualClock
from warmpool.emulator import EmulatorConfig, LocalControl, WarmPoolEmulator, warm_pool_emulator
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import lifecycle, notifier, reconciler, slack_interactive
from warmpool.local.pumps import LocalLambdaContext, QueuePump, SchedulePump
from warmpool.local.resources import LocalEnvironment, create_local_environment
from warmpool.local.slack_standin import SlackStandIn
from warmpool.service import wiring

from infra.constants import RECONCILER_TIMEOUT_SECONDS, SLACK_PRESSES_TIMEOUT_SECONDS

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning


@dataclass
class System:
    emulator: WarmPoolEmulator
    control: LocalControl
    env: LocalEnvironment
    sagemaker: Any
    sqs: Any
    ssm: Any
    registry: DynamoPoolRegistry
    lifecycle: QueuePump
    notifier: QueuePump
    schedules: SchedulePump
    presses: QueuePump  # the Slack worker on the presses the endpoint queued
    slack: SlackStandIn  # where Slack's hosts are: the presses' response URLs point at it
    api_calls: dict[str, int] = field(default_factory=dict)
    # DynamoDB Queries by what they read ("<index or table>:<first key value>"): calls and items returned
    queries: dict[str, int] = field(default_factory=dict)
    items_read: dict[str, int] = field(default_factory=dict)

    def clear_counts(self) -> None:
        for counts in (self.api_calls, self.queries, self.items_read):
            counts.clear()

    def set_policy(self, policy: dict[str, Any]) -> None:
        self.ssm.put_parameter(
            Name=self.env.policy_parameter, Value=json.dumps(policy), Type="String", Overwrite=True
        )

    def settle(self) -> None:
        """Deliver everything that is due: queued events and fired schedules, until quiet."""
        for _ in range(50):
            moved = self.lifecycle.drain() + self.schedules.fire_due() + self.notifier.drain()
            if moved == 0:
                return
        raise AssertionError("the system did not settle after 50 rounds")

    def advance(self, seconds: float, tick: float = 60.0) -> None:
        """Move virtual time in ticks, letting schedules fire and events flow at each tick."""
        remaining = seconds
        while remaining > 0:
            step = min(tick, remaining)
            self.emulator.advance(step)
            remaining -= step
            self.settle()

    def run_job(self, name: str, seconds: float, **request: Any) -> None:
        """Start a training job (`training_job_request(name, **request)`), let it run `seconds` and
        move time on until it has ended and the engine has decided its pool."""
        self.sagemaker.create_training_job(**training_job_request(name, **request))
        self.settle()
        self.control.run_for(name, seconds)
        self.advance(seconds)

    def press(self, event: dict[str, Any]) -> tuple[int, str]:
        """A request to the Slack endpoint, and the answer the person sees: the endpoint's status, and
        the text the worker posted to the press's response URL once it applied the press (the last one
        posted, to any path of the stand-in), else the acknowledgement's own text (a refusal before
        the press was queued, or a press with no response URL)."""
        posted = len(self.slack.received)
        response = slack_interactive.handler(event, None)
        status, text = response["statusCode"], json.loads(response["body"])["text"]
        if status == 200 and text.startswith("Working on it: "):
            self.presses.drain()
            answers = [r["body"]["text"] for r in self.slack.received[posted:]]
            text = answers[-1] if answers else text
        return status, text

    def reconcile(self) -> dict[str, Any]:
        # with the time the stack gives a run (a throttled call is not retried past it)
        context = LocalLambdaContext(remaining_millis=RECONCILER_TIMEOUT_SECONDS * 1000)
        result: dict[str, Any] = reconciler.handler({}, context)
        self.settle()
        return result

    def messages(self, queue_url: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                return out
            for message in batch:
                out.append(message)
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    def notifications(self) -> list[dict[str, Any]]:
        """What the engine asked to be said (SNS copies, read from the subscriber queue)."""
        return [json.loads(json.loads(m["Body"])["Message"]) for m in self.messages(self.sns_queue_url)]

    sns_queue_url: str = ""


def subscribe(topic_arn: str, name: str, filter_policy: dict[str, Any] | None = None) -> str:
    """An SQS queue subscribed to the topic (raw delivery off: the SNS envelope shows the subject)."""
    sqs = boto3.client("sqs")
    sns = boto3.client("sns")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {"FilterPolicy": json.dumps(filter_policy)} if filter_policy else {}
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)
    return str(url)


_RUNNING: list[System] = []  # the systems running now, the latest last


def current_system() -> System:
    """The system running now (for a helper called without it)."""
    return _RUNNING[-1]


def response_url(path: str = "pressed") -> str | None:
    """A response URL of the running system's stand-in for Slack (None when no system runs): where a
    press's answer is posted when a test names none."""
    return _RUNNING[-1].slack.url(path) if _RUNNING else None


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig()


@pytest.fixture
def system(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, emulator_config: EmulatorConfig
) -> Iterator[System]:
    with running_system(monkeypatch, emulator_config) as system:
        yield system


@functools.cache
def _signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@contextmanager
def running_system(monkeypatch: pytest.MonkeyPatch, emulator_config: EmulatorConfig) -> Iterator[System]:
    """The `system` fixture's system, for a test that runs one scenario from scratch many times (each
    under a monkeypatch of its own: the stack's variables and the wiring's overrides are set on it)."""
    clock = ManualClock(START)
    # moto signs what SNS delivers with a key of each subscription's own, made at its first delivery
    # (a tenth of a second of CPU, as much as a scenario's whole lifecycle); no test checks a signature
    signing_key = _signing_key()
    monkeypatch.setattr(Subscription, "private_key", lambda _: signing_key)
    with mock_aws(), warm_pool_emulator(emulator_config, clock) as emulator:
        env = create_local_environment(boto3)
        for key, value in env.env().items():
            monkeypatch.setenv(key, value)
        slack = SlackStandIn().start()
        # the presses' response URLs point at the stand-in, which stands where Slack's hosts are
        monkeypatch.setenv("SLACK_RESPONSE_ORIGINS", slack.origin)
        monkeypatch.setattr(wiring.OVERRIDES, "clock", clock)
        monkeypatch.setattr(wiring.OVERRIDES, "sleep", emulator.advance)
        for module in (lifecycle, reconciler, notifier, slack_interactive):
            module.runtime.cache_clear()
        sqs = boto3.client("sqs")
        api_calls: dict[str, int] = {}

        def count(event_name: str, **_: Any) -> None:
            operation = event_name.rsplit(".", maxsplit=1)[-1]
            api_calls[operation] = api_calls.get(operation, 0) + 1

        queries: dict[str, int] = {}
        items_read: dict[str, int] = {}

        def query_target(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            first: dict[str, str] = next(iter(params.get("ExpressionAttributeValues", {}).values()), {})
            context["query_target"] = f"{params.get('IndexName', 'table')}:{first.get('S', '')}"

        def count_items(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            target = context.get("query_target", "table:")
            queries[target] = queries.get(target, 0) + 1
            items_read[target] = items_read.get(target, 0) + len(parsed.get("Items", []))

        hooks = [
            ("before-call.*.*", count),
            ("provide-client-params.dynamodb.Query", query_target),
            ("after-call.dynamodb.Query", count_items),
        ]
        session = boto3.DEFAULT_SESSION
        for name, hook in hooks if session else ():
            session.events.register(name, hook)
        system = System(
            emulator=emulator,
            control=LocalControl(emulator),
            env=env,
            sagemaker=boto3.client("sagemaker"),
            sqs=sqs,
            ssm=boto3.client("ssm"),
            registry=DynamoPoolRegistry(
                env.pools_table, boto3.client("dynamodb"), audit_table_name=env.audit_table
            ),
            lifecycle=QueuePump(sqs, env.lifecycle_queue_url, lifecycle.handler),
            notifier=QueuePump(sqs, env.notify_queue_url, notifier.handler),
            schedules=SchedulePump(boto3.client("scheduler"), sqs, env.scheduler_group, clock),
            presses=QueuePump(
                sqs,
                env.slack_press_queue_url,
                slack_interactive.worker,
                batch_size=1,
                timeout_seconds=SLACK_PRESSES_TIMEOUT_SECONDS,
            ),
            slack=slack,
            api_calls=api_calls,
            queries=queries,
            items_read=items_read,
        )
        system.sns_queue_url = subscribe(env.topic_arn, "all-notifications")
        _RUNNING.append(system)
        try:
            yield system
        finally:
            _RUNNING.remove(system)
            slack.stop()
            for module in (lifecycle, reconciler, notifier, slack_interactive):
                module.runtime.cache_clear()
            # a system made again and again (`running_system`) must not leave its counters on the session
            for name, hook in hooks if session else ():
                session.events.unregister(name, hook)


def first_send_fails(system: System, says: Callable[[str], bool]) -> Iterator[list[str]]:
    """For a fixture: the engine's first SendMessage to the notify queue whose body `says` fails (a
    transient SQS error); SQS then delivers the event being processed again. Yields the failed bodies."""
    failed: list[str] = []

    def fail_once(params: dict[str, Any], **_: Any) -> None:
        body = str(params.get("MessageBody", ""))
        if params.get("QueueUrl") == system.env.notify_queue_url and not failed and says(body):
            failed.append(body)
            raise RuntimeError("injected: SQS unavailable")

    with hooked("provide-client-params.sqs.SendMessage", fail_once):
        yield failed


def emf_documents(output: str) -> Iterator[dict[str, Any]]:
    """The CloudWatch embedded-metric-format documents among a function's output lines (its logs are
    the other lines): each has `_aws.CloudWatchMetrics` and the metrics' values by name."""
    for line in output.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "_aws" in document:
            yield document


def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's retry back-offs and its adaptive rate limiter's waits for a token take no time: a
    throttle the functions retry past is failed at once, as it would be after its waits."""
    import botocore.retries.bucket

    monkeypatch.setattr("time.sleep", lambda _seconds: None)
    monkeypatch.setattr(botocore.retries.bucket.TokenBucket, "_acquire", lambda _self, amount, block: True)


@contextmanager
def hooked(event: str, hook: Callable[..., object]) -> Iterator[None]:
    """`hook` on every client's `event` (e.g. `provide-client-params.dynamodb.PutItem`: it sees each
    call's parameters, and raising fails the call; `needs-retry.dynamodb.PutItem`: a number it returns
    has botocore send the call again) while inside. Entered before the functions' clients
    are made: a client copies the session's hooks when it is made."""
    session = boto3.DEFAULT_SESSION
    assert session is not None
    session.events.register(event, hook)
    try:
        yield
    finally:
        session.events.unregister(event, hook)
