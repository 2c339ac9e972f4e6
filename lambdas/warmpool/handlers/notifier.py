"""Notifier Lambda: notify-queue batches -> SNS (always) and Slack (when a channel is configured).

Each channel is sent at most once per (pool, kind, state version), however often the message comes.
Every record's SNS copy goes out before any Slack call of the batch. A Slack outage or rate limit fails
only the Slack part of a record, which SQS retries (Slack's waits are capped, and bounded by the
invocation's remaining time); a permanent Slack refusal is counted (SlackDeliveryFailed alarm) and the
SNS copy stands as the fallback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from warmpool.adapters.idempotency import PowertoolsDeduplicator
    from warmpool.adapters.policy_store import SsmPolicySource
    from warmpool.adapters.secrets import BotChannel, SecretStore
    from warmpool.adapters.slack import SlackBot, SlackWebhooks
    from warmpool.adapters.slack_messages import SlackMessageHandle, SlackMessageHandles
    from warmpool.adapters.sns import SnsPublisher
    from warmpool.domain.clock import Clock
    from warmpool.domain.messages import SlackMessage
    from warmpool.domain.model import Notification
    from warmpool.observability import PowertoolsMetrics
    from warmpool.settings import NotifierSettings


SLACK_TIME_MARGIN_SECONDS = 5  # of the invocation's time, kept for what follows the last Slack call
# How long a copy sent is remembered as sent: longer than the notify DLQ keeps a message (14 days), so
# that a message redriven from it after its cause was fixed (a webhooks secret pasted wrong on a Friday,
# fixed on Monday) sends only the copies that failed. With a day, a redrive a day later sent the SNS copy
# a second time. Each key names one state of one pool (or one day's digest): a longer memory never
# holds back a notice of a later state.
SENT_REMEMBERED_SECONDS = 15 * 24 * 3600


@dataclass
class Runtime:
    settings: NotifierSettings
    sns: SnsPublisher
    slack: SlackWebhooks
    secrets: SecretStore
    policies: SsmPolicySource
    dedupe: PowertoolsDeduplicator
    metrics: PowertoolsMetrics
    bot: SlackBot
    handles: SlackMessageHandles | None  # None: a stack that gives the notifier no registry table
    clock: Clock


@cache
def runtime() -> Runtime:
    from warmpool.adapters.idempotency import PowertoolsDeduplicator
    from warmpool.adapters.policy_store import SsmPolicySource
    from warmpool.adapters.secrets import SecretStore
    from warmpool.adapters.slack import SlackBot, SlackWebhooks
    from warmpool.adapters.slack_messages import SlackMessageHandles
    from warmpool.adapters.sns import SnsPublisher
    from warmpool.observability import PowertoolsMetrics
    from warmpool.service.wiring import boto_client, current_clock
    from warmpool.settings import NotifierSettings

    settings = NotifierSettings.from_env()
    metrics = PowertoolsMetrics()
    clock = current_clock()
    return Runtime(
        settings=settings,
        sns=SnsPublisher(boto_client("sns"), settings.topic_arn),
        slack=SlackWebhooks(),
        secrets=SecretStore(boto_client("secretsmanager"), clock=clock),
        policies=SsmPolicySource(
            boto_client("ssm"),
            settings.policy_parameter_name,
            cache_seconds=60,
            clock=clock,
            metrics=metrics,
        ),
        dedupe=PowertoolsDeduplicator(
            settings.idempotency_table_name,
            boto_client("dynamodb"),
            expires_after_seconds=SENT_REMEMBERED_SECONDS,
        ),
        metrics=metrics,
        bot=SlackBot(api_url=settings.slack_api_url),
        handles=(
            SlackMessageHandles(settings.pools_table_name, boto_client("dynamodb"))
            if settings.pools_table_name
            else None
        ),
        clock=clock,
    )


@dataclass(frozen=True)
class SlackCopy:
    """What a record still owes Slack once its SNS copy is out: one message, or a digest's parts."""

    key: str
    kind: str
    url: str
    messages: list[SlackMessage]
    # The channel's key in the webhooks secret: what a refusal's log names, for the operator to replace
    # (SlackDeliveryFailed runbook); the URL itself is a credential and is never logged.
    webhook_key: str
    # Bot-token mode: the channel's id and the bot token (`url` is then empty)
    bot: BotChannel | None = None
    pool_id: str = ""
    job_name: str = ""
    # a message with buttons: its channel and ts are kept with the pool (bot-token mode)
    keep_handle: bool = False
    # a notice that the pool ended (released, not a dry run): the pool's kept messages lose their buttons
    ended: Notification | None = None
    # a sweep's end (one message): the pools its buttons act on, under each of which it is kept, and
    # the message it becomes once they have all ended (`_sweep_ended`)
    sweep_pools: tuple[str, ...] = ()
    sweep_ended: SlackMessage | None = None


