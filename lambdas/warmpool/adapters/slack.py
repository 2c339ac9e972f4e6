"""Slack incoming webhooks and `response_url`s through slack-sdk's WebhookClient and its retry handlers.

429 (respecting Retry-After, up to a cap) and 5xx are retried with backoff; connection errors are
retried too. 400/403/404/410 are permanent (webhook revoked, channel archived, bad payload): the caller
falls back to SNS and counts SlackDeliveryFailed. Anything else left after the retries is transient:
the notify queue retries the record later and, after its bounded receives, moves it to the DLQ.
The URL is a credential (anyone holding it can post): it never appears in errors or logs.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slack_sdk.http_retry.handler import RetryHandler

PERMANENT_STATUSES = frozenset({400, 403, 404, 410})
# A Retry-After above this is not waited for inside one Lambda invocation: the record is retried by SQS.
MAX_RETRY_AFTER_SECONDS = 10
_URL = re.compile(r"https?://\S+", re.IGNORECASE)


class SlackPermanentError(RuntimeError):
    """Slack refused the message for good (webhook revoked, channel archived, bad payload)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"Slack refused the message with HTTP {status}")
        self.status = status


class SlackTransientError(RuntimeError):
    """Slack kept failing after the retries (rate limit, 5xx, network): the record is retried later."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


class _RedactUrls(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _URL.sub("<redacted url>", record.getMessage())
        record.args = None
        return True


def _sdk_logger() -> logging.Logger:
    """slack-sdk logs the full URL at INFO/DEBUG when its logger's own level is NOTSET (it checks
    `logger.level`, not the effective level): give it a logger at ERROR whose records lose any URL."""
    log = logging.getLogger("warmpool.adapters.slack.sdk")
    log.setLevel(logging.ERROR)
    if not any(isinstance(f, _RedactUrls) for f in log.filters):
        log.addFilter(_RedactUrls())
    return log


def _retry_handlers(
    *, rate_limit_retries: int, server_error_retries: int, connection_retries: int, max_retry_after: int
) -> list[RetryHandler]:
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
        ServerErrorRetryHandler,
    )

    class BoundedRateLimitRetryHandler(RateLimitErrorRetryHandler):
        """Retries a 429 only when Retry-After is a small whole number of seconds (or absent)."""

        def _can_retry(self, *, state: Any, request: Any, response: Any = None, error: Any = None) -> bool:
            if response is None or response.status_code != 429:
                return False
            values = [v for k, vs in response.headers.items() if k.lower() == "retry-after" for v in vs]
            if not values:
                return True
            value = str(values[0]).strip()
            return value.isdigit() and int(value) <= max_retry_after

    return [
        ConnectionErrorRetryHandler(max_retry_count=connection_retries),
        BoundedRateLimitRetryHandler(max_retry_count=rate_limit_retries),
        ServerErrorRetryHandler(max_retry_count=server_error_retries),
    ]


class SlackWebhooks:
    def __init__(
        self,
        *,
        max_rate_limit_retries: int = 3,
        max_server_error_retries: int = 2,
        max_connection_retries: int = 2,
        timeout_seconds: int = 5,
        max_retry_after_seconds: int = MAX_RETRY_AFTER_SECONDS,
    ) -> None:
        self._handlers = _retry_handlers(
            rate_limit_retries=max_rate_limit_retries,
            server_error_retries=max_server_error_retries,
            connection_retries=max_connection_retries,
            max_retry_after=max_retry_after_seconds,
        )
        self._timeout = timeout_seconds

    def post(
        self,
        url: str,
        *,
        text: str,
        blocks: list[dict[str, Any]],
        replace_original: bool | None = None,
        response_type: str | None = None,
    ) -> None:
        """Post to an incoming webhook or a `response_url`. Raises SlackPermanentError or
        SlackTransientError; neither carries the URL."""
        from slack_sdk.webhook import WebhookClient

        client = WebhookClient(
            url, timeout=self._timeout, logger=_sdk_logger(), retry_handlers=self._handlers
        )
        try:
            response = client.send(
                text=text, blocks=blocks, replace_original=replace_original, response_type=response_type
            )
        except OSError as exc:  # URLError, timeouts, resets: what is left after the connection retries
            raise SlackTransientError(f"Slack unreachable after retries ({type(exc).__name__})") from None
        status = int(response.status_code)
        if status < 300:
            return
        if status in PERMANENT_STATUSES:
            raise SlackPermanentError(status)
        raise SlackTransientError(f"Slack answered HTTP {status} after retries", status)
