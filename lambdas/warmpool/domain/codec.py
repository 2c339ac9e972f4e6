"""JSON wire format of the values that cross a queue: notifications and decisions."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from warmpool.domain.model import Action, Decision, Notification, NotificationKind, Severity


def decision_from_json(data: dict[str, Any]) -> Decision:
    next_check = data.get("next_check_at")
    return Decision(
        action=Action(data["action"]),
        keep_alive_seconds=data.get("keep_alive_seconds"),
        horizon_seconds=int(data["horizon_seconds"]),
        next_check_at=datetime.fromisoformat(next_check) if next_check else None,
        rule=str(data["rule"]),
        reasons=tuple(data.get("reasons", ())),
        dry_run=bool(data.get("dry_run", False)),
        notify=tuple(NotificationKind(k) for k in data.get("notify", ())),
    )


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