def _buttons_of_one_pool(messages: list[SlackMessage]) -> bool:
    """A message whose buttons act on its pool alone, which `chat.update` may take off when the pool
    ends; a sweep's end holds several pools' buttons (`SWEEP_ACTIONS_BLOCK`), and one of them ending
    must not take the others' buttons and lines with it: it is kept under each of them instead
    (`_pools_of_the_sweep`), and updated when the last has ended (`_end_shared`)."""
    from warmpool.domain.messages import SWEEP_ACTIONS_BLOCK

    actions = [b for m in messages for b in m.blocks if b.get("type") == "actions"]
    return bool(actions) and not any(
        str(b.get("block_id", "")).startswith(SWEEP_ACTIONS_BLOCK) for b in actions
    )


def _pools_of_the_sweep(messages: list[SlackMessage]) -> tuple[str, ...]:
    """A sweep's end, posted as one message: the pools its buttons act on (each line's, by its
    `SWEEP_ACTIONS_BLOCK`). None for any other message, or one in parts (its buttons on the last)."""
    import json

    from warmpool.domain.messages import SWEEP_ACTIONS_BLOCK

    if len(messages) != 1:
        return ()
    pools: list[str] = []
    for block in messages[0].blocks:
        if block.get("type") == "actions" and str(block.get("block_id", "")).startswith(SWEEP_ACTIONS_BLOCK):
            value = json.loads(str(block["elements"][0]["value"]))
            pools.append(str(value["pool"]))
    return tuple(dict.fromkeys(pools))


def _sweep_ended(message: SlackMessage) -> SlackMessage:
    """A sweep's end once every pool its buttons acted on has ended: the same lines, no buttons."""
    from warmpool.domain.messages import SWEEP_ACTIONS_BLOCK, SlackMessage

    blocks = [
        block
        for block in message.blocks
        if not (
            block.get("type") == "actions" and str(block.get("block_id", "")).startswith(SWEEP_ACTIONS_BLOCK)
        )
    ]
    said = "The pools these lines had buttons for have all ended (released, expired or taken by a later job)."
    blocks.append({"type": "context", "elements": [{"type": "plain_text", "text": said}]})
    return SlackMessage(message.text, blocks)


def publish_record(record: SQSRecord) -> SlackCopy | None:
    """The record's SNS copy (once per key); returns what Slack is to get, None without a channel."""
    from dataclasses import replace

    from warmpool.domain.codec import notification_from_json
    from warmpool.domain.messages import ends_pool, render, updates_only
    from warmpool.domain.routing import route
    from warmpool.observability import logger

    rt = runtime()
    notification = notification_from_json(record.body)
    policy = rt.policies.current()
    where = route(notification, policy)
    if updates_only(notification):
        # a pool that ended on its own, which nobody is told of: no SNS copy, no message; in bot-token
        # mode its kept messages lose their buttons (`post_to_slack`)
        return _updates_of(notification, where.webhook_key)
    facts = dict(notification.facts)
    if where.note:
        facts["routing_note"] = where.note
    message = render(replace(notification, facts=facts), mention=where.mention)
    key = notification.dedupe_key
    publish = partial(rt.sns.publish, notification, message, default_team=policy.default_team)
    rt.dedupe.run_once(f"sns#{key}", publish)
    told_with = notification.facts.get("slack_told_with_tuning_job")
    if told_with:
        # a pool's decision at its sweep's end: Slack hears it in the sweep's one message, which
        # lists every pool of the sweep ("tuning job finished"), not in a message per pool
        logger().info(
            "told in Slack with its tuning job; SNS only", extra={"key": key, "tuning_job": told_with}
        )
        return None
    arn = rt.settings.slack_webhooks_secret_arn
    mapping = rt.secrets.mapping(arn)
    target = rt.secrets.destination(arn, mapping, where.webhook_key)
    if target is None:
        logger().info(
            "no Slack webhook for this route; SNS only", extra={"webhook_key": where.webhook_key, "key": key}
        )
        return None
    if isinstance(target, str):  # an incoming webhook: as it always was
        return SlackCopy(key, notification.kind.value, target, message.slack, where.webhook_key)
    sweep = _pools_of_the_sweep(message.slack)
    if sweep:  # kept under each of its pools, updated when the last of them ends
        return SlackCopy(
            key,
            notification.kind.value,
            "",
            message.slack,
            where.webhook_key,
            bot=target,
            pool_id=notification.pool_id,
            job_name=str(notification.facts.get("tuning_job_name") or notification.job_name),
            keep_handle=True,
            sweep_pools=sweep,
            sweep_ended=_sweep_ended(message.slack[0]),
        )
    return SlackCopy(
        key,
        notification.kind.value,
        "",
        message.slack,
        where.webhook_key,
        bot=target,
        pool_id=notification.pool_id,
        job_name=notification.job_name,
        keep_handle=_buttons_of_one_pool(message.slack),
        ended=notification if ends_pool(notification) else None,
    )


