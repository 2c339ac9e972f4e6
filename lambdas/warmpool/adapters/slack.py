"""Slack incoming webhooks through slack-sdk: 429 and 5xx are retried with backoff; 400/403/404/410
are permanent (the caller falls back to SNS and counts SlackDeliveryFailed). A redirect (3xx) is never
followed, from a webhook or the Web API (bot-token mode): it fails the post as any other answer does,
saying so.

A 429 is waited out only when Slack's Retry-After is at most `max_retry_after_seconds`, and no retry
starts that could not end before the caller's deadline: the record is retried later instead.

Every payload is cut to Slack's limits before it is sent (`within_slack_limits`): the top-level text
to 40,000 characters, a section's text to 3,000, a header's to 150, a field's to 2,000, a button's to
75, ending in "…"."""

from __future__ import annotations

import logging
import time
import urllib.request
from http.client import HTTPMessage
from typing import IO, Any

from warmpool.domain.messages import within_slack_limits

PERMANENT_STATUSES = frozenset({400, 403, 404, 410})
MAX_RETRY_AFTER_SECONDS = 5.0
SLACK_API_URL = "https://slack.com/api/"
# The Web API's errors that a try again does not mend, except at Slack's own side: these are retried
# like a 5xx. Any other `ok: false` is the message's or the deployment's, permanent (the SNS copy stands).
API_TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "fatal", "service_unavailable", "request_timeout", "ratelimited"}
)
# What the operator does about the Web API's usual permanent errors: said in the log, with the key
API_ERROR_FIXES = {
    "channel_not_found": "the channel id in the webhooks secret is not a channel the bot can see; put the "
    "channel's id (its details, at the bottom: C0123ABCD), and invite the app to a private channel",
    "not_in_channel": "the app is not in the channel; invite it (/invite @<the app>), or add the "
    "chat:write.public scope",
    "is_archived": "the channel is archived; put another channel's id in the webhooks secret",
    "invalid_auth": "the bot token in the webhooks secret (bot_token) is not valid; put the app's current "
    "Bot User OAuth Token (xoxb-...)",
    "not_authed": "no bot token was sent; put the app's Bot User OAuth Token (xoxb-...) under bot_token",
    "token_revoked": "the bot token was revoked; reinstall the app and put its new token under bot_token",
    "account_inactive": "the bot token's app or user is deactivated; reinstall the app, put the new token",
    "missing_scope": "the Slack app lacks the chat:write scope; add it (OAuth & Permissions) and reinstall",
    "message_not_found": "the message was deleted in Slack; nothing to update",
    "cant_update_message": "the message was not posted by this app's bot; nothing to update",
}


def _sdk_logger() -> logging.Logger:
    """slack-sdk's log, at WARNING whatever the function's log level: below it, slack-sdk logs each
    request's URL (each retry at INFO, when the logger's own level is unset), and a webhook URL or a
    `response_url` is a bearer credential. Its errors name the failure, not the URL."""
    log = logging.getLogger("warmpool.slack_sdk")
    log.setLevel(logging.WARNING)
    return log


class SlackPermanentError(RuntimeError):
    """Slack refused the message for good (webhook revoked, channel archived, bad payload)."""

    def __init__(self, status: int, error: str | None = None) -> None:
        said = f"{error} (HTTP {status})" if error else f"HTTP {status}"
        hint = API_ERROR_FIXES.get(error or "")
        super().__init__(f"Slack refused the message with {said}{f': {hint}' if hint else ''}")
        self.status = status
        self.error = error  # the Web API's error code (bot-token mode), None from a webhook


class SlackTransientError(RuntimeError):
    """Slack kept failing after the retries: the record is retried later."""


class SlackNoTimeError(SlackTransientError):
    """Not tried: too little of the invocation is left for a Slack call. Nothing failed: the record is
    retried later, by an invocation with the time for it."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """urllib, as slack-sdk opens URLs, followed 301, 302 and 303 to wherever their Location said, as a
    GET without the message: the request left for another host (past the origins a press's response
    URL is checked against), and the 200 there counted the message as sent. Declined, the redirect is
    an HTTPError with its status, which slack-sdk answers with and no retry handler retries."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


