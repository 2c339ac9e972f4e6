"""The warm-pool state machine layered on moto's SageMaker backend.

moto 5 creates every training job `Completed` and knows nothing of warm pools. This module keeps, beside
moto's own job records (which still serve tags, ARNs and the request fields), what the managed warm-pool
feature adds: job progress on a controllable clock, clusters that outlive their jobs, WarmPoolStatus,
reuse by matching jobs, keep-alive updates, quotas and the maximum lifetime. See docs/emulator.md.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar, cast

from warmpool.domain.clock import ManualClock
from warmpool.domain.messages import counted
from warmpool.domain.model import MatchKey

FailureKind = Literal["algorithm", "capacity"]
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})
TRAINING_JOB_DETAIL_TYPE = "SageMaker Training Job State Change"
TUNING_JOB_DETAIL_TYPE = "SageMaker HyperParameter Tuning Job State Change"


class EmulatorError(Exception):
    """An AWS-shaped error: `code` is the AWS error code, `status` the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass
class EmulatorConfig:
    max_keep_alive_seconds: int = 3600
    max_lifetime_seconds: int = 28 * 24 * 3600
    cold_start_seconds: float = 150.0
    warm_start_seconds: float = 20.0
    # Warm instances allowed per instance type. Real accounts start at 0 and raise it through
    # Service Quotas; the emulator defaults to a roomy quota so examples work out of the box.
    default_quota: int = 64
    quotas: dict[str, int] = field(default_factory=dict)
    # Right after a job ends, DescribeTrainingJob may briefly omit WarmPoolStatus.
    warm_pool_status_delay_seconds: float = 0.0
    emit_events: bool = True
    emit_warm_pool_events: bool = False  # SageMaker sends none; tests may want them
    # CloudTrail's "AWS API Call via CloudTrail" record of each UpdateTrainingJob of a keep-alive (the
    # refused ones with their `errorCode`), as an account with a trail logging management events has them
    emit_keep_alive_calls: bool = False
    duplicate_probability: float = 0.0
    seed: int = 0

    def quota_for(self, instance_type: str) -> int:
        return self.quotas.get(instance_type, self.default_quota)


@dataclass
class Cluster:
    """Provisioned instances that can outlive the job that started them."""

    cluster_id: str
    match_key: MatchKey
    provisioned_at: datetime
    job_name: str  # the job holding the cluster now
    # Where the cluster runs: a pool serves, and counts against the quota of, its own account and region.
    account_id: str = ""
    region: str = ""
    available_since: datetime | None = None
    expires_at: datetime | None = None
    terminated_at: datetime | None = None

    @property
    def instance_count(self) -> int:
        return self.match_key.instance_count


@dataclass
class WarmPoolRecord:
    status: str  # InUse | Available | Reused | Terminated
    billable_seconds: float = 0.0
    reused_by: str | None = None


@dataclass
class EmulatedJob:
    name: str
    arn: str
    account_id: str
    region: str
    created_at: datetime
    match_key: MatchKey
    keep_alive_seconds: int
    tags: dict[str, str]
    spot: bool
    heterogeneous: bool
    tuning_job_arn: str | None
    request: dict[str, Any]
    status: str = "InProgress"
    secondary_status: str = "Starting"
    transitions: list[dict[str, Any]] = field(default_factory=list)
    last_modified: datetime | None = None
    training_start: datetime | None = None
    ended_at: datetime | None = None
    failure_reason: str | None = None
    runs_until: datetime | None = None
    warm_start: bool = False
    cluster: Cluster | None = None
    warm_pool: WarmPoolRecord | None = None
    no_pool_reason: str | None = None
    reused_from: str | None = None


# The SageMaker operations the emulator answers (patch.py's handlers; AddTags checked, then moto's), the
# only ones a fault can be injected into: moto answers the others (ListTags, DeleteTags...) without
# asking the emulator.
SERVED_OPERATIONS = (
    "CreateTrainingJob",
    "DescribeTrainingJob",
    "ListTrainingJobs",
    "UpdateTrainingJob",
    "StopTrainingJob",
    "DeleteTrainingJob",
    "DescribeHyperParameterTuningJob",
    "ListHyperParameterTuningJobs",
    "DeleteHyperParameterTuningJob",
    "StopHyperParameterTuningJob",
    "AddTags",
)
# TrainingJobStatus, as ListTrainingJobs' StatusEquals takes it
TRAINING_JOB_STATUSES = ("InProgress", "Completed", "Failed", "Stopping", "Stopped", "Deleting")
# HyperParameterTuningJobStatus, as ListHyperParameterTuningJobs' StatusEquals takes it
TUNING_JOB_STATUSES = ("Completed", "InProgress", "Failed", "Stopped", "Stopping", "Deleting", "DeleteFailed")
# what a HyperParameterTuningJobSummary copies of the description
_TUNING_SUMMARY_FIELDS = (
    "HyperParameterTuningJobName",
    "HyperParameterTuningJobArn",
    "HyperParameterTuningJobStatus",
    "CreationTime",
    "HyperParameterTuningEndTime",
    "TrainingJobStatusCounters",
    "ObjectiveStatusCounters",
)


@dataclass
class TuningJob:
    name: str
    arn: str
    account_id: str
    region: str
    created_at: datetime
    status: str = "InProgress"
    training_jobs: list[str] = field(default_factory=list)
    best_training_job: str | None = None
    objective_metric: str = "validation:accuracy"
    objective_value: float | None = None
    ended_at: datetime | None = None
    # Trials not started yet: with MaxParallelTrainingJobs below the number of trials, each one
    # starts when a running one ends, and finds its warm pool.
    pending: list[dict[str, Any]] = field(default_factory=list)
    create_trial: Callable[[dict[str, Any]], Any] | None = None


@dataclass
class FaultRule:
    operation: str
    code: str
    status: int
    remaining: int | None  # None: use probability
    probability: float


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch_ms(ts: datetime | None) -> int | None:
    return int(ts.timestamp() * 1000) if ts is not None else None


