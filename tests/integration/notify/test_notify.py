"""Who hears what: SNS filter policies, Slack delivery with retries and fallbacks, Slack buttons."""

import hashlib
import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.sagemaker.models import sagemaker_backends
from warmpool.adapters.slack import SlackWebhooks
from warmpool.cli.main import main
from warmpool.domain.clock import moment_text
from warmpool.domain.messages import slack_text
from warmpool.emulator.control import DEFAULT_ACCOUNT as ACCOUNT_ID
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import lifecycle, notifier, reconciler, slack_interactive
from warmpool.local.pumps import LocalLambdaContext, QueuePump
from warmpool.local.slack_standin import SlackStandIn

from infra.constants import SLACK_PRESSES_TIMEOUT_SECONDS
from tests.integration.conftest import System, current_system, hooked, subscribe
from tests.integration.conftest import response_url as response_url_of_running_system
from tests.integration.lifecycle.test_resilience import next_job_seen_first, send
from tests.integration.lifecycle.test_time_budget import virtual_backoff
from tests.integration.runbooks.test_runbooks import emf_counts
from tests.unit.domain.slack_limits import formatted_by_slack, slack_refusals

ROOT = Path(__file__).resolve().parents[3]

POLICY: dict[str, Any] = {
    "version": 1,
    "defaults": {"keep_alive_strategy": "fixed-1800", "overrides": {"max_extend_minutes": 60}},
    "notifications": {
        "platform_admins": ["UADMIN"],
        "slack_users": {"alice": "UALICE", "bob": "UBOB"},
        "teams": {"vision": {"admins": ["bob"], "slack_webhook_key": "vision"}},
    },
}
SIGNING_SECRET = "local-signing-secret"
REGION = "us-east-1"  # the system's (conftest's aws_env)


@pytest.fixture
def slack(system: System) -> SlackStandIn:
    stand_in = system.slack  # where the presses' response URLs point: Slack's hosts
    secrets = boto3.client("secretsmanager")
    secrets.put_secret_value(
        SecretId=system.env.slack_webhooks_secret_arn,
        SecretString=json.dumps({"vision": stand_in.url("vision"), "platform": stand_in.url("platform")}),
    )
    system.set_policy(POLICY)
    return stand_in


def finish(system: System, name: str, tags: dict[str, str], *, volume_size_gb: int = 50) -> None:
    system.sagemaker.create_training_job(
        **training_job_request(name, keep_alive_seconds=600, volume_size_gb=volume_size_gb, tags=tags)
    )
    system.settle()
    system.control.complete_job(name)
    system.settle()


def test_sns_attributes_let_teams_owners_and_kinds_filter(system: System, slack: SlackStandIn) -> None:
    vision = subscribe(system.env.topic_arn, "vision-only", {"team": ["vision"]})
    alice = subscribe(system.env.topic_arn, "alice-only", {"owner": ["alice"]})
    warnings = subscribe(system.env.topic_arn, "warnings", {"severity": ["warning"]})
    system.control.set_quota("ml.g5.xlarge", 0)
    finish(system, "v-1", {"team": "vision", "owner": "alice"})
    finish(system, "n-1", {"team": "nlp", "owner": "carol"})
    system.sagemaker.create_training_job(
        **training_job_request("q-1", instance_type="ml.g5.xlarge", tags={"team": "nlp", "owner": "carol"})
    )
    system.settle()
    system.control.complete_job("q-1")
    system.settle()

    def kinds(url: str) -> list[tuple[str, str]]:
        out = []
        for m in system.messages(url):
            envelope = json.loads(m["Body"])
            doc = json.loads(envelope["Message"])
            assert envelope["Subject"]
            out.append((doc["job_name"], doc["kind"]))
        return sorted(out)

    assert kinds(vision) == [("v-1", "pool-ready")]
    assert kinds(alice) == [("v-1", "pool-ready")]
    assert kinds(warnings) == [("q-1", "no-warm-pool")]


def test_the_filter_recipes_of_notifications_md_deliver_what_their_rows_say(
    system: System, slack: SlackStandIn
) -> None:
    """Each `FilterPolicy` of docs/notifications.md's recipe table, exactly as written there, on a
    subscriber queue of its own: what a platform team pasting it gets, of a day with a pool of each kind."""
    table = (ROOT / "docs" / "notifications.md").read_text()
    recipes = re.findall(r"^\| [^|]+ \| `(\{.*\})` \|$", table, re.MULTILINE)
    expected = {
        '{"team": ["vision"]}': [
            ("v-1", "pool-ready"),
            ("v-2", "missed-pool"),
            ("v-2", "missing-tags"),
            ("v-2", "pool-ready"),
        ],
        '{"owner": ["alice"]}': [("v-1", "pool-ready")],
        '{"severity": ["warning", "critical"]}': [
            ("", "quota-warning"),
            ("q-1", "no-warm-pool"),
            ("u-1", "missing-tags"),
            ("v-2", "missed-pool"),
            ("v-2", "missing-tags"),
        ],
        '{"kind": ["no-warm-pool", "quota-warning"]}': [("", "quota-warning"), ("q-1", "no-warm-pool")],
        '{"team": ["nlp"], "kind": ["released"]}': [("n-1", "released")],
        # the quota warning, about the account, has no owner attribute: not a job without an owner tag
        '{"owner": ["none"]}': [("v-2", "missed-pool"), ("v-2", "missing-tags"), ("v-2", "pool-ready")],
        # u-1 has no team tag: it counts for the default team, platform, whose `team` it has
        '{"team_tag": ["none"]}': [("u-1", "missing-tags"), ("u-1", "pool-ready")],
    }
    assert sorted(recipes) == sorted(expected)  # a recipe added to the doc is added here too
    queues = {
        recipe: subscribe(system.env.topic_arn, f"recipe-{i}", json.loads(recipe))
        for i, recipe in enumerate(recipes)
    }
    system.set_policy(
        {
            **POLICY,
            "defaults": {"keep_alive_strategy": "fixed-1800"},
            "teams": {"nlp": {"keep_alive_strategy": "none"}},
            "warm_pool_quotas": {"ml.g5.2xlarge": 2},
        }
    )
    system.control.set_quota("ml.g5.xlarge", 0)
    finish(system, "v-1", {"team": "vision", "owner": "alice"})  # ready
    finish(system, "v-2", {"team": "vision"}, volume_size_gb=60)  # no owner; 2 of 2 g5.2xlarge warm
    finish(system, "n-1", {"team": "nlp", "owner": "carol"}, volume_size_gb=70)  # released at once
    finish(system, "u-1", {"owner": "dave"}, volume_size_gb=80)  # no team tag: the default team's
    system.sagemaker.create_training_job(  # no quota for its type: no warm pool
        **training_job_request("q-1", instance_type="ml.g5.xlarge", tags={"team": "nlp", "owner": "carol"})
    )
    system.settle()
    system.control.complete_job("q-1")
    system.settle()

    def received(url: str) -> list[tuple[str, str]]:
        documents = [json.loads(json.loads(m["Body"])["Message"]) for m in system.messages(url)]
        return sorted((d["job_name"] or "", d["kind"]) for d in documents)

    assert {recipe: received(url) for recipe, url in queues.items()} == expected


def test_a_job_without_a_team_tag_is_told_of_the_default_team_s_limit_not_of_team_none(
    system: System, slack: SlackStandIn
) -> None:
    system.set_policy({**POLICY, "default_team": "platform", "defaults": {"max_warm_instances": 1}})
    for name, volume in (("t-1", 50), ("t-2", 60)):  # two untagged pools of two shapes
        system.sagemaker.create_training_job(
            **training_job_request(name, keep_alive_seconds=600, volume_size_gb=volume, tags={})
        )
        system.settle()
        system.control.complete_job(name)
        system.settle()
    subjects = [json.loads(m["Body"])["Subject"] for m in system.messages(system.sns_queue_url)]
    assert "Warm-instance limit reached for the default team" in subjects
    assert not [s for s in subjects if "None" in s]
    (limit,) = [m for m in slack.delivered("platform") if "limit reached" in m["body"]["text"]]
    assert "None" not in limit["body"]["text"]
    assert "sent to team platform" in limit["body"]["text"]  # the routing note names it


def test_the_platform_admins_are_warned_once_a_day_when_a_type_nears_its_warm_pool_quota(
    system: System, slack: SlackStandIn
) -> None:
    quotas = subscribe(system.env.topic_arn, "quota-watch", {"kind": ["quota-warning"]})
    vision_only = subscribe(system.env.topic_arn, "vision-watch", {"team": ["vision"]})
    system.set_policy(
        {
            **POLICY,
            "defaults": {"keep_alive_strategy": "fixed-7200"},
            "warm_pool_quotas": {"ml.g5.2xlarge": 2},
            "quota_warning_at": 0.8,
        }
    )

    def warnings() -> list[dict[str, Any]]:
        return [json.loads(json.loads(m["Body"])["Message"]) for m in system.messages(quotas)]

    # pools of two shapes of one type (none reuses the other), of two teams: the quota is the account's
    finish(system, "q-1", {"team": "vision", "owner": "alice"})
    assert warnings() == []  # 1 of 2: below 80 %
    finish(system, "q-2", {"team": "nlp", "owner": "carol"}, volume_size_gb=60)
    (warning,) = warnings()  # 2 of 2
    assert (warning["kind"], warning["severity"]) == ("quota-warning", "warning")
    facts = warning["facts"]
    assert (facts["limit"], facts["current"], facts["scope"]) == (2, 2, "ml.g5.2xlarge")
    assert "new jobs that ask for a keep-alive get no warm pool" in facts["reason"]
    assert '"ml.g5.2xlarge for training warm pool usage"' in facts["reason"]
    assert [m for m in system.messages(vision_only) if "quota" in json.loads(m["Body"])["Subject"]] == []
    (slack_copy,) = [m for m in slack.delivered("platform") if "quota" in m["body"]["text"]]
    mention, header = slack_copy["body"]["blocks"][:2]
    assert mention["text"]["text"] == "<@UADMIN>"
    assert header["text"]["text"].startswith("Warm-pool quota warning")
    assert "Service Quotas" in slack_copy["body"]["text"]
    assert "tag" not in slack_copy["body"]["text"]  # about the account: no missing-tag routing note
    assert not [b for b in slack_copy["body"]["blocks"] if b["type"] == "actions"]  # no pool to act on
    # the same day: a third pool, and the hourly steps of all three, say nothing again
    finish(system, "q-3", {"team": "nlp", "owner": "carol"}, volume_size_gb=70)
    system.advance(2 * 3600, tick=600)
    assert warnings() == []
    assert len([m for m in slack.delivered("platform") if "quota" in m["body"]["text"]]) == 1


