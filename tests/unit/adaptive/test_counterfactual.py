"""The counterfactual strategy: replaying a pool's own history under each keep-alive."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from warmpool.domain.counterfactual import CounterfactualStrategy, best_keep_alive, replay_cost
from warmpool.domain.model import CostModel, IdleGap, MatchKey, Pool, WarmPoolStatus
from warmpool.domain.strategies import StrategyInput, get_strategy
from warmpool.simulator.replay import Scenario, replay
from warmpool.simulator.trace import TraceJob

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
C = 1.0  # idle cost per second, to read the replays in seconds


def gap(minutes_ago: float, seconds: float, reused: bool) -> IdleGap:
    return IdleGap(NOW - timedelta(minutes=minutes_ago), seconds, reused)


def bursts(count: int) -> list[IdleGap]:
    """`count` days of: three clusters go idle within 20 s, one job comes back 10 minutes later."""
    out = []
    for day in range(count, 0, -1):
        start = day * 24 * 60.0
        out += [gap(start, 600, True), gap(start - 1 / 6, 600, False), gap(start - 1 / 3, 600, False)]
    return out


def test_a_replay_charges_idle_seconds_and_cold_starts() -> None:
    history = [gap(60, 100, True)]  # idle an hour ago; the next job came 100 s later
    assert replay_cost(history, NOW, 60, C, 500) == pytest.approx(60 + 500)  # expired: cold start
    assert replay_cost(history, NOW, 120, C, 500) == pytest.approx(100)  # warm
    assert replay_cost(history, NOW, 100, C, 500) == pytest.approx(100 + 500)  # gone as the job came


def test_only_the_newest_of_idle_clusters_is_worth_keeping_for_the_next_job() -> None:
    # The job takes the newest cluster (idle 580 s); a 900 s keep-alive keeps the other two idle 900 s
    # each for nothing: 2,380 idle seconds a burst to save one cold start.
    assert replay_cost(bursts(3), NOW, 900, C, 1) == pytest.approx(3 * (580 + 2 * 900))
    assert replay_cost(bursts(3), NOW, 300, C, 5000) == pytest.approx(3 * (3 * 300 + 5000))
    assert best_keep_alive(bursts(3), NOW, C, penalty=3000) == 600
    assert best_keep_alive(bursts(3), NOW, C, penalty=1500) == 0


def test_a_shape_never_reused_is_not_kept_and_learns_from_its_first_cold_start() -> None:
    strategy = get_strategy("counterfactual")
    assert isinstance(strategy, CounterfactualStrategy)
    cost = CostModel(price_per_instance_hour=1.515, people_cost_per_hour=100.0)

    def horizon(history: tuple[IdleGap, ...]) -> int:
        pool = Pool(
            pool_id="j",
            job_name="j",
            job_arn="",
            match_key=MatchKey("role", "ml.g5.2xlarge", 1, 50),
            status=WarmPoolStatus.AVAILABLE,
            available_since=NOW,
            history=history,
        )
        return strategy.horizon_seconds(StrategyInput(pool, cost, NOW))

    assert horizon(()) == 0
    assert horizon((gap(600, 60, False),)) == 0
    # a cold start 1,000 s after that pool became idle turned its gap into a 1,000 s wait
    assert horizon((gap(600, 1000, True),)) == 1200

    def why(history: tuple[IdleGap, ...]) -> str:
        pool = Pool("j", "j", "", MatchKey("role", "ml.g5.2xlarge", 1, 50), WarmPoolStatus.AVAILABLE)
        return strategy.propose(
            StrategyInput(replace(pool, available_since=NOW, history=history), cost, NOW)
        ).why

    # each proposal says what the replay found, for the decision's reason
    assert why(()) == "no idle gap of this shape on record yet: nothing kept until one shows"
    assert why((gap(600, 60, False),)) == (
        "replayed over the last 1 idle gap of this shape, keeping nothing costs the least of 17 keep-alives"
    )
    assert why((gap(600, 1000, True),)) == (
        "replayed over the last 1 idle gap of this shape, keeping each idle cluster 20 min costs $0.42, "
        "the least of 17 keep-alives (keeping nothing: $3.67)"
    )


def test_in_the_simulator_it_learns_to_keep_a_cluster_for_the_job_that_follows() -> None:
    # each day, three jobs run at once and end together; one more job follows 10 minutes later
    jobs = []
    for day in range(20):
        t = day * 86400.0
        jobs += [TraceJob(t, 600, "shape") for _ in range(3)] + [TraceJob(t + 1200, 600, "shape")]
    people = Scenario(people_cost_per_hour=100.0)  # a cold start costs ~8,700 idle seconds
    result = replay(jobs, people, "counterfactual")
    assert result.warm_starts >= 18  # all but the first days' follow-ups
    assert result.total_cost_usd / replay(jobs, people, "oracle").total_cost_usd < 1.15
    # without people's time a cold start costs 130 idle seconds: three clusters for 600 s never pay
    machines = Scenario(people_cost_per_hour=0.0)
    result = replay(jobs, machines, "counterfactual")
    assert (result.warm_starts, result.idle_instance_seconds) == (0, 0)
