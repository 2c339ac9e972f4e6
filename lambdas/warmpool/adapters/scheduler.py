"""EventBridge Scheduler one-shot schedules that bring a pool back to the engine."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from warmpool.models.events import STEP_DETAIL_TYPE, STEP_SOURCE


def schedule_name(pool_id: str, job_name: str, step: int, purpose: str, at: datetime) -> str:
    """Deterministic, so a retried invocation finds the schedule it already made; the time it is due
    makes each planned look its own schedule, also when a look changed nothing and the next one has the
    same step (names: 64 characters at most, up to a 7-digit step)."""
    digest = hashlib.sha256(f"{pool_id}|{job_name}".encode()).hexdigest()[:16]
    short = "".join(c for c in job_name if c.isalnum() or c in "-_")[:20]
    return f"wp-{short}-{digest}-{purpose[:6]}-{step}-{at:%m%d%H%M}"


class EventBridgeStepScheduler:
    def __init__(self, client: Any, *, group_name: str, role_arn: str, target_arn: str) -> None:
        self._client = client
        self.group_name = group_name
        self.role_arn = role_arn
        self.target_arn = target_arn

    def schedule(self, *, pool_id: str, job_name: str, step: int, at: datetime, purpose: str) -> str:
        from botocore.exceptions import ClientError

        name = schedule_name(pool_id, job_name, step, purpose, at)
        detail = {
            "PoolId": pool_id,
            "TrainingJobName": job_name,
            "Step": step,
            "Purpose": purpose,
            "At": at.strftime("%Y-%m-%dT%H:%M"),
        }
        body = {"source": STEP_SOURCE, "detail-type": STEP_DETAIL_TYPE, "detail": detail}
        try:
            self._client.create_schedule(
                Name=name,
                GroupName=self.group_name,
                ScheduleExpression=f"at({at.strftime('%Y-%m-%dT%H:%M:%S')})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target={"Arn": self.target_arn, "RoleArn": self.role_arn, "Input": json.dumps(body)},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConflictException":
                raise
            # Same name: a retried invocation already created it. Same pool, step, purpose and minute.
        return name

    def exists(self, name: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.get_schedule(Name=name, GroupName=self.group_name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return False
            raise
        return True

    def cancel(self, name: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self._client.delete_schedule(Name=name, GroupName=self.group_name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
