"""Two stacks in one account (docs/deploy.md), each with its own `job_name_prefixes`: what one stack
deploys must not be the other's. Each test synthesizes both stacks' templates, as their operators would.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from warmpool import observability
from warmpool.emulator import EmulatorConfig

from tests.infra.conftest import ROOT
from tests.integration.conftest import emf_documents, running_system

pytestmark = pytest.mark.slow

TEAM_A: dict[str, object] = {
    "stack_name": "Team-A",
    "job_name_prefixes": ["team-a-"],
    "metrics_service": "team-a",
}
TEAM_B: dict[str, object] = {
    "stack_name": "Team-B",
    "job_name_prefixes": ["team-b-"],
    "metrics_service": "team-b",
}

Watched = tuple[str, str, tuple[tuple[str, str], ...]]  # namespace, metric, dimensions


def synthesized(settings: dict[str, object], outdir: Path) -> dict[str, Any]:
    """A stack's template, built as `cdk synth -c warmpool=...` builds it."""
    return synthesized_with_warnings(settings, outdir)[1]


def synthesized_with_warnings(
    settings: dict[str, object], outdir: Path
) -> tuple[str, dict[str, Any], list[str]]:
    """A stack's name, template and the warnings its synth left (which `cdk synth` prints)."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app, synth_warnings

    assembly = build_app(context={"warmpool": settings}, outdir=str(outdir)).synth()
    (stack,) = assembly.stacks
    template: dict[str, Any] = json.loads((outdir / stack.template_file).read_text())
    return stack.stack_name, template, synth_warnings(assembly)


def alarmed(template: dict[str, Any]) -> set[Watched]:
    """What the stack's alarms on warmpool's own metrics watch."""
    watched = set()
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        for query in resource["Properties"].get("Metrics", []):
            metric = query["MetricStat"]["Metric"]
            dimensions = tuple(sorted((d["Name"], d["Value"]) for d in metric["Dimensions"]))
            watched.add((metric["Namespace"], metric["MetricName"], dimensions))
    return watched


def graphed(template: dict[str, Any]) -> set[tuple[str, str]]:
    """The (metric, service) pairs of warmpool's own metrics on the stack's dashboard."""
    (dashboard,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body = json.dumps(dashboard["Properties"]["DashboardBody"]).replace('\\"', '"')
    return set(re.findall(r'\["WarmPool","(\w+)","service","([^"]+)"', body))


def functions_service(template: dict[str, Any]) -> set[str]:
    return {
        r["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and "Environment" in r["Properties"]
    }


def test_each_stacks_alarms_and_dashboard_watch_only_its_own_functions_metrics(tmp_path: Path) -> None:
    # Both stacks published under `service` = warmpool: team B's policy put invalid by hand paged team A
    # (PolicyInvalid), and team A's dashboard summed both teams' pools.
    a = synthesized(TEAM_A, tmp_path / "a")
    b = synthesized(TEAM_B, tmp_path / "b")
    for template, service in ((a, "team-a"), (b, "team-b")):
        assert functions_service(template) == {service}  # the functions publish under it
        watched = alarmed(template)
        assert {m for _, m, _ in watched} >= {"PolicyInvalid", "PolicyUnreadable", "ReconcilerFailures"}
        assert {d for _, _, d in watched} == {(("service", service),)}, watched
        assert graphed(template)
        assert {s for _, s in graphed(template)} == {service}
    assert not alarmed(a) & alarmed(b)


def test_a_stack_left_at_the_defaults_publishes_and_alarms_as_before(tmp_path: Path) -> None:
    # the metrics' names, namespace and dimension are a contract (docs/deploy.md, "Metrics")
    _, template, warnings = synthesized_with_warnings({}, tmp_path)
    assert warnings == []  # a stack without prefixes is the account's only one
    assert functions_service(template) == {"warmpool"}
    assert {d for _, _, d in alarmed(template)} == {(("service", "warmpool"),)}
    assert {s for _, s in graphed(template)} == {"warmpool"}


@pytest.fixture
def fresh_observability() -> Iterator[None]:
    """The functions' logger and metrics made anew, as in a new Lambda instance (and after the test)."""
    observability.metrics_client.cache_clear()
    observability.logger.cache_clear()
    yield
    observability.metrics_client.cache_clear()
    observability.logger.cache_clear()


