"""The notification topic: one message per notification, with attributes subscribers filter on."""

from __future__ import annotations

from typing import Any

from warmpool.domain.messages import RenderedMessage, sns_message
from warmpool.domain.model import Notification

NONE = "none"  # attribute value when a tag is missing: SNS attributes cannot be empty


class SnsPublisher:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self.topic_arn = topic_arn

    def publish(self, notification: Notification, message: RenderedMessage) -> str:
        response = self._client.publish(
            TopicArn=self.topic_arn,
            Subject=message.subject,
            MessageStructure="json",
            # `default` for e-mail and SMS subscribers; the JSON document for machines.
            Message=sns_message(message.text, message.document),
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value or NONE}
                for name, value in (
                    ("team", notification.team),
                    ("owner", notification.owner),
                    ("kind", notification.kind.value),
                    ("severity", notification.severity.value),
                )
            },
        )
        return str(response["MessageId"])
