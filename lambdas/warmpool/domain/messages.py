"""Turning a Notification into words: a subject, plain text, a JSON document and Slack Block Kit blocks.

Pure: everything comes from `Notification.facts` (see domain/facts.py) and the decision it carries.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from warmpool.domain.clock import moment_text
from warmpool.domain.model import Action, Notification, NotificationKind

SUBJECT_LIMIT = 99  # SNS: a subject is ASCII, without line breaks, and under 100 characters
# SNS takes 262,144 bytes with the subject and the message attributes: the Message gets the rest
SNS_MESSAGE_LIMIT = 256 * 1024 - 8 * 1024
SLACK_SECTION_LIMIT = 3000  # characters of a section block's text (and of any text object)
SLACK_HEADER_LIMIT = 150  # characters of a header block's text
SLACK_FIELD_LIMIT = 2000  # characters of a section's field (we send none; the adapter cuts any)
SLACK_BUTTON_LIMIT = 75  # characters of a button's text
SLACK_BLOCK_LIMIT = 50  # blocks in a message
SLACK_CONFIRM_TEXT_LIMIT = 300  # characters of a confirmation dialog's text
SLACK_TEXT_LIMIT = 40_000  # characters of a message's top-level text: Slack truncates a longer one
# All the text of a message's blocks together: Slack refuses a message past about 12,000 to 13,000
# characters (`msg_blocks_too_long`, undocumented). We keep each message under this, with room to spare.
SLACK_MESSAGE_TEXT_LIMIT = 10_000
# Of that, what the header (at most SLACK_HEADER_LIMIT), the mention, the note on cut lines and the
# buttons may take: the lines get the rest
_SLACK_RESERVED = 500
# A plan ending within a minute of the step's end is that step: event delays and rounding, no other time
PLAN_TOLERANCE_SECONDS = 60
CUT = "\u2026"  # "…": where Slack text was cut to fit
_SLACK_ESCAPE = re.compile(r"&(?:amp|lt|gt);")
_MENTION = re.compile(r"<@[A-Z0-9]+>")
_SLACK_MARKUP = re.compile(r"<(?:[@#!]|[a-z][a-z0-9+.-]*:)", re.IGNORECASE)  # <@U1>, <!here>, <https:...>
ACTION_EXTEND_30 = "warmpool_extend_30"
ACTION_EXTEND_60 = "warmpool_extend_60"
ACTION_RELEASE = "warmpool_release"
# The block id of a pool's buttons in a message that has several pools' (a sweep's end), numbered
SWEEP_ACTIONS_BLOCK = "warmpool_actions_"
ACTIONABLE = frozenset(
    {
        NotificationKind.POOL_READY,
        NotificationKind.EXPIRING_SOON,
        NotificationKind.EXTENDED,
        NotificationKind.SHORTENED,
        NotificationKind.LIFETIME_ENDING,
    }
)

# The kinds sent to nobody (no SNS copy, no Slack post): their notice only updates the pool's kept
# Slack messages, in bot-token mode (`updates_only`)
UPDATES_ONLY = frozenset({NotificationKind.POOL_ENDED})


@dataclass(frozen=True)
class SlackMessage:
    """One Slack message: its blocks, and the top-level `text` that push and desktop notifications show."""

    text: str
    blocks: list[dict[str, Any]]


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    document: dict[str, Any]
    slack: list[SlackMessage] = field(default_factory=list)  # one, or a digest's parts in order


def _when(iso: str | None) -> str:
    return moment_text(datetime.fromisoformat(iso)) if iso else "unknown"


def dry_run(n: Notification) -> bool:
    """Whether the notification tells of a dry run (the policy's `dry_run`): the decision it carries
    was not carried out, or, for a notice about no one pool (a quota warning), it was made under one."""
    return (n.decision is not None and n.decision.dry_run) or n.facts.get("dry_run") is True


def _headline(n: Notification) -> str:
    """The message's first line (the SNS subject, the Slack header). Under a dry run it says so first,
    and what the decision would have done is said as such: "released" or "kept warm until" a time the
    pool's own keep-alive gives would read as done."""
    f = n.facts
    job = n.job_name
    until = _when(f.get("warm_until"))
    if dry_run(n):
        would = {
            NotificationKind.RELEASED: f"Warm pool of {job} would be released; warm until {until}",
            NotificationKind.EXTENDED: f"Warm pool of {job} would be kept warm longer; warm until {until}",
            NotificationKind.SHORTENED: f"Warm pool of {job} would be shortened; warm until {until}",
        }
        return f"[dry run] {would.get(n.kind) or _what_happened(n)}"
    return _what_happened(n)


def _what_happened(n: Notification) -> str:
    f = n.facts
    job = n.job_name
    shape = f"{f.get('instance_type')} x{f.get('instance_count')}"
    until = _when(f.get("warm_until"))
    # a job without a team tag counts against the policy's default team, which the routing note names
    team = f"team {n.team}" if n.team else "the default team"
    return {
        NotificationKind.POOL_READY: f"Warm pool ready: {job} ({shape}) warm until {until}",
        NotificationKind.EXPIRING_SOON: f"Warm pool of {job} expires at {_when(f.get('warm_until'))}",
        NotificationKind.EXTENDED: f"Warm pool of {job} kept warm until {_when(f.get('warm_until'))}",
        NotificationKind.SHORTENED: f"Warm pool of {job} shortened: warm until {_when(f.get('warm_until'))}",
        NotificationKind.RELEASED: f"Warm pool of {job} released",
        NotificationKind.QUOTA_WARNING: f"Warm-pool quota warning for {f.get('scope', shape)}",
        NotificationKind.BUDGET_WARNING: f"Idle budget warning for {team}",
        NotificationKind.TUNING_JOB_FINISHED: f"Tuning job {f.get('tuning_job_name')} finished",
        NotificationKind.NO_WARM_POOL: f"{job} asked for a warm pool but got none",
        NotificationKind.MISSED_POOL: f"{job} started cold next to a warm pool it nearly matched",
        NotificationKind.LIFETIME_ENDING: f"Warm pool of {job} reaches its maximum lifetime soon",
        NotificationKind.DAILY_DIGEST: f"Warm pools of team {n.team}: daily digest",
        NotificationKind.MISSING_TAGS: f"{job} has no team tag: counted against the default team"
        if not n.team
        else f"{job} has no owner tag: its team's admins are told",
        NotificationKind.POLICY_LIMIT: f"Warm-instance limit reached for {team}",
        NotificationKind.POOL_ENDED: f"Warm pool of {job} no longer warm",
    }[n.kind]


def usd(amount: Any) -> str:
    """Money spent, in every message alike: dollars and cents (`$1,234.45`, `$0.00`), not the float the
    facts hold (`1234.4544`, `0.0`)."""
    return f"${float(amount):,.2f}"


def usd_per_hour(price: Any) -> str:
    """An hourly price: cents, or the tenth of a cent when SageMaker's price has it (`$5.00`, `$2.424`)."""
    text = f"{float(price):,.3f}"
    return f"${text[:-1] if text.endswith('0') else text}"


def counted(number: int, noun: str) -> str:
    """`1 job`, `1,204 jobs`."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def lifetime(seconds: int) -> str:
    """A pool's maximum lifetime as the stack sets it (`max_lifetime_days`): `28 days`, `1 day`; in
    hours or minutes when it is not whole days (`MAX_LIFETIME_SECONDS` set by hand)."""
    for unit, noun in ((86400, "day"), (3600, "hour")):
        if seconds % unit == 0:
            return counted(seconds // unit, noun)
    return counted(max(1, round(seconds / 60)), "minute")


def _details(n: Notification) -> list[str]:
    f = n.facts
    lines: list[str] = []
    if n.kind is NotificationKind.NO_WARM_POOL:
        lines.append(str(f.get("reason", "")))
        lines.append(
            f'Raise it in Service Quotas: SageMaker, "{f.get("instance_type")} for training warm pool usage".'
        )
    elif n.kind is NotificationKind.QUOTA_WARNING:
        lines.append(str(f.get("reason", "")))
        if dry_run(n):
            lines.append(
                "Dry run: warmpool changes no keep-alive, so these pools are warm on their jobs' own "
                "keep-alives (a pool warmpool would release is not counted as kept warm)."
            )
    elif n.kind is NotificationKind.MISSED_POOL:
        differing = ", ".join(f.get("differing_fields") or [])
        lines.append(f"The Available pool of {f.get('nearby_pool_job')} differs in: {differing}.")
        lines.append("Make the next job match those fields to start in seconds instead of minutes.")
    elif n.kind is NotificationKind.TUNING_JOB_FINISHED:
        lines.append(
            f"Status: {f.get('tuning_job_status')}. Best training job: {f.get('best_training_job')} "
            f"({f.get('objective_metric')} = {f.get('objective_value')})."
        )
        if f.get("pool_id") is None:  # the tuning job's notice, not a pool's
            lines.append("Its trials hold no warm pool any more: other jobs have taken them.")
        lines.extend(_sweep_pool_lines(f.get("sweep_pools") or []))
        if f.get("sweep_reasons_left_out"):
            lines.append("Each pool's reasons are in its own message (SNS), left out here for length.")
    elif n.kind is NotificationKind.LIFETIME_ENDING:
        ends = f"ends at {_when(f.get('lifetime_ends_at'))}."
        limit = f.get("max_lifetime_seconds")  # none in a notice queued by an earlier version
        lines.append(
            f"Warm pools live at most {lifetime(int(limit))} here; this one {ends}" if limit else f"It {ends}"
        )
    elif n.kind is NotificationKind.DAILY_DIGEST:
        pools = f.get("warm_pools") or []
        left_out = int(f.get("warm_pools_left_out") or 0)
        today, month = f.get("idle_cost_today_usd", 0), f.get("idle_cost_month_usd", 0)
        instances = int(f.get("warm_instances", 0))
        lines.append(
            f"{counted(len(pools) + left_out, 'warm pool')} ({counted(instances, 'instance')}) on "
            f"{f.get('date')}; idle cost {usd(today)} today, {usd(month)} this month."
        )
        if dry_run(n):
            lines.append(
                "Dry run: warmpool changes no keep-alive, so these pools are warm on their jobs' own "
                "keep-alives, and the idle cost is theirs."
            )
        for p in pools:
            owner = f", owner {p.get('owner')}" if p.get("owner") else ""
            shape = f"{p.get('instance_type')} x{p.get('instance_count')}{owner}"
            lines.append(
                f"- {p.get('job_name')} ({shape}): idle since {_when(p.get('available_since'))}, "
                f"warm until {_when(p.get('warm_until'))}"
            )
        if left_out:
            lines.append(
                f"...and {counted(left_out, 'more warm pool')}, left out of this message: "
                f"`warmpool pools list --team {shlex.quote(n.team or '')} --status Available` lists them all."
            )
    elif n.kind is NotificationKind.BUDGET_WARNING and f.get("budget_usd") is not None:
        spent, budget = usd(f.get("spent_usd") or 0), usd(f.get("budget_usd"))
        period = "today" if f.get("period") == "day" else f"this {f.get('period')}"
        lines.append(f"Spent {spent} of {budget} {period}.")
    if n.kind in ACTIONABLE or n.kind is NotificationKind.RELEASED:
        job_status = f.get("job_status")
        if job_status:
            outcome = f"Job {job_status.lower()}"
            if f.get("failure_reason"):
                outcome += f": {f.get('failure_reason')}"
            lines.append(outcome + ".")
        if f.get("cost_per_hour_usd") is not None:
            so_far = usd(f.get("idle_cost_so_far_usd") or 0)
            lines.append(f"Idle cost {usd_per_hour(f.get('cost_per_hour_usd'))}/h, {so_far} so far.")
    if n.kind is NotificationKind.POOL_READY:
        match = f.get("match") or {}
        shown = ", ".join(f"{k}={_shown(v)}" for k, v in match.items() if v not in (None, [], False))
        if shown:
            lines.append(f"To reuse it, a job must match: {shown}.")
    planned = _planned_until(n)
    if planned is not None:
        lines.append(
            f"Planned to stay warm until {moment_text(planned)}, an hour at most at a time: each step is "
            "decided again before it ends."
        )
    if n.decision is not None:
        lines.append(f"Decided by {n.decision.rule}: {'; '.join(n.decision.reasons)}.")
    if f.get("routing_note"):
        lines.append(str(f.get("routing_note")))
    return [line for line in lines if line]


def _sweep_pool_lines(pools: list[dict[str, Any]]) -> list[str]:
    """What became of each pool of a sweep once it ended, a line each (`sweep_pools`): the one Slack
    message of a sweep's end says it for all of them, where each pool's decision is its own SNS message."""
    if not pools:
        return []
    lines = [f"Its {counted(len(pools), 'warm pool')}, decided now that it has ended:"]
    for p in pools:
        shape = f"{p.get('instance_type')} x{p.get('instance_count')}"
        status = str(p.get("warm_pool_status") or "")
        if p.get("dry_run"):
            what = (
                f"{p.get('action')} (dry run: warm on its own keep-alive until {_when(p.get('warm_until'))})"
            )
        elif p.get("action") == Action.RELEASE.value or status == "Terminated":
            what = "released"
        elif p.get("warm_until"):
            what = f"kept warm until {_when(p.get('warm_until'))}"
        else:
            what = f"warm pool {status}"
        # a sweep's end too large for SNS lists some pools without their reasons, or only by which pool
        # and what became of it (`render`)
        why = "; ".join(str(r) for r in p.get("reasons") or [])
        by = f", by {p.get('rule')}{': ' + why if why else ''}" if p.get("rule") else ""
        shown = f" ({shape})" if p.get("instance_type") else ""
        lines.append(f"- {p.get('job_name')}{shown}: {what}{by}.")
    return lines


def _planned_until(n: Notification) -> datetime | None:
    """Until when the decision wants the pool warm, when that is past the `warm_until` the message gives.
    SageMaker keeps a pool warm an hour at most per update, so a pool promised until 09:38 on request
    was told "kept warm until 09:29" (the step's end), read as the request cut short. None when the
    message's time is the plan's end, or the decision was not carried out (a dry run)."""
    decision, facts = n.decision, n.facts
    if (
        decision is None
        or decision.dry_run
        or n.kind not in (NotificationKind.POOL_READY, NotificationKind.EXTENDED)
        or decision.action not in (Action.EXTEND, Action.KEEP)
        or not facts.get("available_since")
        or not facts.get("warm_until")
    ):
        return None
    planned = datetime.fromisoformat(str(facts["available_since"])) + timedelta(
        seconds=decision.horizon_seconds
    )
    warm_until = datetime.fromisoformat(str(facts["warm_until"]))
    return planned if planned - warm_until > timedelta(seconds=PLAN_TOLERANCE_SECONDS) else None


def sns_subject(headline: str) -> str:
    """What SNS accepts as a subject: printable ASCII (anything else, team names included, becomes
    "?"), one line, under 100 characters ("..." where it was cut)."""
    text = "".join(c if " " <= c <= "~" else ("?" if c not in "\r\n\t" else " ") for c in headline).strip()
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."


def _shown(value: object) -> str:
    """A match field as people write it: subnets and security groups space-separated (`subnet-1
    subnet-2`), not as Python's list (`['subnet-1', 'subnet-2']`), and true for a flag that is set."""
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    if value is True:
        return "true"
    return str(value)


def render(notification: Notification, *, mention: str | None = None) -> RenderedMessage:
    """The message in every form. Its SNS form (`sns_message`) fits SNS's size limit: a digest too
    large for it lists the warm pools that fit and says how many it left out."""
    message = _render(notification, mention)
    if _fits_sns(message):
        return message
    pools = list(notification.facts.get("warm_pools") or [])
    # the pools left out already: a digest the engine queued lists only what its SNS copy could
    # (`listed_digest`), and the notifier's copy, with a routing note, may list fewer still
    left_out_before = int(notification.facts.get("warm_pools_left_out") or 0)
    if notification.kind is NotificationKind.DAILY_DIGEST and pools:

        def keeping(count: int) -> RenderedMessage:
            left_out = left_out_before + len(pools) - count
            facts = {**notification.facts, "warm_pools": pools[:count], "warm_pools_left_out": left_out}
            return _render(replace(notification, facts=facts), mention)

        fits, too_many = 0, len(pools)  # the most pools that fit, by bisection
        while too_many - fits > 1:
            middle = (fits + too_many) // 2
            fits, too_many = (middle, too_many) if _fits_sns(keeping(middle)) else (fits, middle)
        message = keeping(fits)
        if _fits_sns(message):
            return message
    sweep = list(notification.facts.get("sweep_pools") or [])
    if notification.kind is NotificationKind.TUNING_JOB_FINISHED and sweep:
        # A sweep of many pools (a hundred parallel trials, each decision's reasons listed): every pool
        # stays listed, each by its rule without its reasons (its own message, SNS, has them whole),
        # then, if need be, with only what says which pool and what became of it
        for keep in (_SWEEP_POOL_FIELDS, _SWEEP_POOL_FIELDS_AT_LEAST, None):
            compact = [_sweep_pool_kept(p, keep) for p in sweep]
            facts = {**notification.facts, "sweep_pools": compact, "sweep_reasons_left_out": True}
            message = _render(replace(notification, facts=facts), mention)
            if _fits_sns(message):
                return message
    # Nothing else grows without bound (job text is bounded by SageMaker); kept as a last resort
    text = message.text[: SNS_MESSAGE_LIMIT // 16] + "..."
    document = {**message.document, "facts": {"left_out": "too large for SNS"}, "text": text}
    return replace(message, text=text, document=document)


# What a sweep's end too large for SNS keeps of each pool it lists (`render`): all but its reasons, else
# which pool, and what became of it
_SWEEP_POOL_FIELDS = frozenset(
    {
        "pool_id",
        "job_name",
        "instance_type",
        "instance_count",
        "warm_pool_status",
        "warm_until",
        "action",
        "dry_run",
        "rule",
    }
)
_SWEEP_POOL_FIELDS_AT_LEAST = frozenset({"pool_id", "job_name", "warm_pool_status", "warm_until", "action"})


def _sweep_pool_kept(pool: dict[str, Any], keep: frozenset[str] | None) -> dict[str, Any]:
    """A pool of a sweep's end too large for SNS with the fields `keep` (`render`); None: the least that
    still says which pool and what became of it, a line as the text has it, for the 300 pools of the
    widest sweep: its `job_name`, its `action`, and its `warm_until` if it is still warm (`Available`,
    which it then goes without), else its `warm_pool_status`."""
    if keep is not None:
        return {k: v for k, v in pool.items() if k in keep}
    least = {"job_name": pool.get("job_name"), "action": pool.get("action")}
    if pool.get("warm_until"):
        return {**least, "warm_until": pool.get("warm_until")}
    return {**least, "warm_pool_status": pool.get("warm_pool_status")}


def listed_digest(notification: Notification) -> Notification:
    """A digest as its messages can show it: the warm pools its SNS copy lists (`render`), the others
    counted in `warm_pools_left_out`. What the engine queues for the notifier, so that a team with a
    thousand warm pools does not make a queue message past SQS's 256 KiB, which would fail the run that
    sends it, every run; the message says the same as it would have."""
    if notification.kind is not NotificationKind.DAILY_DIGEST:
        return notification
    facts = render(notification).document["facts"]
    return notification if "warm_pools" not in facts else replace(notification, facts=facts)


def listed_sweep(notification: Notification) -> Notification:
    """A sweep's end as its messages can show it: each pool as its SNS copy lists it (`render`: without
    its reasons, or by less, when every pool with its reasons would pass SNS's 256 KiB). What the engine
    queues for the notifier, as a digest (`listed_digest`): the sweep's end of 300 pools with their
    reasons passed SQS's 256 KiB, so its send failed at every try and it was never sent; the messages
    say the same as they would have."""
    if notification.kind is not NotificationKind.TUNING_JOB_FINISHED:
        return notification
    facts = render(notification).document["facts"]
    return notification if "sweep_pools" not in facts else replace(notification, facts=facts)


def sns_message(text: str, document: dict[str, Any]) -> str:
    """The SNS `Message` (`MessageStructure=json`): the text for e-mail and SMS subscribers
    (`default`), the JSON document for machines."""
    machine = json.dumps(document, default=str, sort_keys=True)
    return json.dumps({"default": text, "sqs": machine, "lambda": machine, "https": machine})


def _fits_sns(message: RenderedMessage) -> bool:
    return len(sns_message(message.text, message.document).encode()) <= SNS_MESSAGE_LIMIT


def _render(notification: Notification, mention: str | None) -> RenderedMessage:
    headline = _headline(notification)
    details = _details(notification)
    subject = sns_subject(headline)
    text = "\n".join([headline, *details])
    document = {
        "kind": notification.kind.value,
        "severity": notification.severity.value,
        "pool_id": notification.pool_id,
        "job_name": notification.job_name,
        "team": notification.team,
        "owner": notification.owner,
        "version": notification.version,
        "facts": dict(notification.facts),
        "decision": notification.decision.to_json() if notification.decision else None,
        "text": text,
    }
    return RenderedMessage(subject, text, document, _slack(notification, headline, details, text, mention))


def _slack(
    notification: Notification, headline: str, details: list[str], text: str, mention: str | None
) -> list[SlackMessage]:
    """The Slack copy, every message of it within Slack's limits (the SLACK_*_LIMIT constants, all its
    block text within SLACK_MESSAGE_TEXT_LIMIT), however many pools and however long the job's text.

    Text from a job or from AWS (job and team names, tag values, failure reasons, decisions' reasons
    naming fields like `max_extend_minutes`) is shown as written: the headline is a header block and the
    lines are `plain_text`, which Slack never formats, where mrkdwn has no escape for `*`, `_`, `~` or
    a backtick (`bad *value*` would show bold). Only the mention, our own markup, is mrkdwn.

    A daily digest too long for one message is split into several, in order, each saying "part 2 of 3"
    in its header (so is a sweep's end whose pools' names one message would cut: `_names_cut`): each
    pool's line is worth reading whole in the channel, and a team with many warm pools is the team
    that most needs the list (the parts are as many as the SNS copy's pools need: a handful at most).
    Any other message is about one pool, read at once with its buttons, so it stays
    one message: should its lines not fit (a long failure reason with long tag values), the longest are
    cut, ending in "…", and a last line says so and that the SNS copy has them whole.

    A message has at most 11 blocks, well within SLACK_BLOCK_LIMIT: a mention, the header, the lines'
    sections (at most 7: two sections side by side hold more than SLACK_SECTION_LIMIT), the note on cut
    lines, the buttons."""
    digest = notification.kind is NotificationKind.DAILY_DIGEST
    title = slack_escape(headline)
    whole = [slack_escape(line) for line in details]
    if len(title) > SLACK_HEADER_LIMIT - (len(" (part 100 of 100)") if digest else 0):
        whole.insert(0, title)  # the header shows it cut: whole here
    lines = [slack_cut(line, SLACK_SECTION_LIMIT) for line in whole]
    sweep = _sweep_buttons(notification)
    room = SLACK_MESSAGE_TEXT_LIMIT - _SLACK_RESERVED - sum(_block_text(block) for block in sweep)
    parts = _parts(lines, room) if digest or _names_cut(notification, lines, room) else [_fitted(lines, room)]
    cut = [line for part in parts for line in part] != whole
    messages = []
    for number, part in enumerate(parts, 1):
        of = f" (part {number} of {len(parts)})" if len(parts) > 1 else ""
        header = slack_cut(title, SLACK_HEADER_LIMIT - len(of)) + of
        blocks: list[dict[str, Any]] = []
        if mention and number == 1:  # one ping, on the message that starts it
            blocks.append({"type": "section", "text": _mrkdwn(f"<@{mention}>")})
        blocks.append({"type": "header", "text": _plain(header)})
        blocks.extend({"type": "section", "text": _plain(section)} for section in _sections(part))
        if cut and number == len(parts):
            blocks.append({"type": "context", "elements": [_plain(SLACK_CUT_NOTE)]})
        if notification.kind in ACTIONABLE and number == len(parts):
            blocks.append(_actions(notification))
        if number == len(parts):
            blocks.extend(sweep)
        # the whole text when it is one message (push notifications show its beginning); a part's own
        top = slack_text(text) if len(parts) == 1 else slack_cut("\n".join([header, *part]), SLACK_TEXT_LIMIT)
        messages.append(SlackMessage(top, blocks))
    return messages


SLACK_CUT_NOTE = "Lines ending in \u2026 were cut to fit Slack; the SNS copy of this message has them whole."


def button_label(kind: str, minutes: int | None = None) -> str:
    """A button's text, as the message shows it and an answer about a press names it."""
    return "Release now" if kind == "release" else f"Extend {minutes} min"


# The sweep's pools kept warm that its one message gives buttons to: at most this many (two blocks
# each, with the rest at most 31 blocks of SLACK_BLOCK_LIMIT); the others are named with the command
SWEEP_BUTTONS = 10


def _sweep_buttons(notification: Notification) -> list[dict[str, Any]]:
    """The buttons of a sweep's end (`sweep_pools`), for each pool it kept warm: the pool's job name, then
    its "Extend 30 min", "Extend 60 min" and "Release now", as each pool's own message had them. Past
    SWEEP_BUTTONS pools, a line names the command for the others."""
    if notification.kind is not NotificationKind.TUNING_JOB_FINISHED:
        return []
    kept = [
        p
        for p in notification.facts.get("sweep_pools") or []
        if p.get("warm_until") and not p.get("dry_run") and p.get("action") != Action.RELEASE.value
    ]
    blocks: list[dict[str, Any]] = []
    for number, p in enumerate(kept[:SWEEP_BUTTONS], 1):
        job, pool = str(p.get("job_name")), str(p.get("pool_id"))
        blocks.append({"type": "section", "text": _plain(slack_cut(slack_escape(job), SLACK_SECTION_LIMIT))})
        blocks.append(
            _actions(replace(notification, job_name=job, pool_id=pool), f"{SWEEP_ACTIONS_BLOCK}{number}")
        )
    if len(kept) > SWEEP_BUTTONS:
        others = f"{counted(len(kept) - SWEEP_BUTTONS, 'more pool')} kept warm"
        blocks.append(
            {
                "type": "context",
                "elements": [_plain(f"{others}: warmpool pools extend|release JOB acts on each of them.")],
            }
        )
    return blocks


def _block_text(block: dict[str, Any]) -> int:
    """The characters of a block's text objects, as Slack counts them against a message's whole text."""
    total = 0

    def walk(node: object) -> None:
        nonlocal total
        if isinstance(node, dict):
            if node.get("type") in ("plain_text", "mrkdwn") and isinstance(node.get("text"), str):
                total += len(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(block)
    return total


def _actions(notification: Notification, block_id: str = "warmpool_actions") -> dict[str, Any]:
    value = json.dumps({"job": notification.job_name, "pool": notification.pool_id})
    return {
        "type": "actions",
        "block_id": block_id,
        "elements": [
            _button(button_label("extend", 30), ACTION_EXTEND_30, value),
            _button(button_label("extend", 60), ACTION_EXTEND_60, value),
            _button(
                button_label("release"),
                ACTION_RELEASE,
                value,
                style="danger",
                confirm=_release_confirm(notification),
            ),
        ],
    }


def _release_confirm(notification: Notification) -> dict[str, Any]:
    """Slack's own "are you sure?" before a release: a release cannot be taken back (the instances stop
    and the next matching job starts cold), and the button sits next to two that only extend, in a
    message people tap on their phones. The extend buttons ask nothing: a press too many costs minutes."""
    job = slack_escape(notification.job_name)
    what = f"The warm pool of {job} stops now; the next matching job starts cold."
    return {
        "title": _plain("Release the warm pool?"),
        "text": _plain(slack_cut(what, SLACK_CONFIRM_TEXT_LIMIT)),
        "confirm": _plain("Release now"),
        "deny": _plain("Keep it"),
        "style": "danger",
    }


def _mrkdwn(text: str) -> dict[str, Any]:
    """A Block Kit text object for our own markup (a mention): `verbatim`, so Slack does not turn a plain
    URL into a link or parse a plain `@channel` as a mention; `<@U123>` is processed all the same."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _plain(text: str) -> dict[str, Any]:
    """A Block Kit text object Slack shows as written: `plain_text` has no bold, italics, strikethrough,
    code, links or mentions, and `emoji: false` keeps a `:name:` as typed (tag values may hold `:`). Its
    `&`, `<` and `>` are escaped all the same (`slack_escape`): all Slack text is, and Slack shows them."""
    return {"type": "plain_text", "text": text, "emoji": False}


def _parts(lines: list[str], room: int) -> list[list[str]]:
    """Lines (each at most SLACK_SECTION_LIMIT, no more than `room`) in order, in as few groups of at most
    `room` characters (with a line break between lines) as they need; one empty group for no lines."""
    parts: list[list[str]] = [[]]
    size = 0
    for line in lines:
        grown = size + len(line) + (1 if parts[-1] else 0)
        if parts[-1] and grown > room:
            parts.append([line])
            size = len(line)
        else:
            parts[-1].append(line)
            size = grown
    return parts


def _names_cut(notification: Notification, lines: list[str], room: int) -> bool:
    """Whether a sweep's end (`sweep_pools`) in one message would cut its lines so short that a pool's
    job name no longer shows whole (a hundred pools with long job names): it is split into parts then,
    as a digest is, rather than lose which pools it kept or released."""
    pools = notification.facts.get("sweep_pools") or []
    if notification.kind is not NotificationKind.TUNING_JOB_FINISHED or not pools:
        return False
    fitted = _fitted(lines, room)
    if fitted == lines:
        return False
    shown = "\n".join(fitted)
    names = (slack_escape(f"- {p.get('job_name')}") for p in pools)
    return not all(f"{name} (" in shown or f"{name}:" in shown for name in names)


def _fitted(lines: list[str], room: int) -> list[str]:
    """Lines in at most `room` characters with their line breaks, cutting the longest ones (`slack_cut`,
    "…") to the one length that makes them fit: a short line (the job's status, its cost) is never cut
    to make room for a long one (a failure reason)."""

    def size(cap: int) -> int:
        return sum(min(len(line), cap) for line in lines) + max(0, len(lines) - 1)

    longest = max((len(line) for line in lines), default=0)
    if size(longest) <= room:
        return lines
    fits, too_long = len(CUT), longest  # the longest cap that fits, by bisection
    while too_long - fits > 1:
        middle = (fits + too_long) // 2
        fits, too_long = (middle, too_long) if size(middle) <= room else (fits, middle)
    return [slack_cut(line, fits) for line in lines]


def _sections(lines: list[str]) -> list[str]:
    """Lines (each at most SLACK_SECTION_LIMIT) packed in order into section texts of at most
    SLACK_SECTION_LIMIT characters."""
    sections: list[list[str]] = []
    for line in lines:
        if sections and len("\n".join([*sections[-1], line])) <= SLACK_SECTION_LIMIT:
            sections[-1].append(line)
        else:
            sections.append([line])
    return ["\n".join(section) for section in sections]


def plain_blocks(text: str) -> list[dict[str, Any]]:
    """Slack text (escaped, `slack_escape`) as blocks Slack shows as written and takes: `plain_text`
    sections, its lines cut as a notification's are (`_fitted`). For an answer to a button, which quotes
    a decision's reasons: as top-level text alone, Slack would format them as mrkdwn."""
    lines = [slack_cut(line, SLACK_SECTION_LIMIT) for line in text.splitlines() if line]
    fitted = _fitted(lines, SLACK_MESSAGE_TEXT_LIMIT - _SLACK_RESERVED)
    return [{"type": "section", "text": _plain(section)} for section in _sections(fitted)]


def without_buttons(headline: str, lines: list[str]) -> SlackMessage:
    """What replaces a message whose buttons can do nothing any more (its pool released by a press of
    its "Release now", or found gone by a press): a headline and lines of text we did not all write (a
    job's name, a Slack user's name, a decision's reasons), as a notification shows them: escaped, the
    headline a header (cut there, and then whole as the first line), the lines `plain_text` sections
    cut to fit; no buttons. Within Slack's limits however long the text."""
    title = slack_escape(headline)
    whole = [slack_escape(line) for line in lines]
    if len(title) > SLACK_HEADER_LIMIT:
        whole.insert(0, title)
    text = "\n".join(whole)
    blocks = [{"type": "header", "text": _plain(slack_cut(title, SLACK_HEADER_LIMIT))}, *plain_blocks(text)]
    return SlackMessage(slack_cut("\n".join([title, *whole]), SLACK_TEXT_LIMIT), blocks)


def ends_pool(n: Notification) -> bool:
    """Whether the notice tells that its pool ended (a `released`, not a dry run's; a `pool-ended`): its
    messages with buttons, kept in bot-token mode, are updated to say so (`pool_ended`)."""
    return (n.kind is NotificationKind.RELEASED and not dry_run(n)) or n.kind is NotificationKind.POOL_ENDED


def updates_only(n: Notification) -> bool:
    """A notice sent to nobody (no SNS copy, no Slack post): a pool that ended on its own (`pool-ended`:
    its keep-alive ran out, a later job took it, its maximum lifetime), which no message told before
    either; in bot-token mode its kept messages are updated to say so."""
    return n.kind in UPDATES_ONLY


def ended_messages_of(n: Notification, job_name: str) -> bool:
    """Whether a kept message about the pool of `job_name` is updated by `n` (`ends_pool`): every one,
    but when a later job took the pool (still warm for that job), only the earlier jobs' messages."""
    taken_by = n.facts.get("taken_by") if n.kind is NotificationKind.POOL_ENDED else None
    return not taken_by or job_name != taken_by


def pool_ended(n: Notification, job_name: str, now: datetime) -> SlackMessage:
    """What a message about the pool of `job_name` becomes once `n` (`ends_pool`) told that the pool
    ended: no buttons, what happened and when (the end its notice gives, else `now`: the update made
    late, after a retry, still says when it was released), the rule and the reasons. A message about an
    earlier job of the pool (a later job, `n`'s, took it since) says so."""
    if n.kind is NotificationKind.POOL_ENDED:
        return _ended_on_its_own(n, job_name, now)
    decision = n.decision
    why = f"{decision.rule}: {'; '.join(decision.reasons)}" if decision is not None else ""
    who = n.facts.get("released_by")
    via = n.facts.get("released_via")
    # who released it, as its audit entry says, in the words of the message a press replaced
    by = (
        ""
        if not isinstance(who, str) or not who
        else f" by {who} " + ("from Slack" if via == "slack" else f"via {via or 'cli'}")
    )
    ended = n.facts.get("warm_until")
    when = moment_text(min(datetime.fromisoformat(ended), now) if isinstance(ended, str) else now)
    if job_name == n.job_name:
        headline = f"Warm pool of {job_name} released"
        lines = [f"Released{by} at {when}."]
    else:
        headline = f"Warm pool of {job_name} no longer warm"
        lines = [f"A later job, {n.job_name}, took this pool; it was released at {when}."]
    return without_buttons(headline, [*lines, *([why] if why else [])])


def _ended_on_its_own(n: Notification, job_name: str, now: datetime) -> SlackMessage:
    """A message about the pool of `job_name` once the pool ended without a release (`pool-ended`):
    when, and how (`facts.ended`: `expired`, `taken`, `lifetime`, `deleted`)."""
    at = n.facts.get("ended_at")
    when = moment_text(min(datetime.fromisoformat(at), now) if isinstance(at, str) else now)
    how = n.facts.get("ended")
    if how == "taken":
        line = f"Taken by job {n.facts.get('taken_by')} at {when}: its warm cluster runs that job now."
    elif how == "deleted":
        found = n.facts.get("found_at")
        seen = moment_text(min(datetime.fromisoformat(found), now) if isinstance(found, str) else now)
        # when the job was deleted SageMaker no longer says: warmpool found it so at `found_at`
        line = f"Its job was deleted at or before {seen}: SageMaker keeps no warm pool for a deleted job."
        if when != seen:
            line += f" The pool was warm until {when} at the latest."
    elif how == "lifetime":
        seconds = int(n.facts.get("max_lifetime_seconds") or 0)
        days = f"{seconds // 86400}-day " if seconds and seconds % 86400 == 0 else ""
        line = f"Reached its {days}maximum lifetime at {when}: SageMaker ended it."
    else:
        line = f"Expired at {when}: its keep-alive ran out."
    if job_name != n.job_name:  # a message about an earlier job of the pool
        line = f"A later job, {n.job_name}, took this pool. {line}"
    return without_buttons(f"Warm pool of {job_name} no longer warm", [line])


def slack_escape(text: str) -> str:
    """Slack's control characters in text we did not write (job names, failure reasons): escaped, so
    a failure message cannot mention a channel or break the formatting."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_unescape(text: str) -> str:
    """Slack text as Slack shows it: `slack_escape` undone (the demo prints what Slack was sent)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def slack_cut(text: str, limit: int) -> str:
    """Slack text (escaped, `slack_escape`) in at most `limit` characters: a longer one is cut and ends
    in "…". Never inside an escape (`&amp;` cut to `&am` would show as such) nor inside a `<...>` (a
    mention or a link, which would show broken): the cut moves back to before it."""
    if len(text) <= limit:
        return text
    end = max(0, limit - len(CUT))
    kept = text[:end]
    amp = kept.rfind("&")  # an escape is 4 or 5 characters: only the last "&" can be cut through
    escape = _SLACK_ESCAPE.match(text, amp) if amp >= 0 else None
    if escape is not None and escape.end() > end:
        kept = kept[:amp]
    opened = kept.rfind("<")
    if opened > kept.rfind(">") and _SLACK_MARKUP.match(text, opened):
        kept = kept[:opened]
    return kept + CUT


def slack_text(text: str) -> str:
    """A message's top-level `text` for Slack, which push and desktop notifications show: escaped like
    the blocks, and cut to what Slack keeps (SLACK_TEXT_LIMIT). Its beginning, the headline, is what
    a notification shows."""
    return slack_cut(slack_escape(text), SLACK_TEXT_LIMIT)


def within_slack_limits(text: str, blocks: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """A payload as Slack takes it whole: the top-level text and each text object cut to its limit
    (`slack_cut`): a section's text (and any other's) to SLACK_SECTION_LIMIT, a header's to
    SLACK_HEADER_LIMIT, a field's to SLACK_FIELD_LIMIT, a button's to SLACK_BUTTON_LIMIT. The messages
    `render` builds fit already, and keep within the counts (blocks, fields, elements) and the whole
    message's text too, which no cut here could mend without dropping words; this holds for any other
    payload (an answer to a button, a message built elsewhere)."""

    def cut(obj: Any, limit: int) -> Any:
        words = obj.get("text") if isinstance(obj, dict) else None
        if not isinstance(words, str) or len(words) <= limit:
            return obj
        return {**obj, "text": slack_cut(words, limit)}

    def fitted(block: dict[str, Any]) -> dict[str, Any]:
        kind = block.get("type")
        out = dict(block)
        if kind in ("section", "header") and isinstance(block.get("text"), dict):
            out["text"] = cut(block["text"], SLACK_HEADER_LIMIT if kind == "header" else SLACK_SECTION_LIMIT)
        if kind == "section" and isinstance(block.get("fields"), list):
            out["fields"] = [cut(f, SLACK_FIELD_LIMIT) for f in block["fields"]]
        if kind == "context" and isinstance(block.get("elements"), list):
            out["elements"] = [cut(e, SLACK_SECTION_LIMIT) for e in block["elements"]]
        if kind == "actions" and isinstance(block.get("elements"), list):
            out["elements"] = [
                {**e, "text": cut(e["text"], SLACK_BUTTON_LIMIT)}
                if isinstance(e, dict) and e.get("text")
                else e
                for e in block["elements"]
            ]
        return out if out != block else block

    return slack_cut(text, SLACK_TEXT_LIMIT), [fitted(block) for block in blocks]


def _button(
    label: str, action_id: str, value: str, style: str | None = None, confirm: dict[str, Any] | None = None
) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = confirm
    return button


def blocks_as_text(blocks: list[dict[str, Any]]) -> str:
    """Block Kit blocks as a terminal shows them (the demo's timeline): the mention, a block of its own,
    on the headline's line, as Slack's message list reads (`<@U123> Warm pool ready: ...`)."""

    lines: list[str] = []
    for block in blocks:
        if block["type"] in ("section", "header"):
            said = slack_unescape(block["text"]["text"])
            if lines and _MENTION.fullmatch(lines[-1]):
                lines[-1] += " " + said
            else:
                lines.append(said)
        elif block["type"] == "context":
            lines.append(" ".join(slack_unescape(e["text"]) for e in block["elements"] if "text" in e))
        elif block["type"] == "actions":
            buttons = block["elements"]
            lines.append("  ".join(f"[{slack_unescape(e['text']['text'])}]" for e in buttons))
            # a button that asks first shows its dialog as Slack does, title, text and its two buttons,
            # deny then confirm: the terminal said no more than `[Release now]`, as if one press released
            lines.extend(_confirm_as_text(e) for e in buttons if "confirm" in e)
    return "\n".join(lines)


def _confirm_as_text(button: dict[str, Any]) -> str:
    """`[Release now] asks first: Release the warm pool? The warm pool of JOB stops now; ... [Keep it]
    [Release now]`: a button's confirmation dialog on one line."""
    confirm = button["confirm"]
    label, title, text, deny, yes = (
        slack_unescape(part["text"])
        for part in (button["text"], confirm["title"], confirm["text"], confirm["deny"], confirm["confirm"])
    )
    return f"[{label}] asks first: {title} {text}  [{deny}]  [{yes}]"
