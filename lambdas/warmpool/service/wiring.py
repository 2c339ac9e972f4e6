"""Composition root: the lifecycle service on boto3 adapters, built once per Lambda container."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from warmpool.adapters.deadline import InvocationDeadline
from warmpool.domain.clock import Clock, SystemClock
from warmpool.domain.model import EngineLimits, Notification
from warmpool.domain.policy.document import PolicyDocument
from warmpool.service.lifecycle import LifecycleService
from warmpool.service.ports import Metrics, NullMetrics, PoolRegistry, SageMakerPort
from warmpool.settings import EngineSettings


@dataclass
class Overrides:
    """What the local harness (tests, demo, chaos replay) swaps: the clock and the sleep function, and
    what the CLI's flags set: the endpoint and the region. In Lambda all stay at their defaults."""

    clock: Clock | None = None
    sleep: Callable[[float], object] | None = None
    endpoint_url: str | None = None
    region: str | None = None  # `warmpool pools extend|release --region`; Lambda reads AWS_REGION
    # what an invocation's deadline is measured by (`INVOCATION`): a test's virtual time, when botocore's
    # back-offs pass in it
    monotonic: Callable[[], float] | None = None


OVERRIDES = Overrides()


# The running invocation's deadline, which the handlers set: no AWS call made by `boto_client`'s clients
# retries past it.
def _monotonic() -> float:
    return (OVERRIDES.monotonic or time.monotonic)()


INVOCATION = InvocationDeadline(clock=_monotonic)


def boto_client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    # Throttling and 5xx are retried with adaptive backoff; permanent errors surface at once.
    # Inside a function's invocation, no retry runs past its timeout (INVOCATION: the handler's deadline).
    config = Config(retries={"mode": "adaptive", "max_attempts": 6}, connect_timeout=5, read_timeout=20)
    return INVOCATION.watch(
        boto3.client(
            service, config=config, endpoint_url=OVERRIDES.endpoint_url, region_name=OVERRIDES.region
        )
    )


def current_clock() -> Clock:
    return OVERRIDES.clock or SystemClock()


def build_lifecycle_service(
    settings: EngineSettings, *, metrics: Metrics, clock: Clock | None = None
) -> LifecycleService:
    from warmpool.adapters.policy_store import SsmPolicySource
    from warmpool.adapters.queues import SqsNotificationOutbox
    from warmpool.adapters.registry import DynamoPoolRegistry
    from warmpool.adapters.sagemaker import SageMakerAdapter
    from warmpool.adapters.scheduler import EventBridgeStepScheduler

    clock = clock or current_clock()
    return LifecycleService(
        sagemaker=SageMakerAdapter(boto_client("sagemaker")),
        registry=DynamoPoolRegistry(
            settings.pools_table_name, boto_client("dynamodb"), audit_table_name=settings.audit_table_name
        ),
        scheduler=EventBridgeStepScheduler(
            boto_client("scheduler"),
            group_name=settings.scheduler_group_name,
            role_arn=settings.scheduler_role_arn,
            target_arn=settings.scheduler_target_arn,
        ),
        outbox=SqsNotificationOutbox(boto_client("sqs"), settings.notify_queue_url),
        policies=SsmPolicySource(
            boto_client("ssm"),
            settings.policy_parameter_name,
            cache_seconds=settings.policy_cache_seconds,
            clock=clock,
            metrics=metrics,
        ),
        clock=clock,
        metrics=metrics,
        limits=settings.engine_limits(),
        sleep=OVERRIDES.sleep or time.sleep,
    )


class ReadOnlyError(RuntimeError):
    """A service that may only read (`build_preview_service`) was asked to schedule or notify."""


class _Refuses:
    """The step scheduler and the notification outbox of a service that may only read: whatever path
    of the engine's code it takes, nothing is scheduled or sent."""

    def schedule(self, *, pool_id: str, job_name: str, step: int, at: datetime, purpose: str) -> str:
        raise ReadOnlyError(f"a look at {job_name}'s pool would be scheduled by a service that only reads")

    def exists(self, name: str) -> bool:
        raise ReadOnlyError(f"the schedule {name} would be looked up by a service that only reads")

    def cancel(self, name: str) -> None:
        raise ReadOnlyError(f"the schedule {name} would be cancelled by a service that only reads")

    def send(self, notification: Notification) -> None:
        raise ReadOnlyError(f"a {notification.kind.value} notice would be sent by a service that only reads")


def build_preview_service(
    sagemaker: SageMakerPort,
    registry: PoolRegistry,
    policy: PolicyDocument,
    *,
    clock: Clock,
    limits: EngineLimits,
) -> LifecycleService:
    """The lifecycle service `warmpool policy explain --job` asks what the engine would decide
    (`LifecycleService.preview`): the engine's code on the command's clients, by the policy it was
    given and the deployment's limits, at `clock`. It has no scheduler or outbox to use, and never
    sleeps: the command waits for nothing."""
    from warmpool.adapters.policy_store import StaticPolicySource

    return LifecycleService(
        sagemaker=sagemaker,
        registry=registry,
        scheduler=_Refuses(),
        outbox=_Refuses(),
        policies=StaticPolicySource(policy),
        clock=clock,
        metrics=NullMetrics(),
        limits=limits,
        sleep=lambda _: None,
    )
