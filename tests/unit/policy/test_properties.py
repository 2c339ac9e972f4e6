"""Properties of `decide_keep_alive` over random pools, clocks, fleets, requests and policies: what a
demanding user relies on, whatever the policy says (docs/policy.md). The table tests in test_rules.py
pin single rules down; these say what no combination of them may do."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warmpool.domain.clock import period_ends
from warmpool.domain.decide import decide_keep_alive, policy_cost_model
from warmpool.domain.model import (
    Action,
    Decision,
    EngineLimits,
    FleetPool,
    FleetView,
    NotificationKind,
    Pool,
    Trigger,
    UserRequest,
)
from warmpool.domain.policy import parse_policy
from warmpool.domain.policy.document import PolicyDocument, WorkingHours
from warmpool.domain.stepping import TOLERANCE_SECONDS

from tests.unit.policy.test_rules import pool

LIMITS = EngineLimits()
TYPE = "ml.g5.2xlarge"
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Pacific/Auckland"]
# Moments the calendar makes hard: daylight saving changes (both hemispheres), a month's and a year's end
ANCHORS = [
    datetime(2026, 3, 2, 9, 0, tzinfo=UTC),  # an ordinary Monday
    datetime(2026, 3, 8, 7, 0, tzinfo=UTC),  # New York springs forward
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # Berlin springs forward
    datetime(2026, 4, 4, 16, 0, tzinfo=UTC),  # Sydney and Auckland fall back
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),  # Berlin falls back
    datetime(2026, 11, 1, 6, 0, tzinfo=UTC),  # New York falls back
    datetime(2026, 3, 31, 22, 0, tzinfo=UTC),  # a month's end
    datetime(2026, 12, 31, 23, 0, tzinfo=UTC),  # the year's end
]
ALICE_SLACK_ID = "U0ALICE"
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Case:
    """One call of `decide_keep_alive`, as the engine, Slack or the CLI would make it."""

    pool: Pool
    document: dict[str, Any]
    scope: dict[str, Any]  # the rules block of `document` that applies to the pool (defaults or its team)
    now: datetime
    fleet: FleetView
    request: UserRequest | None
    trigger: Trigger

    @property
    def policy(self) -> PolicyDocument:
        return parse_policy(self.document)

    def decide(self, policy: PolicyDocument | None = None) -> Decision:
        """The decision on this case (under `policy`, the case's document parsed, if given)."""
        return decide_keep_alive(
            self.pool,
            policy or self.policy,
            self.now,
            limits=LIMITS,
            fleet=self.fleet,
            trigger=self.trigger,
            request=self.request,
        )

    @property
    def team(self) -> str:
        return self.pool.team or "platform"

    @property
    def hours(self) -> WorkingHours | None:
        hours = self.scope.get("working_hours")
        return None if hours is None else WorkingHours(**hours)

    @property
    def team_zone(self) -> tzinfo:
        """The clock the team's budget runs on: `timezone`, else the working hours' zone, else UTC."""
        name = self.scope.get("timezone") or (self.scope.get("working_hours") or {}).get("timezone") or "UTC"
        return ZoneInfo(name)

    @property
    def lifetime_end(self) -> datetime:
        assert self.pool.lifetime_started_at is not None
        return self.pool.lifetime_started_at + timedelta(seconds=LIMITS.max_lifetime_seconds)

    @property
    def expires_at(self) -> datetime:
        assert self.pool.expires_at is not None
        return self.pool.expires_at

    @property
    def since(self) -> datetime:
        assert self.pool.available_since is not None
        return self.pool.available_since

    def asked_until(self) -> datetime | None:
        """Until when an extend request asks: N minutes more than the pool was going to stay warm (its
        expiry, or a person's earlier promise if that is later)."""
        if self.request is None or self.request.kind != "extend":
            return None
        base = max(self.now, self.expires_at, self.pool.override_until or self.now)
        return base + timedelta(minutes=self.request.minutes)

    def promise_ahead(self) -> datetime | None:
        until = self.pool.override_until
        return until if until is not None and until > self.now else None


def expiry_after(case: Case, decision: Decision) -> datetime:
    """When the pool expires once the decision is carried out."""
    if decision.keep_alive_seconds is None:
        return case.expires_at
    return case.now + timedelta(seconds=decision.keep_alive_seconds)


def planned_until(case: Case, decision: Decision) -> datetime:
    """Until when the decision means to keep the pool warm, over the steps still to come: now, for a
    pool it releases now, whatever horizon it names."""
    if decision.action is Action.RELEASE:
        return case.now
    return case.since + timedelta(seconds=decision.horizon_seconds)


# ------------------------------------------------------------------ generators
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@st.composite
def working_hours(draw: st.DrawFn, now: datetime) -> dict[str, Any]:
    """Working hours in some zone; often a day that ends within two hours of `now` (where the end of
    the day cuts a step), or one `now` lies outside of."""
    zone = draw(st.sampled_from(ZONES))
    local = now.astimezone(ZoneInfo(zone))
    today = WEEKDAYS[local.weekday()]
    kind = draw(st.sampled_from(["ending", "ending", "outside", "any"]))
    if kind == "ending":
        end = draw(st.integers(local.hour + 1, min(24, local.hour + 2)))
        start = draw(st.integers(0, local.hour))
        days = sorted({today, *draw(st.lists(st.sampled_from(WEEKDAYS)))})
    elif kind == "outside":
        start, end = (local.hour + 1, 24) if local.hour < 23 else (0, 23)
        days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, unique=True))
    else:
        start = draw(st.integers(0, 20))
        end = draw(st.integers(start + 1, 24))
        days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, unique=True))
    hours: dict[str, Any] = {
        "timezone": zone,
        "start": f"{start:02d}:00",
        "end": f"{end:02d}:00",
        "days": days,
        "outside": draw(st.sampled_from(["release", "shorten"])),
        "shorten_to_minutes": draw(st.integers(0, 60)),
    }
    if draw(st.integers(0, 5)) == 0:
        hours["holidays"] = [local.date()]
    return hours


