"""The lifecycle service's view of the outside world: small interfaces, one adapter each."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from warmpool.domain.model import Decision, IdleGap, Notification, Pool
from warmpool.domain.policy.document import PolicyDocument

# The one-off repair of the phantom pools older versions left (PoolRegistry.upgraded): see
# LifecycleService._sweep_phantoms.
PHANTOM_POOLS_REPAIR = "phantom-pools"
# The one-off repair that watches the tuning jobs running since before their pools' saves watched them:
# see LifecycleService._watch_tuning_jobs_of_older_versions.
TUNING_WATCHES_REPAIR = "tuning-watches"
# The one-off repair that sends the notices the versions that saved them unlisted left unsent: see
# LifecycleService._announce_left_by_older_versions.
UNANNOUNCED_MARKS_REPAIR = "unannounced-marks"
# The audit entries a pool's save (PoolRegistry.put) can write in its one transaction: DynamoDB's
# TransactWriteItems takes 100 items, of which the save's own writes take at most 6 (the pool, its
# job's pointer, its tuning job's trial and watch, its mark of notices to send, the pool a join absorbs).
SAVE_AUDIT_ROOM = 100 - 6


class JobNotFoundError(LookupError):
    """The training job does not exist (any more)."""


class UpdateRefusedError(RuntimeError):
    """SageMaker refused a keep-alive update: retrying the same update will not help."""


class PoolMovedOnError(UpdateRefusedError):
    """SageMaker refused a keep-alive update because the pool is no longer Available."""


class UpdateNotPermittedError(UpdateRefusedError):
    """The engine's role may not update this job (its IAM policy, a permissions boundary or an SCP)."""


class ReadNotPermittedError(RuntimeError):
    """The engine's role may not read what it needs (its IAM policy, a permissions boundary or an SCP)."""


class RetryableError(RuntimeError):
    """A transient failure: the message is retried by SQS (and lands in the DLQ if it keeps failing)."""


class OutOfTimeError(RetryableError):
    """The invocation's time is nearly out: a record not started, or an AWS call not tried again, that
    could not end before the function's timeout. SQS delivers the message again. `code`: what AWS
    answered the call's last try (`ThrottlingException`), None for a record not started."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class ConcurrentUpdateError(RetryableError):
    """Another invocation changed the pool first (optimistic locking): retry with fresh state."""


class UnreadableItemError(ValueError):
    """A registry item this version cannot read (edited by hand, or written by a version it does not
    know: every shape the versions before it wrote is read, docs/registry.md "Upgrading"); the
    message names the item, what is wrong with it and what to do. `key`: the item's key as
    `<pk> / <sk>`; `field`: the field that could not be read (`pool.status`, `record`, ...)."""

    def __init__(self, message: str, *, key: str = "?", field: str = "?") -> None:
        super().__init__(message)
        self.key = key
        self.field = field


class SageMakerPort(Protocol):
    def describe_training_job(self, name: str) -> dict[str, Any]:
        """DescribeTrainingJob; raises JobNotFoundError, ReadNotPermittedError."""
        ...

    def update_keep_alive(self, name: str, seconds: int) -> None:
        """UpdateTrainingJob(ResourceConfig.KeepAlivePeriodInSeconds); raises PoolMovedOnError."""
        ...

    def list_available_job_names(self) -> list[str]: ...

    def list_job_names_with_pool(self, warm_pool_status: str) -> list[str]:
        """The training jobs whose warm pool is in that state (ListTrainingJobs WarmPoolStatusEquals)."""
        ...

    def list_tags(self, arn: str) -> dict[str, str]:
        """DescribeTrainingJob carries no tags; ListTags does (the event does too)."""
        ...

    def describe_tuning_job(self, name: str) -> dict[str, Any]:
        """DescribeHyperParameterTuningJob; raises JobNotFoundError, ReadNotPermittedError."""
        ...

    def list_tuning_jobs(self, status: str) -> list[tuple[str, str]]:
        """The tuning jobs in that state (ListHyperParameterTuningJobs StatusEquals, every page): each
        one's name, cased as it was given, and ARN. Raises ReadNotPermittedError."""
        ...


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    pool_id: str
    job_name: str
    what: str  # e.g. "registered", "decision", "keep-alive-updated", "reused", "terminated", "error"
    details: Mapping[str, Any] = field(default_factory=dict)
    # An entry of something that happened once however often it is handled (a Slack press, by its id):
    # its key is its time and this id, and a write that finds it there is the entry already written
    once_id: str | None = None


