"""`warmpool pools ...` against the registry and the engine, on moto with the emulator."""

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from warmpool.cli.main import main
from warmpool.domain.clock import moment_text
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import lifecycle, reconciler

from tests.integration.conftest import System


@pytest.fixture
def pools(system: System) -> System:
    system.set_policy({"version": 1, "defaults": {"overrides": {"max_extend_minutes": 60}}})
    for name, team, volume in (("cli-1", "vision", 50), ("cli-2", "nlp", 80)):
        system.sagemaker.create_training_job(
            **training_job_request(
                name, keep_alive_seconds=900, volume_size_gb=volume, tags={"team": team, "owner": "alice"}
            )
        )
        system.settle()
        system.control.complete_job(name)
        system.settle()
    return system


def test_list_filters_and_prints_json(pools: System, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pools", "list", "--team", "vision", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["job"], r["state"], r["team"]) for r in rows] == [("cli-1", "Available", "vision")]
    assert main(["pools", "list"]) == 0
    out = capsys.readouterr().out
    assert "cli-1" in out
    assert "cli-2" in out
    assert "warm_until" in out


def test_show_prints_lineage_and_audit(pools: System, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pools", "show", "cli-1", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["lineage"] == ["cli-1"]
    assert [a["what"] for a in shown["audit"]][:1] == ["recorded"]
    assert main(["pools", "show", "nobody"]) == 1


def test_a_long_lineage_shows_its_first_and_latest_jobs_and_counts_them_all(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    for n in range(2, 26):  # 24 more jobs on cli-1's warm pool, one after the other
        pools.run_job(f"cli-1-{n}", 60, keep_alive_seconds=900, tags={"team": "vision", "owner": "alice"})
    capsys.readouterr()  # the functions' logs
    assert main(["pools", "show", "cli-1-25", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["pool"] == "cli-1"
    assert shown["lineage_jobs"] == 25
    assert shown["lineage"] == ["cli-1", *(f"cli-1-{n}" for n in range(7, 26))]  # the first, the latest 19
    assert main(["pools", "show", "cli-1-25"]) == 0
    assert "cli-1 -> (5 more) -> cli-1-7 -> " in capsys.readouterr().out


def test_extend_and_release_go_through_the_policy(pools: System, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pools", "extend", "cli-1", "--minutes", "90"]) == 1
    assert "refused" in capsys.readouterr().out
    assert main(["pools", "extend", "cli-1", "--minutes", "30"]) == 0
    assert main(["pools", "release", "cli-2"]) == 0
    job = pools.sagemaker.describe_training_job(TrainingJobName="cli-2")
    assert job["WarmPoolStatus"]["Status"] == "Terminated"


def test_a_request_on_a_pool_that_is_not_available_says_why_in_its_state(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pools", "release", "cli-2"]) == 0
    capsys.readouterr()
    assert main(["pools", "release", "cli-2"]) == 1  # pressed twice, or asked from two places
    assert (
        "cli-2 has no Available warm pool: it is gone (Terminated); nothing to release"
        in capsys.readouterr().out
    )
    pools.sagemaker.create_training_job(
        **training_job_request("cli-3", keep_alive_seconds=900, tags={"team": "vision", "owner": "alice"})
    )
    pools.settle()
    capsys.readouterr()
    assert main(["pools", "extend", "cli-3", "--minutes", "30"]) == 1
    out = capsys.readouterr().out
    assert (
        "cli-3 has no Available warm pool: its job is still running on it (InUse); nothing to extend" in out
    )


def test_an_extension_the_plan_already_covers_is_done_and_promised(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # a three-hour plan in hourly steps: 30 minutes more than the pool's expiry is within it
    pools.set_policy(
        {
            "version": 1,
            "defaults": {"keep_alive_strategy": "fixed-10800", "overrides": {"max_extend_minutes": 60}},
        }
    )
    tags = {"team": "vision", "owner": "alice"}
    pools.run_job("cli-3", 60, keep_alive_seconds=900, volume_size_gb=30, tags=tags)
    before = pools.registry.get("cli-3")
    assert before is not None
    assert before.pool.expires_at is not None
    assert before.pool.horizon_at is not None
    asked = before.pool.expires_at + timedelta(minutes=30)
    capsys.readouterr()  # the functions' logs
    assert main(["pools", "extend", "cli-3", "--minutes", "30"]) == 0
    out = capsys.readouterr().out
    assert "extend cli-3: done at " in out
    assert "rule: defaults.keep_alive_strategy" in out
    assert (
        f"  - the plan already keeps it warm until {moment_text(before.pool.horizon_at)}: "
        f"kept warm at least until {moment_text(asked)} on request"
    ) in out.splitlines()
    after = pools.registry.get("cli-3")
    assert after is not None
    assert after.pool.override_until == asked  # the promise is recorded


def test_a_refused_extension_names_the_limit_that_refused_it_under_an_earlier_promise(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # the earlier promise still holds the pool, and the answer's rule named it as a policy path no
    # policy has (`defaults.overrides.override_until`), beside a reason naming max_extend_minutes
    capsys.readouterr()  # the functions' logs
    assert main(["pools", "extend", "cli-1", "--minutes", "30"]) == 0
    promised = pools.registry.get("cli-1")
    assert promised is not None
    capsys.readouterr()
    assert main(["pools", "extend", "cli-1", "--minutes", "90"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[1:] == [
        "rule: defaults.overrides.max_extend_minutes",
        "  - strategy job wants 15 min of warm time",
        "  - cli asked for 90 min; the policy allows at most 60 min per request "
        "(defaults.overrides.max_extend_minutes)",
        f"  - kept warm until {moment_text(promised.pool.override_until or pools.control.now())} on request",
    ]
    record = pools.registry.get("cli-1")
    assert record is not None
    assert record.pool.override_until == promised.pool.override_until  # the promise stands


def test_an_extension_a_budget_cuts_short_is_partly_done_and_exits_3(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # 3.6 $/h and 3 $ a day: 50 idle minutes. The plan keeps the pool 15 minutes; 60 more asks for 75.
    pools.set_policy(
        {
            "version": 1,
            "prices": {"ml.g5.2xlarge": 3.6},
            "defaults": {"overrides": {"max_extend_minutes": 60}, "budget": {"daily_usd": 3.0}},
        }
    )
    tags = {"team": "vision", "owner": "alice"}
    pools.run_job("cli-4", 60, keep_alive_seconds=900, volume_size_gb=40, tags=tags)
    before = pools.registry.get("cli-4")
    assert before is not None
    assert before.pool.expires_at is not None
    asked = before.pool.expires_at + timedelta(minutes=60)
    capsys.readouterr()  # the functions' logs
    assert main(["pools", "extend", "cli-4", "--minutes", "60"]) == 3
    out = capsys.readouterr().out
    after = pools.registry.get("cli-4")
    assert after is not None
    assert after.pool.expires_at is not None
    assert before.pool.expires_at < after.pool.expires_at < asked
    assert "extend cli-4: partly done at " in out
    assert "rule: defaults.budget.daily_usd" in out
    kept = after.pool.expires_at
    assert f"  - kept warm until {moment_text(kept)} of the {moment_text(asked)} asked: " in out
    assert after.pool.override_until == after.pool.expires_at  # only what was granted is promised
    # nothing more is left of the day: asking again keeps it no longer, and is refused
    assert main(["pools", "extend", "cli-4", "--minutes", "30"]) == 1
    assert "extend cli-4: refused at " in capsys.readouterr().out


def test_a_request_by_an_earlier_job_acts_on_the_pool_it_started(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    pools.run_job("cli-1-2", 60, keep_alive_seconds=900, tags={"team": "vision", "owner": "alice"})
    capsys.readouterr()  # the functions' logs
    # cli-1's pool is cli-1-2's now, Available again: `pools show cli-1` shows it, so release acts on it
    assert main(["pools", "release", "cli-1"]) == 0
    out = capsys.readouterr().out
    assert "cli-1's warm pool is now cli-1-2's (a later job reused it)" in out
    assert "release cli-1-2: done" in out
    job = pools.sagemaker.describe_training_job(TrainingJobName="cli-1-2")
    assert job["WarmPoolStatus"]["Status"] == "Terminated"


def test_missing_configuration_is_one_clear_line(
    pools: System, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POOLS_TABLE_NAME")
    with pytest.raises(SystemExit):
        main(["pools", "list"])
    assert "pass --table or set POOLS_TABLE_NAME" in capsys.readouterr().err


def test_commands_on_the_audit_trail_need_the_audit_table(
    pools: System, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUDIT_TABLE_NAME")
    for command in (["show", "cli-1"], ["extend", "cli-1", "--minutes", "30"], ["release", "cli-2"]):
        with pytest.raises(SystemExit) as exited:
            main(["pools", *command])
        assert exited.value.code == 2
        assert "no audit table: pass --audit-table or set AUDIT_TABLE_NAME" in capsys.readouterr().err
    job = pools.sagemaker.describe_training_job(TrainingJobName="cli-2")
    assert job["WarmPoolStatus"]["Status"] == "Available"  # nothing was done
    # list and costs read the registry table only
    assert main(["pools", "list", "--format", "json"]) == 0
    assert [r["job"] for r in json.loads(capsys.readouterr().out)] == ["cli-2", "cli-1"]  # nlp, then vision
    assert main(["pools", "costs", "--format", "json"]) == 0
    capsys.readouterr()
    # the flag stands in for the variable
    assert main(["pools", "show", "cli-1", "--format", "json", "--audit-table", pools.env.audit_table]) == 0
    assert [a["what"] for a in json.loads(capsys.readouterr().out)["audit"]][:1] == ["recorded"]


def test_costs_add_ended_gaps_and_pools_idle_now_against_the_budget(
    pools: System, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pools.advance(1800, tick=300)  # both pools idled their 900 s keep-alive, then expired
    capsys.readouterr()  # what the functions logged meanwhile
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nteams:\n  vision: {budget: {daily_usd: 5}}\n")
    assert main(["pools", "costs", "--policy", str(policy), "--format", "json"]) == 0
    rows = {r["team"]: r for r in json.loads(capsys.readouterr().out)["teams"]}
    # 900 idle seconds of ml.g5.2xlarge at 1.515 $/h, booked in the ledger when each pool expired
    assert rows["vision"]["idle_today_usd"] == 0.38
    assert rows["vision"]["daily_left_usd"] == 4.62
    assert rows["nlp"]["idle_today_usd"] == 0.38
    assert rows["nlp"]["daily_budget_usd"] is None
    assert rows["vision"]["day"] == rows["nlp"]["day"] == "2026-03-02"
    # the table says dollars and cents
    assert main(["pools", "costs", "--policy", str(policy), "--team", "vision"]) == 0
    row = capsys.readouterr().out.splitlines()[-1].split()
    assert row == [
        "vision",
        "2026-03-02",
        "0",
        "0.38",
        "0.38",
        "0.00",
        "5.00",
        "4.62",
        "-",
        "-",
        "0.00",
        "0.00",
    ]
    # a team on its own clock: 09:30 UTC is still Sunday evening in Pago Pago (UTC-11). Its pool's cost
    # was booked under the deployed policy, on UTC's 2 March, and stays on that date.
    policy.write_text("version: 1\nteams:\n  vision: {budget: {daily_usd: 5}, timezone: Pacific/Pago_Pago}\n")
    assert main(["pools", "costs", "--policy", str(policy), "--format", "json"]) == 0
    rows = {r["team"]: r for r in json.loads(capsys.readouterr().out)["teams"]}
    assert (rows["vision"]["day"], rows["vision"]["idle_today_usd"]) == ("2026-03-01", 0.0)
    assert (rows["nlp"]["day"], rows["nlp"]["idle_today_usd"]) == ("2026-03-02", 0.38)
    # without --policy: the deployed one, from SSM
    assert main(["pools", "costs", "--team", "nlp"]) == 0
    out = capsys.readouterr().out
    assert "nlp" in out
    assert "vision" not in out
    pools.set_policy({"version": 1, "teams": {"vision": {"budget": {"daily_usd": 7}}}})
    assert main(["pools", "costs", "--format", "json"]) == 0
    rows = {r["team"]: r for r in json.loads(capsys.readouterr().out)["teams"]}
    assert rows["vision"]["daily_budget_usd"] == 7
    # an invalid deployed policy is named, problem by problem, like a policy file
    pools.set_policy({"version": 1, "teams": {"vision": {"budget": {"daily_usd": -1}}}})
    assert main(["pools", "costs"]) == 2
    assert "teams.vision.budget.daily_usd" in capsys.readouterr().err


def test_costs_count_a_pool_that_has_expired_until_its_expiry(
    system: System, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "job"}})
    big = {"instance_type": "ml.p4d.24xlarge", "instance_count": 4, "tags": {"team": "big"}}
    system.run_job("exp-1", 60, keep_alive_seconds=900, **big)
    system.advance(900 - 60)
    # SageMaker ended the pool 30 s ago, and says so to no one: warmpool's look comes a minute after
    system.emulator.advance(60 + 30)
    capsys.readouterr()  # what the functions logged meanwhile
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nteams:\n  big: {budget: {daily_usd: 100}}\n")
    assert main(["pools", "costs", "--policy", str(policy), "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)["teams"][0]
    warm = system.sagemaker.describe_training_job(TrainingJobName="exp-1")["WarmPoolStatus"]
    assert (warm["Status"], warm["ResourceRetainedBillableTimeInSeconds"]) == ("Terminated", 900)
    # what SageMaker billed: 900 s of four ml.p4d.24xlarge at 37.688 $/h, not the 930 s to now (38.94)
    assert row["idle_today_usd"] == round(900 * 4 * 37.688 / 3600, 2) == 37.69
    assert row["daily_left_usd"] == 62.31
    system.advance(30)  # the look after its expiry records it gone and books it: the same figures
    record = system.registry.get("exp-1")
    assert record is not None
    assert record.pool.status.value == "Terminated"
    capsys.readouterr()
    assert main(["pools", "costs", "--policy", str(policy), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["teams"][0]["idle_today_usd"] == 37.69


def test_costs_say_which_instance_types_no_price_is_known_for(
    system: System, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "job"}})
    for name, instance_type in (("g6e-1", "ml.g6e.xlarge"), ("g5-1", "ml.g5.2xlarge")):
        request = {"instance_type": instance_type, "tags": {"team": "research"}}
        system.run_job(name, 60, keep_alive_seconds=600, **request)
    system.advance(600, tick=300)  # both idled their 10 minutes, then expired
    capsys.readouterr()  # what the functions logged meanwhile
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\n")
    assert main(["pools", "costs", "--policy", str(policy), "--format", "json"]) == 0
    out, err = capsys.readouterr()
    row = json.loads(out)["teams"][0]
    # the built-in table has no ml.g6e.xlarge: its 10 minutes are booked at a stand-in $1.00/h
    assert row["idle_today_usd"] == round(600 * (1.0 + 1.515) / 3600, 2)
    assert row["unpriced_instance_types"] == ["ml.g6e.xlarge"]
    # and in the breakdown by instance type, the part at the stand-in price is marked
    parts = {p["instance_type"]: (p["idle_today_usd"], p["stand_in_price"]) for p in row["by_instance_type"]}
    assert parts == {"ml.g5.2xlarge": (0.25, False), "ml.g6e.xlarge": (0.17, True)}
    assert err == (
        "warmpool: team research: no price for ml.g6e.xlarge, whose idle time is counted at a stand-in "
        "$1.00 per instance-hour, not at what SageMaker bills: add it under `prices` in the policy (USD "
        "per instance-hour)\n"
    )
    policy.write_text("version: 1\nprices: {ml.g6e.xlarge: 1.861}\n")
    assert main(["pools", "costs", "--policy", str(policy)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "unpriced" not in out


def test_extend_and_release_use_the_region_flag(
    pools: System, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the engine's clients ignored --region: with no region in the environment, the command asked for
    # the --region it had been given
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert main(["pools", "release", "cli-2", "--region", "us-east-1"]) == 0
    assert "release cli-2: done" in capsys.readouterr().out
    job = pools.sagemaker.describe_training_job(TrainingJobName="cli-2")
    assert job["WarmPoolStatus"]["Status"] == "Terminated"


def test_extend_without_the_engines_settings_names_the_missing_ones(
    pools: System, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOTIFY_QUEUE_URL")
    monkeypatch.delenv("SCHEDULER_ROLE_ARN")
    assert main(["pools", "extend", "cli-1", "--minutes", "30"]) == 2
    assert capsys.readouterr().err == (
        "warmpool: pools extend acts through the engine, which needs NOTIFY_QUEUE_URL, SCHEDULER_ROLE_ARN: "
        "export the stack's outputs (docs/cli.md)\n"
    )


def test_a_small_extension_below_min_step_is_still_kept_until_the_promised_time(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # the team spares SageMaker updates below a quarter of an hour; alice asks for 5 minutes more on a
    # pool with 5 minutes left: a keep-alive of 10 minutes, below the minimum step
    pools.set_policy(
        {
            "version": 1,
            "defaults": {
                "keep_alive_strategy": "fixed-900",
                "min_step_minutes": 15,
                "overrides": {"max_extend_minutes": 60},
            },
        }
    )
    tags = {"team": "vision", "owner": "alice"}
    pools.run_job("cli-4", 60, keep_alive_seconds=900, volume_size_gb=30, tags=tags)
    pools.advance(600)
    before = pools.registry.get("cli-4")
    assert before is not None
    assert before.pool.expires_at is not None
    asked = before.pool.expires_at + timedelta(minutes=5)
    capsys.readouterr()  # the functions' logs
    assert main(["pools", "extend", "cli-4", "--minutes", "5"]) == 0
    out = capsys.readouterr().out
    assert "extend cli-4: done" in out
    after = pools.registry.get("cli-4")
    assert after is not None
    assert after.pool.override_until == asked  # promised
    pools.advance((asked - pools.control.now()).total_seconds() - 60)
    job = pools.sagemaker.describe_training_job(TrainingJobName="cli-4")
    assert job["WarmPoolStatus"]["Status"] == "Available"  # still warm a minute before the promised time
    record = pools.registry.get("cli-4")
    assert record is not None
    assert record.pool.expires_at is not None
    assert record.pool.expires_at >= asked


def test_a_request_by_nobody_is_a_usage_error_and_changes_nothing(
    pools: System, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # `--user "$SLACK_USER"` with the variable unset: the pool was released, and its trail said by nobody
    capsys.readouterr()  # the functions' logs
    with pytest.raises(SystemExit) as exited:
        main(["pools", "release", "cli-2", "--user", ""])
    assert exited.value.code == 2
    assert capsys.readouterr().err.endswith(
        "argument --user: empty: name who asks, as the audit trail should record it\n"
    )
    job = pools.sagemaker.describe_training_job(TrainingJobName="cli-2")
    assert job["WarmPoolStatus"]["Status"] == "Available"
    # an empty $USER (a container's) is no name either: the default is then "cli", as without $USER
    monkeypatch.setenv("USER", "")
    assert main(["pools", "release", "cli-2"]) == 0
    assert "  - cli asked to release it" in capsys.readouterr().out.splitlines()


def test_a_request_under_an_invalid_deployed_policy_is_refused_naming_its_problems(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # the engine's policy source in a new process has no last good document: the built-in policy
    # decided without a word, granting 90 minutes where the deployed policy's limit is 60
    pools.set_policy(
        {"version": 1, "defaults": {"overrides": {"max_extend_minutes": 60}, "on_limit": "panic"}}
    )
    capsys.readouterr()  # the functions' logs
    updates = len(pools.control.update_calls())
    for command in (["extend", "cli-1", "--minutes", "90"], ["release", "cli-2"]):
        assert main(["pools", *command]) == 2
        err = capsys.readouterr().err
        assert err.startswith(
            f"warmpool: pools {command[0]} acts under the deployed policy {pools.env.policy_parameter}, "
            "which is invalid:\n  - defaults.on_limit: "
        )
        assert err.endswith(
            "fix it (warmpool policy validate FILE) and deploy it; the functions keep their last good one "
            "meanwhile\n"
        )
    assert pools.control.update_calls()[updates:] == []
    job = pools.sagemaker.describe_training_job(TrainingJobName="cli-2")
    assert job["WarmPoolStatus"]["Status"] == "Available"


def test_a_request_with_an_audit_table_that_is_not_there_fails_before_acting(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # a stale AUDIT_TABLE_NAME: the trail is written after SageMaker is asked, so the pool was extended
    # (and released) while the command failed, and neither the registry nor the trail knew of it
    capsys.readouterr()  # the functions' logs
    before = pools.registry.get("cli-1")
    updates = len(pools.control.update_calls())
    for command in (["extend", "cli-1", "--minutes", "30"], ["release", "cli-2"]):
        assert main(["pools", *command, "--audit-table", "stale"]) == 2
        err = capsys.readouterr().err
        assert "ResourceNotFoundException" in err
        # the registry table from POOLS_TABLE_NAME: it was named as a --table nobody typed
        assert "check the table names (POOLS_TABLE_NAME=warmpool-pools, --audit-table stale)" in err
    assert pools.control.update_calls()[updates:] == []
    assert pools.registry.get("cli-1") == before
    job = pools.sagemaker.describe_training_job(TrainingJobName="cli-2")
    assert job["WarmPoolStatus"]["Status"] == "Available"


def test_a_team_nothing_knows_is_said_on_stderr_with_the_teams_there_are(
    pools: System, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # `--team Vision` (or a typo) printed an empty table as if the team had no pool and spent nothing
    capsys.readouterr()  # the functions' logs
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nteams:\n  audio: {budget: {daily_usd: 5}}\n")
    assert main(["pools", "costs", "--team", "Vision", "--policy", str(policy), "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["teams"] == []  # stdout stays JSON alone
    assert captured.err == (
        "warmpool: --team Vision: no pool in the registry is this team's and the policy gives it no "
        "budget; the teams: audio, nlp, vision\n"
    )
    assert main(["pools", "list", "--team", "Vision"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0].split()[0] == "job"  # the empty table, as before
    assert (
        captured.err
        == "warmpool: --team Vision: no pool in the registry is this team's; the teams: nlp, vision\n"
    )
    # a team there is, with nothing to show: a valid query, said as before with nothing more
    assert main(["pools", "costs", "--team", "audio", "--policy", str(policy), "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert [r["team"] for r in json.loads(captured.out)["teams"]] == ["audio"]
    assert captured.err == ""
    assert main(["pools", "list", "--team", "nlp", "--status", "InUse", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("[]\n", "")


def test_team_lists_the_pools_that_count_for_it_as_costs_counts_them(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # an untagged pool counts for the policy's default team: the digest of `platform` lists it and
    # points at `pools list --team platform --status Available` for the ones it leaves out, which
    # listed none of them and said no pool was platform's
    pools.set_policy({"version": 1, "default_team": "platform"})
    pools.run_job("cli-untagged", 60, keep_alive_seconds=900, volume_size_gb=30, tags={"owner": "bob"})
    capsys.readouterr()  # the functions' logs
    assert main(["pools", "list", "--team", "platform", "--status", "Available", "--format", "json"]) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert [(r["job"], r["team"]) for r in rows] == [("cli-untagged", None)]  # `team`: its tag, as before
    assert captured.err == ""
    assert main(["pools", "costs", "--team", "platform", "--format", "json"]) == 0
    assert [(r["team"], r["warm_instances"]) for r in json.loads(capsys.readouterr().out)["teams"]] == [
        ("platform", 1)
    ]
    # a tagged team's listing is as before, and leaves the untagged pool out
    assert main(["pools", "list", "--team", "vision", "--format", "json"]) == 0
    assert [r["job"] for r in json.loads(capsys.readouterr().out)] == ["cli-1"]
    # a --team no pool counts for is still said, with the teams the pools count for
    assert main(["pools", "list", "--team", "Platform"]) == 0
    assert capsys.readouterr().err == (
        "warmpool: --team Platform: no pool in the registry is this team's; "
        "the teams: nlp, platform, vision\n"
    )


def test_team_reads_the_tag_the_policy_names(pools: System, capsys: pytest.CaptureFixture[str]) -> None:
    # registered while the team tag was `team`; the policy has since named `cost-center` the team tag:
    # the pool counts for its cost center, and is listed under it
    tags = {"team": "vision", "cost-center": "cc-7", "owner": "alice"}
    pools.run_job("cli-cc", 60, keep_alive_seconds=900, volume_size_gb=30, tags=tags)
    pools.set_policy({"version": 1, "tags": {"team": "cost-center"}})
    capsys.readouterr()  # the functions' logs
    assert main(["pools", "list", "--team", "cc-7", "--format", "json"]) == 0
    # listed under the tag the policy names, as the filter read it: the column said `vision`, the
    # team tag it was registered with
    assert [(r["job"], r["team"]) for r in json.loads(capsys.readouterr().out)] == [("cli-cc", "cc-7")]
    assert main(["pools", "list", "--team", "cc-7"]) == 0
    assert re.search(r"^cli-cc +alice +cc-7 ", capsys.readouterr().out, re.M)
    assert main(["pools", "costs", "--team", "cc-7", "--format", "json"]) == 0
    assert [r["team"] for r in json.loads(capsys.readouterr().out)["teams"]] == ["cc-7"]
    assert main(["pools", "list", "--team", "vision", "--format", "json"]) == 0
    assert [r["job"] for r in json.loads(capsys.readouterr().out)] == ["cli-1"]


def test_team_of_list_reads_a_policy_file(
    pools: System, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pools.run_job("cli-untagged", 60, keep_alive_seconds=900, volume_size_gb=30, tags={"owner": "bob"})
    capsys.readouterr()  # the functions' logs
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\ndefault_team: research\n")
    assert main(["pools", "list", "--team", "research", "--policy", str(policy), "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert [r["job"] for r in json.loads(captured.out)] == ["cli-untagged"]
    assert captured.err == ""
    # an invalid file is refused naming its problems, as `pools costs --policy` does
    policy.write_text("version: 1\ndefault_team: 7\n")
    assert main(["pools", "list", "--team", "research", "--policy", str(policy)]) == 2
    assert "default_team" in capsys.readouterr().err


def test_team_without_a_policy_matches_the_tag_and_says_so(
    pools: System, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # nothing says which team untagged pools count for: they are listed under no team, and the note
    # names what would say it
    pools.run_job("cli-untagged", 60, keep_alive_seconds=900, volume_size_gb=30, tags={"owner": "bob"})
    capsys.readouterr()  # the functions' logs
    monkeypatch.delenv("POLICY_PARAMETER_NAME")
    assert main(["pools", "list", "--team", "vision", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert [r["job"] for r in json.loads(captured.out)] == ["cli-1"]
    assert captured.err == (
        "warmpool: no --policy and no POLICY_PARAMETER_NAME: --team vision matches the team tag only; "
        "the untagged pools, which count for the policy's default_team, are listed under no team\n"
    )
    # `pools costs` without a policy counts them for the built-in default team, and says which
    assert main(["pools", "costs", "--team", "platform", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert [r["team"] for r in json.loads(captured.out)["teams"]] == ["platform"]
    assert captured.err == (
        "warmpool: no --policy and no POLICY_PARAMETER_NAME: built-in prices, no budgets, untagged pools "
        "counted for the built-in default_team platform\n"
    )
    # without --team no policy is read, and nothing is said
    assert main(["pools", "list", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert [r["job"] for r in json.loads(captured.out)] == ["cli-2", "cli-1", "cli-untagged"]
    assert captured.err == ""


def test_a_policy_without_team_is_a_usage_error_naming_the_fix(
    pools: System, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # the policy only says which team a pool counts for: without --team it was read for nothing, the
    # table printed as if it had been applied
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\ndefault_team: research\n")
    capsys.readouterr()
    assert main(["pools", "list", "--policy", str(policy), "--format", "json"]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        "warmpool: --policy is read with --team only (it says which team a pool counts for): add --team "
        "TEAM, or drop --policy\n"
    )
    assert captured.out == ""


def idle_trial_of_a_running_sweep(system: System) -> None:
    """A sweep of two trials, one at a time: the second took the first's pool, ended, and its pool is
    Available and left to the sweep, which still runs."""
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "fixed-7200"}})
    tags = {"team": "research", "owner": "ana"}
    trials = [training_job_request(f"Sweep-00{i}-a1b2c3d4", tags=tags) for i in (1, 2)]
    system.control.start_tuning_job("Sweep", trials, max_parallel=1)
    system.settle()
    for trial in ("Sweep-001-a1b2c3d4", "Sweep-002-a1b2c3d4"):
        system.control.complete_job(trial)
        system.settle()


def test_list_and_show_name_the_running_tuning_job_a_pool_is_left_to(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # Available, no decision, no next look: without the tuning job's name, it read as a pool warmpool
    # had forgotten
    idle_trial_of_a_running_sweep(system)
    capsys.readouterr()  # the functions' logs

    assert main(["pools", "list", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["job"], r["state"], r["left_to_tuning_job"]) for r in rows] == [
        ("Sweep-002-a1b2c3d4", "Available", "Sweep")
    ]
    assert main(["pools", "list"]) == 0
    assert "Available (left to tuning job Sweep)" in capsys.readouterr().out
    assert main(["pools", "show", "Sweep-002-a1b2c3d4"]) == 0
    assert "state          Available (left to tuning job Sweep)" in capsys.readouterr().out.splitlines()

    system.control.complete_tuning_job("Sweep")
    system.settle()
    capsys.readouterr()
    assert main(["pools", "show", "Sweep-002-a1b2c3d4", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["state"], shown["left_to_tuning_job"]) == ("Available", None)  # warmpool's again
    assert shown["last_decision"] == "extend (defaults.keep_alive_strategy)"


def test_a_request_on_a_pool_left_to_a_running_tuning_job_names_it_and_not_as_unavailable(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    idle_trial_of_a_running_sweep(system)
    capsys.readouterr()

    assert main(["pools", "release", "Sweep-002-a1b2c3d4"]) == 1
    out = capsys.readouterr().out
    # the pool is Available, as `pools list` says: "has no Available warm pool" contradicted it
    assert "no Available warm pool" not in out
    assert (
        "Sweep-002-a1b2c3d4's warm pool is left to its tuning job Sweep while the tuning job runs "
        "(warmpool decides it once Sweep ends); nothing to release"
    ) in out
    job = system.sagemaker.describe_training_job(TrainingJobName="Sweep-002-a1b2c3d4")
    assert job["WarmPoolStatus"]["Status"] == "Available"


def test_minutes_that_are_no_whole_number_name_the_flag_and_how_to_write_it(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # `30m` or `1.5` was argparse's "invalid int value", naming neither the unit nor the way to write it
    capsys.readouterr()  # the functions' logs
    updates = len(pools.control.update_calls())
    for minutes in ("30m", "1.5", "1h", "0", "-5", ""):
        with pytest.raises(SystemExit) as exited:
            main(["pools", "extend", "cli-1", "--minutes", minutes])
        assert exited.value.code == 2
        assert capsys.readouterr().err.endswith(
            f"argument --minutes: {minutes!r} is not a whole number of minutes, 1 or more: write e.g. "
            "--minutes 30 (an hour and a half: --minutes 90)\n"
        )
    assert pools.control.update_calls()[updates:] == []


def test_an_answer_says_the_day_as_well_as_the_time(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # `done at 09:04:00 UTC`: on the emulator's clock, another day than the reader's, and after
    # midnight the day before; the reasons said their moments with the day
    capsys.readouterr()  # the functions' logs
    assert main(["pools", "extend", "cli-1", "--minutes", "30"]) == 0
    assert capsys.readouterr().out.startswith(f"extend cli-1: done at {moment_text(pools.control.now())}\n")


def test_extend_and_release_answer_in_json_for_a_script(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # a script (jq) had to parse the text answer; in JSON, stdout is the document alone
    pools.run_job("cli-1-2", 60, keep_alive_seconds=900, tags={"team": "vision", "owner": "alice"})
    capsys.readouterr()  # the functions' logs
    assert main(["pools", "extend", "cli-1", "--minutes", "30", "--user", "bob", "--format", "json"]) == 0
    captured = capsys.readouterr()
    answer = json.loads(captured.out)
    now = pools.control.now()
    record = pools.registry.get("cli-1")
    assert record is not None
    assert record.pool.override_until is not None
    assert {k: answer[k] for k in ("request", "asked_job", "job", "minutes", "user", "verdict")} == {
        "request": "extend",
        "asked_job": "cli-1",
        "job": "cli-1-2",
        "minutes": 30,
        "user": "bob",
        "verdict": "done",
    }
    assert (answer["exit_code"], answer["at"], answer["action"]) == (0, now.isoformat(), "extend")
    assert answer["promised_until"] == record.pool.override_until.isoformat()
    assert "bob asked to keep it warm 30 min more" in answer["reasons"]
    assert captured.err == "cli-1's warm pool is now cli-1-2's (a later job reused it)\n"
    # refused: the exit code as in text, the reason in the document
    assert main(["pools", "extend", "cli-1-2", "--minutes", "90", "--format", "json"]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert (answer["verdict"], answer["exit_code"], answer["promised_until"]) == ("refused", 1, None)
    assert answer["rule"] == "defaults.overrides.max_extend_minutes"
    assert main(["pools", "release", "cli-2", "--format", "json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert (answer["request"], answer["minutes"], answer["verdict"], answer["action"]) == (
        "release",
        None,
        "done",
        "release",
    )


def test_a_request_on_a_job_sagemaker_reports_no_warm_pool_for_yet_is_refused_not_a_traceback(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # the quota used up: the job ended with a keep-alive and no warm pool; its events wait in the queue
    # (the engine records no pool on its last attempt only), and the request raised the engine's
    # "retrying later" for nobody to retry
    pools.control.set_quota("ml.g5.4xlarge", 0)
    request = training_job_request(
        "cli-q", instance_type="ml.g5.4xlarge", keep_alive_seconds=900, tags={"team": "vision"}
    )
    pools.sagemaker.create_training_job(**request)
    pools.control.complete_job("cli-q")
    capsys.readouterr()  # the functions' logs
    for command, kind in (
        (["extend", "cli-q", "--minutes", "30"], "extend"),
        (["release", "cli-q"], "release"),
    ):
        assert main(["pools", *command]) == 1
        out = capsys.readouterr().out.splitlines()
        assert out[0].startswith(f"{kind} cli-q: refused at ")
        assert out[2] == (
            "  - cli-q has no Available warm pool yet: it ended with a keep-alive, and SageMaker reports no "
            f"warm pool for it (not yet, or none was kept); nothing to {kind} now: ask again in a minute"
        )
    assert pools.registry.pool_id_for_job("cli-q") is None  # nothing recorded: the engine's events will


def test_the_trail_says_what_a_request_that_found_no_available_pool_asked(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # "recorded  asked by bob via cli": the trail did not say that bob had asked to release the pool
    tags = {"team": "vision", "owner": "alice"}
    request = training_job_request("cli-r", keep_alive_seconds=900, volume_size_gb=30, tags=tags)
    pools.sagemaker.create_training_job(**request)
    pools.settle()  # running: its pool is InUse
    capsys.readouterr()  # the functions' logs
    assert main(["pools", "release", "cli-r", "--user", "bob"]) == 1
    assert main(["pools", "extend", "cli-r", "--minutes", "30", "--user", "carol"]) == 1
    capsys.readouterr()
    assert main(["pools", "show", "cli-r", "--format", "json"]) == 0
    asked = [e["details"] for e in json.loads(capsys.readouterr().out)["audit"] if e["details"].get("user")]
    assert [(d["user"], d["kind"], d["minutes"], d["state"]) for d in asked] == [
        ("bob", "release", 0, "InUse"),
        ("carol", "extend", 30, "InUse"),
    ]
    assert main(["pools", "show", "cli-r"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  recorded  ")[-1] for line in lines if "asked by" in line] == [
        "asked by bob (arn:aws:sts::123456789012:user/moto) via cli to release it",
        "asked by carol (arn:aws:sts::123456789012:user/moto) via cli to extend it 30 min",
    ]


def test_a_user_with_spaces_around_the_name_is_a_usage_error_naming_the_fix(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # alice may extend 120 minutes; "alice " matched no owner, was refused by the defaults' 60, and the
    # trail said "alice " had asked
    pools.set_policy(
        {
            "version": 1,
            "defaults": {"overrides": {"max_extend_minutes": 60}},
            "owners": {"alice": {"overrides": {"max_extend_minutes": 120}}},
        }
    )
    capsys.readouterr()  # the functions' logs
    updates = len(pools.control.update_calls())
    with pytest.raises(SystemExit) as exited:
        main(["pools", "extend", "cli-1", "--minutes", "90", "--user", "alice "])
    assert exited.value.code == 2
    assert capsys.readouterr().err.endswith(
        "argument --user: 'alice ' has spaces around it, and matches no owner the policy names so: write "
        "--user alice\n"
    )
    assert pools.control.update_calls()[updates:] == []
    assert main(["pools", "extend", "cli-1", "--minutes", "90", "--user", "alice"]) == 0


def test_a_pool_kept_by_a_promise_names_a_rule_the_policy_docs_explain(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # a look at a pool kept by a person's promise named `defaults.overrides.override_until` as its rule,
    # a policy path no policy has and docs/policy.md does not name: the promise is the engine's to
    # keep, and the rule that says so is documented
    assert main(["pools", "extend", "cli-1", "--minutes", "30"]) == 0
    pools.advance(20 * 60)  # past the job's own 15 min: only the promise keeps it warm now
    capsys.readouterr()
    assert main(["policy", "explain", "--job", "cli-1", "--format", "json"]) == 0
    explained = json.loads(capsys.readouterr().out)
    assert (explained["action"], explained["rule"]) == ("keep", "engine.promise")
    assert "(rule `engine.promise`:" in (Path(__file__).parents[3] / "docs" / "policy.md").read_text()


def test_show_of_a_job_without_a_keep_alive_says_so_not_to_check_its_name(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # the job is there, only it never asked for a warm pool: "check the job's name" sent its owner
    # looking for a typo that was not there
    pools.run_job("no-keep-alive", 60, keep_alive_seconds=None, tags={"team": "vision", "owner": "alice"})
    capsys.readouterr()  # the functions' logs
    assert main(["pools", "show", "no-keep-alive"]) == 1
    err = capsys.readouterr().err
    assert "no-keep-alive has no warm pool: it was created without a keep-alive" in err
    assert "KeepAlivePeriodInSeconds" in err
    assert "check the job's name" not in err
    assert main(["pools", "show", "nobody"]) == 1  # no such job: its name is the one to check
    err = capsys.readouterr().err
    assert "no training job nobody" in err
    assert "check the job's name" in err


def test_list_says_until_when_a_pool_that_is_gone_was_warm(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # warm_until of a released pool was its release time until SageMaker's event of the pool gone came,
    # then `-`, as for a pool that had expired: until when it was warm is what the column says
    released_at = pools.control.now()
    assert main(["pools", "release", "cli-2"]) == 0
    pools.settle()  # SageMaker's event of the pool gone
    expiry = pools.registry.get("cli-1")
    assert expiry is not None
    assert expiry.pool.expires_at is not None
    pools.advance(20 * 60)  # cli-1's 15 min run out
    capsys.readouterr()
    assert main(["pools", "list", "--format", "json"]) == 0
    rows = {r["job"]: r for r in json.loads(capsys.readouterr().out)}
    assert (rows["cli-2"]["state"], rows["cli-2"]["warm_until"]) == ("Terminated", released_at.isoformat())
    assert (rows["cli-1"]["state"], rows["cli-1"]["warm_until"]) == (
        "Terminated",
        expiry.pool.expires_at.isoformat(),
    )


def test_an_extension_of_a_pool_kept_to_its_lifetime_s_end_is_refused_as_at_a_limit(
    pools: System, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A deployment whose pools live an hour. Asked again once the first request kept the pool to the
    # end of its lifetime, it answered "done" (exit 0) of an extension that added nothing, where the
    # same request at the policy's max_horizon_minutes is refused (exit 1).
    monkeypatch.setenv("MAX_LIFETIME_SECONDS", "3600")
    for module in (lifecycle, reconciler):
        module.runtime.cache_clear()
    before = pools.registry.get("cli-1")
    assert before is not None
    assert before.pool.lifetime_started_at is not None
    end = before.pool.lifetime_started_at + timedelta(hours=1)
    capsys.readouterr()
    assert main(["pools", "extend", "cli-1", "--minutes", "60"]) == 0  # to the lifetime's end
    kept = pools.registry.get("cli-1")
    assert kept is not None
    assert kept.pool.expires_at == kept.pool.override_until == end
    capsys.readouterr()
    assert main(["pools", "extend", "cli-1", "--minutes", "30"]) == 1
    out = capsys.readouterr().out
    assert "extend cli-1: refused at " in out
    # the rule that refused it is the lifetime's; it read `request.cli`, the first request's, as if a
    # request had decided the refusal
    assert "rule: engine.max_lifetime" in out.splitlines()
    assert (
        f"  - it already stays warm until its maximum lifetime ends at {moment_text(end)}: "
        "no warm time is left to grant"
    ) in out.splitlines()
    after = pools.registry.get("cli-1")
    assert after is not None
    assert (after.pool.expires_at, after.pool.override_until) == (end, end)  # nothing changed


def test_list_and_show_say_until_when_a_pool_a_later_job_took_was_warm_for_its_job(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # cli-1's pool, idle since 09:00, is taken by cli-1b at 09:02; cli-1b's own look cannot read it yet
    # (throttled: retried), so cli-1's record is saved Reused and not joined to cli-1b yet. Its
    # warm_until read `-`, as if it had never been warm; it was, until cli-1b took it.
    session = boto3.DEFAULT_SESSION
    assert session is not None

    def throttled(params: dict[str, Any], **_: Any) -> None:
        if params.get("TrainingJobName") == "cli-1b":
            error = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
            raise ClientError(error, "DescribeTrainingJob")

    # registered before the functions' clients are made: a client copies the session's hooks
    session.events.register("provide-client-params.sagemaker.DescribeTrainingJob", throttled)
    for module in (lifecycle, reconciler):
        module.runtime.cache_clear()
    try:
        pools.advance(120)
        request = training_job_request(
            "cli-1b", keep_alive_seconds=900, volume_size_gb=50, tags={"team": "vision", "owner": "bob"}
        )
        pools.sagemaker.create_training_job(**request)
        pools.advance(15 * 60, tick=300)  # cli-1's look at its expiry finds it Reused
    finally:
        session.events.unregister("provide-client-params.sagemaker.DescribeTrainingJob", throttled)
    capsys.readouterr()  # what the functions logged meanwhile
    taken_at = "2026-03-02T09:02:00+00:00"
    assert main(["pools", "list", "--format", "json"]) == 0
    rows = {r["job"]: r for r in json.loads(capsys.readouterr().out)}
    assert (rows["cli-1"]["state"], rows["cli-1"]["warm_until"]) == ("Reused", taken_at)
    assert main(["pools", "show", "cli-1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"warm_until     {taken_at}" in lines


def test_list_is_ordered_by_team_then_warm_until_then_job(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # The list came in the order of the pools' ids (their first jobs' names), which the table does not
    # show: a team's pools were scattered, and the one going cold first anywhere. By team (untagged
    # last), then warm until (soonest first, the running ones, warm until no time yet, last), then job.
    tags = {"team": "vision", "owner": "bob"}
    for name, keep_alive, volume in (("a-late", 1800, 60), ("b-soon", 300, 70)):
        pools.run_job(name, 60, keep_alive_seconds=keep_alive, volume_size_gb=volume, tags=tags)
    pools.run_job("c-untagged", 60, keep_alive_seconds=600, volume_size_gb=90, tags={})
    pools.sagemaker.create_training_job(
        **training_job_request("d-running", keep_alive_seconds=600, volume_size_gb=100, tags=tags)
    )
    pools.settle()
    capsys.readouterr()  # what the functions logged meanwhile
    order = [
        ("cli-2", "nlp"),
        ("b-soon", "vision"),  # warm until 09:07 (its job ended 09:02)
        ("cli-1", "vision"),  # 09:15
        ("a-late", "vision"),  # 09:31
        ("d-running", "vision"),  # InUse
        ("c-untagged", None),
    ]
    assert main(["pools", "list", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["job"], r["team"]) for r in rows] == order
    until = [r["warm_until"] and r["warm_until"][11:16] for r in rows]
    assert until == ["09:15", "09:07", "09:15", "09:31", None, "09:13"]
    assert main(["pools", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()[2:]
    assert [line.split()[0] for line in lines] == [job for job, _ in order]


def test_show_says_the_fields_of_list_and_counts_one_job_as_one(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # docs/cli.md: `pools show` has the fields of `list`; its text left out the billable time the JSON
    # and the list have, and said of a pool of one job `(1 jobs)`
    assert main(["pools", "list", "--format", "json"]) == 0
    listed = {row["job"]: row for row in json.loads(capsys.readouterr().out)}
    assert main(["pools", "show", "cli-1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"billable_seconds {listed['cli-1']['billable_seconds']}" in [
        " ".join(line.split()) for line in lines
    ]
    assert "lineage        cli-1 (1 job)" in lines
    pools.run_job("cli-1-2", 60, keep_alive_seconds=900, tags={"team": "vision", "owner": "alice"})
    capsys.readouterr()
    assert main(["pools", "show", "cli-1-2"]) == 0
    assert "lineage        cli-1 -> cli-1-2 (2 jobs)" in capsys.readouterr().out.splitlines()


def test_costs_of_a_team_no_pool_has_show_the_table_s_columns(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # the table of a `--team` nothing counts for had one column, `team`: as if costs had no other
    assert main(["pools", "costs"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert main(["pools", "costs", "--team", "audio"]) == 0
    captured = capsys.readouterr()
    columns, rule = captured.out.splitlines()
    assert columns.split() == header.split()
    assert rule.split() == ["-" * len(h) for h in header.split()]
    assert captured.err.startswith("warmpool: --team audio: no pool in the registry is this team's")


def test_a_registry_table_that_is_not_there_is_the_one_list_and_costs_name(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # list and costs read the registry table alone: a stale POOLS_TABLE_NAME sent the reader to check
    # the audit table too, which neither reads (their help says so)
    capsys.readouterr()  # the functions' logs
    for command in ("list", "costs"):
        assert main(["pools", command, "--table", "stale"]) == 2
        err = capsys.readouterr().err
        assert "ResourceNotFoundException" in err
        assert "check the table names (--table stale) against the stack's outputs" in err
    assert main(["pools", "show", "cli-1", "--table", "stale"]) == 2
    err = capsys.readouterr().err
    assert "check the table names (--table stale, AUDIT_TABLE_NAME=warmpool-audit)" in err


def test_the_json_answer_of_a_request_has_the_fields_docs_cli_md_names(
    pools: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # a script is written against the fields docs/cli.md lists: the doc and the answer kept apart
    written = (Path(__file__).resolve().parents[3] / "docs" / "cli.md").read_text()
    listed = re.search(r"in JSON, one document on stdout and nothing else \(([^;]+);", written)
    assert listed is not None
    named = re.findall(r"`([a-z_]+)`", listed.group(1))
    capsys.readouterr()  # the functions' logs
    assert main(["pools", "extend", "cli-1", "--minutes", "30", "--format", "json"]) == 0
    extended = json.loads(capsys.readouterr().out)
    assert main(["pools", "release", "cli-2", "--format", "json"]) == 0
    released = json.loads(capsys.readouterr().out)
    assert list(extended) == list(released) == named
