"""Core domain values shared by the engine, the policy, the simulator and the adapters.

Pure Python: no AWS imports, no clock reads. Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

# A Slack member id (U..., W... on Enterprise Grid) of a length a DynamoDB key takes: what the policy
# names people by (`notifications.slack_users`, `platform_admins`) and a button press names who pressed,
# one shape for both, or a person the policy names could be refused their own pool's buttons
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{1,63}")
# SageMaker's TrainingJobName: 1 to 63 letters, digits and hyphens, first and last a letter or digit
TRAINING_JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


class WarmPoolStatus(StrEnum):
    """`WarmPoolStatus.Status` as DescribeTrainingJob reports it."""

    IN_USE = "InUse"
    AVAILABLE = "Available"
    REUSED = "Reused"
    TERMINATED = "Terminated"


class Action(StrEnum):
    """What a decision asks the engine to do with a pool."""

    KEEP = "keep"  # leave the keep-alive as it is
    EXTEND = "extend"  # set a longer remaining keep-alive (one step at most)
    SHORTEN = "shorten"  # set a shorter remaining keep-alive
    RELEASE = "release"  # set keep-alive 0: SageMaker terminates the pool now
    NOTIFY = "notify"  # change nothing, only tell people


class NotificationKind(StrEnum):
    POOL_READY = "pool-ready"
    EXPIRING_SOON = "expiring-soon"
    EXTENDED = "extended"
    SHORTENED = "shortened"
    RELEASED = "released"
    QUOTA_WARNING = "quota-warning"
    BUDGET_WARNING = "budget-warning"
    TUNING_JOB_FINISHED = "tuning-job-finished"
    NO_WARM_POOL = "no-warm-pool"  # asked for keep-alive, got no pool (quota 0 / used up)
    MISSED_POOL = "missed-pool"  # a new job started cold next to a pool it nearly matched
    LIFETIME_ENDING = "lifetime-ending"  # pool approaching its maximum lifetime
    DAILY_DIGEST = "daily-digest"
    MISSING_TAGS = "missing-tags"  # owner/team tag missing: the default team's admins are told
    POLICY_LIMIT = "policy-limit"  # a warm-instance limit was hit
    # the pool ended on its own (its keep-alive ran out, a later job took it, its maximum lifetime):
    # not sent (no SNS copy, no Slack post); in bot-token mode its kept messages lose their buttons
    POOL_ENDED = "pool-ended"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


# The fields a new job must share with a warm pool to reuse it, in AWS's own names.
MATCH_FIELDS: tuple[str, ...] = (
    "RoleArn",
    "ResourceConfig.InstanceType",
    "ResourceConfig.InstanceCount",
    "ResourceConfig.VolumeSizeInGB",
    "ResourceConfig.VolumeKmsKeyId",
    "VpcConfig.Subnets",
    "VpcConfig.SecurityGroupIds",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
)


@dataclass(frozen=True, slots=True)
class MatchKey:
    """The identity a new job must share with an Available pool to reuse it."""

    role_arn: str
    instance_type: str
    instance_count: int
    volume_size_gb: int
    volume_kms_key_id: str = ""
    subnets: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    network_isolation: bool = False
    inter_container_encryption: bool = False

    @classmethod
    def from_training_job(cls, job: Mapping[str, Any]) -> MatchKey:
        """Build from a DescribeTrainingJob response or an event `detail` (same shape)."""
        resource = job.get("ResourceConfig") or {}
        vpc = job.get("VpcConfig") or {}
        return cls(
            role_arn=str(job.get("RoleArn", "")),
            instance_type=str(resource.get("InstanceType", "")),
            instance_count=int(resource.get("InstanceCount", 0) or 0),
            volume_size_gb=int(resource.get("VolumeSizeInGB", 0) or 0),
            volume_kms_key_id=str(resource.get("VolumeKmsKeyId", "") or ""),
            subnets=tuple(sorted(vpc.get("Subnets") or ())),
            security_group_ids=tuple(sorted(vpc.get("SecurityGroupIds") or ())),
            network_isolation=bool(job.get("EnableNetworkIsolation", False)),
            inter_container_encryption=bool(job.get("EnableInterContainerTrafficEncryption", False)),
        )

    def _values(self) -> tuple[Any, ...]:
        return (
            self.role_arn,
            self.instance_type,
            self.instance_count,
            self.volume_size_gb,
            self.volume_kms_key_id,
            self.subnets,
            self.security_group_ids,
            self.network_isolation,
            self.inter_container_encryption,
        )

    def digest(self) -> str:
        """A short stable hash, usable as a DynamoDB key component."""
        text = "|".join(repr(v) for v in self._values())
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def differences(self, other: MatchKey) -> list[str]:
        """AWS field names (see MATCH_FIELDS) whose values differ between the two keys."""
        return [
            name
            for name, mine, theirs in zip(MATCH_FIELDS, self._values(), other._values(), strict=True)
            if mine != theirs
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "role_arn": self.role_arn,
            "instance_type": self.instance_type,
            "instance_count": self.instance_count,
            "volume_size_gb": self.volume_size_gb,
            "volume_kms_key_id": self.volume_kms_key_id,
            "subnets": list(self.subnets),
            "security_group_ids": list(self.security_group_ids),
            "network_isolation": self.network_isolation,
            "inter_container_encryption": self.inter_container_encryption,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MatchKey:
        return cls(
            role_arn=str(data["role_arn"]),
            instance_type=str(data["instance_type"]),
            instance_count=int(data["instance_count"]),
            volume_size_gb=int(data["volume_size_gb"]),
            volume_kms_key_id=str(data.get("volume_kms_key_id", "")),
            subnets=tuple(data.get("subnets", ())),
            security_group_ids=tuple(data.get("security_group_ids", ())),
            network_isolation=bool(data.get("network_isolation", False)),
            inter_container_encryption=bool(data.get("inter_container_encryption", False)),
        )


@dataclass(frozen=True, slots=True)
class CostModel:
    """Prices for the ski-rental trade-off of one pool.

    Idle warm capacity costs `price_per_instance_hour * instance_count` per hour; every cold start
    costs the extra start-up seconds at that price plus the waiting people's time.
    """

    price_per_instance_hour: float
    instance_count: int = 1
    people_cost_per_hour: float = 0.0
    cold_start_s: float = 150.0
    warm_start_s: float = 20.0

    @property
    def idle_cost_per_second(self) -> float:
        return self.price_per_instance_hour * self.instance_count / 3600.0

    @property
    def cold_start_penalty(self) -> float:
        """Extra cost, in USD, of one cold start instead of a warm one."""
        extra_s = max(0.0, self.cold_start_s - self.warm_start_s)
        hourly = self.price_per_instance_hour * self.instance_count + self.people_cost_per_hour
        return extra_s * hourly / 3600.0

    @property
    def break_even_seconds(self) -> float:
        """Idle time whose cost equals one cold start: the deterministic ski-rental threshold."""
        if self.idle_cost_per_second <= 0:
            return float("inf")
        return self.cold_start_penalty / self.idle_cost_per_second


@dataclass(frozen=True, slots=True)
class IdleGap:
    """One past idle period of a pool: it became Available at `started_at` and stayed idle
    `seconds`. `reused` is True when a matching job claimed it then; False when the gap was
    cut short by expiry or release (a censored observation: the next job came later, if at all).
    The context it began in, when known: `job_duration_s`, how long the job that ended just before
    it ran; `running_jobs`, how many other jobs of the same match key were running then (each will
    leave a newer idle cluster, which the next job takes first); `known_gaps`, how many of the key's
    gaps were on record then (the first gaps of a new key are a population of their own).
    `job_name`, the job whose end began it, is its identity when known: one job's end begins one idle
    period, so a history holds it once (`history.add_once`), however often its end is processed."""

    started_at: datetime
    seconds: float
    reused: bool
    job_duration_s: float | None = None
    running_jobs: int | None = None
    known_gaps: int | None = None
    job_name: str | None = None


LINEAGE_KEPT = 20  # a pool can chain thousands of jobs in 28 days: its record and messages must not grow


def extend_lineage(lineage: tuple[str, ...], job_name: str) -> tuple[str, ...]:
    """The lineage with the next job: its first job (the pool's id) and the latest LINEAGE_KEPT - 1."""
    grown = (*lineage, job_name)
    return grown if len(grown) <= LINEAGE_KEPT else (grown[0], *grown[-(LINEAGE_KEPT - 1) :])


@dataclass(frozen=True, slots=True)
class Pool:
    """What warmpool knows about one warm pool (a lineage of jobs sharing one cluster)."""

    pool_id: str  # name of the first job of the lineage
    job_name: str  # the job whose cluster it is now (the latest of the lineage)
    job_arn: str
    match_key: MatchKey
    status: WarmPoolStatus
    job_status: str = "Completed"  # TrainingJobStatus of job_name
    owner: str | None = None
    team: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    failure_reason: str | None = None
    tuning_job_arn: str | None = None
    # what the job asked for in ResourceConfig when it was created: DescribeTrainingJob shows the value
    # set last, which is warmpool's own once it has updated the pool, not the job's wish
    job_keep_alive_seconds: int = 0
    keep_alive_seconds: int = 0  # the keep-alive currently set on the pool
    available_since: datetime | None = None
    expires_at: datetime | None = None
    lifetime_started_at: datetime | None = None  # when the cluster was first provisioned
    horizon_at: datetime | None = None  # until when the last decision wants it warm
    steps_taken: int = 0
    billable_seconds: int = 0
    lineage: tuple[str, ...] = ()  # the jobs that used the cluster: the first and the latest LINEAGE_KEPT
    lineage_jobs: int = 0  # how many jobs used it in all (the lineage keeps only the first and latest)
    history: tuple[IdleGap, ...] = ()  # recent idle gaps of pools with this match key, oldest first
    team_history: tuple[IdleGap, ...] = ()  # recent idle gaps across the team: a fallback prior
    last_job_duration_s: float | None = None
    running_at_idle: int | None = None  # other jobs of the key running when it became Available
    known_gaps_at_idle: int | None = None  # gaps of the key on record when it became Available
    override_until: datetime | None = None  # a person asked to keep it warm until then (reverts itself)
    # A keep-alive set outside warmpool (someone's own UpdateTrainingJob) while this job's pool was
    # Available, and when: SageMaker counts it from then (`outside_until`). The job's latest wish,
    # which the `job` strategy keeps in place of the keep-alive the job was created with.
    outside_keep_alive_seconds: int | None = None
    outside_set_at: datetime | None = None
    # whether that setting ended the pool's warm time sooner than the expiry it had: someone chose to
    # spend less, which no strategy undoes
    outside_shortened: bool = False
    version: int = 0  # bumped on every registry write: optimistic locking, notification dedupe

    @property
    def outside_until(self) -> datetime | None:
        """Until when the keep-alive set outside warmpool keeps the pool warm (None: none was)."""
        if self.outside_set_at is None or self.outside_keep_alive_seconds is None:
            return None
        return self.outside_set_at + timedelta(seconds=self.outside_keep_alive_seconds)

    @property
    def jobs_in_lineage(self) -> int:
        """How many jobs used the cluster (records written before `lineage_jobs` count their lineage)."""
        return max(self.lineage_jobs, len(self.lineage))

    @property
    def instance_type(self) -> str:
        return self.match_key.instance_type

    @property
    def instance_count(self) -> int:
        return self.match_key.instance_count

    def with_changes(self, **changes: Any) -> Pool:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class FleetPool:
    """Another Available pool, as the limit rules see it."""

    pool_id: str
    team: str | None
    instance_type: str
    instance_count: int
    available_since: datetime | None
    # a person asked to keep it (an override not yet reverted), an exemption tag, or its tuning job
    # still runs: a limit rule never releases it to make room for another pool
    protected: bool = False


@dataclass(frozen=True, slots=True)
class FleetView:
    """What the decision needs to know about the other pools: limits and budgets are fleet-wide."""

    available_pools: tuple[FleetPool, ...] = ()
    warm_instances_by_team: Mapping[str, int] = field(default_factory=dict)
    warm_instances_by_type: Mapping[str, int] = field(default_factory=dict)
    idle_cost_today_by_team: Mapping[str, float] = field(default_factory=dict)
    idle_cost_month_by_team: Mapping[str, float] = field(default_factory=dict)
    # what the other Available pools of each team will still idle until their current expiry, in USD
    idle_cost_booked_by_team: Mapping[str, float] = field(default_factory=dict)
    # the part of that booked before the next midnight, and before the next month, on the team's clock (what
    # budgets count), until a person's promise if that is later than the expiry (no budget takes it back)
    idle_cost_booked_today_by_team: Mapping[str, float] = field(default_factory=dict)
    idle_cost_booked_month_by_team: Mapping[str, float] = field(default_factory=dict)
    # the Available pools' part of the above, by (team, instance type): what they idled today and this
    # month so far (the ledger not included), and what they have booked until their current expiry
    idle_now_today_by_team_type: Mapping[tuple[str, str], float] = field(default_factory=dict)
    idle_now_month_by_team_type: Mapping[tuple[str, str], float] = field(default_factory=dict)
    idle_cost_booked_by_team_type: Mapping[tuple[str, str], float] = field(default_factory=dict)
    reductions_this_run: int = 0  # pools shortened or released so far in this decision run


@dataclass(frozen=True, slots=True)
class UserRequest:
    """A person asking, from Slack or the CLI, to extend or release a pool."""

    kind: Literal["extend", "release"]
    user: str  # as people read it (Slack's user name, the CLI's --user)
    minutes: int = 0
    via: str = "cli"
    # Slack's user id (U012ABC): unlike the name, unique and stable, so the audit can tell who it was.
    # None from the CLI.
    user_id: str | None = None
    # The owner name `notifications.slack_users` mapped the user id to when they asked (None: none, or
    # from the CLI, whose `user` is the owner name): the trail says who it was as the policy and the
    # jobs' owner tags name people, however the mapping changes later.
    user_owner: str | None = None
    # From the CLI, the AWS identity that made the request (STS GetCallerIdentity's ARN): `user` is a
    # name anyone may type (`--user`), this is who really asked. None from Slack.
    caller_arn: str | None = None

    def audit_details(self) -> dict[str, str | None]:
        """Who asked, as the pool's audit trail records it."""
        details = {"user": self.user, "user_id": self.user_id, "via": self.via}
        details |= {"user_owner": self.user_owner} if self.user_owner else {}
        return details | ({"caller_arn": self.caller_arn} if self.caller_arn else {})


# What a person's request is answered (`Decision.verdict`)
Verdict = Literal["done", "partly done", "refused", "dry run, would be done", "dry run, would be partly done"]


class Trigger(StrEnum):
    """Why the decision function is being asked."""

    JOB_EVENT = "job-event"  # an event of its job (a state change: started, ended, stopped...), or its retry
    STEP_DUE = "step-due"  # a scheduled step came due
    # CloudTrail's record of an UpdateTrainingJob of its job (a keep-alive maybe set outside warmpool)
    KEEP_ALIVE_CALL = "keep-alive-call"
    RECONCILE = "reconcile"  # the reconciler found the pool
    USER = "user"  # a person asked (see UserRequest)


@dataclass(frozen=True, slots=True)
class BudgetFigures:
    """The budget that held a pool short, as its budget warning tells the team: the period's (`day`
    or `month`, on the team's clock), its amount, and what the team has spent of it as the budget rule
    counts it (idled this period, this pool included, plus what its other warm pools have booked
    within it). Carried by the decision, whose notices are built from the saved record, maybe by a
    later invocation: the rule's figures are not there to be read again."""

    period: Literal["day", "month"]
    budget_usd: float
    spent_usd: float


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision is a value: what to do with one pool, and why. Carried out by the engine."""

    action: Action
    keep_alive_seconds: int | None  # value for UpdateTrainingJob now; None = no update
    horizon_seconds: int  # total warm time wanted, counted from available_since (0 = release)
    next_check_at: datetime | None  # when the engine must look at the pool again
    rule: str  # the rule that decided, e.g. "working-hours" or "defaults.keep_alive"
    reasons: tuple[str, ...] = ()
    dry_run: bool = False
    notify: tuple[NotificationKind, ...] = ()
    release_pool_ids: tuple[str, ...] = ()  # other pools a limit rule releases to make room
    # Under a dry run, which releases none: the pools a real run would release to make room, whose
    # trails say so (`would-release-for-limit`)
    would_release_pool_ids: tuple[str, ...] = ()
    # A person's extend request granted: until when the pool is promised to stay warm (the engine
    # records it as `override_until`, which the later steps keep). None: no request, or not granted.
    promised_until: datetime | None = None
    # An extension granted only in part (a policy limit cut it, yet the pool stays warm longer than it
    # would have without the request): the time the person asked for; `promised_until` is what was
    # granted. None otherwise.
    asked_until: datetime | None = None
    budget: BudgetFigures | None = None  # the budget the budget rule held the pool to, when it did
    # A person's extension refused by a limit that did not decide the pool (their `max_extend_minutes`):
    # `rule` names that limit (the answer's), and this the rule that set the pool's plan, which the
    # pool's record, its trail's decision and its update name (`as_the_pools`). None: `rule` is both.
    plan_rule: str | None = None

    @classmethod
    def no_available_pool(cls, reason: str) -> Decision:
        """Nothing to decide: the pool is not Available (running, reused, gone), so no keep-alive can be
        set; `reason` says what it is instead."""
        return cls.nothing_done("status", reason)

    @classmethod
    def nothing_done(cls, rule: str, reason: str) -> Decision:
        """A decision that changes nothing and plans no look: `rule` and `reason` say why."""
        return cls(
            action=Action.KEEP,
            keep_alive_seconds=None,
            horizon_seconds=0,
            next_check_at=None,
            rule=rule,
            reasons=(reason,),
        )

    def as_the_pools(self) -> Decision:
        """The decision as the pool's own: named by the rule that set its plan (`plan_rule`), not by
        the limit that refused a person's request (that refusal is the answer's, and the trail's entry
        of its own). Saved naming the refusal, a pool the plan shortened read as shortened by
        `max_extend_minutes`, a limit that shortens nothing."""
        if self.plan_rule is None:
            return self
        return replace(self, rule=self.plan_rule, plan_rule=None)

    def grants(self, kind: Literal["extend", "release"]) -> bool:
        """Whether this decision grants a person's request of `kind` in full: a release releases the
        pool; an extension is promised as asked, however the horizon came to cover it."""
        if kind == "release":
            return self.action is Action.RELEASE
        return self.promised_until is not None and self.asked_until is None

    def verdict(self, kind: Literal["extend", "release"]) -> Verdict:
        """What Slack and the CLI answer a person's request of `kind`: "partly done" when an extension
        keeps the pool warm longer, but a limit stopped it short of the asked time (the reasons say
        until when, and which limit). Under a dry run nothing is done: what a real run would have done
        is answered as such ("dry run, would be done"), never as "done", which a person (or a script
        reading `pools extend`'s exit code) would take for an extension or a release that happened."""
        if self.grants(kind):
            verdict: Verdict = "done"
        elif kind == "extend" and self.promised_until is not None:
            verdict = "partly done"
        else:
            return "refused"
        if not self.dry_run:
            return verdict
        return "dry run, would be done" if verdict == "done" else "dry run, would be partly done"

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "keep_alive_seconds": self.keep_alive_seconds,
            "horizon_seconds": self.horizon_seconds,
            "next_check_at": self.next_check_at.isoformat() if self.next_check_at else None,
            "rule": self.rule,
            "reasons": list(self.reasons),
            "dry_run": self.dry_run,
            "notify": [k.value for k in self.notify],
            "release_pool_ids": list(self.release_pool_ids),
            "would_release_pool_ids": list(self.would_release_pool_ids),
            "promised_until": self.promised_until.isoformat() if self.promised_until else None,
            "asked_until": self.asked_until.isoformat() if self.asked_until else None,
            "budget": asdict(self.budget) if self.budget else None,
        }


