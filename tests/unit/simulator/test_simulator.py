"""The simulator's arithmetic, its CSV contract, and the JSON document other tools read."""

import json
from pathlib import Path

import pytest
from warmpool.cli.main import main
from warmpool.simulator.replay import Scenario, oracle, replay
from warmpool.simulator.synthetic import bundled_traces
from warmpool.simulator.trace import TraceError, TraceJob, load_trace

# price 3.6 $/h = 0.001 $/s; cold - warm = 100 s; no people cost: a cold start costs 0.1 $ (break-even 100 s)
SCENARIO = Scenario("ml.test", 3.6, 0.0, 120.0, 20.0)
JOBS = [TraceJob(0, 100, "p"), TraceJob(160, 100, "p"), TraceJob(1260, 100, "p")]


def test_costs_by_hand_for_fixed_keep_alive() -> None:
    result = replay(JOBS, SCENARIO, "fixed-600")
    # job 1 ends at 100, job 2 arrives at 160: warm, 60 s idle; job 2 ends at 260, its pool expires at
    # 860 unused (600 s idle); job 3 at 1260 starts cold; after it, 600 s idle again.
    assert (result.cold_starts, result.warm_starts) == (2, 1)
    assert result.idle_instance_seconds == 60 + 600 + 600
    assert result.total_cost_usd == pytest.approx(1260 * 0.001 + 2 * 0.1)


def test_oracle_waits_only_when_it_pays() -> None:
    result = oracle(JOBS, SCENARIO)
    assert (result.cold_starts, result.warm_starts) == (2, 1)  # 60 s wait pays, 1000 s does not
    assert result.idle_instance_seconds == 60
    assert result.total_cost_usd == pytest.approx(0.06 + 0.2)


def test_no_strategy_beats_the_oracle_on_the_bundled_traces() -> None:
    for path in bundled_traces().values():
        jobs = load_trace(path)
        best = oracle(jobs, SCENARIO).total_cost_usd
        for strategy in ("none", "fixed-600", "break-even", "adaptive"):
            assert replay(jobs, SCENARIO, strategy).total_cost_usd >= best - 1e-9, (path.name, strategy)


def test_keep_alive_updates_never_exceed_an_hour() -> None:
    jobs = [TraceJob(0, 100, "p"), TraceJob(3 * 3600, 100, "p")]
    result = replay(jobs, Scenario("ml.test", 3.6, 1000.0, 150.0, 20.0), "fixed-10800")
    assert result.warm_starts == 1
    assert result.keepalive_updates >= 3  # three hours need at least three steps


def test_bad_rows_name_the_line_and_column(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("submit_time_s,duration_s,pool,status\n0,10,a,Running\n5,x,a,Running\n9,1,b,Pending\n")
    with pytest.raises(TraceError, match=r"t\.csv:3: column 'duration_s' must be a number"):
        load_trace(trace)
    trace.write_text("submit_time_s,pool\n0,a\n")
    with pytest.raises(TraceError, match=r"missing column.*duration_s"):
        load_trace(trace)
    trace.write_text("submit_time_s,duration_s,pool,status\n0,10,a,Running\n9,1,b,Pending\n")
    assert [j.pool for j in load_trace(trace)] == ["a"]


def test_cli_json_contract(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = bundled_traces()["hpo-sweep"]
    plot = tmp_path / "plot.png"
    code = main(
        [
            "simulate",
            str(path),
            "--format",
            "json",
            "--people-cost-per-hour",
            "100",
            "--strategies",
            "none,fixed-600,adaptive,static-best",
            "--plot",
            str(plot),
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"scenario", "results"}
    assert report["scenario"]["people_cost_per_hour"] == 100
    assert set(report["results"]) == {"none", "fixed-600", "adaptive", "static-best", "oracle"}
    for row in report["results"].values():
        for key in (
            "total_cost_usd",
            "idle_instance_seconds",
            "cold_starts",
            "warm_starts",
            "keepalive_updates",
            "ratio_to_oracle",
        ):
            assert key in row
    assert report["results"]["oracle"]["ratio_to_oracle"] == 1.0
    assert plot.stat().st_size > 1000


def test_cli_rejects_unknown_strategy(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", str(bundled_traces()["sparse"]), "--strategies", "fixed-ten"])
    assert code == 2
    assert "fixed-<seconds>" in capsys.readouterr().err