@pytest.mark.parametrize(
    ("budget", "said", "facts"),
    [
        ({"daily_usd": 5.0}, "Spent $3.60 of $5.00 today.", {"budget_usd": 5.0, "period": "day"}),
        (
            {"daily_usd": 100.0, "monthly_usd": 5.0},  # the month's budget binds, not the day's
            "Spent $3.60 of $5.00 this month.",
            {"budget_usd": 5.0, "period": "month"},
        ),
    ],
    ids=["day", "month"],
)
def test_a_budget_warning_says_how_much_of_which_budget_is_spent(
    system: System, slack: SlackStandIn, budget: dict[str, float], said: str, facts: dict[str, Any]
) -> None:
    """At 3.60 $/h, v-1 idles five minutes and is kept warm for the rest of its hour: 3.60 $ of the
    team's budget, spent or booked, as the budget rule counts it. The warning about v-2 says so, in
    Slack and in the SNS copy (its facts as docs/notifications.md lists them), and names the period."""
    budgets = subscribe(system.env.topic_arn, "budgets", {"kind": ["budget-warning"]})
    defaults = {"keep_alive_strategy": "fixed-3600", "budget": budget}
    system.set_policy({**POLICY, "prices": {"ml.g5.2xlarge": 3.6}, "defaults": defaults})
    finish(system, "v-1", {"team": "vision", "owner": "alice"})
    system.advance(300)
    finish(system, "v-2", {"team": "vision", "owner": "alice"}, volume_size_gb=60)

    (message,) = system.messages(budgets)
    envelope = json.loads(message["Body"])
    document = json.loads(envelope["Message"])
    attributes = {name: value["Value"] for name, value in envelope["MessageAttributes"].items()}
    assert attributes == {"kind": "budget-warning", "severity": "warning", "team": "vision", "owner": "alice"}
    assert document["job_name"] == "v-2"
    assert said in document["text"]
    assert {name: document["facts"][name] for name in facts} == facts
    assert document["decision"]["budget"] == {**facts, "spent_usd": document["facts"]["spent_usd"]}
    assert document["facts"]["spent_usd"] == pytest.approx(3.6, abs=0.005)
    (warning,) = [m for m in slack.delivered("vision") if "budget warning" in m["body"]["text"]]
    assert said in warning["body"]["text"]


def test_slack_gets_blocks_with_buttons_and_owner_mention(system: System, slack: SlackStandIn) -> None:
    finish(system, "v-2", {"team": "vision", "owner": "alice"})
    (message,) = slack.delivered("vision")
    blocks = message["body"]["blocks"]
    assert "<@UALICE>" in blocks[0]["text"]["text"]
    buttons = [e["text"]["text"] for e in blocks[-1]["elements"]]
    assert buttons == ["Extend 30 min", "Extend 60 min", "Release now"]
    assert "ml.g5.2xlarge" in message["body"]["text"]


def test_job_text_is_escaped_in_all_that_slack_gets_and_kept_as_is_for_sns(
    system: System, slack: SlackStandIn
) -> None:
    system.sagemaker.create_training_job(
        **training_job_request("f-1", keep_alive_seconds=600, tags={"team": "vision", "owner": "alice"})
    )
    system.settle()
    reason = "AlgorithmError: <!channel> free GPUs at <https://evil.example|here> & more"
    system.control.fail_job("f-1", reason=reason)
    system.settle()
    (message,) = slack.delivered("vision")
    escaped = "AlgorithmError: &lt;!channel&gt; free GPUs at &lt;https://evil.example|here&gt; &amp; more"
    assert f"Job failed: {escaped}." in message["body"]["text"]  # the push/desktop notification's text
    assert "<!channel>" not in json.dumps(message["body"])
    (sns,) = system.notifications()
    assert f"Job failed: {reason}." in sns["text"]


def _cut_inside_an_escape(text: str) -> bool:
    """Whether Slack text cut with "…" was cut through an escape (`&am…`)."""
    return re.search(r"&(a|am|amp|l|lt|g|gt)?\u2026$", text) is not None


def test_slack_gets_a_message_within_its_limits_however_long_the_job_s_text(
    system: System, slack: SlackStandIn
) -> None:
    owner = "o@" * 128  # a tag value's most (256), no Slack user mapped: the routing note names it
    system.sagemaker.create_training_job(
        **training_job_request("huge-1", keep_alive_seconds=600, tags={"team": "vision", "owner": owner})
    )
    system.settle()
    reason = "AlgorithmError: " + "<b> & " * 3500  # 21,000 characters, 56,000 once escaped
    system.control.fail_job("huge-1", reason=reason)
    system.settle()
    (message,) = slack.delivered("vision")
    body = message["body"]
    # Slack keeps 40,000 characters of the text push and desktop notifications show: its beginning
    assert len(body["text"]) <= 40_000
    assert body["text"].startswith("Warm pool ready: huge-1 (ml.g5.2xlarge x1) warm until ")
    assert "Job failed: AlgorithmError: &lt;b&gt; &amp; " in body["text"]
    assert body["text"].endswith("\u2026")
    assert not _cut_inside_an_escape(body["text"])
    # and refuses a section over 3,000 characters, over 50 blocks, or over about 12,000 characters of
    # block text in all (`msg_blocks_too_long`): one message all the same, its longest lines cut
    assert slack_refusals(body["blocks"]) == []
    sections = [b["text"]["text"] for b in body["blocks"] if b["type"] == "section"]
    assert not any(_cut_inside_an_escape(text) for text in sections)
    assert body["blocks"][0]["text"]["text"].startswith("Warm pool ready: huge-1 ")
    assert body["blocks"][-2]["elements"][0]["text"].startswith(
        "Lines ending in \u2026 were cut to fit Slack"
    )
    assert [e["text"]["text"] for e in body["blocks"][-1]["elements"]][-1] == "Release now"
    (sns,) = system.notifications()
    assert sns["facts"]["failure_reason"] == reason  # SNS, whose limit is larger, carries all of it


def test_the_slack_adapter_cuts_any_payload_to_slack_s_limits() -> None:
    stand_in = SlackStandIn().start()
    try:
        words = "see &lt;b&gt; &amp; " * 2500  # 50,000 characters of escaped text
        section = {"type": "section", "text": {"type": "mrkdwn", "text": "<@U1> " + words[:5000]}}
        SlackWebhooks().post(stand_in.url("any"), text=words, blocks=[section])
        (message,) = stand_in.delivered("any")
    finally:
        stand_in.stop()
    text, blocks = message["body"]["text"], message["body"]["blocks"]
    assert len(text) <= 40_000
    assert text.startswith("see &lt;b&gt; &amp; see")
    assert text.endswith("\u2026")
    assert not _cut_inside_an_escape(text)
    assert len(blocks[0]["text"]["text"]) <= 3000
    assert blocks[0]["text"]["text"].startswith("<@U1> see")
    assert not _cut_inside_an_escape(blocks[0]["text"]["text"])


def test_unmapped_team_falls_back_to_the_platform_channel_and_says_so(
    system: System, slack: SlackStandIn
) -> None:
    finish(system, "x-1", {"team": "nlp", "owner": "zed"})
    (message,) = slack.delivered("platform")
    assert "Team nlp has no Slack channel configured" in message["body"]["text"]
    assert "No Slack user is mapped to owner zed" in message["body"]["text"]


def test_rate_limits_and_server_errors_are_retried(system: System, slack: SlackStandIn) -> None:
    slack.answers.extend([429, 500])
    finish(system, "v-3", {"team": "vision", "owner": "alice"})
    assert [r["status"] for r in slack.received] == [429, 500, 200]
    assert len(slack.delivered("vision")) == 1


