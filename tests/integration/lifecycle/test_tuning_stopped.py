"""A sweep stopped by its owner (StopHyperParameterTuningJob): SageMaker stops its running trials
too, and each trial whose cluster was launched keeps its warm pool for its keep-alive, as any stopped
job does. warmpool decides those pools as the sweep's others, and tells the sweep's end once."""

from __future__ import annotations

from warmpool.emulator.jobs import training_job_request

from tests.integration.conftest import System

TWO_HOURS = {"version": 1, "defaults": {"keep_alive_strategy": "fixed-7200"}}
TAGS = {"team": "vision", "owner": "alice"}


def test_a_stopped_sweeps_running_trials_are_stopped_and_their_pools_decided(system: System) -> None:
    system.set_policy(TWO_HOURS)
    trials = [training_job_request(f"halt-00{i}-a1b2c3d4", tags=TAGS) for i in (1, 2, 3)]
    system.control.start_tuning_job("halt", trials)
    system.settle()
    system.advance(600)  # every trial's cluster launched
    system.control.complete_job("halt-001-a1b2c3d4")
    system.settle()

    system.control.complete_tuning_job("halt", "Stopped")  # StopHyperParameterTuningJob's end
    system.settle()

    trials_of = {
        "halt-001-a1b2c3d4": "Completed",
        "halt-002-a1b2c3d4": "Stopped",
        "halt-003-a1b2c3d4": "Stopped",
    }
    for name, status in trials_of.items():
        assert system.sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == status
        record = system.registry.get(name)
        assert record is not None, name
        assert record.pool.status.value == "Available", name
        assert not record.tuner_owned, name  # the engine's again: its sweep has ended
        assert record.last_decision is not None
        assert record.last_decision.action.value in ("extend", "keep"), name
    # each pool kept for the policy's first hourly step, the stopped trials' as the completed one's
    assert sorted((u["job"], u["seconds"]) for u in system.control.update_calls()) == [
        (name, 3600) for name in trials_of
    ]
    said = system.notifications()
    assert sorted(n["job_name"] for n in said if n["kind"] in ("pool-ready", "extended")) == list(trials_of)
    stopped = [n for n in said if n["job_name"] == "halt-002-a1b2c3d4"]
    assert "Job stopped." in stopped[0]["text"]
    finished = [n for n in said if n["kind"] == "tuning-job-finished"]
    assert len(finished) == 1
    assert finished[0]["text"].startswith("Tuning job halt finished\nStatus: Stopped.")
