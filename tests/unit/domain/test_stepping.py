from datetime import UTC, datetime, timedelta

import pytest
from warmpool.domain.model import Action, EngineLimits, MatchKey, Pool, WarmPoolStatus
from warmpool.domain.stepping import plan_step

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
KEY = MatchKey(
    role_arn="arn:aws:iam::123456789012:role/r",
    instance_type="ml.g5.2xlarge",
    instance_count=1,
    volume_size_gb=30,
)


def idle_pool(keep_alive: int, available_since: datetime = T0) -> Pool:
    return Pool(
        pool_id="job-1",
        job_name="job-1",
        job_arn="arn:job-1",
        match_key=KEY,
        status=WarmPoolStatus.AVAILABLE,
        keep_alive_seconds=keep_alive,
        available_since=available_since,
        expires_at=available_since + timedelta(seconds=keep_alive),
        lifetime_started_at=available_since - timedelta(hours=1),
    )


def test_three_hour_horizon_is_reached_in_one_hour_steps() -> None:
    limits = EngineLimits()
    pool = idle_pool(600)
    now = T0
    updates: list[int] = []
    for _ in range(10):
        step = plan_step(pool, 3 * 3600, now, limits)
        if step.keep_alive_seconds is not None:
            updates.append(step.keep_alive_seconds)
            pool = pool.with_changes(expires_at=now + timedelta(seconds=step.keep_alive_seconds))
        assert all(u <= 3600 for u in updates)
        if step.next_check_at is None:
            break
        assert step.next_check_at == now + timedelta(seconds=3600 - 300)
        now = step.next_check_at
    # steps at 0, 55, 110 and 165 minutes; the last one lands exactly on the 3-hour horizon
    assert updates == [3600, 3600, 3600, 900]
    assert pool.expires_at == T0 + timedelta(hours=3)


def test_shorter_horizon_shortens_and_zero_releases() -> None:
    pool = idle_pool(3600)
    assert plan_step(pool, 900, T0 + timedelta(minutes=5), EngineLimits()).action is Action.SHORTEN
    release = plan_step(pool, 0, T0 + timedelta(minutes=5), EngineLimits())
    assert (release.action, release.keep_alive_seconds) == (Action.RELEASE, 0)


def test_lifetime_cap_is_never_exceeded() -> None:
    limits = EngineLimits(max_lifetime_seconds=2 * 3600)
    pool = idle_pool(600)  # provisioned one hour before it became idle
    step = plan_step(pool, 10 * 3600, T0, limits)
    assert step.capped_by_lifetime
    assert step.keep_alive_seconds == 3600
    assert step.next_check_at is None


def test_limits_reject_a_step_above_one_hour() -> None:
    with pytest.raises(ValueError, match="max_step_seconds"):
        EngineLimits(max_step_seconds=7200)
