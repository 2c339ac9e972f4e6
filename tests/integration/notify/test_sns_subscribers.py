"""What a team subscribed to the notifications topic gets: each message's kind, severity and text, as
docs/notifications.md ("SNS") describes them."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from warmpool.domain.messages import UPDATES_ONLY
from warmpool.domain.model import NotificationKind
from warmpool.emulator.jobs import training_job_request

from tests.integration.conftest import System, subscribe

ROOT = Path(__file__).resolve().parents[3]


def received(system: System, url: str) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Each message on a subscriber queue: its JSON document and its SNS message attributes."""
    out = []
    for message in system.messages(url):
        envelope = json.loads(message["Body"])
        attributes = {k: v["Value"] for k, v in envelope["MessageAttributes"].items()}
        out.append((json.loads(envelope["Message"]), attributes))
    return out


def test_the_lifetime_warning_names_the_deployment_s_maximum_lifetime_not_aws_s(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stack deployed with `max_lifetime_days: 1` ends its pools a day after their first job began:
    the warning says so, not the 28 days of AWS's own limit."""
    monkeypatch.setenv("MAX_LIFETIME_SECONDS", str(86400))
    lifetime = subscribe(system.env.topic_arn, "lifetime", {"kind": ["lifetime-ending"]})
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "fixed-3600"}})
    system.run_job("l-1", 300, tags={"team": "vision", "owner": "alice"})  # begun at 09:00 UTC
    ((document, attributes),) = received(system, lifetime)
    assert (document["job_name"], attributes["severity"]) == ("l-1", "warning")
    assert "Warm pools live at most 1 day here; this one ends at 2026-03-03 09:00:00 UTC." in document["text"]
    assert "28 days" not in document["text"]
    assert document["facts"]["max_lifetime_seconds"] == 86400


def documented_kinds() -> dict[str, str]:
    """docs/notifications.md's table of the `kind` values: each kind's `severity`."""
    table = (ROOT / "docs" / "notifications.md").read_text()
    return dict(re.findall(r"^\| `([a-z-]+)` \| `(info|warning|critical)` \| [^|]+ \|$", table, re.MULTILINE))


def test_a_subscriber_filtering_on_each_documented_kind_gets_it_with_the_documented_severity(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A platform team subscribes a queue per `kind` of the docs' table, as written there: each gets
    notices of that kind only, each with the table's `severity`, over a day with a notice of most kinds
    (not `shortened`, nor `tuning-job-finished`, which tests/integration/lifecycle tells)."""
    documented = documented_kinds()
    # every kind SNS gets, once (a `pool-ended` notice is sent to nobody: it updates Slack messages)
    assert sorted(documented) == sorted(kind.value for kind in NotificationKind if kind not in UPDATES_ONLY)
    queues = {kind: subscribe(system.env.topic_arn, f"kind-{kind}", {"kind": [kind]}) for kind in documented}
    monkeypatch.setenv("MAX_LIFETIME_SECONDS", str(86400))  # `max_lifetime_days: 1`: each pool is warned
    policy: dict[str, Any] = {
        "version": 1,
        "defaults": {"keep_alive_strategy": "fixed-3600"},
        "teams": {"nlp": {"max_warm_instances": 1}, "cv": {"budget": {"daily_usd": 1.0}}},
        "warm_pool_quotas": {"ml.g5.2xlarge": 5},
        "notifications": {"digest": {"enabled": True, "hour": 9}},
    }
    system.set_policy(policy)
    system.control.set_quota("ml.g5.xlarge", 0)
    for name, tags, volume in (
        ("v-1", {"team": "vision", "owner": "alice"}, 50),
        ("v-2", {"team": "vision"}, 60),  # no owner; started cold next to v-1's pool
        ("u-1", {"owner": "dave"}, 70),  # no team
        ("n-1", {"team": "nlp", "owner": "carol"}, 80),
        ("n-2", {"team": "nlp", "owner": "carol"}, 90),  # past nlp's one warm instance: released
        ("c-1", {"team": "cv", "owner": "erin"}, 100),  # 1 $ buys 40 of the 60 minutes wanted
    ):
        system.sagemaker.create_training_job(**training_job_request(name, volume_size_gb=volume, tags=tags))
        system.settle()
        system.control.complete_job(name)
        system.settle()
    system.sagemaker.create_training_job(  # no quota for its type: no warm pool
        **training_job_request("q-1", instance_type="ml.g5.xlarge", tags={"team": "nlp"})
    )
    system.settle()
    system.control.complete_job("q-1")
    system.settle()
    system.reconcile()  # 09:00: the digests
    system.set_policy(
        {**policy, "teams": {**policy["teams"], "vision": {"keep_alive_strategy": "fixed-7200"}}}
    )
    system.advance(2 * 3600, tick=300)  # vision's pools extended; the others expire

    kinds_received = {
        kind: [(document["kind"], attributes["severity"]) for document, attributes in received(system, url)]
        for kind, url in queues.items()
    }
    for kind, got in kinds_received.items():
        assert got == [(kind, documented[kind])] * len(got), kind
    assert {kind for kind, got in kinds_received.items() if got} == set(documented) - {
        "shortened",
        "tuning-job-finished",
    }


def test_the_default_team_s_subscription_gets_the_jobs_without_a_team_tag_that_count_for_it(
    system: System,
) -> None:
    """A job without a team tag counts for the policy's `default_team` (research here): its limits,
    budget, digest and Slack channel. Its SNS messages had the `team` attribute `none`, so research's
    subscription, `{"team": ["research"]}`, missed what research's channel was told; `team_tag` `none`
    still finds the untagged jobs."""
    research = subscribe(system.env.topic_arn, "research", {"team": ["research"]})
    untagged = subscribe(system.env.topic_arn, "untagged", {"team_tag": ["none"]})
    vision = subscribe(system.env.topic_arn, "vision", {"team": ["vision"]})
    system.set_policy(
        {"version": 1, "default_team": "research", "defaults": {"keep_alive_strategy": "fixed-3600"}}
    )
    system.run_job("u-1", 300, tags={"owner": "dave"})
    system.run_job("v-1", 300, instance_type="ml.g5.xlarge", tags={"team": "vision", "owner": "alice"})

    def told(url: str) -> list[tuple[str, str, str, str | None]]:
        return sorted(
            (doc["job_name"], doc["kind"], attributes["team"], attributes.get("team_tag"))
            for doc, attributes in received(system, url)
        )

    untagged_jobs = [("u-1", "missing-tags", "research", "none"), ("u-1", "pool-ready", "research", "none")]
    assert told(research) == untagged_jobs
    assert told(untagged) == untagged_jobs
    assert told(vision) == [("v-1", "pool-ready", "vision", None)]
