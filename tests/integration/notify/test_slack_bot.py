"""Bot-token mode: a channel whose value in the webhooks secret is its id is posted to with
`chat.postMessage` and the Slack app's bot token; a message with buttons is kept with its pool, and
updated (`chat.update`) to one without buttons when the pool ends. Against a fake Slack Web API."""

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from warmpool.cli.main import main
from warmpool.domain.clock import moment_text
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import notifier
from warmpool.settings import NotifierSettings, SettingsError

from tests.integration.conftest import System, first_send_fails
from tests.integration.notify.slack_api_fake import SlackApiFake
from tests.integration.notify.test_notify import POLICY, call, finish, press, redirecting, signed
from tests.integration.notify.test_slack_secrets import logged_errors

TOKEN = "xoxb-1111-2222-abcdef"
VISION = "C0VISION01"


@pytest.fixture
def api(system: System, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackApiFake]:
    fake = SlackApiFake().start()
    monkeypatch.setenv("SLACK_API_URL", fake.url)
    notifier.runtime.cache_clear()
    put_secret(system, {"bot_token": TOKEN, "vision": VISION, "platform": system.slack.url("platform")})
    system.set_policy(POLICY)
    yield fake
    fake.stop()


def put_secret(system: System, value: dict[str, str]) -> None:
    boto3.client("secretsmanager").put_secret_value(
        SecretId=system.env.slack_webhooks_secret_arn, SecretString=json.dumps(value)
    )


def kept_messages(system: System, pool_id: str) -> list[dict[str, Any]]:
    """The registry's items of the pool's Slack messages (channel and ts)."""
    items = boto3.client("dynamodb").query(
        TableName=system.env.pools_table,
        KeyConditionExpression="pk = :p AND begins_with(sk, :m)",
        ExpressionAttributeValues={":p": {"S": f"POOL#{pool_id}"}, ":m": {"S": "SLACKMSG#"}},
    )["Items"]
    return [
        {k: v.get("S") for k, v in item.items() if k in ("channel", "ts", "job_name", "kind")}
        for item in items
    ]


def block_types(call: dict[str, Any]) -> list[str]:
    return [b["type"] for b in call["body"]["blocks"]]


def test_a_channel_given_by_its_id_is_posted_with_the_bot_token_and_the_message_is_kept(
    system: System, api: SlackApiFake
) -> None:
    finish(system, "v-1", {"team": "vision", "owner": "alice"})
    (post,) = api.calls
    assert (post["method"], post["auth"], post["body"]["channel"]) == (
        "chat.postMessage",
        f"Bearer {TOKEN}",
        VISION,
    )
    assert post["body"]["text"].startswith("Warm pool ready: v-1 ")
    assert "actions" in block_types(post)  # Extend and Release, as from a webhook
    assert kept_messages(system, "v-1") == [
        {"channel": VISION, "ts": post["ts"], "job_name": "v-1", "kind": "pool-ready"}
    ]
    assert system.slack.received == []  # no webhook was used


