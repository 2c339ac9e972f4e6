"""A fixed-window request counter per key in the registry table (pk `RATE#<key>`, sk the window),
incremented atomically and expired by the table's TTL. Stops a flood of Slack button presses from one
user reaching the engine; a few extra requests at a window boundary are acceptable."""

from __future__ import annotations

from datetime import datetime
from typing import Any

# DynamoDB deletes expired items within days, not at once: the counter's window is in its key, so a
# late deletion never blocks anyone; the TTL only keeps the table tidy.
TTL_AFTER_WINDOW_SECONDS = 600


class DynamoRateLimiter:
    def __init__(self, table_name: str, client: Any, *, limit: int, window_seconds: int = 60) -> None:
        if limit < 1 or window_seconds < 1:
            raise ValueError("limit and window_seconds must be at least 1")
        self.table_name = table_name
        self._client = client
        self.limit = limit
        self.window_seconds = window_seconds

    def allow(self, key: str, now: datetime) -> bool:
        """Count one request for `key` now; False once the window's limit is passed."""
        window = int(now.timestamp()) // self.window_seconds
        expires = (window + 1) * self.window_seconds + TTL_AFTER_WINDOW_SECONDS
        response = self._client.update_item(
            TableName=self.table_name,
            Key={"pk": {"S": f"RATE#{key}"}, "sk": {"S": str(window)}},
            UpdateExpression="ADD hits :one SET #ttl = :ttl",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={":one": {"N": "1"}, ":ttl": {"N": str(expires)}},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["hits"]["N"]) <= self.limit
