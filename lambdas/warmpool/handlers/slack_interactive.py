"""Slack interactive endpoint (API Gateway HTTP API or Function URL): "Extend"/"Release" buttons.

Two functions of this module. `handler`, the one the internet reaches, does only what is quick and
needs no engine: verify the signature on the raw body (and refuse requests older than 5 minutes),
answer a replay of a request already handled "already handled" without acting again, bound the body
size and each user's request rate, then queue the press and acknowledge it at once ("Working on it:
..."), well within the 3 seconds Slack waits. `worker`, fed by that queue, authorizes (owner, team
admins, platform admins) and applies the press through the lifecycle service, so policy limits still
hold and a refusal says why, and posts the outcome to the press's `response_url` (docs/adr/0010).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from warmpool.adapters.queues import SqsDeadLetters
    from warmpool.adapters.secrets import SecretStore
    from warmpool.adapters.slack import SlackWebhooks
    from warmpool.domain.clock import Clock
    from warmpool.domain.messages import SlackMessage
    from warmpool.domain.slack_actions import ButtonPress
    from warmpool.observability import PowertoolsMetrics
    from warmpool.service.lifecycle import LifecycleService
    from warmpool.service.ports import AuditEntry, PoolRecord

MAX_BODY_BYTES = 64 * 1024
MAX_REQUESTS_PER_MINUTE = 10
UPDATE_TIMEOUT_SECONDS = 1  # a post from the endpoint; the ack is due within 3 s
OUTCOME_TIMEOUT_SECONDS = 5  # the worker's post of the outcome, each of its tries
# Of the worker's time, kept to answer a press that failed and to keep it in the press DLQ: a post of
# the answer (one try of SlackWebhooks' timeout, and a retry) and a SendMessage
WORKER_RESERVE_SECONDS = 10.0
REPLAY_WINDOW_SECONDS = 5 * 60  # slack-sdk refuses a request whose timestamp is further from now
# A second press of the same button on the same job by the same person this soon after the first is
# the same request (a double click, a press again because nothing showed yet), not a second one
REPEAT_WINDOW_SECONDS = 30
# How long the worker remembers that it told a person their press failed: past every delivery SQS
# makes of the press (5 receives, a visibility timeout apart)
TOLD_REMEMBERED_SECONDS = 24 * 3600
TIMESTAMP = re.compile(r"[0-9]{1,12}")  # Unix seconds, as Slack sends them
SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")  # Slack's v0 scheme: HMAC-SHA256 in hex


@dataclass
class Front:
    """What the endpoint needs: no engine, so it starts and answers quickly."""

    secrets: SecretStore  # the signing secret is read again once a minute: filled after the deploy
    signing_secret_arn: str
    response_origins: tuple[str, ...]  # where a press's response_url may point: Slack's hosts
    slack: SlackWebhooks  # one short try: only to say a press could not be queued
    dynamodb: Any
    table: str
    sqs: Any
    press_queue_url: str
    metrics: PowertoolsMetrics
    clock: Clock  # the engine's clock: the rate limiter's minutes are its minutes


@dataclass
class Worker:
    """What the worker needs to apply a queued press and post its outcome."""

    service: LifecycleService
    slack: SlackWebhooks  # with retries: outside Slack's 3 s
    dynamodb: Any
    table: str
    dead_letters: SqsDeadLetters  # a press that failed, once its person is told
    metrics: PowertoolsMetrics
    clock: Clock


class Runtime:
    """The module's two functions' parts, each made on its first use: the endpoint never builds the
    engine (nor needs its settings), the worker never reads the signing secret."""

    @cached_property
    def front(self) -> Front:
        from warmpool.adapters.secrets import SecretStore
        from warmpool.adapters.slack import SlackWebhooks
        from warmpool.observability import PowertoolsMetrics
        from warmpool.service.wiring import boto_client, current_clock
        from warmpool.settings import SlackInteractiveSettings

        settings = SlackInteractiveSettings.from_env()
        clock = current_clock()
        return Front(
            secrets=SecretStore(boto_client("secretsmanager"), clock=clock),
            signing_secret_arn=settings.slack_signing_secret_arn,
            response_origins=settings.slack_response_origins,
            # Slack wants the acknowledgement within 3 s: a post from here gets one short try.
            slack=SlackWebhooks(
                max_rate_limit_retries=0,
                max_server_error_retries=0,
                max_connection_retries=0,
                timeout_seconds=UPDATE_TIMEOUT_SECONDS,
            ),
            dynamodb=boto_client("dynamodb"),
            table=settings.pools_table_name,
            sqs=boto_client("sqs"),
            press_queue_url=settings.slack_press_queue_url,
            metrics=PowertoolsMetrics(),
            clock=clock,
        )

    @cached_property
    def worker(self) -> Worker:
        from warmpool.adapters.queues import SqsDeadLetters
        from warmpool.adapters.slack import SlackWebhooks
        from warmpool.observability import PowertoolsMetrics
        from warmpool.service.wiring import boto_client, build_lifecycle_service, current_clock
        from warmpool.settings import SlackPressSettings

        settings = SlackPressSettings.from_env()
        metrics = PowertoolsMetrics()
        clock = current_clock()
        return Worker(
            service=build_lifecycle_service(settings, metrics=metrics, clock=clock),
            slack=SlackWebhooks(timeout_seconds=OUTCOME_TIMEOUT_SECONDS),
            dynamodb=boto_client("dynamodb"),
            table=settings.pools_table_name,
            dead_letters=SqsDeadLetters(boto_client("sqs"), settings.slack_press_dlq_url),
            metrics=metrics,
            clock=clock,
        )


@cache
def runtime() -> Runtime:
    return Runtime()


def _reply(status: int, text: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"response_type": "ephemeral", "text": text}),
    }


def _within_rate(rt: Front, user: str) -> bool:
    """A per-user counter per minute of the injected clock (DynamoDB atomic ADD, expiring): stops a
    flood from one user."""
    minute = int(rt.clock.now().timestamp() // 60)
    response = rt.dynamodb.update_item(
        TableName=rt.table,
        Key={"pk": {"S": f"RATE#{user}"}, "sk": {"S": str(minute)}},
        UpdateExpression="ADD hits :one SET #ttl = :ttl",
        ExpressionAttributeNames={"#ttl": "ttl"},
        ExpressionAttributeValues={":one": {"N": "1"}, ":ttl": {"N": str((minute + 10) * 60)}},
        ReturnValues="UPDATED_NEW",
    )
    return int(response["Attributes"]["hits"]["N"]) <= MAX_REQUESTS_PER_MINUTE


def _signed(secret: str, body: str, timestamp: str, signature: str) -> bool:
    """Slack's signature over the raw body, within the 5-minute window. Headers of any other shape are
    refused before the verifier sees them, and whatever the verifier trips on is a refusal too."""
    from slack_sdk.signature import SignatureVerifier

    if not TIMESTAMP.fullmatch(timestamp) or not SIGNATURE.fullmatch(signature):
        return False
    try:
        return bool(SignatureVerifier(secret).is_valid(body, timestamp, signature))
    except Exception:  # a request we cannot verify is not verified
        return False


class SigningSecretError(ValueError):
    """The signing secret cannot be what Slack signs with: every request is refused, and the log says why."""


def _signing_secret(rt: Front) -> str:
    """The Slack app's signing secret as the operator put it in the secret, by hand. Whitespace around
    it (a pasted newline) is not part of it: kept, every press was refused as unsigned. A blank one, or
    one the Secrets Manager console saved as key/value JSON, refused every press without a word of why:
    it raises, naming the secret and the fix, never its value."""
    secret = rt.secrets.text(rt.signing_secret_arn).strip()
    name = rt.signing_secret_arn.rsplit(":", 1)[-1]
    if not secret:
        raise SigningSecretError(
            f"secret {name} is blank: put the Slack app's signing secret in it (Basic Information, "
            "App Credentials)"
        )
    if secret.startswith("{"):
        raise SigningSecretError(
            f"secret {name} holds JSON (the console's key/value pairs): put the signing secret alone, "
            "as plaintext"
        )
    return secret


def _request_id(timestamp: str, signature: str) -> str:
    """A signed request's id: the hash of its timestamp and signature, one for each press Slack sends."""
    return hashlib.sha256(f"{timestamp}:{signature}".encode()).hexdigest()


