"""The stack's configuration is refused at synth when the engine could not run with it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.config import ConfigError
from tests.infra.conftest import ROOT


def test_a_margin_as_long_as_the_step_fails_synth_naming_both_fields(tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    # step_margin_seconds keeps its default of 300
    refused = r"^warmpool: step_margin_seconds \(300\) must be at most half of max_step_seconds \(300\)"
    with pytest.raises(ConfigError, match=refused):
        build_app(context={"warmpool": {"max_step_seconds": 300}}, outdir=str(tmp_path / "out"))
    assert not list(tmp_path.glob("out/*.template.json"))  # nothing was synthesized


def test_a_margin_over_half_the_step_the_engine_would_cut_fails_synth_naming_both(tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    # The engine comes back to a pool halfway through a step at the latest: the margin deployed was cut to
    # 300 without a word, each look 200 s later than the operator set.
    context: dict[str, object] = {"warmpool": {"max_step_seconds": 600, "step_margin_seconds": 500}}
    with pytest.raises(
        ConfigError,
        match=r"^warmpool: step_margin_seconds \(500\) must be at most half of max_step_seconds \(600\), "
        r"300: .* Lower step_margin_seconds or raise max_step_seconds\.$",
    ):
        build_app(context=context, outdir=str(tmp_path / "out"))
    assert not list(tmp_path.glob("out/*.template.json"))
    # half the step is a margin the engine keeps
    half: dict[str, object] = {"warmpool": {"max_step_seconds": 600, "step_margin_seconds": 300}}
    build_app(context=half, outdir=str(tmp_path / "ok"))


def test_a_step_shorter_than_five_minutes_fails_synth(tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    # the engine looks again at least a minute on: a one-minute step would run out first
    context: dict[str, object] = {"warmpool": {"max_step_seconds": 60}}
    with pytest.raises(
        ConfigError,
        match=r"^warmpool.max_step_seconds: .* greater than or equal to 300 \(got 60\)\. Use at least 300\.$",
    ):
        build_app(context=context, outdir=str(tmp_path / "out"))


def _log_retentions(template: dict[str, Any]) -> list[int]:
    return [
        r["Properties"]["RetentionInDays"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Logs::LogGroup"
    ]


def test_every_log_group_keeps_logs_as_long_as_configured(tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    build_app(context={"warmpool": {"log_retention_days": 400}}, outdir=str(tmp_path)).synth()
    template = json.loads((tmp_path / "WarmPoolManager.template.json").read_text())
    # the five functions' logs and the Slack endpoint's access logs
    assert _log_retentions(template) == [400] * 6


def test_a_retention_cloudwatch_does_not_offer_fails_synth_naming_the_choices(tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    with pytest.raises(
        ConfigError, match=r"^warmpool.log_retention_days: 45 is not a retention period .* 30, 60,"
    ):
        build_app(context={"warmpool": {"log_retention_days": 45}}, outdir=str(tmp_path / "out"))
    assert not list(tmp_path.glob("out/*.template.json"))


def test_the_config_given_with_dash_c_as_docs_show_configures_the_stack(tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    # `cdk deploy -c warmpool='{"log_retention_days": 400}'`: the CDK CLI passes every -c value as text
    given = json.dumps({"log_retention_days": 400})
    build_app(context={"warmpool": given}, outdir=str(tmp_path)).synth()
    template = json.loads((tmp_path / "WarmPoolManager.template.json").read_text())
    assert _log_retentions(template) == [400] * 6


def synth(context: dict[str, object], outdir: Path) -> subprocess.CompletedProcess[str]:
    """`cdk synth -c warmpool=...`: the CDK CLI runs `python3 app.py` with the context in CDK_CONTEXT_JSON."""
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(context),
        "CDK_OUTDIR": str(outdir),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "18,20",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "lambdas"), str(ROOT)]),
    }
    return subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def test_a_mistyped_key_fails_synth_with_one_line_asking_did_you_mean(tmp_path: Path) -> None:
    result = synth({"warmpool": {"max_step_secs": 1800}}, tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr == "warmpool.max_step_secs: unknown key; did you mean `max_step_seconds`?\n"
    assert not list(tmp_path.glob("out/*.template.json"))


def test_each_wrong_setting_is_one_line_naming_its_key_and_the_fix(tmp_path: Path) -> None:
    given = json.dumps({"max_step_seconds": "an hour", "slack_endpoint": "HTTP-API"})  # -c, as text
    result = synth({"warmpool": given}, tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "warmpool.max_step_seconds: Input should be a valid integer, unable to parse string as an integer "
        '(got "an hour"). Use a whole number.',
        "warmpool.slack_endpoint: Input should be 'http-api', 'function-url' or 'none' (got \"HTTP-API\"). "
        "Use one of those.",
    ]


def test_config_given_with_dash_c_that_is_not_json_fails_synth_saying_so(tmp_path: Path) -> None:
    result = synth({"warmpool": '{"max_step_seconds": 1800'}, tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr.startswith("warmpool: not valid JSON (Expecting ',' delimiter")
    assert len(result.stderr.splitlines()) == 1


def test_an_invalid_policy_file_fails_synth_naming_policy_file_and_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("version: 1\ndefaults: [\n")
    result = synth({"warmpool": {"policy_file": str(bad)}}, tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr == (
        f"warmpool.policy_file ({bad}): line 3, column 1: expected the node content, but found "
        "'<stream end>'. Fix the syntax.\n"
    )


@pytest.mark.parametrize("margin", [0, 60, 119])
def test_a_margin_too_short_for_the_look_to_come_before_the_step_ends_fails_synth(
    margin: int, tmp_path: Path
) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    # EventBridge Scheduler fires a look up to a minute after its time, and the lifecycle queue's batch
    # waits 5 s more: with `step_margin_seconds: 0` the look came after the step had ended, SageMaker had
    # ended the pool, and the next job started cold
    with pytest.raises(
        ConfigError,
        match=rf"^warmpool.step_margin_seconds: {margin} seconds before a step ends is too late for the "
        r"engine's look: .* Use at least 120\.$",
    ):
        build_app(context={"warmpool": {"step_margin_seconds": margin}}, outdir=str(tmp_path / "out"))
    build_app(context={"warmpool": {"step_margin_seconds": 120}}, outdir=str(tmp_path / "ok"))


@pytest.mark.parametrize("key", ["log_retention_days", "max_lifetime_days", "step_margin_seconds"])
def test_true_or_false_where_a_number_goes_fails_synth(key: str, tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    # read as 1 or 0, `log_retention_days: true` kept logs a day and `max_lifetime_days: true` pools one
    with pytest.raises(ConfigError, match=rf"^warmpool.{key}: must be a number, got true. Write the number"):
        build_app(context={"warmpool": {key: True}}, outdir=str(tmp_path / "out"))


@pytest.mark.parametrize(("days", "fix"), [(29, "Use at most 28."), (0, "Use at least 1.")])
def test_a_max_lifetime_sagemaker_would_not_keep_fails_synth_naming_it(
    days: int, fix: str, tmp_path: Path
) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    # SageMaker keeps a warm pool at most 28 days; the functions refuse MAX_LIFETIME_SECONDS past it too
    with pytest.raises(ConfigError, match=rf"^warmpool.max_lifetime_days: .* \(got {days}\)\. {fix}$"):
        build_app(context={"warmpool": {"max_lifetime_days": days}}, outdir=str(tmp_path / "out"))
    assert not list(tmp_path.glob("out/*.template.json"))


@pytest.mark.parametrize(
    ("name", "refused"),
    [
        ("warm_pools", r"'warm_pools' is not a CloudFormation stack name: start with a letter"),
        ("", r"'' is not a CloudFormation stack name"),
        ("W" * 59, r"'W{59}' is 59 characters: use at most 58, for it also names the step schedules' group"),
    ],
)
def test_a_stack_name_cloudformation_would_refuse_fails_synth(
    name: str, refused: str, tmp_path: Path
) -> None:
    result = synth({"warmpool": {"stack_name": name}}, tmp_path / "out")
    assert result.returncode == 1
    assert re.match(rf"warmpool.stack_name: {refused}", result.stderr), result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not list(tmp_path.glob("out/*.template.json"))


@pytest.mark.parametrize("email", ["ops", "", "ops@example.com, oncall@example.com"])
def test_an_alarm_email_that_is_not_one_address_fails_synth(email: str, tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    # SNS refused it only at deploy, half-way; an empty one subscribed nobody, without a word
    with pytest.raises(ConfigError, match=r"^warmpool.alarm_email: .* is not an email address: give one"):
        build_app(context={"warmpool": {"alarm_email": email}}, outdir=str(tmp_path / "out"))


@pytest.mark.parametrize(
    ("key", "refused"),
    [
        ("", r"'' is not a SageMaker tag key: 1 to 128"),
        ('team"s', r"""'team"s' is not a SageMaker tag key"""),
        ("aws:managed", r"'aws:managed' begins with aws:, which AWS keeps for its own tags"),
        # a space pasted with the key: every job tagged `warmpool:managed` was left to its own keep-alive
        ("warmpool:managed ", r"'warmpool:managed ' begins or ends with a space, which the jobs' tag key "),
        (" warmpool:managed", r"' warmpool:managed' begins or ends with a space"),
    ],
)
def test_an_update_requires_tag_no_job_can_carry_fails_synth(key: str, refused: str, tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    # empty, the restriction was silently lifted; aws:..., every pool was left to its own keep-alive
    with pytest.raises(ConfigError, match=rf"^warmpool.update_requires_tag: {refused}"):
        build_app(context={"warmpool": {"update_requires_tag": key}}, outdir=str(tmp_path / "out"))


@pytest.mark.parametrize("none", ["none", "None", "null"])
def test_none_as_update_requires_tag_fails_synth_saying_to_leave_it_out(none: str, tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    # "none" as slack_endpoint and function_url_reserved_concurrency take it: the engine updated only the
    # jobs tagged `none`, and left every other pool to its own keep-alive
    with pytest.raises(
        ConfigError,
        match=rf"^warmpool.update_requires_tag: '{none}' would let the engine update only jobs tagged "
        rf"`{none}`: leave update_requires_tag out for every job",
    ):
        build_app(context={"warmpool": {"update_requires_tag": none}}, outdir=str(tmp_path / "out"))


def _policy_with_users(path: Path, users: dict[str, str]) -> Path:
    path.write_text(json.dumps({"version": 1, "notifications": {"slack_users": users}}))  # JSON is YAML
    return path


def test_a_policy_too_large_for_ssm_fails_synth_naming_policy_file(tmp_path: Path) -> None:
    # a platform team's people: deployed, it failed half-way (an advanced parameter holds 8 KiB)
    users = {f"scientist-{i:03}": f"U0{i:08}" for i in range(400)}
    policy = _policy_with_users(tmp_path / "policy.yaml", users)
    result = synth({"warmpool": {"policy_file": str(policy)}}, tmp_path / "out")
    assert result.returncode == 1
    assert re.fullmatch(
        rf"warmpool.policy_file \({policy}\): <file>: is \d+ bytes as the JSON deployed to SSM, which keeps "
        r"at most 8192 in a parameter\. Shorten it .*\n",
        result.stderr,
    ), result.stderr
    assert not list(tmp_path.glob("out/*.template.json"))


def test_a_policy_over_4_kib_in_utf8_is_an_advanced_parameter(tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    # fewer than 4096 characters, more than 4096 bytes: a standard parameter refused it at deploy
    users = {f"jürgen-{i:03}-äöü": f"U0{i:08}" for i in range(115)}
    policy = _policy_with_users(tmp_path / "policy.yaml", users)
    build_app(context={"warmpool": {"policy_file": str(policy)}}, outdir=str(tmp_path / "out")).synth()
    template = json.loads((tmp_path / "out" / "WarmPoolManager.template.json").read_text())
    (parameter,) = [
        r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::SSM::Parameter"
    ]
    assert len(parameter["Value"]) <= 4096 < len(parameter["Value"].encode())
    assert parameter["Tier"] == "Advanced"


def test_a_setting_given_as_a_context_key_of_its_own_fails_synth_saying_where_it_goes(tmp_path: Path) -> None:
    # `cdk deploy -c stack_name=Team-A -c warmpool.max_step_seconds=1800`: nothing read either, and the
    # deploy made a stack named WarmPoolManager with the defaults
    result = synth({"stack_name": "Team-A", "warmpool.max_step_seconds": "1800"}, tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "stack_name: is not read; a setting goes inside the `warmpool` key: "
        """-c warmpool='{"stack_name": ...}' (or cdk.json's context).""",
        "warmpool.max_step_seconds: is not read; a setting goes inside the `warmpool` key: "
        """-c warmpool='{"max_step_seconds": ...}' (or cdk.json's context).""",
    ]
    assert not list(tmp_path.glob("out/*.template.json"))


