"""Budgets count what ended pools cost: the idle-cost ledger, written as each idle gap ends."""

from warmpool.emulator.jobs import training_job_request

from tests.integration.conftest import System

# 3.6 $/h: one idle second costs a tenth of a cent. The team may idle 5 $ a day.
POLICY = {
    "version": 1,
    "default_team": "vision",
    "prices": {"ml.g5.2xlarge": 3.6},
    "defaults": {"keep_alive_strategy": "fixed-3600", "budget": {"daily_usd": 5.0}},
}


def test_a_pool_that_expired_today_counts_against_the_daily_budget(system: System) -> None:
    system.set_policy(POLICY)
    system.sagemaker.create_training_job(**training_job_request("b-1", keep_alive_seconds=600))
    system.settle()
    system.control.run_for("b-1", 300)
    system.advance(300 + 3600 + 300)  # idle an hour, then expired: 3.60 $ spent
    first = system.registry.get("b-1")
    assert first is not None
    assert first.pool.status.value == "Terminated"
    assert system.registry.idle_cost("vision", system.control.now()) == (3.6, 3.6)

    # another shape, same (default) team: 1.40 $ left buys 1,400 idle seconds, not the hour
    system.sagemaker.create_training_job(
        **training_job_request("b-2", keep_alive_seconds=600, volume_size_gb=100)
    )
    system.settle()
    system.control.run_for("b-2", 300)
    system.advance(300)
    second = system.registry.get("b-2")
    assert second is not None
    assert second.last_decision is not None
    assert second.last_decision.rule.endswith("budget.daily_usd")
    assert second.last_decision.keep_alive_seconds is not None
    assert 1390 <= second.last_decision.keep_alive_seconds <= 1400
    assert any("daily idle budget has $1.40 left" in r for r in second.last_decision.reasons)
