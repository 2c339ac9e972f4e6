"""A trace of an account's own training jobs (`warmpool trace export`): each finished job as
DescribeTrainingJob and its tags describe it, one row in the CSV that `warmpool simulate` replays.

- `submit_time_s`: seconds from the first exported job's `CreationTime` (`submitted_at` has the moment);
- `duration_s`: from the job's `CreationTime` to its `TrainingEndTime`, start-up included: the replay
  holds a job's cluster from its `submit_time_s` for `duration_s`, so its end is the job's own and the
  idle gap until the next job the one the account had (the simulator prices the start-up's wait apart);
- `pool`: the job's match key (`MatchKey.digest`, the same key the engine matches warm pools on), so jobs
  that could take each other's warm pools share a pool;
- `user` and `team`: the owner and team tags (the policy's tag names);
- `status`: Completed, Failed or Stopped.

A text cell that begins as a formula does (`=`, `+`, `-`, `@`, a tab or a carriage return) is written
with a `'` before it (`formula_safe`): the tags are whatever whoever started the job wrote, and a
spreadsheet that opens the file runs such a cell (CSV injection). `warmpool simulate` drops the `'` again
(reading `pool`, `user`, `team`, `instance_type` and `status`), so it replays the tags as they are.

Jobs that could never leave a warm pool are left out, each with its reason: jobs still running, managed
spot jobs and heterogeneous clusters (no warm pools), and jobs that ended before their instances started.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from warmpool.domain.model import MatchKey
from warmpool.simulator.trace import FORMULA_STARTS

COLUMNS = (
    "submit_time_s",
    "duration_s",
    "pool",
    "user",
    "team",
    "instance_type",
    "instance_count",
    "status",
    "job_name",
    "submitted_at",
    "keep_alive_s",
)
FINISHED = frozenset({"Completed", "Failed", "Stopped"})


@dataclass(frozen=True, slots=True)
class ExportedJob:
    job_name: str
    submitted_at: datetime
    duration_s: float
    pool: str
    status: str
    instance_type: str
    instance_count: int
    # the keep-alive DescribeTrainingJob shows: the job's own unless an update changed it (in an account
    # warmpool manages, warmpool's last one); None when it had a warm pool whose keep-alive now reads 0
    # (released by an update: how long it asked for is not known)
    keep_alive_s: int | None
    user: str | None = None
    team: str | None = None


def exported_job(
    job: Mapping[str, Any], tags: Mapping[str, str], *, team_tag: str = "team", owner_tag: str = "owner"
) -> ExportedJob | str:
    """The trace row of one DescribeTrainingJob response, or why the job has none."""
    status = str(job.get("TrainingJobStatus", ""))
    resource = job.get("ResourceConfig") or {}
    if status not in FINISHED:
        return "still running"
    if job.get("EnableManagedSpotTraining"):
        return "managed spot (no warm pools)"
    if resource.get("InstanceGroups"):
        return "heterogeneous cluster (no warm pools)"
    started, ended = job.get("TrainingStartTime"), job.get("TrainingEndTime")
    if started is None or ended is None:
        return "ended before its instances started"
    return ExportedJob(
        job_name=str(job["TrainingJobName"]),
        submitted_at=job["CreationTime"],
        # from the job's creation, as its submit_time_s counts, not from TrainingStartTime: the replay's
        # cluster was free the start-up early, every idle gap that much longer than the account's
        duration_s=max(0.0, (ended - job["CreationTime"]).total_seconds()),
        pool=MatchKey.from_training_job(job).digest(),
        status=status,
        instance_type=str(resource.get("InstanceType", "")),
        instance_count=int(resource.get("InstanceCount") or 1),
        keep_alive_s=_own_keep_alive(job),
        user=tags.get(owner_tag) or None,
        team=tags.get(team_tag) or None,
    )


def _own_keep_alive(job: Mapping[str, Any]) -> int | None:
    """The job's keep-alive as DescribeTrainingJob shows it now: the one it was created with, unless an
    update changed it (in an account warmpool manages, not in a dry run, warmpool's last update). A job
    that had a warm pool (`WarmPoolStatus`) asked for one; if its keep-alive reads 0, an update released
    the pool (warmpool's, or someone's by hand), and how long the job asked for is not known: None, an
    empty `keep_alive_s`. Written as 0, the replay took it for a job created without a warm pool, which
    leaves none and takes none, so every pool warmpool had released read as one that never was."""
    resource = job.get("ResourceConfig") or {}
    keep_alive = int(resource.get("KeepAlivePeriodInSeconds") or 0)
    if keep_alive == 0 and job.get("WarmPoolStatus"):
        return None
    return keep_alive


def write_trace(jobs: Iterable[ExportedJob], out: TextIO) -> list[ExportedJob]:
    """Write the trace, in submit order, second 0 being the first job's submission; returns the rows."""
    rows = sorted(jobs, key=lambda j: (j.submitted_at, j.job_name))
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    if not rows:
        return rows
    origin = rows[0].submitted_at
    for job in rows:
        writer.writerow(
            (
                _seconds((job.submitted_at - origin).total_seconds()),
                _seconds(job.duration_s),
                formula_safe(job.pool),
                formula_safe(job.user or ""),
                formula_safe(job.team or ""),
                formula_safe(job.instance_type),
                job.instance_count,
                formula_safe(job.status),
                formula_safe(job.job_name),
                job.submitted_at.isoformat(),
                "" if job.keep_alive_s is None else job.keep_alive_s,
            )
        )
    return rows


def formula_safe(text: str) -> str:
    """A text cell a spreadsheet shows rather than runs: `'` before one that begins as a formula does
    (`=HYPERLINK(...)` in a team tag). Only text cells: the numbers are written by the export, and a
    `'` would make them text to the spreadsheet and no number to `simulate`."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _seconds(value: float) -> str:
    """Seconds to the millisecond, without an exponent: `:g` keeps 6 digits, so 1,234,567 s (two weeks in)
    would be written as 1.23457e+06, 3 s off."""
    return f"{value:.3f}".rstrip("0").rstrip(".")