def _sometimes(draw: st.DrawFn, odds: int) -> bool:
    return draw(st.integers(1, odds)) == 1


@st.composite
def rules_block(draw: st.DrawFn, now: datetime, idle: int, spent: float, month: float) -> dict[str, Any]:
    """One scope's rules: often a maximum horizon that ends within hours of `now`, and budgets that
    leave a little (or nothing) of what the team has spent."""
    rules: dict[str, Any] = {
        "keep_alive_strategy": draw(
            st.sampled_from(
                ["fixed-5400", "fixed-20000", "break-even", "adaptive", "fixed-600", "job", "none"]
            )
        )
    }
    if _sometimes(draw, 3):
        rules["max_horizon_minutes"] = max(0, idle // 60 + draw(st.integers(-30, 180)))
    if _sometimes(draw, 2):
        rules["working_hours"] = draw(working_hours(now))
    if _sometimes(draw, 4):
        rules["timezone"] = draw(st.sampled_from(ZONES))
    if _sometimes(draw, 2):
        budget = {}
        if draw(st.booleans()):
            budget["daily_usd"] = max(0.0, spent + draw(st.floats(-1, 6)))
        if draw(st.booleans()):
            budget["monthly_usd"] = max(0.0, month + draw(st.floats(-1, 6)))
        rules["budget"] = budget
    rules["overrides"] = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "max_extend_minutes": st.integers(0, 900),
                "allow_outside_working_hours": st.booleans(),
            },
        )
    )
    if _sometimes(draw, 4):
        rules["max_warm_instances"] = draw(st.integers(0, 12))
        rules["on_limit"] = draw(st.sampled_from(["refuse", "release-least-valuable"]))
    if _sometimes(draw, 4):
        rules["people_cost_per_hour"] = draw(st.floats(0, 500))
    if _sometimes(draw, 4):
        rules["release_on_failure"] = True
    if _sometimes(draw, 2):
        rules["max_step_minutes"] = draw(st.integers(5, 60))
    if _sometimes(draw, 2):
        rules["min_step_minutes"] = draw(st.integers(1, rules.get("max_step_minutes", 60)))
    return rules