@pytest.mark.parametrize(
    ("cdk_json", "says"),
    [
        ('{"app": "python3 app.py", "context": {', "cdk.json: not valid JSON (Expecting property name"),
        ('["app"]', "cdk.json: must be an object with `app` and `context`, not list. Fix the file."),
        ('{"context": []}', "cdk.json: `context` must be an object of context keys, not list. Fix the file."),
    ],
)
def test_a_malformed_cdk_json_fails_python_app_py_with_one_line_naming_the_file(
    cdk_json: str, says: str, tmp_path: Path
) -> None:
    """`python app.py` (`make synth`) reads cdk.json itself: a broken one is one line, not a traceback."""
    (tmp_path / "app.py").write_text((ROOT / "app.py").read_text())
    (tmp_path / "cdk.json").write_text(cdk_json)
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path / "out"),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "18,20",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "lambdas"), str(ROOT)]),
    }
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert result.stderr.startswith(says)
    assert len(result.stderr.splitlines()) == 1


def _reserved_concurrency(template: dict[str, Any]) -> tuple[int | None, list[int | None]]:
    """The Slack function's ReservedConcurrentExecutions, and the other functions' (None: none reserved,
    the function draws on the account's unreserved concurrency)."""
    functions = {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}
    (slack,) = [k for k in functions if "SlackInteractive" in k]
    reserved = {k: r["Properties"].get("ReservedConcurrentExecutions") for k, r in functions.items()}
    return reserved.pop(slack), list(reserved.values())