def test_a_function_publishes_its_metrics_under_the_service_its_stack_alarms_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_observability: None
) -> None:
    # The stack set POWERTOOLS_SERVICE_NAME, but the functions published under `warmpool` whatever it
    # said: team B's alarms would watch a metric never published, and team A's fire on team B's.
    template = synthesized(TEAM_B, tmp_path)
    (service,) = functions_service(template)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with running_system(monkeypatch, EmulatorConfig()) as system:
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", service)  # as the stack sets it
        system.sqs.send_message(QueueUrl=system.env.lifecycle_queue_url, MessageBody='{"detail-type": "?"}')
        out = io.StringIO()
        with redirect_stdout(out):
            system.lifecycle.drain()
    documents = list(emf_documents(out.getvalue()))
    dimensions = {json.dumps(d["_aws"]["CloudWatchMetrics"][0]["Dimensions"]) for d in documents}
    assert dimensions == {'[["service"]]'}
    published = {
        (document["_aws"]["CloudWatchMetrics"][0]["Namespace"], metric["Name"], document["service"])
        for document in documents
        for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    }
    assert ("WarmPool", "EventsRejected", "team-b") in published, published
    assert {s for _, _, s in published} == {"team-b"}
    assert ("EventsRejected", "team-b") in graphed(template)  # what team B's dashboard shows


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("", r"'' cannot be the metrics' `service` dimension: use 1 to 255 letters, digits, dots, "),
        ("team a", r"'team a' cannot be the metrics' `service` dimension"),
        (" team-a", r"' team-a' cannot be the metrics' `service` dimension"),
        ("a" * 256, r"'a{256}' cannot be the metrics' `service` dimension"),
        (5, r"Input should be a valid string \(got 5\)\. Use a string\."),
    ],
)
def test_a_metrics_service_cloudwatch_or_the_alarms_could_not_use_fails_synth_naming_it(
    given: object, says: str, tmp_path: Path
) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
    from app import build_app
    from infra.config import ConfigError

    with pytest.raises(ConfigError, match=rf"^warmpool.metrics_service: {says}") as err:
        build_app(context={"warmpool": {"metrics_service": given}}, outdir=str(tmp_path / "out"))
    assert len(err.value.problems) == 1
    assert not list(tmp_path.glob("out/*.template.json"))


STACK_NAME_SHARED = (
    "warmpool.stack_name: left at `WarmPoolManager` while job_name_prefixes is set: another stack deployed "
    "in the account and region with this name does not stand beside this one, it replaces it"
)
METRICS_SHARED = (
    "warmpool.metrics_service: left at `warmpool` while job_name_prefixes is set: another stack in the "
    "account publishing its metrics under the same `service` dimension fires this stack's alarms"
)


def test_two_stacks_given_only_their_prefixes_each_warn_at_synth_of_what_they_would_share(
    tmp_path: Path,
) -> None:
    # Given only their prefixes, as "Two stacks in one account" begins, the two were one stack named
    # WarmPoolManager (the second deploy replaced the first's prefixes, its team's jobs left unmanaged) and
    # shared their metrics, and synth said nothing of either.
    a_name, _, a_warnings = synthesized_with_warnings({"job_name_prefixes": ["team-a-"]}, tmp_path / "a")
    b_name, _, b_warnings = synthesized_with_warnings({"job_name_prefixes": ["team-b-"]}, tmp_path / "b")
    assert a_name == b_name == "WarmPoolManager"
    for warnings in (a_warnings, b_warnings):
        assert len(warnings) == 2, warnings
        stack_name, metrics = warnings
        assert stack_name.startswith(STACK_NAME_SHARED)
        assert "Give each stack a stack_name of its own (e.g. Team-A), or set `WarmPoolManager`" in stack_name
        assert metrics.startswith(METRICS_SHARED)
        assert (
            "Give each stack a metrics_service of its own (e.g. its stack_name), or set `warmpool`" in metrics
        )
    # each its own: nothing to warn of, the stacks and their alarms apart
    for settings, outdir in ((TEAM_A, tmp_path / "team-a"), (TEAM_B, tmp_path / "team-b")):
        _, _, warnings = synthesized_with_warnings(settings, outdir)
        assert warnings == []
    # the one stack that keeps the defaults says so, and is not warned either
    kept: dict[str, object] = {
        "job_name_prefixes": ["team-a-"],
        "stack_name": "WarmPoolManager",
        "metrics_service": "warmpool",
    }
    assert synthesized_with_warnings(kept, tmp_path / "kept")[2] == []


