"""The policy rules: small registered units, applied in order to one Available pool.

Each rule reads the resolved values it documents, and either settles the decision (release, keep) or
adjusts the horizon the pool should stay warm, saying why. The order is part of the contract (see
docs/policy.md): exemptions first, then what makes a pool unwanted, then how long it should stay, then
the caps that bound that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cached_property
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from warmpool.domain.clock import moment_text, period_ends
from warmpool.domain.model import (
    BudgetFigures,
    CostModel,
    EngineLimits,
    FleetView,
    NotificationKind,
    Pool,
    Trigger,
    UserRequest,
)
from warmpool.domain.policy.document import WEEKDAYS, PolicyDocument, WorkingHours
from warmpool.domain.policy.resolve import Requester, Resolved, matches, resolve_requester, team_rules
from warmpool.domain.strategies import StrategyInput, duration_text, get_strategy


@dataclass
class Evaluation:
    """The state of one decision as the rules shape it."""

    pool: Pool
    policy: PolicyDocument
    rules: Resolved
    now: datetime
    limits: EngineLimits
    fleet: FleetView
    trigger: Trigger
    request: UserRequest | None
    cost: CostModel
    elapsed: int  # idle seconds so far
    horizon: int = 0  # idle seconds the pool should stay warm in total
    rule: str = "builtin.keep_alive_strategy"
    reasons: list[str] = field(default_factory=list)
    notify: list[NotificationKind] = field(default_factory=list)
    release_pool_ids: list[str] = field(default_factory=list)
    settled: str | None = None  # "release" or "keep": no later rule may change the outcome
    may_extend: bool = True
    requested_until: datetime | None = None  # until when a person's extend request, accepted, keeps it
    rule_reason: str | None = None  # the reason `rule` gave when it set the horizon
    budget: BudgetFigures | None = None  # the budget that held the pool short: its warning says it
    # A person's extension refused by their `max_extend_minutes`: the rule that refused it (`rule` names
    # it, for the answer), and the rule that set the pool's plan all the same (`plan_rule`)
    refused_by: str | None = None
    plan_rule: str | None = None

    @cached_property
    def requester(self) -> Requester | None:
        """Who asked, and the `overrides` the policy gives them: a request is judged by the permissions
        of the person who made it, not of the pool's owner (`resolve_requester`). None: nobody asked."""
        return None if self.request is None else resolve_requester(self.policy, self.rules, self.request)

    def set_horizon(self, seconds: int, rule: str, reason: str) -> None:
        self.horizon = max(0, seconds)
        self.rule = rule
        self.rule_reason = reason
        self.reasons.append(reason)

    def cap(self, seconds: int, rule: str, reason: str) -> None:
        if seconds < self.horizon:
            self.set_horizon(seconds, rule, reason)

    def release(self, rule: str, reason: str) -> None:
        self.set_horizon(0, rule, reason)
        self.settled = "release"

    @property
    def promised_horizon(self) -> int | None:
        """The horizon a person's earlier promise still ahead (`override_until`) holds the pool to. A
        limit or a budget allowed it when it was granted, and the person was told: neither takes it
        back at a later step (other pools that came since are the ones refused). None: no promise."""
        until = self.pool.override_until
        if until is None or until <= self.now or self.pool.available_since is None:
            return None
        return int((until - self.pool.available_since).total_seconds())

    def release_unless_promised(self, rule: str, reason: str) -> None:
        """Release the pool, or, when a person was promised it until a time still ahead, keep it until
        then and no longer."""
        promised = self.promised_horizon
        if promised is None or self.pool.override_until is None:
            self.release(rule, reason)
            return
        kept = f"kept until {moment_text(self.pool.override_until)} as promised"
        self.set_horizon(min(self.horizon, promised), rule, f"{reason}: {kept}")

    @property
    def current_expiry_horizon(self) -> int:
        """The horizon the pool already has: warm until its current expiry."""
        if self.pool.expires_at is None or self.pool.available_since is None:
            return self.elapsed
        return int((self.pool.expires_at - self.pool.available_since).total_seconds())


