"""`warmpool simulate` on a trace with `keep_alive_s` (as `trace export` writes it): a job created with a
keep-alive of 0 has no warm pool in SageMaker, so no strategy can keep its cluster warm, nor can it take
another job's warm pool."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from warmpool.cli.main import main

STRATEGIES = "none,fixed-600,fixed-3600,break-even,adaptive,job"


def _simulate(tmp_path: Path, capsys: pytest.CaptureFixture[str], trace: str) -> dict[str, Any]:
    path = tmp_path / "trace.csv"
    path.write_text(trace)
    args = ["simulate", str(path), "--people-cost-per-hour", "100", "--strategies", STRATEGIES]
    assert main([*args, "--format", "json", "--workers", "1"]) == 0
    results: dict[str, Any] = json.loads(capsys.readouterr().out)["results"]
    return results


def test_a_job_created_without_a_keep_alive_leaves_no_pool_to_keep_warm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the first job asked for no warm pool; the next comes 5 minutes after it ended
    results = _simulate(
        tmp_path, capsys, "submit_time_s,duration_s,pool,keep_alive_s\n0,600,p,0\n900,600,p,600\n"
    )
    for strategy in [*STRATEGIES.split(","), "oracle"]:
        # before, every strategy but `job` (and the oracle) kept the first job's cluster for the second:
        # a warm start SageMaker could not give, as nothing extends a pool that never went warm
        assert (results[strategy]["cold_starts"], results[strategy]["warm_starts"]) == (2, 0), strategy
    # the second job's own pool is kept by fixed-600 for its 600 s, nobody takes it
    assert results["fixed-600"]["idle_instance_seconds"] == 600
    assert results["none"]["ratio_to_oracle"] == 1.0


def test_a_job_created_without_a_keep_alive_takes_no_warm_pool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a reusing job must ask for a keep-alive itself: the second cannot take the first one's pool
    results = _simulate(
        tmp_path, capsys, "submit_time_s,duration_s,pool,keep_alive_s\n0,600,p,600\n900,600,p,0\n"
    )
    for strategy in [*STRATEGIES.split(","), "oracle"]:
        assert (results[strategy]["cold_starts"], results[strategy]["warm_starts"]) == (2, 0), strategy
    # fixed-3600 kept the first pool its hour for nothing; the oracle kept nothing
    assert results["fixed-3600"]["idle_instance_seconds"] == 3600
    assert results["oracle"]["idle_instance_seconds"] == 0


def test_without_the_column_every_job_can_take_and_leave_a_pool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "trace.csv"
    path.write_text("submit_time_s,duration_s,pool\n0,600,p\n900,600,p\n")
    assert main(["simulate", str(path), "--strategies", "fixed-600", "--format", "json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert (results["fixed-600"]["cold_starts"], results["fixed-600"]["warm_starts"]) == (1, 1)
