"""The keep-alive decision: (pool, policy, clock, fleet) -> Decision. Pure, no AWS.

The single source of truth: the lifecycle Lambdas, the Slack endpoint, the CLI, the demo and the
simulator all call `decide_keep_alive`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from warmpool.domain.clock import moment_text
from warmpool.domain.messages import counted
from warmpool.domain.model import (
    Action,
    CostModel,
    Decision,
    EngineLimits,
    FleetView,
    Pool,
    Trigger,
    UserRequest,
    WarmPoolStatus,
)
from warmpool.domain.policy.document import PolicyDocument
from warmpool.domain.policy.resolve import Resolved, resolve_rules
from warmpool.domain.policy.rules import LIFETIME_RULE, REGISTRY, Evaluation, kept_on_request
from warmpool.domain.pricing import UnknownInstanceTypeError, price_per_hour
from warmpool.domain.stepping import TOLERANCE_SECONDS, plan_step, target_expiry
from warmpool.domain.strategies import duration_text

FALLBACK_PRICE_PER_HOUR = 1.0  # for an instance type nobody priced: keeps decisions defined
RETRY_CAPPED_MINUTES = 5  # a reduction held back by max_reductions_per_run is tried again by a later run


def policy_cost_model(policy: PolicyDocument, pool: Pool, rules: Resolved | None = None) -> CostModel:
    """Prices and people's time for `pool` under `policy`: what the strategies trade off."""
    rules = rules or resolve_rules(policy, pool)
    try:
        price = price_per_hour(pool.instance_type, policy.prices)
    except UnknownInstanceTypeError:
        price = FALLBACK_PRICE_PER_HOUR
    return CostModel(
        price_per_instance_hour=price,
        instance_count=pool.instance_count,
        people_cost_per_hour=float(rules.get("people_cost_per_hour")),
        cold_start_s=float(rules.get("cold_start_seconds")),
        warm_start_s=float(rules.get("warm_start_seconds")),
    )


def unpriced_reason(policy: PolicyDocument, pool: Pool) -> str | None:
    """What a decision says of a pool whose instance type neither the policy's `prices` nor the built-in
    table prices (it is decided at FALLBACK_PRICE_PER_HOUR), and how to price it; None when priced."""
    try:
        price_per_hour(pool.instance_type, policy.prices)
    except UnknownInstanceTypeError:
        return (
            f"no price for {pool.instance_type}: its idle time is counted at a stand-in "
            f"${FALLBACK_PRICE_PER_HOUR:.2f} per instance-hour, not at what SageMaker bills; add it under "
            "`prices` in the policy (USD per instance-hour)"
        )
    return None