@st.composite
def cases(draw: st.DrawFn, *, requests: bool | None = None) -> Case:
    """A pool idle for a while at a hard moment of the calendar, under a random policy, among other
    pools, maybe with a person's request. `requests`: True, always one; False, never; None, either."""
    now = draw(st.sampled_from(ANCHORS)) + timedelta(seconds=draw(st.integers(-36 * 3600, 36 * 3600)))
    idle = draw(st.integers(0, 8 * 3600))
    left = draw(st.integers(0, 3600))  # the keep-alive still to run
    since = now - timedelta(seconds=idle)
    team = draw(st.sampled_from(["vision", "vision", None]))
    tags = (
        {"warmpool:exempt-until": draw(st.sampled_from(["2026-01-01", "2027-06-01"]))}
        if _sometimes(draw, 10)
        else {}
    )
    subject = pool(
        since=since,
        keep_alive=idle + left,
        team=team,
        count=draw(st.integers(1, 3)),
        tags=tags,
        job_status="Failed" if _sometimes(draw, 8) else "Completed",
    )
    # provisioned an hour before, or nearly 28 days before: its lifetime ends within two hours
    lived = 3600 if draw(st.booleans()) else 28 * 24 * 3600 - idle - draw(st.integers(0, 2 * 3600))
    promise = draw(st.integers(-3 * 3600, 6 * 3600)) if _sometimes(draw, 3) else None
    subject = replace(
        subject,
        lifetime_started_at=since - timedelta(seconds=lived),
        override_until=None if promise is None else now + timedelta(seconds=promise),
    )
    today = draw(st.floats(0, 50))
    month = today + draw(st.floats(0, 400))
    booked_today = draw(st.floats(0, 5))
    booked_month = booked_today + draw(st.floats(0, 10))
    rules = draw(rules_block(now, idle, today + booked_today, month + booked_month))
    scope = draw(st.sampled_from(["defaults", "team"]))
    document: dict[str, Any] = {"version": 1}
    if scope == "defaults":
        document["defaults"] = rules
    else:
        document["teams"] = {"vision": rules}
    document["dry_run"] = _sometimes(draw, 6)
    document["notifications"] = {"slack_users": {"alice": ALICE_SLACK_ID}}
    if _sometimes(draw, 6):
        document["max_reductions_per_run"] = draw(st.integers(0, 3))
    if _sometimes(draw, 5):
        document["instance_type_limits"] = {TYPE: draw(st.integers(0, 12))}
    if _sometimes(draw, 8):
        document["prices"] = {TYPE: 0}
    # the rules apply to the pool only from the scope it is in: a team-less pool gets the defaults
    applies = rules if scope == "defaults" or team == "vision" else {}
    others = tuple(
        FleetPool(
            f"other-{i}",
            draw(st.sampled_from(["vision", "nlp"])),
            draw(st.sampled_from([TYPE, "ml.m5.xlarge"])),
            draw(st.integers(1, 3)),
            now - timedelta(seconds=draw(st.integers(0, 10 * 3600))),
            draw(st.booleans()),
        )
        for i in range(draw(st.integers(0, 3)))
    )
    teams = ("vision", "platform")
    fleet = FleetView(
        available_pools=others,
        idle_cost_today_by_team=dict.fromkeys(teams, today),
        idle_cost_month_by_team=dict.fromkeys(teams, month),
        idle_cost_booked_today_by_team=dict.fromkeys(teams, booked_today),
        idle_cost_booked_month_by_team=dict.fromkeys(teams, booked_month),
        reductions_this_run=draw(st.integers(0, 3)) if _sometimes(draw, 4) else 0,
    )
    request = None
    if draw(st.booleans()) if requests is None else requests:
        if _sometimes(draw, 4):
            request = UserRequest("release", "alice", 0, "slack")
        else:
            minutes = draw(st.integers(1, 120) if draw(st.booleans()) else st.integers(1, 900))
            via = draw(st.sampled_from(["slack", "cli"]))
            # from Slack, alice is known by her id (mapped to her below), or now and then by one the
            # policy maps to nobody: then she is no one it names, and the scope's overrides are hers
            user_id = (
                draw(st.sampled_from([ALICE_SLACK_ID, ALICE_SLACK_ID, "U0NOBODY"]))
                if via == "slack"
                else None
            )
            request = UserRequest("extend", "alice", minutes, via, user_id)
    trigger = (
        Trigger.USER
        if request
        else draw(st.sampled_from([Trigger.JOB_EVENT, Trigger.STEP_DUE, Trigger.RECONCILE]))
    )
    return Case(subject, document, applies, now, fleet, request, trigger)


