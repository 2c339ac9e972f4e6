"""Slack incoming webhooks through slack-sdk: 429 and 5xx are retried with backoff; 400/403/404/410
are permanent (the caller falls back to SNS and counts SlackDeliveryFailed)."""

from __future__ import annotations

from typing import Any

PERMANENT_STATUSES = frozenset({400, 403, 404, 410})


class SlackPermanentError(RuntimeError):
    """Slack refused the message for good (webhook revoked, channel archived, bad payload)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"Slack refused the message with HTTP {status}")
        self.status = status


class SlackTransientError(RuntimeError):
    """Slack kept failing after the retries: the record is retried later."""


class SlackWebhooks:
    def __init__(
        self,
        *,
        max_rate_limit_retries: int = 3,
        max_server_error_retries: int = 2,
        max_connection_retries: int = 2,
        timeout_seconds: int = 5,
    ) -> None:
        self._rate_limit_retries = max_rate_limit_retries
        self._server_error_retries = max_server_error_retries
        self._connection_retries = max_connection_retries
        self._timeout = timeout_seconds

    def _client(self, url: str) -> Any:
        from slack_sdk.http_retry.builtin_handlers import (
            ConnectionErrorRetryHandler,
            RateLimitErrorRetryHandler,
            ServerErrorRetryHandler,
        )
        from slack_sdk.webhook import WebhookClient

        return WebhookClient(
            url,
            timeout=self._timeout,
            retry_handlers=[
                ConnectionErrorRetryHandler(max_retry_count=self._connection_retries),
                RateLimitErrorRetryHandler(max_retry_count=self._rate_limit_retries),
                ServerErrorRetryHandler(max_retry_count=self._server_error_retries),
            ],
        )

    def post(
        self, url: str, *, text: str, blocks: list[dict[str, Any]], replace_original: bool = False
    ) -> None:
        """Post to a webhook or a `response_url`. The URL never appears in errors or logs."""
        response = self._client(url).send(text=text, blocks=blocks, replace_original=replace_original or None)
        status = int(response.status_code)
        if status < 300:
            return
        if status in PERMANENT_STATUSES:
            raise SlackPermanentError(status)
        raise SlackTransientError(f"Slack answered HTTP {status} after retries")
