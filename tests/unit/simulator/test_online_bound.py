"""The online bound behind the benchmark: the best keep-alive per time of day, against the oracle."""

import math

import pytest
from warmpool.domain.model import CostModel
from warmpool.simulator.synthetic import experiment_team

from bench.online_bound import Gap, best_keep_alive, main, online_bound, solo_gaps

# 3.6 $/h idle = 0.001 $/s; a cold start costs 100 s at 36 $/h all told = 1 $, as 1,000 s of idling
COST = CostModel(3.6, 1, 32.4, 120.0, 20.0)


def test_the_best_keep_alive_waits_for_gaps_cheaper_than_a_cold_start_when_they_are_likely() -> None:
    c, p = COST.idle_cost_per_second, COST.cold_start_penalty
    assert best_keep_alive([300.0] * 9 + [math.inf], c, p) == 300.0  # a 300 s wait saves 0.7 $ nine times
    assert best_keep_alive([300.0] + [math.inf] * 9, c, p) == 0.0  # nine 0.3 $ waits for one 0.7 $ saving
    assert best_keep_alive([5000.0] * 10, c, p) == 0.0  # waiting costs more than a cold start


def test_knowing_the_time_of_day_reaches_the_oracle_when_the_time_tells_the_gap() -> None:
    # in the morning slot the next job always comes 300 s later; in the evening slot, the next day
    gaps = [Gap(0, 300.0), Gap(1, 50000.0)] * 50
    bound = online_bound(gaps, gaps, COST)
    assert bound.in_sample == pytest.approx(1.0)
    assert bound.held_out == pytest.approx(1.0)
    # one keep-alive for both: either the evening pays 300 s of idling, or the morning a cold start
    assert bound.one_keep_alive == pytest.approx((0.3 + 0.3 + 1.0) / (0.3 + 1.0))


def test_a_scientists_gaps_run_from_each_job_end_to_their_next_job() -> None:
    rows = [r for r in experiment_team(seed=7, days=2) if r["user"] == "dana"]
    gaps = solo_gaps(rows, "dana")
    assert len(gaps) == len(rows) - 1
    first, second = sorted(rows, key=lambda r: float(str(r["submit_time_s"])))[:2]
    ended = float(str(first["submit_time_s"])) + float(str(first["duration_s"]))
    assert gaps[0].seconds == pytest.approx(float(str(second["submit_time_s"])) - ended)
    assert gaps[0].slot == int(ended % 86400) // 600


def test_the_bound_is_printed_for_each_scientist_and_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    report = main(["300"])
    assert len(report) == 2
    assert all(len(by_scenario) == 3 for by_scenario in report.values())
    for by_scenario in report.values():
        for ratios in by_scenario.values():
            assert 1.0 <= ratios["in_sample"] <= ratios["one_keep_alive"] + 0.05
    assert "in sample" in capsys.readouterr().out