def inside_working_hours(hours: WorkingHours, when: datetime) -> bool:
    """Whether `when` falls in the working hours, on their own clock (written apart from the product's
    `in_working_hours`, which these properties check)."""
    local = when.astimezone(ZoneInfo(hours.timezone))
    if local.date() in hours.holidays or WEEKDAYS[local.weekday()] not in hours.days:
        return False
    after_start = time.fromisoformat(hours.start) <= local.time()
    return after_start and (hours.end == "24:00" or local.time() < time.fromisoformat(hours.end))


def end_of_working_day(hours: WorkingHours, when: datetime) -> datetime:
    """When the working day `when` falls in ends, in UTC: a day to 24:00 runs on through the days that
    follow it from 00:00 (working days, not holidays; every day of the week: past any pool's life)."""
    zone = ZoneInfo(hours.timezone)
    local = when.astimezone(zone)
    if hours.end == "24:00":
        day = local.date() + timedelta(days=1)
        while hours.start == "00:00" and day not in hours.holidays and WEEKDAYS[day.weekday()] in hours.days:
            day += timedelta(days=1)
            if day > local.date() + timedelta(days=28):
                break
        return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
    end = datetime.fromisoformat(f"{local.date().isoformat()}T{hours.end}").replace(tzinfo=zone)
    return end.astimezone(UTC)


def accepted(case: Case) -> bool:
    """Whether the policy lets the case's extend request through (`overrides.max_extend_minutes`)."""
    overrides = case.scope.get("overrides", {})
    return (
        case.request is not None
        and case.request.kind == "extend"
        and case.request.minutes <= overrides.get("max_extend_minutes", 120)
    )


def exempt(case: Case) -> bool:
    """Whether the pool carries an exemption still to run out (the other one generated has expired)."""
    return case.pool.tags.get("warmpool:exempt-until") == "2027-06-01"


# ------------------------------------------------------------------ properties
@PROPERTY
@given(case=cases())
def test_the_same_inputs_give_the_same_decision(case: Case) -> None:
    policy = case.policy
    first = case.decide(policy)
    assert case.decide(policy) == first  # the same document, its resolutions cached
    assert case.decide() == first  # a document parsed afresh


@PROPERTY
@given(case=cases())
def test_every_decision_names_its_rule_and_says_why(case: Case) -> None:
    decision = case.decide()
    assert decision.rule.strip()
    assert decision.reasons
    assert all(reason.strip() for reason in decision.reasons)
    if case.pool.team is None:  # counted against the default team, whose admins are told
        assert NotificationKind.MISSING_TAGS in decision.notify
        assert any("treated as team platform" in reason for reason in decision.reasons)


