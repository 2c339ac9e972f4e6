"""Who hears about a pool: the owner in the team's channel, else the team, else the platform admins.
Every fallback is said in the message."""

from __future__ import annotations

from dataclasses import dataclass

from warmpool.domain.model import Notification, NotificationKind
from warmpool.domain.policy.document import PolicyDocument


@dataclass(frozen=True)
class Route:
    webhook_key: str  # key into the Slack webhooks secret
    mention: str | None  # Slack user id to mention
    note: str | None  # why it did not go where it normally would


# About the account, not one team's pool: to the platform admins' channel, mentioning the first admin.
TO_PLATFORM = frozenset({NotificationKind.QUOTA_WARNING})


def route(notification: Notification, policy: PolicyDocument) -> Route:
    settings = policy.notifications
    if notification.kind in TO_PLATFORM:
        admins = settings.platform_admins
        return Route(settings.platform_webhook_key, admins[0] if admins else None, None)
    team = notification.team or policy.default_team
    team_settings = settings.teams.get(team)
    owner = notification.owner
    mention = settings.slack_users.get(owner) if owner else None
    notes: list[str] = []
    if not notification.team:
        notes.append(f"The job has no `{policy.tags.team}` tag: sent to team {team}.")
    if owner and mention is None:
        notes.append(f"No Slack user is mapped to owner {owner} (notifications.slack_users).")
    elif not owner and notification.kind is not NotificationKind.DAILY_DIGEST:  # a digest has no owner
        notes.append(f"The job has no `{policy.tags.owner}` tag.")
    if team_settings is None or not team_settings.slack_webhook_key:
        notes.append(f"Team {team} has no Slack channel configured: sent to the platform admins.")
        admins = settings.platform_admins
        return Route(
            settings.platform_webhook_key, mention or (admins[0] if admins else None), " ".join(notes) or None
        )
    return Route(team_settings.slack_webhook_key, mention, " ".join(notes) or None)


def team_admins(policy: PolicyDocument, team: str | None) -> tuple[str, ...]:
    settings = policy.notifications.teams.get(team or policy.default_team)
    return settings.admins if settings else ()


def slack_user_for(policy: PolicyDocument, owner: str | None) -> str | None:
    return policy.notifications.slack_users.get(owner) if owner else None


def owners_of_slack_user(policy: PolicyDocument, slack_user: str) -> tuple[str, ...]:
    """The owner names `notifications.slack_users` maps to a Slack user id, in the policy's order (one,
    as a rule; none for a person the policy does not name, such as an admin listed by id alone)."""
    return tuple(owner for owner, user in policy.notifications.slack_users.items() if user == slack_user)


def may_act(policy: PolicyDocument, slack_user: str, *, owner: str | None, team: str | None) -> bool:
    """The pool's owner, the team's admins and the platform admins may extend or release it. Admins are
    listed by owner name or Slack user id."""
    if slack_user in policy.notifications.platform_admins:
        return True
    if owner and slack_user_for(policy, owner) == slack_user:
        return True
    for admin in team_admins(policy, team):
        if admin == slack_user or slack_user_for(policy, admin) == slack_user:
            return True
    return False
