"""Each planned look at a pool is its own schedule: one that changes nothing does not swallow the next."""

from __future__ import annotations

from warmpool.emulator.jobs import training_job_request

from tests.integration.conftest import System


def test_pools_held_back_by_the_reductions_cap_are_each_looked_at_again_until_released(
    system: System,
) -> None:
    system.set_policy(
        {"version": 1, "max_reductions_per_run": 1, "defaults": {"keep_alive_strategy": "none"}}
    )
    names = ("cap-a", "cap-b", "cap-c")
    for index, name in enumerate(names):  # three shapes: three pools, ending in the same minute
        system.sagemaker.create_training_job(
            **training_job_request(name, keep_alive_seconds=3600, volume_size_gb=50 + index)
        )
    system.settle()
    for name in names:
        system.control.run_for(name, 300)
    system.advance(300)  # one batch of job-end events: one release, two held back for 5 minutes

    def released() -> list[str]:
        return [u["job"] for u in system.control.update_calls() if u["seconds"] == 0]

    assert len(released()) == 1
    system.advance(300)  # the two held back come due together: one more release, one held back again
    assert len(released()) == 2
    system.advance(300)  # the third look at the last pool (no reconciler: only its own schedule)
    assert sorted(released()) == sorted(names)
    assert all(system.registry.get(n).pool.status.value == "Terminated" for n in names)  # type: ignore[union-attr]


def _planned(system: System) -> list[str]:
    listed = system.schedules._scheduler.list_schedules(GroupName=system.env.scheduler_group)
    return [s["Name"] for s in listed["Schedules"]]


def test_a_pool_taken_by_the_next_job_drops_the_look_it_had_planned(system: System) -> None:
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "fixed-7200"}})
    system.run_job("plan-1", 300)
    steps = _planned(system)
    assert len(steps) == 1  # the next step, 55 minutes on
    assert "-step-1-" in steps[0]  # after the first update
    system.advance(600)
    system.sagemaker.create_training_job(**training_job_request("plan-2"))
    system.settle()  # plan-2 takes the warm pool: InUse, nothing to look at until it ends
    assert system.registry.pool_id_for_job("plan-2") == "plan-1"
    assert _planned(system) == []


def test_a_lost_expiry_warning_is_recreated_as_a_warning(system: System) -> None:
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "job"}})  # its own 30 minutes
    system.run_job("lost-1", 300, keep_alive_seconds=1800)
    (warning,) = _planned(system)
    assert "-expiri-" in warning  # the look 15 minutes before expiry
    system.schedules._scheduler.delete_schedule(Name=warning, GroupName=system.env.scheduler_group)
    report = system.reconcile()
    assert report["rescheduled"] == ["lost-1"]
    (recreated,) = _planned(system)
    assert "-expiri-" in recreated


def test_the_shortest_steps_a_policy_allows_keep_the_pool_warm_to_its_horizon(system: System) -> None:
    system.set_policy(
        {"version": 1, "defaults": {"keep_alive_strategy": "fixed-1800", "max_step_minutes": 5}}
    )
    system.run_job("short-1", 300, keep_alive_seconds=600)
    system.advance(3600, tick=10)

    updates = [u["seconds"] for u in system.control.update_calls()]
    assert len(updates) >= 6
    assert max(updates) <= 300
    job = system.sagemaker.describe_training_job(TrainingJobName="short-1")
    billable = job["WarmPoolStatus"]["ResourceRetainedBillableTimeInSeconds"]
    assert abs(billable - 1800) <= 60  # warm for the policy's 30 minutes, not one step