def test_a_pool_released_from_the_cli_has_its_message_updated_without_buttons(
    system: System, api: SlackApiFake, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: the "pool ready" message kept its Extend and Release buttons after the team lead released
    # the pool from the CLI, until someone pressed one
    finish(system, "v-2", {"team": "vision", "owner": "alice"})
    (ready,) = api.done("chat.postMessage")
    system.emulator.advance(60)
    released_at = moment_text(system.control.now())
    assert main(["pools", "release", "v-2", "--user", "lead"]) == 0
    capsys.readouterr()
    system.settle()
    posted, (update,) = api.done("chat.postMessage"), api.done("chat.update")
    assert [p["body"]["text"].splitlines()[0] for p in posted[1:]] == ["Warm pool of v-2 released"]
    assert (update["body"]["channel"], update["body"]["ts"], update["auth"]) == (
        VISION,
        ready["ts"],
        f"Bearer {TOKEN}",
    )
    assert block_types(update) == ["header", "section"]  # no buttons
    assert update["body"]["blocks"][0]["text"]["text"] == "Warm pool of v-2 released"
    lines = update["body"]["blocks"][1]["text"]["text"].splitlines()
    assert lines[0] == f"Released by lead via cli at {released_at}."  # who, as its audit entry says
    assert lines[1].startswith("request.cli: ")
    assert kept_messages(system, "v-2") == []  # done with
    system.settle()
    assert len(api.done("chat.update")) == 1  # not again


def test_a_rate_limited_update_is_retried_and_nothing_is_posted_twice(
    system: System, api: SlackApiFake, capsys: pytest.CaptureFixture[str]
) -> None:
    finish(system, "v-3", {"team": "vision", "owner": "alice"})
    (ready,) = api.done("chat.postMessage")
    released_at = moment_text(system.control.now())
    api.retry_after = "30"  # longer than the notifier waits (5 s): the record goes back to the queue
    api.answers.extend([None, 429])  # the released notice posted, its message's update rate limited
    assert main(["pools", "release", "v-3", "--user", "lead"]) == 0
    capsys.readouterr()
    system.settle()
    system.emulator.advance(300)
    system.settle()
    methods = [(c["method"], c["ok"]) for c in api.calls]
    assert methods == [
        ("chat.postMessage", True),  # pool ready
        ("chat.postMessage", True),  # released
        ("chat.update", False),  # 429, Retry-After 30 s: back to the queue
        ("chat.update", True),  # the record's retry: the released notice is not posted again
    ]
    update = api.done("chat.update")[0]
    assert update["body"]["ts"] == ready["ts"]
    assert (
        update["body"]["blocks"][1]["text"]["text"].splitlines()[0]
        == f"Released by lead via cli at {released_at}."
    )
    assert [n["kind"] for n in system.notifications()] == ["pool-ready", "released"]  # SNS once each
    assert system.messages(system.env.notify_dlq_url) == []


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "invalid_auth"])
def test_a_post_slack_refuses_for_good_leaves_the_sns_copy_and_says_the_fix(
    system: System, api: SlackApiFake, error: str, caplog: pytest.LogCaptureFixture
) -> None:
    api.answers.append(error)
    finish(system, "v-4", {"team": "vision", "owner": "alice"})
    assert [(c["method"], c["ok"]) for c in api.calls] == [("chat.postMessage", False)]  # not retried
    assert [n["kind"] for n in system.notifications()] == ["pool-ready"]  # the SNS copy stands
    assert system.messages(system.env.notify_dlq_url) == []
    assert kept_messages(system, "v-4") == []
    (refused,) = [r for r in caplog.records if r.getMessage().startswith("Slack refused the message")]
    assert (refused.error, refused.webhook_key) == (error, "vision")  # type: ignore[attr-defined]
    assert f"Slack refused the message with {error} (HTTP 200): " in refused.detail  # type: ignore[attr-defined]
    assert TOKEN not in caplog.text


