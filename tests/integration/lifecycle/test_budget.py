"""Budgets count what ended pools cost: the idle-cost ledger, written as each idle gap ends."""

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from warmpool.cli.main import main

from tests.integration.conftest import System

# 3.6 $/h: one idle second costs a tenth of a cent. The team may idle 5 $ a day.
DEFAULTS: dict[str, Any] = {"keep_alive_strategy": "fixed-3600", "budget": {"daily_usd": 5.0}}
POLICY = {"version": 1, "default_team": "vision", "prices": {"ml.g5.2xlarge": 3.6}, "defaults": DEFAULTS}


def test_a_pool_that_expired_today_counts_against_the_daily_budget(system: System) -> None:
    system.set_policy(POLICY)
    system.run_job("b-1", 300, keep_alive_seconds=600)
    system.advance(3600 + 300)  # idle an hour, then expired: 3.60 $ spent
    first = system.registry.get("b-1")
    assert first is not None
    assert first.pool.status.value == "Terminated"
    assert system.registry.idle_cost("vision", system.control.now()) == (3.6, 3.6)

    # another shape, same (default) team: 1.40 $ left buys 1,400 idle seconds, not the hour
    system.run_job("b-2", 300, keep_alive_seconds=600, volume_size_gb=100)
    second = system.registry.get("b-2")
    assert second is not None
    assert second.last_decision is not None
    assert second.last_decision.rule.endswith("budget.daily_usd")
    assert second.last_decision.keep_alive_seconds is not None
    assert 1390 <= second.last_decision.keep_alive_seconds <= 1400
    assert any("daily idle budget has $1.40 left" in r for r in second.last_decision.reasons)


def test_a_teams_budget_day_is_its_own(system: System) -> None:
    # A team in Los Angeles (UTC-8 in March): from 15:05 to 16:05 there, 23:05 to 00:05 UTC, a pool
    # idles 3.60 $. That is all today's in Los Angeles, though UTC's day has turned since.
    system.set_policy({**POLICY, "defaults": {**DEFAULTS, "timezone": "America/Los_Angeles"}})
    start = system.control.now()
    system.advance((start.replace(hour=23) - start).total_seconds(), tick=3600)
    system.run_job("la-1", 300, keep_alive_seconds=600)
    system.advance(3600 + 300)
    now = system.control.now()
    assert (now.hour, now.minute) == (0, 10)
    assert system.registry.idle_cost("vision", now.astimezone(ZoneInfo("America/Los_Angeles"))) == (3.6, 3.6)
    assert system.registry.idle_cost("vision", now) == (0.0, 3.6)  # the ledger keeps no UTC day

    # 1.40 $ are left of the team's day: the next pool is held to 1,400 idle seconds, as at 16:10 it should
    system.run_job("la-2", 300, keep_alive_seconds=600, volume_size_gb=100)
    second = system.registry.get("la-2")
    assert second is not None
    assert second.last_decision is not None
    assert second.last_decision.rule == "defaults.budget.daily_usd"
    assert second.last_decision.keep_alive_seconds is not None
    assert 1390 <= second.last_decision.keep_alive_seconds <= 1400


def test_what_other_pools_booked_past_midnight_is_left_to_the_next_day(system: System) -> None:
    defaults = {"keep_alive_strategy": "fixed-3600", "budget": {"daily_usd": 3.0}}
    system.set_policy({**POLICY, "defaults": defaults})
    start = system.control.now()
    system.advance((start.replace(hour=23, minute=30) - start).total_seconds())
    system.run_job("n-1", 300, keep_alive_seconds=600)  # idle from 23:35, booked for an hour: to 00:35
    system.run_job("n-2", 300, keep_alive_seconds=600, volume_size_gb=100)
    second = system.registry.get("n-2")
    assert second is not None
    assert second.last_decision is not None
    # n-2 ends at 23:40. 3.00 $ less the 0.30 $ n-1 has idled and the 1.20 $ it has booked until
    # midnight leaves 1.50 $: 1,500 idle seconds, more than the 1,200 left today. So today's budget
    # does not cap n-2: the 2.10 $ n-1 has booked after midnight, and n-2's own, are tomorrow's.
    assert not second.last_decision.rule.endswith("budget.daily_usd")
    assert second.last_decision.keep_alive_seconds == 3600


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo"])
def test_a_pool_short_of_its_budget_is_warned_once_a_day_and_again_after_midnight(
    system: System, zone: str
) -> None:
    # 21.60 $ a month buys six idle hours, not the twelve the strategy wants: every look is short of it.
    # The team's day is its own: in Tokyo, midnight is 15:00 UTC.
    defaults = {"keep_alive_strategy": "fixed-43200", "budget": {"monthly_usd": 21.6}, "timezone": zone}
    system.set_policy({**POLICY, "defaults": defaults})
    clock = ZoneInfo(zone)

    def local_now() -> datetime:
        return system.control.now().astimezone(clock)

    def advance_to(hour: int, minute: int = 0, tick: float = 300) -> None:
        target = local_now().replace(hour=hour, minute=minute)
        system.advance((target - local_now()).total_seconds(), tick=tick)

    advance_to(21, tick=3600)
    system.run_job("w-1", 300, keep_alive_seconds=600)  # idle from 21:05 on the team's clock
    first_day = local_now().date()

    def looks_on(day: object) -> list[str]:
        trail = system.registry.audit_trail("w-1")
        return [
            str(e.details["rule"])
            for e in trail
            if e.what == "decision" and e.at.astimezone(clock).date() == day
        ]

    def budget_warnings() -> list[dict[str, object]]:
        return [n for n in system.notifications() if n["kind"] == "budget-warning"]

    advance_to(23, 59)
    assert len(looks_on(first_day)) >= 3  # 21:05, then hourly steps
    assert set(looks_on(first_day)) == {"defaults.budget.monthly_usd"}
    assert len(budget_warnings()) == 1  # said at the first look, not at the later ones

    system.advance(2 * 3600 + 60, tick=300)  # past the team's midnight, to 02:00
    second_day = local_now().date()
    assert second_day != first_day
    assert len(looks_on(second_day)) >= 2
    assert set(looks_on(second_day)) == {"defaults.budget.monthly_usd"}
    record = system.registry.get("w-1")
    assert record is not None
    assert record.pool.status.value == "Available"
    warnings = budget_warnings()
    assert len(warnings) == 1  # still short of it the next day: said again, once
    assert warnings[0]["job_name"] == "w-1"


