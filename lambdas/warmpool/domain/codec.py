"""JSON wire format of the values that cross a queue: notifications and decisions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from warmpool.domain.model import (
    Action,
    BudgetFigures,
    Decision,
    IdleGap,
    MatchKey,
    Notification,
    NotificationKind,
    Pool,
    Severity,
    WarmPoolStatus,
)


def decision_from_json(data: dict[str, Any]) -> Decision:
    next_check = data.get("next_check_at")
    promised = data.get("promised_until")
    asked = data.get("asked_until")
    return Decision(
        action=Action(data["action"]),
        keep_alive_seconds=data.get("keep_alive_seconds"),
        horizon_seconds=int(data["horizon_seconds"]),
        next_check_at=datetime.fromisoformat(next_check) if next_check else None,
        rule=str(data["rule"]),
        reasons=tuple(data.get("reasons", ())),
        dry_run=bool(data.get("dry_run", False)),
        notify=tuple(NotificationKind(k) for k in data.get("notify", ())),
        release_pool_ids=tuple(data.get("release_pool_ids", ())),
        would_release_pool_ids=tuple(data.get("would_release_pool_ids", ())),  # none before it was kept
        promised_until=datetime.fromisoformat(promised) if promised else None,
        asked_until=datetime.fromisoformat(asked) if asked else None,
        budget=_budget_from_json(data.get("budget")),  # none in a decision saved by an earlier version
    )


def _budget_from_json(data: dict[str, Any] | None) -> BudgetFigures | None:
    if not data:
        return None
    period = data["period"]
    if period not in ("day", "month"):
        raise ValueError(f"a decision's budget period is day or month, got {period!r}")
    return BudgetFigures(period, float(data["budget_usd"]), float(data["spent_usd"]))


def notification_to_json(notification: Notification) -> str:
    return json.dumps(
        {
            "kind": notification.kind.value,
            "severity": notification.severity.value,
            "pool_id": notification.pool_id,
            "job_name": notification.job_name,
            "version": notification.version,
            "team": notification.team,
            "owner": notification.owner,
            "facts": dict(notification.facts),
            "decision": notification.decision.to_json() if notification.decision else None,
        },
        default=_default,
        sort_keys=True,
    )


def notification_from_json(text: str) -> Notification:
    data = json.loads(text)
    decision = data.get("decision")
    return Notification(
        kind=NotificationKind(data["kind"]),
        severity=Severity(data["severity"]),
        pool_id=str(data["pool_id"]),
        job_name=str(data["job_name"]),
        version=int(data["version"]),
        team=data.get("team"),
        owner=data.get("owner"),
        facts=data.get("facts") or {},
        decision=decision_from_json(decision) if decision else None,
    )


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__} in a notification")


def _dt(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _parse_dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def gap_to_json(gap: IdleGap) -> list[Any]:
    # Compact on purpose: pool history lives inside one DynamoDB item (400 KB limit).
    # [started, seconds, reused, job seconds, running jobs, known gaps, job name]; unknown context is
    # null, and trailing unknowns are left out.
    context = [
        None if gap.job_duration_s is None else round(gap.job_duration_s),
        gap.running_jobs,
        gap.known_gaps,
        gap.job_name,
    ]
    while context and context[-1] is None:
        context.pop()
    return [gap.started_at.isoformat(), round(gap.seconds, 1), 1 if gap.reused else 0, *context]


def gap_from_json(data: list[Any]) -> IdleGap:
    # Older gaps have three fields (before the job's duration was kept), four (before the running
    # jobs and known gaps were) or six (before the job's name was).
    def field(index: int) -> Any:
        return data[index] if len(data) > index else None

    duration, running, known, job_name = field(3), field(4), field(5), field(6)
    return IdleGap(
        datetime.fromisoformat(data[0]),
        float(data[1]),
        bool(data[2]),
        None if duration is None else float(duration),
        _optional_int(running),
        _optional_int(known),
        None if job_name is None else str(job_name),
    )


def pool_to_json(pool: Pool) -> dict[str, Any]:
    return {
        "pool_id": pool.pool_id,
        "job_name": pool.job_name,
        "job_arn": pool.job_arn,
        "match_key": pool.match_key.to_dict(),
        "status": pool.status.value,
        "job_status": pool.job_status,
        "owner": pool.owner,
        "team": pool.team,
        "tags": dict(pool.tags),
        "failure_reason": pool.failure_reason,
        "tuning_job_arn": pool.tuning_job_arn,
        "job_keep_alive_seconds": pool.job_keep_alive_seconds,
        "keep_alive_seconds": pool.keep_alive_seconds,
        "available_since": _dt(pool.available_since),
        "expires_at": _dt(pool.expires_at),
        "lifetime_started_at": _dt(pool.lifetime_started_at),
        "horizon_at": _dt(pool.horizon_at),
        "steps_taken": pool.steps_taken,
        "billable_seconds": pool.billable_seconds,
        "lineage": list(pool.lineage),
        "lineage_jobs": pool.lineage_jobs,
        "last_job_duration_s": pool.last_job_duration_s,
        "running_at_idle": pool.running_at_idle,
        "known_gaps_at_idle": pool.known_gaps_at_idle,
        "override_until": _dt(pool.override_until),
        "outside_keep_alive_seconds": pool.outside_keep_alive_seconds,
        "outside_set_at": _dt(pool.outside_set_at),
        "outside_shortened": pool.outside_shortened,
        "version": pool.version,
    }


def pool_from_json(data: Mapping[str, Any]) -> Pool:
    return Pool(
        pool_id=str(data["pool_id"]),
        job_name=str(data["job_name"]),
        job_arn=str(data.get("job_arn", "")),
        match_key=MatchKey.from_dict(data["match_key"]),
        status=WarmPoolStatus(data["status"]),
        job_status=str(data.get("job_status", "")),
        owner=data.get("owner"),
        team=data.get("team"),
        tags=dict(data.get("tags") or {}),
        failure_reason=data.get("failure_reason"),
        tuning_job_arn=data.get("tuning_job_arn"),
        job_keep_alive_seconds=int(data.get("job_keep_alive_seconds", 0)),
        keep_alive_seconds=int(data.get("keep_alive_seconds", 0)),
        available_since=_parse_dt(data.get("available_since")),
        expires_at=_parse_dt(data.get("expires_at")),
        lifetime_started_at=_parse_dt(data.get("lifetime_started_at")),
        horizon_at=_parse_dt(data.get("horizon_at")),
        steps_taken=int(data.get("steps_taken", 0)),
        billable_seconds=int(data.get("billable_seconds", 0)),
        lineage=tuple(data.get("lineage") or ()),
        lineage_jobs=int(data.get("lineage_jobs") or len(data.get("lineage") or ())),
        last_job_duration_s=data.get("last_job_duration_s"),
        running_at_idle=_optional_int(data.get("running_at_idle")),
        known_gaps_at_idle=_optional_int(data.get("known_gaps_at_idle")),
        override_until=_parse_dt(data.get("override_until")),
        outside_keep_alive_seconds=_optional_int(data.get("outside_keep_alive_seconds")),
        outside_set_at=_parse_dt(data.get("outside_set_at")),
        outside_shortened=bool(data.get("outside_shortened", False)),
        version=int(data.get("version", 0)),
    )
