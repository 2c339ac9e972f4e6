"""Resolving the rules that apply to one pool, each value with the scope it came from."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from warmpool.domain.model import Pool, UserRequest
from warmpool.domain.policy.document import DEFAULT_RULES, Overrides, PolicyDocument, Rules
from warmpool.domain.routing import owners_of_slack_user

RULE_FIELDS: tuple[str, ...] = tuple(Rules.model_fields)


@dataclass(frozen=True)
class Resolved:
    """The effective rules for a pool: `values[field]` and `sources[field]` (e.g. `teams.vision`)."""

    values: dict[str, Any]
    sources: dict[str, str]
    team: str
    team_from_tag: bool
    owner: str | None
    chain: tuple[str, ...]  # the scopes that applied, least to most specific
    selected: tuple[int, ...] = ()  # the selectors that match the pool, by index

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def rule(self, name: str) -> str:
        return f"{self.sources.get(name, 'builtin')}.{name}"


def matches(patterns: tuple[str, ...], value: str) -> bool:
    return any(fnmatchcase(value, p) for p in patterns)


def pool_team(policy: PolicyDocument, pool: Pool) -> str | None:
    """The pool's team as the policy names it: the tag `tags.team` configures, else the team it was
    registered with. None: it has no team tag (it counts for `default_team`). Every rule, limit,
    budget and ledger reads a pool's team from here."""
    return (pool.tags.get(policy.tags.team) if pool.tags else None) or pool.team


def resolve_rules(policy: PolicyDocument, pool: Pool) -> Resolved:
    team_tag = pool_team(policy, pool)
    owner_tag = pool.tags.get(policy.tags.owner) if pool.tags else None
    team = team_tag or policy.default_team
    owner = owner_tag or pool.owner
    selected = tuple(
        i
        for i, selector in enumerate(policy.selectors)
        if matches(selector.match.instance_types, pool.instance_type)
        or any(pool.job_name.startswith(p) for p in selector.match.job_name_prefixes)
    )
    values, sources, chain = _cached(policy, team, owner, selected)
    return Resolved(values, sources, team, bool(team_tag), owner, chain, selected)


@dataclass(frozen=True)
class Requester:
    """The person behind a request as the policy names owners, and the `overrides` it gives them on
    the pool they asked about (`resolve_requester`)."""

    user: str  # as people read it (Slack's user name, the CLI's --user)
    owner: str | None  # the owner name the policy knows them by; None: it names nobody
    overrides: Overrides
    source: str  # the scope `overrides` comes from, e.g. owners.bob
    unnamed: str | None = None  # why the policy names nobody

    @property
    def who(self) -> str:
        return self.user if self.owner in (None, self.user) else f"{self.user} (owner {self.owner})"

    def rule(self, name: str) -> str:
        return f"{self.source}.overrides.{name}"

    @property
    def outside_working_hours(self) -> str:
        """Whether they may keep a pool warm outside working hours, whose permission and where it
        comes from: the reason the working hours give for a request."""
        may = "may" if self.overrides.allow_outside_working_hours else "may not"
        why = f"{self.who} {may} extend outside working hours ({self.rule('allow_outside_working_hours')})"
        return why if self.unnamed is None else f"{why}; no owner's overrides are theirs: {self.unnamed}"


def requester_owner(
    policy: PolicyDocument, request: UserRequest, pool_owner: str | None
) -> tuple[str | None, str | None]:
    """The owner name the policy knows the person behind `request` by, or None and why not. From Slack:
    the owner `notifications.slack_users` maps the pressing user's id to (the id, not the user name,
    which people choose and may change; of several owners mapped to one id, the pool's owner, else
    none: the policy does not say which of them pressed). From the CLI: `--user`, as given: whoever
    runs it holds credentials that may change the pool anyway."""
    if request.via != "slack":
        return (request.user, None) if request.user else (None, "the request names nobody")
    if not request.user_id:
        return None, "no Slack user id to look up in notifications.slack_users"
    owners = owners_of_slack_user(policy, request.user_id)
    if pool_owner in owners:
        return pool_owner, None
    if len(owners) == 1:
        return owners[0], None
    if not owners:
        return None, f"Slack user {request.user_id} is mapped to no owner in notifications.slack_users"
    return None, (
        f"Slack user {request.user_id} is mapped to several owners ({', '.join(owners)}) in "
        "notifications.slack_users"
    )


def resolve_requester(policy: PolicyDocument, rules: Resolved, request: UserRequest) -> Requester:
    """The `overrides` a request is judged by: the requester's, not the pool's owner's. They are what
    the policy gives the pool's team and selectors with the requester as owner (`owners.<requester>`
    in place of `owners.<pool owner>`): the team and the selectors describe the pool (whose budget,
    which instance type), the owner scope the person. So bob, allowed outside working hours, may keep
    alice's pool warm past them, and alice, not allowed, may not keep bob's. Both fields follow the
    requester: a scope's `overrides` is one block (a scope that sets one field sets both). A person
    the policy names nobody by (an admin listed by Slack id alone) gets the pool's team and selectors'
    `overrides` and no owner's: what the team allows its requests, no one's own permission."""
    owner, unnamed = requester_owner(policy, request, rules.owner)
    values, sources, _ = _cached(policy, rules.team, owner, rules.selected)
    overrides: Overrides = values["overrides"]
    return Requester(request.user, owner, overrides, sources["overrides"], unnamed)


def team_rules(policy: PolicyDocument, team: str | None) -> dict[str, Any]:
    """A team's rules without any pool (no selectors, no owner): what a team-wide figure such as its
    budget, or the clock its budget's days run on, is read from. None: any team the policy does not
    name (the defaults)."""
    values, _, _ = _cached(policy, team, None, ())
    return values


def _cached(
    policy: PolicyDocument, team: str | None, owner: str | None, selected: tuple[int, ...]
) -> tuple[dict[str, Any], dict[str, str], tuple[str, ...]]:
    key = (team, owner, selected)
    cache = policy._resolution_cache
    if key not in cache:
        cache[key] = _resolve(policy, team, owner, selected)
    resolved: tuple[dict[str, Any], dict[str, str], tuple[str, ...]] = cache[key]
    return resolved


def _resolve(
    policy: PolicyDocument, team: str | None, owner: str | None, selected: tuple[int, ...]
) -> tuple[dict[str, Any], dict[str, str], tuple[str, ...]]:
    layers: list[tuple[str, Rules]] = [("builtin", DEFAULT_RULES), ("defaults", policy.defaults)]
    if team in policy.teams:
        layers.append((f"teams.{team}", policy.teams[team]))
    for index in selected:
        layers.append((f"selectors[{index}:{policy.selectors[index].name}]", policy.selectors[index].rules))
    if owner and owner in policy.owners:
        layers.append((f"owners.{owner}", policy.owners[owner]))
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, rules in layers:
        for name in RULE_FIELDS:
            value = getattr(rules, name)
            if value is not None:
                values[name] = value
                sources[name] = source
    return values, sources, tuple(s for s, _ in layers)
