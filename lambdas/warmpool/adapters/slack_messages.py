"""The Slack messages posted about a pool in bot-token mode (their channel and `ts`), kept in the
registry table beside the pool (docs/registry.md, "Slack message"): what `chat.update` needs to take
their buttons away when the pool ends. One small item per message, not a field of the pool's item: the
pool item stays the size it was, its codec and version untouched (the engine's optimistic locking
never races the notifier), and a pool told of many times keeps many messages. A message of several
pools (a sweep's end) is kept under each of them, naming them all (`pools`), and updated when the last
of them ends."""

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
    # A message of several pools (a sweep's end, each pool's line with its buttons): every pool's id,
    # the message kept under each of them; updated once none of them holds it any more. Empty: the
    # message is this pool's alone.
    pools: tuple[str, ...] = ()
    # and what it becomes then: its text and blocks without its buttons (JSON; Slack cannot be asked
    # for it back without another scope), a few KB (Slack's own limits bound it)
    ended_text: str = ""
    ended_blocks: str = ""


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
                **(
                    {
                        "pools": {"SS": list(handle.pools)},
                        "ended_text": {"S": handle.ended_text},
                        "ended_blocks": {"S": handle.ended_blocks},
                    }
                    if handle.pools
                    else {}
                ),
            },
        )

    def holds(self, pool_id: str, channel: str, ts: str) -> bool:
        """Whether the message is still kept under the pool (one GetItem): a pool of it not ended yet."""
        answer = self._client.get_item(
            TableName=self.table_name, Key=self._key(pool_id, channel, ts), ProjectionExpression="pk"
        )
        return "Item" in answer

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
                        pools=tuple(sorted(item.get("pools", {}).get("SS", []))),
                        ended_text=item.get("ended_text", {}).get("S", ""),
                        ended_blocks=item.get("ended_blocks", {}).get("S", ""),
                    )
                )
            if "LastEvaluatedKey" not in page:
                return handles
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def forget(self, handle: SlackMessageHandle) -> None:
        self._client.delete_item(
            TableName=self.table_name, Key=self._key(handle.pool_id, handle.channel, handle.ts)
        )