class PolicyRule:
    name: ClassVar[str]
    reads: ClassVar[tuple[str, ...]]

    def apply(self, ev: Evaluation) -> None:
        raise NotImplementedError


REGISTRY: list[PolicyRule] = []


def register(cls: type[PolicyRule]) -> type[PolicyRule]:
    REGISTRY.append(cls())
    return cls


def _zone_field(values: Mapping[str, Any]) -> tuple[str, str | None]:
    """The team's time zone in resolved values, and the field it comes from: `timezone`, else its
    working hours' time zone, else UTC (no field)."""
    name: str | None = values.get("timezone")
    if name is not None:
        return name, "timezone"
    hours: WorkingHours | None = values.get("working_hours")
    if hours is not None:
        return hours.timezone, "working_hours"
    return "UTC", None


def team_zone_name(rules: Resolved) -> tuple[str, str]:
    """Where the team's days begin and end, and the rule that says so: `timezone`, else its working
    hours' time zone, else UTC."""
    name, source = _zone_field(rules.values)
    return name, rules.rule(source) if source is not None else "builtin"


def team_zone(rules: Resolved) -> tzinfo:
    return _zone(team_zone_name(rules)[0])


def ledger_zone(policy: PolicyDocument, team: str | None) -> tzinfo:
    """The clock a team's budget days and months run on (and its ledger's dates, and its digest's
    hour): `timezone`, else the working hours' time zone, as set for the team itself (`defaults`,
    `teams.<team>`), else UTC. An owner's or a selector's own clock does not move the team's day.
    None: a team the policy does not name."""
    return _zone(_zone_field(team_rules(policy, team))[0])


def ledger_zones(policy: PolicyDocument) -> set[tzinfo]:
    """Every clock a team's day can run on: each named team's, and the defaults' (any other team's)."""
    return {ledger_zone(policy, team) for team in (*policy.teams, None)}


def _zone(name: str) -> tzinfo:
    return UTC if name == "UTC" else ZoneInfo(name)


def _over_limit(count: int, used: int, limit: int) -> str:
    """Why a pool that alone takes its team (its type) over the limit is refused."""
    own = f"{count} instance{'' if count == 1 else 's'}"
    return f"this pool's {own} plus the {used} already warm exceed the limit of {limit}"


def _instances(count: int, kind: str) -> str:
    """ "1 warm instance", "3 ml.g5.2xlarge instances"."""
    return f"{count} {kind} instance{'' if count == 1 else 's'}"


@register
class Exemption(PolicyRule):
    """A job tagged `warmpool:exempt-until: <ISO date>` (and a reason tag) is left alone until then:
    only its own keep-alive applies. An expired exemption is ignored, with a reason."""

    name = "exemption"
    reads = ()

    def apply(self, ev: Evaluation) -> None:
        until_text = ev.pool.tags.get(ev.policy.tags.exempt_until)
        if not until_text:
            return
        reason = ev.pool.tags.get(ev.policy.tags.exempt_reason, "no reason given")
        until = _exemption_end(until_text, ev.now)
        if until is None:
            ev.reasons.append(f"ignored exemption: {until_text!r} is not an ISO date")
            return
        if until <= ev.now:
            ev.reasons.append(f"exemption expired on {until_text} ({reason})")
            return
        ev.set_horizon(
            ev.current_expiry_horizon,
            f"tags.{ev.policy.tags.exempt_until}",
            f"exempt until {until_text}: {reason}",
        )
        ev.settled = "keep"


@register
class RequiredTags(PolicyRule):
    """A pool without a team tag falls back to `default_team`; a pool without an owner tag has nobody
    to tell but its team. Either way the team's admins are told."""

    name = "required_tags"
    reads = ()

    def apply(self, ev: Evaluation) -> None:
        if not ev.rules.team_from_tag:
            ev.reasons.append(f"no `{ev.policy.tags.team}` tag: treated as team {ev.rules.team}")
            ev.notify.append(NotificationKind.MISSING_TAGS)
        if not ev.rules.owner:
            ev.reasons.append(
                f"no `{ev.policy.tags.owner}` tag: team {ev.rules.team}'s admins are told instead"
            )
            ev.notify.append(NotificationKind.MISSING_TAGS)


