"""Slack interactivity payloads: what a button press asks for. Pure."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from warmpool.domain.messages import ACTION_EXTEND_30, ACTION_EXTEND_60, ACTION_RELEASE, SWEEP_ACTIONS_BLOCK
from warmpool.domain.model import SLACK_USER_ID, TRAINING_JOB_NAME

MINUTES = {ACTION_EXTEND_30: 30, ACTION_EXTEND_60: 60, ACTION_RELEASE: 0}
# Where Slack's response URLs live (https://hooks.slack.com/actions/...; GovSlack's on hooks.slack-gov.com)
SLACK_ORIGINS = ("https://hooks.slack.com", "https://hooks.slack-gov.com")
# A URL as Slack writes it: printable ASCII, no space, no backslash (which browsers read as a slash)
URL_CHARACTERS = re.compile(r"[!-\[\]-~]+")


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
    # pressed in a message holding several pools' buttons (a sweep's end): a release there must not
    # replace the message, which says and acts on the other pools too
    of_several_pools: bool = False


def parse_button_press(body: str, *, response_origins: Collection[str] = SLACK_ORIGINS) -> ButtonPress:
    """The press a signed body carries. Every field is checked for the shape Slack gives it, as a body
    signed with a leaked signing secret could carry anything: a user id or a job name longer than a
    DynamoDB key failed the request with DynamoDB's error, and a `response_url` off Slack's hosts had
    the function post wherever the body said (`response_origins`: scheme, host and port, exactly)."""
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
    if not SLACK_USER_ID.fullmatch(user["id"]):
        raise BadActionError(
            "payload.user.id: not a Slack user id (U or W, then up to 63 capitals and digits)"
        )
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
    if not (TRAINING_JOB_NAME.fullmatch(job) and TRAINING_JOB_NAME.fullmatch(pool)):
        # the button's value is warmpool's own (a pool is named after the first job of its lineage): a
        # job and a pool of other names are no press of ours
        raise BadActionError(
            "payload.actions[0].value: job and pool must be training job names (at most 63 letters, "
            "digits and hyphens)"
        )
    return ButtonPress(
        user_id=str(user["id"]),
        user_name=str(user.get("username") or user.get("name") or user["id"]),
        kind="release" if action_id == ACTION_RELEASE else "extend",
        minutes=MINUTES[action_id],
        job_name=job,
        pool_id=pool,
        response_url=_response_url(payload.get("response_url"), response_origins),
        of_several_pools=str(action.get("block_id") or "").startswith(SWEEP_ACTIONS_BLOCK),
    )


def _origin(scheme: str, host: str, port: int | None) -> str:
    default = {"https": 443, "http": 80}.get(scheme)
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


def allowed_origin(origin: str) -> str:
    """An origin as `response_origins` compares it (`https://hooks.slack.com`, a port only when it is
    not the scheme's own); ValueError when it is not one."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.path.strip("/"):
        raise ValueError(
            f"{origin!r} is not an origin (a scheme, a host and maybe a port, as https://hooks.slack.com)"
        )
    return _origin(parts.scheme, parts.hostname, parts.port)


def _response_url(value: Any, origins: Collection[str]) -> str | None:
    """Where the answer updates the message: a URL on Slack's own hosts, or none (a press outside a
    message has none). Anything else is refused before the press is applied: the function would post
    the outcome wherever a forged body pointed it (another host, `https://hooks.slack.com@evil.example`,
    `https://hooks.slack.com.evil.example`, another port or scheme), and a URL it cannot post to failed
    the request after the action, with the pool already changed, the URL in the error's log."""
    if value is None or value == "":
        return None
    try:
        parts = urlsplit(value) if isinstance(value, str) and URL_CHARACTERS.fullmatch(value) else None
        origin = (
            _origin(parts.scheme, parts.hostname, parts.port)
            if parts is not None and parts.hostname and "@" not in parts.netloc
            else None
        )
    except ValueError:  # a port that is not a number
        origin = None
    if origin is None or origin not in origins:
        raise BadActionError(
            f"payload.response_url: must be the URL Slack gives (on {' or '.join(origins)}), or absent"
        )
    return str(value)