@PROPERTY
@given(case=cases())
def test_no_keep_alive_breaks_a_limit(case: Case) -> None:
    decision = case.decide()
    new_expiry = expiry_after(case, decision)
    tolerance = timedelta(seconds=TOLERANCE_SECONDS)
    if exempt(case):
        assert (decision.action, decision.keep_alive_seconds) == (Action.KEEP, None)
        return
    if (
        case.trigger is not Trigger.USER
        and case.fleet.reductions_this_run >= case.policy.max_reductions_per_run
    ):
        assert decision.action not in (Action.SHORTEN, Action.RELEASE)
    protected = {p.pool_id for p in case.fleet.available_pools if p.protected or p.team != case.team}
    assert not protected & set(decision.release_pool_ids)
    if case.document["dry_run"]:
        assert decision.release_pool_ids == ()
    if decision.keep_alive_seconds is not None:
        assert 0 <= decision.keep_alive_seconds <= case.scope.get("max_step_minutes", 60) * 60
    if decision.rule == "max_reductions_per_run":
        return  # kept as it is, for now: looked at again in 5 minutes
    # the pool's lifetime and the maximum horizon bound every pool, promised or not
    max_horizon = timedelta(minutes=case.scope.get("max_horizon_minutes", 24 * 60))
    assert new_expiry <= max(case.lifetime_end, case.now) + tolerance
    assert new_expiry <= max(case.since + max_horizon, case.now) + tolerance
    promised = [p for p in (decision.promised_until, case.promise_ahead()) if p is not None]
    extended = decision.action is Action.EXTEND
    min_step = case.scope.get("min_step_minutes", 1) * 60
    if extended and decision.keep_alive_seconds is not None and decision.keep_alive_seconds < min_step:
        # a small extension is left undone, unless it is the last step of a person's promise
        assert promised
        assert max(promised) > case.expires_at
    # working hours: never extended outside them, nor past the end of the day, except on request
    hours = case.hours
    if hours is not None and extended:
        requested = [p for p in [case.promise_ahead()] if p is not None]
        # alice's own, or the scope's for one the policy names nobody by: the same, with no owner scope
        allowed = case.scope.get("overrides", {}).get("allow_outside_working_hours", False)
        asked = case.asked_until()
        if allowed and accepted(case) and asked is not None:
            requested.append(asked)
        if inside_working_hours(hours, case.now):
            assert new_expiry <= max([end_of_working_day(hours, case.now), *requested])
        else:
            assert requested, "extended outside working hours, and nobody asked"
            assert new_expiry <= max(requested)
    # budgets: the idle time it books in a day (month) costs no more than is left (later is the next
    # one's), unless a person was promised more earlier: never extended beyond that, shortened to it
    cost = policy_cost_model(case.policy, case.pool).idle_cost_per_second
    periods = budget_left(case)
    slack = timedelta(seconds=1 if extended else TOLERANCE_SECONDS + 1)  # rounding; a keep-alive kept
    for left, end in periods:
        affordable = case.now + timedelta(seconds=max(0.0, left) / cost)
        assert min(new_expiry, end) <= max(affordable, case.promise_ahead() or case.now) + slack
    # a budget that lasts until the day's (month's) end does not cap the pool: the next one decides
    if all(left >= (end - case.now).total_seconds() * cost for left, end in periods):
        assert ".budget." not in decision.rule


def budget_left(case: Case) -> list[tuple[float, datetime]]:
    """What the team's daily and monthly budgets have left (the budget less what its pools idled this
    period and less what its other pools booked), and when the period ends on the team's clock."""
    budget = case.scope.get("budget")
    if budget is None or policy_cost_model(case.policy, case.pool).idle_cost_per_second <= 0:
        return []
    fleet, team = case.fleet, case.team
    day_end, month_end = period_ends(case.now, case.team_zone)
    periods = [
        (
            budget.get("daily_usd"),
            fleet.idle_cost_today_by_team,
            fleet.idle_cost_booked_today_by_team,
            day_end,
        ),
        (
            budget.get("monthly_usd"),
            fleet.idle_cost_month_by_team,
            fleet.idle_cost_booked_month_by_team,
            month_end,
        ),
    ]
    return [
        (limit - spent[team] - booked[team], end)
        for limit, spent, booked, end in periods
        if limit is not None
    ]


