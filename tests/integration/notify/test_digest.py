"""The daily digest: once a day per team, in the policy's hour, from the reconciler."""

import json
from datetime import UTC, datetime

import boto3
import pytest
from slack_sdk.models.blocks import Block
from warmpool.cli.main import main
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import reconciler
from warmpool.local.pumps import LocalLambdaContext
from warmpool.local.slack_standin import SlackStandIn

from infra.constants import RECONCILER_TIMEOUT_SECONDS
from tests.integration.conftest import System, subscribe
from tests.unit.domain.slack_limits import formatted_by_slack, slack_refusals


def policy(enabled: bool) -> dict[str, object]:
    return {
        "version": 1,
        "default_team": "platform",
        "defaults": {"keep_alive_strategy": "fixed-3600"},
        "notifications": {"digest": {"enabled": enabled, "hour": 9}, "teams": {"nlp": {}}},
    }


def vision_on_slack(system: System) -> SlackStandIn:
    """A Slack stand-in started for team vision's channel, and a policy sending vision a digest at 09:00
    UTC (the caller stops the stand-in)."""
    stand_in = SlackStandIn().start()
    boto3.client("secretsmanager").put_secret_value(
        SecretId=system.env.slack_webhooks_secret_arn,
        SecretString=json.dumps({"vision": stand_in.url("vision")}),
    )
    system.set_policy(
        {
            "version": 1,
            "defaults": {"keep_alive_strategy": "fixed-3600"},
            "notifications": {
                "digest": {"enabled": True, "hour": 9},
                "teams": {"vision": {"slack_webhook_key": "vision"}},
            },
        }
    )
    return stand_in


def warm_at_the_digest_hour(system: System, names: list[str], *, owner: str) -> None:
    """vision's jobs `names`, each left warm for ten minutes, ended by 09:00 UTC, the digest's hour;
    the notices of their pools read (only the digest is left to come)."""
    for name in names:
        tags = {"team": "vision", "owner": owner}
        system.sagemaker.create_training_job(**training_job_request(name, keep_alive_seconds=600, tags=tags))
    system.settle()
    for name in names:
        system.control.run_for(name, 300)
    system.advance(360)
    system.notifications()


def test_a_digest_in_an_hour_the_clocks_skip_is_sent_in_the_hour_after(system: System) -> None:
    # Berlin's clocks go from 02:00 to 03:00 on 2026-03-29: a digest at 2 was sent no digest that day
    system.set_policy(
        {
            "version": 1,
            "default_team": "platform",
            "defaults": {"timezone": "Europe/Berlin"},
            "notifications": {"digest": {"enabled": True, "hour": 2}, "teams": {"nlp": {}}},
        }
    )
    system.emulator.advance((datetime(2026, 3, 29, 0, 30, tzinfo=UTC) - system.control.now()).total_seconds())
    assert system.reconcile()["digests"] == []  # 01:30 in Berlin
    system.emulator.advance(3600)  # 01:30 UTC: 03:30 in Berlin, summer time
    assert system.reconcile()["digests"] == ["nlp"]
    delivered = [n for n in system.notifications() if n["kind"] == "daily-digest"]
    assert [n["team"] for n in delivered] == ["nlp"]
    system.emulator.advance(3600)  # 04:30: the hour after the skipped one has passed
    assert system.reconcile()["digests"] == []
    system.emulator.advance(22 * 3600)  # 02:30 the next day, an hour that exists
    assert system.reconcile()["digests"] == ["nlp"]


