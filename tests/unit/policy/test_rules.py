"""Each policy rule on its own (table tests), then properties over random pools, clocks and policies."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warmpool.domain.clock import moment_text
from warmpool.domain.decide import decide_keep_alive
from warmpool.domain.model import (
    Action,
    Decision,
    EngineLimits,
    FleetPool,
    FleetView,
    MatchKey,
    NotificationKind,
    Pool,
    Trigger,
    UserRequest,
    WarmPoolStatus,
)
from warmpool.domain.policy import PolicyError, load_policy_file, parse_policy
from warmpool.domain.policy.rules import in_working_hours
from warmpool.domain.policy.schema import render

ROOT = Path(__file__).resolve().parents[3]
MONDAY_10_BERLIN = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 10:00 in Berlin (CET)


def pool(
    *,
    since: datetime = MONDAY_10_BERLIN,
    keep_alive: int = 600,
    team: str | None = "vision",
    owner: str | None = "alice",
    instance_type: str = "ml.g5.2xlarge",
    count: int = 1,
    tags: dict[str, str] | None = None,
    job_status: str = "Completed",
    name: str = "job-1",
) -> Pool:
    all_tags = {**({"team": team} if team else {}), **({"owner": owner} if owner else {}), **(tags or {})}
    return Pool(
        pool_id=name,
        job_name=name,
        job_arn="",
        status=WarmPoolStatus.AVAILABLE,
        job_status=job_status,
        match_key=MatchKey("arn:role", instance_type, count, 50),
        team=team,
        owner=owner,
        tags=all_tags,
        job_keep_alive_seconds=keep_alive,
        keep_alive_seconds=keep_alive,
        available_since=since,
        expires_at=since + timedelta(seconds=keep_alive),
        lifetime_started_at=since - timedelta(hours=1),
    )


def policy(**defaults: Any) -> Any:
    return parse_policy({"version": 1, "defaults": defaults})


@pytest.mark.parametrize(
    ("rules", "expected_action", "expected_rule"),
    [
        ({"keep_alive_strategy": "job"}, Action.KEEP, "defaults.keep_alive_strategy"),
        ({"keep_alive_strategy": "fixed-7200"}, Action.EXTEND, "defaults.keep_alive_strategy"),
        ({"keep_alive_strategy": "none"}, Action.RELEASE, "defaults.keep_alive_strategy"),
        (
            {"keep_alive_strategy": "fixed-7200", "max_horizon_minutes": 5},
            Action.SHORTEN,
            "defaults.max_horizon_minutes",
        ),
        ({"denied_instance_types": ["ml.g5.*"]}, Action.RELEASE, "defaults.denied_instance_types"),
        ({"allowed_instance_types": ["ml.p4d.*"]}, Action.RELEASE, "defaults.allowed_instance_types"),
    ],
)
def test_rule_table(rules: dict[str, Any], expected_action: Action, expected_rule: str) -> None:
    decision = decide_keep_alive(pool(), policy(**rules), MONDAY_10_BERLIN + timedelta(seconds=5))
    assert (decision.action, decision.rule) == (expected_action, expected_rule)
    assert decision.reasons


def test_a_pool_idle_past_the_warm_time_wanted_is_released_saying_so() -> None:
    # looked at long after its warm time ran out (its event came late, or a person asks what the policy
    # says): "wants 2 h of warm time" alone would read as no reason to release it
    decision = decide_keep_alive(
        pool(), policy(keep_alive_strategy="fixed-7200"), MONDAY_10_BERLIN + timedelta(hours=8)
    )
    assert decision.action is Action.RELEASE
    assert decision.reasons[-1] == (
        "idle 8.0 h since 2026-03-02 09:00:00 UTC: the 2.0 h of warm time have run out"
    )
    kept = decide_keep_alive(
        pool(), policy(keep_alive_strategy="fixed-7200"), MONDAY_10_BERLIN + timedelta(hours=1)
    )
    assert not any("run out" in reason for reason in kept.reasons)


def test_scopes_resolve_most_specific_first() -> None:
    doc = parse_policy(
        {
            "version": 1,
            "defaults": {"keep_alive_strategy": "fixed-600"},
            "teams": {"vision": {"keep_alive_strategy": "fixed-1200"}},
            "selectors": [
                {
                    "name": "gpu",
                    "match": {"instance_types": ["ml.g5.*"]},
                    "rules": {"keep_alive_strategy": "fixed-1800"},
                }
            ],
            "owners": {"alice": {"keep_alive_strategy": "fixed-2400"}},
        }
    )
    now = MONDAY_10_BERLIN
    assert decide_keep_alive(pool(), doc, now).rule == "owners.alice.keep_alive_strategy"
    assert decide_keep_alive(pool(owner="bob"), doc, now).rule == "selectors[0:gpu].keep_alive_strategy"
    assert decide_keep_alive(pool(owner="bob", instance_type="ml.m5.xlarge"), doc, now).rule == (
        "teams.vision.keep_alive_strategy"
    )
    assert decide_keep_alive(pool(owner="bob", team="nlp", instance_type="ml.m5.xlarge"), doc, now).rule == (
        "defaults.keep_alive_strategy"
    )


def test_missing_team_falls_back_and_tells_the_admins() -> None:
    decision = decide_keep_alive(pool(team=None), policy(), MONDAY_10_BERLIN)
    assert NotificationKind.MISSING_TAGS in decision.notify
    assert any("treated as team platform" in r for r in decision.reasons)


def test_missing_owner_tells_the_team_s_admins() -> None:
    decision = decide_keep_alive(pool(owner=None), policy(), MONDAY_10_BERLIN)
    assert decision.notify == (NotificationKind.MISSING_TAGS,)
    assert "no `owner` tag: team vision's admins are told instead" in decision.reasons
    assert decide_keep_alive(pool(), policy(), MONDAY_10_BERLIN).notify == ()


def test_a_pool_alone_over_a_limit_is_refused_for_its_own_size() -> None:
    doc = parse_policy(
        {
            "version": 1,
            "defaults": {"keep_alive_strategy": "fixed-3600"},
            "teams": {"vision": {"max_warm_instances": 2}},
            "instance_type_limits": {"ml.p4d.24xlarge": 2},
        }
    )
    team = decide_keep_alive(pool(count=4), doc, MONDAY_10_BERLIN)
    assert (team.action, team.rule) == (Action.RELEASE, "teams.vision.max_warm_instances")
    assert (
        team.reasons[-1]
        == "team vision: this pool's 4 instances plus the 0 already warm exceed the limit of 2"
    )
    kind = decide_keep_alive(pool(count=4, instance_type="ml.p4d.24xlarge"), doc, MONDAY_10_BERLIN)
    assert (kind.action, kind.rule) == (Action.RELEASE, "instance_type_limits.ml.p4d.24xlarge")
    assert kind.reasons[-1] == (
        "ml.p4d.24xlarge: this pool's 4 instances plus the 0 already warm exceed the limit of 2"
    )


HOURS = {"timezone": "Europe/Berlin", "start": "08:00", "end": "18:00", "outside": "release"}


def test_outside_working_hours_never_extends() -> None:
    evening = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)  # 20:00 Berlin
    decision = decide_keep_alive(
        pool(since=evening), policy(keep_alive_strategy="fixed-7200", working_hours=HOURS), evening
    )
    assert (decision.action, decision.rule) == (Action.RELEASE, "defaults.working_hours")
    shorten = {**HOURS, "outside": "shorten", "shorten_to_minutes": 5}
    decision = decide_keep_alive(
        pool(since=evening, keep_alive=1800),
        policy(keep_alive_strategy="fixed-7200", working_hours=shorten),
        evening,
    )
    assert (decision.action, decision.keep_alive_seconds) == (Action.SHORTEN, 300)


def test_horizon_is_cut_at_the_end_of_the_working_day() -> None:
    late = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 17:00 Berlin: one hour left
    decision = decide_keep_alive(
        pool(since=late), policy(keep_alive_strategy="fixed-10800", working_hours=HOURS), late
    )
    assert decision.horizon_seconds == 3600
    assert decision.rule == "defaults.working_hours"


def test_an_accepted_request_outlives_the_working_day_until_it_reverts() -> None:
    # at 17:30 Berlin a person was granted "warm until 19:00"; the working day ends at 18:00
    since = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    until = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)  # 19:00 Berlin
    kept = replace(pool(since=since, keep_alive=3600), override_until=until)
    doc = policy(keep_alive_strategy="fixed-10800", working_hours=HOURS)
    inside = decide_keep_alive(kept, doc, datetime(2026, 3, 2, 16, 55, tzinfo=UTC))  # 17:55 Berlin
    assert inside.horizon_seconds == 7200  # to the request's end, not to 18:00
    outside = decide_keep_alive(kept, doc, datetime(2026, 3, 2, 17, 25, tzinfo=UTC))  # 18:25 Berlin
    assert outside.action is not Action.RELEASE
    assert outside.horizon_seconds == 7200  # never past the request: the strategy's 3 h are cut
    assert any("kept until the accepted request ends" in r for r in outside.reasons)
    after = decide_keep_alive(kept, doc, datetime(2026, 3, 2, 18, 5, tzinfo=UTC))  # 19:05 Berlin
    assert (after.action, after.rule) == (Action.RELEASE, "defaults.working_hours")


def test_a_request_allowed_outside_working_hours_gets_what_it_asked_not_the_strategy_s_horizon() -> None:
    doc = parse_policy(
        {
            "version": 1,
            "defaults": {"keep_alive_strategy": "fixed-10800", "working_hours": HOURS},
            "owners": {"alice": {"overrides": {"allow_outside_working_hours": True}}},
            "notifications": {"slack_users": {"alice": "U0ALICE"}},
        }
    )
    since = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 17:00 Berlin; the working day ends at 18:00

    def ask(keep_alive: int, now: datetime, minutes: int) -> Decision:
        return decide_keep_alive(
            pool(since=since, keep_alive=keep_alive),
            doc,
            now,
            trigger=Trigger.USER,
            request=UserRequest("extend", "alice", minutes, "slack", "U0ALICE"),
        )

    # at 17:55 Berlin, 10 more minutes than 18:00: warm until 18:10, not for the strategy's 3 h
    late = ask(3600, datetime(2026, 3, 2, 16, 55, tzinfo=UTC), 10)
    assert late.horizon_seconds == 70 * 60
    assert "kept until the accepted request ends at 2026-03-02 17:10:00 UTC" in late.reasons[-1]
    # granted, though the working day's rule, not the request, set the horizon: the strategy's 3 h
    # covered the asked time before the end of the day cut them back to it
    assert late.rule == "defaults.working_hours"
    assert late.promised_until == datetime(2026, 3, 2, 17, 10, tzinfo=UTC)
    assert late.grants("extend")
    # a request that ends before the working day does: the strategy still keeps it until 18:00
    early = ask(600, since, 10)
    assert early.horizon_seconds == 3600
    # at 18:30 Berlin, outside working hours: until the request ends, no longer
    outside = ask(5400, datetime(2026, 3, 2, 17, 30, tzinfo=UTC), 10)
    assert outside.horizon_seconds == 100 * 60
    assert outside.action is Action.EXTEND


# bob may keep pools warm outside working hours and ask for up to 4 h at once; alice may not, and may
# ask for the built-in 120 min
PERMISSIONS = parse_policy(
    {
        "version": 1,
        "defaults": {"keep_alive_strategy": "fixed-600", "working_hours": HOURS},
        "owners": {"bob": {"overrides": {"allow_outside_working_hours": True, "max_extend_minutes": 240}}},
        "notifications": {"slack_users": {"alice": "U0ALICE", "bob": "U0BOB"}},
    }
)
TUESDAY_20_BERLIN = datetime(2026, 3, 3, 19, 0, tzinfo=UTC)
BOB_FROM_SLACK = UserRequest("extend", "bob", 60, "slack", "U0BOB")
ALICE_FROM_SLACK = UserRequest("extend", "alice", 60, "slack", "U0ALICE")


def extend_at(now: datetime, owner: str, request: UserRequest, doc: Any = PERMISSIONS) -> Decision:
    since = now - timedelta(minutes=5)
    return decide_keep_alive(
        pool(since=since, keep_alive=600, owner=owner), doc, now, trigger=Trigger.USER, request=request
    )


@pytest.mark.parametrize(
    ("owner", "request_", "verdict", "whose"),
    [
        (
            "alice",
            BOB_FROM_SLACK,
            "done",
            "bob may extend outside working hours (owners.bob.overrides.allow_outside_working_hours)",
        ),
        (
            "alice",
            UserRequest("extend", "bob", 60, "cli"),
            "done",
            "bob may extend outside working hours (owners.bob.overrides.allow_outside_working_hours)",
        ),
        (
            "bob",
            ALICE_FROM_SLACK,
            "refused",
            "alice may not extend outside working hours (builtin.overrides.allow_outside_working_hours)",
        ),
        (
            "bob",
            UserRequest("extend", "admin", 60, "slack", "U0ADMIN"),
            "refused",
            "admin may not extend outside working hours (builtin.overrides.allow_outside_working_hours); "
            "no owner's overrides are theirs: Slack user U0ADMIN is mapped to no owner in "
            "notifications.slack_users",
        ),
        (
            "bob",
            UserRequest("extend", "bob", 60, "slack"),  # no Slack id: the user name is not trusted
            "refused",
            "bob may not extend outside working hours (builtin.overrides.allow_outside_working_hours); "
            "no owner's overrides are theirs: no Slack user id to look up in notifications.slack_users",
        ),
    ],
    ids=["bob-on-alices-pool", "bob-from-the-cli", "alice-on-bobs-pool", "unmapped-admin", "no-slack-id"],
)
def test_outside_working_hours_the_permission_is_the_requesters_not_the_pool_owners(
    owner: str, request_: UserRequest, verdict: str, whose: str
) -> None:
    decision = extend_at(TUESDAY_20_BERLIN, owner, request_)
    assert decision.verdict("extend") == verdict
    assert whose in decision.reasons
    if verdict == "done":  # an hour more than the pool was going to stay warm, and no longer
        assert decision.promised_until == TUESDAY_20_BERLIN + timedelta(minutes=65)
        assert decision.action is Action.EXTEND
    else:  # outside: release, as if nobody had asked
        assert (decision.action, decision.rule) == (Action.RELEASE, "defaults.working_hours")


def test_a_team_s_permission_holds_for_an_admin_the_policy_names_by_slack_id_alone() -> None:
    # vision's requests may go past the working hours; its admin is listed by Slack id, mapped to no
    # owner: no owner's overrides are theirs, the team's are, as for anyone pressing on its pools
    team_allows = parse_policy(
        {
            "version": 1,
            "defaults": {"keep_alive_strategy": "fixed-600", "working_hours": HOURS},
            "teams": {"vision": {"overrides": {"allow_outside_working_hours": True}}},
            "notifications": {"slack_users": {"alice": "U0ALICE"}, "platform_admins": ["U0ADMIN"]},
        }
    )
    admin = UserRequest("extend", "admin", 60, "slack", "U0ADMIN")
    decision = extend_at(TUESDAY_20_BERLIN, "alice", admin, team_allows)
    assert decision.verdict("extend") == "done"
    assert decision.promised_until == TUESDAY_20_BERLIN + timedelta(minutes=65)
    assert (
        "admin may extend outside working hours (teams.vision.overrides.allow_outside_working_hours); "
        "no owner's overrides are theirs: Slack user U0ADMIN is mapped to no owner in "
        "notifications.slack_users" in decision.reasons
    )


def test_a_slack_id_mapped_to_several_owners_is_the_pool_owner_or_nobody() -> None:
    shared = PERMISSIONS.model_copy(
        update={
            "notifications": PERMISSIONS.notifications.model_copy(
                update={"slack_users": {"bob": "U0BOB", "robert": "U0BOB"}}
            )
        }
    )
    # pressing on bob's pool, U0BOB is bob; on alice's, the policy cannot say whether bob or robert
    assert extend_at(TUESDAY_20_BERLIN, "bob", BOB_FROM_SLACK, shared).verdict("extend") == "done"
    ambiguous = extend_at(TUESDAY_20_BERLIN, "alice", BOB_FROM_SLACK, shared)
    assert ambiguous.verdict("extend") == "refused"
    assert (
        "bob may not extend outside working hours (builtin.overrides.allow_outside_working_hours); "
        "no owner's overrides are theirs: Slack user U0BOB is mapped to several owners (bob, robert) in "
        "notifications.slack_users" in ambiguous.reasons
    )


def test_inside_working_hours_the_requester_s_permission_decides_past_the_end_of_the_day() -> None:
    at_1745 = datetime(2026, 3, 3, 16, 45, tzinfo=UTC)  # 17:45 Berlin: an hour more ends at 18:50
    granted = extend_at(at_1745, "alice", BOB_FROM_SLACK)
    assert granted.verdict("extend") == "done"
    assert granted.promised_until == at_1745 + timedelta(minutes=65)
    cut = extend_at(at_1745, "bob", ALICE_FROM_SLACK)
    assert cut.verdict("extend") == "partly done"  # until 18:00, not the 18:50 asked
    assert cut.promised_until == datetime(2026, 3, 3, 17, 0, tzinfo=UTC)
    assert "alice may not extend outside working hours (builtin.overrides.allow_outside_working_hours)" in (
        cut.reasons
    )
    # a request that ends before the working day does says nothing about it
    early = extend_at(datetime(2026, 3, 3, 9, 0, tzinfo=UTC), "bob", ALICE_FROM_SLACK)
    assert early.verdict("extend") == "done"
    assert not any("outside working hours" in reason for reason in early.reasons)


def test_max_extend_minutes_is_the_requesters_too() -> None:
    at_10 = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    bob = extend_at(at_10, "alice", replace(BOB_FROM_SLACK, minutes=180))
    assert bob.verdict("extend") == "done"  # bob may ask for 4 h, on anybody's pool
    alice = extend_at(at_10, "bob", replace(ALICE_FROM_SLACK, minutes=180))
    assert alice.verdict("extend") == "refused"  # on bob's pool too, alice may ask for 2 h at most
    assert alice.rule == "builtin.overrides.max_extend_minutes"
    assert (
        "alice asked for 180 min; the policy allows at most 120 min per request "
        "(builtin.overrides.max_extend_minutes)" in alice.reasons
    )


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (datetime(2026, 3, 28, 17, 30, tzinfo=UTC), False),  # Saturday
        (datetime(2026, 3, 27, 16, 30, tzinfo=UTC), True),  # Friday 17:30 CET
        (datetime(2026, 3, 30, 16, 30, tzinfo=UTC), False),  # Monday 18:30 CEST: daylight saving began
        (datetime(2026, 3, 30, 15, 30, tzinfo=UTC), True),  # Monday 17:30 CEST
        (datetime(2026, 12, 25, 10, 0, tzinfo=UTC), False),  # a holiday
    ],
)
def test_working_hours_across_daylight_saving_and_holidays(when: datetime, inside: bool) -> None:
    hours = parse_policy(
        {"version": 1, "defaults": {"working_hours": {**HOURS, "holidays": [date(2026, 12, 25)]}}}
    )
    assert hours.defaults.working_hours is not None
    assert in_working_hours(hours.defaults.working_hours, when) is inside


def test_exempt_pools_are_left_alone_until_the_exemption_expires() -> None:
    tags = {"warmpool:exempt-until": "2026-04-01", "warmpool:exempt-reason": "benchmark"}
    decision = decide_keep_alive(pool(tags=tags), policy(keep_alive_strategy="none"), MONDAY_10_BERLIN)
    assert (decision.action, decision.rule) == (Action.KEEP, "tags.warmpool:exempt-until")
    later = datetime(2026, 4, 2, tzinfo=UTC)
    decision = decide_keep_alive(pool(tags=tags, since=later), policy(keep_alive_strategy="none"), later)
    assert decision.action is Action.RELEASE
    assert any("exemption expired" in r for r in decision.reasons)


def test_a_deployment_that_may_update_only_tagged_jobs_leaves_the_others_to_their_own_keep_alive() -> None:
    limits = EngineLimits(update_requires_tag="warmpool:managed")
    now = MONDAY_10_BERLIN + timedelta(seconds=60)
    wants_two_hours = policy(keep_alive_strategy="fixed-7200")
    untagged = decide_keep_alive(pool(), wants_two_hours, now, limits=limits)
    assert (untagged.action, untagged.keep_alive_seconds, untagged.next_check_at) == (Action.KEEP, None, None)
    assert untagged.rule == "engine.update_requires_tag"
    assert untagged.horizon_seconds == 600  # the job's own keep-alive
    assert "`warmpool:managed`" in untagged.reasons[0]
    tagged = decide_keep_alive(pool(tags={"warmpool:managed": "yes"}), wants_two_hours, now, limits=limits)
    assert (tagged.action, tagged.keep_alive_seconds) == (Action.EXTEND, 3600)
    everyone = decide_keep_alive(pool(), wants_two_hours, now)
    assert everyone.action is Action.EXTEND
    # under a dry run too, and its reasons say it was one, as every dry run's do
    dry = decide_keep_alive(pool(), wants_two_hours.model_copy(update={"dry_run": True}), now, limits=limits)
    assert (dry.action, dry.rule, dry.dry_run) == (Action.KEEP, "engine.update_requires_tag", True)
    assert dry.reasons == (*untagged.reasons, "dry run: nothing is changed")


def test_release_on_failure() -> None:
    decision = decide_keep_alive(pool(job_status="Failed"), policy(release_on_failure=True), MONDAY_10_BERLIN)
    assert (decision.action, decision.rule) == (Action.RELEASE, "defaults.release_on_failure")


def test_team_limit_refuses_or_releases_the_least_valuable() -> None:
    others = FleetView(
        available_pools=(
            FleetPool("old", "vision", "ml.g5.2xlarge", 2, MONDAY_10_BERLIN - timedelta(hours=2)),
            FleetPool("new", "vision", "ml.g5.2xlarge", 1, MONDAY_10_BERLIN - timedelta(minutes=5)),
        )
    )
    refuse = decide_keep_alive(pool(), policy(max_warm_instances=3), MONDAY_10_BERLIN, fleet=others)
    assert (refuse.action, refuse.rule) == (Action.RELEASE, "defaults.max_warm_instances")
    swap = decide_keep_alive(
        pool(),
        policy(max_warm_instances=3, on_limit="release-least-valuable"),
        MONDAY_10_BERLIN,
        fleet=others,
    )
    assert swap.action is not Action.RELEASE
    assert swap.release_pool_ids == ("old",)
    assert "releasing the longest-idle pool old instead" in swap.reasons[-1]


def test_a_pool_someone_keeps_warm_is_never_released_to_make_room() -> None:
    def fleet(old_protected: bool, mid_protected: bool) -> FleetView:
        return FleetView(
            available_pools=(
                FleetPool(
                    "old", "vision", "ml.g5.2xlarge", 1, MONDAY_10_BERLIN - timedelta(hours=3), old_protected
                ),
                FleetPool(
                    "mid", "vision", "ml.g5.2xlarge", 1, MONDAY_10_BERLIN - timedelta(hours=1), mid_protected
                ),
            )
        )

    doc = policy(max_warm_instances=2, on_limit="release-least-valuable")
    swap = decide_keep_alive(pool(), doc, MONDAY_10_BERLIN, fleet=fleet(True, False))
    assert swap.release_pool_ids == ("mid",)  # the longest-idle one is kept by a person
    refuse = decide_keep_alive(pool(), doc, MONDAY_10_BERLIN, fleet=fleet(True, True))
    assert (refuse.action, refuse.release_pool_ids) == (Action.RELEASE, ())
    assert any("a person or an exemption keeps warm" in r for r in refuse.reasons)


def test_budget_shortens_to_what_is_left() -> None:
    spent = FleetView(idle_cost_today_by_team={"vision": 9.0})
    # 1.515 $/h: the 1 $ left buys about 40 minutes of idling, less than the 10 booked by the job
    decision = decide_keep_alive(
        pool(),
        policy(keep_alive_strategy="fixed-14400", budget={"daily_usd": 10}),
        MONDAY_10_BERLIN,
        fleet=spent,
    )
    assert decision.rule == "defaults.budget.daily_usd"
    assert NotificationKind.BUDGET_WARNING in decision.notify
    assert decision.horizon_seconds == pytest.approx(3600 / 1.515, abs=2)


def test_what_other_pools_have_booked_is_not_left_in_the_budget() -> None:
    def decide(spent: float, booked: float) -> Decision:
        fleet = FleetView(
            idle_cost_today_by_team={"vision": spent}, idle_cost_booked_today_by_team={"vision": booked}
        )
        doc = policy(keep_alive_strategy="fixed-14400", budget={"daily_usd": 9})
        return decide_keep_alive(pool(), doc, MONDAY_10_BERLIN, fleet=fleet)

    # 9 $ budget, 5 $ spent, 3 $ booked by the team's other warm pools: 1 $ is left for this one
    decision = decide(spent=5.0, booked=3.0)
    assert decision.horizon_seconds == pytest.approx(3600 / 1.515, abs=2)
    assert "$1.00 left after $3.00 booked by its other warm pools" in " ".join(decision.reasons)
    # spent and booked beyond the budget: released at once
    assert decide(spent=7.0, booked=3.0).action is Action.RELEASE


def test_idle_time_after_midnight_is_left_to_the_next_day_s_budget() -> None:
    doc = policy(keep_alive_strategy="fixed-14400", budget={"daily_usd": 10})
    spent = FleetView(idle_cost_today_by_team={"vision": 9.0})  # 1 $ left: about 40 minutes of idling

    def decide(at: datetime) -> Decision:
        return decide_keep_alive(pool(since=at, keep_alive=0), doc, at, fleet=spent)

    # at 22:00 UTC the dollar runs out at 22:40: the pool is kept until then, no longer
    evening = decide(datetime(2026, 3, 2, 22, 0, tzinfo=UTC))
    assert evening.horizon_seconds == pytest.approx(3600 / 1.515, abs=2)
    assert evening.rule == "defaults.budget.daily_usd"
    # at 23:30 the dollar lasts until midnight; after it the day's budget is new: the full hour step
    late = decide(datetime(2026, 3, 2, 23, 30, tzinfo=UTC))
    assert late.rule != "defaults.budget.daily_usd"
    assert late.keep_alive_seconds == 3600
    # what other pools booked after midnight does not count against today either
    booked = FleetView(idle_cost_today_by_team={"vision": 9.0}, idle_cost_booked_by_team={"vision": 5.0})
    assert decide_keep_alive(pool(), doc, MONDAY_10_BERLIN, fleet=booked).horizon_seconds == pytest.approx(
        3600 / 1.515, abs=2
    )


def test_break_even_keeps_a_pool_whose_idle_time_is_free_as_long_as_the_limits_allow() -> None:
    doc = parse_policy(
        {
            "version": 1,
            "prices": {"ml.g5.2xlarge": 0},
            "defaults": {"keep_alive_strategy": "break-even", "max_horizon_minutes": 120},
        }
    )
    decision = decide_keep_alive(pool(), doc, MONDAY_10_BERLIN)
    assert (decision.action, decision.keep_alive_seconds) == (Action.EXTEND, 3600)
    assert (decision.horizon_seconds, decision.rule) == (7200, "defaults.max_horizon_minutes")


def test_min_step_never_holds_back_a_cap() -> None:
    now = MONDAY_10_BERLIN + timedelta(seconds=5)
    # the maximum horizon leaves 595 s, less than the 15-minute minimum step: shortened all the same
    capped = decide_keep_alive(
        pool(keep_alive=3600), policy(max_horizon_minutes=10, min_step_minutes=15), now
    )
    assert (capped.action, capped.keep_alive_seconds) == (Action.SHORTEN, 595)
    assert capped.rule == "defaults.max_horizon_minutes"
    # the working day ends 90 s from now: the 30-minute keep-alive is cut there
    late = datetime(2026, 3, 2, 18, 58, 30, tzinfo=UTC)  # 19:58:30 Berlin
    doc = policy(min_step_minutes=2, working_hours={**HOURS, "end": "20:00"})
    evening = decide_keep_alive(pool(since=late, keep_alive=1800), doc, late)
    assert (evening.action, evening.keep_alive_seconds) == (Action.SHORTEN, 90)
    assert evening.rule == "defaults.working_hours"
    # a budget with about 2 minutes left shortens a one-hour keep-alive to them
    budget = decide_keep_alive(
        pool(keep_alive=3600),
        policy(min_step_minutes=5, budget={"daily_usd": 1.0}),
        now,
        fleet=FleetView(idle_cost_today_by_team={"vision": 0.95}),
    )
    assert budget.action is Action.SHORTEN
    assert budget.keep_alive_seconds is not None
    assert budget.keep_alive_seconds < 300
    # a small extension is still spared
    small = decide_keep_alive(
        pool(keep_alive=60), policy(keep_alive_strategy="fixed-120", min_step_minutes=5), now
    )
    assert (small.action, small.keep_alive_seconds) == (Action.KEEP, None)
    assert any("below min_step_minutes" in r for r in small.reasons)


def test_min_step_never_spares_the_step_a_promise_needs() -> None:
    doc = policy(keep_alive_strategy="fixed-600", min_step_minutes=15, overrides={"max_extend_minutes": 60})
    now = MONDAY_10_BERLIN + timedelta(minutes=8)  # the 10-minute keep-alive has 2 minutes left
    # "5 min more": a 7-minute keep-alive, below the minimum step, set all the same
    asked = decide_keep_alive(
        pool(), doc, now, trigger=Trigger.USER, request=UserRequest("extend", "alice", 5, "slack")
    )
    assert (asked.action, asked.keep_alive_seconds) == (Action.EXTEND, 420)
    assert asked.promised_until == MONDAY_10_BERLIN + timedelta(minutes=15)
    # an earlier promise reached in the last step, at a later look: set as well
    promised = replace(pool(), override_until=MONDAY_10_BERLIN + timedelta(minutes=14))
    later = decide_keep_alive(promised, doc, now, trigger=Trigger.STEP_DUE)
    assert (later.action, later.keep_alive_seconds) == (Action.EXTEND, 360)
    # a promise the pool's keep-alive already covers spares the small extension the plan wants
    covered = replace(pool(keep_alive=660), override_until=MONDAY_10_BERLIN + timedelta(minutes=10))
    plan = policy(keep_alive_strategy="fixed-900", min_step_minutes=15)
    spared = decide_keep_alive(covered, plan, now, trigger=Trigger.STEP_DUE)
    assert (spared.action, spared.keep_alive_seconds) == (Action.KEEP, None)
    assert any("below min_step_minutes" in r for r in spared.reasons)


def test_a_shorter_request_never_takes_back_a_longer_promise() -> None:
    doc = policy(overrides={"max_extend_minutes": 60})
    promised = MONDAY_10_BERLIN + timedelta(hours=2)  # two earlier presses of "Extend 60 min"
    now = MONDAY_10_BERLIN + timedelta(minutes=5)
    thirty_more = decide_keep_alive(
        replace(pool(), override_until=promised),
        doc,
        now,
        trigger=Trigger.USER,
        request=UserRequest("extend", "alice", 30, "slack"),
    )
    assert thirty_more.rule == "request.slack"
    assert thirty_more.horizon_seconds == 2.5 * 3600  # the promise, then 30 minutes more
    assert "kept warm until 2026-03-02 11:30:00 UTC on request" in thirty_more.reasons


def test_requests_are_bounded_and_release_is_honoured() -> None:
    doc = policy(overrides={"max_extend_minutes": 60})
    ok = decide_keep_alive(
        pool(),
        doc,
        MONDAY_10_BERLIN,
        trigger=Trigger.USER,
        request=UserRequest("extend", "alice", 60, "slack"),
    )
    assert (ok.action, ok.rule) == (Action.EXTEND, "request.slack")
    too_much = decide_keep_alive(
        pool(),
        doc,
        MONDAY_10_BERLIN,
        trigger=Trigger.USER,
        request=UserRequest("extend", "alice", 90, "slack"),
    )
    assert too_much.action is Action.KEEP
    assert "max_extend_minutes" in too_much.rule
    gone = decide_keep_alive(pool(), doc, MONDAY_10_BERLIN, request=UserRequest("release", "alice", 0, "cli"))
    assert gone.action is Action.RELEASE


def test_a_request_above_max_extend_minutes_changes_nothing_the_policy_decides() -> None:
    # at 20:00 Berlin, outside working hours: the policy releases the pool; "180 min more" is more
    # than the 120 a request may ask, so it is refused, and the pool is released all the same
    evening = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)
    doc = policy(keep_alive_strategy="fixed-7200", working_hours=HOURS, overrides={"max_extend_minutes": 120})
    too_much = decide_keep_alive(
        pool(since=evening - timedelta(minutes=5), keep_alive=1800),
        doc,
        evening,
        trigger=Trigger.USER,
        request=UserRequest("extend", "alice", 180, "slack"),
    )
    assert too_much.verdict("extend") == "refused"
    assert (too_much.action, too_much.rule) == (Action.RELEASE, "defaults.working_hours")
    assert (
        "alice asked for 180 min; the policy allows at most 120 min per request "
        "(defaults.overrides.max_extend_minutes)" in too_much.reasons
    )
    # a person's earlier promise still holds: the refused request does not take it back
    promised = MONDAY_10_BERLIN + timedelta(minutes=50)
    kept = decide_keep_alive(
        replace(pool(keep_alive=1800), override_until=promised),
        policy(keep_alive_strategy="none", overrides={"max_extend_minutes": 120}),
        MONDAY_10_BERLIN + timedelta(minutes=20),
        trigger=Trigger.USER,
        request=UserRequest("extend", "alice", 180, "slack"),
    )
    assert kept.verdict("extend") == "refused"
    assert (kept.action, kept.horizon_seconds) == (Action.EXTEND, 50 * 60)


def test_a_budget_other_pools_spent_since_never_takes_back_a_promise() -> None:
    # alice was told "kept warm until 10:50"; since then the team's other pools have used the day's
    # budget up to 10 cents (about four minutes of this pool): it stays warm until 10:50 all the same,
    # and no longer
    promised = MONDAY_10_BERLIN + timedelta(minutes=50)
    now = MONDAY_10_BERLIN + timedelta(minutes=25)
    kept = replace(pool(keep_alive=30 * 60), override_until=promised)
    doc = policy(keep_alive_strategy="fixed-7200", budget={"daily_usd": 10})
    decision = decide_keep_alive(
        kept, doc, now, trigger=Trigger.STEP_DUE, fleet=FleetView(idle_cost_today_by_team={"vision": 9.9})
    )
    assert (decision.action, decision.keep_alive_seconds) == (Action.EXTEND, 25 * 60)
    assert decision.horizon_seconds == 50 * 60
    assert decision.rule == "defaults.budget.daily_usd"
    # with no promise, the budget shortens it to what is left
    alone = decide_keep_alive(
        pool(keep_alive=30 * 60),
        doc,
        now,
        trigger=Trigger.STEP_DUE,
        fleet=FleetView(idle_cost_today_by_team={"vision": 9.9}),
    )
    assert alone.action is Action.SHORTEN


@pytest.mark.parametrize(
    "limits",
    [
        {"defaults": {"keep_alive_strategy": "fixed-7200", "max_warm_instances": 2}},
        {"defaults": {"keep_alive_strategy": "fixed-7200"}, "instance_type_limits": {"ml.g5.2xlarge": 2}},
    ],
)
def test_a_limit_never_releases_a_pool_a_person_was_promised(limits: dict[str, Any]) -> None:
    # two other warm instances of the team (and type) since alice was told "kept warm until 10:50":
    # the limit does not release her pool, but keeps it no longer than promised
    promised = MONDAY_10_BERLIN + timedelta(minutes=50)
    now = MONDAY_10_BERLIN + timedelta(minutes=25)
    others = FleetView(
        available_pools=(
            FleetPool("b", "vision", "ml.g5.2xlarge", 1, now),
            FleetPool("c", "vision", "ml.g5.2xlarge", 1, now),
        )
    )
    kept = replace(pool(keep_alive=30 * 60), override_until=promised)
    decision = decide_keep_alive(kept, parse_policy({"version": 1, **limits}), now, fleet=others)
    assert decision.action is not Action.RELEASE
    assert decision.horizon_seconds == 50 * 60
    assert "kept until 2026-03-02 09:50:00 UTC as promised" in decision.reasons[-1]
    # nobody was promised anything: released
    gone = decide_keep_alive(
        pool(keep_alive=30 * 60), parse_policy({"version": 1, **limits}), now, fleet=others
    )
    assert gone.action is Action.RELEASE


def test_an_extension_the_plan_already_covers_is_granted_and_promised() -> None:
    # a three-hour plan, its first hourly step set: 30 minutes more than the expiry is within it
    doc = policy(keep_alive_strategy="fixed-10800", overrides={"max_extend_minutes": 60})
    now = MONDAY_10_BERLIN + timedelta(minutes=5)
    asked = MONDAY_10_BERLIN + timedelta(minutes=90)
    covered = decide_keep_alive(
        pool(keep_alive=3600),
        doc,
        now,
        trigger=Trigger.USER,
        request=UserRequest("extend", "alice", 30, "slack"),
    )
    assert covered.grants("extend")
    assert covered.promised_until == asked
    assert covered.horizon_seconds == 3 * 3600  # the plan, not shortened to the request
    assert covered.rule == "defaults.keep_alive_strategy"
    assert covered.reasons[-1] == (
        "the plan already keeps it warm until 2026-03-02 12:00:00 UTC: "
        "kept warm at least until 2026-03-02 10:30:00 UTC on request"
    )
    # a request that sets the horizon is promised what it asked, as before
    raised = decide_keep_alive(
        pool(keep_alive=3600),
        policy(keep_alive_strategy="fixed-1800", overrides={"max_extend_minutes": 60}),
        now,
        trigger=Trigger.USER,
        request=UserRequest("extend", "alice", 30, "slack"),
    )
    assert (raised.rule, raised.promised_until) == ("request.slack", asked)
    assert not any(r.startswith("the plan already keeps it warm") for r in raised.reasons)
    # nobody asked: nothing is promised
    assert decide_keep_alive(pool(keep_alive=3600), doc, now).promised_until is None


def test_a_limit_below_the_asked_time_still_refuses_a_request_the_plan_covered() -> None:
    # the plan's three hours are capped at 80 minutes; 30 minutes more than the expiry is 90
    doc = policy(
        keep_alive_strategy="fixed-10800", max_horizon_minutes=80, overrides={"max_extend_minutes": 60}
    )
    capped = decide_keep_alive(
        pool(keep_alive=3600),
        doc,
        MONDAY_10_BERLIN + timedelta(minutes=5),
        trigger=Trigger.USER,
        request=UserRequest("extend", "alice", 30, "slack"),
    )
    assert not capped.grants("extend")
    assert capped.promised_until is None
    assert (capped.rule, capped.horizon_seconds) == ("defaults.max_horizon_minutes", 80 * 60)
    assert "capped at the maximum horizon 80 min" in capped.reasons


@pytest.mark.parametrize(
    ("max_horizon", "action", "outcome"),
    [
        (60, Action.KEEP, None),
        (
            30,
            Action.SHORTEN,
            "without the request, the policy keeps it warm only until 2026-03-02 09:30:00 UTC",
        ),
        (5, Action.RELEASE, "without the request, the policy releases it now"),
    ],
)
def test_a_refused_extension_says_what_was_asked_and_what_the_policy_does_instead(
    max_horizon: int, action: Action, outcome: str | None
) -> None:
    # planned an hour, the pool's maximum horizon is now lower: "30 min more" is refused, and the pool
    # decided as if nobody had asked. The reasons said "kept warm until 10:30 on request", and nothing
    # of a release or a shorter keep-alive.
    doc = policy(
        keep_alive_strategy="fixed-3600",
        max_horizon_minutes=max_horizon,
        overrides={"max_extend_minutes": 60},
    )
    decision = decide_keep_alive(
        pool(keep_alive=3600),
        doc,
        MONDAY_10_BERLIN + timedelta(minutes=10),
        trigger=Trigger.USER,
        request=UserRequest("extend", "alice", 30, "slack"),
    )
    assert (decision.verdict("extend"), decision.action) == ("refused", action)
    assert "asked to keep it warm until 2026-03-02 10:30:00 UTC" in decision.reasons
    assert not any(r.startswith("kept warm until") for r in decision.reasons)
    assert [r for r in decision.reasons if r.startswith("without the request")] == (
        [outcome] if outcome else []
    )


def test_a_request_the_pool_s_lifetime_cuts_is_promised_as_long_as_the_pool_lives() -> None:
    doc = policy(keep_alive_strategy="fixed-1800", overrides={"max_extend_minutes": 60})
    since = MONDAY_10_BERLIN
    # provisioned 28 days less 75 minutes before it became Available: it lives 75 minutes more
    ending = replace(pool(keep_alive=3600), lifetime_started_at=since - timedelta(days=28, minutes=-75))
    decision = decide_keep_alive(
        ending, doc, since, trigger=Trigger.USER, request=UserRequest("extend", "alice", 30, "cli")
    )
    assert decision.rule == "request.cli"
    assert "capped by the pool's maximum lifetime" in decision.reasons
    assert decision.promised_until == since + timedelta(minutes=75)
    assert decision.grants("extend")
    # and the answer says until when, not the asked time the pool does not live to see
    kept = [r for r in decision.reasons if r.startswith("kept warm until")]
    assert kept == [
        f"kept warm until {moment_text(since + timedelta(minutes=75))} on request, when the pool's maximum "
        f"lifetime ends ({moment_text(since + timedelta(minutes=90))} asked)"
    ]


def test_a_request_the_plan_already_keeps_to_the_pool_s_lifetime_end_is_refused_as_at_a_limit() -> None:
    # under a three-hour plan the pool stays warm until its lifetime ends whoever asks: the request adds
    # nothing, and is refused as one at the policy's max_horizon_minutes is, not answered "done"
    doc = policy(keep_alive_strategy="fixed-10800", overrides={"max_extend_minutes": 60})
    since = MONDAY_10_BERLIN
    ending = replace(pool(keep_alive=3600), lifetime_started_at=since - timedelta(days=28, minutes=-75))
    decision = decide_keep_alive(
        ending, doc, since, trigger=Trigger.USER, request=UserRequest("extend", "alice", 30, "cli")
    )
    assert decision.rule == "defaults.keep_alive_strategy"
    assert decision.verdict("extend") == "refused"
    assert (decision.promised_until, decision.asked_until) == (None, None)
    assert decision.horizon_seconds == 75 * 60  # kept to its end all the same
    assert (
        f"it already stays warm until its maximum lifetime ends at "
        f"{moment_text(since + timedelta(minutes=75))}: no warm time is left to grant"
    ) in decision.reasons


def test_a_request_an_earlier_request_kept_to_the_pool_s_lifetime_end_is_refused_by_the_lifetime() -> None:
    # alice's 60 minutes kept the pool to its lifetime's end (75 minutes after it went idle); bob's 30
    # more add nothing. Refused, its rule read `request.cli`, the rule of a request granted
    doc = policy(keep_alive_strategy="fixed-1800", overrides={"max_extend_minutes": 60})
    since = MONDAY_10_BERLIN
    ending = replace(pool(keep_alive=1800), lifetime_started_at=since - timedelta(days=28, minutes=-75))
    now = since + timedelta(minutes=10)
    first = decide_keep_alive(
        ending, doc, now, trigger=Trigger.USER, request=UserRequest("extend", "alice", 60, "cli")
    )
    assert (first.rule, first.verdict("extend")) == ("request.cli", "done")
    assert first.promised_until == since + timedelta(minutes=75)
    kept = replace(
        ending,
        override_until=first.promised_until,
        expires_at=now + timedelta(seconds=first.keep_alive_seconds or 0),
    )
    second = decide_keep_alive(
        kept,
        doc,
        now + timedelta(minutes=5),
        trigger=Trigger.USER,
        request=UserRequest("extend", "bob", 30, "cli"),
    )
    assert (second.rule, second.verdict("extend")) == ("engine.max_lifetime", "refused")
    assert second.reasons[-1] == (
        f"it already stays warm until its maximum lifetime ends at "
        f"{moment_text(since + timedelta(minutes=75))}: no warm time is left to grant"
    )


@pytest.mark.parametrize("late", [0, 3], ids=["at-its-end", "after-it"])
def test_a_request_on_a_pool_at_the_end_of_its_lifetime_names_the_lifetime_as_its_rule(late: int) -> None:
    doc = policy(keep_alive_strategy="fixed-1800", overrides={"max_extend_minutes": 60})
    since = MONDAY_10_BERLIN
    ending = replace(pool(keep_alive=3600), lifetime_started_at=since - timedelta(days=28))
    decision = decide_keep_alive(
        ending,
        doc,
        since + timedelta(minutes=late),
        trigger=Trigger.USER,
        request=UserRequest("extend", "alice", 30, "cli"),
    )
    assert (decision.action, decision.verdict("extend")) == (Action.RELEASE, "refused")
    assert decision.rule == "engine.max_lifetime"


@pytest.mark.parametrize("budget", [{}, {"budget": {"monthly_usd": 0.0}}], ids=["no-budget", "spent-budget"])
@pytest.mark.parametrize("late", [0, 3], ids=["at-its-end", "after-it"])
def test_a_request_on_a_pool_at_the_end_of_its_lifetime_is_refused_not_done(
    budget: dict[str, Any], late: int
) -> None:
    # the pool's 28 days end as it becomes Available: it is released whatever anyone asks, and alice
    # must not be told "done" (or "partly done") with a promise of a time that has already come
    doc = policy(keep_alive_strategy="fixed-1800", overrides={"max_extend_minutes": 60}, **budget)
    since = MONDAY_10_BERLIN
    ending = replace(pool(keep_alive=3600), lifetime_started_at=since - timedelta(days=28))
    now = since + timedelta(minutes=late)
    decision = decide_keep_alive(
        ending, doc, now, trigger=Trigger.USER, request=UserRequest("extend", "alice", 30, "cli")
    )
    assert decision.action is Action.RELEASE
    assert decision.verdict("extend") == "refused"
    assert (decision.promised_until, decision.asked_until) == (None, None)
    if not budget:  # with the budget spent, the budget releases it first, and says so
        assert "the pool has reached its maximum lifetime: no warm time is left to grant" in decision.reasons


def test_a_request_a_limit_cuts_to_seconds_from_now_is_refused_not_partly_done() -> None:
    # idle for 58 s under "none" (released at once had nobody asked); "1 min more" is cut by the
    # 1-minute maximum horizon 2 s from now: 2 s past a release now is no grant, within the noise
    doc = policy(keep_alive_strategy="none", max_horizon_minutes=1, overrides={"max_extend_minutes": 60})
    since = MONDAY_10_BERLIN
    now = since + timedelta(seconds=58)
    decision = decide_keep_alive(
        pool(since=since, keep_alive=58),
        doc,
        now,
        trigger=Trigger.USER,
        request=UserRequest("extend", "alice", 1, "cli"),
    )
    assert decision.verdict("extend") == "refused"
    assert (decision.promised_until, decision.asked_until) == (None, None)
    assert "capped at the maximum horizon 1 min" in decision.reasons


def test_a_limit_the_pool_s_lifetime_comes_before_does_not_cut_a_request_short() -> None:
    # the pool lives 75 minutes more; "60 min more" asks for two hours. The maximum horizon (100
    # minutes) is below the asked time, but beyond the pool's lifetime: only the lifetime cuts the
    # request, which is granted as long as the pool lives, as it is without that maximum horizon
    doc = policy(
        keep_alive_strategy="fixed-1800", max_horizon_minutes=100, overrides={"max_extend_minutes": 60}
    )
    since = MONDAY_10_BERLIN
    ending = replace(pool(keep_alive=3600), lifetime_started_at=since - timedelta(days=28, minutes=-75))
    decision = decide_keep_alive(
        ending, doc, since, trigger=Trigger.USER, request=UserRequest("extend", "alice", 60, "cli")
    )
    assert decision.verdict("extend") == "done"
    assert (decision.promised_until, decision.asked_until) == (since + timedelta(minutes=75), None)
    assert "capped by the pool's maximum lifetime" in decision.reasons
    assert not any("of the 2026-03-02 11:00:00 UTC asked" in r for r in decision.reasons)


def test_dry_run_and_the_reductions_cap() -> None:
    dry = parse_policy({"version": 1, "dry_run": True, "defaults": {"keep_alive_strategy": "none"}})
    decision = decide_keep_alive(pool(), dry, MONDAY_10_BERLIN)
    assert decision.dry_run
    capped = parse_policy(
        {"version": 1, "max_reductions_per_run": 2, "defaults": {"keep_alive_strategy": "none"}}
    )
    decision = decide_keep_alive(pool(), capped, MONDAY_10_BERLIN, fleet=FleetView(reductions_this_run=2))
    assert (decision.action, decision.rule) == (Action.NOTIFY, "max_reductions_per_run")
    assert decision.reasons[-1].startswith("2 pools were already shortened or released in this run")
    # the reason said `1 pools were already shortened` under a cap of one
    one = parse_policy(
        {"version": 1, "max_reductions_per_run": 1, "defaults": {"keep_alive_strategy": "none"}}
    )
    decision = decide_keep_alive(pool(), one, MONDAY_10_BERLIN, fleet=FleetView(reductions_this_run=1))
    assert decision.reasons[-1] == (
        "1 pool was already shortened or released in this run (max_reductions_per_run): kept as it is, "
        "looked at again in 5 minutes"
    )


def test_validation_errors_name_the_path_and_the_fix() -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(
            {
                "version": 1,
                "defaults": {"max_step_minutes": 90, "keep_alive_strategy": "forever"},
                "teams": {"x": {"working_hours": {"timezone": "Mars/Olympus"}}},
                "notifications": {"teams": {"x": {"slack_webhook_key": "https://hooks.slack.com/x"}}},
            }
        )
    text = "\n".join(err.value.problems)
    assert "defaults.max_step_minutes: Input should be less than or equal to 60. Lower it." in text
    assert "defaults.keep_alive_strategy" in text
    assert "fixed-<seconds>" in text
    assert "teams.x.working_hours.timezone" in text
    assert "never the URL" in text
    with pytest.raises(PolicyError, match="version"):
        parse_policy({"version": 2})


def test_published_schema_is_current() -> None:
    published = (ROOT / "schemas" / "policy.schema.json").read_text()
    assert published == render(), (
        "schemas/policy.schema.json is stale: run `python -m warmpool.domain.policy.schema > "
        "schemas/policy.schema.json`"
    )


def test_example_policies_are_valid() -> None:
    for path in [*(ROOT / "policies").glob("*.yaml")]:
        assert load_policy_file(path).advice() == []  # and none is warned of: an example shows what to write


# ------------------------------------------------------------------ properties
LIMITS = EngineLimits()
random_rules = st.fixed_dictionaries(
    {},
    optional={
        "keep_alive_strategy": st.sampled_from(
            ["job", "none", "break-even", "adaptive", "fixed-600", "fixed-20000"]
        ),
        "max_horizon_minutes": st.integers(0, 600),
        "max_step_minutes": st.integers(5, 60),
        "working_hours": st.just(HOURS),
        "budget": st.fixed_dictionaries({"daily_usd": st.floats(0, 50)}),
        "people_cost_per_hour": st.floats(0, 500),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rules=random_rules,
    idle=st.integers(0, 6 * 3600),
    keep_alive=st.integers(0, 3600),
    spent=st.floats(0, 60),
    hour=st.integers(0, 23 * 3600),
    exempt=st.booleans(),
)
def test_no_decision_breaks_a_limit(
    rules: dict[str, Any], idle: int, keep_alive: int, spent: float, hour: int, exempt: bool
) -> None:
    since = datetime(2026, 3, 2, tzinfo=UTC) + timedelta(seconds=hour)
    now = since + timedelta(seconds=idle)
    tags = {"warmpool:exempt-until": "2027-01-01"} if exempt else {}
    subject = pool(since=since, keep_alive=keep_alive + idle, tags=tags)
    doc = policy(**rules)
    decision = decide_keep_alive(
        subject, doc, now, limits=LIMITS, fleet=FleetView(idle_cost_today_by_team={"vision": spent})
    )
    current_expiry = subject.expires_at
    assert current_expiry is not None
    if decision.keep_alive_seconds is not None:
        assert 0 <= decision.keep_alive_seconds <= min(3600, rules.get("max_step_minutes", 60) * 60)
        new_expiry = now + timedelta(seconds=decision.keep_alive_seconds)
        if "max_horizon_minutes" in rules and decision.action is Action.EXTEND:
            assert (new_expiry - since).total_seconds() <= rules["max_horizon_minutes"] * 60 + 1
        if "working_hours" in rules and not in_working_hours(doc.defaults.working_hours, now):
            assert new_expiry <= current_expiry  # never extended outside working hours
        if "budget" in rules and decision.action is Action.EXTEND:
            # never books more idle time today than the budget has left (after midnight is tomorrow's)
            left = max(0.0, rules["budget"]["daily_usd"] - spent)
            midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
            today = min(new_expiry, midnight) - now
            assert today.total_seconds() * 1.515 / 3600 <= left + 1.515 / 3600
    if exempt:
        assert decision.action is Action.KEEP
        assert decision.keep_alive_seconds is None


def test_every_yaml_example_in_the_docs_is_valid() -> None:
    import re

    import yaml

    text = (ROOT / "docs" / "policy.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) >= 3
    for block in blocks:  # and none is warned of: an example shows what to write
        assert parse_policy(yaml.safe_load(block), "docs/policy.md").advice() == []


def test_a_deployment_with_job_name_prefixes_leaves_other_jobs_to_their_own_keep_alive() -> None:
    """`policy explain`, a Slack press, a step: whoever asks, another deployment's job is not decided."""
    limits = EngineLimits(job_name_prefixes=("team-a-", "nightly-"))
    now = MONDAY_10_BERLIN + timedelta(seconds=60)
    wants_two_hours = policy(keep_alive_strategy="fixed-7200")
    other = decide_keep_alive(pool(name="team-b-1"), wants_two_hours, now, limits=limits)
    assert (other.action, other.keep_alive_seconds, other.next_check_at) == (Action.KEEP, None, None)
    assert other.rule == "engine.job_name_prefixes"
    assert other.horizon_seconds == 600  # the job's own keep-alive
    assert other.reasons[0].startswith(
        "this deployment manages only the jobs whose names begin with team-a-, "
    )
    for own in ("team-a-1", "nightly-7"):
        mine = decide_keep_alive(pool(name=own), wants_two_hours, now, limits=limits)
        assert (mine.action, mine.keep_alive_seconds) == (Action.EXTEND, 3600)
    # matched as written, case included, as EventBridge's prefix matches the rule's events
    assert decide_keep_alive(pool(name="Team-A-1"), wants_two_hours, now, limits=limits).action is Action.KEEP
    assert decide_keep_alive(pool(name="team-b-1"), wants_two_hours, now).action is Action.EXTEND