@PROPERTY
@given(case=cases(requests=True))
def test_the_answer_to_a_request_is_what_the_decision_does(case: Case) -> None:
    assert case.request is not None
    decision = case.decide()
    unasked = replace(case, request=None).decide()
    verdict: str = decision.verdict(case.request.kind)
    if decision.dry_run:
        # nothing is done: what a real run would have done is answered as such, and judged as its answer
        assert verdict in ("dry run, would be done", "dry run, would be partly done", "refused")
        verdict = verdict.removeprefix("dry run, would be ")
    if case.request.kind == "release":
        # a person's release is done, whatever the policy wants, unless the pool is exempt
        assert (verdict == "done") is (decision.action is Action.RELEASE)
        assert (verdict == "done") is not exempt(case)
        return
    asked = case.asked_until()
    assert asked is not None
    # how long the pool would have stayed warm without the request (its lifetime ends it at the latest)
    without = min(planned_until(case, unasked), case.lifetime_end)
    tolerance = timedelta(seconds=TOLERANCE_SECONDS)
    # how long the policy would keep it, were the pool not near its maximum lifetime
    young = replace(case, pool=replace(case.pool, lifetime_started_at=case.since))
    policy_reach = planned_until(young, young.decide())
    kept_as_asked = policy_reach >= asked or case.lifetime_end < min(asked, policy_reach)
    # cut by the pool's lifetime, which it would have lived to the end of anyway: nothing is granted
    adds_nothing = asked > case.lifetime_end and without + tolerance >= case.lifetime_end
    if (
        accepted(case)
        and not exempt(case)
        and case.now < min(asked, case.lifetime_end)
        and kept_as_asked
        and not adds_nothing
    ):
        # the policy keeps it as long as asked, or only the pool's lifetime ends it sooner: done
        assert verdict == "done"
    if adds_nothing:
        assert verdict == "refused"
    if verdict == "done":
        # kept until the asked time, or for as long as the pool lives
        assert decision.promised_until == min(asked, case.lifetime_end)
        assert decision.asked_until is None
    elif verdict == "partly done":
        assert decision.asked_until == asked
        assert decision.promised_until is not None
        assert without + tolerance < decision.promised_until < min(asked, case.lifetime_end)
    else:
        assert decision.promised_until is None
        assert planned_until(case, decision) <= without + tolerance
        assert expiry_after(case, decision) <= expiry_after(case, unasked) + tolerance
    # asking for more never keeps the pool for less
    assert planned_until(case, decision) >= without - tolerance
    if decision.promised_until is not None:
        # what is promised is planned, and this step reaches it or the engine looks again before it ends
        assert planned_until(case, decision) >= decision.promised_until
        if expiry_after(case, decision) + tolerance < decision.promised_until:
            assert decision.next_check_at is not None
            assert decision.next_check_at < expiry_after(case, decision)


