"""Who hears about a pool: the owner, mentioned in the team's channel; else the team's channel; else the
platform admins' channel. Every fallback is said in the message. Pure: reads the policy's
`notifications` section only."""

from __future__ import annotations

from dataclasses import dataclass

from warmpool.domain.model import Notification, NotificationKind
from warmpool.domain.policy.document import PolicyDocument

# Kinds about a team or the fleet rather than one person's job: nobody's owner tag is missing.
TEAM_KINDS = frozenset(
    {
        NotificationKind.DAILY_DIGEST,
        NotificationKind.BUDGET_WARNING,
        NotificationKind.QUOTA_WARNING,
        NotificationKind.POLICY_LIMIT,
    }
)


@dataclass(frozen=True)
class Route:
    webhook_key: str  # key into the Slack webhooks secret
    mention: str | None  # Slack user id to mention
    note: str | None  # why it did not go where it normally would
    team: str  # the team whose channel it is (the policy's default team when the tag is missing)
    fallback: bool = False  # True when it goes to the platform admins instead of a team channel


def route(notification: Notification, policy: PolicyDocument) -> Route:
    settings = policy.notifications
    team = notification.team or policy.default_team
    team_settings = settings.teams.get(team)
    owner = notification.owner
    mention = slack_user_for(policy, owner)
    notes: list[str] = []
    if not notification.team:
        notes.append(f"The job has no `{policy.tags.team}` tag: sent to team {team}.")
    if notification.kind not in TEAM_KINDS:
        if not owner:
            notes.append(f"The job has no `{policy.tags.owner}` tag: nobody is mentioned.")
        elif mention is None:
            notes.append(
                f"No Slack user is mapped to owner {owner}: "
                "add it to notifications.slack_users to be mentioned."
            )
    if team_settings is None or not team_settings.slack_webhook_key:
        notes.append(
            f"Team {team} has no Slack channel configured "
            f"(notifications.teams.{team}.slack_webhook_key): sent to the platform admins."
        )
        admins = settings.platform_admins
        return Route(
            webhook_key=settings.platform_webhook_key,
            mention=mention or (slack_user_for(policy, admins[0]) or admins[0] if admins else None),
            note=" ".join(notes) or None,
            team=team,
            fallback=True,
        )
    return Route(team_settings.slack_webhook_key, mention, " ".join(notes) or None, team)


def team_admins(policy: PolicyDocument, team: str | None) -> tuple[str, ...]:
    settings = policy.notifications.teams.get(team or policy.default_team)
    return settings.admins if settings else ()


def slack_user_for(policy: PolicyDocument, owner: str | None) -> str | None:
    return policy.notifications.slack_users.get(owner) if owner else None


def may_act(policy: PolicyDocument, slack_user: str, *, owner: str | None, team: str | None) -> bool:
    """The pool's owner, the team's admins and the platform admins may extend or release it. Admins are
    listed by owner name (mapped through `slack_users`) or by Slack user id."""
    if owner and slack_user_for(policy, owner) == slack_user:
        return True  # the owner tag is a name, not a Slack id: only the mapping makes someone the owner
    admins = (*policy.notifications.platform_admins, *team_admins(policy, team))
    return any(name == slack_user or slack_user_for(policy, name) == slack_user for name in admins)
