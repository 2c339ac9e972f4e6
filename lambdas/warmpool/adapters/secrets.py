"""Secrets Manager, read once per container and cached. Values never reach logs or env vars."""

from __future__ import annotations

import json
from typing import Any


class SecretStore:
    def __init__(self, client: Any) -> None:
        self._client = client
        self._cache: dict[str, str] = {}

    def text(self, arn: str) -> str:
        if arn not in self._cache:
            self._cache[arn] = str(self._client.get_secret_value(SecretId=arn)["SecretString"])
        return self._cache[arn]

    def mapping(self, arn: str) -> dict[str, str]:
        """A JSON object of key -> URL. Its errors name the secret and the fix, never a value: they are
        logged, and the values are webhook URLs."""
        name = arn.rsplit(":", 1)[-1]
        example = 'e.g. {"vision": "https://hooks.slack.com/services/..."}'
        try:
            value = json.loads(self.text(arn) or "{}")
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"secret {name} is not JSON ({exc.msg}: line {exc.lineno}, column {exc.colno}); "
                f"put a JSON object of key -> webhook URL in it, {example}"
            ) from None
        if not isinstance(value, dict):
            raise ValueError(f"secret {name} must hold a JSON object of key -> webhook URL, {example}")
        return {str(k): v if isinstance(v, str) else "" for k, v in value.items()}

    @staticmethod
    def webhook(arn: str, mapping: dict[str, str], key: str) -> str | None:
        """The URL of `key`, None when the secret has none; one that is not a URL (a value of another
        type, a URL without its https://) raises, naming the key, not the value."""
        url = mapping.get(key)
        if url is not None and not url.startswith(("https://", "http://")):
            raise ValueError(
                f"secret {arn.rsplit(':', 1)[-1]}: the value of {key!r} is not a webhook URL; put the "
                "incoming-webhook URL Slack gave, beginning https://"
            )
        return url
