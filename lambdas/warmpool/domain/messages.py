"""Turning a Notification into words: a subject, plain text, a JSON document and Slack Block Kit blocks.

Pure: everything comes from `Notification.facts` (see domain/facts.py) and the decision it carries, so
a message can be re-rendered from the queue without AWS calls. Also builds the per-team daily digest.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from warmpool.domain.facts import pool_facts
from warmpool.domain.model import Notification, NotificationKind, Pool, Severity
from warmpool.domain.pricing import UnknownInstanceTypeError, price_per_hour

# SNS: "Subjects must be UTF-8 text with no line breaks or control characters, and less than 100
# characters long" (botocore's Publish model), so 99 at most.
SUBJECT_LIMIT = 99
# Block Kit: a section's text is at most 3000 characters, a field's 2000, at most 10 fields per section.
SECTION_TEXT_LIMIT = 3000
FIELD_TEXT_LIMIT = 2000
DIGEST_MAX_LINES = 25  # a digest of a large fleet lists the costliest pools and counts the rest

ACTION_EXTEND_30 = "warmpool_extend_30"
ACTION_EXTEND_60 = "warmpool_extend_60"
ACTION_RELEASE = "warmpool_release"
ACTIONS_BLOCK_ID = "warmpool_actions"
# Kinds about one Available pool, where extending or releasing it is a sensible next step.
ACTIONABLE = frozenset(
    {
        NotificationKind.POOL_READY,
        NotificationKind.EXPIRING_SOON,
        NotificationKind.EXTENDED,
        NotificationKind.SHORTENED,
        NotificationKind.LIFETIME_ENDING,
    }
)
# Kinds where the job's outcome and the pool's running cost belong in the message.
ABOUT_A_POOL = ACTIONABLE | {NotificationKind.RELEASED}

QUOTA_NAME = '"{instance_type} for training warm pool usage"'


@dataclass(frozen=True)
class RenderedMessage:
    subject: str  # for SNS (e-mail subject): single line, < 100 characters
    text: str  # plain text: the SNS `default` body and the Slack fallback
    document: dict[str, Any]  # the JSON document for machines (SNS sqs/lambda/https)
    blocks: list[dict[str, Any]] = field(default_factory=list)  # Slack Block Kit
    slack_text: str = ""  # `text` escaped for Slack (notification fallback, screen readers)


def render(notification: Notification, *, mention: str | None = None) -> RenderedMessage:
    """Render one notification. `mention` is a Slack user id to greet (the owner, or an admin)."""
    headline = _headline(notification)
    details = _details(notification)
    text = "\n".join([headline, *details])
    document = {
        "kind": notification.kind.value,
        "severity": notification.severity.value,
        "pool_id": notification.pool_id,
        "job_name": notification.job_name,
        "team": notification.team,
        "owner": notification.owner,
        "version": notification.version,
        "dedupe_key": notification.dedupe_key,
        "subject": sns_subject(headline),
        "facts": dict(notification.facts),
        "decision": notification.decision.to_json() if notification.decision else None,
        "text": text,
    }
    greeting = f"<@{slack_escape(mention)}> " if mention else ""
    blocks: list[dict[str, Any]] = [_section(f"{greeting}*{slack_escape(headline)}*")]
    fields = _fields(notification)
    if fields:
        blocks.append({"type": "section", "fields": fields})
    body = [slack_escape(line) for line in details if line != notification.facts.get("routing_note")]
    if body:
        blocks.append(_section("\n".join(body)))
    context = [f"{notification.severity.value} · {notification.kind.value}"]
    if notification.facts.get("routing_note"):
        context.append(slack_escape(str(notification.facts["routing_note"])))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]})
    if notification.kind in ACTIONABLE:
        blocks.append(action_buttons(notification.job_name, notification.pool_id))
    return RenderedMessage(
        subject=sns_subject(headline),
        text=text,
        document=document,
        blocks=blocks,
        slack_text=greeting + slack_escape(text),
    )


def action_buttons(job_name: str, pool_id: str) -> dict[str, Any]:
    """The "Extend 30 min", "Extend 60 min" and "Release now" buttons; the value names job and pool."""
    value = json.dumps({"job": job_name, "pool": pool_id}, separators=(",", ":"))
    return {
        "type": "actions",
        "block_id": ACTIONS_BLOCK_ID,
        "elements": [
            _button("Extend 30 min", ACTION_EXTEND_30, value),
            _button("Extend 60 min", ACTION_EXTEND_60, value),
            _button("Release now", ACTION_RELEASE, value, style="danger", confirm=True),
        ],
    }


def sns_subject(headline: str) -> str:
    """A subject SNS accepts: no line breaks or control characters, fewer than 100 characters.
    ASCII only, too: some e-mail clients mangle other subjects, and the headline loses nothing."""
    ascii_text = unicodedata.normalize("NFKD", headline).encode("ascii", "ignore").decode("ascii")
    single_line = " ".join("".join(c if c.isprintable() else " " for c in ascii_text).split())
    if not single_line:
        return "warmpool notification"
    if len(single_line) <= SUBJECT_LIMIT:
        return single_line
    return single_line[: SUBJECT_LIMIT - 3].rstrip() + "..."


def slack_escape(text: str) -> str:
    """Slack's mrkdwn treats &, < and > as control characters (`<!channel>`, `<@U1>`, links): text from
    jobs and tags (failure reasons, names) must not be able to ping a channel or forge a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def daily_digest(
    team: str,
    pools: Sequence[Pool],
    *,
    now: datetime,
    prices: Mapping[str, float] | None = None,
) -> Notification:
    """The day's digest for one team: its warm pools, what they cost idle, costliest first.
    One per team and day (the version is the date, so re-running the digest does not repeat it)."""
    entries: list[dict[str, Any]] = []
    for pool in pools:
        try:
            price: float | None = price_per_hour(pool.instance_type, prices)
        except UnknownInstanceTypeError:
            price = None  # an unknown type is listed without a cost rather than hiding the pool
        facts = pool_facts(pool, now=now, price_per_instance_hour=price)
        entries.append(
            {
                key: facts[key]
                for key in (
                    "pool_id",
                    "job_name",
                    "owner",
                    "warm_pool_status",
                    "instance_type",
                    "instance_count",
                    "idle_seconds",
                    "warm_until",
                    "cost_per_hour_usd",
                    "idle_cost_so_far_usd",
                )
            }
        )
    entries.sort(key=lambda e: (-(e["cost_per_hour_usd"] or 0.0), e["job_name"]))
    return Notification(
        kind=NotificationKind.DAILY_DIGEST,
        severity=Severity.INFO,
        pool_id=f"digest-{team}",
        job_name="",
        version=int(now.strftime("%Y%m%d")),
        team=team,
        owner=None,
        facts={
            "date": now.date().isoformat(),
            "pools": entries,
            "warm_instances": sum(int(e["instance_count"]) for e in entries),
            "cost_per_hour_usd": round(sum(e["cost_per_hour_usd"] or 0.0 for e in entries), 4),
            "idle_cost_so_far_usd": round(sum(e["idle_cost_so_far_usd"] or 0.0 for e in entries), 4),
        },
    )


