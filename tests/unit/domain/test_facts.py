"""What a notice says a pool's idling cost so far: until now, or until SageMaker ended the pool."""

from datetime import UTC, datetime, timedelta

from warmpool.domain.facts import digest_pool_facts
from warmpool.domain.model import MatchKey, Pool, WarmPoolStatus

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEY = MatchKey(
    role_arn="arn:aws:iam::123456789012:role/r",
    instance_type="ml.g5.2xlarge",
    instance_count=2,
    volume_size_gb=30,
)


def warm_pool(keep_alive_seconds: int) -> Pool:
    """Idle since T0 on its job's keep-alive, provisioned a day before."""
    return Pool(
        pool_id="job-1",
        job_name="job-1",
        job_arn="arn:job-1",
        match_key=KEY,
        status=WarmPoolStatus.AVAILABLE,
        keep_alive_seconds=keep_alive_seconds,
        available_since=T0,
        expires_at=T0 + timedelta(seconds=keep_alive_seconds),
        lifetime_started_at=T0 - timedelta(days=1),
    )


def test_a_pool_costs_nothing_after_its_expiry_or_its_maximum_lifetime() -> None:
    warm = digest_pool_facts(warm_pool(3600), now=T0 + timedelta(minutes=30), price_per_instance_hour=2.0)
    assert warm["idle_cost_so_far_usd"] == 2.0  # 2 instances, half an hour at $2 an hour each
    # the digest came an hour after SageMaker ended the pool, and still counted that hour
    expired = digest_pool_facts(warm_pool(600), now=T0 + timedelta(hours=1), price_per_instance_hour=2.0)
    assert expired["idle_cost_so_far_usd"] == round(4.0 * 600 / 3600, 4)
    # its lifetime (the stack's max_lifetime_days) ended 15 minutes into the job's hour of keep-alive
    lifetime_end = T0 + timedelta(minutes=15)
    ended = digest_pool_facts(
        warm_pool(3600),
        now=T0 + timedelta(hours=2),
        price_per_instance_hour=2.0,
        lifetime_ends_at=lifetime_end,
    )
    assert ended["idle_cost_so_far_usd"] == 1.0
