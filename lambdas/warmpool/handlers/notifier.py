"""Notifier Lambda: notify-queue batches -> SNS (always) and Slack (when a channel is configured).

Each channel is sent at most once per (pool, kind, state version), however often the message comes.
A Slack outage fails only the Slack part of a record, which SQS retries; a permanent Slack refusal is
counted (SlackDeliveryFailed alarm) and the SNS copy stands as the fallback.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from warmpool.adapters.idempotency import PowertoolsDeduplicator
    from warmpool.adapters.policy_store import SsmPolicySource
    from warmpool.adapters.secrets import SecretStore
    from warmpool.adapters.slack import SlackWebhooks
    from warmpool.adapters.sns import SnsPublisher
    from warmpool.observability import PowertoolsMetrics
    from warmpool.settings import NotifierSettings


@dataclass
class Runtime:
    settings: NotifierSettings
    sns: SnsPublisher
    slack: SlackWebhooks
    secrets: SecretStore
    policies: SsmPolicySource
    dedupe: PowertoolsDeduplicator
    metrics: PowertoolsMetrics


@cache
def runtime() -> Runtime:
    from warmpool.adapters.idempotency import PowertoolsDeduplicator
    from warmpool.adapters.policy_store import SsmPolicySource
    from warmpool.adapters.secrets import SecretStore
    from warmpool.adapters.slack import SlackWebhooks
    from warmpool.adapters.sns import SnsPublisher
    from warmpool.observability import PowertoolsMetrics
    from warmpool.service.wiring import boto_client, current_clock
    from warmpool.settings import NotifierSettings

    settings = NotifierSettings.from_env()
    metrics = PowertoolsMetrics()
    return Runtime(
        settings=settings,
        sns=SnsPublisher(boto_client("sns"), settings.topic_arn),
        slack=SlackWebhooks(),
        secrets=SecretStore(boto_client("secretsmanager")),
        policies=SsmPolicySource(
            boto_client("ssm"),
            settings.policy_parameter_name,
            cache_seconds=60,
            clock=current_clock(),
            metrics=metrics,
        ),
        dedupe=PowertoolsDeduplicator(settings.idempotency_table_name, boto_client("dynamodb")),
        metrics=metrics,
    )


def handle_record(record: SQSRecord) -> None:
    from dataclasses import replace

    from warmpool.adapters.slack import SlackPermanentError, SlackTransientError
    from warmpool.domain.codec import notification_from_json
    from warmpool.domain.messages import render
    from warmpool.domain.routing import route
    from warmpool.observability import logger

    rt = runtime()
    log = logger()
    notification = notification_from_json(record.body)
    key = notification.dedupe_key
    where = route(notification, rt.policies.current())
    facts = dict(notification.facts)
    if where.note:
        facts["routing_note"] = where.note
    message = render(replace(notification, facts=facts), mention=where.mention)
    if rt.dedupe.run_once(f"sns#{key}", lambda: rt.sns.publish(notification, message)) is not None:
        rt.metrics.count("NotificationsPublished")
    url = _webhook_url(rt, where.webhook_key, key)
    if url is None:
        return

    def post() -> bool:
        try:
            rt.slack.post(url, text=message.slack_text, blocks=message.blocks)
        except SlackPermanentError as exc:
            # Revoked webhook, archived channel, rejected payload: retrying cannot help. The SNS copy
            # stands; the alarm on SlackDeliveryFailed tells the platform team to fix the channel.
            rt.metrics.count("SlackDeliveryFailed")
            rt.secrets.forget(rt.settings.slack_webhooks_secret_arn)  # it may have been rotated
            log.error(
                "Slack refused the message; the SNS copy stands",
                extra={"status": exc.status, "key": key, "webhook_key": where.webhook_key},
            )
            return False
        except SlackTransientError as exc:
            # Raised on: the record fails, SQS retries it later and, after maxReceiveCount, moves it to
            # the notify DLQ. The SNS copy was published once already and is not repeated.
            rt.metrics.count("SlackDeliveryDeferred")
            log.warning(
                "Slack unavailable; the record will be retried", extra={"key": key, "status": exc.status}
            )
            raise
        rt.metrics.count("SlackMessagesSent")
        return True

    rt.dedupe.run_once(f"slack#{key}", post)
    log.info(
        "notified", extra={"key": key, "kind": notification.kind.value, "webhook_key": where.webhook_key}
    )


def _webhook_url(rt: Runtime, webhook_key: str, key: str) -> str | None:
    """The webhook for this route, or None (SNS only). A missing or malformed secret is a configuration
    error, not a reason to retry the record forever: it is counted and logged (without the secret)."""
    from botocore.exceptions import ClientError

    from warmpool.adapters.secrets import SecretFormatError
    from warmpool.observability import logger

    try:
        webhooks = rt.secrets.mapping(rt.settings.slack_webhooks_secret_arn)
    except SecretFormatError as exc:
        rt.metrics.count("SlackDeliveryFailed")
        logger().error(
            "the Slack webhooks secret is malformed; SNS only", extra={"problem": str(exc), "key": key}
        )
        return None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code not in ("ResourceNotFoundException", "AccessDeniedException", "DecryptionFailure"):
            raise  # throttling, internal errors: the record is retried
        rt.metrics.count("SlackDeliveryFailed")
        logger().error("the Slack webhooks secret cannot be read; SNS only", extra={"code": code, "key": key})
        return None
    url = webhooks.get(webhook_key)
    if url is None:
        logger().info(
            "no Slack webhook for this route; SNS only", extra={"webhook_key": webhook_key, "key": key}
        )
    return url


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    rt = runtime()
    rt.dedupe.register_lambda_context(context)
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    try:
        return dict(
            process_partial_response(
                event=event, record_handler=handle_record, processor=processor, context=context
            )
        )
    finally:
        rt.metrics.flush()