def test_make_synth_prints_the_warnings_the_cdk_cli_would(tmp_path: Path) -> None:
    # `make synth` runs `python app.py`, which wrote the template and said nothing of the warnings that
    # `cdk synth` shows; the CDK CLI (which sets CDK_OUTDIR) prints them itself, not twice.
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps({"warmpool": {"job_name_prefixes": ["team-a-"]}}),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "18,20",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "lambdas"), str(ROOT)]),
    }
    env.pop("CDK_OUTDIR", None)
    app = str(ROOT / "app.py")
    made = subprocess.run(
        [sys.executable, app], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "cdk.out" / "WarmPoolManager.template.json").exists()
    printed = [line for line in made.stderr.splitlines() if line.startswith("warning: ")]
    assert [line.split(":", 2)[1].strip() for line in printed] == [
        "warmpool.stack_name",
        "warmpool.metrics_service",
    ]
    assert printed[1].startswith(f"warning: {METRICS_SHARED}")
    under_cli = {**env, "CDK_OUTDIR": str(tmp_path / "cli.out")}
    made = subprocess.run(
        [sys.executable, app], cwd=tmp_path, env=under_cli, capture_output=True, text=True, check=False
    )
    assert made.returncode == 0, made.stderr
    assert "warning: " not in made.stderr


# The names AWS holds unique in an account and region, by resource type: a name either stack gave
# explicitly, were the other to give it too, would fail the second deploy (or, worse, be shared).
UNIQUE_NAMES = {
    "AWS::Scheduler::ScheduleGroup": "Name",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::DynamoDB::GlobalTable": "TableName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SSM::Parameter": "Name",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::IAM::Role": "RoleName",
    "AWS::KMS::Alias": "AliasName",
}


def named(template: dict[str, Any]) -> dict[str, str]:
    """Each name the template gives (`type.property=value`), by the resource that has it."""
    return {
        f"{r['Type']}.{UNIQUE_NAMES[r['Type']]}={r['Properties'][UNIQUE_NAMES[r['Type']]]}": logical
        for logical, r in template["Resources"].items()
        if r["Type"] in UNIQUE_NAMES and UNIQUE_NAMES[r["Type"]] in r.get("Properties", {})
    }


def test_two_stacks_of_their_own_names_give_no_resource_a_name_the_other_gives(tmp_path: Path) -> None:
    # every table, function, log group, queue, topic, parameter, secret, rule, dashboard, alarm, role and
    # schedule group of a stack is named by CloudFormation after it, or by the stack's own stack_name
    a, b = synthesized(TEAM_A, tmp_path / "a"), synthesized(TEAM_B, tmp_path / "b")
    assert named(a)  # the step schedules' group at least
    shared = sorted(set(named(a)) & set(named(b)))
    assert not shared, shared
    kinds = {r["Type"] for r in a["Resources"].values()}
    assert {"AWS::DynamoDB::GlobalTable", "AWS::Lambda::Function", "AWS::SSM::Parameter"} <= kinds


def told_apart(template: dict[str, Any]) -> dict[str, set[str]]:
    """What an operator reads in the console to tell a stack's topics, Slack API and dashboard apart."""
    found: dict[str, set[str]] = {}
    for kind, key in (
        ("AWS::SNS::Topic", "DisplayName"),
        ("AWS::ApiGatewayV2::Api", "Name"),
        ("AWS::CloudWatch::Dashboard", "DashboardName"),
    ):
        for resource in template["Resources"].values():
            if resource["Type"] == kind:
                found.setdefault(kind, set()).add(resource["Properties"].get(key))
    return found