def test_each_team_hears_once_a_day_what_is_warm(system: System) -> None:
    system.set_policy(policy(enabled=True))
    for name, tags in (
        ("d-1", {"team": "vision", "owner": "alice"}),
        ("d-2", {"team": "vision"}),
        ("d-3", {}),
    ):
        system.sagemaker.create_training_job(**training_job_request(name, keep_alive_seconds=600, tags=tags))
    system.settle()
    for name in ("d-1", "d-2", "d-3"):
        system.control.run_for(name, 300)
    system.advance(360)  # 09:06 UTC, the digest hour
    system.notifications()  # what the pools themselves said so far
    assert system.reconcile()["digests"] == ["nlp", "platform", "vision"]
    system.reconcile()  # every run of the hour asks again; each team hears once
    delivered = [n for n in system.notifications() if n["kind"] == "daily-digest"]
    assert sorted(n["team"] for n in delivered) == ["nlp", "platform", "vision"]
    digests = {n["team"]: n for n in delivered}
    vision = digests["vision"]["facts"]
    assert [p["job_name"] for p in vision["warm_pools"]] == ["d-1", "d-2"]
    assert vision["warm_instances"] == 2
    assert vision["idle_cost_today_usd"] > 0
    assert [p["job_name"] for p in digests["platform"]["facts"]["warm_pools"]] == ["d-3"]
    assert digests["nlp"]["facts"]["warm_pools"] == []
    # out of its hour, or disabled: nothing
    system.advance(3600, tick=600)
    assert system.reconcile()["digests"] == []
    system.set_policy(policy(enabled=False))
    assert system.reconcile()["digests"] == []


def test_each_team_hears_in_its_hour_on_its_own_clock(system: System) -> None:
    # nlp works in Tokyo (09:00 there is 00:00 UTC), vision in Los Angeles by its working hours (09:00 PST
    # is 17:00 UTC), platform on UTC
    hours = {"timezone": "America/Los_Angeles", "days": ["mon", "tue", "wed", "thu", "fri"]}
    system.set_policy(
        {
            **policy(enabled=True),
            "teams": {"nlp": {"timezone": "Asia/Tokyo"}, "vision": {"working_hours": hours}},
            "notifications": {
                "digest": {"enabled": True, "hour": 9},
                "teams": {"nlp": {}, "vision": {}, "platform": {}},
            },
        }
    )
    system.advance(360)  # Monday 09:06 UTC
    heard: dict[str, list[object]] = {}
    listings: list[int] = []  # Available pools listed per run: the reconciler's own, and the digest's
    for _ in range(24):
        system.clear_counts()
        for team in system.reconcile()["digests"]:
            heard.setdefault(team, []).append(system.control.now().strftime("%a %H:%M UTC"))
        listings.append(system.queries.get("by_status:STATUS#Available", 0))
        system.advance(3600, tick=1800)
    assert heard == {
        "platform": ["Mon 09:06 UTC"],
        "vision": ["Mon 17:06 UTC"],
        "nlp": ["Tue 00:06 UTC"],
    }
    # out of every team's hour, the digest reads nothing
    assert sorted(listings) == [1] * 21 + [2] * 3
    dates = {n["team"]: n["facts"]["date"] for n in system.notifications() if n["kind"] == "daily-digest"}
    assert dates == {"platform": "2026-03-02", "vision": "2026-03-02", "nlp": "2026-03-03"}


def test_a_digest_of_many_pools_is_valid_block_kit_and_says_no_routing_nonsense(system: System) -> None:
    stand_in = vision_on_slack(system)
    try:
        names = [f"vision-resnet50-finetune-lr-sweep-{i:03d}" for i in range(30)]
        warm_at_the_digest_hour(system, names, owner="alice")
        assert system.reconcile()["digests"] == ["vision"]
        (digest,) = [r["body"] for r in stand_in.delivered("vision") if "daily digest" in r["body"]["text"]]
        sections = [b["text"]["text"] for b in digest["blocks"] if b["type"] == "section"]
        assert len(sections) > 1  # the pools' lines are spread over several sections...
        for block in digest["blocks"]:
            parsed = Block.parse(block)
            assert parsed is not None
            parsed.validate_json()  # ...each one Slack accepts (at most 3000 characters)
        shown = "\n".join(sections)
        assert [name for name in names if f"- {name} (" in shown] == names
        assert "tag" not in digest["text"]  # a digest is about a team: no owner-tag routing note
        (sns,) = [n for n in system.notifications() if n["kind"] == "daily-digest"]
        assert sorted(sns["facts"]["warm_pools"][0]) == [
            "available_since",
            "idle_cost_so_far_usd",
            "instance_count",
            "instance_type",
            "job_name",
            "owner",
            "pool_id",
            "warm_until",
        ]
    finally:
        stand_in.stop()


