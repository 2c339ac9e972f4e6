"""What a notification says about a pool, as plain data (the notifier renders it into words).

The engine puts `pool_facts(...)` plus kind-specific keys into `Notification.facts`; the renderers
read only these keys, so a message can be re-rendered from the queue without AWS calls.
Kind-specific keys:
- missed-pool: `nearby_pool_job`, `differing_fields` (AWS field names, see MATCH_FIELDS)
- no-warm-pool: `reason` (e.g. the warm-pool quota for the instance type is 0 or used up)
- tuning-job-finished: `tuning_job_name`, `tuning_job_status`, `best_training_job`,
  `objective_metric`, `objective_value`; on the pool of its best (else latest) trial, or, when every
  pool its trials held is another job's, on none: then `pool_id` is None and the facts are only these,
  `tuning_job_arn`, and the `job_name`, `team` and `owner` of the trial a pool last held of it
- lifetime-ending: `lifetime_ends_at`, `max_lifetime_seconds` (the stack's `max_lifetime_days`)
- budget-warning: `budget_usd`, `spent_usd`, `period` ("day" or "month"): `budget_facts`, from the
  decision's `budget`; none in a warning queued by an earlier version
- quota-warning: `limit` (the quota), `current` (warm instances), `scope` (the instance type, e.g.
  "ml.p4d.24xlarge"), `instance_type`, `warn_at` (the policy's share), `quota_name` (in Service
  Quotas), `reason` (what happens at the quota, how to raise it), `reached_by_job`, `dry_run` (true
  when the policy's dry_run was on; absent otherwise)
- daily-digest: `dry_run` (true when the policy's dry_run was on; absent otherwise)
- released: `released_by`, `released_via` (who asked, as the decision's audit entry says) when a person
  released it and the notice is sent by that request
- pool-ended (sent to nobody: it updates Slack messages): `ended` ("expired", "taken", "lifetime",
  "deleted": its job deleted), `ended_at`, `taken_by` (the later job), `max_lifetime_seconds` (for
  "lifetime"), `found_at` (for "deleted": when warmpool found the job gone)
- any kind may carry `routing_note` (why it went to the team or the admins instead of the owner)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from warmpool.domain.model import MATCH_FIELDS, BudgetFigures, Pool


def idle_until(pool: Pool, now: datetime, lifetime_ends_at: datetime | None = None) -> datetime:
    """Until when the pool has idled, as SageMaker bills it: now, or its expiry once that has passed,
    or the end of its maximum lifetime (`lifetime_ends_at`), when SageMaker ended it whatever its
    keep-alive. A pool whose end no look has recorded yet (the look at its expiry lost, the
    reconciler unable to read its job) is still listed Available: counted until now, the digest's
    "so far" grew by its price every hour after SageMaker had stopped billing it."""
    ends = [t for t in (pool.expires_at, lifetime_ends_at) if t is not None]
    return min([now, *ends])


def idle_seconds_of(pool: Pool, now: datetime, lifetime_ends_at: datetime | None = None) -> float:
    """How long the pool has idled since its job ended (until `idle_until`). A pool found gone whose
    idle start warmpool never kept (released outside warmpool, or by a release whose save failed: it
    is first seen Terminated) has SageMaker's own count, `ResourceRetainedBillableTimeInSeconds`: its
    `released` notice said "$0.00 so far" of an hour's idling."""
    if pool.available_since is None:
        return float(pool.billable_seconds)
    return max(0.0, (idle_until(pool, now, lifetime_ends_at) - pool.available_since).total_seconds())


def pool_facts(
    pool: Pool,
    *,
    now: datetime,
    price_per_instance_hour: float | None,
    lifetime_ends_at: datetime | None = None,
) -> dict[str, Any]:
    """`lifetime_ends_at`: when the pool reaches the stack's maximum lifetime (None: not known), where
    its idling and its cost so far end, as its expiry's do (`idle_until`)."""
    idle_seconds = idle_seconds_of(pool, now, lifetime_ends_at)
    cost_per_hour = (
        price_per_instance_hour * pool.instance_count if price_per_instance_hour is not None else None
    )
    key = pool.match_key
    return {
        "pool_id": pool.pool_id,
        "job_name": pool.job_name,
        "job_arn": pool.job_arn,
        "job_status": pool.job_status,
        "failure_reason": pool.failure_reason,
        "warm_pool_status": pool.status.value,
        "instance_type": pool.instance_type,
        "instance_count": pool.instance_count,
        "owner": pool.owner,
        "team": pool.team,
        "available_since": pool.available_since.isoformat() if pool.available_since else None,
        "warm_until": pool.expires_at.isoformat() if pool.expires_at else None,
        "keep_alive_seconds": pool.keep_alive_seconds,
        "idle_seconds": round(idle_seconds),
        "cost_per_hour_usd": round(cost_per_hour, 4) if cost_per_hour is not None else None,
        "idle_cost_so_far_usd": (
            round(cost_per_hour * idle_seconds / 3600.0, 4) if cost_per_hour is not None else None
        ),
        "lineage": list(pool.lineage),
        "lineage_jobs": pool.jobs_in_lineage,
        "tuning_job_arn": pool.tuning_job_arn,
        "match": dict(
            zip(
                MATCH_FIELDS,
                (
                    key.role_arn,
                    key.instance_type,
                    key.instance_count,
                    key.volume_size_gb,
                    key.volume_kms_key_id or None,
                    list(key.subnets),
                    list(key.security_group_ids),
                    key.network_isolation,
                    key.inter_container_encryption,
                ),
                strict=True,
            )
        ),
    }


# What the daily digest says of each warm pool: a line of text, not the pool's whole story
DIGEST_POOL_FIELDS = (
    "pool_id",
    "job_name",
    "owner",
    "instance_type",
    "instance_count",
    "available_since",
    "warm_until",
    "idle_cost_so_far_usd",
)


def digest_pool_facts(
    pool: Pool,
    *,
    now: datetime,
    price_per_instance_hour: float | None,
    lifetime_ends_at: datetime | None = None,
) -> dict[str, Any]:
    facts = pool_facts(
        pool, now=now, price_per_instance_hour=price_per_instance_hour, lifetime_ends_at=lifetime_ends_at
    )
    return {name: facts[name] for name in DIGEST_POOL_FIELDS}


def budget_facts(budget: BudgetFigures) -> dict[str, Any]:
    """A budget warning's figures: which budget held the pool short, and how much of it is spent as
    the budget rule counted it (idled, plus booked by the team's other warm pools)."""
    return {"budget_usd": budget.budget_usd, "spent_usd": budget.spent_usd, "period": budget.period}
