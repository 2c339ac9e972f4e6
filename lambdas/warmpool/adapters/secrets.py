"""Secrets Manager, read at most once a minute per container. Values never reach logs or env vars."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from warmpool.domain.clock import Clock, SystemClock

SECRET_CACHE_SECONDS = 60


class SecretStore:
    """Each value is read again once it is `cache_seconds` old: the operator fills the Slack secrets after
    the deploy (docs/deploy.md), fixes or rotates them later, and a container that read them before must
    not keep the old value for the hours it may live (every button press refused as unsigned, every
    message SNS only)."""

    def __init__(
        self, client: Any, *, clock: Clock | None = None, cache_seconds: int = SECRET_CACHE_SECONDS
    ) -> None:
        self._client = client
        self._clock = clock or SystemClock()
        self._ttl = timedelta(seconds=cache_seconds)
        self._cache: dict[str, tuple[str, datetime]] = {}

    def text(self, arn: str) -> str:
        now = self._clock.now()
        cached = self._cache.get(arn)
        if cached is None or now - cached[1] >= self._ttl:
            cached = (str(self._client.get_secret_value(SecretId=arn)["SecretString"]), now)
            self._cache[arn] = cached
        return cached[0]

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
        type, a URL without its https://) raises, naming the key, not the value. So does one with a
        character HTTP refuses in a URL (a space, a tab, a letter outside ASCII: a URL pasted across a
        line break): the HTTP client's error quoted the URL's path, the webhook's token, into the log."""
        from warmpool.domain.slack_actions import URL_CHARACTERS

        url = mapping.get(key)
        name = arn.rsplit(":", 1)[-1]
        if url is not None and not url.startswith(("https://", "http://")):
            raise ValueError(
                f"secret {name}: the value of {key!r} is not a webhook URL; put the "
                "incoming-webhook URL Slack gave, beginning https://"
            )
        if url is not None and not URL_CHARACTERS.fullmatch(url):
            raise ValueError(
                f"secret {name}: the value of {key!r} has a space, a control character or a character "
                "outside ASCII; put the incoming-webhook URL Slack gave, in one piece"
            )
        return url