@register
class InstanceTypes(PolicyRule):
    """`allowed_instance_types` / `denied_instance_types` (glob patterns): other pools are released."""

    name = "instance_types"
    reads = ("allowed_instance_types", "denied_instance_types")

    def apply(self, ev: Evaluation) -> None:
        instance_type = ev.pool.instance_type
        denied = ev.rules.get("denied_instance_types")
        if matches(denied, instance_type):
            ev.release(ev.rules.rule("denied_instance_types"), f"{instance_type} may not keep warm pools")
        elif not matches(ev.rules.get("allowed_instance_types"), instance_type):
            ev.release(
                ev.rules.rule("allowed_instance_types"),
                f"{instance_type} is not among the instance types allowed warm pools",
            )


@register
class ReleaseOnFailure(PolicyRule):
    """`release_on_failure: true` releases the pool of a Failed job: nobody reruns it at once."""

    name = "release_on_failure"
    reads = ("release_on_failure",)

    def apply(self, ev: Evaluation) -> None:
        if ev.rules.get("release_on_failure") and ev.pool.job_status == "Failed":
            ev.release(
                ev.rules.rule("release_on_failure"),
                f"the job failed ({ev.pool.failure_reason or 'no reason given'})",
            )


@register
class KeepAliveStrategy(PolicyRule):
    """`keep_alive_strategy` proposes the horizon: job, none, break-even, adaptive, fixed-<seconds>."""

    name = "keep_alive_strategy"
    reads = (
        "keep_alive_strategy",
        "people_cost_per_hour",
        "cold_start_seconds",
        "warm_start_seconds",
        "timezone",
        "working_hours",
    )

    def apply(self, ev: Evaluation) -> None:
        strategy = get_strategy(ev.rules.get("keep_alive_strategy"))
        data = StrategyInput(pool=ev.pool, cost=ev.cost, now=ev.now, zone=team_zone(ev.rules))
        proposal = strategy.propose(data)
        why = f": {proposal.why}" if proposal.why else ""
        ev.set_horizon(
            proposal.seconds,
            ev.rules.rule("keep_alive_strategy"),
            f"strategy {strategy.name} wants {duration_text(proposal.seconds)} of warm time{why}",
        )
        until, set_at = ev.pool.outside_until, ev.pool.outside_set_at
        if strategy.name == "job" or until is None or set_at is None or ev.pool.available_since is None:
            return  # the `job` strategy's proposal is that setting already
        # Under the other strategies the policy decides how long a pool stays warm, but no strategy keeps
        # warm longer a pool someone shortened outside warmpool: spending less needs nobody's permission
        # (a pool shortened in the console was extended again at its next look). A longer setting is the
        # policy's to undo (asking for more time is a request, judged by the asker's `overrides`), and a
        # person who finds their own update undone reads why.
        wanted = max(0, int((until - ev.pool.available_since).total_seconds()))
        setting = (
            f"the keep-alive set outside warmpool at {moment_text(set_at)} (warm until {moment_text(until)})"
        )
        if ev.pool.outside_shortened and wanted < proposal.seconds:
            ev.set_horizon(wanted, ev.rules.rule("keep_alive_strategy"), f"{setting} is kept: it is shorter")
        elif not ev.pool.outside_shortened and until > ev.now and wanted > proposal.seconds:
            ev.reasons.append(
                f"{setting} is not kept: strategy {strategy.name} decides; ask for more time with "
                "`warmpool pools extend` or the Slack buttons"
            )


# The rule of a decision a person's earlier promise (`override_until`) holds the pool for: the engine
# keeps what it told them, whatever the policy's plan says since (docs/policy.md, requests).
PROMISE_RULE = "engine.promise"
# The pool's maximum lifetime (the deployment's MAX_LIFETIME_SECONDS, EngineLimits), named as the rule of a
# request it refuses: no warm time is left to grant.
LIFETIME_RULE = "engine.max_lifetime"


