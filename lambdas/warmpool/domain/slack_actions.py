"""Slack interactivity: what a button press asks for, whether the engine granted it, and how the
original message reads afterwards. Pure: the handler verifies, authorizes and calls the engine."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qs

from warmpool.domain.messages import (
    ACTION_EXTEND_30,
    ACTION_EXTEND_60,
    ACTION_RELEASE,
    ACTIONS_BLOCK_ID,
    slack_escape,
)
from warmpool.domain.model import Action, Decision, Pool

MINUTES = {ACTION_EXTEND_30: 30, ACTION_EXTEND_60: 60, ACTION_RELEASE: 0}
# Slack's interactivity payloads are a few KiB; anything far larger is not Slack.
MAX_BODY_BYTES = 64 * 1024
# Extending "to" a time is judged with this slack: the engine plans in whole seconds from available_since.
GRANT_TOLERANCE = timedelta(seconds=60)


VERDICT_WORDS = {"done": "Done", "partly": "Partly done", "refused": "Refused"}


class BadActionError(ValueError):
    """The payload is not a warmpool button press; the message names the field."""


class BodyTooLargeError(ValueError):
    """The request body is over MAX_BODY_BYTES."""


@dataclass(frozen=True)
class ButtonPress:
    user_id: str
    user_name: str
    kind: Literal["extend", "release"]
    minutes: int
    job_name: str
    pool_id: str
    response_url: str | None
    message_blocks: tuple[dict[str, Any], ...] = ()  # the message the button was on, when Slack sends it


@dataclass(frozen=True)
class ActionOutcome:
    verdict: Literal["done", "partly", "refused"]
    detail: str  # what happened, and the rule and reasons when not everything was granted

    @property
    def text(self) -> str:
        """The ephemeral reply, and the line added to the original message."""
        return f"{VERDICT_WORDS[self.verdict]}: {self.detail}"

    @property
    def granted(self) -> bool:
        return self.verdict != "refused"


def raw_body(event: Mapping[str, Any]) -> str:
    """The body exactly as Slack signed it. API Gateway HTTP APIs and Function URLs base64-encode bodies
    they consider binary (`isBase64Encoded`); the signature covers the decoded bytes."""
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise BadActionError("body: must be a string (an API Gateway HTTP API v2 or Function URL event)")
    # Checked before decoding too, so a huge body costs no work (base64 is 4/3 of the bytes).
    if len(body) > MAX_BODY_BYTES * 4 // 3 + 4:
        raise BodyTooLargeError(f"body: over {MAX_BODY_BYTES} bytes")
    if event.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadActionError("body: isBase64Encoded is true but the body is not base64") from None
    else:
        data = body.encode("utf-8")
    if len(data) > MAX_BODY_BYTES:
        raise BodyTooLargeError(f"body: over {MAX_BODY_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadActionError("body: not UTF-8 form data") from None


def parse_button_press(body: str) -> ButtonPress:
    form = parse_qs(body, keep_blank_values=True)
    if "payload" not in form:
        raise BadActionError("payload: missing; Slack sends interactivity as a form field named payload")
    try:
        payload = json.loads(form["payload"][0])
    except ValueError:
        raise BadActionError("payload: not JSON") from None
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        raise BadActionError("payload.type: only block_actions (button presses) are handled")
    user = payload.get("user") or {}
    actions = payload.get("actions") or []
    if not isinstance(user, dict) or not user.get("id"):
        raise BadActionError("payload.user.id: missing")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise BadActionError("payload.actions: missing")
    action = actions[0]
    action_id = action.get("action_id")
    if action_id not in MINUTES:
        raise BadActionError(f"payload.actions[0].action_id: unknown action {action_id!r}")
    try:
        value = json.loads(action.get("value") or "")
        job, pool = str(value["job"]), str(value["pool"])
    except (ValueError, KeyError, TypeError):
        raise BadActionError('payload.actions[0].value: must be {"job": ..., "pool": ...}') from None
    response_url = payload.get("response_url")
    if response_url is not None and not isinstance(response_url, str):
        raise BadActionError("payload.response_url: must be a string")
    message = payload.get("message")
    blocks = message.get("blocks") if isinstance(message, dict) else None
    return ButtonPress(
        user_id=str(user["id"]),
        user_name=str(user.get("username") or user.get("name") or user["id"]),
        kind="release" if action_id == ACTION_RELEASE else "extend",
        minutes=MINUTES[action_id],
        job_name=job,
        pool_id=pool,
        response_url=response_url or None,
        message_blocks=tuple(b for b in blocks if isinstance(b, dict)) if isinstance(blocks, list) else (),
    )


def judge(press: ButtonPress, decision: Decision, *, before: Pool, now: datetime) -> ActionOutcome:
    """Did the engine do what the button asked? A refusal or a partial grant names the rule and reasons.

    The engine's answer is a Decision about the whole pool; an extension is granted when the decided
    horizon reaches the time asked for (`max(now, warm until) + minutes`), whichever rule set it."""
    why = f"{decision.rule}: {'; '.join(decision.reasons) or 'no reason given'}"
    job = press.job_name
    if press.kind == "release":
        if decision.action is Action.RELEASE:
            return ActionOutcome("done", f"{press.user_name} released the warm pool of {job}.")
        return ActionOutcome("refused", f"the warm pool of {job} was not released ({why}).")
    wanted_until = max(now, before.expires_at or now) + timedelta(minutes=press.minutes)
    if decision.action is Action.RELEASE or before.available_since is None or decision.horizon_seconds <= 0:
        return ActionOutcome("refused", f"the warm pool of {job} was not extended ({why}).")
    granted_until = before.available_since + timedelta(seconds=decision.horizon_seconds)
    if granted_until + GRANT_TOLERANCE >= wanted_until:
        return ActionOutcome(
            "done",
            f"{press.user_name} extended the warm pool of {job} by {press.minutes} min: warm until "
            f"{_hhmm(wanted_until)} (renewed in steps of at most an hour).",
        )
    if granted_until > (before.expires_at or now) + GRANT_TOLERANCE:
        return ActionOutcome(
            "partly",
            f"the warm pool of {job} is kept warm until {_hhmm(granted_until)}, short of the "
            f"{_hhmm(wanted_until)} asked for ({why}).",
        )
    return ActionOutcome("refused", f"the warm pool of {job} was not extended ({why}).")


def updated_blocks(press: ButtonPress, outcome: ActionOutcome, *, pool_gone: bool) -> list[dict[str, Any]]:
    """The original message with the outcome appended; without buttons once the pool is released or gone.
    Without the original (Slack omits it for some surfaces) the outcome stands alone."""
    blocks = [b for b in press.message_blocks if b.get("type") != "context" or b.get("block_id") != "outcome"]
    if pool_gone or (press.kind == "release" and outcome.granted):
        blocks = [b for b in blocks if b.get("block_id") != ACTIONS_BLOCK_ID]
    blocks.append(
        {
            "type": "context",
            "block_id": "outcome",
            "elements": [{"type": "mrkdwn", "text": slack_escape(outcome.text)}],
        }
    )
    return blocks


def _hhmm(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
