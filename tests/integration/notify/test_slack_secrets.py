"""The Slack secrets as an operator fills them: by hand, after the deploy, sometimes wrong."""

import json
import logging
import re
from collections.abc import Iterator

import boto3
import pytest
from warmpool.local.slack_standin import SlackStandIn

from tests.integration.conftest import System
from tests.integration.notify.test_notify import POLICY, call, finish, press, signed


@pytest.fixture
def stand_in() -> Iterator[SlackStandIn]:
    slack = SlackStandIn().start()
    yield slack
    slack.stop()


def put_webhooks(system: System, value: str) -> None:
    boto3.client("secretsmanager").put_secret_value(
        SecretId=system.env.slack_webhooks_secret_arn, SecretString=value
    )


def logged_errors(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    """The notifier's error lines: (message, the error it logged)."""
    return [
        (r.getMessage(), str(r.exc_info[1] if r.exc_info else ""))
        for r in caplog.records
        if r.levelno >= logging.ERROR
    ]


def test_a_webhooks_secret_that_is_not_json_keeps_the_message_and_logs_why(
    system: System, stand_in: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    # written as YAML, say, or as the console's key/value pairs pasted by hand
    put_webhooks(system, f"vision: {stand_in.url('vision')}")
    system.set_policy(POLICY)
    finish(system, "v-1", {"team": "vision", "owner": "alice"})
    assert [n["kind"] for n in system.notifications()] == ["pool-ready"]  # SNS carried it, once
    assert len(system.messages(system.env.notify_dlq_url)) == 1  # kept for a redrive, alarmed
    errors = logged_errors(caplog)
    assert len(errors) == 5  # each receive, until the notify DLQ's alarm sends the operator to this log
    message, error = errors[0]
    assert message.startswith("record failed; SQS will retry it")
    assert re.match(
        r"secret warmpool/slack-webhooks\S* is not JSON \(Expecting value: line 1, column 1\)", error
    )
    assert "put a JSON object of key -> webhook URL in it" in error
    assert stand_in.url("vision") not in caplog.text


def test_a_webhook_that_is_not_a_url_is_logged_naming_its_key_and_other_teams_still_hear(
    system: System, stand_in: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    put_webhooks(
        system, json.dumps({"vision": "hooks.slack.com/services/T0/B0/x", "nlp": stand_in.url("nlp")})
    )
    policy = {
        **POLICY,
        "notifications": {
            **POLICY["notifications"],
            "teams": {"vision": {"slack_webhook_key": "vision"}, "nlp": {"slack_webhook_key": "nlp"}},
        },
    }
    system.set_policy(policy)
    finish(system, "v-1", {"team": "vision", "owner": "alice"})
    finish(system, "n-1", {"team": "nlp", "owner": "carol"})
    assert len(stand_in.delivered("nlp")) == 1
    assert len(system.messages(system.env.notify_dlq_url)) == 1  # vision's, kept for a redrive
    (_, error), *_ = logged_errors(caplog)
    assert "the value of 'vision' is not a webhook URL; put the incoming-webhook URL Slack gave" in error
    assert "hooks.slack.com" not in caplog.text


def test_webhooks_filled_after_the_deploy_reach_slack_within_a_minute(
    system: System, stand_in: SlackStandIn
) -> None:
    system.set_policy(POLICY)
    finish(system, "v-1", {"team": "vision", "owner": "alice"})  # the secret still holds the deploy's {}
    assert stand_in.delivered() == []
    put_webhooks(system, json.dumps({"vision": stand_in.url("vision")}))  # docs/deploy.md: after deploying
    system.advance(60)
    finish(system, "v-2", {"team": "vision", "owner": "alice"})
    assert [m["body"]["text"].split(" ")[3] for m in stand_in.delivered("vision")] == ["v-2"]


def test_a_fixed_webhooks_secret_delivers_the_messages_redriven_from_the_dlq(
    system: System, stand_in: SlackStandIn
) -> None:
    put_webhooks(system, f"vision: {stand_in.url('vision')}")
    system.set_policy(POLICY)
    finish(system, "v-1", {"team": "vision", "owner": "alice"})
    assert len(system.notifications()) == 1
    (kept,) = system.messages(system.env.notify_dlq_url)
    put_webhooks(system, json.dumps({"vision": stand_in.url("vision")}))  # the fix
    system.advance(60)
    system.sqs.send_message(QueueUrl=system.env.notify_queue_url, MessageBody=kept["Body"])  # redrive
    system.settle()
    (message,) = stand_in.delivered("vision")
    assert message["body"]["text"].startswith("Warm pool ready: v-1 ")
    assert system.notifications() == []  # its SNS copy went out the first time: not again


def test_a_signing_secret_filled_after_the_first_press_is_checked_against_within_a_minute(
    system: System, stand_in: SlackStandIn
) -> None:
    system.set_policy(POLICY)
    finish(system, "s-1", {"team": "vision", "owner": "alice"})
    app_secret = "8f742231b10e8888abcd99yyyzzz85a5"  # the Slack app's, not yet in the secret
    extend = press("s-1", "warmpool_extend_30", "UALICE")
    assert call(signed(extend, secret=app_secret)) == (401, "invalid or stale signature")
    boto3.client("secretsmanager").put_secret_value(
        SecretId=system.env.slack_signing_secret_arn, SecretString=app_secret
    )
    system.advance(60)
    status, text = call(
        signed(press("s-1", "warmpool_extend_30", "UALICE", trigger_id="2"), secret=app_secret)
    )
    assert (status, text.split(":")[0]) == (200, "extend s-1")
    assert "done" in text


def put_signing_secret(system: System, value: str) -> None:
    boto3.client("secretsmanager").put_secret_value(
        SecretId=system.env.slack_signing_secret_arn, SecretString=value
    )


def test_a_blank_signing_secret_is_logged_saying_so(
    system: System, stand_in: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    system.set_policy(POLICY)
    finish(system, "s-1", {"team": "vision", "owner": "alice"})
    put_signing_secret(system, " \n")  # cleared by hand: Secrets Manager takes no empty value
    system.advance(60)
    extend = press("s-1", "warmpool_extend_30", "UALICE")
    assert call(signed(extend, secret=" \n")) == (401, "invalid or stale signature")
    (_, error), *_ = logged_errors(caplog)
    assert re.match(
        r"secret warmpool/slack-signing-secret\S* is blank: put the Slack app's signing secret", error
    )


def test_a_signing_secret_pasted_with_its_newline_is_the_signing_secret(
    system: System, stand_in: SlackStandIn
) -> None:
    system.set_policy(POLICY)
    finish(system, "s-1", {"team": "vision", "owner": "alice"})
    put_signing_secret(system, "8f742231b10e8888abcd99yyyzzz85a5\n")
    system.advance(60)
    status, text = call(
        signed(press("s-1", "warmpool_extend_30", "UALICE"), secret="8f742231b10e8888abcd99yyyzzz85a5")
    )
    assert (status, text.split(":")[0]) == (200, "extend s-1")


def test_a_signing_secret_saved_as_key_value_pairs_is_logged_saying_so(
    system: System, stand_in: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    system.set_policy(POLICY)
    finish(system, "s-1", {"team": "vision", "owner": "alice"})
    # the Secrets Manager console's default form
    put_signing_secret(system, json.dumps({"signing_secret": "8f742231b10e8888abcd99yyyzzz85a5"}))
    system.advance(60)
    extend = press("s-1", "warmpool_extend_30", "UALICE")
    assert call(signed(extend, secret="8f742231b10e8888abcd99yyyzzz85a5"))[0] == 401
    (_, error), *_ = logged_errors(caplog)
    assert "holds JSON (the console's key/value pairs): put the signing secret alone, as plaintext" in error
    assert "8f742231b10e8888abcd99yyyzzz85a5" not in caplog.text


def test_a_webhook_broken_across_lines_is_logged_naming_its_key_never_its_token(
    system: System,
    stand_in: SlackStandIn,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # a URL pasted across a line break keeps a space or a tab: the HTTP client's error quoted the
    # URL's path, the webhook's token, into the function's log (slack-sdk's error line and the trace)
    put_webhooks(system, json.dumps({"vision": stand_in.url("services/T0/B0/x0x\tTOKEN42")}))
    system.set_policy(POLICY)
    finish(system, "v-1", {"team": "vision", "owner": "alice"})
    assert [n["kind"] for n in system.notifications()] == ["pool-ready"]  # SNS carried it
    assert len(system.messages(system.env.notify_dlq_url)) == 1  # kept for a redrive, alarmed
    (message, error), *_ = logged_errors(caplog)
    assert message.startswith("record failed; SQS will retry it")
    assert "the value of 'vision' has a space, a control character or a character outside ASCII" in error
    captured = caplog.text + capsys.readouterr().out
    assert "TOKEN42" not in captured
    assert "T0/B0" not in captured
