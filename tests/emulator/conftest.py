from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from warmpool.domain.clock import ManualClock
from warmpool.emulator import EmulatorConfig, LocalControl, WarmPoolEmulator, warm_pool_emulator


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig()


@pytest.fixture
def emulator(aws_env: None, emulator_config: EmulatorConfig) -> Iterator[WarmPoolEmulator]:
    with mock_aws(), warm_pool_emulator(emulator_config, ManualClock()) as emu:
        yield emu


@pytest.fixture
def sagemaker(emulator: WarmPoolEmulator) -> Any:
    return boto3.client("sagemaker", region_name="us-east-1")


@pytest.fixture
def control(emulator: WarmPoolEmulator) -> LocalControl:
    return LocalControl(emulator)