class WarmPoolEmulator:
    """All warm-pool state of one emulated account set, driven by a ManualClock."""

    def __init__(self, config: EmulatorConfig | None = None, clock: ManualClock | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.clock = clock or ManualClock()
        self.jobs: dict[tuple[str, str, str], EmulatedJob] = {}
        self.tuning_jobs: dict[tuple[str, str, str], TuningJob] = {}
        self.clusters: list[Cluster] = []
        # quotas set for one account and region: (account, region, instance type) -> instances
        self.quotas: dict[tuple[str, str, str], int] = {}
        self.events: list[dict[str, Any]] = []
        self.update_calls: list[dict[str, Any]] = []  # ground truth of every keep-alive update
        self.faults: list[FaultRule] = []
        self.fault_counts: dict[str, int] = {}
        self._rng = random.Random(self.config.seed)
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ time
    def now(self) -> datetime:
        return self.clock.now()

    def advance(self, seconds: float) -> datetime:
        """Move the clock, firing every transition that falls due on the way, in time order."""
        if seconds < 0:
            raise ValueError(f"seconds={seconds}: the emulator's clock only moves forward; pass 0 or more")
        with self._lock:
            target = _later(self.clock.now(), seconds)
            while True:
                due = self._next_due(target)
                if due is None:
                    break
                when, action = due
                if when > self.clock.now():
                    self.clock.set(when)
                action()
            if target > self.clock.now():
                self.clock.set(target)
            return self.clock.now()

    def _next_due(self, limit: datetime) -> tuple[datetime, Any] | None:
        best: tuple[datetime, Any] | None = None
        for job in self.jobs.values():
            if job.status == "InProgress" and job.runs_until is not None and job.runs_until <= limit:
                cand = (job.runs_until, lambda j=job: self._finish(j, "Completed"))
                best = cand if best is None or cand[0] < best[0] else best
            if (
                job.status == "InProgress"
                and job.secondary_status == "Starting"
                and job.training_start is not None
                and job.training_start <= limit
            ):
                cand = (job.training_start, lambda j=job: self._start_training(j))
                best = cand if best is None or cand[0] < best[0] else best
        for cluster in self.clusters:
            if (
                cluster.terminated_at is None
                and cluster.expires_at is not None
                and cluster.expires_at <= limit
            ):
                cand = (cluster.expires_at, lambda c=cluster: self._terminate(c, "expired"))
                best = cand if best is None or cand[0] < best[0] else best
        return best

    # ------------------------------------------------------------------ faults
    def inject_faults(
        self,
        operation: str,
        code: str = "ThrottlingException",
        *,
        count: int | None = None,
        probability: float = 0.0,
        status: int | None = None,
    ) -> None:
        """Make `operation` (one of SERVED_OPERATIONS, e.g. "DescribeTrainingJob", or "*" for each of
        them) fail with `code`: the next `count` calls, or each call with `probability` (seeded)."""
        if count is None and not 0 < probability <= 1:
            raise ValueError("inject_faults needs count=N or probability in (0, 1]")
        if operation not in (*SERVED_OPERATIONS, "*"):
            # a fault there never fired, and the test written with it passed without it
            raise ValueError(
                f"operation={operation!r}: the emulator serves no such operation, so the fault would never "
                f"fire; use one of {', '.join(SERVED_OPERATIONS)}, or '*' for all of them"
            )
        if count is not None and count < 1:
            # a rule of 0 calls never fires: the test it was for would pass without its fault
            raise ValueError(f"count={count}: inject the fault into 1 call or more, or give a probability")
        http = (
            status
            if status is not None
            else (500 if code in {"InternalFailure", "ServiceUnavailable"} else 400)
        )
        with self._lock:
            self.faults.append(FaultRule(operation, code, http, count, probability))

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def check_fault(self, operation: str) -> None:
        with self._lock:
            for rule in self.faults:
                if rule.operation not in (operation, "*"):
                    continue
                if rule.remaining is not None:
                    if rule.remaining <= 0:
                        continue
                    rule.remaining -= 1
                elif self._rng.random() >= rule.probability:
                    continue
                self.fault_counts[operation] = self.fault_counts.get(operation, 0) + 1
                raise EmulatorError(rule.code, f"Injected {rule.code} for {operation}", rule.status)

    # ------------------------------------------------------------------ create
    def validate_create(self, account_id: str, region: str, request: Mapping[str, Any]) -> None:
        """Refuse what CreateTrainingJob refuses before moto records anything: a name already used in
        the account and region (moto would replace that job, and the emulator its warm pool and history,
        where SageMaker answers ResourceInUse), and a keep-alive out of range."""
        name = str(request.get("TrainingJobName"))
        existing = self.jobs.get((account_id, region, name))
        if existing is not None:
            raise EmulatorError(
                "ResourceInUse",
                "Training job names must be unique within an AWS account and region, and a training job "
                f"with this name already exists ({existing.arn})",
            )
        keep_alive = (request.get("ResourceConfig") or {}).get("KeepAlivePeriodInSeconds")
        if keep_alive is None:
            return
        if not isinstance(keep_alive, int) or not 0 <= keep_alive <= self.config.max_keep_alive_seconds:
            raise _keep_alive_error(keep_alive, self.config.max_keep_alive_seconds)

    def register_job(self, account_id: str, region: str, arn: str, request: Mapping[str, Any]) -> EmulatedJob:
        with self._lock:
            now = self.now()
            resource = request.get("ResourceConfig") or {}
            tags = {t["Key"]: t["Value"] for t in request.get("Tags") or []}
            job = EmulatedJob(
                name=str(request["TrainingJobName"]),
                arn=arn,
                account_id=account_id,
                region=region,
                created_at=now,
                last_modified=now,
                match_key=MatchKey.from_training_job(request),
                keep_alive_seconds=int(resource.get("KeepAlivePeriodInSeconds") or 0),
                tags=tags,
                spot=bool(request.get("EnableManagedSpotTraining")),
                heterogeneous=bool(resource.get("InstanceGroups")),
                tuning_job_arn=request.get("TuningJobArn"),
                request=dict(request),
            )
            self.jobs[(account_id, region, job.name)] = job
            self._provision(job)
            self._emit_job_event(job)
            return job

    def _provision(self, job: EmulatedJob) -> None:
        now = self.now()
        eligible = job.keep_alive_seconds > 0 and not job.spot and not job.heterogeneous
        cluster = self._matching_cluster(job) if eligible else None
        if cluster is not None:
            previous = self._job_of(job, cluster.job_name)
            if previous is not None and previous.warm_pool is not None:
                self._accrue(previous, now)
                previous.warm_pool.status = "Reused"
                previous.warm_pool.reused_by = job.name
                previous.last_modified = now
                self._emit_warm_pool_event(previous)
            cluster.job_name = job.name
            cluster.available_since = None
            cluster.expires_at = None
            job.warm_start = True
            job.reused_from = previous.name if previous else None
            startup = self.config.warm_start_seconds
            message = f"Reusing the warm pool of training job {job.reused_from}"
        else:
            startup = self.config.cold_start_seconds
            message = "Preparing the instances for training"
            if eligible:
                if self._warm_instances(job) + job.match_key.instance_count > self.quota_for(job):
                    job.no_pool_reason = (
                        f"warm pool quota for {job.match_key.instance_type} "
                        f"({counted(self.quota_for(job), 'instance')}) is used up"  # not `(1 instances)`
                    )
                    eligible = False
                else:
                    cluster = Cluster(
                        f"cluster-{next(self._ids)}",
                        job.match_key,
                        now,
                        job.name,
                        account_id=job.account_id,
                        region=job.region,
                    )
                    self.clusters.append(cluster)
            elif job.keep_alive_seconds > 0:
                job.no_pool_reason = (
                    "managed spot training does not support warm pools"
                    if job.spot
                    else "heterogeneous clusters do not support warm pools"
                )
        job.cluster = cluster
        job.warm_pool = WarmPoolRecord("InUse") if cluster is not None else None
        job.training_start = now + timedelta(seconds=startup)
        job.transitions = [{"Status": "Starting", "StartTime": now, "StatusMessage": message}]

    def _matching_cluster(self, job: EmulatedJob) -> Cluster | None:
        candidates = [
            c
            for c in self.clusters
            if c.terminated_at is None
            and c.available_since is not None
            and (c.account_id, c.region) == (job.account_id, job.region)
            and c.match_key == job.match_key
        ]
        if not candidates:
            return None
        # Most recently idled first, as the simulator's model assumes.
        return max(candidates, key=lambda c: c.available_since or c.provisioned_at)

    def _warm_instances(self, job: EmulatedJob) -> int:
        """The instances of `job`'s type warm in its account and region (quotas are per account and
        region)."""
        return sum(
            c.instance_count
            for c in self.clusters
            if c.terminated_at is None
            and (c.account_id, c.region) == (job.account_id, job.region)
            and c.match_key.instance_type == job.match_key.instance_type
        )

    def _job_of(self, near: EmulatedJob, name: str) -> EmulatedJob | None:
        return self.jobs.get((near.account_id, near.region, name))

    # ------------------------------------------------------------------ progress
    def _start_training(self, job: EmulatedJob) -> None:
        now = self.now()
        self._close_transition(job, now)
        job.secondary_status = "Training"
        job.transitions.append(
            {"Status": "Training", "StartTime": now, "StatusMessage": "Training in progress"}
        )
        job.last_modified = now

    def _close_transition(self, job: EmulatedJob, now: datetime) -> None:
        if job.transitions and "EndTime" not in job.transitions[-1]:
            job.transitions[-1]["EndTime"] = now

    def job(self, name: str, account_id: str | None = None, region: str | None = None) -> EmulatedJob:
        """The job of that name in that account and region. Without them, the only job of that name:
        names are unique per account and region only, and the first of several may be another region's."""
        return _one_named(self.jobs, "Training job", name, account_id, region)

    def run_for(
        self, name: str, seconds: float, account_id: str | None = None, region: str | None = None
    ) -> None:
        """The job completes `seconds` from now on the clock (fires during advance)."""
        if seconds < 0:
            raise ValueError(f"seconds={seconds:g}: a job cannot end before now; pass 0 or more")
        with self._lock:
            until = _later(self.now(), seconds)
            job = self.job(name, account_id, region)
            self._require_running(job)
            job.runs_until = until

    def complete_job(self, name: str, account_id: str | None = None, region: str | None = None) -> None:
        with self._lock:
            job = self.job(name, account_id, region)
            self._require_running(job)
            self._finish(job, "Completed")

    def fail_job(
        self,
        name: str,
        kind: FailureKind = "algorithm",
        reason: str | None = None,
        account_id: str | None = None,
        region: str | None = None,
    ) -> None:
        """`algorithm` failures keep the pool (AWS: algorithm or client errors); `capacity` failures
        (insufficient capacity, internal errors) compromise the cluster: no pool."""
        if kind not in ("algorithm", "capacity"):
            raise ValueError(f"kind must be 'algorithm' or 'capacity', got {kind!r}")
        with self._lock:
            job = self.job(name, account_id, region)
            self._require_running(job)
            default = (
                "AlgorithmError: the training script exited with a non-zero code"
                if kind == "algorithm"
                else "CapacityError: Unable to provision requested ML compute capacity"
            )
            self._finish(job, "Failed", failure_reason=reason or default, keep_pool=kind == "algorithm")

    def stop_job(self, name: str, account_id: str | None = None, region: str | None = None) -> None:
        """StopTrainingJob. AWS keeps the warm pool of a job stopped "after a cluster is already
        launched": one stopped while its cluster is still being provisioned (Starting, cold) has none to
        keep, and its warm pool is Terminated, as one that failed to provision. A job starting on a warm
        pool runs on a cluster launched long before: it keeps it."""
        with self._lock:
            job = self.job(name, account_id, region)
            self._require_running(job)
            launched = job.warm_start or job.secondary_status != "Starting"
            job.status = "Stopping"
            job.secondary_status = "Stopping"
            job.last_modified = self.now()
            self._emit_job_event(job)
            self._finish(job, "Stopped", keep_pool=launched)

    def delete_job(self, account_id: str, region: str, name: str) -> None:
        """DeleteTrainingJob: as AWS documents it, only a job in a terminal state that does not retain
        an Available warm pool can be deleted (`ResourceInUse` otherwise); all of its metadata goes,
        and DescribeTrainingJob then answers that it does not exist."""
        with self._lock:
            job = self.jobs.get((account_id, region, name))
            if job is None:
                raise EmulatorError("ResourceNotFound", f"Training job {name} does not exist.")
            if job.status not in TERMINAL_STATUSES:
                raise EmulatorError(
                    "ResourceInUse", f"Training job {name} is {job.status}: only an ended job can be deleted."
                )
            if job.warm_pool is not None and job.warm_pool.status == "Available":
                raise EmulatorError(
                    "ResourceInUse",
                    f"Training job {name} retains an Available warm pool: release it "
                    "(KeepAlivePeriodInSeconds 0) or let it expire before deleting the job.",
                )
            del self.jobs[(account_id, region, name)]

    def _require_running(self, job: EmulatedJob) -> None:
        if job.status in TERMINAL_STATUSES:
            raise EmulatorError("ValidationException", f"Training job {job.name} is already {job.status}")

    def _finish(
        self, job: EmulatedJob, status: str, failure_reason: str | None = None, keep_pool: bool = True
    ) -> None:
        now = self.now()
        if job.secondary_status == "Starting" and job.training_start is not None and job.training_start > now:
            job.training_start = now
        self._close_transition(job, now)
        job.status = status
        job.secondary_status = status
        job.failure_reason = failure_reason
        job.ended_at = now
        job.last_modified = now
        job.runs_until = None
        job.transitions.append({"Status": status, "StartTime": now, "EndTime": now, "StatusMessage": status})
        if job.cluster is not None and job.warm_pool is not None:
            if not keep_pool:
                self._terminate(job.cluster, "failure compromised the cluster")
            elif now >= self._lifetime_end(job.cluster):
                # the cluster reached its maximum lifetime while the job ran: it is not kept a moment more
                self._terminate(job.cluster, "maximum lifetime reached")
            else:
                job.cluster.available_since = now
                job.cluster.expires_at = min(
                    now + timedelta(seconds=job.keep_alive_seconds), self._lifetime_end(job.cluster)
                )
                job.warm_pool.status = "Available"
        self._emit_job_event(job)
        if job.tuning_job_arn:
            self._tuning_job_progress(job)

    def _lifetime_end(self, cluster: Cluster) -> datetime:
        """The maximum lifetime counts from the first job's provisioning and carries over across reuse."""
        return cluster.provisioned_at + timedelta(seconds=self.config.max_lifetime_seconds)

    def _accrue(self, job: EmulatedJob, until: datetime) -> None:
        cluster = job.cluster
        if cluster is None or job.warm_pool is None or job.warm_pool.status != "Available":
            return
        since = cluster.available_since or until
        job.warm_pool.billable_seconds = max(0.0, (until - since).total_seconds())

    def _terminate(self, cluster: Cluster, why: str) -> None:
        now = self.now()
        cluster.terminated_at = now
        owner = next(
            (j for j in self.jobs.values() if j.name == cluster.job_name and j.cluster is cluster), None
        )
        if (
            owner is not None
            and owner.warm_pool is not None
            and owner.warm_pool.status in ("Available", "InUse")
        ):
            self._accrue(owner, now)
            owner.warm_pool.status = "Terminated"
            owner.last_modified = now
            self._emit_warm_pool_event(owner)
        cluster.expires_at = None

    # ------------------------------------------------------------------ keep-alive update
    def update_keep_alive(self, account_id: str, region: str, name: str, seconds: int) -> str:
        """UpdateTrainingJob of the keep-alive. The value is checked before the job is looked up, as
        SageMaker validates a request before acting on it: -5 for an unknown job is a
        ValidationException, not ResourceNotFound. With `emit_keep_alive_calls`, CloudTrail's record of
        the call follows it to EventBridge."""
        try:
            arn = self._update_keep_alive(account_id, region, name, seconds)
        except EmulatorError as exc:
            self._emit_keep_alive_call(account_id, region, name, seconds, error=exc)
            raise
        self._emit_keep_alive_call(account_id, region, name, seconds, arn=arn)
        return arn

    def _update_keep_alive(self, account_id: str, region: str, name: str, seconds: int) -> str:
        if not isinstance(seconds, int) or not 0 <= seconds <= self.config.max_keep_alive_seconds:
            raise _keep_alive_error(seconds, self.config.max_keep_alive_seconds)
        with self._lock:
            job = self.jobs.get((account_id, region, name))
            if job is None:
                raise EmulatorError("ResourceNotFound", f"Training job {name} does not exist.")
            state = job.warm_pool.status if job.warm_pool else None
            if state != "Available" or job.cluster is None:
                shown = state or "absent (no warm pool)"
                raise EmulatorError(
                    "ValidationException",
                    f"The warm pool of training job {name} cannot be updated: its status is {shown}; "
                    "KeepAlivePeriodInSeconds can only be updated while the warm pool is Available.",
                )
            now = self.now()
            self.update_calls.append(
                {"job": name, "seconds": seconds, "at": now, "cluster": job.cluster.cluster_id}
            )
            job.keep_alive_seconds = seconds
            job.last_modified = now
            if seconds == 0:
                self._terminate(job.cluster, "keep-alive set to 0")
            else:
                job.cluster.expires_at = min(
                    now + timedelta(seconds=seconds), self._lifetime_end(job.cluster)
                )
            return job.arn

    # ------------------------------------------------------------------ quota
    def set_quota(
        self, instance_type: str, instances: int, account_id: str | None = None, region: str | None = None
    ) -> None:
        """The quota of one account and region (Service Quotas are per account and region), or, with
        neither, of every account and region that has no quota of its own."""
        if instances < 0:
            raise ValueError(f"quota must be >= 0, got {instances}")
        if (account_id is None) != (region is None):
            raise ValueError("set_quota: give both account_id and region, or neither (every region)")
        if account_id is None or region is None:
            self.config.quotas[instance_type] = instances
        else:
            self.quotas[(account_id, region, instance_type)] = instances

    def quota_for(self, job: EmulatedJob) -> int:
        """The warm instances of `job`'s type its account and region allow."""
        instance_type = job.match_key.instance_type
        return self.quotas.get(
            (job.account_id, job.region, instance_type), self.config.quota_for(instance_type)
        )

    # ------------------------------------------------------------------ describe / list
    def describe(self, job: EmulatedJob, base: dict[str, Any]) -> dict[str, Any]:
        """DescribeTrainingJob: moto's response with the emulated state laid over it."""
        now = self.now()
        out = dict(base)
        resource = dict(out.get("ResourceConfig") or job.request.get("ResourceConfig") or {})
        resource["KeepAlivePeriodInSeconds"] = job.keep_alive_seconds
        out["ResourceConfig"] = resource
        out["TrainingJobStatus"] = job.status
        out["SecondaryStatus"] = job.secondary_status
        out["CreationTime"] = job.created_at
        out["LastModifiedTime"] = job.last_modified or job.created_at
        out["SecondaryStatusTransitions"] = [dict(t) for t in job.transitions]
        for key in (
            "TrainingStartTime",
            "TrainingEndTime",
            "FailureReason",
            "WarmPoolStatus",
            "TrainingTimeInSeconds",
            "BillableTimeInSeconds",
        ):
            out.pop(key, None)
        if job.training_start is not None and job.training_start <= now:
            out["TrainingStartTime"] = job.training_start
        if job.ended_at is not None:
            out["TrainingEndTime"] = job.ended_at
            start = job.training_start or job.created_at
            out["TrainingTimeInSeconds"] = max(1, int((job.ended_at - start).total_seconds()))
            out["BillableTimeInSeconds"] = out["TrainingTimeInSeconds"]
        if job.failure_reason:
            out["FailureReason"] = job.failure_reason
        if job.tuning_job_arn:
            out["TuningJobArn"] = job.tuning_job_arn
        pool = self.warm_pool_status(job)
        if pool is not None:
            out["WarmPoolStatus"] = pool
        return out

    def warm_pool_status(self, job: EmulatedJob) -> dict[str, Any] | None:
        record = job.warm_pool
        if record is None:
            return None
        now = self.now()
        if (
            job.ended_at is not None
            and record.status == "Available"
            and (now - job.ended_at).total_seconds() < self.config.warm_pool_status_delay_seconds
        ):
            return None  # SageMaker may not report the pool for a short while after the job ends
        self._accrue(job, now)
        out: dict[str, Any] = {
            "Status": record.status,
            "ResourceRetainedBillableTimeInSeconds": int(record.billable_seconds),
        }
        if record.reused_by:
            out["ReusedByJob"] = record.reused_by
        return out

    def summary(self, job: EmulatedJob) -> dict[str, Any]:
        out: dict[str, Any] = {
            "TrainingJobName": job.name,
            "TrainingJobArn": job.arn,
            "CreationTime": job.created_at,
            "LastModifiedTime": job.last_modified or job.created_at,
            "TrainingJobStatus": job.status,
        }
        if job.ended_at is not None:
            out["TrainingEndTime"] = job.ended_at
        pool = self.warm_pool_status(job)
        if pool is not None:
            out["WarmPoolStatus"] = pool
        return out

    def list_jobs(self, account_id: str, region: str, params: Mapping[str, Any]) -> dict[str, Any]:
        jobs = [j for (a, r, _), j in self.jobs.items() if a == account_id and r == region]
        errors: list[str] = []
        sort_by = params.get("SortBy") or "CreationTime"
        sort_order = params.get("SortOrder") or "Ascending"
        max_results = params.get("MaxResults")
        if sort_by not in ("Name", "CreationTime", "Status"):
            errors.append(
                f"Value '{sort_by}' at 'sortBy' failed to satisfy constraint: Member must satisfy enum "
                "value set: [Name, CreationTime, Status]"
            )
        if sort_order not in ("Ascending", "Descending"):
            errors.append(
                f"Value '{sort_order}' at 'sortOrder' failed to satisfy constraint: Member must satisfy "
                "enum value set: [Ascending, Descending]"
            )
        status = params.get("StatusEquals")
        if status is not None and status not in TRAINING_JOB_STATUSES:
            errors.append(
                f"Value '{status}' at 'statusEquals' failed to satisfy constraint: Member must satisfy enum "
                f"value set: [{', '.join(TRAINING_JOB_STATUSES)}]"
            )
        warm = params.get("WarmPoolStatusEquals")
        if warm is not None and warm not in ("Available", "Terminated", "Reused", "InUse"):
            errors.append(
                f"Value '{warm}' at 'warmPoolStatusEquals' failed to satisfy constraint: Member must "
                "satisfy enum value set: [Available, Terminated, Reused, InUse]"
            )
        _refuse(errors, max_results)

        # With MaxResults, StatusEquals filters each page once it is cut, as the API reference documents:
        # a page may be short, or empty with more behind its NextToken.
        status_after_paging = status is not None and max_results is not None

        def keep(job: EmulatedJob) -> bool:
            if params.get("NameContains") and params["NameContains"] not in job.name:
                return False
            if status is not None and not status_after_paging and job.status != status:
                return False
            if warm is not None:
                pool = self.warm_pool_status(job)
                if pool is None or pool["Status"] != warm:
                    return False
            modified = job.last_modified or job.created_at
            checks: Iterable[tuple[str, datetime, bool]] = (
                ("CreationTimeAfter", job.created_at, True),
                ("CreationTimeBefore", job.created_at, False),
                ("LastModifiedTimeAfter", modified, True),
                ("LastModifiedTimeBefore", modified, False),
            )
            for key, value, after in checks:
                bound = params.get(key)
                if bound is None:
                    continue
                bound = _as_datetime(bound)
                if (after and not value > bound) or (not after and not value < bound):
                    return False
            return True

        selected = [j for j in jobs if keep(j)]
        sort_key: dict[str, Any] = {
            "Name": lambda j: j.name,
            "CreationTime": lambda j: (j.created_at, j.name),
            "Status": lambda j: (j.status, j.name),
        }
        selected.sort(key=sort_key[sort_by], reverse=sort_order == "Descending")
        page, token = _page(selected, params.get("NextToken"), max_results)
        if status_after_paging:
            page = [j for j in page if j.status == status]
        out: dict[str, Any] = {"TrainingJobSummaries": [self.summary(j) for j in page]}
        if token:
            out["NextToken"] = token
        return out

    # ------------------------------------------------------------------ tuning jobs
    def start_tuning_job(
        self,
        account_id: str,
        region: str,
        name: str,
        training_requests: list[dict[str, Any]],
        create_training_job: Callable[[dict[str, Any]], Any],
        *,
        max_parallel: int | None = None,
    ) -> TuningJob:
        """Create a tuning job; `training_requests` are CreateTrainingJob requests its trials will use.
        `create_training_job(request)` creates one trial through the normal path (so moto records it).
        `max_parallel` (MaxParallelTrainingJobs) runs that many trials at once; the next one starts as
        one ends, on its warm pool when it asked for a keep-alive. Default: all at once."""
        if max_parallel is not None and max_parallel < 1:
            raise EmulatorError(
                "ValidationException", f"max_parallel={max_parallel}: run at least 1 trial at a time"
            )
        with self._lock:
            arn = f"arn:aws:sagemaker:{region}:{account_id}:hyper-parameter-tuning-job/{name.lower()}"
            tuning = TuningJob(name, arn, account_id, region, self.now())
            tuning.create_trial = create_training_job
            self.tuning_jobs[(account_id, region, name)] = tuning
            self._emit_tuning_event(tuning)
            first = len(training_requests) if max_parallel is None else max_parallel
            tuning.pending = [{**r, "TuningJobArn": arn} for r in training_requests[first:]]
        for request in training_requests[:first]:
            self._start_trial(tuning, {**request, "TuningJobArn": arn})
        return tuning

    def _start_trial(self, tuning: TuningJob, request: dict[str, Any]) -> None:
        assert tuning.create_trial is not None
        tuning.create_trial(request)
        tuning.training_jobs.append(str(request["TrainingJobName"]))

    def _tuning_job_progress(self, job: EmulatedJob) -> None:
        for tuning in list(self.tuning_jobs.values()):
            if tuning.arn != job.tuning_job_arn:
                continue
            if job.status == "Completed":
                value = round(0.5 + 0.4 * self._rng.random(), 4)
                if tuning.objective_value is None or value > tuning.objective_value:
                    tuning.objective_value = value
                    tuning.best_training_job = job.name
            if tuning.pending and tuning.status == "InProgress":
                self._start_trial(tuning, tuning.pending.pop(0))

    def complete_tuning_job(
        self, name: str, status: str = "Completed", account_id: str | None = None, region: str | None = None
    ) -> TuningJob:
        """The tuning job ends `status`; trials not started by then never start. "Stopped" is
        StopHyperParameterTuningJob's end (`stop_tuning_job`): its running trials are stopped too."""
        if status == "Stopped":
            return self.stop_tuning_job(name, account_id, region)
        with self._lock:
            tuning = _one_named(self.tuning_jobs, "Tuning job", name, account_id, region)
            tuning.status = status
            tuning.ended_at = self.now()
            tuning.pending.clear()  # trials not started by then never start
            self._emit_tuning_event(tuning)
            return tuning

    def stop_tuning_job(
        self, name: str, account_id: str | None = None, region: str | None = None
    ) -> TuningJob:
        """StopHyperParameterTuningJob: "stops a running hyperparameter tuning job and all running
        training jobs that the tuning job launched". The tuning job is Stopping (an event), each running
        trial is stopped as StopTrainingJob stops a job (Stopping, then Stopped, its warm pool kept
        Available for its keep-alive once its cluster was launched), trials not started never start, and
        the tuning job is Stopped (an event). One that has ended already is refused (ValidationException)."""
        with self._lock:
            tuning = _one_named(self.tuning_jobs, "Tuning job", name, account_id, region)
            if tuning.status != "InProgress":
                raise EmulatorError(
                    "ValidationException",
                    f"Hyperparameter tuning job {tuning.name} is {tuning.status}: "
                    "only an InProgress one can be stopped.",
                )
            tuning.status = "Stopping"
            tuning.pending.clear()  # trials not started by then never start
            self._emit_tuning_event(tuning)
            for trial in list(tuning.training_jobs):
                job = self.jobs.get((tuning.account_id, tuning.region, trial))
                if job is not None and job.status not in TERMINAL_STATUSES:
                    self.stop_job(trial, tuning.account_id, tuning.region)
            tuning.status = "Stopped"
            tuning.ended_at = self.now()
            self._emit_tuning_event(tuning)
            return tuning

    def delete_tuning_job(self, account_id: str, region: str, name: str) -> bool:
        """DeleteHyperParameterTuningJob: only the tuning job's entry goes; its training jobs and their
        warm pools stay. False when the emulator does not know the tuning job (moto answers then)."""
        with self._lock:
            tuning = self.tuning_jobs.get((account_id, region, name))
            if tuning is None:
                return False
            if tuning.status in ("InProgress", "Stopping"):
                raise EmulatorError(
                    "ValidationException",
                    f"Hyperparameter tuning job {name} is {tuning.status}: stop it "
                    "(StopHyperParameterTuningJob) and let it end before deleting it.",
                )
            del self.tuning_jobs[(account_id, region, name)]
            return True

    def describe_tuning_job(self, tuning: TuningJob) -> dict[str, Any]:
        out: dict[str, Any] = {
            "HyperParameterTuningJobName": tuning.name,
            "HyperParameterTuningJobArn": tuning.arn,
            "HyperParameterTuningJobStatus": tuning.status,
            "CreationTime": tuning.created_at,
            "HyperParameterTuningJobConfig": {
                "Strategy": "Bayesian",
                "ResourceLimits": {
                    "MaxNumberOfTrainingJobs": max(1, len(tuning.training_jobs)),
                    "MaxParallelTrainingJobs": 1,
                },
                "HyperParameterTuningJobObjective": {
                    "Type": "Maximize",
                    "MetricName": tuning.objective_metric,
                },
            },
            "TrainingJobStatusCounters": {
                "Completed": sum(
                    1 for n in tuning.training_jobs if self._status_of(tuning, n) == "Completed"
                ),
                "InProgress": sum(
                    1 for n in tuning.training_jobs if self._status_of(tuning, n) == "InProgress"
                ),
                "RetryableError": 0,
                "NonRetryableError": sum(
                    1 for n in tuning.training_jobs if self._status_of(tuning, n) == "Failed"
                ),
                "Stopped": sum(1 for n in tuning.training_jobs if self._status_of(tuning, n) == "Stopped"),
            },
            "ObjectiveStatusCounters": {"Succeeded": 0, "Pending": 0, "Failed": 0},
        }
        if tuning.ended_at:
            out["HyperParameterTuningEndTime"] = tuning.ended_at
        if tuning.best_training_job:
            out["BestTrainingJob"] = {
                "TrainingJobName": tuning.best_training_job,
                "TrainingJobArn": self.jobs[(tuning.account_id, tuning.region, tuning.best_training_job)].arn,
                "CreationTime": tuning.created_at,
                "TunedHyperParameters": {},
                "TrainingJobStatus": "Completed",
                "FinalHyperParameterTuningJobObjectiveMetric": {
                    "MetricName": tuning.objective_metric,
                    "Value": tuning.objective_value,
                },
            }
        return out

    def list_tuning_jobs(self, account_id: str, region: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """ListHyperParameterTuningJobs of one account and region, oldest first: `StatusEquals`,
        `NameContains`, and pages of `MaxResults` (default 100) behind a `NextToken`."""
        status = params.get("StatusEquals")
        max_results = params.get("MaxResults")
        errors: list[str] = []
        if status is not None and status not in TUNING_JOB_STATUSES:
            errors.append(
                f"Value '{status}' at 'statusEquals' failed to satisfy constraint: Member must satisfy "
                f"enum value set: [{', '.join(TUNING_JOB_STATUSES)}]"
            )
        _refuse(errors, max_results)
        selected = sorted(
            (
                t
                for (a, r, _), t in self.tuning_jobs.items()
                if a == account_id
                and r == region
                and (status is None or t.status == status)
                and (not params.get("NameContains") or params["NameContains"] in t.name)
            ),
            key=lambda t: (t.created_at, t.name),
        )
        page, token = _page(selected, params.get("NextToken"), max_results)
        summaries = []
        for tuning in page:
            described = self.describe_tuning_job(tuning)
            summary = {k: described[k] for k in _TUNING_SUMMARY_FIELDS if k in described}
            summary["Strategy"] = described["HyperParameterTuningJobConfig"]["Strategy"]
            summary["ResourceLimits"] = described["HyperParameterTuningJobConfig"]["ResourceLimits"]
            summaries.append(summary)
        out: dict[str, Any] = {"HyperParameterTuningJobSummaries": summaries}
        if token:
            out["NextToken"] = token
        return out

    def _status_of(self, tuning: TuningJob, name: str) -> str | None:
        job = self.jobs.get((tuning.account_id, tuning.region, name))
        return job.status if job else None

    # ------------------------------------------------------------------ events
    def _emit_job_event(self, job: EmulatedJob) -> None:
        if not self.config.emit_events:
            return
        detail = self.event_detail(job)
        self._put(job.account_id, job.region, TRAINING_JOB_DETAIL_TYPE, detail, [job.arn])

    def _emit_warm_pool_event(self, job: EmulatedJob) -> None:
        if self.config.emit_events and self.config.emit_warm_pool_events:
            detail = self.event_detail(job)
            pool = self.warm_pool_status(job)
            if pool is not None:
                detail["WarmPoolStatus"] = pool
            self._put(job.account_id, job.region, TRAINING_JOB_DETAIL_TYPE, detail, [job.arn])

    def _emit_keep_alive_call(
        self,
        account_id: str,
        region: str,
        name: str,
        seconds: object,
        *,
        arn: str | None = None,
        error: EmulatorError | None = None,
    ) -> None:
        """CloudTrail's record of an UpdateTrainingJob call as EventBridge delivers it ("AWS API Call
        via CloudTrail"): camelCase request parameters, the caller, and `errorCode` and `errorMessage`
        for a call SageMaker refused."""
        if not (self.config.emit_events and self.config.emit_keep_alive_calls):
            return
        with self._lock:
            detail: dict[str, Any] = {
                "eventVersion": "1.09",
                "userIdentity": {
                    "type": "IAMUser",
                    "accountId": account_id,
                    "arn": f"arn:aws:iam::{account_id}:user/emulated-caller",
                },
                "eventTime": _iso(self.now()),
                "eventSource": "sagemaker.amazonaws.com",
                "eventName": "UpdateTrainingJob",
                "awsRegion": region,
                "sourceIPAddress": "192.0.2.1",
                "userAgent": "warmpool-emulator",
                "requestParameters": {
                    "trainingJobName": name,
                    "resourceConfig": {"keepAlivePeriodInSeconds": seconds},
                },
                "responseElements": {"trainingJobArn": arn} if arn is not None else None,
                "requestID": str(uuid.UUID(int=self._rng.getrandbits(128))),
                "eventID": str(uuid.UUID(int=self._rng.getrandbits(128))),
                "readOnly": False,
                "eventType": "AwsApiCall",
                "managementEvent": True,
                "recipientAccountId": account_id,
                "eventCategory": "Management",
            }
            if error is not None:
                detail["errorCode"] = error.code
                detail["errorMessage"] = error.message
            self._put(account_id, region, "AWS API Call via CloudTrail", detail, [])

    def _emit_tuning_event(self, tuning: TuningJob) -> None:
        if not self.config.emit_events:
            return
        detail = json.loads(json.dumps(self.describe_tuning_job(tuning), default=_epoch_ms))
        detail["Tags"] = {}
        self._put(tuning.account_id, tuning.region, TUNING_JOB_DETAIL_TYPE, detail, [tuning.arn])

    def event_detail(self, job: EmulatedJob) -> dict[str, Any]:
        """The event `detail`: DescribeTrainingJob-shaped, Tags as a map, epoch-millisecond times,
        and, like the real service, no WarmPoolStatus."""
        request = job.request
        detail: dict[str, Any] = {
            "TrainingJobName": job.name,
            "TrainingJobArn": job.arn,
            "TrainingJobStatus": job.status,
            "SecondaryStatus": job.secondary_status,
            "AlgorithmSpecification": request.get("AlgorithmSpecification") or {},
            "RoleArn": request.get("RoleArn"),
            "ResourceConfig": {
                **(request.get("ResourceConfig") or {}),
                "KeepAlivePeriodInSeconds": job.keep_alive_seconds,
            },
            "StoppingCondition": request.get("StoppingCondition") or {},
            "CreationTime": _epoch_ms(job.created_at),
            "LastModifiedTime": _epoch_ms(job.last_modified),
            "SecondaryStatusTransitions": [
                {k: (_epoch_ms(v) if isinstance(v, datetime) else v) for k, v in t.items()}
                for t in job.transitions
            ],
            "EnableNetworkIsolation": bool(request.get("EnableNetworkIsolation", False)),
            "EnableInterContainerTrafficEncryption": bool(
                request.get("EnableInterContainerTrafficEncryption", False)
            ),
            "EnableManagedSpotTraining": job.spot,
            "Tags": dict(job.tags),
        }
        if request.get("VpcConfig"):
            detail["VpcConfig"] = request["VpcConfig"]
        if job.training_start is not None and job.training_start <= self.now():
            detail["TrainingStartTime"] = _epoch_ms(job.training_start)
        if job.ended_at is not None:
            detail["TrainingEndTime"] = _epoch_ms(job.ended_at)
        if job.failure_reason:
            detail["FailureReason"] = job.failure_reason
        if job.tuning_job_arn:
            detail["TuningJobArn"] = job.tuning_job_arn
        return detail

    def _put(
        self, account_id: str, region: str, detail_type: str, detail: dict[str, Any], resources: list[str]
    ) -> None:
        envelope = {
            "version": "0",
            "id": str(uuid.UUID(int=self._rng.getrandbits(128))),
            "detail-type": detail_type,
            "source": "aws.sagemaker",
            "account": account_id,
            "time": _iso(self.now()),
            "region": region,
            "resources": resources,
            "detail": detail,
        }
        copies = 2 if self._rng.random() < self.config.duplicate_probability else 1
        for _ in range(copies):
            self.events.append(envelope)
            _deliver_to_eventbridge(account_id, region, envelope)


def _later(now: datetime, seconds: float) -> datetime:
    """`seconds` after `now`, for a control call's argument: a moment past what a datetime holds was an
    OverflowError, served as an HTML 500 page (`advance` of 1e308 seconds)."""
    try:
        return now + timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(
            f"seconds={seconds:g}: the clock cannot go past the year 9999; pass fewer seconds"
        ) from None


def _keep_alive_error(value: object, maximum: int) -> EmulatorError:
    return validation_error(
        [
            f"Value '{value}' at 'resourceConfig.keepAlivePeriodInSeconds' failed to satisfy constraint: "
            f"Member must have value between 0 and {maximum}"
        ]
    )


def validation_error(problems: Sequence[str]) -> EmulatorError:
    """SageMaker's ValidationException for `problems`, counted as it counts them ("1 validation error
    detected: ...", "2 validation errors detected: ...; ...")."""
    count = f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected"
    return EmulatorError("ValidationException", f"{count}: {'; '.join(problems)}")


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), tz=UTC)
    text = str(value)
    try:
        return datetime.fromtimestamp(float(text), tz=UTC)
    except ValueError:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _deliver_to_eventbridge(account_id: str, region: str, envelope: Mapping[str, Any]) -> None:
    """Deliver the event to the SQS targets of matching rules on moto's default bus.

    moto's own PutEvents rewrites the envelope through a template (numeric `time`, no `account`); the
    lifecycle engine must see what EventBridge really delivers to SQS, so SQS targets are fed the exact
    envelope here. Other target types are not used by warmpool.
    """
    from moto.events.models import events_backends
    from moto.events.utils import EventMessageType
    from moto.sqs.models import sqs_backends
    from moto.utilities.arns import parse_arn

    bus = events_backends[account_id][region].event_buses.get("default")
    if bus is None:
        return
    body = json.dumps(envelope)
    for rule in list(bus.rules.values()):
        if rule.state != "ENABLED" or not rule.event_pattern.matches_event(cast(EventMessageType, envelope)):
            continue
        for target in rule.targets:
            arn = parse_arn(target["Arn"])
            if arn.service == "sqs":
                sqs_backends[arn.account][arn.region].send_message(arn.resource_id, body)


