"""Reaching a keep-alive horizon in steps of at most one hour.

SageMaker accepts at most 3600 s per keep-alive setting, counted from the time of the update. A pool
that should stay warm for three hours is therefore extended in steps, and each step schedules the
next look a margin before it runs out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from warmpool.domain.model import Action, Decision, EngineLimits, Pool

# Differences below this are noise (event delays, rounding); no UpdateTrainingJob for them.
TOLERANCE_SECONDS = 30


def horizon_at(pool: Pool, decision: Decision) -> datetime | None:
    """Until when a decision wants an Available pool warm: what the engine records as `horizon_at`
    (the adaptive strategy reads it at the next check to know the pool was kept already)."""
    if pool.available_since is None:
        return None
    return pool.available_since + timedelta(seconds=decision.horizon_seconds)


@dataclass(frozen=True, slots=True)
class KeepAliveStep:
    action: Action
    keep_alive_seconds: int | None  # the value to set now, None for no update
    next_check_at: datetime | None
    horizon_seconds: int  # the horizon actually reachable (after the lifetime cap)
    capped_by_lifetime: bool


def target_expiry(pool: Pool, horizon_seconds: int, limits: EngineLimits) -> tuple[datetime, bool]:
    """When the pool should expire for `horizon_seconds` of idle time, after the lifetime cap."""
    if pool.available_since is None:
        raise ValueError(f"pool {pool.pool_id} has no available_since: it is not idle")
    wanted = pool.available_since + timedelta(seconds=max(0, horizon_seconds))
    cap = limits.lifetime_ends_at(pool)
    if cap is not None and wanted > cap:
        return cap, True
    return wanted, False


def plan_step(pool: Pool, horizon_seconds: int, now: datetime, limits: EngineLimits) -> KeepAliveStep:
    """The next keep-alive step towards `horizon_seconds` of idle time for an Available pool."""
    target, capped = target_expiry(pool, horizon_seconds, limits)
    reachable = int((target - pool.available_since).total_seconds()) if pool.available_since else 0
    wanted_remaining = max(0, int((target - now).total_seconds()))
    current_remaining = (
        max(0, int((pool.expires_at - now).total_seconds())) if pool.expires_at is not None else 0
    )
    step = min(wanted_remaining, limits.max_step_seconds)

    def next_check(after_seconds: int) -> datetime | None:
        # Come back before this step runs out only if the horizon lies beyond it.
        if wanted_remaining <= after_seconds:
            return None
        return now + timedelta(seconds=max(0, after_seconds - limits.step_margin_seconds))

    if wanted_remaining == 0:
        return KeepAliveStep(Action.RELEASE, 0, None, reachable, capped)
    if abs(step - current_remaining) <= TOLERANCE_SECONDS:
        return KeepAliveStep(Action.KEEP, None, next_check(current_remaining), reachable, capped)
    if step > current_remaining:
        return KeepAliveStep(Action.EXTEND, step, next_check(step), reachable, capped)
    return KeepAliveStep(Action.SHORTEN, step, next_check(step), reachable, capped)