def _marker_key(timestamp: str, signature: str) -> dict[str, Any]:
    return {"pk": {"S": f"SLACKREQ#{_request_id(timestamp, signature)}"}, "sk": {"S": "SEEN"}}


def _first_time(rt: Front, timestamp: str, signature: str) -> bool:
    """Whether this signed request comes for the first time: a conditional put of a marker (the hash
    of its timestamp and signature) that expires once the request would be refused as stale anyway.
    A captured request sent again within the 5 minutes finds its marker."""
    try:
        rt.dynamodb.put_item(
            TableName=rt.table,
            Item={
                **_marker_key(timestamp, signature),
                "ttl": {"N": str(int(timestamp) + 2 * REPLAY_WINDOW_SECONDS)},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
    except rt.dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def _forget(rt: Front, timestamp: str, signature: str) -> None:
    """The request's marker removed (`_first_time`): the same signed request is heard again."""
    rt.dynamodb.delete_item(TableName=rt.table, Key=_marker_key(timestamp, signature))


def _press_key(press: ButtonPress) -> dict[str, Any]:
    return {
        "pk": {"S": f"SLACKPRESS#{press.user_id}#{press.job_name}"},
        "sk": {"S": f"{press.kind}#{press.minutes}"},
    }


def _earlier_press(rt: Worker, press: ButtonPress) -> float | None:
    """Seconds since the same person pressed the same button on the same job, when that was less than
    `REPEAT_WINDOW_SECONDS` ago (the press is then that request again); else None, and this press is
    marked as the latest (a conditional put, so two presses at once cannot both be the first)."""
    now = rt.clock.now().timestamp()
    try:
        rt.dynamodb.put_item(
            TableName=rt.table,
            Item={
                **_press_key(press),
                "at": {"N": repr(now)},
                "ttl": {"N": str(int(now) + 2 * REPLAY_WINDOW_SECONDS)},
            },
            ConditionExpression="attribute_not_exists(pk) OR #at <= :cutoff",
            ExpressionAttributeNames={"#at": "at"},
            ExpressionAttributeValues={":cutoff": {"N": repr(now - REPEAT_WINDOW_SECONDS)}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except rt.dynamodb.exceptions.ConditionalCheckFailedException as exc:
        earlier = exc.response.get("Item", {}).get("at", {}).get("N")
        return max(0.0, now - float(earlier)) if earlier is not None else 0.0
    return None


def _first_telling(rt: Worker, press_id: str) -> bool:
    """Whether the person who pressed is yet to be told that their press failed: a conditional put of
    a mark under the press's id. A press whose DLQ send failed too is delivered again by SQS (up to the
    queue's 5 receives), and each delivery told the person again. A mark that cannot be written (the
    registry may be what failed) tells them all the same: better twice than never."""
    from warmpool.observability import logger

    now = int(rt.clock.now().timestamp())
    try:
        rt.dynamodb.put_item(
            TableName=rt.table,
            Item={
                "pk": {"S": f"SLACKTOLD#{press_id}"},
                "sk": {"S": "TOLD"},
                "ttl": {"N": str(now + TOLD_REMEMBERED_SECONDS)},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
    except rt.dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    except Exception:
        logger().exception("could not mark the press's answer as told; told all the same")
    return True


def _forget_press(rt: Worker, press: ButtonPress) -> None:
    """The press's mark removed (`_earlier_press`): a press that failed is not an earlier request."""
    rt.dynamodb.delete_item(TableName=rt.table, Key=_press_key(press))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Every answer, an early one too, publishes what the request counted."""
    rt = runtime().front
    try:
        return _answer(event, rt)
    finally:
        rt.metrics.flush()


def _answer(event: dict[str, Any], rt: Front) -> dict[str, Any]:
    from warmpool.domain.messages import slack_text
    from warmpool.domain.slack_actions import BadActionError, parse_button_press
    from warmpool.observability import logger

    log = logger()
    raw = event.get("body") or ""
    if len(raw) > MAX_BODY_BYTES * 2:
        return _reply(413, "request too large")
    try:
        body = (
            base64.b64decode(raw, validate=True).decode("utf-8", "replace")
            if event.get("isBase64Encoded")
            else raw
        )
    except ValueError:  # not base64: nothing Slack signed
        body = None
    if body is not None and len(body.encode()) > MAX_BODY_BYTES:
        return _reply(413, "request too large")
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    try:
        secret = _signing_secret(rt)
    except SigningSecretError:
        log.exception("cannot check Slack signatures; every request is refused until the secret is fixed")
        return _reply(401, "invalid or stale signature")
    if body is None or not _signed(secret, body, timestamp, signature):
        log.warning("rejected a request with a bad or stale Slack signature")
        return _reply(401, "invalid or stale signature")
    if not _first_time(rt, timestamp, signature):
        log.warning("ignored a replayed Slack request")
        return _reply(200, "already handled")
    try:
        press = parse_button_press(body, response_origins=rt.response_origins)
    except BadActionError as exc:  # names what the payload carried: escaped, as every answer is
        return _reply(400, slack_text(str(exc)))
    try:
        if not _within_rate(rt, press.user_id):
            return _reply(429, "too many requests; wait a minute")
        # Applying the press (a DescribeTrainingJob, an UpdateTrainingJob, schedules, a dozen registry
        # reads and writes, the audit, after a cold start) did not reliably fit in the 3 s Slack waits
        # for the acknowledgement: the worker applies it, and posts the outcome to its response_url.
        rt.sqs.send_message(
            QueueUrl=rt.press_queue_url,
            MessageBody=json.dumps(
                {
                    "press": asdict(press),
                    "pressed_at": rt.clock.now().isoformat(),
                    # the press's id, however often SQS delivers it: its audit entry and its answer once
                    "press_id": _request_id(timestamp, signature),
                }
            ),
        )
    except Exception as exc:
        # DynamoDB or SQS failed: the press was not queued. The function's error, and the person is
        # told; the request is no longer marked heard, so that the same request sent again is.
        _answer_press(
            rt.slack,
            press,
            slack_text(
                f"{press.kind} {press.job_name}: failed ({_failure(exc)}): the request was not "
                "carried out; press the button again in a minute."
            ),
        )
        try:
            _forget(rt, timestamp, signature)
        except Exception:  # the registry may be what failed: the failure above is the one to raise
            log.exception("could not forget the failed Slack request; Slack's retry of it is ignored")
        raise
    asked = (
        f"extend {press.job_name} by {press.minutes} min"
        if press.kind == "extend"
        else (f"release {press.job_name}")
    )
    # Slack shows nothing of this body for a button in a message: the outcome, posted, is what is seen
    return _reply(200, slack_text(f"Working on it: {asked}; the outcome follows."))


def worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The presses the endpoint queued, one by one (the queue's batches are of one)."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    from warmpool.observability import log_sweep_pools_deferred
    from warmpool.service.wiring import INVOCATION

    rt = runtime().worker
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    # No AWS call retries past the function's timeout, which would end the try without a word (the
    # press then answered as unfinished, a minute later): the last seconds are kept to answer the
    # person and keep the press in the DLQ.
    INVOCATION.start(context, reserve=WORKER_RESERVE_SECONDS)
    try:
        return dict(
            process_partial_response(event=event, record_handler=_work, processor=processor, context=context)
        )
    finally:
        INVOCATION.end()
        log_sweep_pools_deferred(rt.service.sweep_pools_deferred_this_run)
        rt.metrics.flush()


@dataclass(frozen=True)
class QueuedPress:
    """A press as the endpoint queued it: the press, when it was heard, and its id (the same however
    often SQS delivers it; a press queued before the endpoint gave one has its message's id)."""

    press: ButtonPress
    pressed_at: datetime
    press_id: str


def _queued_press(body: str, message_id: str) -> QueuedPress:
    """The press the endpoint queued; ValueError when the message is not one."""
    from warmpool.domain.slack_actions import ButtonPress

    try:
        message = json.loads(body)
        press = ButtonPress(**message["press"])
        pressed_at = datetime.fromisoformat(message["pressed_at"])
        press_id = message.get("press_id") or message_id
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a press the Slack endpoint queued: {exc}") from None
    if press.kind not in ("extend", "release") or pressed_at.tzinfo is None or not isinstance(press_id, str):
        raise ValueError("not a press the Slack endpoint queued")
    return QueuedPress(press, pressed_at, press_id)


def _work(record: SQSRecord) -> None:
    """One queued press. Whatever becomes of it, the person who pressed is told, and a press that could
    not be carried out is kept in the press DLQ (whose depth alarms) with the reason: never retried,
    as an extension carried out before a failure would be granted twice."""
    from warmpool.domain.messages import slack_text
    from warmpool.observability import logger

    rt = runtime().worker
    log = logger()
    try:
        queued = _queued_press(record.body, record.message_id)
    except ValueError as exc:
        log.warning("not a Slack press; kept in the press DLQ", extra={"message_id": record.message_id})
        rt.dead_letters.send(record.body, str(exc), "body")
        return
    press, pressed_at = queued.press, queued.pressed_at
    if int(record.attributes.approximate_receive_count or 1) > 1:
        # An earlier try ended without a word (the function timed out, or ran out of memory): it may
        # have changed the pool, so the press is not applied again.
        log.error("a Slack press whose earlier try did not finish", extra={"job_name": press.job_name})
        # unless an earlier try told the person already (its answer out, its DLQ send failed)
        if _first_telling(rt, queued.press_id):
            _answer_press(
                rt.slack,
                press,
                slack_text(
                    f"{press.kind} {press.job_name}: failed: warmpool could not finish the request (its "
                    "operators are alerted): it may not have been carried out; press the button again in a "
                    "minute."
                ),
            )
        rt.dead_letters.send(record.body, "an earlier try of the press did not finish", "press")
        return
    waited = (rt.clock.now() - pressed_at).total_seconds()
    if waited > REPLAY_WINDOW_SECONDS:
        # a press redriven from the DLQ, or one that waited out an outage: the person may have moved on
        log.warning("a Slack press that waited too long", extra={"job_name": press.job_name})
        _answer_press(
            rt.slack,
            press,
            slack_text(
                f"{press.kind} {press.job_name}: not carried out: it waited {int(waited // 60)} min to be "
                "heard; press the button again if you still want it."
            ),
        )
        return
    try:
        text = _press(rt, queued)
    except Exception as exc:
        # Failed inside warmpool (SageMaker or DynamoDB throttled past the retries, a write another
        # invocation kept getting in first). The answer promises nothing: the failure may have come
        # after a change.
        reason = _failure(exc)
        log.exception("a Slack press failed; kept in the press DLQ", extra={"job_name": press.job_name})
        # told once: should the DLQ send below fail, SQS delivers the press again, which says nothing
        if _first_telling(rt, queued.press_id):
            _answer_press(
                rt.slack,
                press,
                slack_text(
                    f"{press.kind} {press.job_name}: failed ({reason}): the request may not have been "
                    "carried out; press the button again in a minute."
                ),
            )
        rt.dead_letters.send(record.body, f"failed ({reason}): {exc}", "press")
        return
    log.info("Slack press answered", extra={"job_name": press.job_name, "answer": text.split(" (")[0]})


def _failure(exc: Exception) -> str:
    """What failed, as the answer to a press names it: AWS's error code (`ThrottlingException`), also
    for a call not tried again for want of time (`OutOfTimeError`: what its last try got), else the
    exception's type."""
    from botocore.exceptions import ClientError

    from warmpool.service.ports import OutOfTimeError

    code = None
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code")
    elif isinstance(exc, OutOfTimeError):
        code = exc.code
    return code or type(exc).__name__


def _press(rt: Worker, queued: QueuedPress) -> str:
    """A signed press, heard for the first time, of a warmpool button, queued by the endpoint:
    authorized, applied, and answered; the answer's text."""
    from warmpool.domain.clock import moment_text
    from warmpool.domain.messages import button_label, slack_text, without_buttons
    from warmpool.domain.model import UserRequest, WarmPoolStatus
    from warmpool.domain.policy.resolve import requester_owner
    from warmpool.domain.routing import may_act
    from warmpool.observability import logger

    log = logger()
    press = queued.press
    limits = rt.service.limits
    if not limits.manages(press.job_name):
        # Another stack's job (`job_name_prefixes`): its message came from a Slack app whose Request URL
        # is this stack's endpoint. Not in this registry, it would be answered "gone" and its message's
        # buttons removed, while the other stack keeps it warm: it is left, message and all, and the
        # person told where the fix is.
        log.info("Slack press on another deployment's job", extra={"job_name": press.job_name})
        return _answer_press(
            rt.slack,
            press,
            slack_text(
                f"{press.kind} {press.job_name}: not this deployment's job: it manages only the jobs whose "
                f"names begin with {', '.join(limits.job_name_prefixes)} (job_name_prefixes); nothing was "
                "done. The stack that manages it needs a Slack app of its own, whose Request URL is that "
                "stack's SlackRequestUrl, to post its messages."
            ),
        )
    # The pool the job is in now, as the registry's job index names it (the engine acts on that one):
    # the button names the pool the message was sent about, which a lineage joined since no longer is
    # (a job's events that came after its successor's: the successor's own pool, merged into its
    # predecessor's; a phantom an upgrade's sweep removed), and the press was answered "gone".
    pool_id = rt.service.registry.pool_id_for_job(press.job_name) or press.pool_id
    record = rt.service.registry.get(pool_id)
    if record is None or record.pool.job_name != press.job_name:
        # the job's name as the button's value carried it, which need not be a name SageMaker gave
        gone = slack_text(f"The warm pool of {press.job_name} is gone or has moved on; nothing to do.")
        _replace_buttons(rt, press, None)
        return _answer_press(rt.slack, press, gone)
    policy = rt.service.policies.current()
    request = UserRequest(
        kind=press.kind, user=press.user_name, minutes=press.minutes, via="slack", user_id=press.user_id
    )
    owner, unmapped = requester_owner(policy, request, record.pool.owner)
    request = replace(request, user_owner=owner)
    if not may_act(policy, press.user_id, owner=record.pool.owner, team=record.pool.team):
        log.info("unauthorized Slack action", extra={"user": press.user_id, "job_name": press.job_name})
        # in the pool's trail too: who tried to change it, and why they could not
        rt.service.audit_unauthorized(
            record, request, "not the pool's owner, an admin of its team or a platform admin"
        )
        # an owner who pressed from a Slack account the policy does not map is told so: it is the fix
        return _answer_press(
            rt.slack,
            press,
            slack_text(
                f"{press.kind} {press.job_name}: refused: only the owner or the team's admins may change "
                f"this pool{f' ({unmapped})' if unmapped else ''}; nothing was changed."
            ),
        )
    # The same button pressed again by the same person within seconds (a double click, or again because
    # the first answer had not shown yet) is that request again: two presses of "Extend 60 min" kept the
    # pool warm two hours longer, past what the person asked. A press after the window adds more.
    earlier = _earlier_press(rt, press)
    if earlier is not None:
        log.info("repeated Slack press", extra={"user": press.user_id, "job_name": press.job_name})
        button = button_label(press.kind, press.minutes)
        # in the pool's trail too (a team lead reading `pools show` sees the second press and why it
        # changed nothing), once for the press however often SQS delivers it
        rt.service.audit_repeated(
            record,
            request,
            at=queued.pressed_at,
            press_id=queued.press_id,
            details={
                "button": button,
                "first_pressed_seconds_ago": int(earlier),
                "reason": (
                    f"the same button pressed again by the same person within {REPEAT_WINDOW_SECONDS} s: "
                    "that request again; nothing more was done"
                ),
            },
        )
        return _answer_press(
            rt.slack,
            press,
            slack_text(
                f"{press.kind} {press.job_name}: already asked: you pressed {button} {int(earlier)} s ago, "
                f"and this press is that request again; nothing more was done. To "
                f"{'add more time' if press.kind == 'extend' else 'ask again'}, press it again after "
                f"{REPEAT_WINDOW_SECONDS} s."
            ),
        )
    try:
        decision = rt.service.apply_user_request(press.job_name, request)
    except Exception:
        try:
            _forget_press(rt, press)  # failed: pressed again, it is heard
        except Exception:
            log.exception("could not forget the failed press; a press again within the window is ignored")
        raise
    verdict = decision.verdict(press.kind)  # "partly done": the reasons say until when, and which limit
    # a message holding other pools' buttons too (a sweep's end) stays as it is, the answer beside it
    replaces = not press.of_several_pools
    if replaces and press.kind == "release" and verdict == "done":
        # the message whose button released the pool: its buttons can only be answered "gone" now
        released = moment_text(rt.clock.now())
        message = without_buttons(
            f"Warm pool of {press.job_name} released",
            [
                f"Released by {press.user_name} from Slack at {released}.",
                f"{decision.rule}: {'; '.join(decision.reasons)}",
            ],
        )
        _replace_original(rt.slack, press, message)
    elif replaces and decision.rule == "status" and not decision.grants(press.kind):
        # no Available pool: the message's buttons are of no use once the pool is gone
        ended = rt.service.registry.get(pool_id)
        if (
            ended is not None
            and ended.pool.job_name == press.job_name
            and ended.pool.status is WarmPoolStatus.TERMINATED
        ):
            _replace_buttons(rt, press, ended)
    # escaped and cut like a notification's text: the reasons quote SageMaker's errors, for one
    text = slack_text(
        f"{press.kind} {press.job_name}: {verdict} ({decision.rule}: {'; '.join(decision.reasons)})"
    )
    return _answer_press(rt.slack, press, text)


def _replace_buttons(rt: Worker, press: ButtonPress, ended: PoolRecord | None) -> None:
    """The message whose button was pressed, replaced by one without buttons when its pool is gone (a
    release from the CLI, the policy, its keep-alive run out, a later job that took it): each press of
    them could only be answered "gone". Who released it and when, as the pool's trail says, when it
    says (one Query of the trail, on such a press only)."""
    from warmpool.domain.clock import moment_text
    from warmpool.domain.messages import button_label, without_buttons

    pressed = moment_text(rt.clock.now())
    said = f"{press.user_name} pressed {button_label(press.kind, press.minutes)} at {pressed}"
    release = _release_in_trail(rt, ended) if ended is not None else None
    if release is not None:
        details = release.details
        who = f" by {details['user']} via {details.get('via') or 'cli'}" if details.get("user") else ""
        lines = [
            f"Released{who} at {moment_text(release.at)} ({details.get('rule')}).",
            f"{said}: nothing to do.",
        ]
    else:
        lines = [f"{said}: the pool is gone, or a later job took it; nothing to do."]
    _replace_original(
        rt.slack, press, without_buttons(f"Warm pool of {press.job_name} no longer warm", lines)
    )


def _release_in_trail(rt: Worker, ended: PoolRecord) -> AuditEntry | None:
    """The decision that released the pool, as its trail has it (the latest entry deciding a release),
    or None (its keep-alive ran out, or released outside warmpool; or the trail cannot be read)."""
    from warmpool.observability import logger

    try:
        trail = rt.service.registry.audit_trail(ended.pool.pool_id)
    except Exception:  # a courtesy: the answer follows all the same
        logger().exception("could not read the pool's trail for who released it")
        return None
    releases = [
        e
        for e in trail
        if e.what == "decision" and e.details.get("action") == "release" and not e.details.get("dry_run")
    ]
    return releases[-1] if releases else None


def _replace_original(slack: SlackWebhooks, press: ButtonPress, message: SlackMessage) -> None:
    """The message that held the pressed button replaced (its `response_url`, `replace_original`: Slack
    allows it for the message an interaction came from, up to 5 posts within 30 minutes of the press):
    the answer to the press follows as a message of its own. A post that fails is only logged."""
    from warmpool.adapters.slack import SlackPermanentError, SlackTransientError
    from warmpool.observability import logger

    if press.response_url:
        try:
            slack.post(press.response_url, text=message.text, blocks=message.blocks, replace_original=True)
        except (SlackPermanentError, SlackTransientError, OSError):
            logger().exception("could not replace the Slack message's buttons")


def _answer_press(slack: SlackWebhooks, press: ButtonPress, text: str) -> str:
    """The answer to a press, posted to its `response_url`; the text. Slack shows nothing of the
    acknowledgement's body for a button in a message (block_actions): only what is posted to the
    `response_url` reaches the person who pressed. Every answer to a press goes there, a refusal too."""
    from warmpool.adapters.slack import SlackPermanentError, SlackTransientError
    from warmpool.domain.messages import plain_blocks
    from warmpool.observability import logger

    if press.response_url:
        try:
            # in plain_text blocks: as the top-level text alone, Slack would format the reasons as mrkdwn
            slack.post(press.response_url, text=text, blocks=plain_blocks(text), replace_original=False)
        except (SlackPermanentError, SlackTransientError, OSError):
            # The answer is a courtesy: what was done is done.
            logger().exception("could not update the Slack message")
    return text
