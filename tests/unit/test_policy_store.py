"""The policy document from SSM (on moto): a bad or unreadable parameter never replaces a good one."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from warmpool.adapters.policy_store import SsmPolicySource
from warmpool.domain.clock import ManualClock

NAME = "/warmpool/policy"


class CountingMetrics:
    def __init__(self) -> None:
        self.counts: dict[str, float] = {}

    def count(self, name: str, value: float = 1, unit: str = "Count") -> None:
        self.counts[name] = self.counts.get(name, 0) + value


@pytest.fixture
def ssm() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def put(ssm: Any, value: str) -> None:
    ssm.put_parameter(Name=NAME, Value=value, Type="String", Overwrite=True)


def test_a_bad_or_unreadable_parameter_keeps_the_last_good_document(ssm: Any) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    metrics = CountingMetrics()
    source = SsmPolicySource(ssm, NAME, cache_seconds=60, clock=clock, metrics=metrics)
    put(ssm, json.dumps({"version": 1, "default_team": "research"}))
    assert source.current().default_team == "research"

    put(ssm, '{"version": 1, "defaults": {"max_horizon_minutes": "lots"}}')
    clock.advance(61)
    assert source.current().default_team == "research"
    assert metrics.counts == {"PolicyInvalid": 1}

    ssm.delete_parameter(Name=NAME)
    clock.advance(61)
    assert source.current().default_team == "research"
    assert source.current().default_team == "research"  # cached: not read again at once
    assert metrics.counts == {"PolicyInvalid": 1, "PolicyUnreadable": 1}

    put(ssm, json.dumps({"version": 1, "default_team": "vision"}))
    clock.advance(61)
    assert source.current().default_team == "vision"


def test_a_region_given_as_a_time_zone_keeps_the_last_good_document(ssm: Any) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    metrics = CountingMetrics()
    source = SsmPolicySource(ssm, NAME, cache_seconds=60, clock=clock, metrics=metrics)
    put(ssm, json.dumps({"version": 1, "default_team": "research"}))
    assert source.current().default_team == "research"
    put(ssm, json.dumps({"version": 1, "defaults": {"timezone": "America"}}))
    clock.advance(61)
    assert source.current().default_team == "research"
    assert metrics.counts == {"PolicyInvalid": 1}


def test_without_a_good_document_an_unreadable_parameter_fails_the_event(ssm: Any) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    source = SsmPolicySource(ssm, NAME, cache_seconds=60, clock=clock, metrics=CountingMetrics())
    with pytest.raises(ClientError, match="ParameterNotFound"):
        source.current()


def test_an_invalid_parameter_read_first_is_logged_as_deciding_with_the_built_in_policy(
    ssm: Any, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    metrics = CountingMetrics()
    source = SsmPolicySource(ssm, NAME, cache_seconds=60, clock=clock, metrics=metrics)
    put(ssm, "version: 1\ndefault_team: research\n")  # the YAML file, put by hand
    assert source.current().default_team == "platform"  # the built-in policy's
    put(ssm, '{"version": 1, "defaults": {"max_horizon_minutes": "lots"}}')
    clock.advance(61)
    assert source.current().default_team == "platform"
    assert source.current().deployed_version is None  # no version of the parameter: the trail says null
    assert metrics.counts == {"PolicyInvalid": 2}
    built_in = "deciding with the built-in policy (each job's own keep-alive) until it is fixed"
    assert [r.getMessage() for r in caplog.records] == [
        f"policy parameter {NAME} is invalid; {built_in}: <root>: is not JSON (Expecting value: line 1 "
        "column 1 (char 0)). Deploy the policy with the stack (cdk deploy)",
        f"policy parameter {NAME} is invalid; {built_in}: defaults.max_horizon_minutes: Input should be a "
        "valid integer, unable to parse string as an integer. Use a whole number.",
    ]


def test_a_function_started_since_the_parameter_went_bad_decides_by_its_last_valid_version(
    ssm: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # a warm function keeps the good document it read; one started since read none, and by the built-in
    # policy (each job's own keep-alive) would let go the pools the deployed rules keep warm
    clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    metrics = CountingMetrics()
    put(ssm, json.dumps({"version": 1, "default_team": "research"}))
    put(ssm, json.dumps({"version": 1, "default_team": "vision"}))
    put(ssm, '{"version": 1, "defaults": {"max_horizon_minutes": "lots"}}')  # version 3, by hand
    put(ssm, "version: 1\ndefault_team: nlp\n")  # version 4: the YAML file
    source = SsmPolicySource(ssm, NAME, cache_seconds=60, clock=clock, metrics=metrics)
    assert source.current().default_team == "vision"
    assert source.current().deployed_version == 2  # what the audit trail names for its decisions
    assert metrics.counts == {"PolicyInvalid": 1}
    assert [r.getMessage() for r in caplog.records] == [
        f"policy parameter {NAME} is invalid; deciding with version 2, its last valid one, until it is "
        "fixed: <root>: is not JSON (Expecting value: line 1 column 1 (char 0)). Deploy the policy with "
        "the stack (cdk deploy)"
    ]
    put(ssm, json.dumps({"version": 1, "default_team": "speech"}))  # fixed
    clock.advance(61)
    assert source.current().default_team == "speech"
    assert source.current().deployed_version == 5


def test_a_deployed_budget_under_an_owner_is_refused_and_the_team_s_own_decides(
    ssm: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # put by hand (synth refuses it): alice's own 500 $ lifted team vision's 10 $ for her pools, which
    # went on spending it; the functions decide by the last version that holds the team's budget alone
    team = {"vision": {"budget": {"daily_usd": 10}}}
    put(ssm, json.dumps({"version": 1, "teams": team}))
    put(ssm, json.dumps({"version": 1, "teams": team, "owners": {"alice": {"budget": {"daily_usd": 500}}}}))
    metrics = CountingMetrics()
    clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    policy = SsmPolicySource(ssm, NAME, cache_seconds=60, clock=clock, metrics=metrics).current()
    assert (policy.deployed_version, policy.owners) == (1, {})
    assert metrics.counts == {"PolicyInvalid": 1}
    assert [r.getMessage() for r in caplog.records] == [
        f"policy parameter {NAME} is invalid; deciding with version 1, its last valid one, until it is "
        "fixed: owners.alice.budget: a budget is a team's: its idle cost per day and month, counted on the "
        "team's ledger whichever of its pools idled. Here it would hold only these pools to the whole "
        "team's spending, and lift the team's own budget for them. Set it under teams.<team> (or defaults, "
        "for every team); to spend less on these pools, give them a shorter max_horizon_minutes here."
    ]