def kept_on_request(until: datetime) -> str:
    """The reason a request that set the horizon gives (`decide_keep_alive` rewrites it when a limit
    then cut the request short)."""
    return f"kept warm until {moment_text(until)} on request"


@register
class PersonRequest(PolicyRule):
    """A person's extend/release request, and temporary overrides (`override_until`) that revert on
    their own; extensions are bounded by the requester's `overrides.max_extend_minutes` (the person
    who asked, as the working hours' `allow_outside_working_hours` is: `Evaluation.requester`)."""

    name = "overrides"
    reads = ("overrides",)

    def apply(self, ev: Evaluation) -> None:
        request = ev.request
        if request is not None and request.kind == "release":
            ev.release(f"request.{request.via}", f"{request.user} asked to release it")
            promised = ev.pool.override_until
            if promised is not None and promised > ev.now:
                # A person's release goes ahead over a promise (theirs or another's, a moment ago), but
                # says so: answered "done" alone, it took back what an extension's answer had just
                # promised without a word to the one who asked or to the pool's owner.
                ev.reasons.append(f"it ends the promise to keep it warm until {moment_text(promised)}")
            return
        until = ev.pool.override_until
        requester = ev.requester
        refused_by: str | None = None
        if (
            request is not None
            and requester is not None
            and request.kind == "extend"
            and request.minutes > requester.overrides.max_extend_minutes
        ):
            # Refused, and nothing else: the pool is decided as if nobody had asked (an earlier promise
            # kept, the limits after this rule applied). Settled as it was, the refusal would keep a
            # pool the working hours, a budget or a limit release, and drop an earlier promise's plan.
            most = requester.rule("max_extend_minutes")
            ev.reasons.append(
                f"{request.user} asked for {request.minutes} min; the policy allows at most "
                f"{requester.overrides.max_extend_minutes} min per request ({most})"
            )
            ev.plan_rule = ev.rule
            ev.rule = ev.refused_by = refused_by = most
            request = None
        if request is not None and request.kind == "extend":
            # "N minutes more" than the pool was going to stay warm: its expiry, or a person's earlier
            # promise if that is later (a shorter request never takes back a longer one)
            base = max(ev.now, ev.pool.expires_at or ev.now, until or ev.now)
            until = base + timedelta(minutes=request.minutes)
            ev.requested_until = until
            ev.reasons.append(f"{request.user} asked to keep it warm {request.minutes} min more")
        if until is not None and until > ev.now and ev.pool.available_since is not None:
            wanted = int((until - ev.pool.available_since).total_seconds())
            if wanted > ev.horizon:
                # A refused request still names the limit that refused it when an earlier promise
                # holds the pool. Else a promise is the engine's to keep, not a policy path's: named
                # `<scope>.overrides.override_until`, a field no policy has, people looked it up in
                # vain (in `pools list`, the trail, Slack), while docs/policy.md names `PROMISE_RULE`.
                ev.set_horizon(
                    wanted,
                    f"request.{request.via}" if request else refused_by or PROMISE_RULE,
                    kept_on_request(until),
                )
                if refused_by is not None:  # the earlier promise holds the pool, not the refusal
                    ev.plan_rule = PROMISE_RULE


@register
class MaxHorizon(PolicyRule):
    """`max_horizon_minutes` bounds how long one pool may stay idle in total."""

    name = "max_horizon"
    reads = ("max_horizon_minutes",)

    def apply(self, ev: Evaluation) -> None:
        limit = ev.rules.get("max_horizon_minutes") * 60
        ev.cap(
            limit,
            ev.rules.rule("max_horizon_minutes"),
            f"capped at the maximum horizon {duration_text(limit)}",
        )


def _working_day(hours: WorkingHours, day: date) -> bool:
    return day not in hours.holidays and WEEKDAYS[day.weekday()] in hours.days


