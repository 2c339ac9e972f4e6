"""The registry's indexes: what a job's first event reads, and an upgraded registry."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber
from warmpool.adapters.registry import DynamoPoolRegistry
from warmpool.emulator.jobs import training_job_request

from tests.integration.conftest import System


def _item(system: System, pool_id: str) -> dict[str, dict[str, str]]:
    item: dict[str, dict[str, str]] = boto3.client("dynamodb").get_item(
        TableName=system.env.pools_table, Key={"pk": {"S": f"POOL#{pool_id}"}, "sk": {"S": "STATE"}}
    )["Item"]
    return item


def _start(system: System, name: str, instance_type: str = "ml.g5.2xlarge") -> None:
    system.sagemaker.create_training_job(
        **training_job_request(
            name, instance_type=instance_type, keep_alive_seconds=900, tags={"team": "nlp"}
        )
    )
    system.settle()


def test_the_pools_of_a_shape_are_found_without_the_others_while_they_live(system: System) -> None:
    _start(system, "s-1")
    _start(system, "other-1", instance_type="ml.g5.4xlarge")
    system.control.run_for("s-1", 300)
    system.control.run_for("other-1", 300)
    system.advance(360)
    mine = system.registry.get("s-1")
    assert mine is not None
    digest = mine.pool.match_key.digest()
    found = system.registry.pools_of_key(digest)
    assert [(r.pool.pool_id, r.pool.status.value) for r in found] == [("s-1", "Available")]

    _start(system, "s-2")  # takes s-1's warm pool: one lineage, InUse
    found = system.registry.pools_of_key(digest)
    assert [(r.pool.pool_id, r.pool.job_name, r.pool.status.value) for r in found] == [
        ("s-1", "s-2", "InUse")
    ]

    system.control.run_for("s-2", 60)
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "none"}})
    system.advance(3600)  # released: an ended pool leaves the index, and stays listed as Terminated
    assert system.registry.pools_of_key(digest) == []
    assert "gsi2pk" not in _item(system, "s-1")
    listed = {(r.pool.pool_id, r.pool.status.value) for r in system.registry.list_pools()}
    assert ("s-1", "Terminated") in listed


def test_listing_the_pools_queries_the_status_index_and_scans_nothing(system: System) -> None:
    _start(system, "l-1")
    system.control.run_for("l-1", 300)
    system.advance(360)
    _start(system, "l-2", instance_type="ml.g5.4xlarge")
    system.api_calls.clear()
    listed = [(r.pool.pool_id, r.pool.status.value) for r in system.registry.list_pools()]
    assert listed == [("l-1", "Available"), ("l-2", "InUse")]
    assert "Scan" not in system.api_calls
    assert system.api_calls["Query"] == 4  # one per warm-pool state
    assert [r.pool.pool_id for r in system.registry.list_pools(team="nlp", status="InUse")] == ["l-2"]


def test_an_upgraded_registry_indexes_its_pools_and_the_next_job_continues_the_lineage(
    system: System,
) -> None:
    _start(system, "u-1")
    system.control.run_for("u-1", 300)
    system.advance(360)
    # The item as a version without the by_match index wrote it.
    boto3.client("dynamodb").update_item(
        TableName=system.env.pools_table,
        Key={"pk": {"S": "POOL#u-1"}, "sk": {"S": "STATE"}},
        UpdateExpression="REMOVE gsi2pk, gsi2sk",
    )
    record = system.registry.get("u-1")
    assert record is not None
    assert system.registry.pools_of_key(record.pool.match_key.digest()) == []

    system.reconcile()  # lists the Available pools, and indexes the ones written before the index
    item = _item(system, "u-1")
    assert item["gsi2pk"]["S"] == f"MATCH#{record.pool.match_key.digest()}"
    assert item["gsi2sk"]["S"] == "Available#u-1"

    _start(system, "u-2")
    assert system.registry.pool_id_for_job("u-2") == "u-1"
    after = system.registry.get("u-1")
    assert after is not None
    assert after.pool.lineage == ("u-1", "u-2")


def test_a_read_only_caller_lists_unindexed_pools_and_leaves_the_indexing_to_the_engine(
    system: System,
) -> None:
    # A Stubber, not moto's IAM enforcement: moto checks DynamoDB actions against resource "*" (so the
    # table-scoped policy of docs/deploy.md denies even Query) and answers a denial with an XML
    # "AccessDenied" that the DynamoDB protocol reads as code "403", not AWS's AccessDeniedException.
    _start(system, "r-1")
    item = {k: v for k, v in _item(system, "r-1").items() if k not in ("gsi2pk", "gsi2sk")}
    record = system.registry.get("r-1")
    assert record is not None
    client = boto3.client("dynamodb")
    with Stubber(client) as stub:  # the read-only IAM policy of docs/deploy.md: Query yes, UpdateItem no
        stub.add_response(
            "query",
            {"Items": [item]},
            expected_params={
                "TableName": system.env.pools_table,
                "IndexName": "by_status",
                "KeyConditionExpression": "gsi1pk = :s",
                "ExpressionAttributeValues": {":s": {"S": "STATUS#InUse"}},
            },
        )
        stub.add_client_error(
            "update_item",
            "AccessDeniedException",
            "not authorized to UpdateItem",
            expected_params={
                "TableName": system.env.pools_table,
                "Key": {"pk": item["pk"], "sk": item["sk"]},
                "UpdateExpression": "SET gsi2pk = :gsi2pk, gsi2sk = :gsi2sk",
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {
                    ":gsi2pk": {"S": f"MATCH#{record.pool.match_key.digest()}"},
                    ":gsi2sk": {"S": "InUse#r-1"},
                    ":v": item["version"],
                },
            },
        )
        registry = DynamoPoolRegistry(system.env.pools_table, client, audit_table_name="")
        listed = registry.list_by_status("InUse")
        stub.assert_no_pending_responses()
    assert [(r.pool.pool_id, r.pool.status.value) for r in listed] == [("r-1", "InUse")]
