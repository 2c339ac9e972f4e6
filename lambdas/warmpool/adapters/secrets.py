"""Secrets Manager, read at most once a minute per container. Values never reach logs or env vars."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from warmpool.domain.clock import Clock, SystemClock

SECRET_CACHE_SECONDS = 60
# The key of the Slack app's bot token in the webhooks secret: with it, a channel's value may be the
# channel's id, posted to with chat.postMessage (bot-token mode, docs/notifications.md)
BOT_TOKEN_KEY = "bot_token"
# A Slack conversation id: a public channel's C..., a private one's G... (older) or C...
CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{8,}")
_TOKEN_CHARACTERS = re.compile(r"[A-Za-z0-9-]+")


@dataclass(frozen=True)
class BotChannel:
    """Where a bot-token-mode channel is posted: the channel's id and the Slack app's bot token."""

    channel: str
    token: str


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
                "incoming-webhook URL Slack gave, beginning https://, or, with the Slack app's bot token "
                f"under {BOT_TOKEN_KEY!r}, the channel's id (C0123ABCD)"
            )
        if url is not None and not URL_CHARACTERS.fullmatch(url):
            raise ValueError(
                f"secret {name}: the value of {key!r} has a space, a control character or a character "
                "outside ASCII; put the incoming-webhook URL Slack gave, in one piece"
            )
        return url

    @staticmethod
    def bot_token(arn: str, mapping: dict[str, str]) -> str | None:
        """The Slack app's bot token (`bot_token`), None when the secret has none. One that is not a bot
        token (a user token xoxp-, an app-level token xapp-, a webhook URL) raises, naming the key and
        the fix, never the value."""
        token = mapping.get(BOT_TOKEN_KEY)
        if token is None:
            return None
        name = arn.rsplit(":", 1)[-1]
        token = token.strip()
        if not token.startswith("xoxb-") or not _TOKEN_CHARACTERS.fullmatch(token):
            raise ValueError(
                f"secret {name}: the value of {BOT_TOKEN_KEY!r} is not a bot token; put the Slack app's "
                "Bot User OAuth Token (OAuth & Permissions, beginning xoxb-), not a user token (xoxp-) or "
                "an app-level token (xapp-)"
            )
        return token

    @classmethod
    def destination(cls, arn: str, mapping: dict[str, str], key: str) -> str | BotChannel | None:
        """Where the channel of `key` is posted: its incoming-webhook URL (as `webhook`), or, for a
        value that is a channel id (C0123ABCD), the channel with the secret's bot token; None when the
        secret has no `key`. A channel id without a bot token, or a channel's name, raises, naming the
        key and the fix."""
        value = mapping.get(key)
        name = arn.rsplit(":", 1)[-1]
        if key == BOT_TOKEN_KEY:
            raise ValueError(
                f"secret {name}: {BOT_TOKEN_KEY!r} is the bot token's key, not a channel's; name the "
                "channel under another key (slack_webhook_key in the policy)"
            )
        if value is not None and value.strip().startswith("#"):
            raise ValueError(
                f"secret {name}: the value of {key!r} is a channel's name; put the channel's id (in Slack, "
                "the channel's details, at the bottom: C0123ABCD) or its incoming-webhook URL"
            )
        if value is None or not CHANNEL_ID.fullmatch(value.strip()):
            return cls.webhook(arn, mapping, key)
        token = cls.bot_token(arn, mapping)
        if token is None:
            raise ValueError(
                f"secret {name}: the value of {key!r} is a channel id, which warmpool posts to with the "
                f"Slack app's bot token: put its Bot User OAuth Token (xoxb-...) under {BOT_TOKEN_KEY!r}, "
                "or put the channel's incoming-webhook URL instead of its id"
            )
        return BotChannel(value.strip(), token)