def in_working_hours(hours: WorkingHours, when: datetime) -> bool:
    local = when.astimezone(ZoneInfo(hours.timezone))
    if not _working_day(hours, local.date()) or local.time() < hours.start_time:
        return False
    return hours.until_midnight or local.time() < hours.end_time


# How many days a window of working days from 00:00 to 24:00 is followed: past a pool's longest life
_WINDOW_DAYS = 29


def end_of_working_window(hours: WorkingHours, when: datetime) -> datetime:
    """The end of the working window `when` lies in, in `when`'s zone (zoneinfo handles daylight
    saving). A day that ends at 24:00 runs on into the next when that one is a working day from 00:00:
    hours of 00:00 to 24:00 from Monday to Friday end on Friday at midnight, not every night (their
    last second was outside working hours, and each night cut the pools there)."""
    zone = ZoneInfo(hours.timezone)
    day = when.astimezone(zone).date()
    if not hours.until_midnight:
        return datetime.combine(day, hours.end_time, tzinfo=zone).astimezone(when.tzinfo)
    for _ in range(_WINDOW_DAYS):
        day += timedelta(days=1)
        if hours.start != "00:00" or not _working_day(hours, day):
            break
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(when.tzinfo)


@register
class WorkingHoursRule(PolicyRule):
    """Outside `working_hours` a pool is never extended: it is shortened to `shorten_to_minutes` or
    released. Inside, a horizon that would cross the end of the working day is cut there. A request
    goes past them only when the person who made it is allowed to (`allow_outside_working_hours` of
    `Evaluation.requester`, whoever owns the pool), and the reasons say whose permission applied."""

    name = "working_hours"
    reads = ("working_hours",)

    def apply(self, ev: Evaluation) -> None:
        hours: WorkingHours | None = ev.rules.get("working_hours")
        if hours is None:
            return
        rule = ev.rules.rule("working_hours")
        # A person's request accepted earlier (allowed outside working hours, or it would not have
        # been) keeps the pool until it reverts; working hours apply again after that.
        override = ev.pool.override_until
        if override is not None and override <= ev.now:
            override = None
        inside = in_working_hours(hours, ev.now)
        asked = ev.requested_until  # set by an accepted request only
        requester = ev.requester
        if asked is not None and requester is not None:
            if not inside or asked > end_of_working_window(hours, ev.now):
                ev.reasons.append(requester.outside_working_hours)
            # A request now from someone allowed outside working hours keeps it until then, no
            # longer: the strategy's horizon is still cut at the end of the day (or at once, outside).
            if requester.overrides.allow_outside_working_hours:
                override = max(override or asked, asked)
        if not inside:
            if override is not None and ev.pool.available_since is not None:
                ev.cap(
                    int((override - ev.pool.available_since).total_seconds()),
                    rule,
                    f"outside working hours: kept until the accepted request ends at {moment_text(override)}",
                )
                return
            ev.may_extend = False
            if hours.outside == "release":
                ev.release(rule, "outside working hours")
            else:
                cap = ev.elapsed + hours.shorten_to_minutes * 60
                ev.cap(
                    min(cap, ev.current_expiry_horizon),
                    rule,
                    f"outside working hours: warm at most {hours.shorten_to_minutes} min more",
                )
            return
        if ev.pool.available_since is not None:
            end = end_of_working_window(hours, ev.now)
            reason = f"the working day ends at {hours.end} {hours.timezone}"
            if hours.until_midnight and end.astimezone(ZoneInfo(hours.timezone)).date() > (
                ev.now.astimezone(ZoneInfo(hours.timezone)).date() + timedelta(days=1)
            ):  # the working days from 00:00 to 24:00 that follow today's
                reason = f"the working hours end at {moment_text(end)} (working days from 00:00 to 24:00)"
            if override is not None and override > end:
                end = override
                reason += f": kept until the accepted request ends at {moment_text(override)}"
            ev.cap(int((end - ev.pool.available_since).total_seconds()), rule, reason)


def _exemption_end(text: str, now: datetime) -> datetime | None:
    try:
        until = datetime.fromisoformat(text)
    except ValueError:
        return None
    return until.replace(tzinfo=now.tzinfo) if until.tzinfo is None else until