def test_the_slack_function_behind_a_function_url_reserves_its_concurrency(tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    # A function URL has no throttle: a flood of requests (unsigned ones included, each refused by the
    # function) runs at most 5 Slack functions at once, and leaves the account's concurrency to the others.
    build_app(context={"warmpool": {"slack_endpoint": "function-url"}}, outdir=str(tmp_path)).synth()
    template = json.loads((tmp_path / "WarmPoolManager.template.json").read_text())
    (url,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Url"]
    assert url["Properties"]["AuthType"] == "NONE"
    # the lifecycle, reconciler and notifier functions reserve nothing
    assert _reserved_concurrency(template) == (5, [None, None, None, None])


def test_a_function_url_without_a_reservation_when_the_account_cannot_spare_one(tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    # Lambda keeps 100 of an account's concurrency unreserved: an account with less cannot reserve any.
    # "none", not null: the CDK drops a null from the context, and the default would reserve 5.
    settings = {"slack_endpoint": "function-url", "function_url_reserved_concurrency": "none"}
    context: dict[str, object] = {"warmpool": settings}
    build_app(context=context, outdir=str(tmp_path)).synth()
    template = json.loads((tmp_path / "WarmPoolManager.template.json").read_text())
    assert _reserved_concurrency(template) == (None, [None, None, None, None])


def test_a_reserved_concurrency_of_zero_or_one_nothing_would_read_fails_synth_naming_it(
    tmp_path: Path,
) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    # Lambda reads 0 as "throttle every invocation": every press would be refused
    zero = {"slack_endpoint": "function-url", "function_url_reserved_concurrency": 0}
    with pytest.raises(
        ConfigError,
        match=r'^warmpool.function_url_reserved_concurrency: 0 would refuse every request .* "none" for no',
    ):
        build_app(context={"warmpool": zero}, outdir=str(tmp_path / "out"))
    # Behind the HTTP API (the default endpoint), whose stage throttles, it would bound nothing
    with pytest.raises(
        ConfigError,
        match=r"^warmpool: function_url_reserved_concurrency applies only with slack_endpoint `function-url` "
        r"\(it is `http-api`, where it would bound nothing\): remove it",
    ):
        build_app(
            context={"warmpool": {"function_url_reserved_concurrency": 10}}, outdir=str(tmp_path / "out")
        )
    assert not list(tmp_path.glob("out/*.template.json"))


@pytest.mark.parametrize(
    ("given", "says"),
    [
        (
            -1,
            r"-1 is negative: Lambda reserves 0 or more .* use at least 1, or \"none\" for no reservation\.$",
        ),
        (2.5, r"must be a whole number of at least 1, or \"none\" for no reservation \(got 2\.5\)\.$"),
        ("5", r"must be a whole number of at least 1, or \"none\" for no reservation \(got \"5\"\)\.$"),
        (
            10001,
            r"10001 is more than the 10,000 warmpool takes: ten times an account's default limit of 1,000 "
            r"concurrent executions, .* The Slack endpoint needs a handful: .* Use at most 10000\.$",
        ),
    ],
)
def test_a_reserved_concurrency_lambda_cannot_take_fails_synth_naming_it_and_the_fix(
    given: object, says: str, tmp_path: Path
) -> None:
    """-1 reached Lambda, which refused the deploy half-way; 10001 (a typo for 1000?) takes the account's
    concurrency from its other functions for an endpoint that needs a handful."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    settings = {"slack_endpoint": "function-url", "function_url_reserved_concurrency": given}
    with pytest.raises(ConfigError, match=rf"^warmpool.function_url_reserved_concurrency: {says}") as err:
        build_app(context={"warmpool": settings}, outdir=str(tmp_path / "out"))
    assert len(err.value.problems) == 1
    assert not list(tmp_path.glob("out/*.template.json"))
    for reserved in (1, 1000, 10000):
        fine = {"slack_endpoint": "function-url", "function_url_reserved_concurrency": reserved}
        build_app(context={"warmpool": fine}, outdir=str(tmp_path / f"ok{reserved}"))


def test_a_reserved_concurrency_above_the_default_account_limit_synthesizes_with_a_warning(
    tmp_path: Path,
) -> None:
    """1001 failed synth, also for an account whose limit was raised to take it; it synthesizes now, and
    the synth warns that an account at the default limit fails the deploy."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app, synth_warnings

    def synthesized(reserved: int, outdir: Path) -> tuple[int | None, list[str]]:
        settings = {"slack_endpoint": "function-url", "function_url_reserved_concurrency": reserved}
        assembly = build_app(context={"warmpool": settings}, outdir=str(outdir)).synth()
        template = json.loads((outdir / "WarmPoolManager.template.json").read_text())
        return _reserved_concurrency(template)[0], synth_warnings(assembly)

    reserved, warnings = synthesized(1500, tmp_path / "raised")
    assert reserved == 1500
    assert warnings == [
        "warmpool.function_url_reserved_concurrency: 1500 is more than an account's default limit of 1,000 "
        "concurrent executions, of which Lambda keeps 100 unreserved: the deploy fails half-way unless the "
        'account\'s limit (Service Quotas, "Concurrent executions") is at least 1,600, less what its other '
        "functions reserve. The Slack endpoint needs a handful: 5 take 50 requests a second; lower it, or "
        "keep it where the limit was raised. [ack: "
        "warmpool.function_url_reserved_concurrency:above-the-default-account-limit]"
    ]
    assert synthesized(1000, tmp_path / "default") == (1000, [])  # within the default limit: no warning


def test_the_alarm_email_is_subscribed_to_the_topic_every_alarm_goes_to(tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    # Set as docs/deploy.md says, it failed synth: cdk-nag's finding on the subscription, as a traceback
    build_app(context={"warmpool": {"alarm_email": "ops@example.com"}}, outdir=str(tmp_path)).synth()
    template = json.loads((tmp_path / "WarmPoolManager.template.json").read_text())
    resources = template["Resources"]
    (subscription,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::SNS::Subscription"]
    assert subscription["Protocol"] == "email"
    assert subscription["Endpoint"] == "ops@example.com"
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert alarms
    assert all(alarm["AlarmActions"] == [subscription["TopicArn"]] for alarm in alarms)


def test_a_setting_given_as_a_misspelt_context_key_of_its_own_fails_synth_naming_the_setting(
    tmp_path: Path,
) -> None:
    # `cdk deploy -c stack-name=Team-A -c warmpool.log-retention-days=7`: read by nothing, the deploy made a
    # stack named WarmPoolManager with the defaults
    result = synth({"stack-name": "Team-A", "warmpool.log-retention-days": "7"}, tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "stack-name: is not read; a setting goes inside the `warmpool` key: "
        """-c warmpool='{"stack_name": ...}' (or cdk.json's context).""",
        "warmpool.log-retention-days: is not read; a setting goes inside the `warmpool` key: "
        """-c warmpool='{"log_retention_days": ...}' (or cdk.json's context).""",
    ]
    assert not list(tmp_path.glob("out/*.template.json"))


@pytest.mark.parametrize("misspelt", ["warmpol", "WarmPool", "warm_pool"])
def test_the_settings_under_a_misspelt_warmpool_key_fail_synth_naming_the_key(
    misspelt: str, tmp_path: Path
) -> None:
    # `cdk deploy -c warmpol='{"stack_name": "Team-A"}'`: nothing read it, and the deploy made (or updated)
    # a stack named WarmPoolManager with the defaults
    result = synth({misspelt: {"stack_name": "Team-A"}}, tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr == (
        f"{misspelt}: is not read; did you mean `warmpool`? The settings go inside the `warmpool` key: "
        """-c warmpool='{"stack_name": ...}' (or cdk.json's context).\n"""
    )
    assert not list(tmp_path.glob("out/*.template.json"))


def test_the_manager_in_a_stack_of_your_own_whose_name_is_too_long_fails_synth_naming_it(
    tmp_path: Path,
) -> None:
    """docs/deploy.md: `WarmPoolManager` as a construct in your own app. Its stack's name, not `stack_name`,
    names the step schedules' group: one of 59 characters passed synth and failed the deploy half-way."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    import aws_cdk as cdk

    from infra.config import StackConfig
    from infra.manager import WarmPoolManager

    name = "MachineLearningPlatform-Production-EuWest1-TrainingServices"
    assert len(name) == 59
    stack = cdk.Stack(cdk.App(outdir=str(tmp_path)), name)
    with pytest.raises(
        ConfigError,
        match=rf"^WarmPoolManager in stack {name}: '{name}' is 59 characters: use at most 58, for it also "
        rf"names the step schedules' group `{name}-steps`, which may have 64\.$",
    ):
        WarmPoolManager(stack, "WarmPool", config=StackConfig(), app_dir=ROOT)


def test_a_stack_with_job_name_prefixes_hears_and_decides_only_those_jobs(tmp_path: Path) -> None:
    """Two stacks in one account (one per environment, per org unit) each managed every job, two managers
    deciding one pool; with `job_name_prefixes`, the rules let through only the events of those jobs (and
    of the tuning jobs so named, whose trials' names begin with theirs), and the engine keeps to them."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    scope = {"job_name_prefixes": ["team-a-", "nightly-"]}
    build_app(context={"warmpool": scope}, outdir=str(tmp_path)).synth()
    template = json.loads((tmp_path / "WarmPoolManager.template.json").read_text())
    resources = template["Resources"]
    patterns = {
        r["Properties"]["EventPattern"]["detail-type"][0]: r["Properties"]["EventPattern"]
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule" and "EventPattern" in r["Properties"]
    }
    prefixes = [{"prefix": "team-a-"}, {"prefix": "nightly-"}]
    assert patterns["SageMaker Training Job State Change"]["detail"] == {"TrainingJobName": prefixes}
    assert patterns["SageMaker HyperParameter Tuning Job State Change"]["detail"] == {
        "HyperParameterTuningJobName": prefixes
    }
    engine = [
        r["Properties"]["Environment"]["Variables"]
        for name, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function"
        and any(f in name for f in ("Lifecycle", "Reconciler", "Presses"))
    ]
    assert len(engine) == 3
    assert all(env["JOB_NAME_PREFIXES"] == "team-a-,nightly-" for env in engine)
    # the CLI's `policy explain` and `pools extend|release` read it as the functions do (docs/cli.md)
    outputs = {o["Description"]: o["Value"] for o in template["Outputs"].values() if "Description" in o}
    assert outputs["JOB_NAME_PREFIXES"] == "team-a-,nightly-"


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("team-a-", r'must be a list of the starts of the jobs\' names, e.g. \["team-a-"\], not a string'),
        ([], r"\[\] would manage no job: .* or leave job_name_prefixes out to manage every job"),
        (
            [""],
            r"'' begins no training job's name: SageMaker's names are 1 to 63 letters, digits and hyphens",
        ),
        (["team_a"], r"'team_a' begins no training job's name"),
        (["-a"], r"'-a' begins no training job's name"),
        (["a" * 64], r"'a{64}' begins no training job's name"),
        (["team-a-", "team-a-"], r"team-a- is listed twice: list each prefix once\.$"),
    ],
)
def test_job_name_prefixes_no_job_could_match_fail_synth_naming_the_key_and_the_fix(
    given: object, says: str, tmp_path: Path
) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app

    with pytest.raises(ConfigError, match=rf"^warmpool.job_name_prefixes(\.\d+)?: {says}") as err:
        build_app(context={"warmpool": {"job_name_prefixes": given}}, outdir=str(tmp_path / "out"))
    assert len(err.value.problems) == 1
    assert not list(tmp_path.glob("out/*.template.json"))
