"""Slack interactive endpoint (API Gateway HTTP API payload v2, or a Function URL): the "Extend 30 min",
"Extend 60 min" and "Release now" buttons.

Bound the body size, verify the Slack signature on the raw body (and refuse requests older than 5
minutes), bound each user's request rate, authorize (owner, team admins, platform admins), then apply the
request through the lifecycle service, so policy limits still hold and a refusal says why. The HTTP
response is the acknowledgement (Slack wants one within 3 seconds); the original message is updated
through the payload's `response_url` with a short timeout and no long retries, for the same reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from warmpool.adapters.rate_limiter import DynamoRateLimiter
    from warmpool.adapters.secrets import SecretStore
    from warmpool.adapters.slack import SlackWebhooks
    from warmpool.domain.clock import Clock
    from warmpool.domain.slack_actions import ActionOutcome, ButtonPress
    from warmpool.observability import PowertoolsMetrics
    from warmpool.service.lifecycle import LifecycleService
    from warmpool.settings import SlackInteractiveSettings

MAX_REQUESTS_PER_MINUTE = 10
# Slack's own replay window: a signed request older than this is refused (slack-sdk's verifier).
SIGNATURE_MAX_AGE_SECONDS = 300


@dataclass
class Runtime:
    settings: SlackInteractiveSettings
    service: LifecycleService
    secrets: SecretStore
    slack: SlackWebhooks
    rate_limiter: DynamoRateLimiter
    clock: Clock
    metrics: PowertoolsMetrics

    def signing_secret(self) -> str:
        return self.secrets.text(self.settings.slack_signing_secret_arn)


@cache
def runtime() -> Runtime:
    from warmpool.adapters.rate_limiter import DynamoRateLimiter
    from warmpool.adapters.secrets import SecretStore
    from warmpool.adapters.slack import SlackWebhooks
    from warmpool.observability import PowertoolsMetrics
    from warmpool.service.wiring import boto_client, build_lifecycle_service, current_clock
    from warmpool.settings import SlackInteractiveSettings

    settings = SlackInteractiveSettings.from_env()
    metrics = PowertoolsMetrics()
    clock = current_clock()
    return Runtime(
        settings=settings,
        service=build_lifecycle_service(settings, metrics=metrics, clock=clock),
        secrets=SecretStore(boto_client("secretsmanager")),
        # The acknowledgement must reach Slack within 3 s: one quick try to update the message.
        slack=SlackWebhooks(
            max_rate_limit_retries=0, max_server_error_retries=0, max_connection_retries=0, timeout_seconds=1
        ),
        rate_limiter=DynamoRateLimiter(
            settings.pools_table_name,
            boto_client("dynamodb"),
            limit=MAX_REQUESTS_PER_MINUTE,
            window_seconds=60,
        ),
        clock=clock,
        metrics=metrics,
    )


def _reply(status: int, text: str) -> dict[str, Any]:
    from warmpool.domain.messages import slack_escape

    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"response_type": "ephemeral", "text": slack_escape(text)}),
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rt = runtime()
    try:
        return _handle(rt, event)
    finally:
        rt.metrics.flush()


def _handle(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    from slack_sdk.signature import SignatureVerifier

    from warmpool.domain.model import UserRequest
    from warmpool.domain.routing import may_act
    from warmpool.domain.slack_actions import (
        ActionOutcome,
        BadActionError,
        BodyTooLargeError,
        judge,
        parse_button_press,
        raw_body,
    )
    from warmpool.observability import logger

    log = logger()
    try:
        body = raw_body(event)
    except BodyTooLargeError as exc:
        rt.metrics.count("SlackRequestsRejected")
        return _reply(413, str(exc))
    except BadActionError as exc:
        rt.metrics.count("SlackRequestsRejected")
        return _reply(400, str(exc))
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    # slack-sdk's verifier compares in constant time and refuses timestamps more than 5 minutes away,
    # so a captured request cannot be replayed later.
    verifier = SignatureVerifier(rt.signing_secret())
    if not timestamp.isdigit() or not signature or not verifier.is_valid(body, timestamp, signature):
        rt.metrics.count("SlackRequestsRejected")
        log.warning("rejected a request with a missing, bad or stale Slack signature")
        return _reply(401, "invalid or stale signature")
    try:
        press = parse_button_press(body)
    except BadActionError as exc:
        rt.metrics.count("SlackRequestsRejected")
        return _reply(400, str(exc))
    now = rt.clock.now()
    if not rt.rate_limiter.allow(press.user_id, now):
        rt.metrics.count("SlackRequestsThrottled")
        log.warning("throttled Slack requests from one user", extra={"slack_user": press.user_id})
        return _reply(
            429, f"Too many requests: at most {MAX_REQUESTS_PER_MINUTE} a minute. Try again shortly."
        )
    record = rt.service.registry.get(press.pool_id)
    if record is None or record.pool.job_name != press.job_name:
        gone = ActionOutcome(
            "refused", f"the warm pool of {press.job_name} is gone or has moved on to another job."
        )
        _update_message(rt, press, gone, pool_gone=True)
        return _reply(200, gone.text)
    policy = rt.service.policies.current()
    if not may_act(policy, press.user_id, owner=record.pool.owner, team=record.pool.team):
        rt.metrics.count("SlackActionsUnauthorized")
        log.info("unauthorized Slack action", extra={"slack_user": press.user_id, "job_name": press.job_name})
        return _reply(
            200,
            f"Only the owner of {press.job_name}, team {record.pool.team or policy.default_team}'s admins "
            "or the platform admins may change this pool.",
        )
    decision = rt.service.apply_user_request(
        press.job_name,
        UserRequest(kind=press.kind, user=press.user_name, minutes=press.minutes, via="slack"),
    )
    outcome = judge(press, decision, before=record.pool, now=now)
    rt.metrics.count("SlackActionsGranted" if outcome.granted else "SlackActionsRefused")
    log.info(
        "Slack action",
        extra={
            "slack_user": press.user_id,
            "job_name": press.job_name,
            "request": press.kind,
            "minutes": press.minutes,
            "verdict": outcome.verdict,
            "rule": decision.rule,
        },
    )
    _update_message(rt, press, outcome, pool_gone=False)
    return _reply(200, outcome.text)


def _update_message(rt: Runtime, press: ButtonPress, outcome: ActionOutcome, *, pool_gone: bool) -> None:
    """Show the outcome in the original message (buttons removed once the pool is gone). A courtesy:
    the action is done and acknowledged either way, so a failure here is logged and counted, not raised."""
    from warmpool.adapters.slack import SlackPermanentError, SlackTransientError
    from warmpool.domain.slack_actions import updated_blocks
    from warmpool.observability import logger

    if not press.response_url:
        return
    try:
        rt.slack.post(
            press.response_url,
            text=outcome.text,
            blocks=updated_blocks(press, outcome, pool_gone=pool_gone),
            replace_original=True,
        )
    except (SlackPermanentError, SlackTransientError) as exc:
        rt.metrics.count("SlackMessageUpdateFailed")
        logger().warning("could not update the Slack message", extra={"error": str(exc)})