def is_exempt(pool: Pool, policy: PolicyDocument, now: datetime) -> bool:
    """Whether the pool carries an exemption tag that is valid and not yet over."""
    text = pool.tags.get(policy.tags.exempt_until)
    until = _exemption_end(text, now) if text else None
    return until is not None and until > now


@register
class WarmInstanceLimits(PolicyRule):
    """`max_warm_instances` per team (`on_limit: refuse` releases the new pool; `release-least-valuable`
    releases the team's longest-idle pool instead) and `instance_type_limits` per instance type. A pool a
    person was promised until a time still ahead is kept until then (no longer) rather than released."""

    name = "warm_instance_limits"
    reads = ("max_warm_instances", "on_limit")

    def apply(self, ev: Evaluation) -> None:
        others = [p for p in ev.fleet.available_pools if p.pool_id != ev.pool.pool_id]
        count = ev.pool.instance_count
        type_limit = ev.policy.instance_type_limits.get(ev.pool.instance_type)
        if type_limit is not None:
            used = sum(p.instance_count for p in others if p.instance_type == ev.pool.instance_type)
            if used + count > type_limit:
                ev.release_unless_promised(
                    f"instance_type_limits.{ev.pool.instance_type}",
                    f"{_instances(used, ev.pool.instance_type)} already warm; the limit is {type_limit}"
                    if used >= type_limit
                    else f"{ev.pool.instance_type}: {_over_limit(count, used, type_limit)}",
                )
                ev.notify.append(NotificationKind.POLICY_LIMIT)
                return
        limit = ev.rules.get("max_warm_instances")
        if limit is None:
            return
        team_pools = [p for p in others if (p.team or ev.policy.default_team) == ev.rules.team]
        used = sum(p.instance_count for p in team_pools)
        if used + count <= limit:
            return
        rule = ev.rules.rule("max_warm_instances")
        ev.notify.append(NotificationKind.POLICY_LIMIT)
        if ev.rules.get("on_limit") == "release-least-valuable":
            freed = 0
            candidates = [p for p in team_pools if not p.protected]
            for victim in sorted(candidates, key=lambda p: p.available_since or ev.now):
                ev.release_pool_ids.append(victim.pool_id)
                freed += victim.instance_count
                if used - freed + count <= limit:
                    ev.reasons.append(
                        f"team {ev.rules.team} at its limit of {_instances(limit, 'warm')}: releasing "
                        f"the longest-idle {'pool' if len(ev.release_pool_ids) == 1 else 'pools'} "
                        f"{', '.join(ev.release_pool_ids)} instead"
                    )
                    return
            ev.release_pool_ids.clear()
            if len(candidates) < len(team_pools):
                ev.reasons.append("pools a person or an exemption keeps warm are not released to make room")
        ev.release_unless_promised(
            rule,
            f"team {ev.rules.team} already has {_instances(used, 'warm')}; the limit is {limit}"
            if used >= limit
            else f"team {ev.rules.team}: {_over_limit(count, used, limit)}",
        )


@dataclass(frozen=True)
class QuotaWarning:
    """The account's warm instances of one type near the warm-pool quota the policy states for it."""

    instance_type: str
    quota: int
    current: int  # warm instances of the type, the pool kept warm included

    @property
    def quota_name(self) -> str:
        """The quota's name in Service Quotas (service SageMaker)."""
        return f"{self.instance_type} for training warm pool usage"

    @property
    def reason(self) -> str:
        at = "reached" if self.current >= self.quota else "nearly reached"
        return (
            f"{_instances(self.current, self.instance_type)} warm of the account's warm-pool quota of "
            f"{self.quota} ({at}): at the quota, new jobs that ask for a keep-alive get no warm pool and "
            f'start cold. Raise it in Service Quotas: SageMaker, "{self.quota_name}" (per account and '
            f"region), then update warm_pool_quotas in the policy."
        )