def _webhook_client(**kwargs: Any) -> Any:
    """slack-sdk's WebhookClient, opening its URLs without following redirects. WebhookClient opens
    them with urllib's default handlers, redirects followed, and takes no opener: its one method that
    opens a URL is replaced (as in slack-sdk 3.x: scheme check, then open, then read the answer)."""
    from slack_sdk.errors import SlackRequestError
    from slack_sdk.webhook import WebhookClient, WebhookResponse

    class Client(WebhookClient):
        def _perform_http_request_internal(self, url: str, req: urllib.request.Request) -> WebhookResponse:
            if not url.lower().startswith("http"):  # slack-sdk's own check, without the URL in it
                raise SlackRequestError("Invalid URL detected: not http(s)")
            handlers: list[urllib.request.BaseHandler] = [
                _NoRedirects(),
                urllib.request.HTTPSHandler(context=self.ssl),
            ]
            if self.proxy:
                handlers.append(urllib.request.ProxyHandler({"http": self.proxy, "https": self.proxy}))
            with urllib.request.build_opener(*handlers).open(req, timeout=self.timeout) as answer:
                charset = answer.headers.get_content_charset() or "utf-8"
                body = answer.read().decode(charset)
                return WebhookResponse(
                    url=url, status_code=answer.status, body=body, headers=dict(answer.headers.items())
                )

    return Client(**kwargs)