@PROPERTY
@given(case=cases(requests=False))
def test_a_pool_the_policy_does_not_want_is_released_or_shortened(case: Case) -> None:
    if exempt(case) or case.promise_ahead() is not None:
        return  # kept: see the properties of promises and exemptions
    decision = case.decide()
    if decision.rule == "max_reductions_per_run":
        assert decision.action is Action.NOTIFY
        return
    others = [p for p in case.fleet.available_pools if p.pool_id != case.pool.pool_id]
    count = case.pool.instance_count
    type_limit = case.document.get("instance_type_limits", {}).get(TYPE)
    if (
        type_limit is not None
        and count + sum(p.instance_count for p in others if p.instance_type == TYPE) > type_limit
    ):
        assert decision.action is Action.RELEASE
    team_limit = case.scope.get("max_warm_instances")
    team_used = sum(p.instance_count for p in others if p.team == case.team)
    if team_limit is not None and team_used + count > team_limit and decision.action is not Action.RELEASE:
        # released instead: the team's unprotected pools, enough of them to make room
        assert case.scope.get("on_limit") == "release-least-valuable"
        if not case.document["dry_run"]:
            freed = sum(p.instance_count for p in others if p.pool_id in decision.release_pool_ids)
            assert team_used - freed + count <= team_limit
            # the longest idle first: every pool it spares has been idle no longer than those it frees
            victims = [p for p in others if p.pool_id in decision.release_pool_ids]
            spared = [p for p in others if p.team == case.team and not p.protected and p not in victims]
            last_victim = max((p.available_since or case.now for p in victims), default=None)
            assert last_victim is None or all((p.available_since or case.now) >= last_victim for p in spared)
    hours = case.hours
    if hours is not None and not inside_working_hours(hours, case.now):
        if hours.outside == "release":
            assert decision.action is Action.RELEASE
        else:
            latest = min(case.expires_at, case.now + timedelta(minutes=hours.shorten_to_minutes))
            assert expiry_after(case, decision) <= latest + timedelta(seconds=TOLERANCE_SECONDS)


@PROPERTY
@given(case=cases(requests=True), wait=st.floats(0, 1, exclude_max=True))
def test_a_promise_holds_until_its_time(case: Case, wait: float) -> None:
    """Granted (in full or in part), an extension keeps the pool until the time the person was told:
    every later look, until then, keeps it so, whatever the working hours, the budget or the plan."""
    decision = case.decide()
    promised = decision.promised_until
    if promised is None or decision.dry_run:
        return
    expires = expiry_after(case, decision)
    if expires <= case.now:
        return
    # the engine records the promise and the new expiry, then looks again before the pool expires
    later = case.now + timedelta(seconds=int((min(expires, promised) - case.now).total_seconds() * wait))
    kept = replace(case.pool, override_until=promised, expires_at=expires)
    fleet = spent_until(case, later)
    again = replace(case, pool=kept, now=later, fleet=fleet, request=None, trigger=Trigger.STEP_DUE)
    step = again.decide()
    lasts = min(promised, case.lifetime_end)
    assert planned_until(again, step) >= lasts - timedelta(seconds=1), (step.rule, step.reasons)
    if step.rule != "max_reductions_per_run":
        reached = expiry_after(again, step)
        assert reached >= lasts - timedelta(seconds=TOLERANCE_SECONDS) or (
            step.next_check_at is not None and step.next_check_at < reached
        )


@PROPERTY
@given(case=cases())
def test_no_limit_takes_back_a_promise_still_ahead(case: Case) -> None:
    """A person told "kept warm until <t>" keeps the pool until then, however the fleet, the budget
    spent or the clock have moved since (the policy allowed it when it was granted: a maximum horizon
    it lies within, a job that did not fail)."""
    promise = case.promise_ahead()
    if promise is None or exempt(case) or case.pool.job_status == "Failed":
        return
    if case.request is not None and case.request.kind == "release":
        return  # the person's own release ends it
    max_horizon = timedelta(minutes=case.scope.get("max_horizon_minutes", 24 * 60))
    lasts = min(promise, case.lifetime_end)
    if promise > case.since + max_horizon or lasts <= case.now + timedelta(seconds=TOLERANCE_SECONDS):
        return
    decision = case.decide()
    assert decision.action is not Action.RELEASE
    assert planned_until(case, decision) >= lasts
    reached = expiry_after(case, decision)
    if decision.rule != "max_reductions_per_run" and reached + timedelta(seconds=TOLERANCE_SECONDS) < lasts:
        assert decision.next_check_at is not None
        assert decision.next_check_at < reached