def test_two_stacks_topics_slack_api_and_dashboard_are_named_after_their_stacks(tmp_path: Path) -> None:
    # Both stacks' notifications topics read "warmpool notifications" (and the emails' sender so), their
    # Slack APIs "SlackApi", and their dashboards a name CloudFormation made up (WarmPoolMonitoring...-Ab12):
    # an operator could not tell in the console which was team A's.
    a, b = synthesized(TEAM_A, tmp_path / "a"), synthesized(TEAM_B, tmp_path / "b")
    assert told_apart(a) == {
        "AWS::SNS::Topic": {"Team-A warmpool notifications", "Team-A warmpool alarms"},
        "AWS::ApiGatewayV2::Api": {"Team-A-slack"},
        "AWS::CloudWatch::Dashboard": {"Team-A-warmpool"},
    }
    assert told_apart(b) == {
        "AWS::SNS::Topic": {"Team-B warmpool notifications", "Team-B warmpool alarms"},
        "AWS::ApiGatewayV2::Api": {"Team-B-slack"},
        "AWS::CloudWatch::Dashboard": {"Team-B-warmpool"},
    }
    # and the account's only stack, as it was deployed before: its own name
    (dashboard,) = told_apart(synthesized({}, tmp_path / "one"))["AWS::CloudWatch::Dashboard"]
    assert dashboard == "WarmPoolManager-warmpool"


def may_update(template: dict[str, Any]) -> dict[str, set[str]]:
    """The training jobs each role may UpdateTrainingJob, as ARN patterns (the partition, region and
    account as the template's pseudo parameters)."""
    out: dict[str, set[str]] = {}
    for policy in (r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"):
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "sagemaker:UpdateTrainingJob" not in actions:
                continue
            listed = statement["Resource"]
            for resource in listed if isinstance(listed, list) else [listed]:
                parts = resource["Fn::Join"][1]
                arn = "".join(p if isinstance(p, str) else "${" + p["Ref"] + "}" for p in parts)
                for role in policy["Properties"]["Roles"]:
                    out.setdefault(role["Ref"], set()).add(arn)
    return out


def test_each_stacks_engine_may_update_only_the_jobs_of_its_own_prefixes(tmp_path: Path) -> None:
    # Each stack's engine roles (lifecycle, reconciler, Slack presses) could UpdateTrainingJob every job
    # of the account, the other stack's too: one stack's compromised or misconfigured function could set
    # the other's keep-alives. SageMaker's training job ARNs have the job's name in lower case.
    a = synthesized({**TEAM_A, "job_name_prefixes": ["team-a-", "Nightly-"]}, tmp_path / "a")
    b = synthesized(TEAM_B, tmp_path / "b")
    jobs = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:training-job/"
    assert len(may_update(a)) == len(may_update(b)) == 3
    assert set(map(frozenset, may_update(a).values())) == {frozenset({f"{jobs}team-a-*", f"{jobs}nightly-*"})}
    assert set(map(frozenset, may_update(b).values())) == {frozenset({f"{jobs}team-b-*"})}
    # cdk-nag's finding on each prefix's wildcard is acknowledged with its reason, as on training-job/*
    for outdir in (tmp_path / "a", tmp_path / "b"):
        report = json.loads((outdir / "validation-report.json").read_text())
        assert all(not r.get("violations") for r in report["pluginReports"]), report
    # a stack of the account's every job (no prefixes) still updates every job
    assert set(map(frozenset, may_update(synthesized({}, tmp_path / "all")).values())) == {
        frozenset({f"{jobs}*"})
    }


def test_the_second_stack_as_deploy_md_shows_it_synthesizes_apart_and_without_a_warning(
    tmp_path: Path,
) -> None:
    text = (ROOT / "docs" / "deploy.md").read_text()
    section = text.split("### Two stacks in one account\n", 1)[1].split("\n#", 1)[0]
    (given,) = re.findall(r"deploy -c warmpool='(\{.*\})'", section)
    name, template, warnings = synthesized_with_warnings(json.loads(given), tmp_path)
    assert warnings == []
    assert name != "WarmPoolManager"
    assert functions_service(template) != {"warmpool"}
