"""The notification topic: one message per notification, with attributes subscribers filter on."""

from __future__ import annotations

from typing import Any

from warmpool.domain.messages import RenderedMessage, dry_run, sns_message
from warmpool.domain.model import Notification, NotificationKind

NONE = "none"  # attribute value when a tag is missing: SNS attributes cannot be empty
# About a team, not a job: no owner tag is missing, so no `owner` attribute (`none` would send every
# digest to the subscribers of jobs without an owner tag, `{"owner": ["none"]}`).
WITHOUT_OWNER = frozenset({NotificationKind.DAILY_DIGEST})
# About the account (a warm-pool quota), neither a team's nor a job's: no `team` or `owner` attribute.
ACCOUNT_WIDE = frozenset({NotificationKind.QUOTA_WARNING})


class SnsPublisher:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self.topic_arn = topic_arn

    def publish(self, notification: Notification, message: RenderedMessage, *, default_team: str) -> str:
        """`team` is the team the message is for: the job's team tag, else the policy's `default_team`,
        which a job without one counts for (its limits, budget, digest and Slack channel): the default
        team's subscription, `{"team": ["platform"]}`, missed the pools it was told of in Slack, whose
        `team` was `none`. Such a message has `team_tag` = `none` too, for whoever follows up the
        untagged jobs."""
        attributes = {
            "team": notification.team or default_team,
            "owner": notification.owner,
            "kind": notification.kind.value,
            "severity": notification.severity.value,
        }
        if not notification.team:
            attributes["team_tag"] = NONE
        if notification.kind in WITHOUT_OWNER | ACCOUNT_WIDE:
            del attributes["owner"]
        if notification.kind in ACCOUNT_WIDE:
            del attributes["team"]
            attributes.pop("team_tag", None)
        if dry_run(notification):
            # a subscriber acting on `released` (a script, a ticket) can leave out what did not happen:
            # {"dry_run": [{"exists": false}]}
            attributes["dry_run"] = "true"
        response = self._client.publish(
            TopicArn=self.topic_arn,
            Subject=message.subject,
            MessageStructure="json",
            # `default` for e-mail and SMS subscribers; the JSON document for machines.
            Message=sns_message(message.text, message.document),
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value or NONE}
                for name, value in attributes.items()
            },
        )
        return str(response["MessageId"])