def test_an_expiry_processed_again_after_a_crash_is_recorded_and_booked_once(system: System) -> None:
    # The invocation that learns the pool expired writes its idle gap and books its cost, then dies
    # before the pool is saved; SQS delivers the message again and it is processed from the start.
    session = boto3.DEFAULT_SESSION
    assert session is not None
    crashes: list[str] = []
    armed = gap_written = False

    def watch_history(params: dict[str, Any], **_: Any) -> None:
        nonlocal gap_written
        gap_written = gap_written or (
            armed and params["Item"].get("pk", {}).get("S", "").startswith("HIST#KEY#")
        )

    def crash_the_save(params: dict[str, Any], **_: Any) -> None:
        puts = [i["Put"]["Item"]["pk"]["S"] for i in params["TransactItems"] if "Put" in i]
        if gap_written and "POOL#c-1" in puts and not crashes:
            crashes.append("after the gap, before the pool's save")
            raise RuntimeError("injected crash")

    # registered before the handlers' clients exist: a client copies the session's hooks when made
    session.events.register("provide-client-params.dynamodb.PutItem", watch_history)
    session.events.register("provide-client-params.dynamodb.TransactWriteItems", crash_the_save)
    try:
        system.set_policy(POLICY)
        system.run_job("c-1", 300, keep_alive_seconds=600)
        armed = True
        system.advance(3600 + 300)
    finally:
        session.events.unregister("provide-client-params.dynamodb.PutItem", watch_history)
        session.events.unregister("provide-client-params.dynamodb.TransactWriteItems", crash_the_save)

    assert crashes
    record = system.registry.get("c-1")
    assert record is not None
    assert record.pool.status.value == "Terminated"
    history, team_history = system.registry.history(record.pool.match_key.digest(), "vision")
    assert [(g.job_name, round(g.seconds)) for g in history] == [("c-1", 3600)]
    assert [g.job_name for g in team_history] == ["c-1"]
    assert system.registry.idle_cost("vision", system.control.now()) == (3.6, 3.6)


def test_a_release_whose_booking_failed_is_booked_by_the_next_reconciler_run(system: System) -> None:
    # The release's gap is written before the save that records the pool gone: when booking it fails,
    # the registry still has the pool Available, and the reconciler finds it gone and books it.
    system.set_policy(POLICY)
    system.run_job("r-1", 300, keep_alive_seconds=600)
    system.advance(1800)  # idle half an hour: 1.80 $
    session = boto3.DEFAULT_SESSION
    assert session is not None
    crashes: list[str] = []

    def crash_the_booking(params: dict[str, Any], **_: Any) -> None:
        keys = [i["Update"]["Key"]["pk"]["S"] for i in params["TransactItems"] if "Update" in i]
        if any(k.startswith("LEDGER#") for k in keys) and not crashes:
            crashes.append("booking the released pool's gap")
            raise RuntimeError("injected crash")

    session.events.register("provide-client-params.dynamodb.TransactWriteItems", crash_the_booking)
    try:
        with pytest.raises(RuntimeError, match="injected crash"):
            main(["pools", "release", "r-1"])
    finally:
        session.events.unregister("provide-client-params.dynamodb.TransactWriteItems", crash_the_booking)
    assert crashes
    assert (
        system.sagemaker.describe_training_job(TrainingJobName="r-1")["WarmPoolStatus"]["Status"]
        == "Terminated"
    )
    assert system.registry.idle_cost("vision", system.control.now()) == (0.0, 0.0)

    system.reconcile()
    record = system.registry.get("r-1")
    assert record is not None
    assert record.pool.status.value == "Terminated"
    assert system.registry.idle_cost("vision", system.control.now()) == (1.8, 1.8)


def test_what_a_person_was_promised_is_booked_against_the_budget_of_the_pools_that_come_after(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # 10-minute steps: a pool kept an hour is set ten minutes at a time
    defaults = {**DEFAULTS, "max_step_minutes": 10}
    system.set_policy({**POLICY, "defaults": defaults})
    system.run_job("p-1", 300, keep_alive_seconds=600)
    assert main(["pools", "extend", "p-1", "--minutes", "50", "--user", "alice"]) == 0
    capsys.readouterr()
    promised = system.registry.get("p-1")
    assert promised is not None
    assert promised.pool.override_until is not None
    assert promised.pool.expires_at is not None
    assert promised.pool.override_until - promised.pool.expires_at > timedelta(minutes=40)
    # the next pool's budget is what is left once p-1's promised hour is paid for: 5 $ less about
    # 3.60 $ (p-1 idle an hour), not less only the ten minutes p-1's keep-alive is set for now
    system.run_job("p-2", 300, keep_alive_seconds=600, volume_size_gb=100)
    second = system.registry.get("p-2")
    assert second is not None
    assert second.last_decision is not None
    assert second.last_decision.rule == "defaults.budget.daily_usd"
    assert second.last_decision.horizon_seconds <= 1400 + 30
