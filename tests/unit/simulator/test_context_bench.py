"""The context analysis behind the benchmark: when a context predicts reuse, it shows."""

import csv
from pathlib import Path

import pytest
from warmpool.simulator.replay import Scenario

from bench.context import CONTEXTS, held_out, job_ends, main

# price 3.6 $/h = 0.001 $/s; cold - warm = 100 s at 36 $/h all told: a cold start costs 1,000 idle seconds
SCENARIO = Scenario("ml.test", 3.6, 32.4, 120.0, 20.0)


def write_trace(path: Path) -> None:
    # one pool; every failed job is resubmitted 60 s after it ends, a finished one only 2 hours later
    rows = []
    t = 0.0
    for i in range(400):
        failed = i % 2 == 0
        rows.append(
            {"submit_time_s": t, "duration_s": 600, "pool": "p", "status": "Failed" if failed else "Ok"}
        )
        t += 600 + (60 if failed else 7200)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["submit_time_s", "duration_s", "pool", "status"])
        writer.writeheader()
        writer.writerows(rows)


def test_a_predictive_context_is_worth_what_it_predicts(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    write_trace(trace)
    jobs, ends = job_ends(trace)
    split = jobs[len(jobs) // 2].submit_s
    by_pool, _ = held_out(jobs, ends, CONTEXTS["pool"], SCENARIO, split)
    by_status, in_hindsight = held_out(jobs, ends, CONTEXTS["pool + ending job's status"], SCENARIO, split)
    assert by_status == pytest.approx(1.0)  # keep 60+ s after a failure, release after a success
    assert in_hindsight == pytest.approx(1.0)
    assert by_pool > 1.05  # one threshold for both: each success pays for idling after it


def test_the_command_prints_a_row_per_context_and_rejects_a_missing_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "t.csv"
    write_trace(trace)
    assert main([str(trace), "--people-cost-per-hour", "0"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in CONTEXTS)
    assert main([str(tmp_path / "missing.csv")]) == 2
    assert "no such trace" in capsys.readouterr().err
