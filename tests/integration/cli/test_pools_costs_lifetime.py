"""`warmpool pools costs` counts a pool's idling as SageMaker bills it: until its maximum lifetime's end,
as the digest and every notice's so-far do (`idle_until`)."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from warmpool.cli.main import main
from warmpool.emulator import EmulatorConfig
from warmpool.handlers import lifecycle, reconciler

from tests.integration.conftest import System


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(max_lifetime_seconds=3600)  # a deployment whose pools live an hour


def test_costs_count_a_pool_past_its_maximum_lifetime_only_until_its_lifetime_ended(
    system: System, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_LIFETIME_SECONDS", "3600")
    for module in (lifecycle, reconciler):
        module.runtime.cache_clear()
    # A policy tried out (dry run: nothing changed) on a job that ran 09:00-09:50 and keeps its pool an
    # hour: the registry has it warm until 10:50, but SageMaker ends it at 10:00, its lifetime's end.
    system.set_policy({"version": 1, "dry_run": True})
    system.run_job("life-1", 50 * 60, keep_alive_seconds=3600, tags={"team": "vision"})
    record = system.registry.get("life-1")
    assert record is not None
    assert record.pool.available_since is not None
    assert record.pool.expires_at == record.pool.available_since + timedelta(hours=1)
    system.emulator.advance(20 * 60)  # 10:10: the look at 10:00 has not come yet (lost, or late)
    warm = system.sagemaker.describe_training_job(TrainingJobName="life-1")["WarmPoolStatus"]
    assert (warm["Status"], warm["ResourceRetainedBillableTimeInSeconds"]) == ("Terminated", 600)
    capsys.readouterr()  # what the functions logged meanwhile
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\n")
    assert main(["pools", "costs", "--policy", str(policy), "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)["teams"][0]
    # what SageMaker billed: 10 minutes of ml.g5.2xlarge at 1.515 $/h (0.25), not the 20 to now (0.51)
    assert row["idle_today_usd"] == round(600 * 1.515 / 3600, 2) == 0.25
