"""Secrets Manager, read at most every few minutes per container. Values never reach logs, errors or
environment variables; errors name the secret (its name, from the ARN), never its content."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

# Long enough that a busy notifier reads each secret a few times an hour; short enough that a rotated
# webhook or signing secret is picked up without redeploying.
CACHE_SECONDS = 300.0


class SecretFormatError(ValueError):
    """A secret does not hold what warmpool expects; the message names the secret and the fix."""


class SecretStore:
    def __init__(
        self,
        client: Any,
        *,
        cache_seconds: float = CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, str]] = {}

    def text(self, arn: str) -> str:
        now = self._monotonic()
        cached = self._cache.get(arn)
        if cached is None or now - cached[0] >= self._cache_seconds:
            response = self._client.get_secret_value(SecretId=arn)
            if "SecretString" not in response:
                raise SecretFormatError(f"secret {_name(arn)}: store the value as a string, not binary")
            cached = (now, str(response["SecretString"]))
            self._cache[arn] = cached
        return cached[1]

    def mapping(self, arn: str) -> dict[str, str]:
        """A JSON object of key -> value (the Slack webhooks secret: webhook key -> URL)."""
        try:
            value = json.loads(self.text(arn) or "{}")
        except ValueError:
            raise SecretFormatError(
                f'secret {_name(arn)}: must be a JSON object like {{"vision": "https://hooks.slack.com/..."}}'
            ) from None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise SecretFormatError(f"secret {_name(arn)}: must be a JSON object of key -> webhook URL")
        return {str(k): v for k, v in value.items()}

    def forget(self, arn: str) -> None:
        """Drop a cached value (after Slack says a webhook is gone: it may have been rotated)."""
        self._cache.pop(arn, None)


def _name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]