_Named = TypeVar("_Named")


def _one_named(
    table: dict[tuple[str, str, str], _Named],
    what: str,
    name: str,
    account_id: str | None,
    region: str | None,
) -> _Named:
    """The one entry of `table` (keyed by account, region and name) of that name in that account and
    region, either of them None for any. Several: refused, naming where they are (names are unique per
    account and region only)."""
    found = [
        (acct, reg, item)
        for (acct, reg, item_name), item in table.items()
        if item_name == name and account_id in (None, acct) and region in (None, reg)
    ]
    if not found:
        scope = [f"{k} {v}" for k, v in (("account", account_id), ("region", region)) if v is not None]
        where = f" in {', '.join(scope)}" if scope else ""
        raise EmulatorError("ResourceNotFound", f"{what} {name} does not exist{where}")
    if len(found) > 1:
        places = ", ".join(f"{acct}/{reg}" for acct, reg, _ in found)
        raise EmulatorError(
            "ValidationException",
            f"{what} {name} exists in several accounts and regions ({places}): "
            "name the account_id and region",
        )
    return found[0][2]


def _refuse(errors: list[str], max_results: object) -> None:
    """A listing's ValidationException, in SageMaker's words: the problems found, and `MaxResults` out
    of its 1 to 100."""
    if max_results is not None and not 1 <= int(str(max_results)) <= 100:
        bound = "greater than or equal to 1" if int(str(max_results)) < 1 else "less than or equal to 100"
        errors.append(
            f"Value '{max_results}' at 'maxResults' failed to satisfy constraint: Member must have "
            f"value {bound}"
        )
    if errors:
        raise validation_error(errors)


_T = TypeVar("_T")


def _page(selected: list[_T], token: object, max_results: object) -> tuple[list[_T], str | None]:
    """One page of a listing (`MaxResults`, default 100) from where `NextToken` left off, and the token
    of the next page, if any: the emulator's tokens are `wp-<offset>`; another is refused as SageMaker
    refuses one it did not give."""
    start = 0
    if token:
        digits = str(token).removeprefix("wp-")
        if not digits.isdigit():  # `wp--5` too: no page the emulator gave starts before the first
            raise EmulatorError("ValidationException", "Invalid pagination token.")
        start = int(digits)
    size = int(str(max_results)) if max_results else 100
    following = f"wp-{start + size}" if start + size < len(selected) else None
    return selected[start : start + size], following