@dataclass(frozen=True, slots=True)
class Notification:
    """A message to the owners of a pool; rendered and routed by the notifier."""

    kind: NotificationKind
    severity: Severity
    pool_id: str
    job_name: str
    version: int  # pool state version: (pool_id, kind, version) is sent at most once
    team: str | None
    owner: str | None
    facts: Mapping[str, Any] = field(default_factory=dict)  # what the message says, as data
    decision: Decision | None = None

    @property
    def dedupe_key(self) -> str:
        return f"{self.pool_id}#{self.kind.value}#{self.version}"


# A warm pool's maximum lifetime SageMaker documents today (28 days; 7 in the 2022 launch post).
MAX_LIFETIME_SECONDS = 28 * 24 * 3600


@dataclass(frozen=True, slots=True)
class EngineLimits:
    """Deployment-wide limits that no policy can lift."""

    max_step_seconds: int = 3600  # SageMaker's maximum KeepAlivePeriodInSeconds
    step_margin_seconds: int = 300  # re-check this long before the current step expires
    max_lifetime_seconds: int = MAX_LIFETIME_SECONDS  # a pool's maximum lifetime (AWS docs today)
    # The deployment may update only jobs carrying this tag (its IAM policy says so); None: every job.
    update_requires_tag: str | None = None
    # The jobs the deployment manages, by the start of their names (its `job_name_prefixes`: another
    # deployment in the account manages the others); empty: every job.
    job_name_prefixes: tuple[str, ...] = ()

    def manages(self, job_name: str) -> bool:
        """Whether the job is this deployment's to decide (its name begins with one of its prefixes)."""
        return not self.job_name_prefixes or job_name.startswith(self.job_name_prefixes)

    def __post_init__(self) -> None:
        if not 1 <= self.max_step_seconds <= 3600:
            raise ValueError(f"max_step_seconds must be within 1..3600, got {self.max_step_seconds}")
        if not 0 <= self.step_margin_seconds < self.max_step_seconds:
            raise ValueError(
                f"step_margin_seconds must be within 0..max_step_seconds-1, got {self.step_margin_seconds}"
            )
        if self.max_lifetime_seconds <= 0:
            raise ValueError(f"max_lifetime_seconds must be positive, got {self.max_lifetime_seconds}")

    def lifetime_ends_at(self, pool: Pool) -> datetime | None:
        """When the pool reaches its maximum lifetime: SageMaker ends it then whatever its keep-alive
        (None: not known when its lifetime began)."""
        if pool.lifetime_started_at is None:
            return None
        return pool.lifetime_started_at + timedelta(seconds=self.max_lifetime_seconds)