def test_a_rate_limited_slack_holds_back_no_sns_copy_and_is_retried_alone(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    # slack-sdk's waits, recorded
    monkeypatch.setattr("slack_sdk.http_retry.builtin_handlers.time.sleep", slept.append)
    # each Slack request notes how many SNS copies had gone out when it came
    stand_in = SlackStandIn(clock=lambda: system.api_calls.get("Publish", 0)).start()
    try:
        boto3.client("secretsmanager").put_secret_value(
            SecretId=system.env.slack_webhooks_secret_arn,
            SecretString=json.dumps({"vision": stand_in.url("vision")}),
        )
        system.set_policy(POLICY)
        names = ("rl-1", "rl-2", "rl-3")
        for name in names:
            tags = {"team": "vision", "owner": "alice"}
            system.sagemaker.create_training_job(
                **training_job_request(name, keep_alive_seconds=600, tags=tags)
            )
        system.lifecycle.drain()
        for name in names:
            system.control.complete_job(name)
        system.lifecycle.drain()
        stand_in.retry_after = "30"  # what Slack asks under a rate limit: longer than an invocation waits
        stand_in.answers.extend([429] * 3)
        system.notifier.pump_once()  # one invocation, the three records in one batch
        assert sorted(n["job_name"] for n in system.notifications()) == list(names)
        assert [r["at"] for r in stand_in.received] == [3, 3, 3]  # Slack only after every SNS copy
        assert slept == []  # the 30 s were not waited out inside the invocation
        assert stand_in.delivered() == []
        system.settle()  # the records come back for their Slack copies, and Slack answers now
        assert len(stand_in.delivered("vision")) == 3
        assert system.notifications() == []  # no second SNS copy
        assert system.messages(system.env.notify_dlq_url) == []
    finally:
        stand_in.stop()


def test_slack_gets_only_the_invocation_s_remaining_time(system: System, slack: SlackStandIn) -> None:
    system.sagemaker.create_training_job(
        **training_job_request("t-1", keep_alive_seconds=600, tags={"team": "vision", "owner": "alice"})
    )
    system.settle()
    system.control.complete_job("t-1")
    system.lifecycle.drain()
    # an invocation with 6 s left: not enough for a Slack call (5 s timeout) and the margin after it
    short = QueuePump(
        system.sqs,
        system.env.notify_queue_url,
        lambda event, _: notifier.handler(event, LocalLambdaContext(remaining_millis=6_000)),
    )
    short.pump_once()
    assert [n["job_name"] for n in system.notifications()] == ["t-1"]
    assert slack.received == []
    assert short.stats.failures == 1  # left on the queue for its Slack copy
    system.settle()
    (message,) = slack.delivered("vision")
    assert message["body"]["text"].startswith("Warm pool ready: t-1 ")
    assert system.notifications() == []


def test_notifications_that_fail_and_go_back_to_the_queue_are_counted_for_the_alarm(
    system: System, slack: SlackStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    """NotificationsRetried: Slack failing past the retries (an outage) failed every record, which SQS
    retried and, 25 to 30 minutes on, kept in the notify DLQ; until then no metric said so. A record
    whose Slack copy the invocation had no time to try has not failed, and is not counted."""
    system.sagemaker.create_training_job(
        **training_job_request("nr-1", keep_alive_seconds=600, tags={"team": "vision", "owner": "alice"})
    )
    system.settle()
    system.control.complete_job("nr-1")
    system.lifecycle.drain()
    # an invocation with 6 s left: not enough for a Slack call; the record waits for the next one
    QueuePump(
        system.sqs,
        system.env.notify_queue_url,
        lambda event, _: notifier.handler(event, LocalLambdaContext(remaining_millis=6_000)),
    ).pump_once()
    assert slack.received == []
    assert "NotificationsRetried" not in emf_counts(capsys.readouterr().out)

    slack.answers.extend([500] * 3)  # Slack down: each of the notifier's tries answered 500
    assert system.notifier.pump_once() == 1
    assert [r["status"] for r in slack.received] == [500] * 3
    assert emf_counts(capsys.readouterr().out).get("NotificationsRetried") == 1

    system.settle()  # Slack is back: the record's retry sends its Slack copy, and counts nothing
    (message,) = slack.delivered("vision")
    assert message["body"]["text"].startswith("Warm pool ready: nr-1 ")
    assert "NotificationsRetried" not in emf_counts(capsys.readouterr().out)
    assert [n["job_name"] for n in system.notifications()] == ["nr-1"]  # one SNS copy


def test_a_gone_webhook_is_permanent_and_sns_still_carries_the_message(
    system: System, slack: SlackStandIn
) -> None:
    slack.answers.extend([404])
    finish(system, "v-4", {"team": "vision", "owner": "alice"})
    assert [r["status"] for r in slack.received] == [404]
    assert [n["kind"] for n in system.notifications()] == ["pool-ready"]
    assert system.messages(system.env.notify_dlq_url) == []


class Answering:
    """An HTTP server on loopback that answers every request with `status` (and `location`, for a
    redirect), recording each one's method, path and body."""

    def __init__(self, status: int = 200, location: str | None = None) -> None:
        self.received: list[tuple[str, str, bytes]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.received.append((self.command, self.path, body))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                self.answer()

            def do_GET(self) -> None:  # where urllib took a POST it followed
                self.answer()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True, name="answering").start()
        host, port = self._server.server_address[:2]
        self.origin = f"http://{host!s}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def redirecting(status: int) -> Iterator[tuple[Answering, Answering]]:
    """A server that answers `status` to another origin's, which takes whatever comes: (them)."""
    elsewhere = Answering()
    redirect = Answering(status, location=f"{elsewhere.origin}/collect")
    try:
        yield redirect, elsewhere
    finally:
        redirect.stop()
        elsewhere.stop()


@pytest.mark.parametrize("status", [302, 307])
def test_a_webhook_that_redirects_is_not_followed_and_the_message_is_kept_for_a_redrive(
    system: System, slack: SlackStandIn, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    # urllib followed a 302 to wherever it pointed, as a GET without the message: the request left for
    # another origin, the answer there was 200, and the Slack copy counted as sent, lost without a word
    with redirecting(status) as (redirect, elsewhere):
        boto3.client("secretsmanager").put_secret_value(
            SecretId=system.env.slack_webhooks_secret_arn,
            SecretString=json.dumps({"vision": f"{redirect.origin}/hook", "platform": slack.url("platform")}),
        )
        finish(system, "r-1", {"team": "vision", "owner": "alice"})
        assert elsewhere.received == []
        # each receive tried the webhook once, as for any failure, until the notify DLQ kept the record
        assert [(method, path) for method, path, _ in redirect.received] == [("POST", "/hook")] * 5
        assert json.loads(redirect.received[0][2])["text"].startswith("Warm pool ready: r-1 ")
    assert [n["kind"] for n in system.notifications()] == ["pool-ready"]  # SNS carried it, once
    assert len(system.messages(system.env.notify_dlq_url)) == 1  # kept for a redrive, alarmed
    failed = [r for r in caplog.records if r.getMessage().startswith("record failed")]
    assert len(failed) == 5
    assert str(failed[0].exc_info[1] if failed[0].exc_info else "") == (
        f"Slack answered HTTP {status}, a redirect, which is not followed: it could take the message to "
        "another host; Slack's webhooks do not redirect: check the URL in the webhooks secret"
    )
    assert redirect.origin not in caplog.text
    assert elsewhere.origin not in caplog.text


def test_a_response_url_that_redirects_is_not_followed(
    system: System, slack: SlackStandIn, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a response URL on an allowed origin that redirects would take the press's outcome past the
    # origins the function may post to
    with redirecting(302) as (redirect, elsewhere):
        monkeypatch.setenv("SLACK_RESPONSE_ORIGINS", f"{slack.origin},{redirect.origin}")
        slack_interactive.runtime.cache_clear()
        finish(system, "r-2", {"team": "vision", "owner": "alice"})
        status, _ = call(signed(press("r-2", "warmpool_release", "UALICE", f"{redirect.origin}/respond")))
        assert status == 200
        job = system.sagemaker.describe_training_job(TrainingJobName="r-2")
        assert job["WarmPoolStatus"]["Status"] == "Terminated"  # done, and answered to the redirect only
        # the message's buttons replaced, and the answer: each posted to the redirect, which is not followed
        assert [(method, path) for method, path, _ in redirect.received] == [("POST", "/respond")] * 2
        assert elsewhere.received == []
    for failed in ("could not replace the Slack message's buttons", "could not update the Slack message"):
        (logged,) = [r for r in caplog.records if r.getMessage() == failed]
        assert "HTTP 302, a redirect, which is not followed" in str(
            logged.exc_info[1] if logged.exc_info else ""
        )


def test_duplicated_queue_messages_notify_once(system: System, slack: SlackStandIn) -> None:
    system.sagemaker.create_training_job(
        **training_job_request("v-5", keep_alive_seconds=600, tags={"team": "vision", "owner": "alice"})
    )
    system.settle()
    system.control.complete_job("v-5")
    system.lifecycle.drain()
    queued = system.messages(system.env.notify_queue_url)
    for message in queued * 3:
        system.sqs.send_message(QueueUrl=system.env.notify_queue_url, MessageBody=message["Body"])
    system.settle()
    assert len(slack.delivered("vision")) == 1
    assert len(system.notifications()) == 1


def signed(body: str, *, secret: str = SIGNING_SECRET, at: float | None = None) -> dict[str, Any]:
    timestamp = str(int(at if at is not None else time.time()))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "headers": {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"},
        "body": body,
        "isBase64Encoded": False,
    }


def press(
    job: str, action: str, user: str, response_url: str | None = None, trigger_id: str = "1.2.abc"
) -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower()},
        "actions": [{"action_id": action, "value": json.dumps({"job": job, "pool": job})}],
        "response_url": response_url or response_url_of_running_system(),
        "trigger_id": trigger_id,  # Slack's own, different for every press
    }
    return urlencode({"payload": json.dumps(payload)})


def call(event: dict[str, Any]) -> tuple[int, str]:
    """The endpoint's status, and the answer the person sees (`System.press`)."""
    return current_system().press(event)


def test_owner_extends_from_slack_within_the_policy(system: System, slack: SlackStandIn) -> None:
    finish(system, "s-1", {"team": "vision", "owner": "alice"})
    before = system.registry.get("s-1")
    assert before is not None
    assert before.pool.expires_at is not None
    updates_before = len(system.control.update_calls())
    status, text = call(signed(press("s-1", "warmpool_extend_60", "UALICE", slack.url("respond"))))
    assert status == 200
    assert "done" in text
    record = system.registry.get("s-1")
    assert record is not None
    # an hour more than the pool was going to stay warm
    assert record.pool.override_until == before.pool.expires_at + timedelta(minutes=60)
    updates = system.control.update_calls()[updates_before:]
    assert [(u["job"], u["seconds"]) for u in updates] == [("s-1", 3600)]
    assert slack.delivered("respond")[0]["body"]["text"].startswith("extend s-1: done")


def test_an_extension_from_slack_outlives_the_looks_planned_before_it(
    system: System, slack: SlackStandIn
) -> None:
    finish(system, "s-7", {"team": "vision", "owner": "alice"})
    status, text = call(signed(press("s-7", "warmpool_extend_60", "UALICE", slack.url("respond"))))
    assert (status, "done" in text) == (200, True)
    record = system.registry.get("s-7")
    assert record is not None
    until = record.pool.override_until
    assert until is not None
    system.advance((until - system.control.now()).total_seconds() - 120)  # every look due until then
    record = system.registry.get("s-7")
    assert record is not None
    assert record.pool.status.value == "Available"  # still warm two minutes before the promised time
    assert record.pool.expires_at is not None
    assert record.pool.expires_at >= until


def test_an_extension_the_plan_already_covers_is_granted_and_outlives_a_shorter_plan(
    system: System, slack: SlackStandIn
) -> None:
    # the team keeps pools warm three hours, in hourly steps: "Extend 30 min" asks for half an hour
    # more than the pool's expiry, which the plan already covers
    three_hours = {**POLICY, "defaults": {**POLICY["defaults"], "keep_alive_strategy": "fixed-10800"}}
    system.set_policy(three_hours)
    finish(system, "s-13", {"team": "vision", "owner": "alice"})
    before = system.registry.get("s-13")
    assert before is not None
    assert before.pool.expires_at is not None
    assert before.pool.horizon_at is not None
    asked = before.pool.expires_at + timedelta(minutes=30)
    assert before.pool.horizon_at > asked  # the plan already keeps it warm past the asked time
    status, text = call(signed(press("s-13", "warmpool_extend_30", "UALICE", slack.url("respond"))))
    assert status == 200
    assert text.startswith("extend s-13: done (defaults.keep_alive_strategy: ")
    assert (
        f"the plan already keeps it warm until {moment_text(before.pool.horizon_at)}: "
        f"kept warm at least until {moment_text(asked)} on request"
    ) in text
    assert slack.delivered("respond")[0]["body"]["text"] == text
    record = system.registry.get("s-13")
    assert record is not None
    assert record.pool.override_until == asked  # the promise is recorded
    # the team then moves to half-hour pools: the later steps keep the promise all the same
    system.set_policy(POLICY)
    system.advance((asked - system.control.now()).total_seconds() - 120)
    record = system.registry.get("s-13")
    assert record is not None
    assert record.pool.status.value == "Available"  # still warm two minutes before the promised time
    assert record.pool.expires_at is not None
    assert record.pool.expires_at >= asked
    system.advance(600)  # and let go once the promise has run out: the team's plan applies again
    job = system.sagemaker.describe_training_job(TrainingJobName="s-13")
    assert job["WarmPoolStatus"]["Status"] == "Terminated"


def test_each_slack_release_is_a_run_of_its_own_under_the_reductions_cap(
    system: System, slack: SlackStandIn
) -> None:
    system.set_policy({**POLICY, "max_reductions_per_run": 1})
    for name, volume in (("s-8", 50), ("s-9", 60)):  # two pools of alice's, of two shapes
        system.sagemaker.create_training_job(
            **training_job_request(
                name, keep_alive_seconds=600, volume_size_gb=volume, tags={"team": "vision", "owner": "alice"}
            )
        )
        system.settle()
        system.control.complete_job(name)
        system.settle()
    for name in ("s-8", "s-9"):  # the same warm function, one request after the other
        status, text = call(signed(press(name, "warmpool_release", "UALICE")))
        assert (status, text.split(" (")[0]) == (200, f"release {name}: done")
        job = system.sagemaker.describe_training_job(TrainingJobName=name)
        assert job["WarmPoolStatus"]["Status"] == "Terminated"


def test_an_extension_sagemaker_refuses_is_reported_as_refused_and_promises_nothing(
    system: System, slack: SlackStandIn
) -> None:
    finish(system, "s-10", {"team": "vision", "owner": "alice"})
    before = system.registry.get("s-10")
    assert before is not None
    system.control.inject_faults("UpdateTrainingJob", "AccessDeniedException", count=1)
    status, text = call(signed(press("s-10", "warmpool_extend_60", "UALICE")))
    assert status == 200
    assert text.startswith("extend s-10: refused (sagemaker.refused: SageMaker refused the update")
    after = system.registry.get("s-10")
    assert after is not None
    assert after.pool.override_until is None  # nothing was promised
    assert after.pool.expires_at == before.pool.expires_at
    assert after.next_check_at is not None
    assert before.pool.expires_at is not None
    assert after.next_check_at <= before.pool.expires_at + timedelta(minutes=1)  # its real expiry is watched


def test_the_outcome_of_a_press_is_posted_with_retries_after_a_quick_acknowledgement(
    system: System, slack: SlackStandIn
) -> None:
    # Slack wants its acknowledgement within 3 s: the endpoint only checks and queues the press, and
    # says so; the worker applies it and posts the outcome, now outside the 3 s, so a Slack that fails
    # twice is tried again (it had one try of a second, and alice never heard that her pool was released).
    finish(system, "s-6", {"team": "vision", "owner": "alice"})
    request = signed(press("s-6", "warmpool_release", "UALICE", slack.url("respond")))
    acknowledged = slack_interactive.handler(request, None)
    assert (acknowledged["statusCode"], json.loads(acknowledged["body"])["text"]) == (
        200,
        "Working on it: release s-6; the outcome follows.",
    )
    assert slack.delivered("respond") == []  # nothing applied nor posted yet
    job = system.sagemaker.describe_training_job(TrainingJobName="s-6")
    assert job["WarmPoolStatus"]["Status"] == "Available"
    slack.answers.extend([500, 500])
    system.presses.drain()
    # the message's buttons replaced (tried again after two 500s), then the outcome
    assert [r["status"] for r in slack.received if r["path"] == "/respond"] == [500, 500, 200, 200]
    assert slack.delivered("respond")[-1]["body"]["text"].startswith("release s-6: done (")
    job = system.sagemaker.describe_training_job(TrainingJobName="s-6")
    assert job["WarmPoolStatus"]["Status"] == "Terminated"
    # the endpoint's own post (a press it could not queue) gives up within a second: checked on the
    # HTTP client behind it, as timing a hanging request would make a timed test
    assert slack_interactive.runtime().front.slack._client(slack.url("respond")).timeout <= 1


def test_admin_releases_from_slack(system: System, slack: SlackStandIn) -> None:
    finish(system, "s-2", {"team": "vision", "owner": "alice"})
    status, text = call(signed(press("s-2", "warmpool_release", "UBOB")))
    assert (status, "done" in text) == (200, True)
    job = system.sagemaker.describe_training_job(TrainingJobName="s-2")
    assert job["WarmPoolStatus"]["Status"] == "Terminated"


def test_a_release_from_slack_replaces_the_message_s_buttons_with_who_released_it_and_when(
    system: System, slack: SlackStandIn
) -> None:
    # The message kept its Extend and Release buttons after alice's "Release now" released the pool:
    # her team saw a pool still to act on, and each later press was answered "gone"
    finish(system, "s-46", {"team": "vision", "owner": "alice"})
    status, text = call(signed(press("s-46", "warmpool_release", "UALICE", slack.url("message-46"))))
    assert (status, text.split(" (")[0]) == (200, "release s-46: done")
    replaced, answer = (m["body"] for m in slack.delivered("message-46"))
    assert replaced["replace_original"] is True  # the message that held the button, not a new one
    assert [b["type"] for b in replaced["blocks"]] == ["header", "section"]  # no buttons
    assert replaced["blocks"][0]["text"]["text"] == "Warm pool of s-46 released"
    lines = replaced["blocks"][1]["text"]["text"].splitlines()
    assert lines[0] == f"Released by ualice from Slack at {moment_text(system.control.now())}."
    assert lines[1].startswith("request.slack: ")
    assert slack_refusals(replaced["blocks"]) == []
    assert (answer["text"], answer.get("replace_original")) == (text, None)  # the answer beside it


def test_a_press_on_a_pool_released_elsewhere_replaces_the_message_s_buttons(
    system: System, slack: SlackStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    # The team lead released the pool from the CLI; the message in Slack kept its buttons, and bob's
    # press of one was answered "refused (status ...)" while the buttons stayed for the next person
    finish(system, "s-47", {"team": "vision", "owner": "alice"})
    assert main(["pools", "release", "s-47", "--user", "lead"]) == 0
    capsys.readouterr()
    released_at = moment_text(system.control.now())
    system.emulator.advance(120)
    status, text = call(signed(press("s-47", "warmpool_extend_60", "UBOB", slack.url("message-47"))))
    assert (status, text.split(" (")[0]) == (200, "extend s-47: refused")
    replaced, answer = (m["body"] for m in slack.delivered("message-47"))
    assert replaced["replace_original"] is True
    assert [b["type"] for b in replaced["blocks"]] == ["header", "section"]
    assert replaced["blocks"][0]["text"]["text"] == "Warm pool of s-47 no longer warm"
    assert replaced["blocks"][1]["text"]["text"].splitlines() == [
        f"Released by lead via cli at {released_at} (request.cli).",
        f"ubob pressed Extend 60 min at {moment_text(system.control.now())}: nothing to do.",
    ]
    assert answer["text"] == text
    # a button of a job whose pool is gone from the registry: the message loses its buttons too
    status, text = call(signed(press("s-nowhere", "warmpool_release", "UALICE", slack.url("message-x"))))
    assert text == "The warm pool of s-nowhere is gone or has moved on; nothing to do."
    replaced, _ = (m["body"] for m in slack.delivered("message-x"))
    assert replaced["replace_original"] is True
    assert replaced["blocks"][1]["text"]["text"] == (
        f"ualice pressed Release now at {moment_text(system.control.now())}: the pool is gone, or a later "
        "job took it; nothing to do."
    )


def test_requests_that_must_be_refused(system: System, slack: SlackStandIn) -> None:
    finish(system, "s-3", {"team": "vision", "owner": "alice"})
    body = press("s-3", "warmpool_release", "UALICE")
    assert call({"headers": {}, "body": body})[0] == 401  # unsigned
    assert call(signed(body, secret="forged"))[0] == 401
    assert call(signed(body, at=time.time() - 6 * 60))[0] == 401  # stale or replayed later
    assert call(signed("payload=" + "x" * 70_000))[0] == 413
    status, text = call(signed(press("s-3", "warmpool_release", "UMALLORY")))
    assert status == 200
    assert "only the owner or the team's admins" in text
    job = system.sagemaker.describe_training_job(TrainingJobName="s-3")
    assert job["WarmPoolStatus"]["Status"] == "Available"


def test_the_audit_trail_names_who_pressed_by_slack_user_id_granted_or_not(
    system: System, slack: SlackStandIn
) -> None:
    # Slack user names are neither unique nor stable: the trail carries the user id as well
    finish(system, "s-15", {"team": "vision", "owner": "alice"})
    assert call(signed(press("s-15", "warmpool_release", "UMALLORY")))[0] == 200
    assert call(signed(press("s-15", "warmpool_extend_30", "UALICE")))[0] == 200
    trail = system.registry.audit_trail("s-15")
    refused = [e for e in trail if e.what == "request-unauthorized"]
    assert len(refused) == 1
    assert dict(refused[0].details) == {
        "kind": "release",
        "minutes": 0,
        "user": "umallory",
        "user_id": "UMALLORY",
        "via": "slack",
        "reason": "not the pool's owner, an admin of its team or a platform admin",
    }
    decided = [e for e in trail if e.what == "decision" and e.details.get("trigger") == "user"]
    assert len(decided) == 1
    assert (decided[0].details["user"], decided[0].details["user_id"], decided[0].details["via"]) == (
        "ualice",
        "UALICE",
        "slack",
    )
    assert decided[0].details["rule"] == "request.slack"


def test_the_audit_trail_names_the_owner_the_policy_mapped_the_presser_to(
    system: System, slack: SlackStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    # A Slack user name is what its user chose (ubob); the jobs' owner tags and the policy name the
    # person bob. The trail said "asked by ubob (UBOB)": who that was, as an owner, was in the policy
    # of the day only.
    finish(system, "s-30", {"team": "vision", "owner": "alice"})
    assert call(signed(press("s-30", "warmpool_extend_30", "UBOB")))[1].startswith("extend s-30: done")
    assert call(signed(press("s-30", "warmpool_release", "UMALLORY")))[0] == 200
    trail = system.registry.audit_trail("s-30")
    (decided,) = [e for e in trail if e.what == "decision" and e.details.get("trigger") == "user"]
    assert (decided.details["user_id"], decided.details["user_owner"]) == ("UBOB", "bob")
    (refused,) = [e for e in trail if e.what == "request-unauthorized"]
    assert "user_owner" not in refused.details  # mapped to no owner
    capsys.readouterr()
    assert main(["pools", "show", "s-30"]) == 0
    out = capsys.readouterr().out
    said = [" ".join(line.split()[2:]) for line in out.splitlines() if "asked by" in line]
    assert said == [
        "keep-alive-updated extend (request.slack), asked by ubob (UBOB, owner bob) via slack, policy "
        "version 2",
        "decision extend (request.slack), asked by ubob (UBOB, owner bob) via slack, policy version 2",
        "request-unauthorized asked by umallory (UMALLORY) via slack to release it",
    ]


def test_a_refused_press_is_answered_where_the_person_who_pressed_sees_it(
    system: System, slack: SlackStandIn
) -> None:
    # Slack shows nothing of the acknowledgement's body for a button in a message (block_actions):
    # only what is posted to the press's response_url reaches the person. Mallory, an unmapped user
    # and alice on a message whose pool a later job took were answered in the acknowledgement alone,
    # and saw nothing happen.
    finish(system, "s-22", {"team": "vision", "owner": "alice"})
    status, text = call(signed(press("s-22", "warmpool_release", "UMALLORY", slack.url("mallory"))))
    assert status == 200
    (answer,) = slack.delivered("mallory")
    assert text == (
        "release s-22: refused: only the owner or the team's admins may change this pool (Slack user "
        "UMALLORY is mapped to no owner in notifications.slack_users); nothing was changed."
    )
    assert answer["body"]["text"] == text
    assert [b["text"]["text"] for b in answer["body"]["blocks"]] == [text]
    assert "replace_original" not in answer["body"]  # the message keeps its buttons
    # mallory mapped to an owner of her own is told no more than that she may not
    system.set_policy(
        {
            **POLICY,
            "notifications": {
                **POLICY["notifications"],
                "slack_users": {**POLICY["notifications"]["slack_users"], "mallory": "UMALLORY"},
            },
        }
    )
    status, text = call(signed(press("s-22", "warmpool_extend_30", "UMALLORY", slack.url("mapped"))))
    (answer,) = slack.delivered("mapped")
    only = "only the owner or the team's admins may change this pool"
    assert text == f"extend s-22: refused: {only}; nothing was changed."
    assert answer["body"]["text"] == text
    job = system.sagemaker.describe_training_job(TrainingJobName="s-22")
    assert job["WarmPoolStatus"]["Status"] == "Available"
    # a later job takes the pool: alice presses the old message's button
    system.sagemaker.create_training_job(
        **training_job_request("s-23", keep_alive_seconds=600, tags={"team": "vision", "owner": "alice"})
    )
    system.settle()
    status, text = call(signed(press("s-22", "warmpool_extend_30", "UALICE", slack.url("alice"))))
    replaced, answer = slack.delivered("alice")  # the old message's buttons gone, and the answer
    assert replaced["body"]["replace_original"] is True
    assert text == "The warm pool of s-22 is gone or has moved on; nothing to do."
    assert answer["body"]["text"] == text


def test_a_button_of_a_pool_whose_lineage_was_joined_since_acts_on_the_pool_its_job_is_in(
    system: System, slack: SlackStandIn
) -> None:
    # s-25 runs on s-24's warm pool, but s-24's events come late: s-25 is a pool of its own when it
    # ends, and its message's buttons name pool s-25. s-24's events then join the lineage (pool s-24).
    # Alice pressed "Extend" on s-25's message and was told its pool was gone, while it was warm.
    held = next_job_seen_first(system, "s-24", "s-25")
    system.control.run_for("s-25", 300)
    system.advance(400)
    (ready,) = [
        m["body"] for m in slack.delivered("vision") if m["body"]["text"].startswith("Warm pool ready: s-25")
    ]
    (buttons,) = [b for b in ready["blocks"] if b["type"] == "actions"]
    assert {json.loads(e["value"])["pool"] for e in buttons["elements"]} == {"s-25"}
    send(system, held)
    system.settle()
    assert system.registry.pool_id_for_job("s-25") == "s-24"
    before = system.registry.get("s-24")
    assert before is not None
    assert before.pool.job_name == "s-25"
    assert before.pool.expires_at is not None

    status, text = call(signed(press("s-25", "warmpool_extend_30", "UALICE", slack.url("respond"))))

    assert (status, text.split(" (")[0]) == (200, "extend s-25: done")
    after = system.registry.get("s-24")
    assert after is not None
    assert after.pool.override_until == before.pool.expires_at + timedelta(minutes=30)
    assert slack.delivered("respond")[0]["body"]["text"] == text


def test_a_press_that_fails_inside_warmpool_is_answered_so_and_kept_where_an_operator_sees_it(
    system: System, slack: SlackStandIn
) -> None:
    # SageMaker throttles the press's DescribeTrainingJob past the retries: the worker fails on it
    finish(system, "s-26", {"team": "vision", "owner": "alice"})
    before = system.registry.get("s-26")
    assert before is not None
    assert before.pool.expires_at is not None

    throttled: list[str] = []

    def throttle_once(**_: Any) -> None:  # the worker's clients keep the hook: it fails the first call
        if not throttled:
            throttled.append("DescribeTrainingJob")
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "Describe"
            )

    request = signed(press("s-26", "warmpool_extend_30", "UALICE", slack.url("respond")))
    with hooked("provide-client-params.sagemaker.DescribeTrainingJob", throttle_once):
        status, text = call(request)
    assert (status, text) == (
        200,
        "extend s-26: failed (ThrottlingException): the request may not have been carried out; press the "
        "button again in a minute.",
    )
    assert [m["body"]["text"] for m in slack.delivered("respond")] == [text]
    failed = system.registry.get("s-26")
    assert failed is not None
    assert failed.pool.override_until is None
    # kept in the press DLQ (its depth alarms), with why; never retried by SQS: nothing comes back
    (kept,) = system.messages(system.env.slack_press_dlq_url)
    assert kept["MessageAttributes"]["reason"]["StringValue"].startswith("failed (ThrottlingException): ")
    assert json.loads(kept["Body"])["press"]["job_name"] == "s-26"
    system.emulator.advance(600)
    assert system.presses.drain() == 0
    # she presses again (a new request): heard, and done
    status, text = call(signed(press("s-26", "warmpool_extend_30", "UALICE", slack.url("respond"), "2")))
    assert (status, text.split(" (")[0]) == (200, "extend s-26: done")
    done = system.registry.get("s-26")
    assert done is not None
    assert done.pool.override_until == before.pool.expires_at + timedelta(minutes=30)


def test_a_failed_press_whose_dlq_send_fails_too_is_told_to_its_person_once(
    system: System, slack: SlackStandIn
) -> None:
    # The press fails (SageMaker throttled), alice is told, and keeping the press in the DLQ fails too
    # (SQS throttled twice): SQS delivers the press again, and each delivery told her again, the second
    # and third that warmpool "could not finish" a request she had been told failed
    finish(system, "s-45", {"team": "vision", "owner": "alice"})
    throttled: list[str] = []

    def throttle_once(**_: Any) -> None:
        if not throttled:
            throttled.append("DescribeTrainingJob")
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "Describe"
            )

    dlq_failures: list[str] = []

    def dlq_fails_twice(params: dict[str, Any], **_: Any) -> None:
        if params.get("QueueUrl") == system.env.slack_press_dlq_url and len(dlq_failures) < 2:
            dlq_failures.append("SendMessage")
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "SendMessage")

    request = signed(press("s-45", "warmpool_extend_30", "UALICE", slack.url("respond")))
    with (
        hooked("provide-client-params.sagemaker.DescribeTrainingJob", throttle_once),
        hooked("provide-client-params.sqs.SendMessage", dlq_fails_twice),
    ):
        status, _ = call(request)
    assert status == 200
    assert len(dlq_failures) == 2  # delivered three times
    assert [m["body"]["text"] for m in slack.delivered("respond")] == [
        "extend s-45: failed (ThrottlingException): the request may not have been carried out; press the "
        "button again in a minute."
    ]
    (kept,) = system.messages(system.env.slack_press_dlq_url)  # kept all the same, for the operator
    assert json.loads(kept["Body"])["press"]["job_name"] == "s-45"
    record = system.registry.get("s-45")
    assert record is not None
    assert record.pool.override_until is None


def test_a_press_during_a_sagemaker_throttle_is_answered_before_the_worker_s_timeout(
    system: System, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SageMaker throttles: the describe answers after 5 tries, the update never; their retries (up to
    # 51 s of backoff a call) ran 36 s, past the worker's 30 s, where Lambda ends the try without a
    # word, and the person heard only after the visibility timeout that it "could not finish"
    finish(system, "s-27", {"team": "vision", "owner": "alice"})
    clock = virtual_backoff(monkeypatch)
    system.control.inject_faults("DescribeTrainingJob", "ThrottlingException", count=5)  # then answers
    system.control.inject_faults("UpdateTrainingJob", "ThrottlingException", count=10_000)
    started = clock()
    status, text = call(signed(press("s-27", "warmpool_extend_30", "UALICE", slack.url("respond"))))
    took = clock() - started
    assert took < SLACK_PRESSES_TIMEOUT_SECONDS, f"the press ran {took:.0f} s, past the worker's timeout"
    assert (status, text) == (
        200,
        "extend s-27: failed (ThrottlingException): the request may not have been carried out; press the "
        "button again in a minute.",
    )
    (kept,) = system.messages(system.env.slack_press_dlq_url)
    assert kept["MessageAttributes"]["reason"]["StringValue"].startswith("failed (ThrottlingException): ")
    record = system.registry.get("s-27")
    assert record is not None
    assert record.pool.override_until is None


def test_a_press_whose_try_ended_without_a_word_is_told_and_not_applied_again(
    system: System, slack: SlackStandIn
) -> None:
    # The worker's try ended without an answer (its timeout; out of memory): SQS brings the press back
    finish(system, "s-41", {"team": "vision", "owner": "alice"})
    before = system.registry.get("s-41")
    assert before is not None
    acknowledged = slack_interactive.handler(
        signed(press("s-41", "warmpool_extend_60", "UALICE", slack.url("respond"))), None
    )
    assert (
        json.loads(acknowledged["body"])["text"]
        == "Working on it: extend s-41 by 60 min; the outcome follows."
    )
    # the first receive: the function died with it (nothing done, nothing said, not deleted)
    (first,) = system.sqs.receive_message(QueueUrl=system.env.slack_press_queue_url, VisibilityTimeout=0)[
        "Messages"
    ]
    assert json.loads(first["Body"])["press"]["job_name"] == "s-41"
    system.presses.drain()  # SQS's next receive
    (answer,) = slack.delivered("respond")
    assert answer["body"]["text"] == (
        "extend s-41: failed: warmpool could not finish the request (its operators are alerted): it may "
        "not have been carried out; press the button again in a minute."
    )
    after = system.registry.get("s-41")
    assert after is not None
    assert after.pool.override_until is None  # not applied (the first try may have, before it died)
    (kept,) = system.messages(system.env.slack_press_dlq_url)
    assert kept["MessageAttributes"]["reason"]["StringValue"] == "an earlier try of the press did not finish"


def test_a_press_that_waited_too_long_is_not_applied(system: System, slack: SlackStandIn) -> None:
    # an outage held the press for ten minutes (or an operator moved it back from the DLQ): alice may
    # have moved on, and a release ten minutes late would end the pool her next job is about to take
    finish(system, "s-42", {"team": "vision", "owner": "alice"})
    slack_interactive.handler(signed(press("s-42", "warmpool_release", "UALICE", slack.url("respond"))), None)
    system.emulator.advance(600)
    system.presses.drain()
    (answer,) = slack.delivered("respond")
    assert answer["body"]["text"] == (
        "release s-42: not carried out: it waited 10 min to be heard; press the button again if you still "
        "want it."
    )
    job = system.sagemaker.describe_training_job(TrainingJobName="s-42")
    assert job["WarmPoolStatus"]["Status"] == "Available"


def test_a_press_the_endpoint_cannot_queue_is_answered_so_and_heard_again(
    system: System, slack: SlackStandIn
) -> None:
    finish(system, "s-43", {"team": "vision", "owner": "alice"})

    failed: list[str] = []

    def fail_once(**_: Any) -> None:
        if not failed:
            failed.append("SendMessage")
            raise ClientError(
                {"Error": {"Code": "KMS.ThrottlingException", "Message": "slow"}}, "SendMessage"
            )

    request = signed(press("s-43", "warmpool_extend_30", "UALICE", slack.url("respond")))
    with hooked("provide-client-params.sqs.SendMessage", fail_once), pytest.raises(ClientError):
        slack_interactive.handler(request, None)  # the function's error, which its alarm counts
    (answer,) = slack.delivered("respond")
    assert answer["body"]["text"] == (
        "extend s-43: failed (KMS.ThrottlingException): the request was not carried out; press the button "
        "again in a minute."
    )
    # Slack sends the same request again: heard (its replay marker was removed), and done
    retried = {**request, "headers": {**request["headers"], "X-Slack-Retry-Num": "1"}}
    status, text = call(retried)
    assert (status, text.split(" (")[0]) == (200, "extend s-43: done")


def test_a_press_on_a_pool_gone_or_a_job_deleted_says_who_pressed_in_the_trail(
    system: System, slack: SlackStandIn
) -> None:
    # The engine records what it finds: the pool gone, the job deleted. For a press, that entry was all
    # the trail had of it, without who pressed.
    tags = {"team": "vision", "owner": "alice"}
    finish(system, "s-28", tags)
    assert call(signed(press("s-28", "warmpool_release", "UALICE")))[1].startswith("release s-28: done")
    status, text = call(signed(press("s-28", "warmpool_extend_30", "UBOB", slack.url("bob"))))
    assert (status, text) == (
        200,
        "extend s-28: refused (status: s-28 has no Available warm pool: it is gone (Terminated); nothing to "
        "extend)",
    )
    last = system.registry.audit_trail("s-28")[-1]
    assert (last.what, last.details["state"]) == ("recorded", "Terminated")
    assert (last.details["user"], last.details["user_id"], last.details["via"]) == ("ubob", "UBOB", "slack")

    finish(system, "s-29", tags, volume_size_gb=70)
    # SageMaker's DeleteTrainingJob, which neither moto nor the emulator has
    del sagemaker_backends[ACCOUNT_ID][REGION].training_jobs["s-29"]
    del system.emulator.jobs[(ACCOUNT_ID, REGION, "s-29")]
    status, text = call(signed(press("s-29", "warmpool_release", "UALICE", slack.url("alice"))))
    assert (status, text) == (
        200,
        "release s-29: refused (status: s-29 has no Available warm pool: SageMaker has no training job of "
        "that name; nothing to release)",
    )
    assert slack.delivered("alice")[-1]["body"]["text"] == text
    last = system.registry.audit_trail("s-29")[-1]
    assert last.what == "job-missing"
    assert (last.details["user"], last.details["user_id"], last.details["via"]) == (
        "ualice",
        "UALICE",
        "slack",
    )


def test_answers_to_a_forged_button_value_are_escaped_and_cut(system: System, slack: SlackStandIn) -> None:
    # a button value or action id nobody of ours wrote (the job is not one SageMaker would name) is
    # refused, and what the answer quotes of it is escaped like a notification's: it can mention no channel
    finish(system, "s-14", {"team": "vision", "owner": "alice"})
    payload = json.loads(parse_qs(press("s-14", "warmpool_release", "UALICE"))["payload"][0])
    payload["actions"][0]["value"] = json.dumps({"job": "<!channel> " + "x" * 50_000, "pool": "s-14"})
    status, text = call(signed(urlencode({"payload": json.dumps(payload)})))
    assert status == 400
    assert "<!channel>" not in text
    assert text == FORGED_VALUE
    payload["actions"][0]["action_id"] = "<!here>"
    status, text = call(signed(urlencode({"payload": json.dumps(payload)})))
    assert status == 400
    assert text == "payload.actions[0].action_id: unknown action '&lt;!here&gt;'"
    job_status = system.sagemaker.describe_training_job(TrainingJobName="s-14")
    assert job_status["WarmPoolStatus"]["Status"] == "Available"


USER_ID_SHAPE = "U or W, then up to 63 capitals and digits"
FORGED_VALUE = (
    "payload.actions[0].value: job and pool must be training job names (at most 63 letters, digits and "
    "hyphens)"
)


@pytest.mark.parametrize(
    ("field", "value", "answer"),
    [
        ("actions", {"0": "a mapping"}, "payload.actions: missing, or not a list of actions"),
        (
            "action_id",
            ["warmpool_release"],
            "payload.actions[0].action_id: unknown action ['warmpool_release']",
        ),
        ("user", {"id": {"id": "UALICE"}}, "payload.user.id: missing, or not a Slack user id (a string)"),
        ("value", {"job": None, "pool": None}, 'payload.actions[0].value: must be {"job": ..., "pool": ...}'),
        # longer than a DynamoDB key: DynamoDB's ValidationException failed the request
        ("user", {"id": "U" + "A" * 3000}, f"payload.user.id: not a Slack user id ({USER_ID_SHAPE})"),
        ("user", {"id": "<!channel>"}, f"payload.user.id: not a Slack user id ({USER_ID_SHAPE})"),
        ("value", {"job": "s-17", "pool": "s" * 3000}, FORGED_VALUE),
        ("value", {"job": "s-17 or <!here>", "pool": "s-17"}, FORGED_VALUE),
    ],
    ids=[
        "actions-a-mapping",
        "action-id-a-list",
        "user-id-a-mapping",
        "job-null",
        "user-id-3000-characters",
        "user-id-a-mention",
        "pool-3000-characters",
        "job-no-sagemaker-name",
    ],
)
def test_a_press_of_another_shape_is_answered_400_naming_the_field(
    system: System, slack: SlackStandIn, field: str, value: object, answer: str
) -> None:
    # a mapping where Slack sends a list (or a list where it sends a string) raised, and the request
    # failed; a null job was answered as the job "None"
    finish(system, "s-17", {"team": "vision", "owner": "alice"})
    payload = json.loads(parse_qs(press("s-17", "warmpool_release", "UALICE"))["payload"][0])
    if field == "action_id":
        payload["actions"][0]["action_id"] = value
    elif field == "value":
        payload["actions"][0]["value"] = json.dumps(value)
    else:
        payload[field] = value
    assert call(signed(urlencode({"payload": json.dumps(payload)}))) == (400, slack_text(answer))
    job = system.sagemaker.describe_training_job(TrainingJobName="s-17")
    assert job["WarmPoolStatus"]["Status"] == "Available"


@pytest.mark.parametrize("response_url", ["not a url", 5, "file:///etc/passwd", "http://"])
def test_a_press_whose_response_url_cannot_be_posted_to_is_refused_before_it_is_applied(
    system: System, slack: SlackStandIn, response_url: object
) -> None:
    # the message update comes after the action: it failed there, the pool already released and the
    # person answered with an error
    finish(system, "s-16", {"team": "vision", "owner": "alice"})
    payload = json.loads(parse_qs(press("s-16", "warmpool_release", "UALICE"))["payload"][0])
    payload["response_url"] = response_url
    status, text = call(signed(urlencode({"payload": json.dumps(payload)})))
    assert (status, text) == (
        400,
        f"payload.response_url: must be the URL Slack gives (on {slack.origin}), or absent",
    )
    job = system.sagemaker.describe_training_job(TrainingJobName="s-16")
    assert job["WarmPoolStatus"]["Status"] == "Available"


@pytest.mark.parametrize(
    "response_url",
    [
        "https://hooks.slack.com@evil.example/actions/T0/1/abc",  # the host is evil.example
        "https://hooks.slack.com.evil.example/actions/T0/1/abc",
        "https://evil.example/actions/T0/1/abc?https://hooks.slack.com/",
        "http://hooks.slack.com/actions/T0/1/abc",  # not TLS
        "https://hooks.slack.com:8443/actions/T0/1/abc",
        "https://someone:secret@hooks.slack.com/actions/T0/1/abc",
        "https://hooks.slack.com\\@evil.example/actions/T0/1/abc",
        "https://hooks.slack.com/actions/T0/1/a\tbc",  # its error would quote the URL into the log
        "https://169.254.169.254/latest/meta-data/",
    ],
)
def test_a_response_url_off_slack_s_hosts_is_refused_before_the_press_is_applied(
    system: System, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch, response_url: str
) -> None:
    # A body signed with a leaked signing secret had the function post the outcome wherever its
    # response_url said: any host, scheme or port the function can reach (SSRF). As deployed, only
    # Slack's hosts are answered on.
    monkeypatch.delenv("SLACK_RESPONSE_ORIGINS")
    slack_interactive.runtime.cache_clear()
    finish(system, "s-18", {"team": "vision", "owner": "alice"})
    payload = json.loads(parse_qs(press("s-18", "warmpool_release", "UALICE"))["payload"][0])
    payload["response_url"] = response_url
    status, text = call(signed(urlencode({"payload": json.dumps(payload)})))
    assert (status, text) == (
        400,
        "payload.response_url: must be the URL Slack gives (on https://hooks.slack.com or "
        "https://hooks.slack-gov.com), or absent",
    )
    job = system.sagemaker.describe_training_job(TrainingJobName="s-18")
    assert job["WarmPoolStatus"]["Status"] == "Available"


def test_the_outcome_of_a_press_is_posted_to_no_host_but_slack_s(system: System, slack: SlackStandIn) -> None:
    # another server the function can reach (here a second stand-in, on another port of loopback)
    elsewhere = SlackStandIn().start()
    try:
        finish(system, "s-19", {"team": "vision", "owner": "alice"})
        status, _ = call(signed(press("s-19", "warmpool_release", "UALICE", elsewhere.url("collect"))))
        assert status == 400
        assert elsewhere.received == []
        status, text = call(signed(press("s-19", "warmpool_release", "UALICE", slack.url("respond"))))
        assert (status, text.split(" (")[0]) == (200, "release s-19: done")
        assert slack.delivered("respond")[-1]["body"]["text"] == text
    finally:
        elsewhere.stop()


@pytest.mark.parametrize(
    ("timestamp", "signature", "base64_body"),
    [
        ("\u00b2", "v0=0", False),  # a digit to str.isdigit, not to int()
        ("9" * 5000, "v0=0", False),  # more digits than int() converts
        ("NOW", "v0=\u00e9", False),  # not ASCII: the HMAC comparison raised
        ("NOW", "v0=" + "0" * 64, True),  # a body that is not base64
    ],
    ids=["superscript-digit", "5000-digits", "non-ascii-signature", "not-base64"],
)
def test_hostile_headers_and_bodies_are_refused_as_unsigned(
    system: System, slack: SlackStandIn, timestamp: str, signature: str, base64_body: bool
) -> None:
    finish(system, "s-12", {"team": "vision", "owner": "alice"})
    headers = {
        "X-Slack-Request-Timestamp": timestamp.replace("NOW", str(int(time.time()))),
        "X-Slack-Signature": signature,
    }
    body = "%%% not base64 %%%" if base64_body else press("s-12", "warmpool_release", "UALICE")
    assert call({"headers": headers, "body": body, "isBase64Encoded": base64_body})[0] == 401
    job = system.sagemaker.describe_training_job(TrainingJobName="s-12")
    assert job["WarmPoolStatus"]["Status"] == "Available"


def test_outside_working_hours_a_press_is_judged_by_the_presser_s_permission_not_the_owner_s(
    system: System, slack: SlackStandIn
) -> None:
    # bob may keep pools warm outside working hours, alice may not; both are vision's admins, so each
    # may press on the other's pool. Monday 09:00 UTC is outside these working hours.
    system.set_policy(
        {
            **POLICY,
            "defaults": {
                **POLICY["defaults"],
                "working_hours": {"timezone": "UTC", "start": "20:00", "end": "22:00", "outside": "shorten"},
            },
            "owners": {"bob": {"overrides": {"allow_outside_working_hours": True}}},
            "notifications": {
                **POLICY["notifications"],
                "teams": {"vision": {"admins": ["alice", "bob"], "slack_webhook_key": "vision"}},
            },
        }
    )
    finish(system, "s-alice", {"team": "vision", "owner": "alice"})
    finish(system, "s-bob", {"team": "vision", "owner": "bob"}, volume_size_gb=60)  # not alice's pool
    alices, bobs = system.registry.get("s-alice"), system.registry.get("s-bob")
    assert alices is not None
    assert alices.pool.expires_at is not None
    assert bobs is not None
    assert bobs.pool.expires_at is not None
    updates_before = len(system.control.update_calls())

    status, text = call(signed(press("s-alice", "warmpool_extend_60", "UBOB")))
    assert status == 200
    assert text.startswith("extend s-alice: done")
    assert "ubob (owner bob) may extend outside working hours (owners.bob.overrides" in text
    kept = system.registry.get("s-alice")
    assert kept is not None
    assert kept.pool.override_until == alices.pool.expires_at + timedelta(minutes=60)

    status, text = call(signed(press("s-bob", "warmpool_extend_60", "UALICE")))
    assert status == 200
    assert text.startswith("extend s-bob: refused")
    assert "ualice (owner alice) may not extend outside working hours (defaults.overrides" in text
    unchanged = system.registry.get("s-bob")
    assert unchanged is not None
    assert (unchanged.pool.override_until, unchanged.pool.expires_at) == (None, bobs.pool.expires_at)
    # SageMaker saw alice's pool kept an hour longer, and nothing for bob's
    updates = system.control.update_calls()[updates_before:]
    assert [u["job"] for u in updates] == ["s-alice"]


def test_policy_refusal_says_why(system: System, slack: SlackStandIn) -> None:
    policy = json.loads(json.dumps(POLICY))
    policy["defaults"]["overrides"]["max_extend_minutes"] = 30
    system.set_policy(policy)
    finish(system, "s-4", {"team": "vision", "owner": "alice"})
    status, text = call(signed(press("s-4", "warmpool_extend_60", "UALICE")))
    assert status == 200
    assert "refused" in text
    assert "max_extend_minutes" in text


def test_an_extension_refused_says_the_pool_was_released_and_not_that_it_is_kept(
    system: System, slack: SlackStandIn
) -> None:
    # The team cut its maximum horizon to 5 minutes after alice's pool was planned an hour; ten minutes
    # in, she presses "Extend 30 min". Refused, the pool is decided as if nobody had asked: released
    # now. The answer said "refused (...; kept warm until 10:30 on request; ...)" and not that her pool
    # was gone.
    hour = {**POLICY, "defaults": {**POLICY["defaults"], "keep_alive_strategy": "fixed-3600"}}
    system.set_policy(hour)
    finish(system, "s-31", {"team": "vision", "owner": "alice"})
    before = system.registry.get("s-31")
    assert before is not None
    assert before.pool.expires_at is not None
    asked = before.pool.expires_at + timedelta(minutes=30)
    system.advance(600)
    system.set_policy({**hour, "defaults": {**hour["defaults"], "max_horizon_minutes": 5}})

    status, text = call(signed(press("s-31", "warmpool_extend_30", "UALICE", slack.url("respond"))))

    assert status == 200
    job = system.sagemaker.describe_training_job(TrainingJobName="s-31")
    assert job["WarmPoolStatus"]["Status"] == "Terminated"
    assert text.startswith("extend s-31: refused (defaults.max_horizon_minutes: ")
    assert text.endswith("; without the request, the policy releases it now)")
    assert f"asked to keep it warm until {moment_text(asked)}" in text
    assert f"kept warm until {moment_text(asked)}" not in text
    assert slack.delivered("respond")[0]["body"]["text"] == text


def test_a_refusal_naming_policy_fields_shows_in_slack_as_written(
    system: System, slack: SlackStandIn
) -> None:
    """The answer posted to the message's thread names fields like `max_extend_minutes`: as top-level
    text alone Slack would read it as mrkdwn (`_extend_` in italics), so it comes in plain_text blocks."""
    policy = json.loads(json.dumps(POLICY))
    policy["defaults"]["overrides"]["max_extend_minutes"] = 30
    system.set_policy(policy)
    finish(system, "s-14", {"team": "vision", "owner": "alice"})
    status, text = call(signed(press("s-14", "warmpool_extend_60", "UALICE", slack.url("respond"))))
    assert status == 200
    assert "max_extend_minutes" in text
    (answer,) = slack.delivered("respond")
    blocks = answer["body"]["blocks"]
    assert blocks
    assert slack_refusals(blocks) == []
    assert formatted_by_slack(blocks) == []
    assert "\n".join(b["text"]["text"] for b in blocks) == text


def test_a_failure_reason_slack_would_format_shows_as_written(system: System, slack: SlackStandIn) -> None:
    """Slack's mrkdwn has no escape for `*`, `_`, `~` or a backtick: the reason is plain_text, which Slack
    shows as written; the owner's mention, the one piece of mrkdwn, still mentions."""
    system.sagemaker.create_training_job(
        **training_job_request("m-1", keep_alive_seconds=600, tags={"team": "vision", "owner": "alice"})
    )
    system.settle()
    reason = "ValueError: bad *value* in my_var_name, ~was~ `x` & <y>"
    system.control.fail_job("m-1", reason=reason)
    system.settle()
    (message,) = slack.delivered("vision")
    blocks = message["body"]["blocks"]
    assert slack_refusals(blocks) == []
    assert formatted_by_slack(blocks) == []
    assert blocks[0]["text"] == {"type": "mrkdwn", "text": "<@UALICE>", "verbatim": True}
    (failed,) = [b["text"] for b in blocks if "Job failed" in b.get("text", {}).get("text", "")]
    assert failed["type"] == "plain_text"
    assert "Job failed: ValueError: bad *value* in my_var_name, ~was~ `x` &amp; &lt;y&gt;." in failed["text"]


def test_an_extension_a_budget_cuts_short_is_answered_partly_done_with_the_time_it_got(
    system: System, slack: SlackStandIn
) -> None:
    # 3.6 $/h: an idle second costs a tenth of a cent, and the team may idle 3 $ a day: 50 minutes.
    # The plan keeps the pool 30 minutes; "Extend 60 min" asks for 90, the budget pays for 50.
    budgeted = {
        **POLICY,
        "prices": {"ml.g5.2xlarge": 3.6},
        "defaults": {**POLICY["defaults"], "budget": {"daily_usd": 3.0}},
    }
    system.set_policy(budgeted)
    finish(system, "s-14", {"team": "vision", "owner": "alice"})
    before = system.registry.get("s-14")
    assert before is not None
    assert before.pool.expires_at is not None
    assert before.pool.available_since is not None
    asked = before.pool.expires_at + timedelta(minutes=60)
    status, text = call(signed(press("s-14", "warmpool_extend_60", "UALICE", slack.url("respond"))))
    assert status == 200
    after = system.registry.get("s-14")
    assert after is not None
    assert after.pool.expires_at is not None
    assert before.pool.expires_at < after.pool.expires_at < asked  # extended, as far as the budget allows
    kept = after.pool.expires_at
    assert abs((kept - before.pool.available_since).total_seconds() - 3000) <= 30
    # the answer says so: partly done, until when, of what was asked, and the limit that cut it
    assert text.startswith("extend s-14: partly done (defaults.budget.daily_usd: ")
    assert f"kept warm until {moment_text(kept)} of the {moment_text(asked)} asked" in text
    assert "the team's daily idle budget has $" in text
    # and never that the asked time is kept
    assert f"asked to keep it warm until {moment_text(asked)}" in text
    assert f"kept warm until {moment_text(asked)} on request" not in text
    assert slack.delivered("respond")[0]["body"]["text"] == text
    # what was granted is promised, no more
    assert after.pool.override_until == kept


def test_a_replayed_request_is_answered_but_not_applied_again(system: System, slack: SlackStandIn) -> None:
    finish(system, "s-11", {"team": "vision", "owner": "alice"})
    before = system.registry.get("s-11")
    assert before is not None
    assert before.pool.expires_at is not None
    request = signed(press("s-11", "warmpool_extend_60", "UALICE"))
    assert call(request)[0] == 200
    updates_before = len(system.control.update_calls())
    # the same signed bytes again within the 5 minutes: a captured press sent twice
    assert call(dict(request)) == (200, "already handled")
    assert call(dict(request)) == (200, "already handled")
    record = system.registry.get("s-11")
    assert record is not None
    assert record.pool.override_until == before.pool.expires_at + timedelta(minutes=60)  # one hour, once
    assert system.control.update_calls()[updates_before:] == []
    # a new press of the same button (Slack signs it anew), once the repeat window is over, is heard
    system.emulator.advance(slack_interactive.REPEAT_WINDOW_SECONDS + 1)
    status, text = call(signed(press("s-11", "warmpool_extend_60", "UALICE", trigger_id="second")))
    assert (status, "done" in text) == (200, True)
    record = system.registry.get("s-11")
    assert record is not None
    assert record.pool.override_until == before.pool.expires_at + timedelta(minutes=120)


def test_the_same_button_pressed_twice_within_seconds_extends_once(
    system: System, slack: SlackStandIn
) -> None:
    # alice double-clicks "Extend 60 min" (two requests, signed apart: no replay): the pool was kept warm
    # two hours longer, past what she asked
    finish(system, "s-40", {"team": "vision", "owner": "alice"})
    before = system.registry.get("s-40")
    assert before is not None
    assert before.pool.expires_at is not None
    asked = before.pool.expires_at + timedelta(minutes=60)
    first = call(signed(press("s-40", "warmpool_extend_60", "UALICE", slack.url("respond"), trigger_id="1")))
    assert (first[0], first[1].split(" (")[0]) == (200, "extend s-40: done")
    updates_before = len(system.control.update_calls())
    system.emulator.advance(3)
    second = call(signed(press("s-40", "warmpool_extend_60", "UALICE", slack.url("respond"), trigger_id="2")))
    assert second == (
        200,
        "extend s-40: already asked: you pressed Extend 60 min 3 s ago, and this press is that request "
        "again; nothing more was done. To add more time, press it again after 30 s.",
    )
    assert [m["body"]["text"] for m in slack.delivered("respond")] == [first[1], second[1]]
    record = system.registry.get("s-40")
    assert record is not None
    assert record.pool.override_until == asked  # one hour, once
    assert system.control.update_calls()[updates_before:] == []
    # another person's press, or another button, is a request of its own
    status, text = call(signed(press("s-40", "warmpool_extend_30", "UALICE", slack.url("respond"))))
    assert (status, text.split(" (")[0]) == (200, "extend s-40: done")
    record = system.registry.get("s-40")
    assert record is not None
    assert record.pool.override_until == asked + timedelta(minutes=30)
    status, text = call(signed(press("s-40", "warmpool_extend_60", "UBOB", slack.url("respond"))))
    assert (status, text.split(" (")[0]) == (200, "extend s-40: done")
    # and once the window is over, the same button pressed again asks for more
    system.emulator.advance(slack_interactive.REPEAT_WINDOW_SECONDS)
    status, text = call(signed(press("s-40", "warmpool_extend_60", "UALICE", trigger_id="3")))
    assert (status, text.split(" (")[0]) == (200, "extend s-40: done")
    record = system.registry.get("s-40")
    assert record is not None
    assert record.pool.override_until == asked + timedelta(minutes=30 + 60 + 60)


def test_a_press_that_repeats_the_first_is_in_the_pool_s_trail_once(
    system: System, slack: SlackStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    # alice double-clicks "Extend 60 min": the second press was answered "already asked" and logged,
    # but the trail a team lead reads (`pools show`) had no word of it
    finish(system, "s-44", {"team": "vision", "owner": "alice"})
    first = call(signed(press("s-44", "warmpool_extend_60", "UALICE", slack.url("respond"), trigger_id="1")))
    assert first[1].startswith("extend s-44: done")
    system.emulator.advance(3)
    slack_interactive.handler(
        signed(press("s-44", "warmpool_extend_60", "UALICE", slack.url("respond"), trigger_id="2")), None
    )
    (queued,) = system.sqs.receive_message(QueueUrl=system.env.slack_press_queue_url)["Messages"]
    for _ in range(2):  # SQS delivers the second press twice (as it may: at least once)
        system.sqs.send_message(QueueUrl=system.env.slack_press_queue_url, MessageBody=queued["Body"])
    system.sqs.delete_message(
        QueueUrl=system.env.slack_press_queue_url, ReceiptHandle=queued["ReceiptHandle"]
    )
    system.presses.drain()
    assert [m["body"]["text"].split(":")[1] for m in slack.delivered("respond")[1:]] == [" already asked"] * 2
    (repeated,) = [e for e in system.registry.audit_trail("s-44") if e.what == "request-repeated"]
    assert dict(repeated.details) == {
        "kind": "extend",
        "minutes": 60,
        "user": "ualice",
        "user_id": "UALICE",
        "user_owner": "alice",
        "via": "slack",
        "button": "Extend 60 min",
        "first_pressed_seconds_ago": 3,
        "reason": "the same button pressed again by the same person within 30 s: that request again; nothing "
        "more was done",
    }
    capsys.readouterr()
    assert main(["pools", "show", "s-44"]) == 0
    lines = capsys.readouterr().out.splitlines()
    (at,) = [i for i, line in enumerate(lines) if "request-repeated" in line]
    assert " ".join(lines[at].split()[2:]) == (
        "request-repeated asked by ualice (UALICE, owner alice) via slack to extend it 60 min"
    )
    assert lines[at + 1].strip() == "button=Extend 60 min first_pressed_seconds_ago=3"
    assert lines[at + 2].strip() == (
        "- the same button pressed again by the same person within 30 s: that request again; nothing more "
        "was done"
    )


def test_an_extension_the_pool_s_lifetime_cuts_says_until_when_it_is_really_kept(
    system: System, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A deployment whose pools live an hour: alice's ends at 10:00, warm until 09:30. "Extend 60 min"
    # asks for 10:30; the pool is kept until 10:00, and the answer said "kept warm until 10:30".
    monkeypatch.setenv("MAX_LIFETIME_SECONDS", "3600")
    for module in (lifecycle, reconciler, slack_interactive):
        module.runtime.cache_clear()
    finish(system, "s-27", {"team": "vision", "owner": "alice"})
    before = system.registry.get("s-27")
    assert before is not None
    assert before.pool.lifetime_started_at is not None
    assert before.pool.expires_at is not None
    end = before.pool.lifetime_started_at + timedelta(hours=1)
    asked = before.pool.expires_at + timedelta(minutes=60)
    assert before.pool.expires_at < end < asked

    status, text = call(signed(press("s-27", "warmpool_extend_60", "UALICE", slack.url("respond"))))

    assert status == 200
    after = system.registry.get("s-27")
    assert after is not None
    assert after.pool.expires_at == after.pool.override_until == end
    assert text.startswith("extend s-27: done (request.slack: ")
    assert (
        f"kept warm until {moment_text(end)} on request, when the pool's maximum lifetime ends "
        f"({moment_text(asked)} asked)"
    ) in text
    assert f"kept warm until {moment_text(asked)}" not in text
    assert slack.delivered("respond")[0]["body"]["text"] == text


def test_a_flood_from_one_user_is_throttled(system: System, slack: SlackStandIn) -> None:
    finish(system, "s-5", {"team": "vision", "owner": "alice"})
    limit = slack_interactive.MAX_REQUESTS_PER_MINUTE
    statuses = [
        call(signed(press("s-5", "warmpool_extend_30", "UALICE", trigger_id=f"t{i}")))[0]
        for i in range(limit + 2)
    ]
    assert statuses == [200] * limit + [429] * 2
    system.emulator.advance(60)  # the next minute of the engine's clock: heard again
    assert call(signed(press("s-5", "warmpool_extend_30", "UALICE", trigger_id="later")))[0] == 200


def test_logs_never_contain_webhook_urls_or_the_signing_secret(
    system: System, slack: SlackStandIn, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    # warmpool's own logs at DEBUG; botocore stays at its default level, as in Lambda (at DEBUG botocore
    # prints whole response bodies, secrets included: never enable it in production).
    caplog.set_level(logging.DEBUG, logger="warmpool")
    slack.answers.extend([404])
    finish(system, "s-6", {"team": "vision", "owner": "alice"})
    call(signed(press("s-6", "warmpool_release", "UALICE")))
    call(signed(press("s-6", "warmpool_release", "UALICE"), secret="forged"))
    captured = caplog.text + capsys.readouterr().out
    assert slack.url("vision") not in captured
    assert SIGNING_SECRET not in captured


def test_logs_carry_no_webhook_or_response_url_even_at_the_info_level(
    system: System, slack: SlackStandIn, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    # The functions' log level set to INFO in Lambda (its application log level) logs every library's
    # INFO: slack-sdk logged each retry with the URL it retried, a webhook's token or a press's
    # response_url, either of which lets anyone who reads the log post to the channel.
    caplog.set_level(logging.INFO)
    slack.answers.extend([429, 500])  # the notifier retries both
    finish(system, "s-20", {"team": "vision", "owner": "alice"})
    assert len(slack.delivered("vision")) == 1
    slack.answers.extend([500, 500, 500])  # the answer to a press fails after its retries, and is logged
    status, _ = call(signed(press("s-20", "warmpool_extend_30", "UALICE", slack.url("respond/T0/1/tok"))))
    assert status == 200
    call(signed(press("s-20", "warmpool_release", "UALICE"), secret="forged"))  # refused, logged
    captured = caplog.text + capsys.readouterr().out
    assert "could not update the Slack message" in captured  # the failure is in the log...
    assert slack.origin not in captured  # ...not where it went: neither the webhook nor the response URL
    assert SIGNING_SECRET not in captured
