"""A registry whose listings do not fit in one page: DynamoDB returns at most 1 MB per Query page (moto
too), and a pool item carries its job's tags, so a team that tags its jobs for cost allocation (SageMaker
allows 50 tags of up to 128 + 256 characters, about 20 KB per pool) fills a page with about 50 pools.
Every view of the pools reads all of the pages: the CLI's list, a team's count against its
`max_warm_instances`, the digest, the reconciler's sweep."""

import json
from typing import Any

import pytest
from warmpool.cli.main import main
from warmpool.emulator import EmulatorConfig
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import reconciler
from warmpool.local.pumps import LocalLambdaContext

from tests.integration.conftest import System

POOLS = 60  # about 1.2 MB of nlp's Available pools: two pages of every listing of them
AVAILABLE_LISTING = "by_status:STATUS#Available"
NLP_LISTING = "by_team:TEAM#nlp"


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(default_quota=POOLS + 10)  # SageMaker's warm-pool quota, raised to fit them all


def _policy(**top: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "defaults": {"keep_alive_strategy": "fixed-3600"},
        "notifications": {"digest": {"enabled": True, "hour": 9}},
        **top,
    }


def _cost_allocation_tags() -> dict[str, str]:
    """As many tags, as long, as SageMaker allows on a job (with `team` and `owner`: 50)."""
    return {f"costcenter/{i:02d}/".ljust(128, "k"): f"{i:02d}".ljust(256, "v") for i in range(48)}


def _warm(system: System, names: list[str], first_volume_gb: int = 50) -> None:
    """Jobs of nlp, each of its own shape (no job takes another's pool), that end and leave warm pools."""
    tags = {"team": "nlp", "owner": "alice", **_cost_allocation_tags()}
    for i, name in enumerate(names):
        system.sagemaker.create_training_job(
            **training_job_request(name, volume_size_gb=first_volume_gb + i, tags=tags)
        )
    system.settle()
    for name in names:
        system.control.run_for(name, 300)
    system.advance(300)  # 09:05 UTC, the digest hour


@pytest.fixture
def many(system: System) -> System:
    system.set_policy(_policy())
    _warm(system, [f"big-{i:03d}" for i in range(POOLS)])
    system.notifications()
    system.clear_counts()
    return system


def test_the_cli_the_digest_and_the_teams_limit_see_every_pool(
    many: System, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["pools", "list", "--team", "nlp", "--status", "Available", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == POOLS
    assert many.queries[AVAILABLE_LISTING] >= 2  # it took more than one page

    assert many.reconcile()["digests"] == ["nlp"]
    (digest,) = [n for n in many.notifications() if n["kind"] == "daily-digest"]
    assert len(digest["facts"]["warm_pools"]) == POOLS
    assert digest["facts"]["warm_instances"] == POOLS

    # nlp may keep as many warm instances as it has: the next pool is one too many
    many.set_policy(_policy(teams={"nlp": {"max_warm_instances": POOLS}}))
    many.clear_counts()
    _warm(many, ["one-more"], first_volume_gb=50 + POOLS)
    released = many.registry.get("one-more")
    assert released is not None
    assert released.last_decision is not None
    assert (
        released.last_decision.reasons[-1]
        == f"team nlp already has {POOLS} warm instances; the limit is {POOLS}"
    )
    assert many.sagemaker.describe_training_job(TrainingJobName="one-more")["WarmPoolStatus"]["Status"] == (
        "Terminated"
    )
    assert many.queries[NLP_LISTING] >= 2


def _states(system: System) -> set[str]:
    """The pools' states in the registry, each read by its key."""
    records = [system.registry.get(f"big-{i:03d}") for i in range(POOLS)]
    return {record.pool.status.value for record in records if record is not None}


def test_the_reconciler_repairs_every_pool_whose_events_were_lost(many: System) -> None:
    # SageMaker lets every pool go while no event of it arrives (its planned looks do not fire either)
    many.emulator.advance(2 * 3600)
    many.sqs.purge_queue(QueueUrl=many.env.lifecycle_queue_url)
    assert _states(many) == {"Available"}
    report = reconciler.handler({}, LocalLambdaContext())  # one run, alone: no planned look fires after it
    assert len(report["repaired"]) == POOLS
    assert _states(many) == {"Terminated"}
    assert many.queries[AVAILABLE_LISTING] >= 2