def _updates_of(notification: Notification, webhook_key: str) -> SlackCopy | None:
    """What a notice sent to nobody (`updates_only`) owes Slack: in bot-token mode, its pool's kept
    messages updated (no message posted); None through a webhook, or without a channel."""
    from warmpool.observability import logger

    rt = runtime()
    arn = rt.settings.slack_webhooks_secret_arn
    try:
        target = rt.secrets.destination(arn, rt.secrets.mapping(arn), webhook_key)
    except ValueError as exc:
        # a secret filled wrong fails the records that post (their log names the fix); one that only
        # updates is not sent back for it: through a webhook it does nothing, as before this notice
        logger().info("webhooks secret unusable; no message updated", extra={"detail": str(exc)})
        return None
    if target is None or isinstance(target, str):
        return None
    return SlackCopy(
        notification.dedupe_key,
        notification.kind.value,
        "",
        [],
        webhook_key,
        bot=target,
        pool_id=notification.pool_id,
        job_name=notification.job_name,
        ended=notification,
    )


def post_to_slack(copy: SlackCopy, *, deadline: float | None) -> None:
    """The Slack copy, each of its messages once (a digest's parts in order). Raises SlackTransientError
    when Slack keeps failing, asks for a longer wait than we give it, or the invocation has no time
    left: SQS retries the record, whose SNS copy and Slack messages already sent are not sent again (a
    retry after part 2 of 3 failed sends parts 2 and 3). A part Slack refuses for good is counted and
    logged like a whole message, and the parts after it are still sent."""
    from dataclasses import asdict

    from warmpool.adapters.slack import SlackPermanentError
    from warmpool.domain.messages import SlackMessage
    from warmpool.observability import logger

    rt = runtime()
    log = logger()
    count = len(copy.messages)

    def post(message: SlackMessage, part: int) -> dict[str, str] | None:
        """The message posted; in bot-token mode its channel and ts. None: Slack refused it for good."""
        try:
            if copy.bot is None:
                rt.slack.post(copy.url, text=message.text, blocks=message.blocks, deadline=deadline)
                return {}
            channel, ts = rt.bot.post(
                copy.bot.token, copy.bot.channel, text=message.text, blocks=message.blocks, deadline=deadline
            )
            return {"channel": channel, "ts": ts}
        except SlackPermanentError as exc:
            rt.metrics.count("SlackDeliveryFailed")
            log.error(
                "Slack refused the message; the SNS copy stands",
                extra={
                    "status": exc.status,
                    "error": exc.error,
                    "detail": str(exc),
                    "webhook_key": copy.webhook_key,
                    "key": copy.key,
                    "part": part,
                    "parts": count,
                },
            )
            return None

    if not copy.messages:
        if copy.ended is not None and copy.bot is not None:  # a notice that only updates (`_updates_of`)
            _end_messages(copy, copy.ended, copy.bot, deadline=deadline)
            log.info("notified", extra={"key": copy.key, "kind": copy.kind, "slack_messages": 0})
        return
    first, *rest = copy.messages

    def first_part() -> Any:
        posted = post(first, 1)
        parts = [asdict(message) for message in rest]
        if copy.bot is None:
            return parts
        # bot-token mode: the message's channel and ts are kept with the claim, so that a retry after
        # the post (the registry's write failed) keeps them without posting again
        return {"parts": parts, "posted": posted}

    # The first part keeps the key a message of one part has always had, and with it the parts after
    # it as this record made them: a digest is made again at each reconciler run of its hour, with its
    # pools and costs of that moment, and a record whose Slack copy failed after part 1 may come back
    # after another run's. Sent from the other record, its parts 2 and 3 split other pools than the
    # part 1 the team had: a pool moved from part 2 to part 1 was in no part, and the old record's
    # retry then sent its own part 3, stale, after them. Every part now comes from the digest whose
    # part 1 went out.
    ran, kept = rt.dedupe.run_once_keeping(f"slack#{copy.key}", first_part)
    parts = kept.get("parts") if isinstance(kept, dict) else kept
    if not ran and isinstance(parts, list):  # None: claimed by a version that kept no parts
        rest = [SlackMessage(text=m["text"], blocks=m["blocks"]) for m in parts]
        count = 1 + len(rest)
    posted = kept.get("posted") if isinstance(kept, dict) else None
    if copy.keep_handle and isinstance(posted, dict) and posted.get("ts"):
        _keep_handle(copy, posted["channel"], posted["ts"])
    for part, message in enumerate(rest, 2):
        rt.dedupe.run_once(f"slack#{copy.key}#part{part}", partial(post, message, part))
    if copy.ended is not None and copy.bot is not None:
        _end_messages(copy, copy.ended, copy.bot, deadline=deadline)
    log.info("notified", extra={"key": copy.key, "kind": copy.kind, "slack_messages": count})


