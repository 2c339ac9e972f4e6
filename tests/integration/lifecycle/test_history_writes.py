"""The idle-gap histories in DynamoDB: a cold start is taken once and can be undone once, and writers
that meet on one history item all land."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from warmpool.adapters.registry import DynamoPoolRegistry
from warmpool.domain.model import IdleGap

from tests.integration.conftest import System

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEY = "digest-1"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def registry(system: System, client: Any = None) -> DynamoPoolRegistry:
    """A registry on a client of its own, so that a test can hook into its calls only."""
    return DynamoPoolRegistry(
        system.env.pools_table, client or boto3.client("dynamodb"), audit_table_name=system.env.audit_table
    )


def released(minutes: float) -> IdleGap:
    return IdleGap(at(minutes), 600, False, 900.0, running_jobs=0, known_gaps=1)


def test_a_cold_start_is_taken_once_and_undone_once(system: System) -> None:
    reg = registry(system)
    for gap in (released(0), released(5)):
        reg.add_gap(KEY, "vision", gap)
    reg.observe_cold_start(KEY, "vision", at(30), "job-b")
    reg.observe_cold_start(KEY, "vision", at(31), "job-b")  # its event again: not a second cold start
    assert [g.reused for g in reg.history(KEY, "vision")[0]] == [False, True]

    assert reg.undo_cold_start(KEY, "vision", "job-b", at(40))
    assert not reg.undo_cold_start(KEY, "vision", "job-b", at(41))  # repeated: nothing more to undo
    key, team = reg.history(KEY, "vision")
    assert list(key) == [released(0), released(5)]
    assert team == key


def test_a_cold_start_between_the_wrong_one_and_its_undo_answers_again_as_in_order(system: System) -> None:
    reg = registry(system)
    for gap in (released(0), released(5)):
        reg.add_gap(KEY, "vision", gap)
    reg.observe_cold_start(KEY, "vision", at(30), "job-b")  # took a warm pool: not known yet
    reg.observe_cold_start(KEY, "vision", at(40), "job-c")  # a true cold start: takes the older gap

    assert reg.undo_cold_start(KEY, "vision", "job-b", at(50))
    key, team = reg.history(KEY, "vision")
    # in order, job-c would have answered for the latest released pool
    assert [(round(g.seconds), g.reused) for g in key] == [(600, False), (35 * 60, True)]
    assert team == key
    assert reg.undo_cold_start(KEY, "vision", "job-c", at(60))  # and its own undo still finds its gap
    assert list(reg.history(KEY, "vision")[0]) == [released(0), released(5)]


def test_a_cold_start_that_found_no_gap_takes_the_one_the_undo_puts_back(system: System) -> None:
    # job-b took the only released gap, wrongly (it had taken a warm pool); job-c, a true cold start,
    # then found none. In order, job-c would have answered for that gap.
    reg = registry(system)
    reg.add_gap(KEY, "vision", released(0))
    reg.observe_cold_start(KEY, "vision", at(30), "job-b")
    reg.observe_cold_start(KEY, "vision", at(40), "job-c")
    assert [(round(g.seconds), g.reused) for g in reg.history(KEY, "vision")[0]] == [(30 * 60, True)]

    assert reg.undo_cold_start(KEY, "vision", "job-b", at(50))
    key, team = reg.history(KEY, "vision")
    assert [(round(g.seconds), g.reused) for g in key] == [(40 * 60, True)]
    assert team == key
    reg.observe_cold_start(KEY, "vision", at(41), "job-c")  # its event again: answered already
    assert reg.undo_cold_start(KEY, "vision", "job-c", at(60))  # job-c's own undo finds the gap
    assert list(reg.history(KEY, "vision")[0]) == [released(0)]


def test_an_undone_cold_start_written_before_entries_said_so_stays_undone(system: System) -> None:
    # Before cold starts without a gap were kept, an entry without a gap could only be an undone one.
    reg = registry(system)
    reg.add_gap(KEY, None, released(0))
    key = {"pk": {"S": f"HIST#KEY#{KEY}"}, "sk": {"S": "GAPS"}}
    client = boto3.client("dynamodb")
    item = client.get_item(TableName=system.env.pools_table, Key=key)["Item"]
    legacy = {"job-b": {"at": at(30).isoformat(), "gap": None}}
    client.put_item(TableName=system.env.pools_table, Item={**item, "cold_starts": {"S": json.dumps(legacy)}})

    reg.observe_cold_start(KEY, None, at(31), "job-b")  # its cold start reported after the undo
    assert list(reg.history(KEY, None)[0]) == [released(0)]
    assert not reg.undo_cold_start(KEY, None, "job-b", at(40))


def test_a_cold_start_reported_after_its_undo_is_not_taken(system: System) -> None:
    # The join ran between the job's registration and the report of its cold start.
    reg = registry(system)
    reg.add_gap(KEY, "vision", released(0))
    assert not reg.undo_cold_start(KEY, "vision", "job-b", at(20))
    reg.observe_cold_start(KEY, "vision", at(30), "job-b")
    assert list(reg.history(KEY, "vision")[0]) == [released(0)]
    reg.observe_cold_start(KEY, "vision", at(31), "job-c")  # another job's cold start still counts
    assert [g.reused for g in reg.history(KEY, "vision")[0]] == [True]


def test_a_write_that_meets_another_on_the_same_history_reads_again(system: System) -> None:
    client = boto3.client("dynamodb")
    reg = registry(system, client)
    reg.add_gap(KEY, None, released(0))
    reg.observe_cold_start(KEY, None, at(30), "job-b")
    other = registry(system)  # another pool's invocation, writing between this one's read and write
    meddled: list[bool] = []

    def meanwhile(**_: Any) -> None:
        if not meddled:
            meddled.append(True)
            other.add_gap(KEY, None, IdleGap(at(20), 60, True))

    client.meta.events.register("before-call.dynamodb.PutItem", meanwhile)
    assert reg.undo_cold_start(KEY, None, "job-b", at(40))

    assert meddled
    assert list(reg.history(KEY, None)[0]) == [released(0), IdleGap(at(20), 60, True)]