@dataclass(frozen=True)
class PoolRecord:
    """A pool as the registry keeps it: the domain value plus bookkeeping."""

    pool: Pool
    last_decision: Decision | None = None
    last_error: str | None = None
    next_check_at: datetime | None = None
    schedule_name: str | None = None
    tuner_owned: bool = False
    notified: tuple[str, ...] = ()  # notification kinds sent for the current job
    # notification kinds of `last_decision` saved with it and not sent yet (a retry sends them)
    unannounced: tuple[str, ...] = ()
    # the audit entry of `last_decision` (its details, and `decided_at`: when), when its write failed
    # after the decision was saved: kept with the pool, and written by the retry (or the reconciler)
    unaudited: Mapping[str, Any] | None = None
    # who asked for `last_decision` (`user`, `via`), kept while its notices are `unannounced`: a send
    # by a retry or the reconciler names them as the request's own send did ("Released by ualice from
    # Slack"). None: no person asked, or saved by a version before it was kept (nobody is named)
    unannounced_by: Mapping[str, str] | None = None
    # the keep-alive update a decision was about to make (`intend`): saved before UpdateTrainingJob and
    # dropped by the save that records the decision. Still there on the next look, it says that an
    # update SageMaker shows was warmpool's own, and why (the invocation ended before its audit entry)
    intent: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class TuningNotice:
    """The "tuning job finished" notice of one tuning job, as the registry keeps it: recorded before it
    is sent, with all it says and to whom (sent again as recorded, it is the notifier's duplicate:
    `Notification.dedupe_key`), and marked sent after. One still unsent when the invocation that
    recorded it is long over (its send failed for good, or it crashed) is sent by the reconciler."""

    tuning_job_arn: str
    # None: recorded by a version before notices were (a claim, given back when its send failed): sent
    notification: Notification | None
    recorded_at: datetime
    sent: bool = False
    # when the tuning job was created (None: recorded by a version before it was kept): a sweep
    # created later is another tuning job of the name, deleted and started again (`of_an_earlier_sweep`)
    tuning_created_at: datetime | None = None

    def of_an_earlier_sweep(self, created: datetime | None) -> bool:
        """Whether this notice is of an earlier tuning job of the name than the one created at
        `created`: DeleteHyperParameterTuningJob frees a name, and a sweep started under it again has
        the same ARN. One recorded before its creation time was kept is an earlier one's if the sweep
        was created after the notice was recorded (a tuning job ends before its notice is recorded)."""
        return created is not None and created > (self.tuning_created_at or self.recorded_at)


@dataclass(frozen=True)
class TunerTrial:
    """A trial of a tuning job as the tuner index last saw it hold a pool: its job, team and owner tags
    (who hears that the tuning job finished when no pool is its any more)."""

    pool_id: str
    job_name: str | None
    team: str | None
    owner: str | None


@dataclass(frozen=True)
class WatchedTuningJob:
    """A tuning job a pool was left to (it ran), whose end is not recorded yet: what the reconciler
    checks should its final event be lost once no pool is left to it (`PoolRegistry.watched_tuning_jobs`)."""

    tuning_job_arn: str
    # a trial of it, or its own name as SageMaker lists it (the upgrade's repair: `_watch_tuning_job`);
    # either gives the tuning job's name its case (`tuning_job_name`)
    job_name: str


class FleetSource(Protocol):
    """What a decision's view of the other pools reads (`fleet_view`): the pool registry in the engine,
    the idle clusters and their ledger in the trace simulator."""

    def list_by_status(self, status: str) -> list[PoolRecord]: ...

    def idle_cost(self, team: str, at: datetime) -> tuple[float, float]:
        """The team's ledgered idle cost for the day and the month of `at`, in USD: the date `at` has on
        its own clock, which callers set to the team's (`ledger_zone`)."""
        ...


