"""`warmpool simulate --policy`: the oracle keeps only what the policy allows, so the ratios compare
each strategy with the best the policy lets anyone do, in the `--format json` a user reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from warmpool.cli.main import main


def _simulate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], trace: str, policy: str | None
) -> dict[str, Any]:
    path = tmp_path / "trace.csv"
    path.write_text(trace)
    args = ["simulate", str(path), "--people-cost-per-hour", "100", "--strategies", "none,fixed-3600"]
    if policy is not None:
        policy_file = tmp_path / "policy.yaml"
        policy_file.write_text(policy)
        args += ["--policy", str(policy_file)]
    assert main([*args, "--format", "json", "--workers", "1"]) == 0
    results: dict[str, Any] = json.loads(capsys.readouterr().out)["results"]
    return results


# second 0 is Monday 2026-01-05 00:00 UTC: a job ends at 17:30, the next comes at 19:00
EVENING = "submit_time_s,duration_s,pool,team\n61200,1800,p,vision\n68400,600,p,vision\n"
WORKING_HOURS = """\
version: 1
defaults:
  working_hours: {timezone: UTC, start: "08:00", end: "18:00", outside: release}
"""
DENIED = """\
version: 1
defaults:
  denied_instance_types: ["ml.g5.*"]
"""


@pytest.mark.parametrize("policy", [WORKING_HOURS, DENIED], ids=["working-hours", "denied-type"])
def test_the_oracle_keeps_no_pool_the_policy_releases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], policy: str
) -> None:
    # without the policy, the oracle keeps the pool the 90 minutes to the next job (cheaper than its
    # cold start at 100 $/h of people's time)
    free = _simulate(tmp_path, capsys, EVENING, None)
    assert (free["oracle"]["cold_starts"], free["oracle"]["warm_starts"]) == (1, 1)
    # the policy releases it at 18:00 (or at once: its type is denied): nobody can keep it until 19:00.
    # The oracle kept it all the same, and `none`, which does the best the policy allows, read 1.23x
    bound = _simulate(tmp_path, capsys, EVENING, policy)
    assert (bound["oracle"]["cold_starts"], bound["oracle"]["warm_starts"]) == (2, 0)
    assert bound["oracle"]["idle_instance_seconds"] == 0
    assert bound["oracle"]["total_cost_usd"] == bound["none"]["total_cost_usd"]
    assert bound["none"]["ratio_to_oracle"] == 1.0
    assert bound["fixed-3600"]["ratio_to_oracle"] >= 1.0


# two pools of one team go idle together, each reused 20 minutes later
TWO_POOLS = (
    "submit_time_s,duration_s,pool,team\n"
    "0,600,p1,vision\n0,600,p2,vision\n1800,600,p1,vision\n1800,600,p2,vision\n"
)


def test_the_oracle_keeps_the_teams_pools_within_its_warm_instance_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    free = _simulate(tmp_path, capsys, TWO_POOLS, None)
    assert (free["oracle"]["cold_starts"], free["oracle"]["warm_starts"]) == (2, 2)
    bound = _simulate(tmp_path, capsys, TWO_POOLS, "version: 1\ndefaults:\n  max_warm_instances: 1\n")
    # one warm instance at a time: one pool waits, the other's job starts cold
    assert (bound["oracle"]["cold_starts"], bound["oracle"]["warm_starts"]) == (3, 1)
    assert bound["oracle"]["idle_instance_seconds"] == 1200
    assert bound["fixed-3600"]["warm_starts"] == 1
    assert bound["fixed-3600"]["ratio_to_oracle"] >= 1.0


def test_the_oracle_keeps_the_teams_pools_within_its_daily_budget(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 20 minutes of ml.g5.2xlarge at the policy's 1.5 $/h is 0.50 $: the budget pays for one wait
    policy = "version: 1\nprices: {ml.g5.2xlarge: 1.5}\ndefaults:\n  budget: {daily_usd: 0.6}\n"
    bound = _simulate(tmp_path, capsys, TWO_POOLS, policy)
    assert (bound["oracle"]["cold_starts"], bound["oracle"]["warm_starts"]) == (3, 1)
    assert bound["oracle"]["idle_cost_usd"] == 0.5