def test_an_update_slack_refuses_for_good_never_loses_the_release_notice(
    system: System, api: SlackApiFake, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    finish(system, "v-5", {"team": "vision", "owner": "alice"})
    api.answers.extend([None, "channel_not_found"])  # the channel was deleted since the message
    assert main(["pools", "release", "v-5", "--user", "lead"]) == 0
    capsys.readouterr()
    system.settle()
    assert [(c["method"], c["ok"]) for c in api.calls] == [
        ("chat.postMessage", True),
        ("chat.postMessage", True),  # released: told
        ("chat.update", False),  # refused for good: not tried again
    ]
    assert [n["kind"] for n in system.notifications()] == ["pool-ready", "released"]
    assert kept_messages(system, "v-5") == []
    assert system.messages(system.env.notify_dlq_url) == []
    assert any(
        r.getMessage() == "Slack refused to update the message; its buttons stay" for r in caplog.records
    )


@pytest.mark.parametrize(
    ("secret", "says"),
    [
        (
            {"vision": VISION},
            "the value of 'vision' is a channel id, which warmpool posts to with the Slack app's bot token: "
            "put its Bot User OAuth Token (xoxb-...) under 'bot_token'",
        ),
        (
            {"bot_token": "xoxp-1111-user-token", "vision": VISION},
            "the value of 'bot_token' is not a bot token; put the Slack app's Bot User OAuth Token",
        ),
        (
            {"bot_token": TOKEN, "vision": "#vision"},
            "the value of 'vision' is a channel's name; put the channel's id",
        ),
    ],
)
def test_a_bot_token_secret_filled_wrong_names_the_key_and_the_fix(
    system: System,
    api: SlackApiFake,
    secret: dict[str, str],
    says: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    put_secret(system, secret)
    finish(system, "v-6", {"team": "vision", "owner": "alice"})
    assert api.calls == []
    assert [n["kind"] for n in system.notifications()] == ["pool-ready"]  # the SNS copy is out
    assert len(system.messages(system.env.notify_dlq_url)) == 1  # kept for a redrive once fixed
    (_, error), *_ = logged_errors(caplog)
    assert says in error
    assert "xoxp-1111" not in caplog.text


def test_the_message_of_an_earlier_job_of_the_pool_says_a_later_job_took_it_when_it_is_released(
    system: System, api: SlackApiFake, capsys: pytest.CaptureFixture[str]
) -> None:
    finish(system, "v-7", {"team": "vision", "owner": "alice"})
    taken_at = moment_text(system.control.now())
    finish(system, "v-8", {"team": "vision", "owner": "bob"})  # took v-7's pool, then left it warm
    first, second = api.done("chat.postMessage")
    assert [first["body"]["text"].split(" ")[3], second["body"]["text"].split(" ")[3]] == ["v-7", "v-8"]
    # v-7's message lost its buttons when v-8 took the pool
    (taken,) = api.done("chat.update")
    assert taken["body"]["ts"] == first["ts"]
    assert updated_lines(taken) == [
        "Warm pool of v-7 no longer warm",
        f"Taken by job v-8 at {taken_at}: its warm cluster runs that job now.",
    ]
    assert main(["pools", "release", "v-8", "--user", "lead"]) == 0
    capsys.readouterr()
    system.settle()
    updates = {u["body"]["ts"]: u["body"]["blocks"] for u in api.done("chat.update")[1:]}
    assert set(updates) == {second["ts"]}
    assert updates[second["ts"]][0]["text"]["text"] == "Warm pool of v-8 released"
    assert kept_messages(system, "v-7") == []


def test_a_dry_run_s_release_leaves_the_message_s_buttons(
    system: System, api: SlackApiFake, capsys: pytest.CaptureFixture[str]
) -> None:
    finish(system, "v-11", {"team": "vision", "owner": "alice"})
    (ready,) = api.done("chat.postMessage")
    system.set_policy({**POLICY, "dry_run": True})  # trying a policy out: nothing is released
    system.emulator.advance(60)
    main(["pools", "release", "v-11", "--user", "lead"])
    capsys.readouterr()
    system.settle()
    told = [(n["kind"], n["decision"]["dry_run"]) for n in system.notifications()]
    assert told == [("pool-ready", False), ("released", True)]
    assert api.done("chat.update") == []  # the pool is still warm: its buttons still act on it
    assert [m["ts"] for m in kept_messages(system, "v-11")] == [ready["ts"]]


@pytest.mark.parametrize("url", ["http://slack.example.com/api/", "slack.com/api", "ftp://127.0.0.1:1/"])
def test_a_slack_api_url_off_https_stops_the_notifier_naming_the_variable(system: System, url: str) -> None:
    base = {
        "NOTIFY_TOPIC_ARN": system.env.topic_arn,
        "SLACK_WEBHOOKS_SECRET_ARN": system.env.slack_webhooks_secret_arn,
        "POLICY_PARAMETER_NAME": "p",
        "IDEMPOTENCY_TABLE_NAME": "t",
    }
    assert NotifierSettings.from_env(base).slack_api_url == "https://slack.com/api/"  # unset: Slack's
    with pytest.raises(SettingsError) as raised:
        NotifierSettings.from_env({**base, "SLACK_API_URL": url})
    assert raised.value.problems.startswith(
        "SLACK_API_URL: Value error, Slack's Web API is https://slack.com/api/"
    )


def test_a_sweeps_end_message_keeps_the_other_pools_buttons_until_all_its_pools_have_ended(
    system: System, api: SlackApiFake, capsys: pytest.CaptureFixture[str]
) -> None:
    # A parallel sweep's end is one message with each pool's line and buttons. Kept with the pool its
    # notice is on, the release of that one pool replaced the whole message with "Warm pool of JOB
    # released", taking the other pools' lines and buttons with it.
    policy = {**POLICY, "defaults": {**POLICY["defaults"], "keep_alive_strategy": "fixed-7200"}}
    system.set_policy(policy)
    trials = [
        training_job_request(f"wide-00{i}-a1b2c3d4", tags={"team": "vision", "owner": "alice"})
        for i in (1, 2, 3)
    ]
    names = [t["TrainingJobName"] for t in trials]
    system.control.start_tuning_job("wide", trials)
    system.settle()
    for name in names:
        system.control.complete_job(name)
        system.settle()
    system.control.complete_tuning_job("wide")
    system.settle()
    (sweep,) = [p for p in api.done("chat.postMessage") if "Tuning job wide finished" in p["body"]["text"]]
    assert sum(t == "actions" for t in block_types(sweep)) == 3
    for name in names[:2]:
        assert main(["pools", "release", name, "--user", "lead"]) == 0
        capsys.readouterr()
        system.settle()
    assert [u for u in api.done("chat.update") if u["body"]["ts"] == sweep["ts"]] == []
    # Before: the sweep's message kept every Release button after all its pools had ended, each
    # answering "too late"; once the last of them ends, it keeps its lines and loses its buttons
    assert main(["pools", "release", names[2], "--user", "lead"]) == 0
    capsys.readouterr()
    system.settle()
    (update,) = [u for u in api.done("chat.update") if u["body"]["ts"] == sweep["ts"]]
    assert "actions" not in block_types(update)
    kept_blocks = [b for b in sweep["body"]["blocks"] if b["type"] != "actions"]
    assert update["body"]["blocks"][:-1] == kept_blocks  # its lines, as posted
    assert update["body"]["blocks"][-1]["elements"][0]["text"] == (
        "The pools these lines had buttons for have all ended (released, expired or taken by a later job)."
    )
    assert update["body"]["text"] == sweep["body"]["text"]
    pools = [system.registry.pool_id_for_job(name) for name in names]
    assert all(pool is not None and kept_messages(system, pool) == [] for pool in pools)
    system.reconcile()
    assert len([u for u in api.done("chat.update") if u["body"]["ts"] == sweep["ts"]]) == 1  # not again


def kinds_told(system: System) -> list[str]:
    return [n["kind"] for n in system.notifications()]


def updated_lines(update: dict[str, Any]) -> list[str]:
    """An updated message as Slack shows it: its headline, then its lines."""
    return [line for block in update["body"]["blocks"] for line in block["text"]["text"].splitlines()]


def test_a_pool_whose_keep_alive_ran_out_has_its_message_updated_without_buttons(
    system: System, api: SlackApiFake
) -> None:
    # Before: nothing was sent when the pool expired, and its message kept Extend and Release, which
    # could only answer that the pool was gone
    finish(system, "v-20", {"team": "vision", "owner": "alice"})
    before = system.registry.get("v-20")
    assert before is not None
    assert before.pool.expires_at is not None
    system.advance(3600, tick=300)
    record = system.registry.get("v-20")
    assert record is not None
    assert record.pool.status.value == "Terminated"
    posted = api.done("chat.postMessage")
    assert [p["body"]["text"].split(":")[0] for p in posted] == [
        "Warm pool ready",
        "Warm pool of v-20 expires at 2026-03-02 09",
    ]
    updates = api.done("chat.update")
    assert sorted(u["body"]["ts"] for u in updates) == sorted(p["ts"] for p in posted)  # ready, expiring soon
    for update in updates:
        assert block_types(update) == ["header", "section"]  # no buttons
        assert updated_lines(update) == [
            "Warm pool of v-20 no longer warm",
            f"Expired at {moment_text(before.pool.expires_at)}: its keep-alive ran out.",
        ]
    assert kinds_told(system) == ["pool-ready", "expiring-soon"]  # nothing more on SNS
    assert kept_messages(system, "v-20") == []
    system.reconcile()
    system.settle()
    assert len(api.done("chat.update")) == 2  # not again
    assert len(api.done("chat.postMessage")) == 2  # no new message in the channel


def test_a_pool_a_later_job_took_has_the_earlier_job_s_message_updated(
    system: System, api: SlackApiFake
) -> None:
    finish(system, "v-21", {"team": "vision", "owner": "alice"})
    (ready,) = api.done("chat.postMessage")
    system.sagemaker.create_training_job(
        **training_job_request("v-22", keep_alive_seconds=600, tags={"team": "vision", "owner": "bob"})
    )
    taken_at = moment_text(system.control.now())
    system.settle()
    (update,) = api.done("chat.update")
    assert update["body"]["ts"] == ready["ts"]
    assert block_types(update) == ["header", "section"]
    assert updated_lines(update) == [
        "Warm pool of v-21 no longer warm",
        f"Taken by job v-22 at {taken_at}: its warm cluster runs that job now.",
    ]
    assert kept_messages(system, "v-21") == []
    system.control.complete_job("v-22")
    system.settle()
    # v-22's own message, with its buttons, is kept: the pool is warm for it
    assert [m["job_name"] for m in kept_messages(system, "v-21")] == ["v-22"]
    assert len(api.done("chat.update")) == 1


def test_a_pool_that_reached_its_maximum_lifetime_has_its_message_updated(
    system: System, api: SlackApiFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    from warmpool.handlers import lifecycle, reconciler, slack_interactive

    monkeypatch.setenv("MAX_LIFETIME_SECONDS", "3600")  # pools live an hour
    for module in (lifecycle, reconciler, slack_interactive):
        module.runtime.cache_clear()
    system.set_policy({**POLICY, "defaults": {**POLICY["defaults"], "keep_alive_strategy": "fixed-7200"}})
    finish(system, "v-23", {"team": "vision", "owner": "alice"})
    before = system.registry.get("v-23")
    assert before is not None
    assert before.pool.lifetime_started_at is not None
    ends = before.pool.lifetime_started_at + timedelta(hours=1)
    system.advance(2 * 3600, tick=300)
    ready = [p for p in api.done("chat.postMessage") if p["body"]["text"].startswith("Warm pool ready")]
    updates = [u for u in api.done("chat.update") if u["body"]["ts"] == ready[0]["ts"]]
    assert [updated_lines(u) for u in updates] == [
        [
            "Warm pool of v-23 no longer warm",
            f"Reached its maximum lifetime at {moment_text(ends)}: SageMaker ended it.",
        ]
    ]
    assert kept_messages(system, "v-23") == []


def test_a_release_pressed_in_slack_keeps_who_released_it_in_the_updated_message(
    system: System, api: SlackApiFake
) -> None:
    # Before: the press replaced its message with "Released by ualice from Slack at ...", then the
    # released notice's update replaced that with "Released at ...": who released it was gone
    finish(system, "v-24", {"team": "vision", "owner": "alice"})
    (ready,) = api.done("chat.postMessage")
    released_at = moment_text(system.control.now())
    status, answer = call(signed(press("v-24", "warmpool_release", "UALICE", system.slack.url("respond"))))
    assert (status, answer.startswith("release v-24: done")) == (200, True)
    system.settle()
    (update,) = api.done("chat.update")
    assert update["body"]["ts"] == ready["ts"]
    lines = updated_lines(update)
    assert lines[:2] == ["Warm pool of v-24 released", f"Released by ualice from Slack at {released_at}."]
    assert lines[2].startswith("request.slack: ")


def test_a_rate_limited_update_of_a_taken_pool_s_message_is_retried_and_the_pool_s_state_stands(
    system: System, api: SlackApiFake
) -> None:
    finish(system, "v-25", {"team": "vision", "owner": "alice"})
    (ready,) = api.done("chat.postMessage")
    system.sagemaker.create_training_job(
        **training_job_request("v-26", keep_alive_seconds=600, tags={"team": "vision", "owner": "bob"})
    )
    api.retry_after = "30"  # longer than the notifier waits: the record goes back to the queue
    api.answers.append(429)
    system.settle()
    record = system.registry.get("v-25")
    assert record is not None
    assert record.pool.job_name == "v-26"  # the pool is v-26's, whatever Slack said
    assert [(c["method"], c["ok"]) for c in api.calls] == [
        ("chat.postMessage", True),
        ("chat.update", False),  # 429, Retry-After 30 s: back to the queue
        ("chat.update", True),  # the record's retry
    ]
    system.emulator.advance(300)
    system.settle()
    assert len(api.calls) == 3  # not again
    assert api.done("chat.update")[0]["body"]["ts"] == ready["ts"]
    assert kept_messages(system, "v-25") == []
    assert system.messages(system.env.notify_dlq_url) == []


@pytest.mark.parametrize("status", [302, 307])
def test_a_web_api_that_redirects_is_not_followed_and_the_message_is_kept_for_a_redrive(
    system: System,
    api: SlackApiFake,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    # slack-sdk's WebClient followed a 302 to wherever it pointed, as a GET without the message: the
    # request (and its bot token) left for another host, and its answer was read as Slack's
    with redirecting(status) as (redirect, elsewhere):
        monkeypatch.setenv("SLACK_API_URL", f"{redirect.origin}/api/")
        notifier.runtime.cache_clear()
        finish(system, "v-30", {"team": "vision", "owner": "alice"})
        assert elsewhere.received == []
        # each receive tried chat.postMessage once, as for any failure, until the notify DLQ kept it
        assert [(method, path) for method, path, _ in redirect.received] == [
            ("POST", "/api/chat.postMessage")
        ] * 5
        assert json.loads(redirect.received[0][2])["text"].startswith("Warm pool ready: v-30 ")
    assert kinds_told(system) == ["pool-ready"]  # SNS carried it, once
    assert len(system.messages(system.env.notify_dlq_url)) == 1  # kept for a redrive, alarmed
    failed = [r for r in caplog.records if r.getMessage().startswith("record failed")]
    assert len(failed) == 5
    assert str(failed[0].exc_info[1] if failed[0].exc_info else "") == (
        f"Slack's chat.postMessage answered HTTP {status}, a redirect, which is not followed: it could "
        "take the message and the bot token to another host; Slack's Web API does not redirect: check "
        "SLACK_API_URL (unset: Slack's)"
    )
    assert elsewhere.origin not in caplog.text
    assert TOKEN not in caplog.text
    assert kept_messages(system, "v-30") == []


def test_a_pool_whose_job_was_deleted_has_its_message_updated_without_buttons(
    system: System, api: SlackApiFake
) -> None:
    # Before: a cleanup script deleted the job once its pool had expired, before warmpool's look; the
    # engine recorded the pool Terminated (`job-missing`) and sent nothing, so its message kept Extend
    # and Release, which could only answer that the pool was gone
    finish(system, "v-31", {"team": "vision", "owner": "alice"})
    (ready,) = api.done("chat.postMessage")
    before = system.registry.get("v-31")
    assert before is not None
    assert before.pool.expires_at is not None
    system.emulator.advance(1800 + 30)  # past its expiry, nothing looked at yet
    system.sagemaker.delete_training_job(TrainingJobName="v-31")
    found_at = moment_text(system.control.now())
    system.settle()
    record = system.registry.get("v-31")
    assert record is not None
    assert record.pool.status.value == "Terminated"
    assert [e.what for e in system.registry.audit_trail("v-31")].count("job-missing") == 1
    (update,) = api.done("chat.update")
    assert update["body"]["ts"] == ready["ts"]
    assert block_types(update) == ["header", "section"]  # no buttons
    assert updated_lines(update) == [
        "Warm pool of v-31 no longer warm",
        f"Its job was deleted at or before {found_at}: SageMaker keeps no warm pool for a deleted job. "
        f"The pool was warm until {moment_text(before.pool.expires_at)} at the latest.",
    ]
    assert kinds_told(system) == ["pool-ready"]  # nothing more on SNS
    assert kept_messages(system, "v-31") == []
    system.reconcile()
    assert len(api.done("chat.update")) == 1  # not again
    assert len(api.done("chat.postMessage")) == 1


@pytest.fixture
def first_release_notice_fails(system: System) -> Iterator[list[str]]:
    """The first `released` notice fails to reach the notify queue, after its decision was saved."""
    yield from first_send_fails(system, lambda body: '"kind": "released"' in body)


def test_a_release_pressed_in_slack_whose_notice_the_reconciler_sends_still_says_who_released_it(
    system: System, api: SlackApiFake, first_release_notice_fails: list[str]
) -> None:
    # Before: the notice's first send failed, the reconciler sent it from the pool's saved notices,
    # which did not keep the press: the message said "Released at ...", who released it was gone
    finish(system, "v-32", {"team": "vision", "owner": "alice"})
    (ready,) = api.done("chat.postMessage")
    released_at = moment_text(system.control.now())
    call(signed(press("v-32", "warmpool_release", "UALICE", system.slack.url("respond"))))
    system.settle()
    assert len(first_release_notice_fails) == 1
    assert api.done("chat.update") == []  # nothing told yet
    system.emulator.advance(300)
    system.reconcile()
    (update,) = api.done("chat.update")
    assert update["body"]["ts"] == ready["ts"]
    lines = updated_lines(update)
    assert lines[:2] == ["Warm pool of v-32 released", f"Released by ualice from Slack at {released_at}."]
    assert kinds_told(system) == ["pool-ready", "released"]  # once each
    record = system.registry.get("v-32")
    assert record is not None
    assert (record.unannounced, record.unannounced_by) == ((), None)  # sent: who asked is not kept on


def lifecycle_events(system: System) -> list[dict[str, Any]]:
    """Every event off the lifecycle queue (as if EventBridge had not delivered them yet)."""
    return [json.loads(m["Body"]) for m in system.messages(system.env.lifecycle_queue_url)]


def test_a_taken_pool_s_message_says_when_the_later_job_took_it_when_it_is_seen_reused_first(
    system: System, api: SlackApiFake
) -> None:
    # Before: when v-35's pool was seen Reused (its look, the reconciler) before v-36's own event came
    # (EventBridge keeps no order, and may be late), the message said "Taken by job v-36 at" when
    # warmpool looked, minutes after v-36 took it
    finish(system, "v-35", {"team": "vision", "owner": "alice"})
    (ready,) = api.done("chat.postMessage")
    system.sagemaker.create_training_job(
        **training_job_request("v-36", keep_alive_seconds=600, tags={"team": "vision", "owner": "bob"})
    )
    taken_at = moment_text(system.control.now())
    held = lifecycle_events(system)
    assert {e["detail"]["TrainingJobName"] for e in held} == {"v-36"}
    system.emulator.advance(240)
    system.reconcile()  # finds v-35's pool Reused, and v-36 on it
    for event in held:  # delivered at last
        system.sqs.send_message(QueueUrl=system.env.lifecycle_queue_url, MessageBody=json.dumps(event))
    system.settle()
    (update,) = api.done("chat.update")
    assert update["body"]["ts"] == ready["ts"]
    assert updated_lines(update) == [
        "Warm pool of v-35 no longer warm",
        f"Taken by job v-36 at {taken_at}: its warm cluster runs that job now.",
    ]
    record = system.registry.get("v-35")
    assert record is not None
    assert record.pool.job_name == "v-36"


def test_a_pool_whose_expiry_the_reconciler_finds_has_its_message_say_when_it_expired(
    system: System, api: SlackApiFake
) -> None:
    # The look at its expiry is lost (its schedule gone): the reconciler finds the pool ended a quarter
    # of an hour on, and the message says when SageMaker ended it, not when the reconciler looked
    finish(system, "v-37", {"team": "vision", "owner": "alice"})
    (ready,) = api.done("chat.postMessage")
    before = system.registry.get("v-37")
    assert before is not None
    assert before.pool.expires_at is not None
    for schedule, _ in system.schedules._scheduled():  # its looks (expiring soon, expiry) lost
        system.schedules._scheduler.delete_schedule(
            Name=schedule["Name"], GroupName=system.env.scheduler_group
        )
    system.emulator.advance(1800 + 15 * 60)
    assert moment_text(system.control.now()) != moment_text(before.pool.expires_at)
    system.reconcile()
    record = system.registry.get("v-37")
    assert record is not None
    assert record.pool.status.value == "Terminated"
    (update,) = [u for u in api.done("chat.update") if u["body"]["ts"] == ready["ts"]]
    assert updated_lines(update) == [
        "Warm pool of v-37 no longer warm",
        f"Expired at {moment_text(before.pool.expires_at)}: its keep-alive ran out.",
    ]
    assert kept_messages(system, "v-37") == []


def test_a_rate_limited_update_of_a_sweep_s_end_is_made_on_the_retry(
    system: System, api: SlackApiFake, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = {**POLICY, "defaults": {**POLICY["defaults"], "keep_alive_strategy": "fixed-7200"}}
    system.set_policy(policy)
    trials = [
        training_job_request(f"duo-00{i}-a1b2c3d4", tags={"team": "vision", "owner": "alice"}) for i in (1, 2)
    ]
    names = [t["TrainingJobName"] for t in trials]
    system.control.start_tuning_job("duo", trials)
    system.settle()
    for name in names:
        system.control.complete_job(name)
        system.settle()
    system.control.complete_tuning_job("duo")
    system.settle()
    (sweep,) = [p for p in api.done("chat.postMessage") if "Tuning job duo finished" in p["body"]["text"]]
    assert main(["pools", "release", names[0], "--user", "lead"]) == 0
    capsys.readouterr()
    system.settle()
    api.retry_after = "30"  # longer than the notifier waits: the record goes back to the queue
    api.answers.extend([None, 429])  # the released notice posted, the sweep's update rate limited
    assert main(["pools", "release", names[1], "--user", "lead"]) == 0
    capsys.readouterr()
    system.settle()
    system.emulator.advance(300)
    system.settle()
    tried = [(c["method"], c["ok"]) for c in api.calls if c["body"].get("ts") == sweep["ts"]]
    assert tried == [("chat.update", False), ("chat.update", True)]  # 429, then the record's retry
    pool = system.registry.pool_id_for_job(names[1])
    assert pool is not None
    assert kept_messages(system, pool) == []
    assert system.messages(system.env.notify_dlq_url) == []