def test_a_digest_reaches_its_team_s_subscribers_not_those_of_jobs_without_an_owner(system: System) -> None:
    # docs/notifications.md's recipes: `{"owner": ["none"]}` is for jobs without an owner tag; a digest
    # is about a team, not a job, so it is no such job's message
    team = subscribe(system.env.topic_arn, "vision-only", {"team": ["vision"]})
    no_owner = subscribe(system.env.topic_arn, "no-owner", {"owner": ["none"]})
    alice = subscribe(system.env.topic_arn, "alice-only", {"owner": ["alice"]})
    system.set_policy(policy(enabled=True))
    system.sagemaker.create_training_job(
        **training_job_request("o-1", keep_alive_seconds=600, tags={"team": "vision", "owner": "alice"})
    )
    system.settle()
    system.control.run_for("o-1", 300)
    system.advance(360)  # 09:06 UTC, the digest hour
    for url in (team, no_owner, alice):
        system.messages(url)  # what the pool itself said so far
    assert "vision" in system.reconcile()["digests"]

    def digests(url: str) -> list[str]:
        out = []
        for m in system.messages(url):
            doc = json.loads(json.loads(m["Body"])["Message"])
            if doc["kind"] == "daily-digest":
                out.append(doc["team"])
        return out

    assert digests(team) == ["vision"]
    assert digests(no_owner) == []
    assert digests(alice) == []


def test_a_digest_too_long_for_one_slack_message_comes_in_parts_each_sent_once(system: System) -> None:
    """Slack refuses a message of about 12,000 characters of block text (`msg_blocks_too_long`): 48 pools
    with the longest names and owner tags SageMaker allows come in parts, each within every limit, and a
    part Slack fails on is sent again without the parts before it."""
    stand_in = vision_on_slack(system)
    try:
        names = [f"{i:02d}-" + "n" * 60 for i in range(48)]  # 63 characters, SageMaker's longest
        owner = ("data_science_bot_" * 16)[:256]  # a tag value may hold `_`, and 256 characters
        warm_at_the_digest_hour(system, names, owner=owner)
        before = len(stand_in.received)
        stand_in.answers.extend([200, 500, 500, 500])  # part 1 taken, then Slack fails on part 2
        assert system.reconcile()["digests"] == ["vision"]
        system.settle()  # the record comes back for the rest of its Slack copy
        digests = [
            r["body"] for r in stand_in.delivered("vision")[-10:] if "daily digest" in r["body"]["text"]
        ]
        assert [r["status"] for r in stand_in.received[before:]][:5] == [200, 500, 500, 500, 200]
        count = len(digests)
        assert count >= 3
        headers = [d["blocks"][0]["text"]["text"] for d in digests]
        assert headers == [
            f"Warm pools of team vision: daily digest (part {k} of {count})" for k in range(1, count + 1)
        ]
        shown: list[str] = []
        for digest in digests:
            assert slack_refusals(digest["blocks"]) == []  # 50 blocks, 3000 a section, ~12,000 in all...
            assert formatted_by_slack(digest["blocks"]) == []  # the owner's `_` and `*` as written
            shown += [line for b in digest["blocks"][1:] for line in b["text"]["text"].splitlines()]
        # every pool once, in order, with its owner as written
        assert [line[2:].split(" (")[0] for line in shown if line.startswith("- ")] == names
        assert all(f"owner {owner})" in line for line in shown if line.startswith("- "))
        (sns,) = [n for n in system.notifications() if n["kind"] == "daily-digest"]  # one SNS copy
        assert len(sns["facts"]["warm_pools"]) == 48
    finally:
        stand_in.stop()