def quota_warning(pool: Pool, policy: PolicyDocument, fleet: FleetView) -> QuotaWarning | None:
    """Whether keeping `pool` warm brings its type's warm instances (the account's Available pools of
    that type, this one included) to `quota_warning_at` of the quota `warm_pool_quotas` states for it.
    Not a rule: it changes no decision (SageMaker, not warmpool, enforces the quota), and is said to
    the platform admins, not the pool's owner. `fleet` must hold every team's pools of the type (the
    engine reads them when the type has a quota)."""
    quota = policy.warm_pool_quotas.get(pool.instance_type)
    if quota is None:
        return None
    others = [p for p in fleet.available_pools if p.pool_id != pool.pool_id]
    current = pool.instance_count + sum(
        p.instance_count for p in others if p.instance_type == pool.instance_type
    )
    if current < round(policy.quota_warning_at * quota, 9):  # 0.7 * 10 is 7.000000000000001
        return None
    return QuotaWarning(pool.instance_type, quota, current)


@register
class BudgetRule(PolicyRule):
    """`budget.daily_usd` / `budget.monthly_usd`: idle cost per team and day or month, on the team's
    clock (`ledger_zone`), as set for the team (`defaults`, `teams.<team>`: no selector or owner holds
    one, `PoolRules`). What is left is the budget less what the team's pools have idled this period
    (this pool's idle time so far included) and less what the team's other pools have booked until
    their current expiry (or the time a person was promised, if later) within the period; the pool may
    stay warm only as long as that pays for, and is shortened (or released) when it is already booked
    beyond it, never before the time a person was promised (`Evaluation.promised_horizon`). Idle time
    after the period ends is the next period's: when what is left lasts until midnight (or the month's
    end), this period's budget does not cap the pool, and the next step, at most an hour later, is
    decided against the new period's budget."""

    name = "budget"
    reads = ("budget",)

    def apply(self, ev: Evaluation) -> None:
        budget = ev.rules.get("budget")
        if budget is None or ev.cost.idle_cost_per_second <= 0:
            return
        rule = ev.rules.rule("budget")
        day_end, month_end = period_ends(ev.now, ledger_zone(ev.policy, ev.rules.team))
        fleet, team = ev.fleet, ev.rules.team
        # (affordable seconds, left, booked, period, budget)
        binding: list[tuple[float, float, float, str, float]] = []
        for limit, spent, booked, period, end in (
            (
                budget.daily_usd,
                fleet.idle_cost_today_by_team.get(team, 0.0),
                fleet.idle_cost_booked_today_by_team.get(team, 0.0),
                "daily",
                day_end,
            ),
            (
                budget.monthly_usd,
                fleet.idle_cost_month_by_team.get(team, 0.0),
                fleet.idle_cost_booked_month_by_team.get(team, 0.0),
                "monthly",
                month_end,
            ),
        ):
            if limit is None:
                continue
            left = limit - spent - booked
            affordable = max(0.0, left) / ev.cost.idle_cost_per_second
            if affordable < (end - ev.now).total_seconds():
                binding.append((affordable, left, booked, period, limit))
        if not binding:
            return
        affordable, left, booked, period, limit = min(binding)
        horizon = ev.elapsed + int(affordable)
        promised = ev.promised_horizon or 0  # a person's earlier promise holds: see promised_horizon
        if max(horizon, promised) < ev.horizon:
            booked_text = f" after ${booked:.2f} booked by its other warm pools" if booked > 0 else ""
            reason = f"the team's {period} idle budget has ${max(0.0, left):.2f} left{booked_text}"
            if promised > horizon and ev.pool.override_until is not None:
                reason += f": kept until {moment_text(ev.pool.override_until)} as promised"
            ev.cap(max(ev.elapsed, horizon, promised), f"{rule}.{period}_usd", reason)
            ev.notify.append(NotificationKind.BUDGET_WARNING)
            # spent as counted here (limit less left): idled this period, and booked by the other pools
            ev.budget = BudgetFigures("day" if period == "daily" else "month", limit, round(limit - left, 4))


RuleFn = Callable[[Evaluation], None]
