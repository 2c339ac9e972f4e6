"""Pools and notifications as the engine builds them (pool_facts plus the kind's keys)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from warmpool.domain.facts import pool_facts
from warmpool.domain.model import (
    Action,
    Decision,
    MatchKey,
    Notification,
    NotificationKind,
    Pool,
    Severity,
    WarmPoolStatus,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def make_pool(name: str = "vision-exp-1", **changes: Any) -> Pool:
    pool = Pool(
        pool_id=name,
        job_name=name,
        job_arn=f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        match_key=MatchKey(
            role_arn="arn:aws:iam::123456789012:role/SageMakerRole",
            instance_type="ml.g5.2xlarge",
            instance_count=2,
            volume_size_gb=100,
            subnets=("subnet-a", "subnet-b"),
            security_group_ids=("sg-1",),
        ),
        status=WarmPoolStatus.AVAILABLE,
        owner="alice",
        team="vision",
        keep_alive_seconds=1800,
        available_since=NOW - timedelta(minutes=30),
        expires_at=NOW + timedelta(minutes=30),
        lifetime_started_at=NOW - timedelta(days=2),
        version=3,
    )
    return pool.with_changes(**changes)


def make_notification(
    kind: NotificationKind,
    *,
    pool: Pool | None = None,
    severity: Severity = Severity.INFO,
    decision: Decision | None = None,
    **extra: Any,
) -> Notification:
    pool = pool or make_pool()
    facts = pool_facts(pool, now=NOW, price_per_instance_hour=1.515)
    facts.update(extra)
    return Notification(
        kind=kind,
        severity=severity,
        pool_id=pool.pool_id,
        job_name=pool.job_name,
        version=pool.version,
        team=pool.team,
        owner=pool.owner,
        facts=facts,
        decision=decision,
    )


def make_decision(
    action: Action = Action.EXTEND, *, rule: str = "working-hours", horizon: int = 3600
) -> Decision:
    return Decision(
        action=action,
        keep_alive_seconds=1800,
        horizon_seconds=horizon,
        next_check_at=NOW + timedelta(minutes=25),
        rule=rule,
        reasons=("inside working hours: kept warm until 18:00",),
    )