def _web_client(**kwargs: Any) -> Any:
    """slack-sdk's WebClient, opening its URLs without following redirects, as the webhooks'
    (`_webhook_client`): WebClient opened them with urllib's `urlopen`, which followed a 301, 302 or
    303 as a GET without the message, and the answer there (anything but Slack's) was read as Slack's.
    Slack's Web API does not redirect. Its one method that opens a URL is replaced (as in slack-sdk
    3.x: scheme check, then open, then read the answer); a redirect declined is an HTTPError with its
    status, which WebClient answers with and no retry handler retries."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackRequestError

    class Client(WebClient):
        def _perform_urllib_http_request_internal(
            self, url: str, req: urllib.request.Request
        ) -> dict[str, Any]:
            if not url.lower().startswith("http"):  # slack-sdk's own check
                raise SlackRequestError("Invalid URL detected: not http(s)")
            handlers: list[urllib.request.BaseHandler] = [
                _NoRedirects(),
                urllib.request.HTTPSHandler(context=self.ssl),
            ]
            if isinstance(self.proxy, str) and self.proxy:
                handlers.append(urllib.request.ProxyHandler({"http": self.proxy, "https": self.proxy}))
            with urllib.request.build_opener(*handlers).open(req, timeout=self.timeout) as answer:
                charset = answer.headers.get_content_charset() or "utf-8"
                body = answer.read().decode(charset)
                return {"status": answer.status, "headers": answer.headers, "body": body}

    return Client(**kwargs)


class _SlackCalls:
    """What Slack's two clients share: how often each kind of failure is retried, how long a call may
    take, the longest Retry-After waited, and no call begun that could not end before the deadline."""

    def __init__(
        self,
        *,
        max_rate_limit_retries: int = 3,
        max_server_error_retries: int = 2,
        max_connection_retries: int = 2,
        timeout_seconds: int = 5,
        max_retry_after_seconds: float = MAX_RETRY_AFTER_SECONDS,
    ) -> None:
        self._rate_limit_retries = max_rate_limit_retries
        self._server_error_retries = max_server_error_retries
        self._connection_retries = max_connection_retries
        self._timeout = timeout_seconds
        self._max_retry_after = max_retry_after_seconds

    def _retries(self, deadline: float | None) -> list[Any]:
        return _retry_handlers(
            timeout=self._timeout,
            max_retry_after=self._max_retry_after,
            deadline=deadline,
            connection_retries=self._connection_retries,
            rate_limit_retries=self._rate_limit_retries,
            server_error_retries=self._server_error_retries,
        )

    def _time_left_for_a_call(self, deadline: float | None) -> None:
        if deadline is not None and time.monotonic() + self._timeout > deadline:
            raise SlackNoTimeError("no time left for Slack in this invocation")


class SlackWebhooks(_SlackCalls):
    def _client(self, url: str, deadline: float | None = None) -> Any:
        return _webhook_client(
            url=url,
            timeout=self._timeout,
            logger=_sdk_logger(),
            retry_handlers=self._retries(deadline),
        )

    def post(
        self,
        url: str,
        *,
        text: str,
        blocks: list[dict[str, Any]],
        replace_original: bool = False,
        deadline: float | None = None,
    ) -> None:
        """Post to a webhook or a `response_url`, giving up (SlackTransientError) rather than run past
        `deadline` (a `time.monotonic()` value). The URL never appears in errors or logs."""
        self._time_left_for_a_call(deadline)
        # Slack would truncate a longer text or refuse a longer section: cut here, where it shows
        text, blocks = within_slack_limits(text, blocks)
        response = self._client(url, deadline).send(
            text=text, blocks=blocks, replace_original=replace_original or None
        )
        status = int(response.status_code)
        if status < 300:
            return
        if status in PERMANENT_STATUSES:
            raise SlackPermanentError(status)
        if 300 <= status < 400:  # the Location is not said: it may hold the URL's token
            raise SlackTransientError(
                f"Slack answered HTTP {status}, a redirect, which is not followed: it could take the "
                "message to another host; Slack's webhooks do not redirect: check the URL in the webhooks "
                "secret"
            )
        raise SlackTransientError(f"Slack answered HTTP {status} after retries")


def _retry_handlers(
    *,
    timeout: int,
    max_retry_after: float,
    deadline: float | None,
    connection_retries: int,
    rate_limit_retries: int,
    server_error_retries: int,
) -> list[Any]:
    """slack-sdk's retry handlers, as the webhooks and the Web API use them: a connection that fails and
    a 5xx are retried with backoff, a 429 after its Retry-After when that is at most `max_retry_after`
    seconds; no retry starts that could not end (one more `timeout`) before `deadline`."""
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
        ServerErrorRetryHandler,
    )
    from slack_sdk.http_retry.handler import RetryHandler
    from slack_sdk.http_retry.state import RetryState

    def time_for(wait: float) -> bool:
        """A retry after `wait` seconds can still end (one more timeout) before the deadline."""
        return deadline is None or time.monotonic() + wait + timeout <= deadline

    class BackoffFits(RetryHandler):
        """Retries only when the handler's own backoff still leaves time for the try."""

        def _can_retry(self, *, state: RetryState, **kwargs: Any) -> bool:
            wait = self.interval_calculator.calculate_sleep_duration(state.current_attempt)
            return super()._can_retry(state=state, **kwargs) and time_for(wait)

    class ConnectionRetry(BackoffFits, ConnectionErrorRetryHandler):
        pass

    class ServerErrorRetry(BackoffFits, ServerErrorRetryHandler):
        pass

    class RateLimitRetry(RateLimitErrorRetryHandler):
        def _can_retry(self, *, state: RetryState, **kwargs: Any) -> bool:
            if not super()._can_retry(state=state, **kwargs):
                return False
            wait = _retry_after(kwargs["response"].headers)
            # slack-sdk sleeps Retry-After plus up to a second of jitter
            return wait is not None and wait <= max_retry_after and time_for(wait + 1)

    return [
        ConnectionRetry(max_retry_count=connection_retries),
        RateLimitRetry(max_retry_count=rate_limit_retries),
        ServerErrorRetry(max_retry_count=server_error_retries),
    ]


