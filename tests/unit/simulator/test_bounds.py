"""The hindsight bounds of threshold rules: the fast replay is the simulator's, and a context that
predicts reuse shows in the bound."""

from datetime import UTC, datetime

import pytest
from warmpool.domain.model import EngineLimits
from warmpool.simulator.bounds import hindsight_bound, replay_fixed
from warmpool.simulator.replay import STATIC_GRID, Scenario, oracle, replay, static_best
from warmpool.simulator.synthetic import bundled_traces
from warmpool.simulator.trace import TraceJob, load_trace

HOUR = 3600.0
DAY = 24 * HOUR
# price 3.6 $/h = 0.001 $/s; cold - warm = 100 s; people's time 360 $/h: a cold start costs 10.1 $,
# as much as 10,100 idle seconds: worth keeping through a 20-minute gap, not through a night
SCENARIO = Scenario("ml.test", 3.6, 360.0, 120.0, 20.0, start=datetime(2026, 1, 5, tzinfo=UTC))


def day_and_night(days: int = 5) -> list[TraceJob]:
    """One pool, weekdays from a Monday: from 08:00 a 10-minute job every 30 minutes (a 20-minute gap
    after each); the last job of the day ends at 18:10 and the next comes at 08:00."""
    jobs = []
    for day in range(days):
        t = day * DAY + 8 * HOUR
        while t <= day * DAY + 18 * HOUR:
            jobs.append(TraceJob(t, 600, "p"))
            t += 1800
    return jobs


@pytest.mark.parametrize("trace", sorted(bundled_traces()))
@pytest.mark.parametrize("seconds", [0, 600, 3600, 14400])
def test_the_fast_replay_costs_what_the_simulator_costs(trace: str, seconds: int) -> None:
    jobs = load_trace(bundled_traces()[trace])
    scenario = Scenario("ml.g5.2xlarge", 1.515, 100.0, 150.0, 20.0)
    assert replay_fixed(jobs, scenario, seconds) == pytest.approx(
        replay(jobs, scenario, f"fixed-{seconds}").by_pool, rel=1e-9
    )


@pytest.mark.parametrize("seconds", [0, 600, 3600])
def test_the_fast_replay_leaves_no_pool_for_a_job_created_without_a_keep_alive(seconds: int) -> None:
    # every third job asked for no warm pool (keep_alive_s 0): it neither leaves nor takes one
    jobs = [TraceJob(n * 900.0, 600, "p", keep_alive_s=0 if n % 3 == 0 else 600) for n in range(12)]
    expected = replay(jobs, SCENARIO, f"fixed-{seconds}")
    assert replay_fixed(jobs, SCENARIO, seconds) == pytest.approx(expected.by_pool, rel=1e-9)
    assert expected.cold_starts >= 4  # the jobs of keep-alive 0 start cold


def test_the_fast_replay_cuts_a_cluster_at_its_maximum_lifetime() -> None:
    limits = EngineLimits(max_lifetime_seconds=int(2 * HOUR))
    scenario = Scenario("ml.test", 3.6, 0.0, 120.0, 20.0, limits=limits)
    # the cluster is provisioned at 0; job 2 ends at 7,000 s, 200 s before the 2-hour lifetime runs out
    jobs = [TraceJob(0, 100, "p"), TraceJob(200, 6800, "p")]
    # a cold start (0.1 $), 100 s idle before job 2 (0.1 $), 200 s idle until the lifetime ends (0.2 $)
    assert replay_fixed(jobs, scenario, 600)["p"] == pytest.approx(0.1 + 0.1 + 0.2)
    assert replay(jobs, scenario, "fixed-600").total_cost_usd == pytest.approx(0.4)


def test_knowing_the_time_of_day_is_worth_what_it_predicts() -> None:
    jobs = day_and_night()
    per_pool = hindsight_bound(jobs, SCENARIO, "pool")
    by_time = hindsight_bound(jobs, SCENARIO)
    best = oracle(jobs, SCENARIO).total_cost_usd
    # per pool only, the choice is one threshold for both gaps: each night pays for the day's keep-alive
    assert per_pool.total_cost_usd == pytest.approx(static_best(jobs, SCENARIO).total_cost_usd)
    assert per_pool.total_cost_usd > 1.04 * best
    # knowing the block of the day: keep 20+ minutes by day, nothing after the last job: the oracle
    assert by_time.total_cost_usd == pytest.approx(best)
    assert by_time.keep_alive[("p", (3, False))] == 0  # the evening block (18:00-24:00) on weekdays
    assert by_time.keep_alive[("p", (1, False))] >= 1200  # the morning block keeps through the gap
    assert set(by_time.keep_alive.values()) <= set(STATIC_GRID)


def test_the_bound_never_beats_the_oracle_nor_loses_to_static_best() -> None:
    jobs = load_trace(bundled_traces()["experiment-team"])
    scenario = Scenario("ml.g5.2xlarge", 1.515, 100.0, 150.0, 20.0)
    bound = hindsight_bound(jobs, scenario).total_cost_usd
    assert oracle(jobs, scenario).total_cost_usd <= bound <= static_best(jobs, scenario).total_cost_usd
