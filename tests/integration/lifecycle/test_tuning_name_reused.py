"""A tuning job's name used again after DeleteHyperParameterTuningJob: the new sweep is a tuning job of
its own (its pools left to it while it runs, its owners told when it finishes), not the old one."""

from __future__ import annotations

from typing import Any

from warmpool.emulator.jobs import training_job_request

from tests.integration.conftest import System
from tests.integration.lifecycle.test_tuner_lost_events import idle_trial_of_a_running_sweep

A_DAY = 24 * 3600


def finished(system: System) -> list[dict[str, Any]]:
    return [n for n in system.notifications() if n["kind"] == "tuning-job-finished"]


def sweep_of_a_deleted_sweeps_name(system: System, *, hours_later: float = 24) -> None:
    """sweep ran one trial and ended (its owners told); a cleanup deleted it; `hours_later` a new sweep
    of the same name runs one trial, whose pool is idle and left to it."""
    idle_trial_of_a_running_sweep(system, "sweep", "sweep-001-aaaa1111")
    system.control.complete_tuning_job("sweep")
    system.settle()
    assert [n["facts"]["tuning_job_name"] for n in finished(system)] == ["sweep"]
    system.sagemaker.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="sweep")
    system.advance(hours_later * 3600, tick=600)
    system.notifications()
    trial = training_job_request("sweep-001-bbbb2222", tags={"team": "research", "owner": "bob"})
    system.control.start_tuning_job("sweep", [trial])
    system.settle()
    system.control.complete_job("sweep-001-bbbb2222")
    system.settle()
    record = system.registry.get(system.registry.pool_id_for_job("sweep-001-bbbb2222") or "")
    assert record is not None
    assert (record.pool.job_name, record.tuner_owned) == ("sweep-001-bbbb2222", True)


def test_the_owners_of_a_new_sweep_of_a_deleted_sweeps_name_are_told_it_finished(system: System) -> None:
    # A nightly pipeline deletes yesterday's sweep and starts one of the same name: its end was taken
    # for the old sweep's, told already, and nobody heard that it finished.
    sweep_of_a_deleted_sweeps_name(system)

    system.control.complete_tuning_job("sweep")
    system.settle()

    (notice,) = finished(system)
    assert (notice["facts"]["tuning_job_name"], notice["owner"]) == ("sweep", "bob")
    assert notice["job_name"] == "sweep-001-bbbb2222"
    record = system.registry.get(system.registry.pool_id_for_job("sweep-001-bbbb2222") or "")
    assert record is not None
    assert not record.tuner_owned  # the engine's again


def test_a_new_sweep_of_a_deleted_sweeps_name_whose_final_event_is_lost_is_told_by_the_reconciler(
    system: System,
) -> None:
    sweep_of_a_deleted_sweeps_name(system, hours_later=2)
    system.control.complete_tuning_job("sweep")
    system.messages(system.env.lifecycle_queue_url)  # its final event is lost

    report = system.reconcile()

    assert report["failed"] == []
    assert report["tuning_notices"] == ["sweep"]
    (notice,) = finished(system)
    assert (notice["facts"]["tuning_job_name"], notice["owner"]) == ("sweep", "bob")
    assert system.reconcile()["tuning_notices"] == []  # said once
    assert finished(system) == []


def test_a_new_sweep_without_a_best_trial_tells_its_own_trial_s_owner_not_the_old_sweep_s(
    system: System,
) -> None:
    # The new sweep's only trial failed (no best trial): its notice went on the last of the pools the
    # tuner index has for the name, the old sweep's trial's (its pool sorts after), and told its team
    # instead of bob
    idle_trial_of_a_running_sweep(system, "sweep", "sweep-001-aaaa1111")
    system.control.complete_tuning_job("sweep")
    system.settle()
    system.sagemaker.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="sweep")
    system.advance(3 * 3600, tick=600)  # its pool is gone (kept two hours)
    system.notifications()
    trial = training_job_request("sweep-001-0000ffff", tags={"team": "research", "owner": "bob"})
    system.control.start_tuning_job("sweep", [trial])
    system.settle()
    system.control.fail_job("sweep-001-0000ffff")
    system.settle()

    system.control.complete_tuning_job("sweep", "Failed")
    system.settle()

    (notice,) = finished(system)
    assert (notice["job_name"], notice["owner"]) == ("sweep-001-0000ffff", "bob")
    assert notice["facts"]["tuning_job_status"] == "Failed"