def _retry_after(headers: dict[str, Any]) -> float | None:
    """Slack's Retry-After in seconds: 1 when it is missing (as slack-sdk waits), None when it is not
    a number of seconds. slack-sdk gives header values as lists."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            first = value[0] if isinstance(value, list) and value else value
            try:
                seconds = int(str(first).strip())
            except ValueError:
                return None
            return float(seconds) if seconds >= 0 else None
    return 1.0


class SlackBot(_SlackCalls):
    """Slack's Web API with a bot token (xoxb-...): `chat.postMessage`, which answers the message's
    channel and `ts`, and `chat.update` of a message so posted. Retries and errors as the webhooks':
    a connection that fails, a 5xx and Slack's own errors (`internal_error`, ...) are retried with
    backoff, a 429 after its Retry-After when that is at most `max_retry_after_seconds`, and none that
    could not end before the caller's deadline (SlackTransientError: the record is retried later);
    any other error (`channel_not_found`, `not_in_channel`, `invalid_auth`, ...) is permanent
    (SlackPermanentError, with the error's code). The token never appears in errors or logs."""

    def __init__(
        self,
        *,
        api_url: str = SLACK_API_URL,
        max_rate_limit_retries: int = 3,
        max_server_error_retries: int = 2,
        max_connection_retries: int = 2,
        timeout_seconds: int = 5,
        max_retry_after_seconds: float = MAX_RETRY_AFTER_SECONDS,
    ) -> None:
        super().__init__(
            max_rate_limit_retries=max_rate_limit_retries,
            max_server_error_retries=max_server_error_retries,
            max_connection_retries=max_connection_retries,
            timeout_seconds=timeout_seconds,
            max_retry_after_seconds=max_retry_after_seconds,
        )
        self._api_url = api_url if api_url.endswith("/") else f"{api_url}/"

    def _call(self, method: str, token: str, deadline: float | None, **arguments: Any) -> dict[str, Any]:
        from slack_sdk.errors import SlackApiError

        self._time_left_for_a_call(deadline)
        client = _web_client(
            token=token,
            base_url=self._api_url,
            timeout=self._timeout,
            logger=_sdk_logger(),
            retry_handlers=self._retries(deadline),
        )
        try:
            response = client.api_call(method, json=arguments)
        except SlackApiError as exc:
            status = int(exc.response.status_code)
            data = exc.response.data if isinstance(exc.response.data, dict) else {}
            error = str(data.get("error") or "") or None
            if status == 429:
                wait = _retry_after(dict(exc.response.headers.items()))
                after = "?" if wait is None else f"{wait:g}"
                raise SlackTransientError(
                    f"Slack's {method} is rate limited (HTTP 429, Retry-After {after} s): longer than this "
                    "invocation waits, or past its time; the record is retried later"
                ) from None
            if 300 <= status < 400:  # the Location is not said, nor followed
                raise SlackTransientError(
                    f"Slack's {method} answered HTTP {status}, a redirect, which is not followed: it could "
                    "take the message and the bot token to another host; Slack's Web API does not "
                    "redirect: check SLACK_API_URL (unset: Slack's)"
                ) from None
            if status >= 500 or error in API_TRANSIENT_ERRORS:
                raise SlackTransientError(
                    f"Slack's {method} answered {error or 'an error'} (HTTP {status}) after retries"
                ) from None
            raise SlackPermanentError(status, error or "unknown_error") from None
        return dict(response.data) if isinstance(response.data, dict) else {}

    def post(
        self,
        token: str,
        channel: str,
        *,
        text: str,
        blocks: list[dict[str, Any]],
        deadline: float | None = None,
    ) -> tuple[str, str]:
        """`chat.postMessage` to a channel (its id); the message's channel and `ts`, which
        `chat.update` needs."""
        text, blocks = within_slack_limits(text, blocks)
        answer = self._call("chat.postMessage", token, deadline, channel=channel, text=text, blocks=blocks)
        return str(answer.get("channel") or channel), str(answer.get("ts") or "")

    def update(
        self,
        token: str,
        channel: str,
        ts: str,
        *,
        text: str,
        blocks: list[dict[str, Any]],
        deadline: float | None = None,
    ) -> None:
        """`chat.update` of a message the bot posted: its text and blocks replaced (no buttons left)."""
        text, blocks = within_slack_limits(text, blocks)
        self._call("chat.update", token, deadline, channel=channel, ts=ts, text=text, blocks=blocks)
