"""Lifecycle Lambda: SQS batches of SageMaker events, CloudTrail's UpdateTrainingJob records and
step-due messages -> LifecycleService.

Thin on purpose: parse, deduplicate, call the service, report partial batch failures. A malformed or
unknown message goes to the DLQ at once with its reason (never retried forever); a transient failure
fails only its own record, which SQS redelivers (and redrives to the DLQ after maxReceiveCount).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from warmpool.adapters.idempotency import PowertoolsDeduplicator
    from warmpool.adapters.queues import SqsDeadLetters
    from warmpool.observability import PowertoolsMetrics
    from warmpool.service.lifecycle import LifecycleService

# SQS redrives after 5 receives (the stack's maxReceiveCount); the 4th attempt is the last one that may
# still conclude "no warm pool" for a job whose WarmPoolStatus never appeared.
FINAL_ATTEMPT = 4
# What a record is given at least when it starts (an event takes about a second unthrottled): with less
# left of the invocation, it is not started, and SQS delivers it again (`warmpool.adapters.deadline`).
RECORD_START_SECONDS = 10.0


@dataclass
class Runtime:
    service: LifecycleService
    dedupe: PowertoolsDeduplicator
    dead_letters: SqsDeadLetters
    metrics: PowertoolsMetrics


@cache
def runtime() -> Runtime:
    from warmpool.adapters.idempotency import PowertoolsDeduplicator
    from warmpool.adapters.queues import SqsDeadLetters
    from warmpool.observability import PowertoolsMetrics
    from warmpool.service.wiring import boto_client, build_lifecycle_service
    from warmpool.settings import LifecycleSettings

    settings = LifecycleSettings.from_env()
    metrics = PowertoolsMetrics()
    return Runtime(
        service=build_lifecycle_service(settings, metrics=metrics),
        dedupe=PowertoolsDeduplicator(settings.idempotency_table_name, boto_client("dynamodb")),
        dead_letters=SqsDeadLetters(boto_client("sqs"), settings.dead_letter_queue_url),
        metrics=metrics,
    )


def handle_record(record: SQSRecord) -> None:
    """One message; an exception fails only this record (SQS retries it, then redrives to the DLQ)."""
    from warmpool.observability import logger
    from warmpool.service.ports import OutOfTimeError
    from warmpool.service.wiring import INVOCATION

    try:
        INVOCATION.require(RECORD_START_SECONDS, f"message {record.message_id}")
    except OutOfTimeError as exc:
        # Not started: nothing of it failed, SQS delivers it again untouched (`EventsDeferred`).
        logger().warning(
            "record not started: the invocation is out of time; SQS delivers it again",
            extra={"message_id": record.message_id, "detail": str(exc)},
        )
        with contextlib.suppress(Exception):  # a function that cannot be wired fails every record: its Errors
            runtime().metrics.count("EventsDeferred")
        raise
    try:
        _handle_record(record)
    except Exception as exc:
        logger().exception("record failed; SQS will retry it", extra={"message_id": record.message_id})
        _count_retried(exc)
        raise


def _count_retried(exc: Exception) -> None:
    """`EventsRetried` (its alarm): a record that failed and goes back to the queue. An outage (SageMaker
    or DynamoDB throttled past the retries, a role that may not read) failed every event for the 25 to
    30 minutes before the first reached the DLQ, and nothing told the on-call meanwhile. Not counted, as
    nothing failed: a job whose warm pool SageMaker has not reported yet (waiting for it is the normal
    course), and an event another invocation is processing at that moment (the same event delivered
    twice at once, as the notifier leaves out its copy): the record's retry finds it done. Nor a record
    not started for want of the invocation's time (`EventsDeferred`, which no alarm reads)."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    from warmpool.service.lifecycle import WarmPoolStatusPendingError

    if isinstance(exc, WarmPoolStatusPendingError | IdempotencyAlreadyInProgressError):
        return
    try:
        runtime().metrics.count("EventsRetried")
    except Exception:  # a function that cannot even be wired (its settings) fails every record: its Errors
        return


