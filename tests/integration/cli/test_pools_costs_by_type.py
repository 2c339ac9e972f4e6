"""`warmpool pools costs` says how much of a team's idle cost came from each instance type: the ledger
books each type's share beside the total, and the pools idle now are added to their own type's."""

import json
from pathlib import Path

import boto3
import pytest
from warmpool.cli.main import main

from tests.integration.conftest import System


def _costs(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, dict[str, object]]:
    capsys.readouterr()  # what the functions logged meanwhile
    assert main(["pools", "costs", *args, "--format", "json"]) == 0
    return {r["team"]: r for r in json.loads(capsys.readouterr().out)["teams"]}


def test_costs_break_a_team_s_idle_cost_down_by_instance_type(
    system: System, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "job"}})
    research = {"tags": {"team": "research"}}
    system.run_job("g5-1", 60, keep_alive_seconds=600, instance_type="ml.g5.2xlarge", **research)
    system.run_job("p4d-1", 60, keep_alive_seconds=600, instance_type="ml.p4d.24xlarge", **research)
    system.advance(600, tick=300)  # both idled their 10 minutes, then expired: booked in the ledger
    system.run_job("g5-2", 60, keep_alive_seconds=1800, instance_type="ml.g5.2xlarge", **research)
    system.advance(300)  # g5-2 idle now, for 5 minutes so far
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nteams:\n  research: {budget: {daily_usd: 50}}\n")
    row = _costs(capsys, "--policy", str(policy))["research"]
    parts = {p["instance_type"]: p for p in row["by_instance_type"]}  # type: ignore[attr-defined]
    assert list(parts) == ["ml.g5.2xlarge", "ml.p4d.24xlarge"]
    # the p4d's 10 minutes at 37.688 $/h, booked when it expired
    assert parts["ml.p4d.24xlarge"]["idle_today_usd"] == round(600 * 37.688 / 3600, 2) == 6.28
    assert parts["ml.p4d.24xlarge"]["booked_usd"] == 0.0
    # g5-1's 10 minutes (ledger) and g5-2's 5 so far (idle now), and g5-2's 25 minutes still booked
    g5 = parts["ml.g5.2xlarge"]
    idle_now = g5["idle_today_usd"] - round(600 * 1.515 / 3600, 2)
    assert 0.12 <= idle_now <= 0.15  # 5 to 6 minutes at 1.515 $/h, as the ticks fall
    assert g5["booked_usd"] == row["booked_usd"]
    # the parts add up to the team's figures (each rounded to the cent: within a cent a part)
    for field in ("idle_today_usd", "idle_month_usd", "booked_usd"):
        assert abs(sum(p[field] for p in parts.values()) - row[field]) <= 0.01 * len(parts)
    # the table says the same, one line per team and type
    assert main(["pools", "costs", "--policy", str(policy), "--by", "instance-type"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "team",
        "day",
        "instance_type",
        "idle_today_usd",
        "idle_month_usd",
        "booked_usd",
    ]
    cells = [line.split() for line in lines[1:] if line.startswith("research")]
    assert [c[2] for c in cells] == ["ml.g5.2xlarge", "ml.p4d.24xlarge"]
    assert cells[1][3:] == ["6.28", "6.28", "0.00"]
    assert cells[0][3] == f"{g5['idle_today_usd']:.2f}"


def test_costs_read_ledger_items_older_versions_booked_without_a_type(
    system: System, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # a day and month booked before the breakdown (the total alone), then a gap booked with its type
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "job"}})
    dynamodb = boto3.client("dynamodb")
    for sk in ("DAY#2026-03-02", "MONTH#2026-03"):
        dynamodb.put_item(
            TableName=system.env.pools_table,
            Item={"pk": {"S": "LEDGER#vision"}, "sk": {"S": sk}, "usd_micros": {"N": "2500000"}},
        )
    system.run_job("v-1", 60, keep_alive_seconds=600, instance_type="ml.g5.2xlarge", tags={"team": "vision"})
    system.advance(600, tick=300)
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\n")
    row = _costs(capsys, "--policy", str(policy))["vision"]
    g5 = round(600 * 1.515 / 3600, 2)
    assert row["idle_today_usd"] == round(2.5 + 600 * 1.515 / 3600, 2)
    assert row["by_instance_type"] == [
        {
            "instance_type": "ml.g5.2xlarge",
            "idle_today_usd": g5,
            "idle_month_usd": g5,
            "booked_usd": 0.0,
            "stand_in_price": False,
        },
        {
            "instance_type": None,
            "idle_today_usd": 2.5,
            "idle_month_usd": 2.5,
            "booked_usd": 0.0,
            "stand_in_price": False,
        },
    ]
    assert main(["pools", "costs", "--policy", str(policy), "--by", "instance-type"]) == 0
    out = capsys.readouterr().out
    older = [line for line in out.splitlines() if "(no type: booked before the breakdown)" in line]
    assert len(older) == 1
    assert older[0].split()[:2] == ["vision", "2026-03-02"]
    assert older[0].split()[-3:] == ["2.50", "2.50", "0.00"]


def test_a_team_with_nothing_idle_has_no_parts(
    system: System, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nteams:\n  audio: {budget: {daily_usd: 5}}\n")
    row = _costs(capsys, "--policy", str(policy))["audio"]
    assert (row["idle_today_usd"], row["by_instance_type"]) == (0.0, [])
    # the table by instance type keeps the team, and says it has nothing idle
    assert main(["pools", "costs", "--policy", str(policy), "--by", "instance-type"]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("audio")]
    assert [line[2:] for line in lines] == [["(nothing", "idle)", "0.00", "0.00", "0.00"]]


def test_the_engine_s_decision_on_an_unpriced_instance_type_says_it_and_how_to_price_it(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # the built-in table has no ml.g6e.xlarge: its pool was kept as long as idling at $1.00 an hour
    # costs a cold start, and the decision's reasons (trail, Slack, SNS) said nothing of the price
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "break-even"}})
    system.run_job("g6e-1", 60, keep_alive_seconds=600, instance_type="ml.g6e.xlarge", tags={"team": "cv"})
    said = (
        "no price for ml.g6e.xlarge: its idle time is counted at a stand-in $1.00 per instance-hour, not "
        "at what SageMaker bills; add it under `prices` in the policy (USD per instance-hour)"
    )
    decided = [e for e in system.registry.audit_trail("g6e-1") if e.what == "decision"]
    assert decided
    assert decided[-1].details["reasons"][-1] == said
    capsys.readouterr()
    assert main(["pools", "show", "g6e-1"]) == 0
    assert f"      - {said}" in capsys.readouterr().out.splitlines()