def blocks_as_text(blocks: list[dict[str, Any]]) -> str:
    """Block Kit blocks as a terminal shows them (the demo's timeline)."""
    lines = []
    for block in blocks:
        if block["type"] == "section":
            if "text" in block:
                lines.append(block["text"]["text"])
            for item in block.get("fields", ()):
                lines.append(item["text"].replace("\n", " "))
        elif block["type"] == "context":
            lines.append(" ".join(e["text"] for e in block["elements"]))
        elif block["type"] == "actions":
            lines.append("  ".join(f"[{e['text']['text']}]" for e in block["elements"]))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- words
def _when(iso: Any) -> str:
    if not iso:
        return "unknown"
    try:
        moment = datetime.fromisoformat(str(iso))
    except ValueError:
        return str(iso)
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") + " UTC"


def _minutes(seconds: Any) -> str:
    total = int(seconds or 0)
    hours, minutes = divmod(round(total / 60), 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _usd(value: Any) -> str:
    return "unknown" if value is None else f"${float(value):,.2f}"


def _shape(f: Mapping[str, Any]) -> str:
    return f"{f.get('instance_type') or '?'} x{f.get('instance_count') or '?'}"


def _headline(n: Notification) -> str:
    f = n.facts
    job = n.job_name
    until = _when(f.get("warm_until"))
    team = n.team or "(no team)"
    if n.kind is NotificationKind.POOL_READY:
        return f"Warm pool ready: {job} ({_shape(f)}) warm until {until}"
    if n.kind is NotificationKind.EXPIRING_SOON:
        return f"Warm pool of {job} expires at {until}: reuse, extend or release it"
    if n.kind is NotificationKind.EXTENDED:
        return f"Warm pool of {job} kept warm until {until}"
    if n.kind is NotificationKind.SHORTENED:
        return f"Warm pool of {job} shortened: warm until {until}"
    if n.kind is NotificationKind.RELEASED:
        return f"Warm pool of {job} released"
    if n.kind is NotificationKind.QUOTA_WARNING:
        return f"Warm-pool quota warning for {f.get('scope') or _shape(f)}"
    if n.kind is NotificationKind.BUDGET_WARNING:
        return f"Idle warm-pool budget warning for team {team}"
    if n.kind is NotificationKind.TUNING_JOB_FINISHED:
        return f"Tuning job {f.get('tuning_job_name') or job} finished"
    if n.kind is NotificationKind.NO_WARM_POOL:
        return f"{job} asked for a warm pool but got none ({f.get('instance_type') or 'quota'})"
    if n.kind is NotificationKind.MISSED_POOL:
        return f"{job} started cold next to a warm pool it nearly matched"
    if n.kind is NotificationKind.LIFETIME_ENDING:
        return f"Warm pool of {job} reaches its maximum lifetime at {_when(f.get('lifetime_ends_at'))}"
    if n.kind is NotificationKind.DAILY_DIGEST:
        count = len(f.get("pools") or ())
        return (
            f"Warm pools of team {team} on {f.get('date')}: {count} pool{'s' if count != 1 else ''}, "
            f"{_usd(f.get('cost_per_hour_usd'))}/h idle"
        )
    if n.kind is NotificationKind.MISSING_TAGS:
        return f"{job} has no team or owner tag: counted against team {team}"
    if n.kind is NotificationKind.POLICY_LIMIT:
        return f"Warm-instance limit reached for {f.get('scope') or 'team ' + team}"
    raise ValueError(f"kind: no words for notification kind {n.kind.value!r}")  # a new enum member


def _details(n: Notification) -> list[str]:
    f = n.facts
    lines: list[str] = []
    if n.kind is NotificationKind.NO_WARM_POOL:
        lines.append(
            str(f.get("reason") or "The account's warm-pool quota for this instance type is 0 or used up.")
        )
        lines.append(
            "Raise it in Service Quotas (Amazon SageMaker): "
            + QUOTA_NAME.format(instance_type=f.get("instance_type") or "<instance type>")
            + ". Until then the job's KeepAlivePeriodInSeconds has no effect."
        )
    elif n.kind is NotificationKind.MISSED_POOL:
        match = f.get("match") or {}
        differing = [
            f"{name} (this job: {_value(match.get(name))})" if name in match else str(name)
            for name in (f.get("differing_fields") or [])
        ]
        lines.append(
            f"The Available pool of {f.get('nearby_pool_job')} differs in: "
            f"{', '.join(differing) or 'unknown'}."
        )
        lines.append("Make the next job match those fields to start in about 20 s instead of minutes.")
    elif n.kind is NotificationKind.TUNING_JOB_FINISHED:
        line = f"Status: {f.get('tuning_job_status') or 'unknown'}."
        if f.get("best_training_job"):
            line += f" Best training job: {f.get('best_training_job')}"
            if f.get("objective_metric") is not None:
                line += f" ({f.get('objective_metric')} = {f.get('objective_value')})"
            line += "."
        lines.append(line)
    elif n.kind is NotificationKind.LIFETIME_ENDING:
        lines.append(
            "A warm pool can chain matching jobs only up to a maximum lifetime; this one is released at "
            f"{_when(f.get('lifetime_ends_at'))} whatever the policy says. "
            "The next job after that starts cold."
        )
    elif n.kind is NotificationKind.BUDGET_WARNING and f.get("budget_usd") is not None:
        lines.append(
            f"Idle warm pools cost {_usd(f.get('spent_usd'))} of the {_usd(f.get('budget_usd'))} budget "
            f"this {f.get('period') or 'period'}."
        )
    elif (
        n.kind in (NotificationKind.QUOTA_WARNING, NotificationKind.POLICY_LIMIT)
        and f.get("limit") is not None
    ):
        lines.append(f"{f.get('current')} of {f.get('limit')} warm instances in use ({f.get('scope')}).")
    elif n.kind is NotificationKind.MISSING_TAGS:
        lines.append(
            "Tag training jobs with their team and owner so the right people hear about their pools."
        )
    elif n.kind is NotificationKind.DAILY_DIGEST:
        lines.extend(_digest_lines(f))
    if n.kind in ABOUT_A_POOL:
        job_status = f.get("job_status")
        if job_status:
            outcome = f"Job {str(job_status).lower()}"
            if f.get("failure_reason"):
                outcome += f": {f.get('failure_reason')}"
            lines.append(outcome + ".")
        if f.get("cost_per_hour_usd") is not None:
            lines.append(
                f"Idle cost {_usd(f.get('cost_per_hour_usd'))}/h, {_usd(f.get('idle_cost_so_far_usd'))} "
                f"so far ({_minutes(f.get('idle_seconds'))} idle)."
            )
    if n.kind is NotificationKind.POOL_READY:
        match = f.get("match") or {}
        shown = ", ".join(f"{k}={_value(v)}" for k, v in match.items() if v not in (None, [], False, ""))
        lines.append(f"To reuse it, a job must match: {shown}.")
    if n.decision is not None:
        reasons = "; ".join(n.decision.reasons) or "no reason given"
        lines.append(f"Decided by {n.decision.rule}: {reasons}.")
    if f.get("routing_note"):
        lines.append(str(f.get("routing_note")))
    return [line for line in lines if line]


def _digest_lines(f: Mapping[str, Any]) -> list[str]:
    pools = list(f.get("pools") or ())
    if not pools:
        return ["No warm pools right now."]
    lines = [
        f"{e.get('job_name')} ({_shape(e)}, {e.get('owner') or 'no owner'}): "
        f"idle {_minutes(e.get('idle_seconds'))}, "
        f"{_usd(e.get('cost_per_hour_usd'))}/h, until {_when(e.get('warm_until'))}"
        for e in pools[:DIGEST_MAX_LINES]
    ]
    if len(pools) > DIGEST_MAX_LINES:
        lines.append(f"... and {len(pools) - DIGEST_MAX_LINES} more.")
    lines.append(
        f"{f.get('warm_instances')} warm instances, {_usd(f.get('idle_cost_so_far_usd'))} idle so far."
    )
    return lines


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _fields(n: Notification) -> list[dict[str, Any]]:
    """The facts at a glance, for messages about one pool."""
    if n.kind not in ABOUT_A_POOL:
        return []
    f = n.facts
    pairs = [
        ("Job", n.job_name),
        ("Outcome", str(f.get("job_status") or "unknown")),
        ("Warm until", _when(f.get("warm_until"))),
        ("Instances", _shape(f)),
        ("Cost per hour", _usd(f.get("cost_per_hour_usd"))),
        ("Idle so far", _usd(f.get("idle_cost_so_far_usd"))),
    ]
    return [
        {"type": "mrkdwn", "text": _clip(f"*{label}*\n{slack_escape(value)}", FIELD_TEXT_LIMIT)}
        for label, value in pairs
    ]


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SECTION_TEXT_LIMIT)}}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _button(
    label: str, action_id: str, value: str, *, style: str | None = None, confirm: bool = False
) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    if confirm:  # releasing cannot be undone: the next job would start cold
        button["confirm"] = {
            "title": {"type": "plain_text", "text": "Release the warm pool?"},
            "text": {
                "type": "plain_text",
                "text": "The instances are released now; the next job starts cold.",
            },
            "confirm": {"type": "plain_text", "text": "Release"},
            "deny": {"type": "plain_text", "text": "Keep it"},
        }
    return button
