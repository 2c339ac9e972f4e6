"""What a sweep's owners hear: a tuning job's trials share its tags (SageMaker copies the tuning job's
tags to every training job it launches), so what is wrong with them is said once per tuning job, not
once per trial's pool."""

from __future__ import annotations

from warmpool.emulator.jobs import training_job_request

from tests.integration.conftest import System

TWO_HOURS = {"version": 1, "defaults": {"keep_alive_strategy": "fixed-7200"}}


def parallel_sweep_ended(system: System, tags: dict[str, str] | None, status: str = "Stopped") -> None:
    """Three trials at once, each on a pool of its own, idle and left to the sweep; then it ends."""
    system.set_policy(TWO_HOURS)
    trials = [training_job_request(f"par-00{i}-a1b2c3d4", tags=tags) for i in (1, 2, 3)]
    system.control.start_tuning_job("par", trials)
    system.settle()
    for trial in trials:
        system.control.complete_job(trial["TrainingJobName"])
        system.settle()
    assert system.notifications() == []  # nothing per trial while the sweep runs
    system.control.complete_tuning_job("par", status)
    system.settle()


def test_an_untagged_sweep_is_warned_of_its_missing_tags_once_not_once_per_pool(system: System) -> None:
    parallel_sweep_ended(system, tags=None)

    said = system.notifications()
    kinds = sorted(n["kind"] for n in said)
    # each pool's own decision (its buttons), the sweep's end once, and the missing tags once
    assert kinds == ["extended", "extended", "extended", "missing-tags", "tuning-job-finished"]
    assert [u["seconds"] for u in system.control.update_calls()] == [3600, 3600, 3600]
    for pool in ("par-001-a1b2c3d4", "par-002-a1b2c3d4", "par-003-a1b2c3d4"):
        record = system.registry.get(pool)
        assert record is not None
        assert record.last_decision is not None
        # each decision still says why its pool counts for the default team
        assert "no `team` tag: treated as team platform" in record.last_decision.reasons

    # the pools' later looks say nothing of it again
    system.advance(3600)
    assert [n["kind"] for n in system.notifications() if n["kind"] == "missing-tags"] == []

    # once per tuning job, not once per anything else: two untagged jobs of no sweep, two warnings
    for name, volume in (("solo-1", 30), ("solo-2", 40)):
        system.run_job(name, 60, volume_size_gb=volume)
    said = [n for n in system.notifications() if n["kind"] == "missing-tags"]
    assert sorted(n["job_name"] for n in said) == ["solo-1", "solo-2"]