def test_a_digest_whose_slack_copy_failed_after_part_1_is_finished_from_the_digest_part_1_began(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reconciler makes the digest again at each run of its hour. Slack failed on part 2 of the
    first run's; before that record came back, a pool was released and the next run's digest, split
    again, was sent from part 2: the pool moved from its part 2 to its part 1 was in no part vision
    got, and the first record's retry sent its own part 3 after them."""
    stand_in = vision_on_slack(system)
    try:
        names = [f"{i:02d}-" + "n" * 60 for i in range(48)]
        warm_at_the_digest_hour(system, names, owner=("data_science_bot_" * 16)[:256])
        reconciler.handler({}, LocalLambdaContext(remaining_millis=RECONCILER_TIMEOUT_SECONDS * 1000))
        before = len(stand_in.received)
        stand_in.answers.extend([200, 500, 500, 500])  # part 1 taken, then Slack fails on part 2
        system.notifier.drain(max_batches=1)
        assert [r["status"] for r in stand_in.received[before:]] == [200, 500, 500, 500]
        # the record waits its visibility timeout
        (waiting,) = system.sqs.receive_message(
            QueueUrl=system.env.notify_queue_url, VisibilityTimeout=3600, AttributeNames=["All"]
        )["Messages"]
        first = stand_in.delivered("vision")[-1]["body"]
        pools = [line for b in first["blocks"][1:] for line in b["text"]["text"].splitlines()]
        released = next(line[2:].split(" (")[0] for line in pools if line.startswith("- "))
        assert main(["pools", "release", released, "--user", "lead"]) == 0
        capsys.readouterr()
        system.emulator.advance(300)
        assert system.reconcile()["digests"] == ["vision"]  # made again, one pool fewer, and sent
        system.sqs.change_message_visibility(
            QueueUrl=system.env.notify_queue_url, ReceiptHandle=waiting["ReceiptHandle"], VisibilityTimeout=0
        )
        system.settle()  # the first record comes back
        digests = [r["body"] for r in stand_in.delivered("vision") if "daily digest" in r["body"]["text"]]
        count = len(digests)
        headers = [d["blocks"][0]["text"]["text"] for d in digests]
        assert headers == [
            f"Warm pools of team vision: daily digest (part {k} of {count})" for k in range(1, count + 1)
        ]
        shown = [
            line[2:].split(" (")[0]
            for digest in digests
            for block in digest["blocks"][1:]
            for line in block["text"]["text"].splitlines()
            if line.startswith("- ")
        ]
        assert shown == names  # each pool once, in order: the digest whose part 1 vision got
    finally:
        stand_in.stop()


def test_a_pool_ended_before_the_digest_costs_in_it_only_until_it_ended(system: System) -> None:
    # d-gone's keep-alive ran out at 09:15 (its job ended at 09:05, 600 s kept); the look at its expiry
    # never came and the reconciler could not read the job, so the registry still lists it Available at
    # the 09:40 digest. SageMaker billed its idling until 09:15: the digest said 35 minutes of it.
    system.set_policy(
        {
            "version": 1,
            "default_team": "platform",
            "notifications": {"digest": {"enabled": True, "hour": 9}, "teams": {"vision": {}}},
        }
    )
    tags = {"team": "vision", "owner": "alice"}
    system.sagemaker.create_training_job(**training_job_request("d-gone", keep_alive_seconds=600, tags=tags))
    system.settle()
    system.control.run_for("d-gone", 300)
    system.advance(360)  # 09:06: Available, warm until 09:15
    system.notifications()  # what the pool said itself
    system.emulator.advance(34 * 60)  # 09:40: its look at expiry lost (no schedule fired)
    system.control.inject_faults("DescribeTrainingJob", "AccessDeniedException", probability=1.0)
    assert system.reconcile()["digests"] == ["vision"]
    system.control.clear_faults()
    (digest,) = [n for n in system.notifications() if n["kind"] == "daily-digest"]
    (pool,) = digest["facts"]["warm_pools"]
    assert pool["warm_until"] == "2026-03-02T09:15:00+00:00"
    per_hour = 1.515  # ml.g5.2xlarge, the built-in price
    assert pool["idle_cost_so_far_usd"] == round(per_hour * 600 / 3600, 4)
    assert digest["facts"]["idle_cost_today_usd"] == round(per_hour * 600 / 3600, 2)
