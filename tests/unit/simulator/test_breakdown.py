"""`simulate --by team|instance_type|pool`: each group's part of every strategy's cost."""

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from warmpool.cli.main import main
from warmpool.simulator.synthetic import bundled_traces

STRATEGIES = "none,fixed-600,adaptive,counterfactual,static-best"


def _two_teams(tmp_path: Path) -> str:
    """The bundled experiment team's trace with its 2-instance pool handed to a second team."""
    with bundled_traces()["experiment-team"].open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["pool"] == "vision-g5x2":
            row["team"] = "speech"
    path = tmp_path / "two-teams.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def _report(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["simulate", *args, "--people-cost-per-hour", "100", "--strategies", STRATEGIES]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


def test_the_groups_add_up_to_the_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _report(capsys, _two_teams(tmp_path), "--by", "team", "--format", "json")
    groups = report["by_team"]
    assert {name: (g["jobs"], g["pools"]) for name, g in groups.items()} == {
        "speech": (108, 1),
        "vision": (197, 1),
    }
    for strategy, whole in report["results"].items():
        parts = [g["results"][strategy] for g in groups.values()]
        for field in ("total_cost_usd", "idle_instance_seconds", "idle_cost_usd", "cold_start_cost_usd"):
            assert sum(p[field] for p in parts) == pytest.approx(whole[field], abs=1e-3), (strategy, field)
        for field in ("cold_starts", "warm_starts", "keepalive_updates"):
            assert sum(p[field] for p in parts) == whole[field], (strategy, field)
    # each group's ratio is to the oracle's cost of its own pools
    for group in groups.values():
        oracle = group["results"]["oracle"]["total_cost_usd"]
        adaptive = group["results"]["adaptive"]
        assert adaptive["ratio_to_oracle"] == pytest.approx(adaptive["total_cost_usd"] / oracle, abs=1e-4)
    # a pool is one group of its own with --by pool: the same parts under the pools' names
    by_pool = _report(capsys, _two_teams(tmp_path), "--by", "pool", "--format", "json")["by_pool"]
    assert by_pool["vision-g5x2"]["results"] == groups["speech"]["results"]


def test_the_table_shows_each_group(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(bundled_traces()["hpo-sweep"]), "--by", "instance_type"]) == 0
    out = capsys.readouterr().out
    assert "\ninstance type ml.g5.2xlarge: 492 jobs in 2 pools\nstrategy" in out
    whole, group = out.split("\ninstance type ")
    rows = [line for line in whole.splitlines() if line.startswith("adaptive ")]
    assert len(rows) == 1
    assert rows[0] in group.splitlines()  # its only group is the whole


def test_an_unknown_breakdown_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["simulate", str(bundled_traces()["sparse"]), "--by", "owner"])
    assert (
        "--by: invalid choice: 'owner' (choose from 'team', 'instance_type', 'pool')"
        in capsys.readouterr().err
    )
