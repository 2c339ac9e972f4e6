"""Which jobs `warmpool trace export` writes, and the trace it writes is one `warmpool simulate` reads."""

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from warmpool.simulator.export import ExportedJob, exported_job, write_trace
from warmpool.simulator.trace import load_trace

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def job(name: str, **changes: Any) -> dict[str, Any]:
    """A job that starts 150 s after its creation (cold) and trains 600 s."""
    created = changes.get("CreationTime", T0)
    described: dict[str, Any] = {
        "TrainingJobName": name,
        "TrainingJobStatus": "Completed",
        "RoleArn": "arn:aws:iam::123456789012:role/train",
        "ResourceConfig": {"InstanceType": "ml.g5.2xlarge", "InstanceCount": 2, "VolumeSizeInGB": 50},
        "CreationTime": created,
        "TrainingStartTime": created + timedelta(seconds=150),
        "TrainingEndTime": created + timedelta(seconds=750),
    }
    described.update(changes)
    return described


def test_jobs_that_could_leave_no_warm_pool_are_left_out_with_the_reason() -> None:
    groups = {
        "InstanceGroups": [{"InstanceType": "ml.g5.2xlarge", "InstanceCount": 1, "InstanceGroupName": "a"}]
    }
    assert exported_job(job("a", TrainingJobStatus="InProgress"), {}) == "still running"
    assert exported_job(job("b", EnableManagedSpotTraining=True), {}) == "managed spot (no warm pools)"
    assert exported_job(job("c", ResourceConfig=groups), {}) == "heterogeneous cluster (no warm pools)"
    assert exported_job(job("d", TrainingJobStatus="Failed", TrainingStartTime=None), {}) == (
        "ended before its instances started"
    )
    failed = exported_job(job("e", TrainingJobStatus="Failed"), {"team": "vision", "owner": "ana"})
    assert isinstance(failed, ExportedJob)
    assert (failed.status, failed.duration_s, failed.instance_count, failed.team, failed.user) == (
        "Failed",
        750.0,  # from its creation: its 150 s start-up and 600 s of training
        2,
        "vision",
        "ana",
    )


def test_a_job_whose_warm_pool_an_update_released_has_no_known_keep_alive() -> None:
    def with_keep_alive(seconds: int | None, **changes: Any) -> ExportedJob:
        resource = {"InstanceType": "ml.g5.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50}
        if seconds is not None:
            resource["KeepAlivePeriodInSeconds"] = seconds
        exported = exported_job(job("k", ResourceConfig=resource, **changes), {})
        assert isinstance(exported, ExportedJob)
        return exported

    released = {"WarmPoolStatus": {"Status": "Terminated"}}
    assert with_keep_alive(900).keep_alive_s == 900
    assert with_keep_alive(0).keep_alive_s == 0  # created without a warm pool: it had none
    assert with_keep_alive(None).keep_alive_s == 0
    # it had a warm pool, so it asked for one; an update (warmpool's release) set it to 0: it was written
    # 0, and the replay took the job for one that never had a pool
    assert with_keep_alive(0, **released).keep_alive_s is None
    assert with_keep_alive(600, **released).keep_alive_s == 600
    out = io.StringIO()
    write_trace([with_keep_alive(0, **released)], out)
    assert out.getvalue().splitlines()[1].endswith(",")  # keep_alive_s empty: the trace does not say


def test_the_duration_is_from_the_jobs_submission_as_the_replay_holds_its_cluster() -> None:
    # the replay holds a job's cluster from its submit_time_s (CreationTime) for duration_s: measured
    # from TrainingStartTime, each job's cluster was free its start-up early, and a job created the
    # instant the last one ended, which took its warm pool, was replayed after an idle gap of 150 s,
    # above break-even without people's time, so the oracle itself started it cold
    first = exported_job(job("first"), {})
    at_its_end = exported_job(
        job(
            "next",
            CreationTime=T0 + timedelta(seconds=750),
            TrainingStartTime=T0 + timedelta(seconds=770),  # warm: 20 s
            TrainingEndTime=T0 + timedelta(seconds=1370),
        ),
        {},
    )
    assert isinstance(first, ExportedJob)
    assert isinstance(at_its_end, ExportedJob)
    out = io.StringIO()
    write_trace([first, at_its_end], out)
    rows = [line.split(",")[:2] for line in out.getvalue().splitlines()[1:]]
    assert rows == [["0", "750"], ["750", "620"]]  # the first ends as the next is submitted: no gap


def test_the_pool_is_the_match_key() -> None:
    first, same = exported_job(job("a"), {}), exported_job(job("b", CreationTime=T0 + timedelta(hours=1)), {})
    other_role = exported_job(job("c", RoleArn="arn:aws:iam::123456789012:role/other"), {})
    vpc = exported_job(job("d", VpcConfig={"Subnets": ["s-1"], "SecurityGroupIds": ["sg-1"]}), {})
    pools = [j.pool for j in (first, same, other_role, vpc) if isinstance(j, ExportedJob)]
    assert len(pools) == 4
    assert pools[0] == pools[1]
    assert len(set(pools)) == 3


def test_the_trace_reads_back_as_the_simulator_sees_it(tmp_path: Path) -> None:
    rows = [
        exported_job(job("late", CreationTime=T0 + timedelta(minutes=30), TrainingJobStatus="Failed"), {}),
        exported_job(job("early"), {"team": "nlp"}),
    ]
    out = io.StringIO()
    written = write_trace([r for r in rows if isinstance(r, ExportedJob)], out)
    assert [r.job_name for r in written] == ["early", "late"]
    trace = tmp_path / "mine.csv"
    trace.write_text(out.getvalue())
    jobs = load_trace(trace)
    assert [(j.submit_s, j.duration_s, j.team, j.instance_count, j.failed) for j in jobs] == [
        (0.0, 750.0, "nlp", 2, False),
        (1800.0, 750.0, None, 2, True),
    ]
    assert jobs[0].pool == jobs[1].pool
    # two weeks in, to the millisecond: 6 significant digits would put it 3 s early
    weeks = exported_job(job("weeks", CreationTime=T0 + timedelta(seconds=1_234_567.25)), {})
    assert isinstance(weeks, ExportedJob)
    out = io.StringIO()
    write_trace([r for r in [*rows, weeks] if isinstance(r, ExportedJob)], out)
    assert out.getvalue().splitlines()[3].startswith("1234567.25,750,")
    empty = io.StringIO()
    assert write_trace([], empty) == []
    assert empty.getvalue().startswith("submit_time_s,duration_s,pool,")
