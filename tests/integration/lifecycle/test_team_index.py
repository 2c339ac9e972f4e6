"""What a decision and a cold start read of the other pools (docs/adr/0008, 0009): their team's warm
pools from the `by_team` index, and those of their instance type from `by_type` when a limit counts
them, not every Available pool in the account; the same decisions as before."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from warmpool.domain.model import WarmPoolStatus
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import lifecycle, reconciler

from tests.integration.conftest import System, hooked

EVERY_AVAILABLE_POOL = "by_status:STATUS#Available"


def _policy(**top: Any) -> dict[str, Any]:
    return {"version": 1, "defaults": {"keep_alive_strategy": "fixed-3600"}, **top}


def _warm(system: System, name: str, team: str | None = None, **request: Any) -> None:
    """A job of `team` (untagged without one) that ends and leaves a warm pool (each test gives its
    jobs different shapes, so that none takes another's pool)."""
    system.run_job(name, 300, tags={"team": team} if team else {}, **request)


def _other_pools_read(system: System) -> dict[str, int]:
    """The pools read, by query, besides those of the job's own shape (docs/adr/0007)."""
    return {query: n for query, n in system.items_read.items() if not query.startswith("by_match:")}


def _pool_status(system: System, name: str) -> str:
    status: str = system.sagemaker.describe_training_job(TrainingJobName=name)["WarmPoolStatus"]["Status"]
    return status


def _key(pk: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": pk}, "sk": {"S": "STATE"}}


def _as_left_by_an_older_version(system: System, removed: dict[str, str], complete: tuple[str, ...]) -> None:
    """The registry as a version that wrote no keys `removed` (per pool id) left it, with the indexes
    `complete` recorded as backfilled, read by newly deployed functions."""
    dynamodb = boto3.client("dynamodb")
    table = system.env.pools_table
    for pool_id, keys in removed.items():
        dynamodb.update_item(TableName=table, Key=_key(f"POOL#{pool_id}"), UpdateExpression=f"REMOVE {keys}")
    marker = {"pk": {"S": "INDEXES"}, "sk": {"S": "BACKFILL"}}
    if complete:
        dynamodb.put_item(TableName=table, Item={**marker, "complete": {"SS": list(complete)}})
    else:
        dynamodb.delete_item(TableName=table, Key=marker)
    for module in (lifecycle, reconciler):
        module.runtime.cache_clear()


def test_a_decision_reads_its_own_teams_warm_pools_not_the_accounts(system: System) -> None:
    system.set_policy(_policy(teams={"nlp": {"max_warm_instances": 4}}))
    for i in range(3):
        _warm(system, f"vis-{i}", "vision", volume_size_gb=60 + i)
    _warm(system, "nlp-1", "nlp")
    system.clear_counts()
    _warm(system, "nlp-2", "nlp", volume_size_gb=70)

    decided = system.registry.get("nlp-2")
    assert decided is not None
    assert decided.last_decision is not None
    assert (decided.last_decision.action.value, decided.last_decision.keep_alive_seconds) == ("extend", 3600)
    # Its cold start looked for a near match, and its decision counted the team's pools: nlp-1 each time.
    assert _other_pools_read(system) == {"by_team:TEAM#nlp": 2}


def test_the_default_teams_limit_counts_the_pools_without_a_team_tag(system: System) -> None:
    system.set_policy(_policy(teams={"platform": {"max_warm_instances": 1}}))
    _warm(system, "untagged-1")  # counts for the default team, platform
    _warm(system, "vis-1", "vision", volume_size_gb=60)  # another team's: not counted
    _warm(system, "plat-1", "platform", volume_size_gb=70)
    assert [_pool_status(system, n) for n in ("untagged-1", "vis-1", "plat-1")] == [
        "Available",
        "Available",
        "Terminated",
    ]
    released = system.registry.get("plat-1")
    assert released is not None
    assert released.last_decision is not None
    assert released.last_decision.rule == "teams.platform.max_warm_instances"
    assert released.last_decision.reasons[-1] == "team platform already has 1 warm instance; the limit is 1"
    assert system.queries.get("by_team:NOTEAM", 0) >= 1


def test_an_instance_type_limit_counts_every_teams_pools_of_its_type_only(system: System) -> None:
    system.set_policy(_policy(instance_type_limits={"ml.g5.2xlarge": 1}))
    _warm(system, "vis-1", "vision")
    _warm(system, "vis-big", "vision", instance_type="ml.g5.4xlarge")
    system.clear_counts()
    _warm(system, "nlp-1", "nlp", volume_size_gb=60)
    assert _pool_status(system, "nlp-1") == "Terminated"
    released = system.registry.get("nlp-1")
    assert released is not None
    assert released.last_decision is not None
    assert released.last_decision.rule == "instance_type_limits.ml.g5.2xlarge"
    assert released.last_decision.reasons[-1] == "1 ml.g5.2xlarge instance already warm; the limit is 1"
    # its team's pools (none), and vis-1, another team's pool of its type, from the by_type index: not
    # vis-big, not the whole fleet
    assert _other_pools_read(system) == {"by_team:TEAM#nlp": 0, "by_type:TYPE#ml.g5.2xlarge": 1}


def test_a_cold_start_looks_for_a_near_match_among_its_teams_pools_of_its_type(system: System) -> None:
    system.set_policy(_policy())
    _warm(system, "near-1", "nlp")
    _warm(system, "big-1", "nlp", instance_type="ml.g5.4xlarge")
    _warm(system, "vis-1", "vision", volume_size_gb=60)
    system.notifications()
    system.clear_counts()
    system.sagemaker.create_training_job(
        **training_job_request("near-2", volume_size_gb=200, tags={"team": "nlp", "owner": "alice"})
    )
    system.settle()
    notes = [n for n in system.notifications() if n["kind"] == "missed-pool"]
    assert [(n["facts"]["nearby_pool_job"], n["facts"]["differing_fields"]) for n in notes] == [
        ("near-1", ["ResourceConfig.VolumeSizeInGB"])
    ]
    assert _other_pools_read(system) == {"by_team:TEAM#nlp": 1}  # near-1 only: not big-1, not vis-1


def test_a_near_match_warm_for_another_team_is_not_reported(system: System) -> None:
    system.set_policy(_policy())
    _warm(system, "vis-1", "vision")
    system.notifications()
    request = training_job_request("nlp-1", volume_size_gb=200, tags={"team": "nlp"})
    system.sagemaker.create_training_job(**request)
    system.settle()
    assert [n for n in system.notifications() if n["kind"] == "missed-pool"] == []


def test_an_upgraded_registry_decides_as_before_and_is_indexed_once(system: System) -> None:
    system.set_policy(_policy(teams={"nlp": {"max_warm_instances": 1}}))
    _warm(system, "up-1", "nlp")
    before = system.registry.get("up-1")
    assert before is not None
    # A Reused pool the successor never adopted, written before the by_match index existed.
    reused = replace(before.pool, pool_id="old-r", job_name="old-r", status=WarmPoolStatus.REUSED, version=0)
    system.registry.put(replace(before, pool=reused), None)
    # The registry as a version without the by_team index left it, read by a newly deployed function.
    _as_left_by_an_older_version(
        system, {"up-1": "gsi3pk, gsi3sk, gsi4pk, gsi4sk", "old-r": "gsi2pk, gsi2sk"}, complete=()
    )
    dynamodb = boto3.client("dynamodb")
    table = system.env.pools_table

    system.clear_counts()
    _warm(system, "up-2", "nlp", volume_size_gb=60)  # up-1 is counted: read from by_status meanwhile
    assert _pool_status(system, "up-2") == "Terminated"
    assert system.items_read[EVERY_AVAILABLE_POOL] >= 1

    system.reconcile()  # indexes the Reused pool too, and records that the indexes are complete
    item = dynamodb.get_item(TableName=table, Key=_key("POOL#old-r"))["Item"]
    assert item["gsi2sk"]["S"] == "Reused#old-r"
    assert "old-r" in [r.pool.pool_id for r in system.registry.pools_of_key(reused.match_key.digest())]
    assert {"gsi3pk", "gsi4pk"} <= set(dynamodb.get_item(TableName=table, Key=_key("POOL#up-1"))["Item"])

    system.clear_counts()
    system.reconcile()  # done once: no Reused listing at every run
    assert "by_status:STATUS#Reused" not in system.queries
    system.clear_counts()
    _warm(system, "up-3", "nlp", volume_size_gb=70)
    assert _pool_status(system, "up-3") == "Terminated"
    assert EVERY_AVAILABLE_POOL not in system.queries


def test_a_registry_upgraded_from_the_team_index_counts_type_limits_as_before(system: System) -> None:
    system.set_policy(_policy(instance_type_limits={"ml.g5.2xlarge": 1}))
    _warm(system, "vis-1", "vision")
    # The registry as the version with by_match and by_team but without by_type left it.
    _as_left_by_an_older_version(system, {"vis-1": "gsi4pk, gsi4sk"}, complete=("by_match", "by_team"))
    dynamodb = boto3.client("dynamodb")
    table = system.env.pools_table

    system.clear_counts()
    _warm(system, "nlp-1", "nlp", volume_size_gb=60)  # vis-1 is counted: read from by_status meanwhile
    assert _pool_status(system, "nlp-1") == "Terminated"
    assert system.items_read[EVERY_AVAILABLE_POOL] >= 1

    system.reconcile()  # gives vis-1 the by_type keys, and records that the index is complete
    assert "gsi4pk" in dynamodb.get_item(TableName=table, Key=_key("POOL#vis-1"))["Item"]
    system.clear_counts()
    _warm(system, "nlp-2", "nlp", volume_size_gb=70)
    assert _pool_status(system, "nlp-2") == "Terminated"
    assert EVERY_AVAILABLE_POOL not in system.queries
    assert system.items_read["by_type:TYPE#ml.g5.2xlarge"] == 1


def test_a_team_named_by_a_configured_tag_has_its_limit_and_its_budget(system: System) -> None:
    # tags.team: cost-center. The jobs carry no `team` tag: their team is the one cost-center names.
    system.set_policy(
        _policy(
            tags={"team": "cost-center"},
            prices={"ml.g5.2xlarge": 3.6},  # one idle second costs a tenth of a cent
            teams={"vision": {"max_warm_instances": 1, "budget": {"daily_usd": 5.0}}},
        )
    )
    vision = {"cost-center": "vision", "owner": "alice"}
    system.run_job("cc-1", 300, tags=vision, keep_alive_seconds=600)
    system.run_job("cc-2", 300, tags=vision, keep_alive_seconds=600, volume_size_gb=60)
    assert [_pool_status(system, n) for n in ("cc-1", "cc-2")] == ["Available", "Terminated"]
    refused = system.registry.get("cc-2")
    assert refused is not None
    assert refused.last_decision is not None
    assert refused.last_decision.rule == "teams.vision.max_warm_instances"
    assert refused.last_decision.reasons[-1] == "team vision already has 1 warm instance; the limit is 1"

    system.advance(3600 + 300)  # cc-1 idled its hour and expired: 3.60 $ of vision's 5 $ spent
    assert system.registry.idle_cost("vision", system.control.now()) == (3.6, 3.6)
    system.run_job("cc-3", 300, tags=vision, keep_alive_seconds=600, volume_size_gb=70)
    held = system.registry.get("cc-3")
    assert held is not None
    assert held.last_decision is not None
    assert held.last_decision.rule == "teams.vision.budget.daily_usd"
    assert held.last_decision.keep_alive_seconds is not None
    assert 1390 <= held.last_decision.keep_alive_seconds <= 1400


@pytest.fixture
def ledgers_read(system: System) -> Iterator[list[str]]:
    """The teams whose idle-cost ledger the functions read (a GetItem of `LEDGER#<team>` each), in order;
    registered before the functions' clients are made (a client copies the session's hooks)."""
    read: list[str] = []

    def note(params: dict[str, Any], **_: Any) -> None:
        pk = str(params.get("Key", {}).get("pk", {}).get("S", ""))
        if pk.startswith("LEDGER#"):
            read.append(pk.removeprefix("LEDGER#"))

    with hooked("provide-client-params.dynamodb.GetItem", note):
        yield read


def test_a_decision_reads_its_own_teams_idle_cost_not_every_teams(
    system: System, ledgers_read: list[str]
) -> None:
    # the type's limit counts every team's pools of its type; the budget the decision checks is its own
    # team's: at a platform's scale, a ledger read per team with pools of the type was most of a decision
    system.set_policy(
        {
            "version": 1,
            "defaults": {"keep_alive_strategy": "fixed-3600", "budget": {"daily_usd": 1000}},
            "instance_type_limits": {"ml.g5.2xlarge": 10},
        }
    )
    for i, team in enumerate(("vision", "speech", "search")):
        _warm(system, f"{team}-1", team, volume_size_gb=60 + i)
    ledgers_read.clear()
    system.clear_counts()
    _warm(system, "nlp-1", "nlp", volume_size_gb=70)

    decided = system.registry.get("nlp-1")
    assert decided is not None
    assert decided.last_decision is not None
    assert (decided.last_decision.action.value, decided.last_decision.keep_alive_seconds) == ("extend", 3600)
    assert system.items_read["by_type:TYPE#ml.g5.2xlarge"] == 3  # the other teams' pools, for the limit
    assert set(ledgers_read) == {"nlp"}