def _keep_handle(copy: SlackCopy, channel: str, ts: str) -> None:
    """A message with buttons posted in bot-token mode, kept with its pool for `chat.update` (a
    sweep's end: with each pool its buttons act on)."""
    import json

    from warmpool.adapters.slack_messages import SlackMessageHandle
    from warmpool.observability import logger

    rt = runtime()
    if rt.handles is None:
        logger().warning(
            "bot-token mode without POOLS_TABLE_NAME: the message keeps its buttons when the pool ends",
            extra={"key": copy.key},
        )
        return
    if copy.sweep_pools and copy.sweep_ended is not None:
        ended_blocks = json.dumps(copy.sweep_ended.blocks)
        for pool_id in copy.sweep_pools:
            shared = SlackMessageHandle(
                pool_id,
                channel,
                ts,
                copy.job_name,
                copy.kind,
                pools=copy.sweep_pools,
                ended_text=copy.sweep_ended.text,
                ended_blocks=ended_blocks,
            )
            rt.handles.keep(shared, at=rt.clock.now())
        return
    handle = SlackMessageHandle(copy.pool_id, channel, ts, copy.job_name, copy.kind)
    rt.handles.keep(handle, at=rt.clock.now())


def _end_messages(copy: SlackCopy, ended: Notification, bot: BotChannel, *, deadline: float | None) -> None:
    """After the notice that the pool ended is posted: each message with buttons kept of the pool
    updated (`chat.update`) to one without buttons saying what happened and when, then forgotten.
    Slack failing for now (a 429 longer than we wait, a 5xx, no time left) raises: the record is
    retried, and its notice, sent already, is not sent again; an update Slack refuses for good (the
    message deleted, the channel archived, the token revoked) is logged and counted, and forgotten."""
    from warmpool.adapters.slack import SlackPermanentError
    from warmpool.domain.messages import ended_messages_of, pool_ended
    from warmpool.observability import logger

    rt = runtime()
    if rt.handles is None:
        return
    log = logger()
    for handle in rt.handles.of_pool(ended.pool_id):
        if not ended_messages_of(ended, handle.job_name):  # the job that took the pool: still warm
            continue
        if handle.pools:  # a sweep's end: updated once its last pool has ended
            _end_shared(copy, handle, bot, deadline=deadline)
            continue
        message = pool_ended(ended, handle.job_name, rt.clock.now())
        try:
            rt.bot.update(
                bot.token,
                handle.channel,
                handle.ts,
                text=message.text,
                blocks=message.blocks,
                deadline=deadline,
            )
        except SlackPermanentError as exc:
            if exc.error != "message_not_found":  # deleted in Slack: nothing is lost
                rt.metrics.count("SlackDeliveryFailed")
            log.error(
                "Slack refused to update the message; its buttons stay",
                extra={"error": exc.error, "detail": str(exc), "channel": handle.channel, "key": copy.key},
            )
        rt.handles.forget(handle)
        log.info("message updated: the pool ended", extra={"channel": handle.channel, "key": copy.key})


