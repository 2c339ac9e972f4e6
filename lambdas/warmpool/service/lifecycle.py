"""The lifecycle service: from a hint (an event, a step, a reconciler pass, a person) to the truth
(DescribeTrainingJob), to a decision (pure), to its execution (UpdateTrainingJob, the next schedule,
the registry, notifications).

Every entry point re-reads the job from SageMaker, so duplicated, reordered or late events converge on
the same state; the registry's optimistic locking stops two invocations from overwriting each other.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from warmpool.domain.clock import Clock, days_of, in_hour, moment_text, period_ends, period_starts
from warmpool.domain.decide import RETRY_CAPPED_MINUTES, decide_keep_alive, policy_cost_model
from warmpool.domain.facts import budget_facts, digest_pool_facts, idle_until, pool_facts
from warmpool.domain.history import HISTORY_LIMIT, add_once
from warmpool.domain.model import (
    Action,
    Decision,
    EngineLimits,
    FleetPool,
    FleetView,
    IdleGap,
    MatchKey,
    Notification,
    NotificationKind,
    Pool,
    Severity,
    Trigger,
    UserRequest,
    WarmPoolStatus,
    extend_lineage,
)
from warmpool.domain.policy.document import PolicyDocument, TagNames
from warmpool.domain.policy.resolve import pool_team, resolve_rules
from warmpool.domain.policy.rules import QuotaWarning, is_exempt, ledger_zone, ledger_zones, quota_warning
from warmpool.domain.pricing import UnknownInstanceTypeError, price_per_hour
from warmpool.domain.stepping import horizon_at
from warmpool.models.events import StepDueDetail, TrainingJobDetail, TuningJobDetail, parse_time
from warmpool.service.ports import (
    PHANTOM_POOLS_REPAIR,
    SAVE_AUDIT_ROOM,
    TUNING_WATCHES_REPAIR,
    UNANNOUNCED_MARKS_REPAIR,
    AuditEntry,
    ConcurrentUpdateError,
    FleetSource,
    JobNotFoundError,
    Metrics,
    NotificationOutbox,
    OutOfTimeError,
    PolicySource,
    PoolMovedOnError,
    PoolRecord,
    PoolRegistry,
    ReadNotPermittedError,
    RetryableError,
    SageMakerPort,
    StepScheduler,
    TuningNotice,
    UnreadableItemError,
    UpdateNotPermittedError,
    UpdateRefusedError,
    WatchedTuningJob,
)

TERMINAL_JOB_STATUSES = frozenset({"Completed", "Failed", "Stopped"})
# What a pool's decision says when its sweep ends and hands it back: sent to SNS one by one, and to
# Slack within the sweep's one "tuning job finished" message (`handle_tuning_event`, and where the end
# is found another way: `_end_sweep_found_unseen`, the reconciler); ready: a trial's pool first seen
# Available by the look that finds its sweep ended (its event late)
TOLD_WITH_THE_SWEEP = frozenset(
    {
        NotificationKind.POOL_READY,
        NotificationKind.EXTENDED,
        NotificationKind.SHORTENED,
        NotificationKind.RELEASED,
    }
)
# Characters of each reason of a pool's decision that a sweep's end lists (`_with_sweep_pools`)
SWEEP_REASON_LIMIT = 200
# A tuning job in these states still runs its trials: their pools are left to it.
TUNER_RUNNING_STATUSES = frozenset({"InProgress", "Stopping"})
EXPIRING_SOON_DEFAULT_MINUTES = 15
# writes of a released pool's notice tried against other invocations' writes (`_save_released`)
SAVE_RELEASED_ATTEMPTS = 3
# a person's request decided again after another invocation's write got in first (`apply_user_request`)
USER_REQUEST_ATTEMPTS = 3
# puts back of the expiry another invocation saved, against yet other writes (`_restore_expiry`)
RESTORE_EXPIRY_ATTEMPTS = 3
LIFETIME_WARNING = timedelta(days=1)
# who asked, as a person's request's entries name them (`UserRequest.audit_details`)
_WHO_ASKED = frozenset({"user", "user_id", "user_owner", "caller_arn", "via"})
# How much earlier than the intent SageMaker's clock may date the update it made (`_carried_out`)
INTENT_CLOCK_SKEW = timedelta(seconds=5)
# In a decision's audit entry an older version saved with the pool (`unaudited`): when it was decided,
# the time the entry is written at by the retry or the reconciler (`_announce_saved`), not part of its
# details.
DECIDED_AT = "decided_at"
# A "tuning job finished" notice recorded this long ago and still not marked sent is the reconciler's to
# send: the invocation that recorded it is over (the lifecycle function's timeout is a minute) and
# failed to send it, or ended before it could (`_send_tuning_finished`).
UNSENT_NOTICE_GRACE = timedelta(minutes=2)
# A watched tuning job (one a pool was left to, its end not recorded) found running is checked again
# this much later: its end, should its final event be lost while no pool is left to it, is told within
# this (and a reconciler period) of it, at one DescribeHyperParameterTuningJob per tuning job and period.
TUNING_CHECK_INTERVAL = timedelta(minutes=30)
# Warnings about the job, not about one look at it: said once per job, not at every step.
ONCE_PER_JOB = frozenset(
    {
        NotificationKind.MISSING_TAGS,
        NotificationKind.POLICY_LIMIT,
        NotificationKind.BUDGET_WARNING,
        NotificationKind.LIFETIME_ENDING,
    }
)
# What a decision announces as information; the rest it announces are warnings.
ANNOUNCED_AS_INFO = frozenset(
    {
        NotificationKind.RELEASED,
        NotificationKind.POOL_READY,
        NotificationKind.EXTENDED,
        NotificationKind.SHORTENED,
        NotificationKind.EXPIRING_SOON,
    }
)


class WarmPoolStatusPendingError(RetryableError):
    """The job ended with a keep-alive but SageMaker does not report its warm pool yet."""


# A pool whose update the role may not make is looked at again this soon (`_retry_refused_at`)
RETRY_REFUSED_MINUTES = 5


# Why the engine leaves a job alone whose name begins with none of the deployment's `job_name_prefixes`
_ANOTHER_DEPLOYMENTS = "not this deployment's job: its name begins with none of its job_name_prefixes"


@dataclass(frozen=True)
class Outcome:
    """What one entry point did, for logs, metrics and tests."""

    job_name: str
    pool_id: str | None
    # "decided", "refused" (SageMaker refused the update), "recorded", "unchanged", "ignored", ...
    action: str
    decision: Decision | None = None
    notes: tuple[str, ...] = ()


def _why_not_available(outcome: Outcome) -> str:
    """Why a person's request found no Available pool, in their words: what SageMaker says of it now
    (`recorded`: its state; `ignored`: why), not the engine's own name for what it did."""
    said = outcome.notes[0] if outcome.notes else None
    if outcome.action == "job-missing":
        return "SageMaker has no training job of that name"
    if outcome.action == "recorded" and said in _NOT_AVAILABLE:
        return _NOT_AVAILABLE[said]
    return said or outcome.action


_NOT_AVAILABLE = {
    WarmPoolStatus.IN_USE.value: "its job is still running on it (InUse)",
    WarmPoolStatus.REUSED.value: "a later job took it (Reused)",
    WarmPoolStatus.TERMINATED.value: "it is gone (Terminated)",
    "tuner-owned": "it is left to its tuning job while the tuning job runs",
}


@dataclass(frozen=True)
class Preview:
    """What the engine would decide about a job's pool, were it to look now (`LifecycleService.preview`)."""

    asked: str  # the job asked about
    # the pool as the engine would decide it: its job, the one asked about or a later one that took the
    # pool (a job without a warm pool: as if its pool were gone)
    record: PoolRecord
    decision: Decision


# The phases of a reconciler run that do its work (`reconcile`): the run fails as a whole only when none
# of them could run to the end (the registry unreadable, the invocation out of time); the others read
# what these act on (the listings) or are once per registry (the repairs of what older versions left)
RECONCILER_WORK = frozenset(
    {
        "available-pools",
        "watched-tuning-jobs",
        "unsent-tuning-notices",
        "unannounced-pools",
        "registry-in-use",
    }
)


class ReconcilerFailedError(RuntimeError):
    """A reconciler run that could do nothing (`RECONCILER_WORK`): its error names each phase's."""


