"""Stand-ins for the AWS machinery between resources: Lambda's SQS event-source mapping and
EventBridge Scheduler firing one-shot schedules."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from warmpool.domain.clock import Clock

Handler = Callable[[dict[str, Any], Any], Any]
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")


@dataclass
class LocalLambdaContext:
    function_name: str = "warmpool-local"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:warmpool-local"
    remaining_millis: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


@dataclass
class PumpStats:
    batches: int = 0
    records: int = 0
    failures: int = 0


class QueuePump:
    """Delivers a queue's messages to a handler in batches, as Lambda's event-source mapping does:
    failed records (batchItemFailures) stay on the queue and are retried; SQS's redrive policy moves a
    record to the DLQ after maxReceiveCount receives."""

    def __init__(
        self, sqs: Any, queue_url: str, handler: Handler, *, batch_size: int = 10, timeout_seconds: int = 60
    ) -> None:
        self._sqs = sqs
        self.timeout_seconds = timeout_seconds  # the function's: each invocation's context has it left
        self.queue_url = queue_url
        self._handler = handler
        self.batch_size = batch_size
        self.queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.stats = PumpStats()

    def pump_once(self) -> int:
        messages = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [self._record(m) for m in messages]}
        response = (
            self._handler(event, LocalLambdaContext(remaining_millis=self.timeout_seconds * 1000)) or {}
        )
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] in failed:
                self._sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.stats.batches += 1
        self.stats.records += len(messages)
        self.stats.failures += len(failed)
        return len(messages)

    def drain(self, max_batches: int = 1000) -> int:
        total = 0
        for _ in range(max_batches):
            count = self.pump_once()
            if count == 0:
                break
            total += count
        return total

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = message.get("Attributes", {})
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {
                "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                "SentTimestamp": attributes.get("SentTimestamp", "0"),
                "SenderId": attributes.get("SenderId", "local"),
                "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp", "0"),
            },
            "messageAttributes": {
                k: {"stringValue": v.get("StringValue"), "dataType": v.get("DataType", "String")}
                for k, v in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": "us-east-1",
        }


class SchedulePump:
    """Fires due one-shot `at()` schedules of a group on the virtual clock: sends the target input to
    the SQS target and deletes the schedule (ActionAfterCompletion=DELETE)."""

    def __init__(self, scheduler: Any, sqs: Any, group_name: str, clock: Clock) -> None:
        self._scheduler = scheduler
        self._sqs = sqs
        self.group_name = group_name
        self._clock = clock
        self.fired: list[dict[str, Any]] = []
        self.skipped: list[str] = []  # schedules a fault injector chose not to fire
        # GetSchedule results by name, with the summary's dates they were read at: a schedule is read
        # again only once it was re-created or updated (ListSchedules has no expression, GetSchedule has)
        self._read: dict[str, tuple[Any, dict[str, Any], datetime | None]] = {}

    def due(self) -> list[dict[str, Any]]:
        now = self._clock.now()
        due = [schedule for schedule, at in self._scheduled() if at is not None and at <= now]
        return sorted(due, key=lambda s: s["ScheduleExpression"])

    def next_at(self) -> datetime | None:
        """When the earliest schedule of the group is due (it may be due already), or None for none: the
        virtual clock stops there, as EventBridge Scheduler fires on time, not at the next tick."""
        times = [at for _, at in self._scheduled() if at is not None]
        return min(times, default=None)

    def _scheduled(self) -> list[tuple[dict[str, Any], datetime | None]]:
        """The group's schedules, each with the moment its `at()` expression names."""
        scheduled: list[tuple[dict[str, Any], datetime | None]] = []
        listed: set[str] = set()
        paginator = self._scheduler.get_paginator("list_schedules")
        for page in paginator.paginate(GroupName=self.group_name):
            for summary in page.get("Schedules", []):
                name = summary["Name"]
                listed.add(name)
                stamp = (summary.get("CreationDate"), summary.get("LastModificationDate"))
                read = self._read.get(name)
                if read is None or read[0] != stamp:
                    schedule = self._scheduler.get_schedule(Name=name, GroupName=self.group_name)
                    match = _AT.match(schedule["ScheduleExpression"])
                    at = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC) if match else None
                    read = self._read[name] = (stamp, schedule, at)
                _, schedule, at = read
                scheduled.append((schedule, at))
        for gone in self._read.keys() - listed:
            del self._read[gone]
        return scheduled

    def fire_due(self, drop: Callable[[str], bool] | None = None) -> int:
        fired = 0
        for schedule in self.due():
            name = schedule["Name"]
            if drop is None or not drop(name):
                target = schedule["Target"]
                url = self._sqs.get_queue_url(QueueName=target["Arn"].rsplit(":", 1)[-1])["QueueUrl"]
                self._sqs.send_message(QueueUrl=url, MessageBody=target["Input"])
                self.fired.append({"name": name, "input": json.loads(target["Input"])})
                fired += 1
            else:
                self.skipped.append(name)
            if schedule.get("ActionAfterCompletion") == "DELETE":
                self._scheduler.delete_schedule(Name=name, GroupName=self.group_name)
        return fired