def _end_shared(
    copy: SlackCopy, handle: SlackMessageHandle, bot: BotChannel, *, deadline: float | None
) -> None:
    """A sweep's end kept under one of its pools, which ended: forgotten under it; once no pool of the
    message holds it (each pool's end forgets it first, then looks: of two ending at once, one at least
    sees none left), updated to its lines without buttons. Slack failing for now keeps it again under
    the pool, for the record's retry; a refusal for good is logged and counted as any update's."""
    import json

    from warmpool.adapters.slack import SlackPermanentError
    from warmpool.observability import logger

    rt = runtime()
    assert rt.handles is not None
    log = logger()
    rt.handles.forget(handle)
    others = [p for p in handle.pools if p != handle.pool_id]
    if any(rt.handles.holds(other, handle.channel, handle.ts) for other in others):
        log.info("sweep message kept: some of its pools are still warm", extra={"key": copy.key})
        return
    try:
        rt.bot.update(
            bot.token,
            handle.channel,
            handle.ts,
            text=handle.ended_text,
            blocks=json.loads(handle.ended_blocks or "[]"),
            deadline=deadline,
        )
    except SlackPermanentError as exc:
        if exc.error != "message_not_found":
            rt.metrics.count("SlackDeliveryFailed")
        log.error(
            "Slack refused to update the message; its buttons stay",
            extra={"error": exc.error, "detail": str(exc), "channel": handle.channel, "key": copy.key},
        )
        return
    except Exception:
        rt.handles.keep(handle, at=rt.clock.now())  # for the retry: its update is still owed
        raise
    log.info("sweep message updated: all its pools ended", extra={"channel": handle.channel, "key": copy.key})


@contextmanager
def _logged(record: SQSRecord) -> Iterator[None]:
    """A record that fails is logged with its error before SQS takes it back: the batch processor logs
    nothing, and after the queue's receive count the record waits in the notify DLQ, whose alarm sends
    the operator to this log (a webhooks secret that is not JSON, say)."""
    from warmpool.observability import logger

    try:
        yield
    except Exception as exc:
        logger().exception(
            "record failed; SQS will retry it (a copy already sent is not sent again), then keep it in "
            "the notify DLQ",
            extra={"message_id": record.message_id},
        )
        _count_retried(exc)
        raise


def _count_retried(exc: Exception) -> None:
    """`NotificationsRetried` (its alarm): a record that failed and goes back to the queue. An outage
    (SNS or DynamoDB throttled past the retries, Slack down, a webhooks secret that is not JSON) failed
    every message for the 25 to 30 minutes before the first reached the notify DLQ, and nothing told the
    on-call meanwhile. Not counted, as nothing failed: a Slack copy not tried for want of the
    invocation's time (a long batch), and a copy another invocation is sending at that moment (the same
    message delivered twice at once); both are sent by the record's retry."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    from warmpool.adapters.slack import SlackNoTimeError

    if isinstance(exc, SlackNoTimeError | IdempotencyAlreadyInProgressError):
        return
    try:
        runtime().metrics.count("NotificationsRetried")
    except Exception:  # a function that cannot even be wired (its settings) fails every record: its Errors
        return


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Two passes over the batch: every record's SNS copy first, then the Slack copies, so a slow or
    rate-limited Slack never holds back another record's SNS copy. A record fails (and SQS retries it)
    when either of its copies failed; a copy already sent is not sent again."""
    import time

    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    from warmpool.service.wiring import INVOCATION

    rt = runtime()
    rt.dedupe.register_lambda_context(context)
    # SNS (or DynamoDB) throttled: no publish is tried again past the function's timeout, where Lambda
    # would end the batch mid-publish, and send that copy again with the batch
    INVOCATION.start(context)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    deadline = time.monotonic() + remaining() / 1000 - SLACK_TIME_MARGIN_SECONDS if remaining else None
    owed: dict[str, SlackCopy] = {}

    def sns_pass(record: SQSRecord) -> None:
        with _logged(record):
            copy = publish_record(record)
        if copy is not None:
            owed[record.message_id] = copy

    def slack_pass(record: SQSRecord) -> None:
        with _logged(record):
            post_to_slack(owed[record.message_id], deadline=deadline)

    def run(batch: dict[str, Any], record_handler: Any) -> list[dict[str, Any]]:
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        response = process_partial_response(
            event=batch, record_handler=record_handler, processor=processor, context=context
        )
        return [dict(failure) for failure in response["batchItemFailures"]]

    try:
        failures = run(event, sns_pass)
        if owed:
            failures += run({"Records": [r for r in event["Records"] if r["messageId"] in owed]}, slack_pass)
        return {"batchItemFailures": failures}
    finally:
        INVOCATION.end()
        rt.metrics.flush()
