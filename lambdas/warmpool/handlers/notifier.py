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

    from warmpool.adapters.slack import SlackPermanentError
    from warmpool.domain.codec import notification_from_json
    from warmpool.domain.messages import render
    from warmpool.domain.routing import route
    from warmpool.observability import logger

    rt = runtime()
    log = logger()
    notification = notification_from_json(record.body)
    policy = rt.policies.current()
    where = route(notification, policy)
    facts = dict(notification.facts)
    if where.note:
        facts["routing_note"] = where.note
    message = render(replace(notification, facts=facts), mention=where.mention)
    key = notification.dedupe_key
    rt.dedupe.run_once(f"sns#{key}", lambda: rt.sns.publish(notification, message))
    webhooks = rt.secrets.mapping(rt.settings.slack_webhooks_secret_arn)
    url = webhooks.get(where.webhook_key)
    if url is None:
        log.info(
            "no Slack webhook for this route; SNS only", extra={"webhook_key": where.webhook_key, "key": key}
        )
        return

    def post() -> bool:
        try:
            rt.slack.post(url, text=message.text, blocks=message.blocks)
        except SlackPermanentError as exc:
            rt.metrics.count("SlackDeliveryFailed")
            log.error(
                "Slack refused the message; the SNS copy stands", extra={"status": exc.status, "key": key}
            )
            return False
        return True

    rt.dedupe.run_once(f"slack#{key}", post)
    log.info("notified", extra={"key": key, "kind": notification.kind.value})


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