def _handle_record(record: SQSRecord) -> None:
    from warmpool.models.events import (
        EventRejectedError,
        KeepAliveCallEvent,
        StepDueMessage,
        TrainingJobEvent,
        TuningJobEvent,
        parse_lifecycle_message,
    )
    from warmpool.observability import logger

    rt = runtime()
    log = logger()
    try:
        message = parse_lifecycle_message(record.body)
    except EventRejectedError as exc:
        log.warning(
            "event rejected",
            extra={"reason": exc.reason, "field": exc.field, "message_id": record.message_id},
        )
        rt.dead_letters.send(record.body, exc.reason, exc.field)
        rt.metrics.count("EventsRejected")
        return
    final = int(record.attributes.approximate_receive_count or 1) >= FINAL_ATTEMPT
    if isinstance(message, TrainingJobEvent):
        detail = message.detail
        log.append_keys(job_name=detail.training_job_name)
        key = f"train#{detail.training_job_name}#{detail.training_job_status}#{detail.secondary_status or ''}"
        outcome = rt.dedupe.run_once(
            key, lambda: rt.service.handle_training_event(detail, final_attempt=final)
        )
        log.info(
            "training job event", extra={"status": detail.training_job_status, "outcome": _describe(outcome)}
        )
    elif isinstance(message, TuningJobEvent):
        tuning = message.detail
        log.append_keys(tuning_job_name=tuning.tuning_job_name)
        # a sweep started again under a deleted one's name has events of its own (its creation time)
        created = f"#{tuning.creation_time.isoformat()}" if tuning.creation_time else ""
        key = f"tune#{tuning.tuning_job_name}#{tuning.tuning_job_status}{created}"
        rt.dedupe.run_once(key, lambda: rt.service.handle_tuning_event(tuning))
        log.info("tuning job event", extra={"status": tuning.tuning_job_status})
    elif isinstance(message, KeepAliveCallEvent):
        call = message.detail
        log.append_keys(job_name=call.training_job_name)
        # CloudTrail's record id: the same in each copy of the event, another for each call
        key = f"call#{call.training_job_name}#{call.event_id}"
        outcome = rt.dedupe.run_once(
            key, lambda: rt.service.handle_keep_alive_call(call.training_job_name, final_attempt=final)
        )
        log.info("keep-alive call", extra={"event_id": call.event_id, "outcome": _describe(outcome)})
    elif isinstance(message, StepDueMessage):
        step = message.detail
        log.append_keys(job_name=step.training_job_name, pool_id=step.pool_id)
        key = f"step#{step.pool_id}#{step.training_job_name}#{step.step}#{step.purpose}#{step.at or ''}"
        outcome = rt.dedupe.run_once(key, lambda: rt.service.handle_step_due(step))
        log.info(
            "step due", extra={"step": step.step, "purpose": step.purpose, "outcome": _describe(outcome)}
        )


def _describe(outcome: Any) -> str:
    if outcome is None:
        return "duplicate"
    decision = getattr(outcome, "decision", None)
    action = getattr(outcome, "action", "")
    return f"{action}:{decision.action.value}:{decision.rule}" if decision is not None else str(action)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    from warmpool.observability import log_sweep_pools_deferred, logger
    from warmpool.service.wiring import INVOCATION

    rt = runtime()
    rt.dedupe.register_lambda_context(context)
    INVOCATION.start(context)  # no AWS call retries, and no record starts, past the function's timeout
    rt.service.begin_run()
    # A wholly failed batch is reported record by record too, so SQS retries and redrives each one.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    try:
        result = dict(
            process_partial_response(
                event=event, record_handler=handle_record, processor=processor, context=context
            )
        )
    finally:
        INVOCATION.end()
        logger().remove_keys(["job_name", "pool_id", "tuning_job_name"])
        log_sweep_pools_deferred(rt.service.sweep_pools_deferred_this_run)
        rt.metrics.flush()
    return result
