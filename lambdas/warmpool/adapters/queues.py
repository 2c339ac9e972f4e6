"""SQS: the notify queue (notifications for the notifier) and the lifecycle DLQ (rejected events)."""

from __future__ import annotations

from typing import Any

from warmpool.domain.codec import notification_to_json
from warmpool.domain.model import Notification


class SqsNotificationOutbox:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self.queue_url = queue_url

    def send(self, notification: Notification) -> None:
        self._client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=notification_to_json(notification),
            MessageAttributes={
                "kind": {"DataType": "String", "StringValue": notification.kind.value},
                "dedupe_key": {"DataType": "String", "StringValue": notification.dedupe_key},
            },
        )


class SqsDeadLetters:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self.queue_url = queue_url

    def send(self, body: str, reason: str, field: str | None) -> None:
        attributes = {"reason": {"DataType": "String", "StringValue": reason[:1000] or "unknown"}}
        if field:
            attributes["field"] = {"DataType": "String", "StringValue": field[:256]}
        self._client.send_message(QueueUrl=self.queue_url, MessageBody=body, MessageAttributes=attributes)
