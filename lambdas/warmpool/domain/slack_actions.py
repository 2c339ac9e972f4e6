"""Slack interactivity payloads: what a button press asks for. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from warmpool.domain.messages import ACTION_EXTEND_30, ACTION_EXTEND_60, ACTION_RELEASE

MINUTES = {ACTION_EXTEND_30: 30, ACTION_EXTEND_60: 60, ACTION_RELEASE: 0}


class BadActionError(ValueError):
    """The payload is not a warmpool button press; the message names the field."""


@dataclass(frozen=True)
class ButtonPress:
    user_id: str
    user_name: str
    kind: Literal["extend", "release"]
    minutes: int
    job_name: str
    pool_id: str
    response_url: str | None


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
    # Each field is checked for the shape Slack sends, not only for presence: a mapping where the list
    # of actions belongs, or a list where an action id does, raised (KeyError, TypeError) and failed
    # the request; a user id or a job that is not a string was answered as if it were one ("None").
    if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
        raise BadActionError("payload.user.id: missing, or not a Slack user id (a string)")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise BadActionError("payload.actions: missing, or not a list of actions")
    action = actions[0]
    action_id = action.get("action_id")
    if not isinstance(action_id, str) or action_id not in MINUTES:
        raise BadActionError(f"payload.actions[0].action_id: unknown action {action_id!r}")
    try:
        value = json.loads(action.get("value") or "")
        job, pool = value["job"], value["pool"]
    except (ValueError, KeyError, TypeError):
        job = pool = None
    if not (isinstance(job, str) and job and isinstance(pool, str) and pool):
        raise BadActionError('payload.actions[0].value: must be {"job": ..., "pool": ...}')
    return ButtonPress(
        user_id=str(user["id"]),
        user_name=str(user.get("username") or user.get("name") or user["id"]),
        kind="release" if action_id == ACTION_RELEASE else "extend",
        minutes=MINUTES[action_id],
        job_name=job,
        pool_id=pool,
        response_url=_response_url(payload.get("response_url")),
    )


def _response_url(value: Any) -> str | None:
    """Where the answer updates the message: an http(s) URL, or none (a press outside a message has
    none). Anything else is refused before the press is applied: the update is tried only after the
    action is done, and a URL it cannot post to failed the request there, with the pool already
    changed and the person told it went wrong."""
    if value is None or value == "":
        return None
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
        url = parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        url = False
    if not url:
        raise BadActionError("payload.response_url: must be the http(s) URL Slack gives, or absent")
    return str(value)
