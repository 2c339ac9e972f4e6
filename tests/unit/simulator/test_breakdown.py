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


def _report(capsys: pytest.CaptureFixture[str], *args: str, strategies: str = STRATEGIES) -> dict[str, Any]:
    assert main(["simulate", *args, "--people-cost-per-hour", "100", "--strategies", strategies]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


# One pool, `shared`, that two teams take in turn, and a pool of beta's own. At 3.6 $/h an idle second
# costs 0.001 $; a cold start keeps the job and its people (36 $/h) waiting 150 - 20 = 130 s more than a
# warm one: 130 x (3.6 + 36) / 3600 = 1.43 $.
SHARED = """submit_time_s,duration_s,pool,team
0,100,shared,alpha
200,100,shared,beta
2000,100,shared,beta
2150,100,shared,alpha
2400,100,shared,alpha
5000,100,solo,beta
"""
COLD = 1.43


def _shared(tmp_path: Path) -> str:
    path = tmp_path / "shared.csv"
    path.write_text(SHARED)
    return str(path)


def test_each_team_pays_for_what_its_own_jobs_caused_on_a_shared_pool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [_shared(tmp_path), "--price-per-hour", "3.6", "--people-cost-per-hour", "36", "--by", "team"]
    strategies = "none,fixed-600,static-best"
    assert main(["simulate", *args, "--format", "json", "--strategies", strategies]) == 0
    teams = json.loads(capsys.readouterr().out)["by_team"]
    assert {name: (team["jobs"], team["pools"]) for name, team in teams.items()} == {
        "alpha": (3, 1),
        "beta": (3, 2),  # its jobs ran on both pools
    }

    def row(team: str, strategy: str) -> tuple[float, ...]:
        got = teams[team]["results"][strategy]
        keys = ("total_cost_usd", "idle_instance_seconds", "cold_starts", "warm_starts", "keepalive_updates")
        return tuple(got[key] for key in keys)

    # fixed-600 on `shared`: alpha's first job starts cold and leaves the cluster idle 100 s, until
    # beta's job takes it warm; beta's job leaves it idle 600 s (gone at 900). Beta's next job starts
    # cold at 2000 and leaves it idle 50 s, until alpha's job takes it warm, which leaves it idle 150 s
    # until alpha's last job, which leaves it idle 600 s. Beta's job on its own pool starts cold and
    # leaves it idle 600 s. One keep-alive set per idle period.
    assert row("alpha", "fixed-600") == pytest.approx((COLD + 0.1 + 0.15 + 0.6, 850, 1, 2, 3))
    assert row("beta", "fixed-600") == pytest.approx((2 * COLD + 0.6 + 0.05 + 0.6, 1250, 2, 1, 3))
    # the oracle waits 100 s after alpha's first job, 50 s after beta's second and 150 s after alpha's (each
    # cheaper than 1.43 $), not 1700 s
    assert row("alpha", "oracle") == pytest.approx((COLD + 0.1 + 0.15, 250, 1, 2, 2))
    assert row("beta", "oracle") == pytest.approx((2 * COLD + 0.05, 50, 2, 1, 1))
    assert teams["alpha"]["results"]["fixed-600"]["ratio_to_oracle"] == pytest.approx(
        (COLD + 0.85) / (COLD + 0.25), abs=1e-4
    )
    assert teams["beta"]["results"]["fixed-600"]["ratio_to_oracle"] == pytest.approx(
        (2 * COLD + 1.25) / (2 * COLD + 0.05), abs=1e-4
    )
    # none: each job starts cold, its own team paying its wait; one release after each job
    assert row("alpha", "none") == pytest.approx((3 * COLD, 0, 3, 0, 3))
    assert row("beta", "none") == pytest.approx((3 * COLD, 0, 3, 0, 3))
    # static-best keeps `shared` 300 s (the cheapest: it waits 100, 50 and 150 s and lets the 1700 s
    # go) and `solo` 0 s; each team pays its part of that choice: alpha the 100 s, the 150 s and 300 s
    # after its last job, beta 300 s after its first job and the 50 s
    assert row("alpha", "static-best") == pytest.approx((COLD + 0.55, 550, 1, 2, 3))
    assert row("beta", "static-best") == pytest.approx((2 * COLD + 0.35, 350, 2, 1, 3))

    assert main(["simulate", *args, "--strategies", strategies]) == 0
    assert "\nteam beta: 3 jobs in 2 pools\n" in capsys.readouterr().out


@pytest.mark.parametrize("trace", ["two-teams", "shared"])
def test_the_groups_add_up_to_the_whole(
    trace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _two_teams(tmp_path) if trace == "two-teams" else _shared(tmp_path)
    strategies = f"{STRATEGIES},break-even"
    report = _report(capsys, path, "--by", "team", "--format", "json", strategies=strategies)
    groups = report["by_team"]
    assert {name: (g["jobs"], g["pools"]) for name, g in groups.items()} == (
        {"speech": (108, 1), "vision": (197, 1)}
        if trace == "two-teams"
        else {"alpha": (3, 1), "beta": (3, 2)}
    )
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
    if trace == "two-teams":  # a pool is one group of its own with --by pool: the same parts
        by_pool = _report(capsys, path, "--by", "pool", "--format", "json", strategies=strategies)["by_pool"]
        assert by_pool["vision-g5x2"]["results"] == groups["speech"]["results"]


def test_teams_that_share_no_pool_get_the_figures_they_always_got(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The three bundled traces in one, each team on pools of its own: every team's figures are
    exactly those `--by team` gave when a pool's team was its first job's (adaptive left out: it is
    tuned, and its figures move with it)."""
    rows = [row for path in bundled_traces().values() for row in csv.DictReader(path.open(newline=""))]
    path = tmp_path / "three-teams.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    strategies = "none,fixed-600,break-even,static-best"
    teams = _report(capsys, str(path), "--by", "team", "--format", "json", strategies=strategies)["by_team"]
    got = {
        name: (team["jobs"], team["pools"], {s: r["total_cost_usd"] for s, r in team["results"].items()})
        for name, team in teams.items()
    }
    assert got == {
        "platform": (
            179,
            3,
            {"none": 656.1817, "fixed-600": 701.3792, "break-even": 1275.7377, "oracle": 652.6098}
            | {"static-best": 656.1817},
        ),
        "research": (
            492,
            2,
            {"none": 1803.5832, "fixed-600": 76.6614, "break-even": 131.2687, "oracle": 72.6214}
            | {"static-best": 74.6414},
        ),
        "vision": (
            305,
            2,
            {"none": 1123.9834, "fixed-600": 690.3604, "break-even": 565.6049, "oracle": 347.811}
            | {"static-best": 497.9766},
        ),
    }


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