def decide_keep_alive(
    pool: Pool,
    policy: PolicyDocument,
    now: datetime,
    *,
    limits: EngineLimits | None = None,
    fleet: FleetView | None = None,
    trigger: Trigger = Trigger.JOB_EVENT,
    request: UserRequest | None = None,
    cost: CostModel | None = None,
) -> Decision:
    limits = limits or EngineLimits()
    if pool.status is not WarmPoolStatus.AVAILABLE or pool.available_since is None:
        return Decision.no_available_pool(f"pool is {pool.status.value}, only Available pools can be updated")
    if not limits.manages(pool.job_name):
        prefixes = ", ".join(limits.job_name_prefixes)
        return Decision(
            action=Action.KEEP,
            keep_alive_seconds=None,
            horizon_seconds=max(0, int(((pool.expires_at or now) - pool.available_since).total_seconds())),
            next_check_at=None,
            rule="engine.job_name_prefixes",
            reasons=(
                f"this deployment manages only the jobs whose names begin with {prefixes} "
                "(job_name_prefixes): the job's own keep-alive applies",
                *((_left_undone(pool, Action.KEEP, None, None, now),) if policy.dry_run else ()),
            ),
            dry_run=policy.dry_run,
        )
    required = limits.update_requires_tag
    if required and required not in pool.tags:
        until = pool.expires_at or now  # warm until its own keep-alive runs out
        return Decision(
            action=Action.KEEP,
            keep_alive_seconds=None,
            horizon_seconds=max(0, int((until - pool.available_since).total_seconds())),
            next_check_at=None,
            rule="engine.update_requires_tag",
            reasons=(
                f"this deployment may update only jobs tagged `{required}` (update_requires_tag): "
                "the job's own keep-alive applies",
                *((_left_undone(pool, Action.KEEP, None, None, now),) if policy.dry_run else ()),
            ),
            dry_run=policy.dry_run,
        )
    rules = resolve_rules(policy, pool)
    # an instance type nobody priced is decided at a stand-in price: said, where it was silent, so the
    # reasons' dollars and the warm time they bought are not read as the bill's (a caller's own cost
    # model, the simulator's --price-per-hour, prices it)
    unpriced = unpriced_reason(policy, pool) if cost is None else None
    cost = cost or policy_cost_model(policy, pool, rules)
    ev, horizon = _evaluate(pool, policy, rules, now, limits, fleet, trigger, request, cost)

    max_step = min(limits.max_step_seconds, int(rules.get("max_step_minutes")) * 60)
    # the engine must come back before a short step runs out
    margin = min(limits.step_margin_seconds, max_step // 2)
    step_limits = (
        limits
        if (max_step, margin) == (limits.max_step_seconds, limits.step_margin_seconds)
        else replace(limits, max_step_seconds=max_step, step_margin_seconds=margin)
    )
    step = plan_step(pool, horizon, now, step_limits)
    action, keep_alive, next_check = step.action, step.keep_alive_seconds, step.next_check_at
    reasons = list(ev.reasons)
    rule = ev.rule
    if ev.settled == "keep" and action is not Action.KEEP:
        action, keep_alive, next_check = Action.KEEP, None, None
    if step.capped_by_lifetime:
        reasons.append("capped by the pool's maximum lifetime")
    idle = (now - pool.available_since).total_seconds()
    if action is Action.RELEASE and ev.settled is None and 0 < step.horizon_seconds <= idle:
        # released because the warm time the rules wanted has run out: said, or a decision at 19:30
        # about a pool idle since 10:05 reads "wants 2.4 h of warm time" and "release" with no link
        reasons.append(
            f"idle {duration_text(idle)} since {moment_text(pool.available_since)}: "
            f"the {duration_text(step.horizon_seconds)} of warm time have run out"
        )
    promised = _granted_until(pool, ev, horizon, step.horizon_seconds)
    planned = pool.available_since + timedelta(seconds=step.horizon_seconds)
    if ev.requested_until is not None and ev.settled is None and planned <= now:
        # released now whatever was asked (its maximum lifetime has come): a promise of a time that has
        # already come is none, and the person is told it was refused, not "done"
        promised = None
        if step.capped_by_lifetime:
            reasons.append("the pool has reached its maximum lifetime: no warm time is left to grant")
            rule = _lifetime_refused(rule)
    if (
        promised is not None
        and ev.requested_until is not None
        and promised < ev.requested_until
        and ev.settled is None
        and promised <= _unrequested_until(pool, policy, rules, now, limits, fleet, trigger, cost)
    ):
        # The pool's maximum lifetime cut the request, and the pool stays warm until then anyway (an
        # earlier request kept it there, or the plan): granted "as long as the pool lives", it was
        # answered "done" (exit 0) of an extension that added nothing, where the same request at the
        # policy's max_horizon_minutes is refused. Refused as at a limit: nothing is left to grant.
        reasons.append(
            f"it already stays warm until its maximum lifetime ends at {moment_text(promised)}: "
            "no warm time is left to grant"
        )
        promised = None
        rule = _lifetime_refused(rule)
    if promised is not None and ev.requested_until is not None and promised < ev.requested_until:
        # The pool's maximum lifetime cut the promise (`_granted_until`): the request rule's own line
        # said the asked time was kept ("kept warm until 11:00 on request", answered "done" to a pool
        # that ends at 10:00), and a plan that set the horizon said no time at all.
        granted = (
            f"kept warm until {moment_text(promised)} on request, when the pool's maximum lifetime ends "
            f"({moment_text(ev.requested_until)} asked)"
        )
        asked_line = kept_on_request(ev.requested_until)
        reasons = (
            [granted if r == asked_line else r for r in reasons]
            if asked_line in reasons
            else [*reasons, granted]
        )
    asked_until = None
    if promised is not None and planned > promised and not ev.rule.startswith("request."):
        # granted though the request did not set the horizon (the rule that did names the plan): the
        # answer says the asked time is kept, or it would read as if the request had changed nothing
        reasons.append(
            f"the plan already keeps it warm until {moment_text(planned)}: "
            f"kept warm at least until {moment_text(promised)} on request"
        )
    if (
        promised is None
        and ev.requested_until is not None
        and ev.settled is None
        and planned > _unrequested_until(pool, policy, rules, now, limits, fleet, trigger, cost)
    ):
        # A limit cut the request short, yet the pool stays warm longer than it would have without it:
        # granted in part. What was granted is promised (the limit allowed it now, and the later steps
        # must not let the pool go before the time the person is told), the rest is not: a limit that
        # eases later (a budget freed) does not extend the pool on its own; the person may ask again.
        promised, asked_until = planned, ev.requested_until
        # the request rule's own line said the asked time was kept, which the limit then cut
        asked_line = kept_on_request(asked_until)
        reasons = [
            f"asked to keep it warm until {moment_text(asked_until)}" if r == asked_line else r
            for r in reasons
        ]
        reasons.append(
            f"kept warm until {moment_text(planned)} of the {moment_text(asked_until)} asked: "
            f"{ev.rule_reason or ev.rule}"
        )
    if promised is None and ev.requested_until is not None:
        # Refused: the request rule's own line said the asked time was kept, which a limit then cut
        # ("refused (...; kept warm until 10:30 on request; capped at the maximum horizon ...)").
        asked_line = kept_on_request(ev.requested_until)
        reasons = [
            f"asked to keep it warm until {moment_text(ev.requested_until)}" if r == asked_line else r
            for r in reasons
        ]
    # min_step_minutes only spares a small extension; a shorter keep-alive (a cap: the working day,
    # the maximum horizon, a budget) is always set, however small the step, and so is an extension a
    # person was promised: spared, it would let the pool go before the time they were told
    min_step = int(rules.get("min_step_minutes")) * 60
    if (
        action is Action.EXTEND
        and keep_alive is not None
        and 0 < keep_alive < min_step
        and not _promise_needs_extension(pool, promised, now)
    ):
        reasons.append(f"a {keep_alive} s extension is below min_step_minutes: left as it is")
        action, keep_alive = Action.KEEP, None
    if (
        action in (Action.SHORTEN, Action.RELEASE)
        and trigger is not Trigger.USER  # the cap is against a bad policy, not a person's one request
        and ev.fleet.reductions_this_run >= policy.max_reductions_per_run
    ):
        reasons.append(
            # `1 pools were` under max_reductions_per_run: 1
            f"{counted(policy.max_reductions_per_run, 'pool')} "
            f"{'was' if policy.max_reductions_per_run == 1 else 'were'} already shortened or released in "
            f"this run (max_reductions_per_run): kept as it is, looked at again in {RETRY_CAPPED_MINUTES} "
            "minutes"
        )
        action, keep_alive, rule = Action.NOTIFY, None, "max_reductions_per_run"
        next_check = now + timedelta(minutes=RETRY_CAPPED_MINUTES)
    if (
        request is not None
        and request.kind == "extend"
        and promised is None
        and action in (Action.SHORTEN, Action.RELEASE)
    ):
        # An extension refused leaves the pool to the policy, as if nobody had asked, and the policy may
        # end it sooner now (it changed since the pool's last look, a budget ran low): the answer said
        # "refused" of a pool it had just released. Said as what the decision does: a dry run's last
        # reason then says that nothing is changed (`_left_undone`).
        reasons.append(
            "without the request, the policy releases it now"
            if action is Action.RELEASE
            else "without the request, the policy keeps it warm only until "
            f"{moment_text(now + timedelta(seconds=keep_alive or 0))}"
        )
    if unpriced is not None:
        reasons.append(unpriced)
    if policy.dry_run:
        reasons.append(_left_undone(pool, action, keep_alive, promised, now, tuple(ev.release_pool_ids)))
    # The refusal of a person's extension names the decision for the answer; the pool's own record and
    # update name the rule that set its plan (`Decision.as_the_pools`), unless a later rule decided it
    plan_rule = ev.plan_rule if ev.refused_by is not None and rule == ev.refused_by else None
    return Decision(
        action=action,
        keep_alive_seconds=keep_alive,
        horizon_seconds=step.horizon_seconds,
        next_check_at=next_check,
        rule=rule,
        reasons=tuple(reasons),
        dry_run=policy.dry_run,
        notify=tuple(dict.fromkeys(ev.notify)),
        release_pool_ids=tuple(ev.release_pool_ids) if not policy.dry_run else (),
        would_release_pool_ids=tuple(ev.release_pool_ids) if policy.dry_run else (),
        promised_until=promised,
        asked_until=asked_until,
        budget=ev.budget,
        plan_rule=plan_rule if plan_rule != rule else None,
    )


def _lifetime_refused(rule: str) -> str:
    """The rule of a request the pool's maximum lifetime refuses: the lifetime's, where the request
    had set the horizon (`request.cli`, the rule of a request granted, named a refused one). A plan
    that keeps the pool to its end is still named: it, not the request, decides the pool."""
    return LIFETIME_RULE if rule.startswith("request.") else rule


def _left_undone(
    pool: Pool,
    action: Action,
    keep_alive: int | None,
    promised: datetime | None,
    now: datetime,
    making_room: tuple[str, ...] = (),
) -> str:
    """What a dry run says of the decision it does not carry out: what a real run would have set, and
    what happens instead (the pool stays warm on the keep-alive it has: its job's own, or the last one a
    real run set), so that no notice, audit entry or answer carrying the reasons reads as done.
    `making_room`: the other pools a limit would release (a dry run's decision names none to release)."""
    said = "dry run: nothing is changed"
    stays = (
        f"it stays warm until {moment_text(pool.expires_at)} on the keep-alive it has"
        if pool.expires_at is not None
        else "its keep-alive is left as it is"
    )
    if action is Action.RELEASE:
        said += f"; a real run would release it now; {stays}"
    elif action in (Action.EXTEND, Action.SHORTEN) and keep_alive is not None:
        until = now + timedelta(seconds=keep_alive)
        said += (
            f"; a real run would set its keep-alive to {keep_alive} s (warm until {moment_text(until)}); "
            f"{stays}"
        )
    if making_room:
        said += f"; a real run would release {', '.join(making_room)} to make room (left warm)"
    if promised is not None:
        said += "; nobody is promised anything"
    return said


def _evaluate(
    pool: Pool,
    policy: PolicyDocument,
    rules: Resolved,
    now: datetime,
    limits: EngineLimits,
    fleet: FleetView | None,
    trigger: Trigger,
    request: UserRequest | None,
    cost: CostModel,
) -> tuple[Evaluation, int]:
    """The rules applied in order to an Available pool: their evaluation, and the horizon it reaches."""
    since = pool.available_since or now  # an Available pool has one: the caller checked
    ev = Evaluation(
        pool=pool,
        policy=policy,
        rules=rules,
        now=now,
        limits=limits,
        fleet=fleet or FleetView(),
        trigger=trigger,
        request=request,
        cost=cost,
        elapsed=max(0, int((now - since).total_seconds())),
    )
    for policy_rule in REGISTRY:
        if ev.settled is not None and policy_rule.name != "required_tags":
            continue
        policy_rule.apply(ev)
    horizon = ev.horizon
    if not ev.may_extend:  # outside working hours: shorten or release, never extend
        horizon = min(horizon, ev.current_expiry_horizon)
    return ev, horizon


def _unrequested_until(
    pool: Pool,
    policy: PolicyDocument,
    rules: Resolved,
    now: datetime,
    limits: EngineLimits,
    fleet: FleetView | None,
    trigger: Trigger,
    cost: CostModel,
) -> datetime:
    """Until when the pool would stay warm had nobody asked (earlier promises kept), after every cap:
    a request a limit cut short is refused when it keeps the pool no longer than that, granted in part
    when it does. A margin of `TOLERANCE_SECONDS` keeps noise from reading as a grant."""
    _, horizon = _evaluate(pool, policy, rules, now, limits, fleet, trigger, None, cost)
    reachable, _ = target_expiry(pool, horizon, limits)
    # a horizon already past is a release now: the pool was warm until now all the same
    return max(reachable, now) + timedelta(seconds=TOLERANCE_SECONDS)


def _promise_needs_extension(pool: Pool, promised: datetime | None, now: datetime) -> bool:
    """Whether a person's promise still ahead (granted by this decision, or earlier: the pool's
    `override_until`) outlasts the pool's current keep-alive. The step that reaches it is the last one
    (no next check is planned after it): left undone below `min_step_minutes`, the pool would expire
    at its current keep-alive, before the promised time."""
    ahead = [p for p in (promised, pool.override_until) if p is not None and p > now]
    return bool(ahead) and (pool.expires_at is None or pool.expires_at < max(ahead))


def _granted_until(pool: Pool, ev: Evaluation, policy_horizon: int, horizon_seconds: int) -> datetime | None:
    """Until when a person's extend request is granted, judged on the horizon the decision reaches
    after every cap (`horizon_seconds`; `policy_horizon`: before the pool's maximum lifetime cut it).
    The asked time when that horizon reaches it: whether the request set the horizon or the plan
    already kept the pool that long, the promise is recorded all the same, or a later step under a
    shorter plan (the adaptive strategy's next estimate, a policy change) would let the pool go before
    the time the person was told. When the pool's maximum lifetime ends it before the asked time and
    before the policy's horizon does (the request set that horizon, the plan covered the asked time,
    or a limit cut it somewhere between the pool's end and the asked time): as long as the pool lives,
    whichever set it (a longer plan, or a limit the pool does not live to reach, must not turn a
    granted request into a refused one; `decide_keep_alive` refuses it when the pool stays warm until
    its end without the request: nothing is left to grant). None when a policy limit cut the horizon
    below the asked time before the lifetime did (the request is refused, with that limit's reason, or
    granted in part when it still keeps the pool longer: `decide_keep_alive` judges that), or when
    nobody asked."""
    asked = ev.requested_until
    if asked is None or pool.available_since is None:
        return None
    wanted = int((asked - pool.available_since).total_seconds())
    if horizon_seconds >= wanted:
        return asked
    if ev.rule.startswith("request.") or policy_horizon > horizon_seconds:  # the lifetime cut it
        return pool.available_since + timedelta(seconds=horizon_seconds)
    return None