class PoolRegistry(FleetSource, Protocol):
    def get(self, pool_id: str) -> PoolRecord | None: ...

    def list_by_status(
        self, status: str, *, unreadable: list[UnreadableItemError] | None = None
    ) -> list[PoolRecord]:
        """The pools in one state. An item that cannot be read raises UnreadableItemError, unless
        `unreadable` is given: it is added there and the others are listed (the reconciler's run)."""
        ...

    def pool_id_for_job(self, job_name: str) -> str | None: ...

    def put(
        self,
        record: PoolRecord,
        expected_version: int | None,
        *,
        absorbs: PoolRecord | None = None,
        audit: AuditEntry | Sequence[AuditEntry] | None = None,
        keeps_intent: bool = False,
    ) -> PoolRecord:
        """Write with optimistic locking (None: must not exist); returns the record with its new version,
        `expected_version + 1` (1 for a new record). Raises ConcurrentUpdateError when the stored
        version differs. `absorbs`: a pool whose record the same write removes, if still at its version
        (a join: its job now belongs to this pool's lineage). `audit`: entries of the trail (the pool's,
        or another pool's) written in the same write (a decision's: all land, or none). `keeps_intent`:
        an `intent` saved with the pool since it was read (`intend`, which leaves the version as it
        is) is kept, where a save drops it: the write that records a decision's notices sent, which
        another invocation's release may have come before (its intent tells its release as warmpool's)."""
        ...

    def intend(self, record: PoolRecord, intent: Mapping[str, Any]) -> None:
        """Save with the pool, before a keep-alive update, what the update is to set and why (`intent`),
        on the condition that the pool is still at `record`'s version, which it leaves as it is (the
        decision's save expects it); the next save drops it. Raises ConcurrentUpdateError when another
        invocation wrote the pool since it was read."""
        ...

    def pools_of_key(self, match_digest: str) -> list[PoolRecord]:
        """The pools of one match key that have not ended (InUse, Available, Reused)."""
        ...

    def available_of_teams(
        self, teams: Collection[str | None], *, instance_type: str | None = None
    ) -> list[PoolRecord]:
        """The Available pools whose team tag is one of `teams` (None: the pools without one), only
        those of `instance_type` if given, in `list_by_status` order."""
        ...

    def available_of_type(self, instance_type: str) -> list[PoolRecord]:
        """The Available pools of one instance type, of every team, in `list_by_status` order."""
        ...

    def backfill_indexes(self, *, unreadable: list[UnreadableItemError] | None = None) -> list[str]:
        """Give the live pool items written before an index existed its keys, once per index. An item
        that cannot be read raises UnreadableItemError, unless `unreadable` is given: it is added there,
        the others get their keys, and the backfill is left to complete at a later run."""
        ...

    def upgraded(self, repair: str) -> bool:
        """Whether the one-off repair `repair` of what older versions left has run to the end."""
        ...

    def record_upgraded(self, repair: str) -> None:
        """Record that the one-off repair `repair` has run to the end (later runs skip it)."""
        ...

    def list_pools(
        self,
        *,
        team: str | None = None,
        status: str | None = None,
        unreadable: list[UnreadableItemError] | None = None,
    ) -> list[PoolRecord]:
        """The pools (of one team, in one state). An item that cannot be read raises
        UnreadableItemError; given `unreadable`, it is added there and the others are listed."""
        ...

    def audit(self, entry: AuditEntry) -> None: ...

    def audit_trail(self, pool_id: str) -> list[AuditEntry]: ...

    def history(
        self, match_digest: str, team: str | None
    ) -> tuple[tuple[IdleGap, ...], tuple[IdleGap, ...]]: ...

    def add_gap(self, match_digest: str, team: str | None, gap: IdleGap) -> bool:
        """Add the gap to its key's and team's histories, once (`domain.history.add_once`). Returns
        whether the key's history did not hold it yet."""
        ...

    def observe_cold_start(self, match_digest: str, team: str | None, at: datetime, job_name: str) -> None:
        """A matching job started cold at `at`: the latest censored gap (a pool that expired or was
        released unused) becomes an observed wait until then (`domain.history.uncensor_latest`).
        Once per job: a job seen again, or undone before (`undo_cold_start`), changes nothing."""
        ...

    def undo_cold_start(self, match_digest: str, team: str | None, job_name: str, at: datetime) -> bool:
        """`job_name` took a warm pool after all (its first events came before its predecessor was
        seen Reused): put back the gap its cold start uncensored, and take no later report of its cold
        start. Idempotent. Returns whether a gap was put back."""
        ...

    def pools_of_tuning_job(self, tuning_job_arn: str) -> list[PoolRecord]:
        """The pools whose current job is a trial of the tuning job (not the ones a trial of it left
        and a job of another tuning job, or of none, has taken since)."""
        ...

    def tuning_trials(self, tuning_job_arn: str) -> list[TunerTrial]:
        """Every pool a trial of the tuning job held, with the trial it last held of it (the tuner
        index as it is: also the pools taken since by a job of another tuning job, or of none)."""
        ...

    def record_tuning_finished(
        self,
        tuning_job_arn: str,
        notification: Notification,
        recorded_at: datetime,
        tuning_created_at: datetime | None = None,
        replaces: TuningNotice | None = None,
    ) -> TuningNotice:
        """Record the tuning job's notice unsent, unless it has one already: returns the one recorded
        (this one, or the earlier one, sent or not, whoever recorded it: its event, a duplicate of it,
        a look at one of its pools, the reconciler). `replaces`: the notice of an earlier sweep of the
        name (`TuningNotice.of_an_earlier_sweep`), written over unless another was recorded since."""
        ...

    def tuning_finished(self, tuning_job_arn: str) -> TuningNotice | None:
        """The notice recorded for the tuning job, if any (read consistently)."""
        ...

    def mark_tuning_finished_sent(self, tuning_job_arn: str) -> None:
        """The notice was sent: no run sends it again."""
        ...

    def unannounced_pools(self) -> list[str]:
        """The pools saved with notices still to send (`PoolRecord.unannounced`) or a decision's audit
        entry still to write (`unaudited`), by pool id: marked in the save that holds them, until
        `announced`."""
        ...

    def announced(self, pool_id: str, version: int | None) -> None:
        """The pool's notices saved up to `version` were sent (a later save's mark stays); None: the
        pool is gone."""
        ...

    def unsent_tuning_notices(self, recorded_before: datetime) -> list[TuningNotice]:
        """The notices recorded before `recorded_before` and not marked sent."""
        ...

    def watched_tuning_jobs(self, due_before: datetime) -> list[WatchedTuningJob]:
        """The tuning jobs a pool was left to (`put` of a `tuner_owned` pool watches its tuning job)
        whose end is not recorded (`record_tuning_finished` ends the watch), only those due for a check
        before `due_before`."""
        ...

    def check_tuning_job_at(self, tuning_job_arn: str, at: datetime) -> None:
        """A watched tuning job was found running: due for its next check at `at` (a tuning job no
        longer watched is left so)."""
        ...

    def watch_tuning_job(self, tuning_job_arn: str, job_name: str, next_check_at: datetime) -> bool:
        """Watch the tuning job from now on, its first check due at `next_check_at`, unless it is
        watched already (that watch is left as it is). `job_name`: a trial of it, or its own name as
        SageMaker lists it (`tuning_job_name`). Returns whether it was watched now."""
        ...

    def unwatch_tuning_job(self, tuning_job_arn: str) -> None:
        """Nothing left to watch of the tuning job: its end is recorded, or it no longer exists."""
        ...

    def add_idle_cost(
        self, team: str, at: datetime, usd: float, booking: str, instance_type: str | None = None
    ) -> bool:
        """Add to the team's idle-cost ledger for the day and the month of `at` (the date it has on its
        own clock, the team's), once per `booking` (an idle gap's identity) and day: an event processed
        again after a failure books nothing more. `instance_type`: the idle pool's, whose share of the
        day and the month it is added to as well. Returns whether it was booked now."""
        ...


class StepScheduler(Protocol):
    def schedule(self, *, pool_id: str, job_name: str, step: int, at: datetime, purpose: str) -> str:
        """Create the one-shot schedule (idempotent by name); returns its name."""
        ...

    def exists(self, name: str) -> bool: ...

    def cancel(self, name: str) -> None: ...


class NotificationOutbox(Protocol):
    def send(self, notification: Notification) -> None: ...


class PolicySource(Protocol):
    def current(self) -> PolicyDocument: ...


class Metrics(Protocol):
    def count(self, name: str, value: float = 1, unit: str = "Count") -> None: ...


class NullMetrics:
    """Metrics for code paths that emit nothing (the CLI): counts are simply not recorded."""

    def count(self, name: str, value: float = 1, unit: str = "Count") -> None:
        return None
