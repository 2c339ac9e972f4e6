"""The online bound behind the benchmark: the best keep-alive per time of day, against the oracle."""

import math

import pytest
from warmpool.domain.model import CostModel
from warmpool.simulator.replay import Scenario
from warmpool.simulator.synthetic import experiment_team

from bench.online_bound import (
    DANA,
    SCIENTISTS,
    SHARED,
    TEAM,
    Gap,
    best_keep_alive,
    hour_and_others_running,
    main,
    online_bound,
    pool_jobs,
    shared_pool,
    solo_gaps,
)

# 3.6 $/h idle = 0.001 $/s; a cold start costs 100 s at 36 $/h all told = 1 $, as 1,000 s of idling
COST = CostModel(3.6, 1, 32.4, 120.0, 20.0)


def test_the_best_keep_alive_waits_for_gaps_cheaper_than_a_cold_start_when_they_are_likely() -> None:
    c, p = COST.idle_cost_per_second, COST.cold_start_penalty
    assert best_keep_alive([300.0] * 9 + [math.inf], c, p) == 300.0  # a 300 s wait saves 0.7 $ nine times
    assert best_keep_alive([300.0] + [math.inf] * 9, c, p) == 0.0  # nine 0.3 $ waits for one 0.7 $ saving
    assert best_keep_alive([5000.0] * 10, c, p) == 0.0  # waiting costs more than a cold start


def test_knowing_the_time_of_day_reaches_the_oracle_when_the_time_tells_the_gap() -> None:
    # in the morning slot the next job always comes 300 s later; in the evening slot, the next day
    fit = [Gap(0, 300.0), Gap(1, 50000.0)] * 50
    fresh = [Gap(0, 240.0), Gap(1, 70000.0)] * 30  # other days, the same habits
    bound = online_bound(fit, fresh, COST)
    assert bound.in_sample == pytest.approx(1.0)
    assert bound.held_out == pytest.approx(1.0)
    assert bound.oracle_usd == pytest.approx(30 * (0.24 + 1.0))
    # one keep-alive for both (300 s): the evening pays 300 s of idling before its cold start
    assert bound.one_keep_alive == pytest.approx((0.24 + 0.3 + 1.0) / (0.24 + 1.0))
    # fresh days whose morning gap outgrew the keep-alive picked: 300 s of idling, then a cold start
    late = online_bound(fit, [Gap(0, 400.0), Gap(1, 70000.0)] * 30, COST)
    assert late.in_sample == pytest.approx(1.0)
    assert late.held_out == pytest.approx((0.3 + 1.0 + 1.0) / (0.4 + 1.0))


def test_a_scientists_gaps_run_from_each_job_end_to_their_next_job() -> None:
    rows = [r for r in experiment_team(seed=7, days=2) if r["user"] == "dana"]
    gaps = solo_gaps(rows, "dana")
    assert len(gaps) == len(rows) - 1
    first, second = sorted(rows, key=lambda r: float(str(r["submit_time_s"])))[:2]
    ended = float(str(first["submit_time_s"])) + float(str(first["duration_s"]))
    assert gaps[0].seconds == pytest.approx(float(str(second["submit_time_s"])) - ended)
    assert gaps[0].slot == int(ended % 86400) // 600


def test_the_bound_is_printed_for_each_pool_and_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    report = main(["60"])
    team = report.pop(TEAM)
    assert set(report) == {*SCIENTISTS, SHARED}
    assert all(len(by_scenario) == 3 for by_scenario in (*report.values(), team))
    for by_scenario in report.values():
        for ratios in by_scenario.values():
            assert 1.0 <= ratios["in_sample"] <= ratios["one_keep_alive"] + 0.05
    for label, estimate in team.items():  # between its two pools' figures
        low, high = sorted((report[DANA][label]["in_sample"], report[SHARED][label]["held_out"]))
        assert low <= estimate["estimate"] <= high
    assert "the team's two pools together" in capsys.readouterr().out


def test_on_a_shared_pool_the_hour_is_learned_from_the_replay() -> None:
    # two people; each comes back 10 minutes after their first job of the morning (a quick reuse) and
    # not again before the evening, whose jobs come back only the next morning (not worth waiting for)
    rows = []
    for day in range(20):
        for k, user in enumerate(("a", "b")):
            for start, duration in ((540 + 20 * k, 30), (580 + 20 * k, 30), (1200 + k, 10)):  # minutes
                submit = day * 86400 + start * 60
                rows.append({"submit_time_s": submit, "duration_s": duration * 60, "pool": "p", "user": user})
    jobs = pool_jobs(rows, "p")
    assert hour_and_others_running(jobs)[:4] == [(9, True), (9, True), (10, True), (10, False)]
    bound = shared_pool(jobs, jobs, Scenario("ml.g5.2xlarge", 1.515, 100.0))
    assert bound.in_sample == pytest.approx(bound.held_out)
    assert bound.held_out == pytest.approx(1.0)  # keep after 9 o'clock ends only: what the oracle does
    assert bound.one_keep_alive > 1.05  # one keep-alive for all waits in vain or starts cold
