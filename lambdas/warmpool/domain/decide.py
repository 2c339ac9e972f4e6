"""The keep-alive decision: (pool, policy, clock, fleet) -> Decision. Pure, no AWS."""

from __future__ import annotations

from datetime import datetime

from warmpool.domain.model import (
    Action,
    CostModel,
    Decision,
    EngineLimits,
    FleetView,
    Pool,
    Trigger,
    UserRequest,
    WarmPoolStatus,
)
from warmpool.domain.policy.document import PolicyDocument
from warmpool.domain.stepping import plan_step
from warmpool.domain.strategies import StrategyInput, get_strategy


def decide_keep_alive(
    pool: Pool,
    policy: PolicyDocument,
    now: datetime,
    *,
    limits: EngineLimits | None = None,
    fleet: FleetView | None = None,
    trigger: Trigger = Trigger.JOB_ENDED,
    request: UserRequest | None = None,
    cost: CostModel | None = None,
) -> Decision:
    limits = limits or EngineLimits()
    if pool.status is not WarmPoolStatus.AVAILABLE:
        return Decision(
            action=Action.KEEP,
            keep_alive_seconds=None,
            horizon_seconds=0,
            next_check_at=None,
            rule="status",
            reasons=(f"pool is {pool.status.value}, only Available pools can be updated",),
        )
    strategy = get_strategy(policy.defaults.keep_alive_strategy)
    horizon = strategy.horizon_seconds(
        StrategyInput(pool=pool, cost=cost or CostModel(price_per_instance_hour=1.0), now=now)
    )
    step = plan_step(pool, horizon, now, limits)
    return Decision(
        action=step.action,
        keep_alive_seconds=step.keep_alive_seconds,
        horizon_seconds=step.horizon_seconds,
        next_check_at=step.next_check_at,
        rule="defaults.keep_alive_strategy",
        reasons=(f"strategy {strategy.name} wants {horizon} s of warm time",),
        dry_run=policy.dry_run,
    )
