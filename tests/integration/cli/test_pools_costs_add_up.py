"""`warmpool pools costs`: what is left of a budget is a difference of the figures it shows."""

import json
from pathlib import Path

import pytest
from warmpool.cli.main import main

from tests.integration.conftest import System


def test_what_is_left_is_the_budget_less_the_figures_shown_when_a_pool_is_booked_past_midnight(
    system: System, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # 09:01 UTC is 23:01 in Kiritimati (UTC+14): the pool's hour of keep-alive ends after its midnight,
    # and what it books after midnight is tomorrow's budget's, not today's
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "job"}})
    p4d = {"instance_type": "ml.p4d.24xlarge", "tags": {"team": "pacific"}}
    system.run_job("k-1", 60, keep_alive_seconds=3600, **p4d)
    system.advance(600)
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nteams:\n  pacific:\n    budget: {daily_usd: 50, monthly_usd: 500}\n"
        "    timezone: Pacific/Kiritimati\n"
    )
    capsys.readouterr()  # what the functions logged meanwhile
    assert main(["pools", "costs", "--policy", str(policy), "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)["teams"][0]
    assert row["day"] == "2026-03-02"
    # 50 minutes booked until its expiry at 00:01, 49 of them before midnight
    assert row["booked_usd"] == round(50 * 60 * 37.688 / 3600, 2) == 31.41
    assert row["booked_today_usd"] == round(49 * 60 * 37.688 / 3600, 2) == 30.78
    assert row["booked_month_usd"] == 31.41
    # left = budget - idle - booked before the period's end, to the cent, from the figures as shown
    assert row["daily_left_usd"] == round(50 - row["idle_today_usd"] - row["booked_today_usd"], 2) == 12.94
    assert row["monthly_left_usd"] == round(500 - row["idle_month_usd"] - row["booked_month_usd"], 2)
    # the table says the same, in two columns added after the others
    assert main(["pools", "costs", "--policy", str(policy)]) == 0
    header, _, line = capsys.readouterr().out.splitlines()
    assert header.split()[-3:] == ["monthly_left_usd", "booked_today_usd", "booked_month_usd"]
    assert line.split()[-2:] == ["30.78", "31.41"]
    assert line.split()[7] == "12.94"  # daily_left_usd, where it was


def test_what_is_left_adds_up_to_the_cent_with_the_figures_shown(
    system: System, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # two minutes idle and two booked of an ml.m5.large (0.115 $/h): less than half a cent each, shown
    # as 0.00, and together nearly a cent: what is left was 4.99 of 5.00 with nothing shown spent
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "job"}})
    system.run_job("m-1", 60, keep_alive_seconds=240, instance_type="ml.m5.large", tags={"team": "tiny"})
    system.advance(120)
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nteams:\n  tiny: {budget: {daily_usd: 5, monthly_usd: 100}}\n")
    capsys.readouterr()  # what the functions logged meanwhile
    assert main(["pools", "costs", "--policy", str(policy), "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)["teams"][0]
    assert (row["idle_today_usd"], row["booked_today_usd"], row["daily_left_usd"]) == (0.0, 0.0, 5.0)
    assert (row["idle_month_usd"], row["booked_month_usd"], row["monthly_left_usd"]) == (0.0, 0.0, 100.0)
