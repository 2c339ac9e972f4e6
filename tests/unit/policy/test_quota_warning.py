"""The account's warm-pool quota the policy states (`warm_pool_quotas`, `quota_warning_at`): when the
platform admins are warned, and the values the validator refuses."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from warmpool.domain.decide import decide_keep_alive
from warmpool.domain.model import FleetPool, FleetView, MatchKey, Pool, WarmPoolStatus
from warmpool.domain.policy import PolicyError, parse_policy
from warmpool.domain.policy.rules import quota_warning

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TYPE = "ml.g5.2xlarge"


def pool(name: str = "job-1", *, instance_type: str = TYPE, count: int = 1) -> Pool:
    return Pool(
        pool_id=name,
        job_name=name,
        job_arn="",
        status=WarmPoolStatus.AVAILABLE,
        job_status="Completed",
        match_key=MatchKey("arn:role", instance_type, count, 50),
        team="vision",
        owner="alice",
        tags={"team": "vision", "owner": "alice"},
        job_keep_alive_seconds=600,
        keep_alive_seconds=600,
        available_since=NOW,
        expires_at=NOW + timedelta(seconds=600),
        lifetime_started_at=NOW,
    )


def fleet(*pools: tuple[str, str, int]) -> FleetView:
    """Available pools of any team as (pool id, instance type, instances)."""
    return FleetView(
        available_pools=tuple(FleetPool(i, "nlp", t, n, NOW, False) for i, t, n in pools),
    )


def policy(**top: Any) -> Any:
    return parse_policy({"version": 1, **top})


@pytest.mark.parametrize(
    ("others", "count", "expected"),
    [
        ((), 1, None),  # 1 of 2: below 80 %
        ((("other", TYPE, 1),), 1, 2),  # 2 of 2: warned, counting every team's pools
        ((("other", "ml.p4d.24xlarge", 4),), 1, None),  # another type does not count
        ((("job-1", TYPE, 1),), 1, None),  # the pool itself, as the fleet lists it, counts once
        ((), 3, 3),  # one pool above the quota on its own (a quota raised since, or stated wrong)
    ],
)
def test_the_admins_are_warned_when_a_type_reaches_the_share_of_its_quota(
    others: tuple[tuple[str, str, int], ...], count: int, expected: int | None
) -> None:
    warning = quota_warning(pool(count=count), policy(warm_pool_quotas={TYPE: 2}), fleet(*others))
    assert (warning.current if warning else None) == expected
    if warning:
        assert (warning.instance_type, warning.quota) == (TYPE, 2)
        assert "new jobs that ask for a keep-alive get no warm pool" in warning.reason
        assert f'Service Quotas: SageMaker, "{TYPE} for training warm pool usage"' in warning.reason


def test_the_share_is_the_policy_s_and_a_type_without_a_quota_is_never_warned() -> None:
    seven_of_ten = fleet(("other", TYPE, 6))
    assert quota_warning(pool(), policy(warm_pool_quotas={TYPE: 10}), seven_of_ten) is None  # 80 %
    # 0.7 * 10 is 7.000000000000001 in floating point: 7 of 10 still reaches 70 %
    assert quota_warning(pool(), policy(warm_pool_quotas={TYPE: 10}, quota_warning_at=0.7), seven_of_ten)
    assert quota_warning(pool(), policy(), fleet(("other", TYPE, 99))) is None


def test_a_quota_changes_no_decision() -> None:
    """SageMaker enforces the quota, not warmpool: the same pool is decided alike with and without."""
    crowded = fleet(("other", TYPE, 5))
    without = decide_keep_alive(
        pool(), policy(defaults={"keep_alive_strategy": "fixed-3600"}), NOW, fleet=crowded
    )
    quoted = policy(defaults={"keep_alive_strategy": "fixed-3600"}, warm_pool_quotas={TYPE: 2})
    assert decide_keep_alive(pool(), quoted, NOW, fleet=crowded) == without


@pytest.mark.parametrize(
    ("top", "problem"),
    [
        (
            {"warm_pool_quotas": {TYPE: -1}},
            f"warm_pool_quotas.{TYPE}: Input should be greater than or equal to 0. Raise it.",
        ),
        (
            {"warm_pool_quotas": {TYPE: 2.5}},
            f"warm_pool_quotas.{TYPE}: Input should be a valid integer, got a number with a fractional "
            "part. Use a whole number.",
        ),
        (
            {"warm_pool_quotas": {"g5.2xlarge": 8}},
            "warm_pool_quotas: g5.2xlarge is not a SageMaker instance type; write it as SageMaker and "
            "Service Quotas name it, e.g. ml.g5.2xlarge: 8.",
        ),
        *(
            (
                {"quota_warning_at": value},
                f"quota_warning_at: must be a share of the quota above 0 and at most 1, got {shown}. Write "
                "it as a fraction, e.g. quota_warning_at: 0.8 to be warned at 80 % of the quota.",
            )
            for value, shown in ((0, "0"), (80, "80"), (1.5, "1.5"), ("80%", "'80%'"), (True, "True"))
        ),
    ],
)
def test_bad_quotas_are_refused_naming_the_path_and_the_fix(top: dict[str, Any], problem: str) -> None:
    with pytest.raises(PolicyError) as err:
        policy(**top)
    assert err.value.problems == [problem]