@dataclass(frozen=True)
class ReconcileReport:
    # None: the listing failed (its phase is in `phases_failed`)
    available_in_sagemaker: int | None
    available_in_registry: int | None
    repaired: list[str] = field(default_factory=list)
    rescheduled: list[str] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)  # teams sent their daily digest by this run
    failed: list[str] = field(default_factory=list)  # "<job>: <error>" for pools this run could not repair
    # the phantom pools an older version left that this run removed (`_sweep_phantoms`), by pool id
    phantoms: list[str] = field(default_factory=list)
    # the tuning jobs running since before their pools' saves watched them that this run began to watch
    # (`_watch_tuning_jobs_of_older_versions`), by name
    tuning_watches: list[str] = field(default_factory=list)
    # the tuning jobs whose "tuning job finished" notice this run sent (their final event lost, or the
    # notice left unsent), by name
    tuning_notices: list[str] = field(default_factory=list)
    # the pools a dry run left something undone on, decided by this run as `dry_run` is now off, by job
    after_dry_run: list[str] = field(default_factory=list)
    # the phases of the run that failed, by name (`reconcile`), each also in `failed` with its error
    phases_failed: list[str] = field(default_factory=list)
    # "<job>: <error>" for the pools of an ended sweep this run could not hand back with the others
    # (`sweep_pools_deferred_this_run`): left to the tuner, the next run hands them back
    sweep_pools_deferred: list[str] = field(default_factory=list)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _one_policy(
    method: Callable[Concatenate[LifecycleService, _P], _R],
) -> Callable[Concatenate[LifecycleService, _P], _R]:
    """Entry points read the policy once and decide the whole piece of work by that one document: a
    policy changed (or a cache running out) in the middle of an event cannot give one decision two
    documents, and an event costs one read of the parameter, not one per rule that asks."""

    def pinned(self: LifecycleService, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        pins = self._pins  # per thread: two invocations in one process each keep their own document
        if getattr(pins, "policy", None) is not None:  # an entry point called from another: pinned
            return method(self, *args, **kwargs)
        pins.policy = self.policies.current()
        try:
            return method(self, *args, **kwargs)
        finally:
            pins.policy = None

    pinned.__name__, pinned.__doc__ = method.__name__, method.__doc__
    return pinned


@dataclass
class LifecycleService:
    sagemaker: SageMakerPort
    registry: PoolRegistry
    scheduler: StepScheduler
    outbox: NotificationOutbox
    policies: PolicySource
    clock: Clock
    metrics: Metrics
    limits: EngineLimits = field(default_factory=EngineLimits)
    sleep: Callable[[float], object] = time.sleep
    # In-invocation retries when WarmPoolStatus is briefly absent; then the message is requeued.
    status_retry_delays: tuple[float, ...] = (1.0, 2.0)
    # Pools shortened or released since begin_run(): policy.max_reductions_per_run caps it.
    reductions_this_run: int = 0
    # The tuning jobs whose "tuning job finished" notice was sent since begin_run(), by name (the
    # reconciler's `tuning_notices`)
    tuning_notices_this_run: list[str] = field(default_factory=list)
    # The pool items this run met that this version cannot read (the reconciler's: `_report_unreadable`)
    unreadable_this_run: list[UnreadableItemError] = field(default_factory=list)
    # The pools of an ended sweep that a look could not hand back with the others since begin_run(),
    # "<job>: <error>" (`_end_sweep_found_unseen`): left to the tuner, the reconciler's next run hands
    # them back; the handlers log them (and the reconciler's report names them), SweepPoolsDeferred counts
    sweep_pools_deferred_this_run: list[str] = field(default_factory=list)
    # The decision saved for the person's request being answered (`apply_user_request`), per thread as
    # the policy pins are: set once it is saved, after which a conflict in what follows must not decide
    # the request again.
    _answers: threading.local = field(default_factory=threading.local, init=False, repr=False)
    # The tuning job whose end is being told, its pools decided now (`handle_tuning_event`), per thread:
    # their decisions' notices go to SNS one by one and are told in Slack in the sweep's one message.
    _sweep: threading.local = field(default_factory=threading.local, init=False, repr=False)
    _pins: threading.local = field(default_factory=threading.local, init=False, repr=False)  # _one_policy

    def _current_policy(self) -> PolicyDocument:
        """The document this piece of work is decided by (`_one_policy`)."""
        pinned: PolicyDocument | None = getattr(self._pins, "policy", None)
        return pinned if pinned is not None else self.policies.current()

    def _policy_version(self) -> int | None:
        """The policy parameter's version this piece of work is decided by, as its audit entries name
        it: what an auditor asks of a decision besides its rule (None: the built-in policy)."""
        return self._current_policy().deployed_version

    # ------------------------------------------------------------------ entry points
    def begin_run(self) -> None:
        """A run is one reconciler pass or one batch of queued events: `max_reductions_per_run`
        counts the pools this run shortens or releases, so a bad policy cannot release all at once."""
        self.reductions_this_run = 0
        self.tuning_notices_this_run = []
        self.unreadable_this_run = []
        self.sweep_pools_deferred_this_run = []

    @_one_policy
    def handle_training_event(self, detail: TrainingJobDetail, *, final_attempt: bool = False) -> Outcome:
        if not self.limits.manages(detail.training_job_name):  # the rule lets none through: one sent by hand
            return Outcome(detail.training_job_name, None, "ignored", notes=(_ANOTHER_DEPLOYMENTS,))
        return self._refresh(
            detail.training_job_name, Trigger.JOB_EVENT, final_attempt=final_attempt, tags=detail.tags
        )

    @_one_policy
    def handle_keep_alive_call(self, job_name: str, *, final_attempt: bool = False) -> Outcome:
        """CloudTrail says someone called UpdateTrainingJob on the job: its pool is looked at now, as
        its next look would have (`_refresh`), so that a keep-alive set outside warmpool is recorded,
        its owner told, and, past what the policy wants, undone at once instead of at that look.
        warmpool's own call finds the pool as warmpool saved it: nothing is done."""
        if not self.limits.manages(job_name):  # the rule lets none through: one sent by hand
            return Outcome(job_name, None, "ignored", notes=(_ANOTHER_DEPLOYMENTS,))
        return self._refresh(job_name, Trigger.KEEP_ALIVE_CALL, final_attempt=final_attempt)

    @_one_policy
    def handle_step_due(self, detail: StepDueDetail) -> Outcome:
        record = self.registry.get(detail.pool_id)
        if record is None or record.pool.job_name != detail.training_job_name:
            # The pool moved on to another job (or was never registered): this step is stale.
            return Outcome(detail.training_job_name, detail.pool_id, "ignored", notes=("stale step",))
        # The purpose only names the look: what is due is decided afresh from the pool's state.
        return self._refresh(detail.training_job_name, Trigger.STEP_DUE)

    @_one_policy
    def handle_tuning_event(self, detail: TuningJobDetail) -> list[Outcome]:
        if detail.tuning_job_status in ("InProgress", "Stopping", "Deleting"):
            return []
        if not self.limits.manages(detail.tuning_job_name):  # its trials' names begin with its own
            return []
        arn = detail.tuning_job_arn or ""
        outcomes: list[Outcome] = []
        owned = _of_the_sweep(self.registry.pools_of_tuning_job(arn), detail.creation_time) if arn else []
        # recorded before its pools are given back, sent after: once they are the engine's, nothing
        # brings a run back to the tuning job, but the reconciler sends a notice left unsent
        notice = (
            self._record_tuning_finished(
                arn,
                detail.tuning_job_name,
                detail.tuning_job_status,
                detail.best_training_job,
                owned,
                created=detail.creation_time,
            )
            if arn
            else None
        )
        ended = f"tuning job {detail.tuning_job_name} ended {detail.tuning_job_status} (its event)"
        # A parallel sweep hands back its pools together: what each pool's decision says is sent to
        # SNS as ever, and to Slack in the notice that the sweep finished, which lists every pool
        # (`_sweep_pools`), instead of a message per pool beside it; only while that notice is still to
        # send (one already sent, by a look that found the sweep ended, lists none of them)
        telling = notice is not None and not notice.sent and notice.notification is not None
        self._sweep.name = detail.tuning_job_name if telling else None
        try:
            for record in owned:
                outcomes.append(self._refresh(record.pool.job_name, Trigger.RECONCILE, tuner_ended=ended))
        finally:
            self._sweep.name = None
        if notice is not None:
            self._send_tuning_finished(notice)
        return outcomes

    @_one_policy
    def apply_user_request(self, job_name: str, request: UserRequest) -> Decision:
        """A person asks to extend or release a pool; the policy still decides. A request is a run of
        its own: `max_reductions_per_run` does not carry over from earlier requests. Nobody retries
        a person's request (Slack does not send a button press again): a write that another
        invocation got in first (the pool's step, its event, another person) is met here by reading
        the pool again and deciding again, so the answer says what happened."""
        if not self.limits.manages(job_name):  # neither read nor recorded: another deployment decides it
            prefixes = ", ".join(self.limits.job_name_prefixes)
            return Decision.nothing_done(
                "engine.job_name_prefixes",
                f"{job_name} is not this deployment's job: it manages only the jobs whose names begin "
                f"with {prefixes} (job_name_prefixes); ask the deployment that manages it, nothing is "
                f"done to {request.kind} it here",
            )
        attempts = USER_REQUEST_ATTEMPTS
        while True:
            self.begin_run()
            self._answers.saved = None
            try:
                outcome = self._refresh(job_name, Trigger.USER, request=request)
                break
            except WarmPoolStatusPendingError:
                # The job's own event is retried until SageMaker says (the engine records no pool only
                # on its last attempt); nobody retries a person's request: it was a traceback from
                # `pools extend|release`. Nothing is decided or written: the person may ask again.
                return Decision.no_available_pool(
                    f"{job_name} has no Available warm pool yet: it ended with a keep-alive, and SageMaker "
                    f"reports no warm pool for it (not yet, or none was kept); nothing to {request.kind} "
                    "now: ask again in a minute"
                )
            except ConcurrentUpdateError:
                saved: Decision | None = getattr(self._answers, "saved", None)
                if saved is not None:
                    # The request was decided and saved; the conflict came after (a pool released to
                    # make room, written meanwhile): decided again, an extension would be granted twice.
                    # What is left undone is the next look's (the pool's step, the reconciler).
                    return self._as_it_stands(job_name, saved)
                attempts -= 1
                if attempts == 0:
                    raise
        if outcome.decision is not None:
            return self._as_it_stands(job_name, outcome.decision)
        if outcome.action == "recorded" and outcome.notes[:1] == ("tuner-owned",):
            # Available, as `pools list` shows it, but its tuning job's until that ends: "has no
            # Available warm pool" contradicted the list, and did not say whose the pool was or when
            # the request could be made
            record = self.registry.get(outcome.pool_id) if outcome.pool_id else None
            return Decision.no_available_pool(
                f"{job_name}'s warm pool is {_left_to_tuner(record)}; nothing to {request.kind}"
            )
        return Decision.no_available_pool(
            f"{job_name} has no Available warm pool: {_why_not_available(outcome)}; nothing to {request.kind}"
        )

    def _as_it_stands(self, job_name: str, decision: Decision) -> Decision:
        """The answer to a person's extension, as the pool stands once it is decided: another person's
        release (a Slack press from another desk, `pools release`) may have released the pool after
        the extension was saved and before it is answered. Answered "done", the person was told the
        pool was kept longer while it was already gone; they are told it was released, and why. One
        GetItem, for a granted extension only."""
        promised = decision.promised_until
        if promised is None or decision.dry_run:
            return decision
        pool_id = self.registry.pool_id_for_job(job_name)
        record = self.registry.get(pool_id) if pool_id else None
        if record is None or record.pool.job_name != job_name:
            return decision
        if record.pool.status is WarmPoolStatus.TERMINATED:
            released = record.last_decision
            why = (
                "; ".join(released.reasons) if _releases(released) and released is not None else "it is gone"
            )
        elif self._being_released(record):
            # a release SageMaker has taken, not saved yet (its intent is saved before its update): the
            # registry still reads Available, and "done" told the person of a pool already gone
            why = (
                "; ".join(str(reason) for reason in (record.intent or {}).get("reasons") or ())
                or "it is gone"
            )
        else:
            return decision
        return Decision.no_available_pool(
            f"{job_name}'s pool was released before this answer, just after the extension until "
            f"{moment_text(promised)} was granted ({why}); nothing is kept warm"
        )

    def _being_released(self, record: PoolRecord) -> bool:
        """Whether another invocation is releasing the pool and has not saved it yet: the intent it
        saves before its update is a release (a keep-alive of 0: a person's, a decision's, a limit's
        making room) of this job, and SageMaker has the pool released. One DescribeTrainingJob, only
        when such an intent is there; an intent whose update SageMaker does not show is not one."""
        intent = record.intent
        if not intent or intent.get("seconds") != 0:
            return False
        if intent.get("job_name", record.pool.job_name) != record.pool.job_name:
            return False
        try:
            job = self.sagemaker.describe_training_job(record.pool.job_name)
        except JobNotFoundError:
            return True  # deleted: it keeps no pool
        warm = job.get("WarmPoolStatus") or {}
        keep_alive = (job.get("ResourceConfig") or {}).get("KeepAlivePeriodInSeconds")
        return warm.get("Status") == WarmPoolStatus.TERMINATED.value or keep_alive == 0

    @_one_policy
    def preview(self, job_name: str) -> Preview:
        """The decision the engine would record if it looked at the job's pool now (its step come due),
        and nothing done: `warmpool policy explain --job` answers what the engine would decide, and why.
        It reads what `_refresh` reads before it decides, by the same code: the pool's record (its
        lineage and lifetime, its plan, a person's promise), the job, the tuning job it is a trial of,
        the gap histories of its shape and team, the warm pools and the team's ledger (`_decide`); and
        writes none of what `_refresh` writes (no save, audit, gap, schedule, notice or update). A job
        whose pool a later job took is answered for that job, the pool's now. A job on a predecessor's
        pool the engine has not yet seen it take (`_adopt_lineage`) is decided with the idle gap its
        adoption records first, from the predecessor's end to the job's creation: in the histories
        it learns from and on its team's ledger, as the engine's decision reads them (without it,
        explain read one gap fewer, and a budget the gap spent as unspent). The clock is first read
        once the job has been described."""
        asked = job_name
        pool_id = self.registry.pool_id_for_job(job_name)
        known = self.registry.get(pool_id) if pool_id else None
        if known is not None and known.pool.job_name != job_name and not _successor_of(known, job_name):
            job_name = known.pool.job_name  # the pool moved on to a later job: decided as that job's
        job = self.sagemaker.describe_training_job(job_name)
        job["Tags"] = (
            dict(known.pool.tags)
            if known is not None
            else self.sagemaker.list_tags(str(job.get("TrainingJobArn", "")))
        )
        if job.get("WarmPoolStatus") is None:
            keep_alive = int((job.get("ResourceConfig") or {}).get("KeepAlivePeriodInSeconds") or 0)
            why = "SageMaker reports none for it" if keep_alive > 0 else "it asked for no keep-alive"
            gone = pool_from_job(
                job,
                job_name,
                MatchKey.from_training_job(job),
                WarmPoolStatus.TERMINATED,
                self.clock.now(),
                self._current_policy().tags,
            )
            nothing = Decision.no_available_pool(f"{job_name} has no warm pool: {why}")
            return Preview(asked, PoolRecord(pool=gone), nothing)
        previous = known if known is not None else self._predecessor(job)
        adopted = (
            self._idle_gap(previous.pool, _time(job, "CreationTime") or self.clock.now(), reused=True)
            if known is None and previous is not None
            else None
        )
        record = self._record_from_job(job, previous)
        arn = record.pool.tuning_job_arn
        if arn:
            tuning = tuning_job_name(arn, record.pool.job_name)
            status = _tuning_status_of(self._describe_tuning_job(tuning))
            record = replace(record, tuner_owned=status in TUNER_RUNNING_STATUSES)
        if record.tuner_owned or record.pool.status is not WarmPoolStatus.AVAILABLE:
            # the tuning job named, and when the pool is decided: as `pools list|show` say it
            said = (
                f"it is {_left_to_tuner(record)}"
                if record.tuner_owned
                else _NOT_AVAILABLE[record.pool.status.value]
            )
            undecided = Decision.no_available_pool(f"{job_name}'s pool is not decided: {said}")
            return Preview(asked, record, undecided)
        ledger: FleetSource = self.registry
        if adopted is not None and previous is not None:
            record = _with_gap(
                record, previous.pool.match_key.digest(), adopted, self._history_team(record.pool)
            )
            ledger = _WithBookings(self.registry, adopted.team, adopted.bookings)
        decision, _ = self._decide(record, Trigger.STEP_DUE, None, self.clock.now(), ledger=ledger)
        return Preview(asked, record, decision)

    def audit_unauthorized(self, record: PoolRecord, request: UserRequest, reason: str) -> None:
        """A request refused before the engine saw it (the person may not change this pool): recorded
        in the pool's trail with who asked and why, as a decided request is."""
        details = {
            "kind": request.kind,
            "minutes": request.minutes,
            **request.audit_details(),
            "reason": reason,
        }
        self._audit(record, "request-unauthorized", details)

    def audit_repeated(
        self,
        record: PoolRecord,
        request: UserRequest,
        *,
        at: datetime,
        press_id: str,
        details: dict[str, Any],
    ) -> None:
        """A press that repeated an earlier one (the same button, person and job within seconds: that
        request again, so nothing was done): recorded in the pool's trail with who pressed and which
        button, at the time it was pressed, once for the press however often it is handled."""
        said = {"kind": request.kind, "minutes": request.minutes, **request.audit_details(), **details}
        self.registry.audit(
            AuditEntry(at, record.pool.pool_id, record.pool.job_name, "request-repeated", said, press_id)
        )

    @_one_policy
    def reconcile(self) -> ReconcileReport:
        """Repair drift: pools whose events were missed, pools that moved on silently, missing schedules.
        Costs O(Available and InUse pools): for each state, one list call to SageMaker and one query of
        the registry, plus a describe per disagreeing pool, one query of the "tuning job finished"
        notices not marked sent (nearly always none: `unsent_tuning_notices`), one of the pools saved
        with notices still to send (nearly always none: `unannounced_pools`), and one of the tuning jobs
        watched and due for a check, with a describe each (`_check_watched_tuning_job`: each at most
        once per `TUNING_CHECK_INTERVAL` while it runs, then never again); and once per index added
        to the registry, one listing of the live pools (`backfill_indexes`); once per registry, the
        sweep for the phantom pools older versions left (`_sweep_phantoms`), the watch of the tuning
        jobs they did not watch (`_watch_tuning_jobs_of_older_versions`) and the send of the notices
        they saved without listing them (`_announce_left_by_older_versions`: a listing of every pool).

        The run is made of phases, each going on where it can when another fails: SageMaker throttling
        ListTrainingJobs (an AWS incident) still leaves the pools the registry knows looked at (a step
        whose tick never fired, a schedule gone, a pool given back from its ended tuning job), the
        watches, the notices and the digests. A phase that fails is named in `failed` with its error
        and in `phases_failed` (metrics ReconcilerFailures and ReconcilerPhasesFailed); the run fails as
        a whole (ReconcilerFailedError) only when it could do nothing: none of the phases that do its
        work (`RECONCILER_WORK`) ran to the end."""
        now = self.clock.now()
        self.begin_run()
        failed: list[str] = []
        skipped: list[str] = []  # the phases that failed, by name
        done: set[str] = set()  # and those that ran to the end

        def phase(name: str, run: Callable[[], _R]) -> _R | None:
            try:
                result = run()
            except Exception as exc:  # named, counted and alarmed; the run goes on
                failed.append(f"{name}: {type(exc).__name__}: {exc}")
                skipped.append(name)
                return None
            done.add(name)
            return result

        # pool items this version cannot read (edited by hand): skipped, each reported once at the end
        unreadable = self.unreadable_this_run
        # first: a phantom is not to be counted, listed or decided by this run
        phantoms = phase(PHANTOM_POOLS_REPAIR, lambda: self._sweep_phantoms(failed, unreadable))
        listed = phase("sagemaker-available", self.sagemaker.list_available_job_names)
        # None: SageMaker could not say which pools are Available; the registry's are looked at all the same
        in_sagemaker = set(listed) if listed is not None else None
        # Another deployment's pools (`job_name_prefixes`: the account's jobs split between stacks) are
        # never recorded, decided or counted here; a pool the registry has is read as ever.
        managed = {n for n in in_sagemaker if self.limits.manages(n)} if in_sagemaker is not None else None
        in_registry = phase(
            "registry-available",
            lambda: self.registry.list_by_status(WarmPoolStatus.AVAILABLE.value, unreadable=unreadable),
        )
        report = ReconcileReport(
            len(managed) if managed is not None else None,
            len(in_registry) if in_registry is not None else None,
            failed=failed,
            phantoms=phantoms or [],
            phases_failed=skipped,
        )
        # once after an upgrade; a tuning job watched now is first due a check `TUNING_CHECK_INTERVAL` on
        watched = phase(TUNING_WATCHES_REPAIR, lambda: self._watch_tuning_jobs_of_older_versions(failed, now))
        report.tuning_watches.extend(watched or [])
        # each tuning job described once per run: its name (cased as its trials') and its description
        tuners: dict[str, tuple[str, dict[str, Any] | None]] = {}
        left_to_tuners: list[PoolRecord] = []
        if in_registry is not None:
            # The whole fleet's warm instances: a decision reads its own team's pools only (docs/adr/0008).
            self.metrics.count("WarmInstances", sum(r.pool.instance_count for r in in_registry))
            available = in_registry
            look = self._reconcile_available
            phase(
                "available-pools", lambda: look(report, available, in_sagemaker, now, tuners, left_to_tuners)
            )
        # The tuning jobs a pool was left to whose end is not recorded: one whose final event was lost
        # while no pool was left to it (its pools ran out, or other jobs took them) has nothing else to
        # bring a run back to it. One Query, of the watches due for a check only.
        read = {record.pool.tuning_job_arn or "" for record in left_to_tuners}  # or tried to, above

        def check_watches() -> None:
            for watch in self.registry.watched_tuning_jobs(now):
                tuning = tuning_job_name(watch.tuning_job_arn, watch.job_name)
                check = self._check_watched_tuning_job
                self._repair(failed, [], tuning, check, watch, tuning, now, tuners, read)

        phase("watched-tuning-jobs", check_watches)

        # The "tuning job finished" notices recorded and never marked sent: the invocation that recorded
        # them is over (its retries ran out, it crashed, or it handed the pools back without a send
        # that succeeded). One Query, of the notices not marked sent only.
        def send_unsent() -> None:
            for notice in self.registry.unsent_tuning_notices(now - UNSENT_NOTICE_GRACE):
                arn = notice.tuning_job_arn
                self._repair(failed, [], arn, self._send_listed_tuning_notice, notice)

        phase("unsent-tuning-notices", send_unsent)

        # The pools saved with notices still to send (their send failed, or their invocation ended):
        # what is not retried (this run's own decisions, a person's request) and what no later look
        # would send (a pool released). One Query, of the pools listed so only (nearly always none).
        def announce_unannounced() -> None:
            for pool_id in self.registry.unannounced_pools():
                self._repair(failed, [], pool_id, self._announce_listed, pool_id)

        phase("unannounced-pools", announce_unannounced)
        # once after an upgrade: those saved by the versions that did not list them
        phase(UNANNOUNCED_MARKS_REPAIR, lambda: self._announce_left_by_older_versions(failed, unreadable))
        # A pool the registry still has InUse whose job has ended (its events lost, its keep-alive run
        # out before this run could see it Available): left alone, it would count as running forever.
        listed_in_use = phase(
            "sagemaker-in-use", lambda: self.sagemaker.list_job_names_with_pool(WarmPoolStatus.IN_USE.value)
        )

        def repair_in_use(in_use: set[str]) -> None:
            for record in self.registry.list_by_status(WarmPoolStatus.IN_USE.value, unreadable=unreadable):
                name = record.pool.job_name
                # a pool SageMaker has Available was looked at above, unless it could not be listed
                if name not in in_use and (in_sagemaker is None or name not in in_sagemaker):
                    self._repair(failed, report.repaired, name, self._refresh, name, Trigger.RECONCILE)

        if listed_in_use is not None:
            phase("registry-in-use", lambda: repair_in_use(set(listed_in_use)))
        report.tuning_notices.extend(self.tuning_notices_this_run)  # whichever way it found them
        report.sweep_pools_deferred.extend(self.sweep_pools_deferred_this_run)
        report.digests.extend(phase("digests", lambda: self.send_digests(now, unreadable=unreadable)) or [])
        # Once per index added: the live pools written before it get its keys (Reused ones included); an
        # item that cannot be read is skipped and named (UnreadableItems), and the backfill tried again
        # at the next run, the phase not failed for it
        phase("index-backfill", lambda: self.registry.backfill_indexes(unreadable=unreadable))
        _report_unreadable(failed, unreadable, self.metrics)
        repairs = len(report.repaired) + len(report.rescheduled) + len(report.phantoms)
        self.metrics.count("ReconcilerRepairs", repairs + len(report.tuning_watches))
        if report.tuning_watches:
            self.metrics.count("TuningWatchesRepaired", len(report.tuning_watches))
        if managed is not None:
            self.metrics.count("PoolsAvailable", len(managed))
        if report.tuning_notices:
            self.metrics.count("TuningNoticesSent", len(report.tuning_notices))
        if report.failed:
            self.metrics.count("ReconcilerFailures", len(report.failed))
        if skipped:
            self.metrics.count("ReconcilerPhasesFailed", len(skipped))
        if not done & RECONCILER_WORK:
            raise ReconcilerFailedError(
                "the reconciler could do nothing: no pool, watch or notice could be read ("
                + "; ".join(failed)
                + "); EventBridge runs it again, then the next run repairs what it missed"
            )
        return report

    def _reconcile_available(
        self,
        report: ReconcileReport,
        in_registry: list[PoolRecord],
        in_sagemaker: set[str] | None,
        now: datetime,
        tuners: dict[str, tuple[str, dict[str, Any] | None]],
        left_to_tuners: list[PoolRecord],
    ) -> None:
        """The reconciler's look at the Available pools: those SageMaker lists and the registry does not
        know (their events lost), those the registry has and SageMaker no longer lists, those whose
        step never fired, whose schedule is gone, that a dry run left undone or that were left to a
        tuning job that has ended. `in_sagemaker` None: SageMaker could not list them (throttled): the
        pools the registry knows are looked at all the same, by what the registry says of them."""
        failed = report.failed
        if in_sagemaker is not None:
            known = {r.pool.job_name for r in in_registry}
            for name in sorted(name for name in in_sagemaker - known if self.limits.manages(name)):
                self._repair(failed, report.repaired, name, self._refresh, name, Trigger.RECONCILE)
        dry_run = self._current_policy().dry_run
        for record in in_registry:
            name = record.pool.job_name
            if in_sagemaker is not None and name not in in_sagemaker:
                self._repair(failed, report.repaired, name, self._refresh, name, Trigger.RECONCILE)
            elif record.next_check_at is not None and record.next_check_at <= now:
                # the scheduled tick never fired (or fires right now: one of the two loses the write)
                self._repair(failed, report.rescheduled, name, self._refresh, name, Trigger.STEP_DUE)
            elif not dry_run and _left_undone_by_a_dry_run(record.last_decision):
                # `dry_run` was switched off: decided now, not at its next look, which a dry run plans
                # by the keep-alive it left (a pool it would release idled until its expiry warning)
                self._repair(failed, report.after_dry_run, name, self._refresh, name, Trigger.RECONCILE)
            elif record.schedule_name and not self.scheduler.exists(record.schedule_name):
                self._repair(failed, report.rescheduled, name, self._reschedule, record)
            elif record.tuner_owned:
                # its tuning job's final event may have been lost: left to a tuner that has ended, the
                # pool would never be decided (no extension, no early release, no warnings); given back
                # below, if its tuning job could be read and has ended
                self._repair(failed, [], name, self._describe_tuner_of, record, tuners)
                left_to_tuners.append(record)
        told: dict[str, TuningNotice | None] = {}
        for arn, (tuning, described) in tuners.items():
            # Once per tuning job, before its pools are given back: the notice that it finished is
            # recorded (a run that ends before sending it leaves it to the next runs': unsent notices)
            status = _tuning_status_of(described)
            if status in TUNER_RUNNING_STATUSES:
                continue
            notices: list[TuningNotice] = []
            if described is not None and status is not None:
                best = described.get("BestTrainingJob")
                created = _tuning_created(described)

                def record_notice(
                    notices: list[TuningNotice], arn: str, tuning: str, status: str, best: Any, created: Any
                ) -> None:
                    owned = self.registry.pools_of_tuning_job(arn)
                    notice = self._record_tuning_finished(arn, tuning, status, best, owned, created=created)
                    notices.extend([notice] if notice is not None else [])

                keep = record_notice
                if not self._repair(failed, [], arn, keep, notices, arn, tuning, status, best, created):
                    continue
            # or it no longer exists: nothing to tell, its pools are given back all the same
            told[arn] = notices[0] if notices else None
        for arn, notice in told.items():
            # Its pools given back, then the notice sent, as the tuning job's event does: Slack has one
            # message for the sweep's end, listing what became of each pool (`_with_sweep_pools`),
            # while that notice is still to send; a send that fails is the next runs' (unsent notices)
            telling = notice is not None and not notice.sent and notice.notification is not None
            self._sweep.name = tuners[arn][0] if telling else None
            try:
                for record in left_to_tuners:
                    if (record.pool.tuning_job_arn or "") == arn:
                        name = record.pool.job_name
                        release = self._release_from_ended_tuner
                        self._repair(failed, report.repaired, name, release, record, tuners)
            finally:
                self._sweep.name = None
            if notice is not None:
                self._repair(failed, [], arn, self._send_tuning_finished, notice)

    def _repair(
        self,
        failed: list[str],
        done: list[str],
        name: str,
        repair: Callable[..., object],
        *args: Any,
        final: tuple[type[Exception], ...] = (),
    ) -> bool:
        """Repair one pool. One that fails is reported (`failed`, metric ReconcilerFailures) and the run
        goes on: a pool failing at every run must not leave every pool after it unrepaired. Returns
        whether the pool was dealt with (repaired, or nothing to do): False when it is for a later run.
        `final`: the errors a later run would meet again (the role may not read the job): reported all
        the same, but the pool counts as dealt with. A pool item this version cannot read is reported
        by its key too, at the end of the run (`_report_unreadable`)."""
        try:
            result = repair(*args)
        except ConcurrentUpdateError:
            return False  # another invocation (the pool's event or step) is at it right now
        except Exception as exc:  # reported, counted and alarmed; the run goes on
            if isinstance(exc, UnreadableItemError):  # counted by its key, once (`_report_unreadable`)
                self.unreadable_this_run.append(exc)
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
            return isinstance(exc, final)
        if isinstance(result, Outcome) and result.action == "ignored":
            return True  # nothing was done: not a repair
        done.append(name)
        return True

    def _sweep_phantoms(self, failed: list[str], unreadable: list[UnreadableItemError]) -> list[str]:
        """Once per registry, until a sweep runs to the end: find the phantom pools older versions left
        and repair them (`_repair_phantom`); returns their pool ids. A version before the join was one
        transaction (docs/registry.md) could leave two pool records for one warm pool, for good: nothing
        else looks at them again, since each event of their job goes to the pool its job index names.
        This version leaves none, so a sweep that has dealt with every live pool is not made again (a
        pool changed meanwhile, or a transient failure: throttling, a 5xx, leaves it to the next run).
        A pool whose job the engine's role may not read is dealt with: the error is reported
        (`failed`) and audited on the pool (`_repair_phantom`), as a later run would only meet it again,
        and every run would otherwise repeat the whole sweep. Costs that run a listing of the
        Available, InUse and Reused pools, a GetItem of the job index per pool of one job, a describe
        per Reused pool; later runs nothing (one GetItem per function instance). A pool item that cannot
        be read is skipped (`unreadable`) and leaves the sweep to the next run: restored, it may be a
        phantom."""
        if self.registry.upgraded(PHANTOM_POOLS_REPAIR):
            return []
        repaired: list[str] = []
        swept = True
        live = (WarmPoolStatus.REUSED, WarmPoolStatus.AVAILABLE, WarmPoolStatus.IN_USE)
        for status in live:  # the Reused first: their joins remove pools the next listings then miss
            skipped = len(unreadable)
            for record in self.registry.list_by_status(status.value, unreadable=unreadable):
                pool = record.pool
                if pool.status is not WarmPoolStatus.REUSED and not _alone(pool):
                    continue  # a lineage of its own: no phantom (a join only ever took a lone pool)
                name = pool.pool_id
                final = (ReadNotPermittedError,)
                dealt = self._repair(failed, [], name, self._repair_phantom, name, repaired, final=final)
                swept = dealt and swept
            swept = swept and len(unreadable) == skipped
        if swept:
            self.registry.record_upgraded(PHANTOM_POOLS_REPAIR)
        return repaired

    def _repair_phantom(self, pool_id: str, removed: list[str]) -> Outcome:
        """One pool record, as the sweep finds it (`_sweep_phantoms`), read again. Two phantoms:
        - a lone record (one job, the pool named after it) whose job index names another pool: an older
          version's join wrote the joined pool, then failed to delete this one. The other pool holds the
          job and its lineage; this record is removed, in the join's own write (`_finish_join`).
        - a Reused pool whose successor is still a lone pool of its own: the successor's events came
          first and the join that was to follow failed (before the join existed, none followed), and
          its retry did not join. It is joined now (`_join_lineage`), the history made as if in order.
        Either way the pool's current job is then decided afresh (its planned look may carry the
        phantom's pool id), as after a join. `removed`: the phantom's pool id is added to it."""
        record = self.registry.get(pool_id)
        if record is None:
            return Outcome(pool_id, pool_id, "ignored", notes=("gone",))
        name = record.pool.job_name
        owner_id = self.registry.pool_id_for_job(name)
        if owner_id != pool_id:
            owner = self.registry.get(owner_id) if owner_id is not None else None
            if owner is None or not _alone(record.pool) or not self._join_lineage(owner, name):
                return Outcome(name, pool_id, "ignored", notes=(f"its job index names {owner_id}",))
            removed.append(pool_id)
            if owner.pool.job_name == name:
                self._refresh(name, Trigger.RECONCILE)
            return Outcome(name, owner.pool.pool_id, "phantom-removed")
        if record.pool.status is not WarmPoolStatus.REUSED:
            return Outcome(name, pool_id, "ignored", notes=("no phantom",))
        try:
            job = self.sagemaker.describe_training_job(name)
        except JobNotFoundError:
            return Outcome(name, pool_id, "ignored", notes=("job-missing",))
        except ReadNotPermittedError as exc:  # left for good: `pools show` says why
            self._audit(record, "phantom-sweep-failed", {"repair": PHANTOM_POOLS_REPAIR, "error": str(exc)})
            raise
        successor = str((job.get("WarmPoolStatus") or {}).get("ReusedByJob") or "")
        if not successor or not self._join_lineage(record, successor, repair=True):
            return Outcome(name, pool_id, "ignored", notes=("no lone successor to join",))
        removed.append(successor)  # the lone pool it was registered as
        self._refresh(successor, Trigger.RECONCILE)
        return Outcome(successor, pool_id, "phantom-joined")

    def _watch_tuning_jobs_of_older_versions(self, failed: list[str], now: datetime) -> list[str]:
        """Once per registry, until a run has dealt with every running tuning job: watch the tuning jobs
        that ran before the version that watches them and are not watched yet. A save of a pool left to
        its tuning job watches it (`PoolRegistry.put`); a tuning job whose pools other jobs took, or
        whose pools ran out, before this version saved any of them has no watch, and should its final
        event be lost, nothing would tell its owners that it finished. The tuner index names the tuning
        jobs whose trials held a pool, but is read one tuning job at a time (nothing scans a table:
        docs/registry.md), so SageMaker lists the running ones (`TUNER_RUNNING_STATUSES`; one that has
        ended since the upgrade is its event's), and each the tuner index knows and whose end is not
        recorded is watched (`_watch_tuning_job`). A listing that fails (the role may not list: the
        error names the permission to grant; throttling, a 5xx) or a tuning job that does is reported
        (`failed`) and leaves the repair to the next run, the others watched all the same: the write
        is conditional, so a run made again watches only the ones left. Returns the names of the
        tuning jobs watched now. Costs that run a listing per running state and, per running tuning
        job, a GetItem, a Query of its tuner index and a conditional PutItem; later runs nothing (one
        GetItem per function instance)."""
        if self.registry.upgraded(TUNING_WATCHES_REPAIR):
            return []
        running: list[tuple[str, str]] = []

        def list_running() -> None:
            for status in sorted(TUNER_RUNNING_STATUSES):
                listed = self.sagemaker.list_tuning_jobs(status)
                running.extend((name, arn) for name, arn in listed if self.limits.manages(name))

        if not self._repair(failed, [], TUNING_WATCHES_REPAIR, list_running):
            return []
        watched: list[str] = []
        watch = self._watch_tuning_job
        dealt = [self._repair(failed, watched, name, watch, arn, name, now) for name, arn in running]
        if all(dealt):
            self.registry.record_upgraded(TUNING_WATCHES_REPAIR)
        return watched

    def _announce_left_by_older_versions(
        self, failed: list[str], unreadable: list[UnreadableItemError]
    ) -> None:
        """Once per registry, until it runs to the end: send what the pools saved by the versions that
        kept notices still to send (`unannounced`, `unaudited`) but did not list them for the reconciler
        (no `UNANNOUNCED` mark) have still to say. Those versions left a release decided by the
        reconciler or asked by a person whose send failed for its next look, which a released pool
        never gets: without this, its `released` notice was never sent. Every pool that has one is
        read again and announced as a listed one is (`_announce_listed`): what it still has is sent
        under the version it was saved with, which the notifier sends once. A pool that fails is
        reported (`failed`) and leaves the repair to the next run. Costs that run a listing of the
        pools in every state, Terminated included (they are the ones no look comes back to); later
        runs nothing (one GetItem per function instance). A pool item that cannot be read is skipped
        (`unreadable`) and leaves the repair to the next run."""
        if self.registry.upgraded(UNANNOUNCED_MARKS_REPAIR):
            return
        dealt = True
        for status in WarmPoolStatus:
            skipped = len(unreadable)
            for record in self.registry.list_by_status(status.value, unreadable=unreadable):
                if record.unannounced or record.unaudited is not None:
                    pool_id = record.pool.pool_id
                    dealt = self._repair(failed, [], pool_id, self._announce_listed, pool_id) and dealt
            dealt = dealt and len(unreadable) == skipped
        if dealt:
            self.registry.record_upgraded(UNANNOUNCED_MARKS_REPAIR)

    def _watch_tuning_job(self, arn: str, name: str, now: datetime) -> Outcome:
        """A running tuning job, as SageMaker lists it (`_watch_tuning_jobs_of_older_versions`): watched,
        unless its end is recorded already (it ended as this run read it), no trial of it held a pool
        warmpool knew (nobody to tell: it would be described until it ends for nothing) or it is
        watched already (a save of one of its pools since the upgrade, or this repair made before).
        Its first check is due `TUNING_CHECK_INTERVAL` from now, as if a check had found it running:
        the listing has just said so. Its name as listed gives the tuning job's name its case, as a
        trial's would (`tuning_job_name`)."""
        if self.registry.tuning_finished(arn) is not None:
            return Outcome(name, None, "ignored", notes=("its end is recorded",))
        if not self.registry.tuning_trials(arn):
            return Outcome(name, None, "ignored", notes=("no trial of it held a pool",))
        if not self.registry.watch_tuning_job(arn, name, now + TUNING_CHECK_INTERVAL):
            return Outcome(name, None, "ignored", notes=("watched already",))
        return Outcome(name, None, "watched")

    def _describe_tuner_of(
        self, record: PoolRecord, tuners: dict[str, tuple[str, dict[str, Any] | None]]
    ) -> None:
        """Describe the tuning job a tuner-owned pool is left to, once per run (into `tuners`)."""
        arn = record.pool.tuning_job_arn or ""
        if arn not in tuners:
            tuning = tuning_job_name(arn, record.pool.job_name)
            tuners[arn] = (tuning, self._describe_tuning_job(tuning) if arn else None)

    def _release_from_ended_tuner(
        self, record: PoolRecord, tuners: dict[str, tuple[str, dict[str, Any] | None]]
    ) -> Outcome:
        """A tuner-owned pool whose tuning job no longer runs (or no longer exists) is the engine's
        again: decided as a repaired pool is, as the tuning job's final event would have had it (once
        the run has told the owners that the tuning job finished: `reconcile`)."""
        name = record.pool.job_name
        self._describe_tuner_of(record, tuners)
        tuning, described = tuners[record.pool.tuning_job_arn or ""]
        status = _tuning_status_of(described)
        if status in TUNER_RUNNING_STATUSES:
            return Outcome(name, record.pool.pool_id, "ignored", notes=("its tuning job is running",))
        return self._refresh(name, Trigger.RECONCILE, tuner_ended=_tuner_gone(tuning, status))

    def _check_watched_tuning_job(
        self,
        watch: WatchedTuningJob,
        tuning: str,
        now: datetime,
        tuners: dict[str, tuple[str, dict[str, Any] | None]],
        read: set[str],
    ) -> None:
        """A tuning job a pool was left to, its end not recorded, due for a check (`reconcile`): one
        whose final event was lost while no pool was left to it (its pools ran out, or jobs of another
        tuning job, or of none, took them) is found ended here, and its owners are told as its event
        would have told them (`_record_tuning_finished`, which ends the watch, `_send_tuning_finished`;
        a send that fails is the next runs' to make, from the notice recorded). One still running is
        checked again `TUNING_CHECK_INTERVAL` later; one that no longer exists is not watched any
        more, with nothing to tell (as for its pools: `_tuner_gone`); one the role may not describe
        raises `ReadNotPermittedError`: reported, and checked again at the next run, as a training job
        the role may not read. `tuners`, `read`: the tuning jobs this run's tuner path has described,
        and those it tried to (it tells the owners of one that has ended, which ends its watch, and
        reports one it could not read on its pools): not described again."""
        arn = watch.tuning_job_arn
        if arn in read:
            if arn not in tuners:  # its describe failed: reported on its pools
                return
            described = tuners[arn][1]
        else:
            recorded = self.registry.tuning_finished(arn)
            self.metrics.count("TuningJobsChecked")
            described = self._describe_tuning_job(tuning)
            if recorded is not None and not recorded.of_an_earlier_sweep(_tuning_created(described)):
                # recorded, and the invocation ended before the watch did (a notice left unsent is
                # sent from the registry's unsent ones); a sweep started again under the name after
                # an earlier one's notice is watched as a tuning job of its own
                self.registry.unwatch_tuning_job(arn)
                return
        status = _tuning_status_of(described)
        if status in TUNER_RUNNING_STATUSES:
            self.registry.check_tuning_job_at(arn, now + TUNING_CHECK_INTERVAL)
            return
        if described is None or status is None:  # no longer exists
            self.registry.unwatch_tuning_job(arn)
            return
        if arn in read:  # ended: the tuner path told its owners, which ended the watch
            return
        best, created = described.get("BestTrainingJob"), _tuning_created(described)
        notice = self._record_tuning_finished(arn, tuning, status, best, None, created=created)
        if notice is None:  # no trial of it holds or held a pool any more: nobody to tell
            self.registry.unwatch_tuning_job(arn)
            return
        self._send_tuning_finished(notice)

    def _record_tuning_finished(
        self,
        arn: str,
        tuning_job_name: str,
        status: str,
        best_training_job: dict[str, Any] | None,
        owned: list[PoolRecord] | None,
        *,
        created: datetime | None,
    ) -> TuningNotice | None:
        """The notice that the tuning job finished, recorded once per tuning job (whether its event,
        a duplicate of it, a look at one of its pools or the reconciler sees the end first): what it
        says and to whom, so that it can be sent again as it was (`_send_tuning_finished`), without
        its pools. `owned`: its pools, as the caller read them (None: read here, once no notice is
        found recorded). Returns the one recorded (this one, or an earlier one); None when no trial of
        the tuning job ever held a pool warmpool knew: nobody to tell about it. `created`: when the
        tuning job was created; a notice recorded of an earlier sweep of its name (deleted, and the
        name used again: the same ARN) is not this one's, and is written over, once sent."""
        recorded = self.registry.tuning_finished(arn)
        if recorded is not None and not recorded.of_an_earlier_sweep(created):
            return recorded
        if recorded is not None and not recorded.sent:
            self._send_tuning_finished(recorded)  # the earlier sweep's, still owed: said before it goes
        if owned is None:
            owned = self.registry.pools_of_tuning_job(arn)
        owned = _of_the_sweep(owned, created)
        best = (best_training_job or {}).get("TrainingJobName")
        metric = (best_training_job or {}).get("FinalHyperParameterTuningJobObjectiveMetric") or {}
        said = {
            "tuning_job_name": tuning_job_name,
            "tuning_job_status": status,
            "best_training_job": best,
            "objective_metric": metric.get("MetricName"),
            "objective_value": metric.get("Value"),
        }
        kind, severity = NotificationKind.TUNING_JOB_FINISHED, Severity.INFO
        now = self.clock.now()
        # on the pool of its best trial, else its latest
        target = next((r for r in owned if r.pool.job_name == best), owned[-1] if owned else None)
        if target is not None:
            notification = self._notification(target, kind, severity, extra=said)
        else:
            # Every pool its trials held is another job's now (a trial of another tuning job took it):
            # its owners are told all the same, as its trials' tags name them (the tuner index keeps
            # the trial each pool last held of it). The notice is the tuning job's, not a pool's.
            trials = self.registry.tuning_trials(arn)
            if not trials:
                return None
            # its best trial, else any: a tuning job's tags are its trials' (SageMaker copies them)
            trial = next((t for t in trials if t.job_name == best), trials[-1])
            facts: dict[str, Any] = {
                "pool_id": None,
                "job_name": trial.job_name,
                "team": trial.team,
                "owner": trial.owner,
                "tuning_job_arn": arn,
                **said,
            }
            notification = Notification(
                kind,
                severity,
                f"tuning-{tuning_job_name}",
                trial.job_name or "",
                int(now.timestamp()),  # the tuning job's notice once: the time it is first recorded
                trial.team,
                trial.owner,
                facts,
            )
        return self.registry.record_tuning_finished(arn, notification, now, created, replaces=recorded)

    def _send_tuning_finished(self, notice: TuningNotice) -> None:
        """Send the notice as recorded, then mark it sent. Sent again after a send that did go out
        (its invocation ended before marking it: a crash, a timeout), it is the same notification, the
        same `pool_id#kind#version`, which the notifier sends once."""
        if notice.sent or notice.notification is None:
            return
        from warmpool.domain.messages import listed_sweep  # as `_digests` imports listed_digest

        # queued as its SNS copy lists it: a sweep of 300 pools with their reasons passed SQS's 256 KiB
        self._send(listed_sweep(self._with_sweep_pools(notice)))
        self.registry.mark_tuning_finished_sent(notice.tuning_job_arn)
        self.tuning_notices_this_run.append(_tuning_name_of(notice))

    def _with_sweep_pools(self, notice: TuningNotice) -> Notification:
        """The notice with what became of each pool of the sweep that warmpool decided once it ended
        (`sweep_pools`: kept warm until when, or released, by which rule and why), as the registry
        holds them when it is sent: the same list whichever sends it (the tuning job's event, its
        retry, the reconciler's run for one left unsent). A pool still left to the tuning job (the
        notice is sent before its pools are handed back, on the paths where the event was lost) is
        not listed: its own decision says what became of it, in Slack too."""
        notification = notice.notification
        assert notification is not None
        arn = notice.tuning_job_arn
        if notification.facts.get("pool_id") is None and notification.pool_id.startswith("tuning-"):
            return notification  # no pool is the tuning job's any more
        pools: list[dict[str, Any]] = []
        for record in _of_the_sweep(self.registry.pools_of_tuning_job(arn), notice.tuning_created_at):
            decision = record.last_decision
            if record.tuner_owned or decision is None:
                continue
            pool = record.pool
            available = pool.status is WarmPoolStatus.AVAILABLE
            pools.append(
                {
                    "pool_id": pool.pool_id,
                    "job_name": pool.job_name,
                    "instance_type": pool.instance_type,
                    "instance_count": pool.instance_count,
                    "warm_pool_status": pool.status.value,
                    "warm_until": pool.expires_at.isoformat() if available and pool.expires_at else None,
                    "action": decision.action.value,
                    "dry_run": decision.dry_run,
                    "rule": decision.rule,
                    # cut: the pool's own message (SNS) has them whole; a sweep of many pools stays
                    # within one Slack message and SNS's 256 KiB
                    "reasons": [_cut(r, SWEEP_REASON_LIMIT) for r in decision.reasons],
                }
            )
        if not pools:
            return notification
        return replace(notification, facts={**notification.facts, "sweep_pools": pools})

    def _send_listed_tuning_notice(self, notice: TuningNotice) -> None:
        """A notice the reconciler listed as unsent (`unsent_tuning_notices`, an index that lags its
        writes): read again first, as it may have been sent since."""
        self._send_tuning_finished(self.registry.tuning_finished(notice.tuning_job_arn) or notice)

    def _tell_tuning_finished_unseen(
        self, arn: str, tuning_job_name: str, described: dict[str, Any], status: str
    ) -> None:
        """A look at one of its pools found the tuning job ended, its event not seen (lost, or yet to
        come): the notice is recorded before the pool is handed back, by which the reconciler's tuner
        path would never see the tuning job again. Still to send, it is sent once the look has given
        back the sweep's pools (`_refresh`, `_end_sweep_found_unseen`), the decisions of this look
        told in Slack in it. A send that fails is not this look's failure (a trial's event, a step, a
        person's request): the reconciler's next run sends the notice."""
        best = described.get("BestTrainingJob")
        created = _tuning_created(described)
        notice = self._record_tuning_finished(arn, tuning_job_name, status, best, None, created=created)
        if notice is None:
            return
        if not notice.sent and notice.notification is not None and getattr(self._sweep, "name", None) is None:
            self._sweep.name = tuning_job_name
            self._sweep.ending = (notice, _tuner_gone(tuning_job_name, status))
            return
        try:
            self._send_tuning_finished(notice)
        except Exception:  # recorded: sent by the reconciler (`UNSENT_NOTICE_GRACE`)
            self.metrics.count("TuningNoticesDeferred")

    def _reschedule(self, record: PoolRecord) -> None:
        """The pool's next look is planned but its schedule is gone: make it again."""
        now = self.clock.now()
        at = record.next_check_at or now
        purpose = _purpose_of(record.schedule_name or "")
        fresh = self.scheduler.schedule(
            pool_id=record.pool.pool_id,
            job_name=record.pool.job_name,
            step=record.pool.steps_taken,
            at=max(at, now + timedelta(seconds=60)),
            purpose=purpose,
        )
        self._save(replace(record, schedule_name=fresh))

    # ------------------------------------------------------------------ the core
    def _refresh(
        self,
        job_name: str,
        trigger: Trigger,
        *,
        request: UserRequest | None = None,
        final_attempt: bool = False,
        tuner_ended: str | None = None,
        tags: dict[str, str] | None = None,
        read_again: bool = False,
        release_told: bool = False,
    ) -> Outcome:
        """A look at the pool of `job_name` (`_look`). One that found its tuning job ended unseen
        (`_tell_tuning_finished_unseen`) then gives back the sweep's other pools and sends the notice
        that it finished, as the tuning job's event would have (`_end_sweep_found_unseen`)."""
        depth = getattr(self._sweep, "depth", 0)
        self._sweep.depth = depth + 1
        ending: tuple[TuningNotice, str] | None = None
        try:
            outcome = self._look(
                job_name,
                trigger,
                request=request,
                final_attempt=final_attempt,
                tuner_ended=tuner_ended,
                tags=tags,
                read_again=read_again,
                release_told=release_told,
            )
        finally:
            self._sweep.depth = depth
            if depth == 0:  # the look that found it, not one it made (the pool's successor, say)
                ending = getattr(self._sweep, "ending", None)
                if ending is not None:
                    self._sweep.ending = None
                    self._sweep.name = None
        if ending is not None:
            self._end_sweep_found_unseen(*ending, seen=job_name)
        return outcome

    def _end_sweep_found_unseen(self, notice: TuningNotice, ended: str, *, seen: str) -> None:
        """A look at the pool of `seen` found its tuning job ended, its event not seen (lost, or yet
        to come), and gave that pool back: the sweep's other pools still left to it are given back
        too, their decisions told in Slack in the notice that the sweep finished, sent last, which
        lists them all (`_with_sweep_pools`), as the tuning job's event does; not a message per pool
        as later looks found them. A pool that cannot be given back now is left to the tuner, and
        the reconciler's next run gives it back; a send that fails is the reconciler's to make."""
        self._sweep.name = _tuning_name_of(notice)
        try:
            for record in _of_the_sweep(
                self.registry.pools_of_tuning_job(notice.tuning_job_arn), notice.tuning_created_at
            ):
                if not record.tuner_owned or record.pool.job_name == seen:
                    continue
                try:
                    self._refresh(record.pool.job_name, Trigger.RECONCILE, tuner_ended=ended)
                except Exception as exc:  # left to the tuner: the reconciler's (above), and said
                    self.sweep_pools_deferred_this_run.append(f"{record.pool.job_name}: {exc}")
                    self.metrics.count("SweepPoolsDeferred")
        finally:
            self._sweep.name = None
        try:
            self._send_tuning_finished(notice)
        except Exception:  # recorded: sent by the reconciler (`UNSENT_NOTICE_GRACE`)
            self.metrics.count("TuningNoticesDeferred")

    def _look(
        self,
        job_name: str,
        trigger: Trigger,
        *,
        request: UserRequest | None = None,
        final_attempt: bool = False,
        tuner_ended: str | None = None,
        tags: dict[str, str] | None = None,
        read_again: bool = False,
        release_told: bool = False,
    ) -> Outcome:
        """`tuner_ended`: why the pool's tuning job is known to have ended (its pool is not the
        tuner's any more). `read_again`: this is the second look after SageMaker said the pool had
        moved on (a refusal now is one). `release_told`: this invocation released the pool and saved
        or sent its notice itself (`_save_released`): its release is not an unrecorded one
        (`_unrecorded_release`)."""
        now = self.clock.now()
        # who asked, on every entry a person's request writes: one that finds the pool gone or its job
        # deleted was recorded without them, and the trail did not say who had pressed
        asked = request.audit_details() if request is not None else {}
        # and, on an entry that is no decision (the pool found InUse, gone, its job deleted), what they
        # asked, as `request-unauthorized` says it: "recorded, asked by bob via cli" did not say that
        # bob had asked to release the pool, nor that nothing came of it
        said = {"kind": request.kind, "minutes": request.minutes, **asked} if request is not None else {}
        pool_id = self.registry.pool_id_for_job(job_name)
        known = self.registry.get(pool_id) if pool_id else None
        if known is not None and (known.unannounced or known.unaudited is not None):
            # a failure after its last decision was saved; an update intended since is still read here
            known = replace(self._announce_saved(known), intent=known.intent)
        if known is not None and known.last_decision is not None:
            self._announce_released_for(known.last_decision)
        if known is not None and known.pool.job_name != job_name and not _successor_of(known, job_name):
            # An earlier job of the lineage (a late or redelivered event): its pool has moved on to a
            # later job, whose record must not be rebuilt from this one.
            note = f"the pool moved on to {known.pool.job_name}"
            return Outcome(job_name, pool_id, "ignored", notes=(note,))
        try:
            job = self._describe_with_pool_status(job_name, final_attempt=final_attempt)
        except JobNotFoundError:
            live = (WarmPoolStatus.AVAILABLE, WarmPoolStatus.IN_USE)
            if known is not None and known.pool.job_name == job_name and known.pool.status in live:
                self._record_job_gone(known, trigger, said, now)
            elif pool_id is not None:
                self.registry.audit(
                    AuditEntry(now, pool_id, job_name, "job-missing", {"trigger": trigger.value, **said})
                )
            return Outcome(job_name, pool_id, "job-missing")
        warm = job.get("WarmPoolStatus")
        reused_name = known is not None and _name_reused(known, job)
        if known is not None and reused_name:
            details = {"trigger": trigger.value, "lineage": list(known.pool.lineage), **said}
            self._audit(known, "name-reused", details)
            known = _new_job_of_the_name(known)
        if known is not None and not reused_name:
            job["Tags"] = dict(known.pool.tags)
        else:
            job["Tags"] = tags if tags else self.sagemaker.list_tags(str(job.get("TrainingJobArn", "")))
        if warm is None:
            return self._no_pool(job, pool_id)

        previous = known
        if previous is None:
            previous = self._adopt_lineage(job)
        record = self._record_from_job(job, previous)
        arn = record.pool.tuning_job_arn
        if tuner_ended is None and arn:
            tuning = tuning_job_name(arn, record.pool.job_name)
            described = self._describe_tuning_job(tuning)
            status = _tuning_status_of(described)
            if status in TUNER_RUNNING_STATUSES:
                record = replace(record, tuner_owned=True)
            elif record.tuner_owned:  # its tuning job ended unseen: the pool is the engine's again
                tuner_ended = _tuner_gone(tuning, status)
                if described is not None and status is not None:  # its owners hear that it finished
                    self._tell_tuning_finished_unseen(arn, tuning, described, status)
        if tuner_ended is not None:
            if record.tuner_owned:
                self._audit(record, "tuner-released", {"trigger": trigger.value, "reason": tuner_ended})
            record = replace(record, tuner_owned=False)

        same_job = previous is not None and previous.pool.job_name == record.pool.job_name
        set_outside = (
            previous is not None and same_job and record.pool.outside_set_at != previous.pool.outside_set_at
        )
        if previous is not None and set_outside:
            self._audit_set_outside(record, previous, trigger)
        changed = not same_job or previous is None or _state_of(previous) != _state_of(record)
        # A pool saved before its first decision was carried out (`_record_before_acting`), whose update
        # then failed (SageMaker throttled): its look is due and none is scheduled. The event's retry
        # decides it, as the first try would have; it was taken for a duplicate, the pool left on its
        # job's own keep-alive until the reconciler's next run.
        look_due = (
            previous is not None
            and same_job
            and previous.pool.status is WarmPoolStatus.AVAILABLE
            and previous.schedule_name is None
            and previous.next_check_at is not None
            and previous.next_check_at <= now
        )
        # Nothing new: the event again, or a look (its step, the reconciler) at a pool recorded as it is
        # and not Available (nothing to decide). Saved again, each wrote the same `recorded` entry: a
        # step of a pool recorded Reused, whose join failed (the next job's describe throttled), wrote
        # `recorded state=Reused` at each of its retries. A person's request is recorded with who asked.
        settled = not changed and tuner_ended is None and not look_due
        # CloudTrail's record of an UpdateTrainingJob is a look at the pool (decided as its step would
        # be) when the keep-alive was set outside warmpool; warmpool's own call, found as it was saved,
        # is nothing new
        if settled and (
            trigger is Trigger.JOB_EVENT
            or (trigger is Trigger.KEEP_ALIVE_CALL and not set_outside)
            or (trigger is not Trigger.USER and record.pool.status is not WarmPoolStatus.AVAILABLE)
        ):
            reused_by = warm.get("ReusedByJob")
            if (
                previous is not None
                and record.pool.status is WarmPoolStatus.REUSED
                and reused_by
                and self._join_lineage(previous, str(reused_by))
            ):
                # recorded Reused, but the join that followed failed: done now, and its job decided
                return self._refresh(str(reused_by), Trigger.RECONCILE)
            return Outcome(job_name, record.pool.pool_id, "unchanged")
        if record.pool.status is WarmPoolStatus.TERMINATED and (
            previous is None
            or (same_job and previous.pool.status in (WarmPoolStatus.AVAILABLE, WarmPoolStatus.IN_USE))
        ):
            seen = (
                previous.pool
                if previous is not None and previous.pool.status is WarmPoolStatus.AVAILABLE
                else None
            )
            self._record_gone_gap(job, record.pool, seen, now)

        if record.pool.status is not WarmPoolStatus.AVAILABLE or record.tuner_owned:
            if previous is not None:  # taken by the next job, gone or the tuner's: no look is due
                self._cancel_planned(previous, now, keep=None)
                record = replace(record, next_check_at=None, schedule_name=None)
            cold_start = (
                record.pool.status is WarmPoolStatus.IN_USE
                and previous is None
                and job.get("TrainingJobStatus") == "InProgress"
            )
            if cold_start:  # told before the save, after which a retry finds the job registered
                self._maybe_missed_pool(_as_saved(record).pool)
            unrecorded = (
                None
                if release_told
                else self._unrecorded_release(job, record, previous if same_job else None)
            )
            released = unrecorded[0] if unrecorded is not None else None
            ending = (
                self._ended_on_its_own(previous, record, job, same_job=same_job, now=now)
                if unrecorded is None and not release_told and previous is not None
                else None
            )
            if ending is not None and previous is not None:
                # Told of the job whose pool ended, before the save that records it, as a cold start
                # is: a retry after a failed save tells it again under the same version, which the
                # notifier sends once; told after, the retry would find the pool recorded and say nothing.
                about = replace(previous, pool=replace(previous.pool, version=record.pool.version))
                self._notify(_as_saved(about), NotificationKind.POOL_ENDED, Severity.INFO, extra=ending)
            entry = None
            if unrecorded is not None:  # saved with its audit entry, then announced, as a decision is
                unannounced = (NotificationKind.RELEASED.value,)
                # who asked for it (a person's release), as the update's entry or intent says: its
                # notice names them
                asker = _who_of(unrecorded[1]) if unrecorded[0].rule.startswith("request.") else None
                record = replace(
                    record, last_decision=unrecorded[0], unannounced=unannounced, unannounced_by=asker
                )
                details = {"trigger": trigger.value, **unrecorded[0].to_json(), **unrecorded[1]}
                entry = self._decision_entry(record, details)
            saved = self._save(record, audit=entry)
            note = "tuner-owned" if saved.tuner_owned else saved.pool.status.value
            outside = self._ended_on_a_setting_of_others(saved, previous if same_job else None)
            self._audit(saved, "recorded", {"trigger": trigger.value, "state": note, **outside, **said})
            if released is not None:
                saved = self._announce_saved(saved)
            if cold_start:
                # A cold start tells how long the latest released pool of this key would have waited.
                self.registry.observe_cold_start(
                    saved.pool.match_key.digest(), self._history_team(saved.pool), now, saved.pool.job_name
                )
            reused_by = warm.get("ReusedByJob")
            if saved.pool.status is WarmPoolStatus.REUSED and reused_by and trigger is not Trigger.USER:
                # The successor inherits the lineage now, even if its own events were lost.
                joined = self._join_lineage(saved, str(reused_by))
                # A joined successor is decided afresh: its planned look carried its old pool id.
                return self._refresh(str(reused_by), Trigger.RECONCILE if joined else trigger)
            return Outcome(job_name, saved.pool.pool_id, "recorded", notes=(note,))

        newly_available = (
            not same_job
            or previous is None
            or previous.pool.status is not WarmPoolStatus.AVAILABLE
            # saved before its first decision, which was never carried out: its owner hears "ready"
            or (look_due and previous.last_decision is None)
        )
        decision, fleet = self._decide(record, trigger, request, now)
        # The pool's own decision: what its record, its trail's decision and its update name. A person's
        # extension refused by their `max_extend_minutes` is answered naming that limit (`decision`), but
        # the plan that changed the pool all the same is the rule of the change; the refusal is an
        # entry of its own (`request-refused`). Saved naming the refusal, the record and the trail said
        # the limit that refused the request had shortened (or extended, or released) the pool.
        own = decision.as_the_pools()
        if not same_job and _changes_sagemaker(decision):
            record = self._record_before_acting(record, now)
        planned_before = record.pool.horizon_at
        try:
            record, refusal = self._execute(record, own, now, moved_on_refuses=read_again, asked=asked)
            refused = refusal is not None
        except PoolMovedOnError:
            # Taken by the next job (or ended) since it was read: an ordinary race, not an error. The
            # job is read again and recorded as it now is.
            self.metrics.count("PoolMovedOn")
            return self._refresh(
                job_name,
                trigger,
                request=request,
                final_attempt=final_attempt,
                tuner_ended=tuner_ended,
                tags=tags,
                read_again=True,
            )
        if decision.dry_run and request is not None:
            # A dry run answers a person and changes nothing, not even the plan on record: the asked
            # time kept as the pool's wish (unlike a promise, nothing keeps it) was undone by the next
            # look, announced as the pool "would be kept warm longer" (or shorter) than the plan it had.
            record = replace(record, pool=replace(record.pool, horizon_at=planned_before))
        if decision.promised_until is not None and not refused and not decision.dry_run:
            # The person's promise outlives this decision (also when the plan already covered it: a
            # later step under a shorter plan must not let the pool go before it), and reverts on its own.
            # A dry run's is not recorded: nobody was promised anything (the answer says so), and kept,
            # it would book budget for warm time nobody has, shield the pool from the limits, and, once
            # dry_run is switched off, have the engine keep the pool until then, over every rule.
            record = replace(record, pool=replace(record.pool, override_until=decision.promised_until))
        if decision.action in (Action.SHORTEN, Action.RELEASE) and not decision.dry_run and not refused:
            self.reductions_this_run += 1
        # What was not carried out (refused, or a dry run) leaves the pool's own expiry to watch, unless
        # the role may not make the update: then it is tried again soon (`_retry_refused_at`); a dry run
        # looks again where a real run could still act on the pool (`_dry_run_looks_again_at`).
        if refused:
            planned = replace(decision, next_check_at=self._retry_refused_at(record, refusal, now))
        elif _left_undone_by_a_dry_run(decision):
            planned = replace(decision, next_check_at=self._dry_run_looks_again_at(record, decision, now))
        else:
            planned = decision
        record = self._plan_next_check(record, planned, now)
        done = _refused(own, record.last_error or "") if refused else own
        answer = _refused(decision, record.last_error or "") if refused else decision
        if record.pool.status is WarmPoolStatus.TERMINATED:
            # before the save that records it gone: if that write fails, the retry records the gap (once)
            self._record_gap(record.pool, now, reused=False)
        old_horizon = previous.pool.horizon_at if same_job and previous is not None else None
        # What SageMaker refused did not happen: nothing to announce (the audit has it). The rest is
        # saved with the decision as unannounced, then sent, then cleared: a retry after a failure in
        # between finds the pool up to date and sends what is still unannounced (`_announce_saved`).
        kinds, warned = (
            ((), ())
            if refused
            else self._announcements(
                record, decision, newly_available, old_horizon, now, undoes_outside=set_outside
            )
        )
        if not refused and record.pool.status is WarmPoolStatus.AVAILABLE:
            warned = (*warned, *self._warn_of_quota(record, decision, fleet, now))
        # the once-per-job warnings are remembered with the pool
        made = {"decision_id": record.intent["decision_id"]} if record.intent else {}
        leaves = request is not None and _leaves_the_plan(decision, request)
        # (a refusal that changed nothing is the decision's entry itself, with the rule that refused)
        entries = [
            self._decision_entry(
                record, {"trigger": trigger.value, **(decision if leaves else own).to_json(), **asked, **made}
            )
        ]
        if request is not None and decision.plan_rule is not None and not leaves:
            entries.append(self._refusal_entry(record, request, decision, {**asked, **made}))
        # a dry run's pools a real run would release to make room: said in their trails with this save,
        # those that fit in its transaction (a limit may name a hundred pools: SAVE_AUDIT_ROOM); the
        # others right after it (should the invocation end before, the deciding pool's next decision
        # writes those still unsaid: `_would_release_entries` reads each pool's trail)
        would = self._would_release_entries(record, own)
        room = max(0, SAVE_AUDIT_ROOM - len(entries))
        entries, after_the_save = [*entries, *would[:room]], would[room:]
        # A person's extension refused, and nothing changed: the pool's decision stands as it was (what
        # `pools list` and `show` give as its last decision); the refusal is the trail's (this entry,
        # with who asked) and the person's answer. Saved as the pool's, the list said the pool was kept
        # by the limit that refused the request (`keep (defaults.overrides.max_extend_minutes)`).
        standing = (
            previous.last_decision
            if request is not None
            and same_job
            and previous is not None
            and previous.last_decision is not None
            and leaves
            else done
        )
        try:
            saved = self._save(
                replace(
                    record,
                    last_decision=standing,
                    notified=(*record.notified, *warned),
                    unannounced=kinds,
                    unannounced_by=_who_of(asked),
                ),
                audit=entries,
            )
        except ConcurrentUpdateError:
            if refused or not _changes_sagemaker(decision):
                raise  # nothing was done outside the registry: the retry decides afresh
            if decision.keep_alive_seconds == 0:
                return self._released_in_a_race(job_name, record.pool.pool_id, done)
            self._restore_expiry(record.pool.pool_id, job_name, record.pool.expires_at)
            raise
        for entry in after_the_save:
            self.registry.audit(entry)
        if request is not None:
            self._answers.saved = answer
        self.metrics.count(f"Decisions{decision.action.value.capitalize()}")
        if refused:
            return Outcome(job_name, saved.pool.pool_id, "refused", answer)
        saved = self._announce_saved(saved)
        held = [other for other in own.release_pool_ids if self._release_other(other, own)]
        soon = now + timedelta(minutes=RETRY_CAPPED_MINUTES)
        if held and (saved.next_check_at is None or saved.next_check_at > soon):
            # The limit is enforced by a later run: the deciding pool is looked at again soon, as a
            # reduction held back by max_reductions_per_run is.
            saved = self._save(self._plan_next_check(saved, replace(decision, next_check_at=soon), now))
        return Outcome(job_name, saved.pool.pool_id, "decided", decision)

    def _record_before_acting(self, record: PoolRecord, now: datetime) -> PoolRecord:
        """Save a pool the registry has no record of for this job (the reconciler found it Available in
        SageMaker's listing, its events lost; or its job took a pool unseen) as it is, before its
        keep-alive is changed. A write after the update that fails (the save of the decision, its
        audit entry, its gap) then leaves a record a later look finds: the pool Available in the
        registry and gone from SageMaker's listing, which the reconciler's next run refreshes, and
        records as the release it was (`_unrecorded_release`: audited, its owner told). Without it, a
        pool the reconciler released, whose save then failed, was in no listing any run reads (SageMaker
        no longer has it Available, the registry never had it): released with no record, no decision
        in the trail and no notice. Saved with a look due now: should the invocation end before the
        update, the reconciler's next run decides the pool afresh, by the policy then (nothing is done
        in SageMaker before this save succeeds). Its version is the one the decision's save expects."""
        return self._save(replace(record, next_check_at=now, schedule_name=None))

    def _record_job_gone(
        self, known: PoolRecord, trigger: Trigger, asked: dict[str, Any], now: datetime
    ) -> None:
        """The job of a pool the registry holds Available or InUse no longer exists in SageMaker: it was
        deleted (DeleteTrainingJob, which SageMaker allows only once the job has ended and keeps no
        Available pool: its pool had expired, or was released, before warmpool looked). Its pool is
        gone: recorded so, with its idle gap (until its expiry or its maximum lifetime, or now,
        whichever came first: SageMaker's billed time went with the job), and its planned look
        cancelled. Left Available, it counted warm for good: its team's
        `max_warm_instances` refused every new pool, its idle time grew on the budget, and every
        reconciler run audited `job-missing` again."""
        self._cancel_planned(known, now, keep=None)
        if known.pool.status is WarmPoolStatus.AVAILABLE:
            ended_at = self._idle_until(known.pool, now)
            self._record_gap(known.pool, ended_at, reused=False)
            # Its messages' buttons could only answer that the pool was gone: told (to nobody: it
            # updates them), before the save that records it, as a pool ended on its own is (a retry
            # after a failed save tells it again under the same version). When the job was deleted
            # SageMaker no longer says: warmpool found it so now, and its pool ended by `ended_at`.
            ending = {"ended": "deleted", "ended_at": ended_at.isoformat(), "found_at": now.isoformat()}
            self._notify(_as_saved(known), NotificationKind.POOL_ENDED, Severity.INFO, extra=ending)
        gone = replace(
            known,
            pool=replace(known.pool, status=WarmPoolStatus.TERMINATED),
            next_check_at=None,
            schedule_name=None,
        )
        saved = self._save(gone)
        details = {
            "trigger": trigger.value,
            "state": WarmPoolStatus.TERMINATED.value,
            "reason": "SageMaker has no training job of that name (deleted, once its pool had ended): "
            "recorded gone",
            **asked,
        }
        self._audit(saved, "job-missing", details)
        self.metrics.count("JobsMissing")

    def _audit_set_outside(self, record: PoolRecord, previous: PoolRecord, trigger: Trigger) -> None:
        """The trail says that someone set the pool's keep-alive outside warmpool, what it was and
        until when SageMaker keeps the pool on it (`_keep_alive_as_set`): the decisions that follow
        read it as the job's wish, and `pools show` says why."""
        pool = record.pool
        if pool.outside_set_at is None or pool.expires_at is None:
            return
        details = {
            "trigger": trigger.value,
            "seconds": pool.keep_alive_seconds,
            "was_seconds": previous.pool.keep_alive_seconds,
            "set_at": pool.outside_set_at.isoformat(),
            "expires_at": pool.expires_at.isoformat(),
        }
        self._audit(record, "keep-alive-set-outside", details)

    def _unrecorded_release(
        self, job: dict[str, Any], record: PoolRecord, previous: PoolRecord | None
    ) -> tuple[Decision, dict[str, Any]] | None:
        """The release of a pool found Terminated by a keep-alive of 0 that no save recorded: the
        invocation that released it failed after `UpdateTrainingJob` and before its save (the update's
        audit entry, the idle gap or the save itself failed, or it timed out). Its retry (the event or
        step delivered again, the reconciler's next run) finds the pool gone, and recorded only that:
        the owner was never told, and the trail had no decision. So it is recorded as the release it
        was, its `released` saved as unannounced, then sent, as that invocation would have. Its rule and
        reasons are those of the update's own audit entry (`keep-alive-updated`, written right after the
        update: one Query of the pool's trail, in this case only), or say that none was kept when that
        write failed too. Nothing else leaves a keep-alive of 0 (an expiry, the maximum lifetime, a
        failed cluster keep the keep-alive the pool had); one set outside warmpool is told the same way.
        `previous`: the pool's record of this job (None: none); one recorded gone, or holding its
        release already (a pool released to make room: `_save_released`), has nothing to record. With
        the decision, what its entry adds from the update's: who asked, and the decision's id. An
        invocation that ended before the update's entry left its intent with the pool
        (`_carried_out`): the entry is written from it, and the release is warmpool's, not
        `sagemaker.released`."""
        keep_alive = int((job.get("ResourceConfig") or {}).get("KeepAlivePeriodInSeconds") or 0)
        if record.pool.status is not WarmPoolStatus.TERMINATED or keep_alive != 0:
            return None
        if previous is not None and (
            previous.pool.status in (WarmPoolStatus.TERMINATED, WarmPoolStatus.REUSED)
            or _releases(previous.last_decision)
        ):
            return None
        name = record.pool.job_name
        trail = self.registry.audit_trail(record.pool.pool_id)
        updates = [
            entry
            for entry in trail
            if entry.what == "keep-alive-updated"
            and entry.job_name == name
            and entry.details.get("seconds") == 0
        ]
        intended = self._carried_out(job, previous, 0)
        if intended is not None:  # warmpool's own release, whose entry the invocation did not write
            updates = [self._record_carried_out(record.pool, intended, trail)]
        extra: dict[str, Any] = {}
        if updates:
            rule = str(updates[-1].details.get("rule") or "sagemaker.released")
            reasons = tuple(str(reason) for reason in updates[-1].details.get("reasons") or ())
            extra = {k: v for k, v in updates[-1].details.items() if k in _WHO_ASKED or k == "decision_id"}
        else:
            rule = "sagemaker.released"
            reasons = (
                "SageMaker has the pool released (keep-alive 0) and no record of the decision was kept: "
                "the writes after its update failed, or it was released outside warmpool",
            )
        released = Decision(
            action=Action.RELEASE,
            keep_alive_seconds=0,
            horizon_seconds=0,
            next_check_at=None,
            rule=rule,
            reasons=reasons,
        )
        return released, extra

    def _would_release_entries(self, deciding: PoolRecord, decision: Decision) -> list[AuditEntry]:
        """Under a dry run, the entry in the trail of each pool a real run would release to make room
        for the deciding pool (docs/policy.md, "Dry run"): only the deciding pool's decision named it,
        in a reason, and a team lead reading the other pool's trail saw nothing. Written in the save of
        the decision that names it (`_save`: all land, or none), once per pool and deciding job: a pool
        whose trail says it already for that job (an earlier step of the deciding pool) gets none
        again. Written after the save, an invocation that ended in between lost it (the retry found
        the decision saved and decided nothing), and every step that named the pool wrote it again.
        One Query of the other pool's trail each; nothing is released, nor anything else written."""
        job = deciding.pool.job_name
        entries: list[AuditEntry] = []
        for pool_id in decision.would_release_pool_ids:
            other = self.registry.get(pool_id)
            if other is None:
                continue
            said = any(
                entry.what == "would-release-for-limit"
                and entry.job_name == other.pool.job_name
                and entry.details.get("for_job") == job
                for entry in self.registry.audit_trail(pool_id)
            )
            if said:
                continue
            details = {
                "action": Action.RELEASE.value,
                "rule": decision.rule,
                "for_job": job,
                "for_pool": deciding.pool.pool_id,
                "reasons": list(decision.reasons),
                "reason": f"dry run: a real run would have released it to make room for {job}; it stays "
                "warm on the keep-alive it has",
                "dry_run": True,
                "policy_version": self._policy_version(),
            }
            entries.append(
                AuditEntry(self.clock.now(), pool_id, other.pool.job_name, "would-release-for-limit", details)
            )
        return entries

    def _release_other(self, pool_id: str, because: Decision) -> bool:
        """A limit rule freed room by releasing another pool of the team. True when the release was
        held back by `max_reductions_per_run` (a later run is to try again)."""
        record = self.registry.get(pool_id)
        if record is None or record.pool.status is not WarmPoolStatus.AVAILABLE:
            return False
        cap = self._current_policy().max_reductions_per_run
        if self.reductions_this_run >= cap:
            # The cap holds for these releases too: the deciding pool's next look tries again.
            details = {"rule": "max_reductions_per_run", "for": because.rule, "cap": cap}
            self._audit(record, "release-held-back", details)
            return True
        details = {
            "rule": because.rule,
            "reasons": list(because.reasons),
            "policy_version": self._policy_version(),
            "decision_id": uuid.uuid4().hex[:16],
        }
        # as a decision's own update: should the invocation end before the entry, the pool's next look
        # records the release as this limit's (`_carried_out`), not as one made outside warmpool
        now = self.clock.now()
        intent = {
            **details,
            "seconds": 0,
            "action": Action.RELEASE.value,
            "expires_at": now.isoformat(),
            "at": now.isoformat(),
            "job_name": record.pool.job_name,
            "what": "released-for-limit",
        }
        try:
            self.registry.intend(record, intent)
        except ConcurrentUpdateError:
            return (
                True  # written meanwhile (its own look, its event): the deciding pool's next look tries again
            )
        try:
            self.sagemaker.update_keep_alive(record.pool.job_name, 0)
        except PoolMovedOnError:
            return False  # already gone: the room is free anyway
        except UpdateRefusedError as exc:
            self._record_refusal(record, exc)
            return False
        self.reductions_this_run += 1
        self._audit(record, "released-for-limit", details)
        # Its owner hears it as a pool hears its own decision: saved with the pool as unannounced, then
        # sent (by the refresh below, first thing), then cleared. The refresh then records the pool
        # Terminated. A failure in between leaves it unannounced: the deciding pool's retry sends it
        # (`_announce_released_for`), and so would the released pool's own next look or the reconciler,
        # under the same version: said once.
        released = Decision(
            action=Action.RELEASE,
            keep_alive_seconds=0,
            horizon_seconds=0,
            next_check_at=None,
            rule=because.rule,
            reasons=because.reasons,
        )
        self._save_released(record, released)
        self._refresh(record.pool.job_name, Trigger.RECONCILE, release_told=True)
        return False

    def _save_released(self, record: PoolRecord, released: Decision) -> None:
        """Save `released` with the pool as unannounced (`_release_other`). SageMaker has released the
        pool already: a write of the pool by another invocation since `record` was read (its own
        scheduled look, its event) must not lose the notice. Nothing else says it (the deciding pool's
        retry finds its event unchanged), so the pool is read again and the notice added to what it
        holds; a pool still changing under it after that is told directly (said twice at worst, never
        not at all). One the other invocation recorded released already (it found the pool gone with
        a keep-alive of 0 before this one's save: `_unrecorded_release`) was told with that record."""
        kind = NotificationKind.RELEASED
        for _ in range(SAVE_RELEASED_ATTEMPTS):
            if _recorded_released(record):
                return
            unannounced = tuple(dict.fromkeys((*record.unannounced, kind.value)))
            try:
                # released to make room, which no person asked for
                self._save(
                    replace(record, last_decision=released, unannounced=unannounced, unannounced_by=None)
                )
                return
            except ConcurrentUpdateError:
                fresh = self.registry.get(record.pool.pool_id)
                if fresh is None:
                    break
                record = fresh
        self._notify(record, kind, Severity.INFO, released)

    def _released_in_a_race(self, job_name: str, pool_id: str, released: Decision) -> Outcome:
        """SageMaker has released the pool, but another invocation saved it after this one read it (a
        person's request, its step, its event): the release stands, it cannot be undone. Its notice
        must not be lost with the save that failed: it is saved onto the pool as the other left it, as
        a limit's release of another pool is (`_save_released`), then sent, and the pool recorded
        Terminated."""
        fresh = self.registry.get(pool_id)
        promised = fresh.pool.override_until if fresh is not None else None
        ends = f"it ends the promise to keep it warm until {moment_text(promised)}" if promised else ""
        if promised is not None and promised > self.clock.now() and ends not in released.reasons:
            # a person's extension got in first (`rules.PersonRequest`): the release says what it undid
            released = replace(released, reasons=(*released.reasons, ends))
        if fresh is not None and fresh.pool.job_name == job_name:
            self._save_released(fresh, released)
            self._refresh(job_name, Trigger.RECONCILE, release_told=True)
        return Outcome(job_name, pool_id, "decided", released)

    def _restore_expiry(self, pool_id: str, job_name: str, set_until: datetime | None) -> None:
        """This invocation changed the pool's keep-alive in SageMaker (to `set_until`), then lost the
        save to another invocation that had read the pool before that change: SageMaker's keep-alive
        may now be this one's, the registry the other's. Left so, a person's extension the other
        granted would end at this one's earlier expiry, while the registry (which trusts its own record
        of the expiry) says the pool is warm. So an expiry the other saved later than `set_until` is
        put back in SageMaker, and saved with the keep-alive that gives it; the caller's retry then
        decides afresh from the pool as the other left it. An earlier one is not: this one's keeps the
        pool at least as long as the registry says, and putting the other's back (a write that changed
        nothing in SageMaker: a note, a refused decision) would cut an extension to the minutes left
        before it, which the retry, after the queue's visibility timeout, may come too late to undo. A
        pool that is no longer Available, or whose saved expiry has passed, is left to its next look.
        What it puts back is saved with the pool first (its intent), and its entry lands with its save:
        an invocation that ended in between left SageMaker's keep-alive unlike the registry's and
        nothing in the trail, which the next look took for a keep-alive set outside warmpool."""
        for _ in range(RESTORE_EXPIRY_ATTEMPTS):
            fresh = self.registry.get(pool_id)
            now = self.clock.now()
            if (
                fresh is None
                or fresh.pool.job_name != job_name
                or fresh.pool.status is not WarmPoolStatus.AVAILABLE
                or fresh.pool.expires_at is None
                or (set_until is not None and fresh.pool.expires_at <= set_until)
            ):
                return
            seconds = math.ceil((fresh.pool.expires_at - now).total_seconds())
            if not 0 < seconds <= self.limits.max_step_seconds:
                return
            details = {
                "seconds": seconds,
                "expires_at": fresh.pool.expires_at.isoformat(),
                "decision_id": uuid.uuid4().hex[:16],
            }
            # Saved with the pool before the update, as a decision's intent is: should the invocation end
            # between the update and the save, the next look finds SageMaker's keep-alive set to it and
            # writes this entry (`recorded_late`), not a keep-alive set outside warmpool.
            intent = {**details, "at": now.isoformat(), "job_name": job_name, "what": "keep-alive-restored"}
            try:
                self.registry.intend(fresh, intent)
            except ConcurrentUpdateError:
                continue  # yet another write: put back what that one saved
            try:
                self.sagemaker.update_keep_alive(job_name, seconds)
            except PoolMovedOnError:
                return  # taken or released meanwhile, an ordinary race: its next look records it
            except UpdateRefusedError as exc:  # refused for another reason: recorded, and alarmed on
                self._record_refusal(fresh, exc)
                return
            restored = replace(fresh, pool=replace(fresh.pool, keep_alive_seconds=seconds))
            entry = AuditEntry(now, pool_id, job_name, "keep-alive-restored", details)
            try:
                self._save(restored, audit=entry)  # the entry lands with the save, or neither does
            except ConcurrentUpdateError:
                continue  # yet another write: put back what that one saved
            self.metrics.count("KeepAliveRestored")
            return

    def _announce_released_for(self, decision: Decision) -> None:
        """The pools `decision` released to make room, whose owners have not heard it yet (the send
        failed after SageMaker released them: `_release_other`): told now, and recorded Terminated. The
        deciding pool's retry finds them here, where its job's event is otherwise unchanged. Reads
        nothing for the decisions that released no other pool (nearly all)."""
        for pool_id in decision.release_pool_ids:
            other = self.registry.get(pool_id)
            if other is not None and other.unannounced:
                self._refresh(other.pool.job_name, Trigger.RECONCILE)

    def _record_refusal(self, record: PoolRecord, exc: UpdateRefusedError) -> None:
        """SageMaker refused a keep-alive update: counted (alarm PermanentErrors) and audited."""
        self.metrics.count("PermanentErrors")
        self._audit(record, "error", {"operation": "UpdateTrainingJob", "reason": str(exc)})

    def _describe_with_pool_status(self, job_name: str, *, final_attempt: bool) -> dict[str, Any]:
        job = self.sagemaker.describe_training_job(job_name)
        for delay in self.status_retry_delays:
            if not _pool_expected_but_missing(job):
                return job
            self.sleep(delay)
            job = self.sagemaker.describe_training_job(job_name)
        if _pool_expected_but_missing(job) and not final_attempt:
            raise WarmPoolStatusPendingError(
                f"{job_name} ended with a keep-alive but has no WarmPoolStatus yet; retrying later"
            )
        return job

    def _no_pool(self, job: dict[str, Any], pool_id: str | None) -> Outcome:
        name = str(job["TrainingJobName"])
        keep_alive = int((job.get("ResourceConfig") or {}).get("KeepAlivePeriodInSeconds") or 0)
        if job.get("TrainingJobStatus") == "InProgress" and pool_id is None:
            pool = pool_from_job(
                job,
                name,
                MatchKey.from_training_job(job),
                WarmPoolStatus.IN_USE,
                self.clock.now(),
                self._current_policy().tags,
            )
            self._maybe_missed_pool(pool)
        if keep_alive > 0 and job.get("TrainingJobStatus") in TERMINAL_JOB_STATUSES and pool_id is None:
            now = self.clock.now()
            key = MatchKey.from_training_job(job)
            pool = pool_from_job(job, name, key, WarmPoolStatus.TERMINATED, now, self._current_policy().tags)
            reason = (
                f"the job asked for a {keep_alive} s keep-alive but SageMaker kept no warm pool: "
                f"the account's warm-pool quota for {key.instance_type} is 0 or used up "
                "(or the job used spot capacity)"
            )
            # told before the save, after which a retry finds the job registered and does nothing
            record = _as_saved(PoolRecord(pool=pool))
            self._notify(record, NotificationKind.NO_WARM_POOL, Severity.WARNING, extra={"reason": reason})
            record = self._save(PoolRecord(pool=pool))
            self._audit(record, "no-warm-pool", {"reason": reason})
            self.metrics.count("NoWarmPool")
            return Outcome(name, record.pool.pool_id, "no-warm-pool", notes=(reason,))
        return Outcome(name, pool_id, "ignored", notes=("no warm pool requested",))

    def _join_lineage(self, predecessor: PoolRecord, successor_job: str, *, repair: bool = False) -> bool:
        """The successor's first events came before this pool was seen Reused, so it could not find the
        pool it took and was registered as a pool of its own: move it into this pool's lineage (its
        lifetime, its jobs, the idle gap it ended). Registered alone, it looked like a cold start, which
        uncensored a released gap of its key: that is undone first (idempotent, so a join cut short and
        done again, or repeated, leaves the history as if the events had come in order). Joined
        already: an older version's join may have left the successor's own record (`_finish_join`).
        `repair`: the reconciler's sweep found the pool unjoined (`_sweep_phantoms`)."""
        pool_id = self.registry.pool_id_for_job(successor_job)
        if pool_id is None:
            return False  # not registered yet (the refresh adopts it)
        if pool_id == predecessor.pool.pool_id:
            return self._finish_join(predecessor, successor_job)
        successor = self.registry.get(pool_id)
        if successor is None or successor.pool.pool_id != successor_job:
            return False
        cold_start_undone = self.registry.undo_cold_start(
            successor.pool.match_key.digest(),
            self._history_team(successor.pool),
            successor_job,
            self.clock.now(),
        )
        if len(successor.pool.lineage) > 1:
            return False  # a lineage of its own: not the lone pool a lost race leaves behind
        pool = predecessor.pool
        joined = replace(
            successor,
            pool=replace(
                successor.pool,
                pool_id=pool.pool_id,
                lineage=extend_lineage(pool.lineage, successor_job),
                lineage_jobs=pool.jobs_in_lineage + 1,
                lifetime_started_at=pool.lifetime_started_at or successor.pool.lifetime_started_at,
            ),
        )
        claimed_at = successor.pool.lifetime_started_at or self.clock.now()  # the successor's creation
        if pool.available_since is not None:  # before the join's writes, after which a retry finds it joined
            self._record_gap(pool, claimed_at, reused=True)
        # one write: the successor's own record cannot outlive the join (a retry finds it joined)
        self.registry.put(joined, pool.version, absorbs=successor)
        details: dict[str, Any] = {
            "by": successor_job,
            "joined": pool_id,
            "cold_start_undone": cold_start_undone,
        }
        if repair:
            details["repair"] = PHANTOM_POOLS_REPAIR
            self.metrics.count("PhantomPoolsRepaired")
        self._audit(joined, "reused", details)
        return True

    def _finish_join(self, record: PoolRecord, job_name: str) -> bool:
        """`job_name` belongs to this pool (its job index says so), but its own record may have outlived
        the join: a version before the join was one transaction wrote the joined pool, then deleted the
        successor's record, and a failure in between left that record for good, a phantom second pool
        for the one warm pool, which nothing looked at again (each event of the job goes to this pool).
        It is removed now, in the join's own write (this pool's record, as read, put again). What the
        join did before its writes (the cold start undone, the idle gap recorded and booked) was done
        then, its writes being the last thing it did: nothing is recorded twice."""
        leftover = self.registry.get(job_name)
        if (
            leftover is None
            or leftover.pool.pool_id == record.pool.pool_id
            or leftover.pool.job_name != job_name
            or not _alone(leftover.pool)
        ):
            return False  # no record of its own (or one that is not the lone pool a join took)
        saved = self.registry.put(record, record.pool.version, absorbs=leftover)
        details = {
            "phantom": leftover.pool.pool_id,
            "job": job_name,
            "phantom_state": leftover.pool.status.value,
            "phantom_version": leftover.pool.version,
        }
        self._audit(saved, "phantom-removed", details)
        self.metrics.count("PhantomPoolsRepaired")
        return True

    def _adopt_lineage(self, job: dict[str, Any]) -> PoolRecord | None:
        """A job that starts on another job's warm pool joins that pool's lineage."""
        candidate = self._predecessor(job)
        if candidate is None:
            return None
        claimed_at = _time(job, "CreationTime") or self.clock.now()
        if candidate.pool.available_since is not None:
            self._record_gap(candidate.pool, claimed_at, reused=True)
        self._audit(candidate, "reused", {"by": str(job["TrainingJobName"])})
        return candidate

    def _predecessor(self, job: dict[str, Any]) -> PoolRecord | None:
        """The pool whose warm cluster the job took (SageMaker names the job its `ReusedByJob`); None:
        a cluster of its own. Read only: joining its lineage is `_adopt_lineage`'s."""
        name = str(job["TrainingJobName"])
        digest = MatchKey.from_training_job(job).digest()
        idle = (WarmPoolStatus.AVAILABLE, WarmPoolStatus.REUSED)
        for candidate in self.registry.pools_of_key(digest):
            if candidate.pool.status not in idle or candidate.pool.job_name == name:
                continue
            try:
                predecessor = self.sagemaker.describe_training_job(candidate.pool.job_name)
            except JobNotFoundError:
                continue
            if (predecessor.get("WarmPoolStatus") or {}).get("ReusedByJob") == name:
                return candidate
        return None

    def _record_from_job(self, job: dict[str, Any], previous: PoolRecord | None) -> PoolRecord:
        now = self.clock.now()
        name = str(job["TrainingJobName"])
        key = MatchKey.from_training_job(job)
        status = WarmPoolStatus(job["WarmPoolStatus"]["Status"])
        pool = pool_from_job(job, name, key, status, now, self._current_policy().tags)
        same_job = previous is not None and previous.pool.job_name == name
        if previous is not None:
            lineage = previous.pool.lineage if same_job else extend_lineage(previous.pool.lineage, name)
            jobs = previous.pool.jobs_in_lineage + (0 if same_job else 1)
            pool = replace(
                pool,
                pool_id=previous.pool.pool_id,
                lineage=lineage,
                lineage_jobs=jobs,
                lifetime_started_at=previous.pool.lifetime_started_at or pool.lifetime_started_at,
                steps_taken=previous.pool.steps_taken if same_job else 0,
                version=previous.pool.version,
                horizon_at=previous.pool.horizon_at if same_job else None,
                # a person's "keep it warm until" holds for this job's idle period until it reverts
                override_until=previous.pool.override_until if same_job else None,
            )
            if same_job and previous.pool.status is not WarmPoolStatus.TERMINATED:
                # the job's own keep-alive is what it was created with, as first recorded: SageMaker's
                # shows the value set last (warmpool's own steps, or someone's outside warmpool). A
                # pool recorded gone that is not is a new job of a deleted one's name: its own.
                pool = replace(
                    pool,
                    job_keep_alive_seconds=previous.pool.job_keep_alive_seconds
                    or pool.job_keep_alive_seconds,
                    outside_keep_alive_seconds=previous.pool.outside_keep_alive_seconds,
                    outside_set_at=previous.pool.outside_set_at,
                    outside_shortened=previous.pool.outside_shortened,
                )
                if status is WarmPoolStatus.AVAILABLE:
                    pool = self._keep_alive_as_set(job, pool, previous, now)
            if same_job and status is WarmPoolStatus.TERMINATED and previous.pool.expires_at is not None:
                # Until when it was warm (`pools list`'s warm_until): its release, as warmpool saved it,
                # its expiry, or the end of its lifetime, else now (released outside warmpool). The
                # job, described Terminated, has no expiry: the record read `-` once SageMaker's event
                # of the pool gone came, and the release time while it had not.
                ended = self._idle_until(previous.pool, now)
                pool = replace(pool, expires_at=ended)
        if status is WarmPoolStatus.REUSED and pool.available_since is not None:
            pool = replace(
                pool, expires_at=self._taken_at(pool, previous.pool if same_job and previous else None)
            )
        if status is WarmPoolStatus.AVAILABLE:
            # The gap histories are what a decision learns from: only an Available pool is decided.
            history, team_history = self.registry.history(key.digest(), self._history_team(pool))
            pool = replace(pool, history=history, team_history=team_history)
            if same_job and previous is not None and previous.pool.status is WarmPoolStatus.AVAILABLE:
                context = (previous.pool.running_at_idle, previous.pool.known_gaps_at_idle)
            else:  # it has just become Available: the context its gap begins in
                context = (self._running_with(key, pool.pool_id), len(history))
            pool = replace(pool, running_at_idle=context[0], known_gaps_at_idle=context[1])
        return PoolRecord(
            pool=pool,
            last_decision=previous.last_decision if same_job and previous else None,
            next_check_at=previous.next_check_at if same_job and previous else None,
            schedule_name=previous.schedule_name if same_job and previous else None,
            tuner_owned=previous.tuner_owned if same_job and previous else False,
            notified=previous.notified if same_job and previous else (),
        )

    def _taken_at(self, pool: Pool, seen: Pool | None) -> datetime:
        """Until when a pool a later job took (Reused) was warm for its job (`pools list`'s warm_until):
        when the next job took it, as SageMaker billed its idling (`ResourceRetainedBillableTimeInSeconds`
        from the job's end), else until now, or its expiry or lifetime's end, as warmpool last saved it
        (`seen`), once passed. The job, described Reused, has no expiry: the record read `-` while
        the next job was not joined to the pool's lineage yet (its first look failed, to be retried)."""
        assert pool.available_since is not None
        known = seen if seen is not None else pool
        taken = idle_until(
            replace(pool, expires_at=known.expires_at), self.clock.now(), self.limits.lifetime_ends_at(known)
        )
        if pool.billable_seconds:
            taken = min(taken, pool.available_since + timedelta(seconds=pool.billable_seconds))
        return taken

    def _keep_alive_as_set(
        self, job: dict[str, Any], pool: Pool, previous: PoolRecord, now: datetime
    ) -> Pool:
        """The keep-alive and expiry of the job's Available pool, from what warmpool recorded of it
        (`seen`, this job's record) and what DescribeTrainingJob says is set now (`pool`'s). The same
        value: warmpool's own record of the expiry is the precise one (it set the keep-alive itself, or
        the job did). Another value was set by someone outside warmpool (their own UpdateTrainingJob,
        the console) since warmpool last looked: SageMaker counts it from then, the job's
        `LastModifiedTime` when that falls after what warmpool last knew (else now: the latest the
        change can have been made, so that it is never cut short), and it is recorded as the job's
        latest wish (`outside_set_at`), which the `job` strategy keeps. Unless warmpool made that
        update itself and the save after it failed: the trail has it (`keep-alive-updated`, written
        right after the update; one Query of the pool's trail, in this case only), or the invocation
        ended before that entry: the update it intended (`previous.intent`, saved before it) is what
        SageMaker shows, and its entry is written now (`_record_carried_out`), also when it set the
        value the pool had. Setting the same value again outside warmpool is not told apart from no
        change."""
        seen = previous.pool
        intended = self._carried_out(job, previous, pool.keep_alive_seconds)
        if intended is not None:
            entry = self._record_carried_out(pool, intended)
            return replace(pool, expires_at=datetime.fromisoformat(str(entry.details["expires_at"])))
        if seen.status is WarmPoolStatus.AVAILABLE and seen.expires_at is not None:
            known, expiry = seen.keep_alive_seconds, seen.expires_at
            since = seen.expires_at - timedelta(seconds=seen.keep_alive_seconds)
        else:  # first seen Available: the keep-alive it ran with, counted from its end
            known, since = seen.keep_alive_seconds, pool.available_since or now
            expiry = since + timedelta(seconds=known)
        if pool.keep_alive_seconds == known:
            if seen.status is WarmPoolStatus.AVAILABLE and seen.expires_at is not None:
                return replace(pool, expires_at=seen.expires_at, keep_alive_seconds=seen.keep_alive_seconds)
            return pool
        own = self._own_update(pool, since)
        if own is not None and own.details.get("expires_at"):
            return replace(pool, expires_at=datetime.fromisoformat(str(own.details["expires_at"])))
        modified = _time(job, "LastModifiedTime")
        set_at = modified if modified is not None and since <= modified <= now else now
        expires = set_at + timedelta(seconds=pool.keep_alive_seconds)
        return replace(
            pool,
            expires_at=expires,
            outside_keep_alive_seconds=pool.keep_alive_seconds,
            outside_set_at=set_at,
            outside_shortened=expires < expiry,
        )

    def _own_update(self, pool: Pool, since: datetime) -> AuditEntry | None:
        """warmpool's own latest update of the job's keep-alive to the value SageMaker has now
        (`pool.keep_alive_seconds`) since `since`, as the trail has it; None: none (someone else's)."""
        own = [
            entry
            for entry in self.registry.audit_trail(pool.pool_id)
            if entry.what in ("keep-alive-updated", "keep-alive-restored")
            and entry.job_name == pool.job_name
            and entry.details.get("seconds") == pool.keep_alive_seconds
            and entry.at >= since
        ]
        return own[-1] if own else None

    def _carried_out(
        self, job: dict[str, Any] | None, previous: PoolRecord | None, seconds: int
    ) -> Mapping[str, Any] | None:
        """The keep-alive update `previous`'s last decision intended (`PoolRecord.intent`, saved before
        UpdateTrainingJob and dropped by the decision's save), when SageMaker shows it made: the job's
        keep-alive is the intended `seconds`, and the job was modified at or after the intent was saved
        (`LastModifiedTime`, within `INTENT_CLOCK_SKEW`). None: no intent left (the decision was saved),
        or SageMaker has not got it (the update failed): an update that did not happen is never
        recorded."""
        intent = previous.intent if previous is not None else None
        if not intent or intent.get("seconds") != seconds or previous is None:
            return None
        if intent.get("job_name", previous.pool.job_name) != previous.pool.job_name:
            return None
        at = datetime.fromisoformat(str(intent["at"]))
        modified = _time(job, "LastModifiedTime") if job is not None else None
        if modified is not None and modified < at - INTENT_CLOCK_SKEW:
            return None  # the value it had before (the same one): this update never reached SageMaker
        return intent

    def _record_carried_out(
        self, pool: Pool, intent: Mapping[str, Any], trail: list[AuditEntry] | None = None
    ) -> AuditEntry:
        """The `keep-alive-updated` entry of warmpool's own update (`_carried_out`), as its invocation
        would have written it right after the update, at the time it was decided, with its decision's
        rule, reasons and who asked, and `recorded_late`; or the entry that invocation did write (its
        `decision_id`), whose save failed after it. One Query of the pool's trail, after a failure
        only. Without it, the look after an invocation that ended between the update and its entry took
        warmpool's own update for someone's: a release for one made in the console
        (`sagemaker.released`), an extension for a keep-alive set outside warmpool."""
        decision_id = intent.get("decision_id")
        what = str(intent.get("what") or "keep-alive-updated")  # or a limit's `released-for-limit`
        for entry in trail if trail is not None else self.registry.audit_trail(pool.pool_id):
            if entry.what == what and entry.details.get("decision_id") == decision_id:
                return entry
        details = {key: value for key, value in intent.items() if key not in ("at", "job_name", "what")}
        at = datetime.fromisoformat(str(intent["at"]))
        entry = AuditEntry(at, pool.pool_id, pool.job_name, what, {**details, "recorded_late": True})
        self.registry.audit(entry)
        return entry

    def _ended_on_a_setting_of_others(self, record: PoolRecord, seen: PoolRecord | None) -> dict[str, Any]:
        """What the trail's `recorded` entry of a pool found gone says when it ended on a keep-alive set
        outside warmpool since warmpool's last look (`seen`, this job's record, Available): when it
        ended and the expiry warmpool had. Otherwise the pool that ended 45 minutes before the time its
        owner had been told showed only `recorded Terminated`. A keep-alive of 0 is a release
        (`_unrecorded_release`); an update of warmpool's own whose save failed is in the trail."""
        pool = seen.pool if seen is not None else None
        now = record.pool
        if (
            pool is None
            or pool.status is not WarmPoolStatus.AVAILABLE
            or pool.expires_at is None
            or pool.available_since is None
            or now.status is not WarmPoolStatus.TERMINATED
            or now.keep_alive_seconds in (0, pool.keep_alive_seconds)
        ):
            return {}
        intended = self._carried_out(None, seen, now.keep_alive_seconds)
        if intended is not None:  # its own update, whose entry the invocation that made it did not write
            self._record_carried_out(now, intended)
            return {}
        if self._own_update(now, pool.expires_at - timedelta(seconds=pool.keep_alive_seconds)) is not None:
            return {}
        ended = pool.available_since + timedelta(seconds=now.billable_seconds)
        return {
            "keep_alive_set_outside": now.keep_alive_seconds,
            "was_seconds": pool.keep_alive_seconds,
            "ended_at": ended.isoformat(),
            "expected_until": pool.expires_at.isoformat(),
        }

    def _running_with(self, key: MatchKey, pool_id: str) -> int:
        """How many other pools of the same match key are running a job now: each will leave a newer
        idle cluster, which the next matching job takes first."""
        return sum(
            1
            for r in self.registry.pools_of_key(key.digest())
            if r.pool.status is WarmPoolStatus.IN_USE and r.pool.pool_id != pool_id
        )

    def _describe_tuning_job(self, name: str) -> dict[str, Any] | None:
        """DescribeHyperParameterTuningJob; None when the tuning job no longer exists."""
        try:
            return self.sagemaker.describe_tuning_job(name)
        except JobNotFoundError:
            return None

    def _decide(
        self,
        record: PoolRecord,
        trigger: Trigger,
        request: UserRequest | None,
        now: datetime,
        *,
        ledger: FleetSource | None = None,
    ) -> tuple[Decision, FleetView]:
        """The decision, and the fleet it read (what the quota warning counts too). `ledger`: where
        the team's ledger is read (a preview's holds what it has not written: `_WithBookings`)."""
        policy = self._current_policy()
        team = team_of(record.pool, policy)  # the team whose rules decide: its budget is the one read
        # the pool as decided, not as last saved: a job that took its predecessor's pool unseen
        # (`_adopt_lineage`) finds the predecessor's record still Available, idle since the
        # predecessor's end, and its budget counted that idling twice, to now and as the gap booked
        available = [
            record if r.pool.pool_id == record.pool.pool_id else r
            for r in self._fleet_to_decide(record.pool, policy)
        ]
        fleet = self._fleet(
            now,
            teams=(team,),
            deciding=record.pool.pool_id,
            available=available,
            ledger_teams=(team,),
            source=ledger,
        )
        decision = decide_keep_alive(
            record.pool, policy, now, limits=self.limits, fleet=fleet, trigger=trigger, request=request
        )
        return decision, fleet

    def _warn_of_quota(
        self, record: PoolRecord, decision: Decision, fleet: FleetView, now: datetime
    ) -> tuple[str, ...]:
        """Tell the platform admins when the pool kept warm brings its type near the account's warm-pool
        quota the policy states (`warm_pool_quotas`, `quota_warning_at`): at the quota, the next jobs
        asking for a keep-alive get no pool. Once per instance type and (UTC) day: the notice's id is the
        type and its version the date, which the notifier sends once; the pool remembers it said it
        (returned, for `notified`), so its later steps do not queue it again. Sent before the save that
        remembers it: a failure in between sends it again, and the notifier drops the copy. A dry run
        warns as a real run would: not of a pool its decision releases (a real run's is gone, and
        brings nobody near the quota), and the warning says it was made under a dry run, whose pools
        are all warm on their own keep-alives, not warmpool's."""
        if decision.action is Action.RELEASE:
            return ()
        warning = quota_warning(record.pool, self._current_policy(), fleet)
        if warning is None:
            return ()
        said = f"{NotificationKind.QUOTA_WARNING.value}#{warning.instance_type}#{now:%Y-%m-%d}"
        if said in record.notified:
            return ()
        self._send_quota_warning(warning, record.pool, now, dry_run=decision.dry_run)
        return (said,)

    def _send_quota_warning(self, warning: QuotaWarning, pool: Pool, now: datetime, *, dry_run: bool) -> None:
        facts: dict[str, Any] = {
            "scope": warning.instance_type,
            "instance_type": warning.instance_type,
            "limit": warning.quota,
            "current": warning.current,
            "warn_at": self._current_policy().quota_warning_at,
            "quota_name": warning.quota_name,
            "reason": warning.reason,
            "reached_by_job": pool.job_name,
        }
        if dry_run:
            facts["dry_run"] = True
        self.outbox.send(
            Notification(
                NotificationKind.QUOTA_WARNING,
                Severity.WARNING,
                f"quota-{warning.instance_type}",
                "",
                int(now.strftime("%Y%m%d")),
                None,
                None,
                facts,
            )
        )
        self.metrics.count("Notifications")

    def _fleet_to_decide(self, pool: Pool, policy: PolicyDocument) -> list[PoolRecord]:
        """The Available pools a decision about `pool` reads (docs/adr/0008). What it uses of the other
        pools is its team's: the team limit and its release candidates, the budget's idle and booked
        cost. The team is the one its rules resolve to (the policy's team tag), and the one its cost is
        booked to (`team_of`); the pools without a team tag count for the default team. Only an
        `instance_type_limits` entry for its type counts every team's pools, and a `warm_pool_quotas`
        entry (the account's quota, for its warning): then the warm pools of that type are read too, in
        one query for both (docs/adr/0009)."""
        teams = {team_of(pool, policy), resolve_rules(policy, pool).team}
        own = self.registry.available_of_teams(_team_tags(teams, policy))
        by_type = (policy.instance_type_limits, policy.warm_pool_quotas)
        if all(limits.get(pool.instance_type) is None for limits in by_type):
            return own
        read = {record.pool.pool_id for record in own}
        return own + [
            r for r in self.registry.available_of_type(pool.instance_type) if r.pool.pool_id not in read
        ]

    def _fleet(
        self,
        now: datetime,
        *,
        teams: Iterable[str] = (),
        deciding: str | None = None,
        with_ledger: bool = False,
        available: Sequence[PoolRecord] | None = None,
        ledger_teams: Iterable[str] | None = None,
        source: FleetSource | None = None,
    ) -> FleetView:
        return fleet_view(
            source or self.registry,
            self._current_policy(),
            now,
            teams=teams,
            deciding=deciding,
            with_ledger=with_ledger,
            reductions_this_run=self.reductions_this_run,
            available=available,
            ledger_teams=ledger_teams,
            limits=self.limits,
        )

    def _execute(
        self,
        record: PoolRecord,
        decision: Decision,
        now: datetime,
        *,
        moved_on_refuses: bool = False,
        asked: Mapping[str, Any] | None = None,
    ) -> tuple[PoolRecord, UpdateRefusedError | None]:
        """Carry the decision out; with the record, SageMaker's refusal of the update, if it did. Raises
        PoolMovedOnError when SageMaker says the pool is no longer Available, unless
        `moved_on_refuses` (the job was read again and still said Available): then it is a refusal.
        `asked`: who asked, for a person's request (`UserRequest.audit_details`), on the update's entry."""
        pool = record.pool
        if not _changes_sagemaker(decision) or decision.keep_alive_seconds is None:  # (None: for mypy)
            return replace(record, pool=replace(pool, horizon_at=horizon_at(pool, decision))), None
        seconds = decision.keep_alive_seconds
        if seconds > self.limits.max_step_seconds:
            raise ValueError(
                f"refusing a keep-alive of {seconds} s: above the {self.limits.max_step_seconds} s step"
            )
        expires = now + timedelta(seconds=seconds)
        # Why travels with what was done: the update's entry says it, and the intent, saved with the pool
        # before the update, says it to the next look should the invocation end before that entry.
        details = {
            "seconds": seconds,
            "expires_at": expires.isoformat(),
            "action": decision.action.value,
            "rule": decision.rule,
            "reasons": list(decision.reasons),
            "policy_version": self._policy_version(),
            # the decision's own entry, saved after, may be lost with the save (a failed write, the
            # invocation ended): the update's entry said why, not who asked
            **(asked or {}),
            "decision_id": uuid.uuid4().hex[:16],  # also on the decision's entry: the two go together
        }
        intent = {**details, "at": now.isoformat(), "job_name": pool.job_name}
        self.registry.intend(record, intent)
        try:
            self.sagemaker.update_keep_alive(pool.job_name, seconds)
        except UpdateRefusedError as exc:
            if isinstance(exc, PoolMovedOnError) and not moved_on_refuses:
                raise
            self._record_refusal(record, exc)
            return replace(record, last_error=str(exc)), exc
        self.metrics.count("KeepAliveUpdates")
        status = WarmPoolStatus.TERMINATED if seconds == 0 else pool.status
        updated = replace(
            pool,
            keep_alive_seconds=seconds,
            expires_at=expires,
            status=status,
            steps_taken=pool.steps_taken + 1,
            horizon_at=horizon_at(pool, decision),
        )
        self._audit(replace(record, pool=updated), "keep-alive-updated", details)
        return replace(record, pool=updated, last_error=None, intent=intent), None

    def _retry_refused_at(
        self, record: PoolRecord, refusal: UpdateRefusedError | None, now: datetime
    ) -> datetime | None:
        """When to look again at a pool whose update the engine's role may not make (an IAM policy, a
        permissions boundary, an SCP: `UpdateNotPermittedError`, alarm `PermanentErrors`): in
        RETRY_REFUSED_MINUTES, while the pool is still warm then, so that once the permission is
        granted the pool is kept as the policy says before its own keep-alive runs out. The look its
        expiry plans (a warning `expiring_soon_minutes` before it, else a look just after) would come
        too late for a pool whose keep-alive ends within about that long, and lose it. None (that look)
        for any other refusal, which would be refused again, and when that look comes first."""
        expires = record.pool.expires_at
        if not isinstance(refusal, UpdateNotPermittedError) or expires is None:
            return None
        at = now + timedelta(minutes=RETRY_REFUSED_MINUTES)
        if at > expires - timedelta(seconds=60):  # an update then would come too late
            return None
        warn_at = expires - timedelta(minutes=self._expiring_soon_minutes())
        return None if now + timedelta(seconds=60) < warn_at <= at else at

    def _dry_run_looks_again_at(
        self, record: PoolRecord, decision: Decision, now: datetime
    ) -> datetime | None:
        """When to look again at a pool a dry run left as it is (what a real run would change, it did
        not): the look a real run would have planned (a step, the working day's end), or the last one
        before the pool's own keep-alive runs out at which a real run could still keep it
        (`step_margin_seconds` before), whichever comes first. Only the look after its expiry would
        come too late: once `dry_run` is switched off, a pool warm on a keep-alive shorter than
        `expiring_soon_minutes` was never looked at again while warm, and was lost. None (the look its
        expiry plans: the warning before it, else a look just after) when none of these is ahead
        before the expiry, or when the warning comes first."""
        expires = record.pool.expires_at
        if expires is None:
            return None
        soonest = now + timedelta(seconds=60)
        last = expires - timedelta(seconds=self.limits.step_margin_seconds)
        ahead = [at for at in (decision.next_check_at, last) if at is not None and soonest <= at < expires]
        if not ahead:
            return None
        at = min(ahead)
        warn_at = expires - timedelta(minutes=self._expiring_soon_minutes())
        return None if soonest < warn_at <= at else at

    def _plan_next_check(self, record: PoolRecord, decision: Decision, now: datetime) -> PoolRecord:
        """Schedule the next look at the pool: the next step, or a warning before it expires."""
        pool = record.pool
        if pool.status is not WarmPoolStatus.AVAILABLE:
            self._cancel_planned(record, now, keep=None)
            return replace(record, next_check_at=None, schedule_name=None)
        at: datetime | None = None
        kind = "step"
        if decision.next_check_at is not None:
            at = decision.next_check_at
        elif pool.expires_at is not None:
            warn_at = pool.expires_at - timedelta(minutes=self._expiring_soon_minutes())
            # a warning is due before this expiry (also after one, when this look moved the expiry)
            if warn_at > now + timedelta(seconds=60):
                at, kind = warn_at, "expiring-soon"
            else:
                # No event fires when a pool expires: look once just after, to record it and its gap.
                at, kind = pool.expires_at + timedelta(seconds=60), "expiry"
        if at is None:
            self._cancel_planned(record, now, keep=None)
            return replace(record, next_check_at=None, schedule_name=None)
        at = max(at, now + timedelta(seconds=60))  # EventBridge Scheduler wants a time in the future
        name = self.scheduler.schedule(
            pool_id=pool.pool_id, job_name=pool.job_name, step=pool.steps_taken, at=at, purpose=kind
        )
        self._cancel_planned(record, now, keep=name)
        return replace(record, next_check_at=at, schedule_name=name)

    def _cancel_planned(self, record: PoolRecord, now: datetime, *, keep: str | None) -> None:
        """Delete the look the pool had planned, if it is still to come and a new plan replaces it.
        Best effort: a stale look only re-reads the truth and decides again."""
        old = record.schedule_name
        if old is None or old == keep or record.next_check_at is None or record.next_check_at <= now:
            return
        try:
            self.scheduler.cancel(old)
        except Exception:  # a look left behind is harmless: it re-reads the truth and decides again
            self.metrics.count("ScheduleCancelFailed")

    def _announcements(
        self,
        record: PoolRecord,
        decision: Decision,
        newly_available: bool,
        old_horizon: datetime | None,
        now: datetime,
        *,
        undoes_outside: bool = False,
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """What to tell the owner about the decision (notification kinds), and what among them is said
        once: the once-per-job warnings, and the expiring-soon warning of each expiry (remembered with
        the pool: `notified`). `undoes_outside`: the keep-alive was set outside warmpool since its last
        look; a decision shortening the pool undoes it, with its plan unchanged, and is told: the
        person who set it hears why, and how to ask for more time."""
        pool = record.pool
        kinds: list[NotificationKind] = []
        warned: list[str] = []

        def first_time(kind: NotificationKind) -> bool:
            if kind not in ONCE_PER_JOB:
                return True
            # a budget is per day (and month) on the team's clock: a pool still short of it tomorrow is
            # warned again
            said = kind.value
            if kind is NotificationKind.BUDGET_WARNING:
                policy = self._current_policy()
                said += f"#{now.astimezone(ledger_zone(policy, team_of(pool, policy))):%Y-%m-%d}"
            if said in record.notified or said in warned:
                return False
            warned.append(said)  # remembered with this pool even when not said: its later looks do not ask
            # a tuning job's trials share its tags: missing ones are said once per tuning job
            return kind is not NotificationKind.MISSING_TAGS or not self._said_of_tuning_job(record, said)

        if decision.action is Action.RELEASE:
            # A dry run's pool stays warm, and every later look would release it again: said once per job
            said = f"{NotificationKind.RELEASED.value}#dry-run"
            if not decision.dry_run:
                kinds.append(NotificationKind.RELEASED)
            elif said not in record.notified:
                kinds.append(NotificationKind.RELEASED)
                warned.append(said)
        elif newly_available:
            kinds.append(NotificationKind.POOL_READY)
        elif decision.action in (Action.EXTEND, Action.SHORTEN) and (
            pool.horizon_at != old_horizon or (decision.action is Action.SHORTEN and undoes_outside)
        ):
            kinds.append(
                NotificationKind.EXTENDED if decision.action is Action.EXTEND else NotificationKind.SHORTENED
            )
        kinds.extend(extra for extra in decision.notify if first_time(extra))
        lead = timedelta(minutes=self._expiring_soon_minutes())
        if (
            pool.status is WarmPoolStatus.AVAILABLE
            and (decision.next_check_at is None or decision.dry_run)
            and pool.expires_at is not None
            and pool.expires_at - now <= lead
            and not newly_available
        ):
            # The last look before expiry: the final step, or the warning check scheduled for it. Said
            # once per expiry: the reconciler takes a look that is due but has not fired, and the step
            # then fires all the same (an extension's new expiry is warned of again). A dry run's pool
            # expires at the keep-alive it has, whatever step the decision would have taken after it.
            said = f"{NotificationKind.EXPIRING_SOON.value}#{pool.expires_at.isoformat()}"
            if said not in record.notified:
                kinds.append(NotificationKind.EXPIRING_SOON)
                warned.append(said)
        lifetime_end = self.limits.lifetime_ends_at(pool)
        if (
            lifetime_end is not None
            and pool.status is WarmPoolStatus.AVAILABLE
            and lifetime_end - now <= LIFETIME_WARNING
            and first_time(NotificationKind.LIFETIME_ENDING)
        ):
            kinds.append(NotificationKind.LIFETIME_ENDING)
        return tuple(k.value for k in kinds), tuple(warned)

    def _ended_on_its_own(
        self, previous: PoolRecord, record: PoolRecord, job: dict[str, Any], *, same_job: bool, now: datetime
    ) -> dict[str, Any] | None:
        """How the pool `previous` recorded Available ended without a release, as its `pool-ended`
        notice says it (`ended`, `ended_at`; `taken_by`): a later job took it (its job seen Reused, or
        the later job seen starting on it: `record` is then that job's), it reached its maximum
        lifetime, or its keep-alive ran out (Terminated). None: it did not end so (a release is told by
        its `released` notice)."""
        seen = previous.pool
        if seen.status is not WarmPoolStatus.AVAILABLE:
            return None
        if not same_job:  # the later job that took it
            taken_at = _time(job, "CreationTime") or now
            return {"ended": "taken", "taken_by": record.pool.job_name, "ended_at": taken_at.isoformat()}
        if record.pool.status is WarmPoolStatus.REUSED:
            taken_by = (job.get("WarmPoolStatus") or {}).get("ReusedByJob")
            if not taken_by:
                return None
            # Its own Reused event before the later job's (EventBridge keeps no order): when the later
            # job took it is that job's creation, as SageMaker says it (one DescribeTrainingJob, only
            # here), not this look's time, which may be minutes on; as when the later job's event
            # comes first (below) and as its idle gap is booked (`_adopt_lineage`)
            taken_at = min(self._created_at(str(taken_by)) or now, now)
            return {"ended": "taken", "taken_by": str(taken_by), "ended_at": taken_at.isoformat()}
        if record.pool.status is not WarmPoolStatus.TERMINATED:
            return None
        lifetime_end = self.limits.lifetime_ends_at(seen)
        if (
            lifetime_end is not None
            and lifetime_end <= now
            and (seen.expires_at is None or lifetime_end <= seen.expires_at)
        ):
            return {
                "ended": "lifetime",
                "ended_at": lifetime_end.isoformat(),
                "max_lifetime_seconds": self.limits.max_lifetime_seconds,
            }
        billed = timedelta(seconds=record.pool.billable_seconds)
        ended_at = (
            seen.available_since + billed
            if billed and seen.available_since is not None
            else self._idle_until(seen, now)
        )
        return {"ended": "expired", "ended_at": min(ended_at, now).isoformat()}

    def _created_at(self, job_name: str) -> datetime | None:
        """When SageMaker created the job, for a message's time; None when it has no job of that name
        (deleted since) or does not answer now (throttled past botocore's retries, a 5xx): the time
        is then the look's, as before, and the pool is recorded all the same (held back for a
        message's time, the Reused pool went unrecorded while the later job's describe failed)."""
        try:
            return _time(self.sagemaker.describe_training_job(job_name), "CreationTime")
        except OutOfTimeError:
            raise  # the invocation's time is up: its retry records it
        except Exception:
            return None

    def _said_of_tuning_job(self, record: PoolRecord, said: str) -> bool:
        """Whether another pool of the tuning job the pool's trial belongs to has said this already.
        SageMaker copies a tuning job's tags to every training job it launches: its trials' tags are
        the same, and a parallel sweep's pools, handed back together at its end, each warned its owners
        of the same missing tag (one message per pool, all alike). Read only for such a warning, which
        a tagged sweep never gives: the tuner index and a read per pool of the tuning job."""
        arn = record.pool.tuning_job_arn
        if not arn:
            return False
        return any(
            said in other.notified
            for other in self.registry.pools_of_tuning_job(arn)
            if other.pool.pool_id != record.pool.pool_id
        )

    def _decision_entry(self, record: PoolRecord, details: dict[str, Any]) -> AuditEntry:
        """The decision's audit entry, written in the save that records the decision (`_save`): both
        land, or neither (a save that fails leaves the retry to decide afresh, and write its own: one
        entry per decision). Written after the save, it was lost for good when the invocation ended
        in between (a timeout, out of memory, an error): the retry found the pool saved and decided
        nothing (its event unchanged), and nobody retries the reconciler's decisions or a person's
        request, so an update made by warmpool had no decision in the trail."""
        details = {**details, "policy_version": self._policy_version()}
        return AuditEntry(self.clock.now(), record.pool.pool_id, record.pool.job_name, "decision", details)

    def _refusal_entry(
        self, record: PoolRecord, request: UserRequest, decision: Decision, asked: Mapping[str, Any]
    ) -> AuditEntry:
        """A person's extension refused by a limit that did not decide the pool (`Decision.plan_rule`),
        whose decision changed the pool all the same: the refusal as an entry of its own (who asked,
        what, the rule that refused it and why), written in the save beside the decision's, which
        names the rule that made the change."""
        details = {
            "kind": request.kind,
            "minutes": request.minutes,
            **asked,
            "rule": decision.rule,
            "reasons": list(decision.reasons),
            "policy_version": self._policy_version(),
        }
        return AuditEntry(
            self.clock.now(), record.pool.pool_id, record.pool.job_name, "request-refused", details
        )

    def _announce_saved(self, record: PoolRecord) -> PoolRecord:
        """Send what the saved decision still has to say (`unannounced`), and write its audit entry if
        an older version saved it unwritten (`unaudited`: this one writes it with the save), then
        record both done. A send repeated after a failure carries the same version, and the notifier
        sends each pool_id#kind#version once; an entry written again (the write that records it done
        failed) is in the trail twice."""
        if not record.unannounced and record.unaudited is None:
            return record
        # who asked for the decision, saved with its notices: a retry or the reconciler names them too
        who = record.unannounced_by
        if record.unaudited is not None:
            details = dict(record.unaudited)
            decided = details.pop(DECIDED_AT, None)  # none in an entry saved by an earlier version
            self._audit(record, "decision", details, at=datetime.fromisoformat(decided) if decided else None)
        for value in record.unannounced:
            kind = NotificationKind(value)
            extra: dict[str, Any] = {}
            ends = self.limits.lifetime_ends_at(record.pool)
            if kind is NotificationKind.LIFETIME_ENDING and ends is not None:
                # the deployment's own limit (`max_lifetime_days`, 1 to 28), which the message names
                extra["lifetime_ends_at"] = ends.isoformat()
                extra["max_lifetime_seconds"] = self.limits.max_lifetime_seconds
            if kind is NotificationKind.RELEASED and who and who.get("user"):
                # who released it, as its audit entry says: the message its press replaced said so
                extra["released_by"] = who["user"]
                extra["released_via"] = who.get("via") or "cli"
            severity = Severity.INFO if kind in ANNOUNCED_AS_INFO else Severity.WARNING
            self._notify(record, kind, severity, record.last_decision, extra=extra)
        try:
            # an update another invocation intended since the decision's save (a limit releasing this
            # pool for another: `_release_other` reads it without this save) is not this save's to drop:
            # should that invocation end before its own save, the intent tells the next look the
            # release was warmpool's, not one made outside warmpool (`sagemaker.released`)
            saved = self._save(
                replace(record, unannounced=(), unaudited=None, unannounced_by=None), keeps_intent=True
            )
        except ConcurrentUpdateError:
            # Another invocation wrote the pool after this decision was saved: it read the decision
            # with what is still to say, and says it again under the same version (which the notifier
            # sends once), or leaves it to the next look. The decision stands: nothing to retry.
            return record
        self._unmark(saved)
        return saved

    def _unmark(self, record: PoolRecord) -> None:
        """The pool's notices are sent: the mark that lists it for the reconciler (saved with them:
        `unannounced_pools`) goes. Best effort: a mark left behind only has the reconciler read the
        pool, find nothing to send and remove it."""
        try:
            self.registry.announced(record.pool.pool_id, record.pool.version)
        except Exception:  # the reconciler removes it
            self.metrics.count("UnannouncedMarkLeft")

    def _announce_listed(self, pool_id: str) -> None:
        """A pool the reconciler found listed with notices still to send (`unannounced_pools`): its
        decision was saved with them, then their send failed, or the invocation ended. An event or a
        step is retried and sends them itself; nothing retries the reconciler's own decisions or a
        person's request, and nothing looks again at a pool they released. Read again: what it still
        has to say is sent under the version it was saved with (`_announce_saved`; a copy of a send
        that did go out is the notifier's duplicate), else the mark is removed."""
        record = self.registry.get(pool_id)
        if record is None:  # joined into another pool (its notices went with the join's record)
            self.registry.announced(pool_id, None)
        elif record.unannounced or record.unaudited is not None:
            self._announce_saved(record)
        else:
            self._unmark(record)

    def _idle_until(self, pool: Pool, now: datetime) -> datetime:
        """Until when the pool has idled, as SageMaker bills it (`idle_until`): now, or its expiry or
        the end of its maximum lifetime once passed."""
        return idle_until(pool, now, self.limits.lifetime_ends_at(pool))

    def _expiring_soon_minutes(self) -> int:
        notifications = getattr(self._current_policy(), "notifications", None)
        minutes = getattr(notifications, "expiring_soon_minutes", None)
        return int(minutes) if isinstance(minutes, int) else EXPIRING_SOON_DEFAULT_MINUTES

    def _maybe_missed_pool(self, pool: Pool) -> None:
        """A new job started cold beside an Available pool it nearly matched: say what differed. The
        pools looked at are its team's (`team_of`; the untagged ones too for the default team) of its
        instance type: a near match warm for another team is not reported (docs/adr/0008)."""
        policy = self._current_policy()
        tags = _team_tags({team_of(pool, policy)}, policy)
        for other in self.registry.available_of_teams(tags, instance_type=pool.instance_type):
            if other.pool.pool_id == pool.pool_id:
                continue
            differing = other.pool.match_key.differences(pool.match_key)
            if pool.job_keep_alive_seconds == 0:
                differing.append("ResourceConfig.KeepAlivePeriodInSeconds")
            if differing:
                self._notify(
                    PoolRecord(pool=pool),
                    NotificationKind.MISSED_POOL,
                    Severity.WARNING,
                    extra={"nearby_pool_job": other.pool.job_name, "differing_fields": differing},
                )
                self.metrics.count("MissedPools")
                return

    def _history_team(self, pool: Pool) -> str:
        """The team whose gap history a pool learns from and adds to (see `team_of`)."""
        return team_of(pool, self._current_policy())

    def _record_gap(self, pool: Pool, ended_at: datetime, *, reused: bool) -> None:
        """Append the idle gap that just ended to the histories the adaptive strategy learns from, and
        book its idle cost in the team's ledger (what budgets are checked against)."""
        ended = self._idle_gap(pool, ended_at, reused=reused)
        if ended is None:
            return
        recorded = self.registry.add_gap(pool.match_key.digest(), ended.team, ended.gap)
        for start, usd in ended.bookings:
            self.registry.add_idle_cost(ended.team, start, usd, pool.job_name, pool.instance_type)
        if recorded:  # not again for the same gap: its end processed again after a failure
            self.metrics.count("Reuses" if reused else "Expiries")
            self.metrics.count("IdleBillableSeconds", ended.gap.seconds * pool.instance_count, "Seconds")

    def _idle_gap(self, pool: Pool, ended_at: datetime, *, reused: bool) -> EndedGap | None:
        """The idle gap of `pool` that ended at `ended_at`, as `_record_gap` records it (and a preview
        counts it, unrecorded); None for a pool that never idled."""
        if pool.available_since is None:
            return None
        seconds = max(0.0, (ended_at - pool.available_since).total_seconds())
        policy = self._current_policy()
        gap = IdleGap(
            pool.available_since,
            seconds,
            reused,
            pool.last_job_duration_s,
            pool.running_at_idle,
            pool.known_gaps_at_idle,
            pool.job_name,
        )
        return EndedGap(team_of(pool, policy), gap, tuple(idle_cost_by_day(pool, policy, ended_at)))

    def _record_gone_gap(self, job: dict[str, Any], pool: Pool, seen: Pool | None, now: datetime) -> None:
        """The pool is gone (Terminated): its idle gap lasted from the job's end for as long as SageMaker
        billed it (the expiry warmpool knew may be stale: an update whose save failed). `seen`: the pool
        as last saved Available, whose context the gap keeps; None when no Available state of it was
        ever saved (its events were lost, or the write after its release failed): then the gap is
        learned from and booked all the same."""
        billed = timedelta(seconds=pool.billable_seconds)
        if seen is not None and seen.available_since is not None:
            ended_at = seen.available_since + billed if billed else self._idle_until(seen, now)
            self._record_gap(seen, ended_at, reused=False)
            return
        ended = _time(job, "TrainingEndTime")
        if ended is None or not billed:
            return  # never idle: no gap
        self._record_gap(replace(pool, available_since=ended), ended + billed, reused=False)

    def _save(
        self,
        record: PoolRecord,
        *,
        audit: AuditEntry | Sequence[AuditEntry] | None = None,
        keeps_intent: bool = False,
    ) -> PoolRecord:
        """Optimistic locking: the write succeeds only if nobody wrote since `record` was read. `audit`:
        entries written in the same write (`_decision_entry`, and what lands with it or not at all).
        `keeps_intent`: another invocation's intent saved since (`PoolRegistry.put`) is kept."""
        expected = record.pool.version if record.pool.version > 0 else None
        return self.registry.put(record, expected, audit=audit, keeps_intent=keeps_intent)

    def _audit(
        self, record: PoolRecord, what: str, details: dict[str, Any], *, at: datetime | None = None
    ) -> None:
        """An entry in the pool's trail, at `at` (default: now)."""
        self.registry.audit(
            AuditEntry(at or self.clock.now(), record.pool.pool_id, record.pool.job_name, what, details)
        )

    @_one_policy
    def send_digests(
        self, now: datetime, *, unreadable: list[UnreadableItemError] | None = None
    ) -> list[str]:
        """The daily digest, when the policy enables it: in its hour on the team's clock (`ledger_zone`),
        each team with warm pools, or with a channel in the policy, hears what is warm and what idling
        cost today and this month. The reconciler asks at every run; the notifier sends each team's
        digest once a day. `unreadable`: a pool item that cannot be read is added there and left out of
        the digests, which go all the same (the reconciler reports it), instead of failing them all."""
        policy = self._current_policy()
        digest = policy.notifications.digest
        if not digest.enabled or not any(
            in_hour(now.astimezone(z), digest.hour) for z in ledger_zones(policy)
        ):
            return []  # no team's clock is in the digest's hour: nothing to read
        available = self.registry.list_by_status(WarmPoolStatus.AVAILABLE.value, unreadable=unreadable)
        by_team: dict[str, list[Pool]] = {}
        for record in available:
            by_team.setdefault(team_of(record.pool, policy), []).append(record.pool)
        local = {
            team: now.astimezone(ledger_zone(policy, team))
            for team in {*by_team, *policy.notifications.teams}
        }
        teams = sorted(team for team, at in local.items() if in_hour(at, digest.hour))
        if not teams:
            return []
        fleet = self._fleet(now, teams=teams, with_ledger=True, available=available, ledger_teams=teams)
        from warmpool.domain.messages import listed_digest

        for team in teams:
            pools = sorted(by_team.get(team, []), key=lambda p: p.available_since or now)
            facts: dict[str, Any] = {
                "date": local[team].date().isoformat(),
                "warm_pools": [
                    digest_pool_facts(
                        p,
                        now=now,
                        price_per_instance_hour=self._price(p, policy),
                        lifetime_ends_at=self.limits.lifetime_ends_at(p),
                    )
                    for p in pools
                ],
                "warm_instances": fleet.warm_instances_by_team.get(team, 0),
                "idle_cost_today_usd": round(fleet.idle_cost_today_by_team.get(team, 0.0), 2),
                "idle_cost_month_usd": round(fleet.idle_cost_month_by_team.get(team, 0.0), 2),
            }
            if policy.dry_run:  # the pools it lists are warm on their jobs' own keep-alives
                facts["dry_run"] = True
            version = int(local[team].strftime("%Y%m%d"))
            self.outbox.send(
                listed_digest(
                    Notification(
                        NotificationKind.DAILY_DIGEST,
                        Severity.INFO,
                        f"digest-{team}",
                        "",
                        version,
                        team,
                        None,
                        facts,
                    )
                )
            )
            self.metrics.count("Notifications")
        return teams

    def _price(self, pool: Pool, policy: PolicyDocument | None = None) -> float | None:
        """USD per instance-hour for messages (the policy's price, else the built-in one); None when
        nobody priced the type: the message then leaves the cost out."""
        try:
            return price_per_hour(pool.instance_type, (policy or self._current_policy()).prices)
        except UnknownInstanceTypeError:
            return None

    def _notify(
        self,
        record: PoolRecord,
        kind: NotificationKind,
        severity: Severity,
        decision: Decision | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self._send(self._notification(record, kind, severity, decision, extra))

    def _notification(
        self,
        record: PoolRecord,
        kind: NotificationKind,
        severity: Severity,
        decision: Decision | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Notification:
        """A notification about the pool, as it is in `record`: its facts, its owner, its version."""
        pool = record.pool
        facts = pool_facts(
            pool,
            now=self.clock.now(),
            price_per_instance_hour=self._price(pool),
            lifetime_ends_at=self.limits.lifetime_ends_at(pool),
        )
        if kind is NotificationKind.BUDGET_WARNING and decision is not None and decision.budget is not None:
            facts.update(budget_facts(decision.budget))
        facts.update(extra or {})
        sweep = getattr(self._sweep, "name", None)
        if sweep is not None and kind in TOLD_WITH_THE_SWEEP:
            facts["slack_told_with_tuning_job"] = sweep  # the notifier sends it to SNS only
        return Notification(
            kind,
            severity,
            pool.pool_id,
            pool.job_name,
            pool.version,
            pool.team,
            pool.owner,
            facts,
            decision,
        )

    def _send(self, notification: Notification) -> None:
        self.outbox.send(notification)
        if notification.kind is not NotificationKind.POOL_ENDED:  # told to nobody: not counted
            self.metrics.count("Notifications")


def _who_of(asked: Mapping[str, Any]) -> dict[str, str] | None:
    """Who asked for a decision (its audit details), as its notices name them: `user` and `via` only,
    kept with the pool while the notices are to send (`unannounced_by`). None: no person asked."""
    user = asked.get("user")
    if not isinstance(user, str) or not user:
        return None
    return {"user": user, "via": str(asked.get("via") or "cli")}


def _as_saved(record: PoolRecord) -> PoolRecord:
    """`record` as `_save` will store it (PoolRegistry.put): what is announced before the save that
    records it carries the version the save gives it, the version a retry announces again under."""
    return replace(record, pool=replace(record.pool, version=record.pool.version + 1))


@dataclass(frozen=True)
class EndedGap:
    """An idle gap that ended: the team whose histories and ledger get it, the gap, and its cost by
    day on the team's clock (`idle_cost_by_day`)."""

    team: str
    gap: IdleGap
    bookings: tuple[tuple[datetime, float], ...]


def _with_gap(record: PoolRecord, match_digest: str, ended: EndedGap, team: str) -> PoolRecord:
    """The record's pool with `ended` in the histories it decides by, as `add_gap` would have put it
    there (once; the latest HISTORY_LIMIT kept), and counted in the context its own gap begins in:
    for a preview, which records nothing."""
    pool = record.pool
    history, team_history = list(pool.history), list(pool.team_history)
    if match_digest == pool.match_key.digest():
        add_once(history, ended.gap)
    if ended.team == team:
        add_once(team_history, ended.gap)
    history, team_history = history[-HISTORY_LIMIT:], team_history[-HISTORY_LIMIT:]
    # a pool just Available (as an adopted one is) begins its gap knowing its history's gaps
    pool = replace(
        pool, history=tuple(history), team_history=tuple(team_history), known_gaps_at_idle=len(history)
    )
    return replace(record, pool=pool)


@dataclass(frozen=True)
class _WithBookings:
    """A fleet source whose ledger holds bookings not written (a preview's adoption gap), as
    `add_idle_cost` would have added them: to the day and the month of their start on the team's
    clock."""

    source: FleetSource
    team: str
    bookings: tuple[tuple[datetime, float], ...]

    def list_by_status(self, status: str) -> list[PoolRecord]:
        return self.source.list_by_status(status)

    def idle_cost(self, team: str, at: datetime) -> tuple[float, float]:
        day, month = self.source.idle_cost(team, at)
        if team != self.team:
            return day, month
        booked = [(start, usd) for start, usd in self.bookings if usd > 0]
        day += sum(usd for start, usd in booked if start.strftime("%Y-%m-%d") == at.strftime("%Y-%m-%d"))
        month += sum(usd for start, usd in booked if start.strftime("%Y-%m") == at.strftime("%Y-%m"))
        return day, month


def fleet_view(
    registry: FleetSource,
    policy: PolicyDocument,
    now: datetime,
    *,
    teams: Iterable[str] = (),
    deciding: str | None = None,
    with_ledger: bool = False,
    reductions_this_run: int = 0,
    available: Sequence[PoolRecord] | None = None,
    ledger_teams: Iterable[str] | None = None,
    limits: EngineLimits | None = None,
) -> FleetView:
    """The Available pools, and each team's idle cost today and this month, on the team's clock
    (`ledger_zone`): the ledger of idle gaps that ended, plus what the pools still idle have cost so far
    in that period, for the teams with warm pools and for `teams`, or only for `ledger_teams` if given
    (two GetItems a team: a decision checks its own team's budget, and reads the other teams' pools of
    its type for a type's limit only, so reading their ledgers too cost it two reads per team). A pool
    without a team tag counts against the policy's default team; `deciding` is the pool being decided,
    whose own booked time is not counted. The ledger is read only when something needs it: a budget in
    the policy, or `with_ledger` (a digest, the CLI). `available`: the Available pools, when the caller
    has already read them. `limits`: the deployment's, whose maximum lifetime ends a pool's idling
    as its expiry does (`idle_until`); None: not known (the pools' expiries alone end it)."""
    clocks: dict[str, tuple[tuple[datetime, datetime], tuple[datetime, datetime]]] = {}

    def periods_of(team: str) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
        """(day start, month start), (day end, month end) on the team's clock."""
        if team not in clocks:
            zone = ledger_zone(policy, team)
            clocks[team] = period_starts(now, zone), period_ends(now, zone)
        return clocks[team]

    by_team: dict[str, int] = {}
    by_type: dict[str, int] = {}
    pools: list[FleetPool] = []
    ongoing_today: dict[str, float] = {}
    ongoing_month: dict[str, float] = {}
    booked: dict[str, float] = {}
    booked_today: dict[str, float] = {}
    booked_month: dict[str, float] = {}
    now_today_by_type: dict[tuple[str, str], float] = {}
    now_month_by_type: dict[tuple[str, str], float] = {}
    booked_by_type: dict[tuple[str, str], float] = {}
    if available is None:
        available = registry.list_by_status(WarmPoolStatus.AVAILABLE.value)
    for record in available:
        pool = record.pool
        team = team_of(pool, policy)
        protected = (
            record.tuner_owned
            or (pool.override_until is not None and pool.override_until > now)
            or is_exempt(pool, policy, now)
        )
        pools.append(
            FleetPool(
                pool.pool_id,
                pool_team(policy, pool),
                pool.instance_type,
                pool.instance_count,
                pool.available_since,
                protected,
            )
        )
        by_team[team] = by_team.get(team, 0) + pool.instance_count
        by_type[pool.instance_type] = by_type.get(pool.instance_type, 0) + pool.instance_count
        if pool.available_since is not None:
            per_second = policy_cost_model(policy, pool).idle_cost_per_second
            (day_start, month_start), (day_end, month_end) = periods_of(team)
            # idle until now, or until its expiry or maximum lifetime once passed: SageMaker ended it
            # then, and no event says so (the look a minute after records it gone, the reconciler a
            # lost look)
            lifetime_ends_at = limits.lifetime_ends_at(pool) if limits is not None else None
            idled_until = idle_until(pool, now, lifetime_ends_at)
            kind = (team, pool.instance_type)
            for since, ongoing, of_type in (
                (day_start, ongoing_today, now_today_by_type),
                (month_start, ongoing_month, now_month_by_type),
            ):
                seconds = (idled_until - max(pool.available_since, since)).total_seconds()
                ongoing[team] = ongoing.get(team, 0.0) + max(0.0, seconds) * per_second
                of_type[kind] = of_type.get(kind, 0.0) + max(0.0, seconds) * per_second
            if pool.pool_id != deciding and pool.expires_at is not None:
                # until expiry (shown), and the parts before the day and the month end (what budgets
                # count): until a person's promise, if later, which no budget takes back (the pool is
                # kept until then): the pools that come after it must not spend what it was promised
                promised = max(pool.expires_at, pool.override_until or pool.expires_at)
                periods = (
                    (pool.expires_at, pool.expires_at, booked),
                    (promised, day_end, booked_today),
                    (promised, month_end, booked_month),
                )
                for until, end, into in periods:
                    ahead = max(0.0, (min(until, end) - now).total_seconds())
                    into[team] = into.get(team, 0.0) + ahead * per_second
                ahead = max(0.0, (pool.expires_at - now).total_seconds())
                booked_by_type[kind] = booked_by_type.get(kind, 0.0) + ahead * per_second
    today: dict[str, float] = {}
    month: dict[str, float] = {}
    costed = {*by_team, *teams} if ledger_teams is None else set(ledger_teams)
    for team in costed if policy.uses_budgets or with_ledger else ():
        day_usd, month_usd = registry.idle_cost(team, now.astimezone(ledger_zone(policy, team)))
        today[team] = day_usd + ongoing_today.get(team, 0.0)
        month[team] = month_usd + ongoing_month.get(team, 0.0)
    return FleetView(
        available_pools=tuple(pools),
        warm_instances_by_team=by_team,
        warm_instances_by_type=by_type,
        idle_cost_today_by_team=today,
        idle_cost_month_by_team=month,
        idle_cost_booked_by_team=booked,
        idle_cost_booked_today_by_team=booked_today,
        idle_cost_booked_month_by_team=booked_month,
        idle_now_today_by_team_type=now_today_by_type,
        idle_now_month_by_team_type=now_month_by_type,
        idle_cost_booked_by_team_type=booked_by_type,
        reductions_this_run=reductions_this_run,
    )


def _pool_expected_but_missing(job: dict[str, Any]) -> bool:
    keep_alive = int((job.get("ResourceConfig") or {}).get("KeepAlivePeriodInSeconds") or 0)
    return (
        keep_alive > 0
        and job.get("TrainingJobStatus") in TERMINAL_JOB_STATUSES
        and "WarmPoolStatus" not in job
        and not job.get("EnableManagedSpotTraining")
        and not (job.get("ResourceConfig") or {}).get("InstanceGroups")
    )


def _tags(job: dict[str, Any]) -> dict[str, str]:
    raw = job.get("Tags")
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return {str(t["Key"]): str(t.get("Value", "")) for t in raw if isinstance(t, dict) and "Key" in t}
    return {}


def _time(job: dict[str, Any], key: str) -> datetime | None:
    return parse_time(job.get(key))


def pool_from_job(
    job: dict[str, Any],
    name: str,
    key: MatchKey,
    status: WarmPoolStatus,
    now: datetime,
    tag_names: TagNames | None = None,
) -> Pool:
    """The pool of a described job; its team and owner from the policy's tag names (`tags`)."""
    tag_names = tag_names or TagNames()
    tags = _tags(job)
    keep_alive = int((job.get("ResourceConfig") or {}).get("KeepAlivePeriodInSeconds") or 0)
    ended = _time(job, "TrainingEndTime")
    created = _time(job, "CreationTime") or now
    started = _time(job, "TrainingStartTime")
    # A pool seen only once already reused (the next job came within seconds) was still idle from the
    # job's end until then: that gap is worth learning from.
    idle_since_end = status in (WarmPoolStatus.AVAILABLE, WarmPoolStatus.REUSED)
    available_since = ended if idle_since_end else None
    expires = (
        ended + timedelta(seconds=keep_alive)
        if ended is not None and status is WarmPoolStatus.AVAILABLE
        else None
    )
    billable = int((job.get("WarmPoolStatus") or {}).get("ResourceRetainedBillableTimeInSeconds") or 0)
    duration = (ended - (started or created)).total_seconds() if ended is not None else None
    return Pool(
        pool_id=name,
        job_name=name,
        job_arn=str(job.get("TrainingJobArn", "")),
        match_key=key,
        status=status,
        job_status=str(job.get("TrainingJobStatus", "")),
        owner=tags.get(tag_names.owner),
        team=tags.get(tag_names.team),
        tags=tags,
        failure_reason=job.get("FailureReason"),
        tuning_job_arn=job.get("TuningJobArn"),
        job_keep_alive_seconds=keep_alive,
        keep_alive_seconds=keep_alive,
        available_since=available_since,
        expires_at=expires,
        lifetime_started_at=created,
        billable_seconds=billable,
        lineage=(name,),
        lineage_jobs=1,
        last_job_duration_s=duration,
    )


def _name_reused(known: PoolRecord, job: dict[str, Any]) -> bool:
    """Whether the job SageMaker describes is a new job of the name of the one the pool's record holds:
    the record has its pool gone (Terminated, which no pool comes back from), SageMaker has the job's
    pool InUse or Available, and the job was created after the old one's pool became idle (or, not
    known, after the pool began): a job can be deleted once it has ended and keeps no Available pool,
    and its name used again (DeleteTrainingJob). A describe that still shows the pool Available just
    after warmpool released it is the old job's, created before its end."""
    status = (job.get("WarmPoolStatus") or {}).get("Status")
    created = _time(job, "CreationTime")
    began = known.pool.available_since or known.pool.lifetime_started_at
    return (
        known.pool.status is WarmPoolStatus.TERMINATED
        and status in (WarmPoolStatus.IN_USE.value, WarmPoolStatus.AVAILABLE.value)
        and created is not None
        and began is not None
        and created > began
    )


def _new_job_of_the_name(known: PoolRecord) -> PoolRecord:
    """The record a new job of a deleted job's name starts from (`_name_reused`): the pool's id and
    version (its registry item is written over, its trail goes on), nothing of the old job's. It took
    the old one's lineage, lifetime, plan, promises and warnings said: its pool, counted from the old
    job's provisioning weeks before, was released at once as past its maximum lifetime. Its tags are
    read again (`_refresh`)."""
    pool = replace(
        known.pool,
        lineage=(known.pool.job_name,),
        lineage_jobs=1,
        lifetime_started_at=None,
        steps_taken=0,
        horizon_at=None,
        override_until=None,
        outside_keep_alive_seconds=None,
        outside_set_at=None,
        outside_shortened=False,
    )
    return PoolRecord(pool=pool)


def _state_of(record: PoolRecord) -> tuple[Any, ...]:
    pool = record.pool
    return (
        pool.pool_id,
        pool.job_name,
        pool.status,
        pool.job_status,
        record.tuner_owned,
        pool.available_since,
    )


def team_of(pool: Pool, policy: PolicyDocument) -> str:
    """The team a pool counts for (limits, budgets, histories, digests): its team tag, else the
    policy's default team, the team whose rules it gets (the tag `tags.team` names, see `pool_team`)."""
    return pool_team(policy, pool) or policy.default_team


def idle_cost_by_day(pool: Pool, policy: PolicyDocument, until: datetime) -> list[tuple[datetime, float]]:
    """What the pool's idle time from `available_since` to `until` cost at the policy's price, cut at
    midnights on its team's clock: (start of each part, on that clock, USD), as the team's ledger books
    it."""
    if pool.available_since is None:
        return []
    per_second = policy_cost_model(policy, pool).idle_cost_per_second
    zone = ledger_zone(policy, team_of(pool, policy))
    return [
        (start.astimezone(zone), (end - start).total_seconds() * per_second)
        for start, end in days_of(pool.available_since, until, zone)
    ]


def _team_tags(teams: set[str], policy: PolicyDocument) -> set[str | None]:
    """The team tags of the pools that count for `teams`: theirs, and none for the default team."""
    return {*teams, *([None] if policy.default_team in teams else [])}


def _purpose_of(schedule_name: str) -> str:
    """The purpose of a look from its schedule's name (which carries the purpose's first six letters)."""
    for purpose in ("expiring-soon", "expiry"):
        if f"-{purpose[:6]}-" in schedule_name:
            return purpose
    return "step"


def _report_unreadable(failed: list[str], unreadable: list[UnreadableItemError], metrics: Metrics) -> None:
    """The pool items a reconciler run met that this version cannot read (edited by hand, or written
    by a version it does not know), skipped in its listings or failing a pool's repair (its own item,
    or another of its team's its decision reads): each in `failed` once by its key and the field
    (ReconcilerFailures), unless a pool's failure there names it already, and counted once
    (`UnreadableItems`). Every run reports them until the item is restored."""
    seen: set[str] = set()
    for exc in unreadable:
        if exc.key in seen:
            continue  # listed by the sweep and by the run's own listing, or met by a repair too
        seen.add(exc.key)
        if not any(f"registry item {exc.key} " in entry for entry in failed):
            failed.append(f"{exc.key}: {type(exc).__name__}: {exc}")
    if seen:
        metrics.count("UnreadableItems", len(seen))


def _alone(pool: Pool) -> bool:
    """A pool of one job, named after it: what a job whose first events came before its predecessor
    was seen Reused is registered as, and the only pool a join takes."""
    return pool.pool_id == pool.job_name and pool.jobs_in_lineage == 1


def _successor_of(known: PoolRecord, job_name: str) -> bool:
    """Whether `job_name`, mapped to this pool, comes after the job its record holds: the record was
    left on an earlier job that was Reused (its successor not yet recorded). A job of the lineage that
    is not its latest is an earlier one."""
    return known.pool.status is WarmPoolStatus.REUSED and job_name not in known.pool.lineage


def tuning_job_name(tuning_job_arn: str, trial_job_name: str) -> str:
    """The tuning job's name, as DescribeHyperParameterTuningJob wants it. SageMaker may write the name
    lowercased in the ARN, and describing `MySweep` as `mysweep` answers that it does not exist, which
    would give a running tuner's pools to the engine; its trials are named after it (`MySweep-001-...`),
    so the trial's name gives the case back; so does the tuning job's own name as SageMaker lists it
    (what a watch the upgrade's repair wrote keeps: `_watch_tuning_job`)."""
    name = tuning_job_arn.rsplit("/", 1)[-1]
    prefix = trial_job_name[: len(name)]
    if prefix.lower() == name.lower() and trial_job_name[len(name) : len(name) + 1] in ("-", ""):
        return prefix
    return name


def _left_to_tuner(record: PoolRecord | None) -> str:
    """Whose a pool left to its running tuning job is, and when warmpool decides it, as a person
    asking about it (`pools release`, Slack's buttons, `policy explain --job`) reads it: the pool is
    Available, as `pools list` shows it, but the tuning job's until that ends."""
    arn = record.pool.tuning_job_arn if record is not None else None
    if record is None or not arn:
        return "left to its tuning job while the tuning job runs (warmpool decides it once it ends)"
    tuner = tuning_job_name(arn, record.pool.job_name)
    return f"left to its tuning job {tuner} while the tuning job runs (warmpool decides it once {tuner} ends)"


def _tuning_status_of(described: dict[str, Any] | None) -> str | None:
    """HyperParameterTuningJobStatus of a description; None for a tuning job that no longer exists."""
    if described is None:
        return None
    return str(described.get("HyperParameterTuningJobStatus") or "") or None


def _tuning_name_of(notice: TuningNotice) -> str:
    """The tuning job's name, as its notice says it (else as its ARN does)."""
    said = notice.notification.facts.get("tuning_job_name") if notice.notification is not None else None
    return str(said or notice.tuning_job_arn.rsplit("/", 1)[-1])


def _cut(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters, ending in "…" when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _of_the_sweep(owned: Sequence[PoolRecord], created: datetime | None) -> list[PoolRecord]:
    """The pools of a tuning job's ARN that are this sweep's: a pool whose trial ended, or which was
    gone (until when it was warm), before the sweep was created is an earlier sweep's of its name
    (deleted, the name used again: the same ARN), not this one's to hand back or to tell its owners on."""

    def of_this_sweep(pool: Pool) -> bool:
        if created is None:
            return True
        if pool.status is WarmPoolStatus.TERMINATED:
            return pool.expires_at is None or pool.expires_at > created
        return pool.available_since is None or pool.available_since >= created

    return [r for r in owned if of_this_sweep(r.pool)]


def _tuning_created(described: dict[str, Any] | None) -> datetime | None:
    """CreationTime of a tuning job's description (None for one that no longer exists): tells a sweep
    from an earlier one of its name (`TuningNotice.of_an_earlier_sweep`)."""
    return parse_time((described or {}).get("CreationTime"))


def _tuner_gone(name: str, status: str | None) -> str:
    """Why a tuning job no longer keeps its trials' pools, for the audit trail."""
    name = name or "(none named)"
    if status is None:
        return f"tuning job {name} no longer exists"
    return f"tuning job {name} is {status}"


def _releases(decision: Decision | None) -> bool:
    """Whether `decision` released the pool in SageMaker (a dry run's release changed nothing)."""
    return decision is not None and decision.action is Action.RELEASE and not decision.dry_run


def _left_undone_by_a_dry_run(decision: Decision | None) -> bool:
    """Whether the decision was a dry run's that would have changed the pool's keep-alive."""
    return decision is not None and decision.dry_run and _changes_sagemaker(replace(decision, dry_run=False))


def _leaves_the_plan(decision: Decision, request: UserRequest) -> bool:
    """Whether `decision` refused a person's extension and changed nothing: no keep-alive update (nor,
    under a dry run, one it would have made) and no promise; the pool's own plan stands."""
    return (
        request.kind == "extend"
        and decision.promised_until is None
        and not _changes_sagemaker(replace(decision, dry_run=False))
        and not decision.release_pool_ids
    )


def _recorded_released(record: PoolRecord) -> bool:
    """Whether the pool is recorded gone by a release (its notice saved with it, or sent)."""
    return record.pool.status is WarmPoolStatus.TERMINATED and _releases(record.last_decision)


def _changes_sagemaker(decision: Decision) -> bool:
    """Whether carrying the decision out updates the pool's keep-alive in SageMaker (`_execute`)."""
    return (
        not decision.dry_run
        and decision.keep_alive_seconds is not None
        and decision.action in (Action.EXTEND, Action.SHORTEN, Action.RELEASE)
    )


def _refused(decision: Decision, error: str) -> Decision:
    """What a decision SageMaker refused to carry out amounts to: nothing changed, and why."""
    return replace(
        decision,
        action=Action.KEEP,
        keep_alive_seconds=None,
        next_check_at=None,
        rule="sagemaker.refused",
        reasons=(f"SageMaker refused the update: {error}", *decision.reasons),
        release_pool_ids=(),
        promised_until=None,
        asked_until=None,
    )
