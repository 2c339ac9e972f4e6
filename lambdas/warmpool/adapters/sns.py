"""The notification topic: one message per notification, with attributes subscribers filter on.

`MessageStructure="json"`: `default` (e-mail, SMS, anything not listed) gets the plain text; `sqs`,
`lambda` and `https` subscribers get the JSON document. The String attributes `team`, `owner`, `kind`
and `severity` are always present (NONE when a tag is missing: SNS rejects empty attribute values, and
a filter policy can then select `{"owner": ["none"]}`).
"""

from __future__ import annotations

import json
from typing import Any

from warmpool.domain.messages import RenderedMessage
from warmpool.domain.model import Notification

NONE = "none"  # attribute value when a tag is missing
# SNS's limit is 256 KiB for the message and its attributes together; leave room for the attributes.
MAX_MESSAGE_BYTES = 250_000


def message_attributes(notification: Notification) -> dict[str, dict[str, str]]:
    return {
        name: {"DataType": "String", "StringValue": value or NONE}
        for name, value in (
            ("team", notification.team),
            ("owner", notification.owner),
            ("kind", notification.kind.value),
            ("severity", notification.severity.value),
        )
    }


def message_body(message: RenderedMessage) -> str:
    """The per-protocol JSON body, within SNS's size limit: a huge fact (a digest of a large fleet, a
    long failure reason) is dropped from the machine document, never the whole message."""
    document = message.document
    machine = json.dumps(document, default=str, sort_keys=True)
    text = message.text
    body = json.dumps({"default": text, "sqs": machine, "lambda": machine, "https": machine})
    if len(body.encode()) <= MAX_MESSAGE_BYTES:
        return body
    trimmed = {k: v for k, v in document.items() if k not in ("facts", "text")}
    trimmed["truncated"] = True
    machine = json.dumps(trimmed, default=str, sort_keys=True)
    for keep in (50_000, 10_000, 1_000):
        short = text if len(text) <= keep else text[:keep] + "\n... (truncated)"
        body = json.dumps({"default": short, "sqs": machine, "lambda": machine, "https": machine})
        if len(body.encode()) <= MAX_MESSAGE_BYTES:
            break
    return body


class SnsPublisher:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self.topic_arn = topic_arn

    def publish(self, notification: Notification, message: RenderedMessage) -> str:
        response = self._client.publish(
            TopicArn=self.topic_arn,
            Subject=message.subject,
            MessageStructure="json",
            Message=message_body(message),
            MessageAttributes=message_attributes(notification),
        )
        return str(response["MessageId"])