def spent_until(case: Case, later: datetime) -> FleetView:
    """The team's ledger at `later`: this pool idled since `case.now` at its price; a new day (month)
    on the team's clock starts from nothing but this pool's idle time in it."""
    cost = policy_cost_model(case.policy, case.pool).idle_cost_per_second
    day_end, month_end = period_ends(case.now, case.team_zone)
    fleet = case.fleet

    def grown(
        spent: dict[str, float], booked: dict[str, float], end: datetime
    ) -> tuple[dict[str, float], dict[str, float]]:
        if later < end:
            return {**spent, case.team: spent[case.team] + cost * (later - case.now).total_seconds()}, booked
        return {**spent, case.team: cost * (later - end).total_seconds()}, {**booked, case.team: 0.0}

    today, booked_today = grown(
        dict(fleet.idle_cost_today_by_team), dict(fleet.idle_cost_booked_today_by_team), day_end
    )
    month, booked_month = grown(
        dict(fleet.idle_cost_month_by_team), dict(fleet.idle_cost_booked_month_by_team), month_end
    )
    return replace(
        fleet,
        idle_cost_today_by_team=today,
        idle_cost_booked_today_by_team=booked_today,
        idle_cost_month_by_team=month,
        idle_cost_booked_month_by_team=booked_month,
        reductions_this_run=0,
    )


@PROPERTY
@given(case=cases())
def test_a_dry_run_decides_as_the_real_run_and_changes_nothing(case: Case) -> None:
    real = replace(case, document={**case.document, "dry_run": False}).decide()
    dry = replace(case, document={**case.document, "dry_run": True}).decide()
    # the same decision, with one more reason: what a real run would have done, and that nothing is
    assert dry.reasons[:-1] == real.reasons
    assert dry.reasons[-1].startswith("dry run: nothing is changed")
    # the pools a real run would release to make room are named, for their trails, and none released
    assert dry == replace(
        real,
        dry_run=True,
        reasons=dry.reasons,
        release_pool_ids=(),
        would_release_pool_ids=real.release_pool_ids,
    )


@PROPERTY
@given(case=cases(), cap=st.integers(0, 3), done=st.integers(0, 4))
def test_the_reductions_cap_only_holds_back_reductions(case: Case, cap: int, done: int) -> None:
    free = replace(
        case,
        document={**case.document, "max_reductions_per_run": 25},
        fleet=replace(case.fleet, reductions_this_run=0),
    ).decide()
    capped = replace(
        case,
        document={**case.document, "max_reductions_per_run": cap},
        fleet=replace(case.fleet, reductions_this_run=done),
    ).decide()
    if done < cap or case.trigger is Trigger.USER or free.action not in (Action.SHORTEN, Action.RELEASE):
        assert capped == free
    else:
        assert (capped.action, capped.keep_alive_seconds, capped.rule) == (
            Action.NOTIFY,
            None,
            "max_reductions_per_run",
        )
        assert capped.next_check_at == case.now + timedelta(minutes=5)
        assert capped.horizon_seconds == free.horizon_seconds


@PROPERTY
@given(case=cases(requests=False), more=st.floats(0.01, 20))
def test_the_more_a_team_has_spent_the_sooner_its_pool_goes(case: Case, more: float) -> None:
    richer = case.decide()
    fleet = case.fleet
    poorer = replace(
        case,
        fleet=replace(
            fleet,
            idle_cost_today_by_team={k: v + more for k, v in fleet.idle_cost_today_by_team.items()},
            idle_cost_month_by_team={k: v + more for k, v in fleet.idle_cost_month_by_team.items()},
        ),
    ).decide()
    assert planned_until(case, poorer) <= planned_until(case, richer)
    assert expiry_after(case, poorer) <= expiry_after(case, richer) + timedelta(seconds=TOLERANCE_SECONDS)
