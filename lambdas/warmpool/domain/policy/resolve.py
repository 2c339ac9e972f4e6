"""Resolving the rules that apply to one pool, each value with the scope it came from."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from warmpool.domain.model import Pool
from warmpool.domain.policy.document import DEFAULT_RULES, PolicyDocument, Rules

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
    return Resolved(values, sources, team, bool(team_tag), owner, chain)


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
