"""The Slack messages posted about a pool in bot-token mode (their channel and `ts`), kept in the
registry table beside the pool (docs/registry.md, "Slack message"): what `chat.update` needs to take
their buttons away when the pool ends. One small item per message, not a field of the pool's item: the
pool item stays the size it was, its codec and version untouched (the engine's optimistic locking
never races the notifier), and a pool told of many times keeps many messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

MESSAGE_SK_PREFIX = "SLACKMSG#"
# Longer than a pool lives (28 days at most): a message of a pool whose end was never told (its
# `released` notice lost) is forgotten on its own then
KEPT_FOR = timedelta(days=30)


@dataclass(frozen=True)
class SlackMessageHandle:
    pool_id: str
    channel: str
    ts: str
    job_name: str
    kind: str


class SlackMessageHandles:
    def __init__(self, table_name: str, client: Any) -> None:
        self.table_name = table_name
        self._client = client

    @staticmethod
    def _key(pool_id: str, channel: str, ts: str) -> dict[str, Any]:
        return {"pk": {"S": f"POOL#{pool_id}"}, "sk": {"S": f"{MESSAGE_SK_PREFIX}{channel}#{ts}"}}

    def keep(self, handle: SlackMessageHandle, *, at: datetime) -> None:
        """Kept (a put: keeping it again, on a retry, changes nothing)."""
        self._client.put_item(
            TableName=self.table_name,
            Item={
                **self._key(handle.pool_id, handle.channel, handle.ts),
                "channel": {"S": handle.channel},
                "ts": {"S": handle.ts},
                "job_name": {"S": handle.job_name},
                "kind": {"S": handle.kind},
                "posted_at": {"S": at.isoformat()},
                "ttl": {"N": str(int((at + KEPT_FOR).timestamp()))},
            },
        )

    def of_pool(self, pool_id: str) -> list[SlackMessageHandle]:
        """The pool's messages still kept, oldest first within a channel."""
        handles: list[SlackMessageHandle] = []
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :m)",
            "ExpressionAttributeValues": {":p": {"S": f"POOL#{pool_id}"}, ":m": {"S": MESSAGE_SK_PREFIX}},
        }
        while True:
            page = self._client.query(**request)
            for item in page.get("Items", []):
                handles.append(
                    SlackMessageHandle(
                        pool_id=pool_id,
                        channel=item["channel"]["S"],
                        ts=item["ts"]["S"],
                        job_name=item["job_name"]["S"],
                        kind=item["kind"]["S"],
                    )
                )
            if "LastEvaluatedKey" not in page:
                return handles
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def forget(self, handle: SlackMessageHandle) -> None:
        self._client.delete_item(
            TableName=self.table_name, Key=self._key(handle.pool_id, handle.channel, handle.ts)
        )
