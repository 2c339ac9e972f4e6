"""The audit trail as on-call and auditors read it (`warmpool pools show`): why a pool was kept or
released, who asked, under which policy version and when, each entry there once and none lost."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from warmpool.cli.main import main
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import lifecycle

from tests.integration.conftest import System, hooked

TAGS = {"team": "vision", "owner": "alice"}


@pytest.fixture
def warm(system: System) -> System:
    """cli-1 ended and left a warm pool, kept as its own keep-alive asks."""
    system.set_policy({"version": 1, "defaults": {"overrides": {"max_extend_minutes": 60}}})
    system.sagemaker.create_training_job(**training_job_request("cli-1", keep_alive_seconds=900, tags=TAGS))
    system.settle()
    system.control.complete_job("cli-1")
    system.settle()
    return system


def trail(capsys: pytest.CaptureFixture[str], job: str = "cli-1") -> list[dict[str, Any]]:
    """The pool's audit trail, as `pools show JOB --format json` prints it."""
    capsys.readouterr()  # the functions' logs
    assert main(["pools", "show", job, "--format", "json"]) == 0
    entries: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["audit"]
    return entries


def test_an_audit_entry_is_written_once_and_never_over_another(
    warm: System, capsys: pytest.CaptureFixture[str]
) -> None:
    before = trail(capsys)
    assert [(e["what"], e["details"].get("trigger")) for e in before] == [
        ("recorded", "job-event"),
        ("decision", "job-event"),
    ]
    taken = boto3.client("dynamodb").query(
        TableName=warm.env.audit_table,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "POOL#cli-1"}},
    )["Items"][-1]["sk"]
    met: list[str] = []

    def same_key(params: dict[str, Any], **_: Any) -> None:
        # the next entry's key is the decision's (two writers on one clock tick)
        if params["TableName"] == warm.env.audit_table and not met:
            met.append(params["Item"]["what"]["S"])
            params["Item"]["sk"] = taken

    with hooked("provide-client-params.dynamodb.PutItem", same_key):
        assert main(["pools", "extend", "cli-1", "--minutes", "30", "--user", "bob"]) == 0
    assert met == ["keep-alive-updated"]

    after = trail(capsys)
    assert after[: len(before)] == before  # the job's own decision is still there, as it was
    assert [(e["what"], e["details"].get("user")) for e in after[len(before) :]] == [
        ("keep-alive-updated", "bob"),  # who asked, should the decision's entry be lost with its save
        ("decision", "bob"),
    ]

    # Nor twice: a write that landed, whose answer was lost, is sent again by botocore with its key;
    # it finds itself there, which is the write done (not another entry's key, to write anew).
    before = after
    resent: list[str] = []

    def answer_lost(request_dict: dict[str, Any], attempts: int, **_: Any) -> int | None:
        # the write landed, its answer did not come back: botocore sends the same request again
        body = json.loads(request_dict["body"])
        if body["TableName"] == warm.env.audit_table and attempts == 1 and not resent:
            resent.append(body["Item"]["what"]["S"])
            return 0
        return None

    with hooked("needs-retry.dynamodb.PutItem", answer_lost):
        assert main(["pools", "release", "cli-1", "--user", "carol"]) == 0
    assert resent == ["keep-alive-updated"]

    assert [e["what"] for e in trail(capsys)[len(before) :]] == ["keep-alive-updated", "decision"]


def test_each_decision_names_the_policy_version_it_was_decided_by(
    warm: System, capsys: pytest.CaptureFixture[str]
) -> None:
    def deployed() -> int:
        return int(warm.ssm.get_parameter(Name=warm.env.policy_parameter)["Parameter"]["Version"])

    first = deployed()
    decided = [e for e in trail(capsys) if e["what"] == "decision"]
    assert [(e["details"]["rule"], e["details"]["policy_version"]) for e in decided] == [
        ("builtin.keep_alive_strategy", first)
    ]

    warm.set_policy({"version": 1, "defaults": {"overrides": {"max_extend_minutes": 30}}})
    assert deployed() == first + 1
    assert main(["pools", "extend", "cli-1", "--minutes", "30", "--user", "bob"]) == 0
    asked = [e for e in trail(capsys) if e["what"] != "recorded"][1:]
    assert [(e["what"], e["details"]["rule"], e["details"]["policy_version"]) for e in asked] == [
        ("keep-alive-updated", "request.cli", first + 1),
        ("decision", "request.cli", first + 1),
    ]

    # put by hand with a typo: a function started since decides by the last valid version, and says so
    warm.set_policy({"version": 1, "defaults": {"overides": {}}})
    lifecycle.runtime.cache_clear()  # a new instance of the function: it has read no good document
    warm.run_job("cli-2", 60, keep_alive_seconds=900, volume_size_gb=80, tags=TAGS)
    decided = [e for e in trail(capsys, "cli-2") if e["what"] == "decision"]
    assert [e["details"]["policy_version"] for e in decided] == [first + 1]


def test_the_text_trail_reads_as_what_was_decided_by_whom_under_which_policy_and_why(
    warm: System, capsys: pytest.CaptureFixture[str]
) -> None:
    version = warm.ssm.get_parameter(Name=warm.env.policy_parameter)["Parameter"]["Version"]
    warm.advance(600)
    assert main(["pools", "extend", "cli-1", "--minutes", "90", "--user", "bob"]) == 1  # over the 60 allowed
    capsys.readouterr()
    assert main(["pools", "show", "cli-1"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-4:] == [
        "  2026-03-02T09:10:00+00:00  cli-1  decision  keep (defaults.overrides.max_extend_minutes), "
        # beside the name typed, the AWS identity that ran the command (moto's default)
        f"asked by bob (arn:aws:sts::123456789012:user/moto) via cli, policy version {version}",
        "      horizon_seconds=900 trigger=user",
        "      - strategy job wants 15 min of warm time",
        "      - bob asked for 90 min; the policy allows at most 60 min per request "
        "(defaults.overrides.max_extend_minutes)",
    ]
    assert "None" not in out
    assert "{'" not in out


def test_a_pool_whose_entries_have_all_expired_says_so(
    warm: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # past the trail's 90 days, DynamoDB's TTL has removed every entry of the pool
    audit = boto3.client("dynamodb")
    for entry in audit.query(
        TableName=warm.env.audit_table,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "POOL#cli-1"}},
    )["Items"]:
        audit.delete_item(TableName=warm.env.audit_table, Key={"pk": entry["pk"], "sk": entry["sk"]})
    capsys.readouterr()
    assert main(["pools", "show", "cli-1"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "audit:         none (an entry is kept 90 days)"
    assert trail(capsys) == []


def test_a_job_without_a_pool_names_the_table_read_and_what_to_check(
    warm: System, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["pools", "show", "cli-l"]) == 1  # a typo of cli-1
    # the table from the environment (a stack output): it said "in --table NAME", a flag nobody typed
    assert capsys.readouterr().err == (
        "warmpool: no training job cli-l in SageMaker, and no pool is registered for it in "
        f"POOLS_TABLE_NAME={warm.env.pools_table}: check the job's name (warmpool pools list shows the "
        "pools there are), or --region\n"
    )
    assert main(["pools", "show", "cli-l", "--table", warm.env.pools_table]) == 1
    assert capsys.readouterr().err == (
        f"warmpool: no training job cli-l in SageMaker, and no pool is registered for it in --table "
        f"{warm.env.pools_table}: check the job's name (warmpool pools list shows the pools there are), "
        "or --region\n"
    )


def test_a_request_from_the_cli_records_the_aws_identity_that_made_it_beside_the_typed_name(
    warm: System, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # mallory runs the CLI with her own credentials and types someone else's name
    iam = boto3.client("iam")
    iam.create_user(UserName="mallory")
    key = iam.create_access_key(UserName="mallory")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # a new CLI process reads them afresh
    mallory = "arn:aws:iam::123456789012:user/mallory"
    capsys.readouterr()
    assert main(["pools", "extend", "cli-1", "--minutes", "30", "--user", "bob", "--format", "json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert (answer["user"], answer["caller_arn"]) == ("bob", mallory)
    assert main(["pools", "release", "cli-1", "--user", "alice"]) == 0
    asked = [
        (e["what"], e["details"]["user"], e["details"].get("caller_arn"))
        for e in trail(capsys)
        if e["details"].get("via") == "cli"
    ]
    # before, the trail said only "bob" and "alice": whoever typed the name
    assert asked == [
        ("keep-alive-updated", "bob", mallory),
        ("decision", "bob", mallory),
        ("keep-alive-updated", "alice", mallory),
        ("decision", "alice", mallory),
    ]
    capsys.readouterr()
    assert main(["pools", "show", "cli-1"]) == 0
    out = capsys.readouterr().out
    assert f"asked by bob ({mallory}) via cli" in out
    assert f"asked by alice ({mallory}) via cli" in out


def test_a_refused_request_leaves_the_pools_standing_decision_and_its_refusal_in_the_trail(
    warm: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # bob's 90 minutes are over the 60 allowed: refused, the pool kept as it was. `pools list` said the
    # pool was kept by `defaults.overrides.max_extend_minutes`, a rule that keeps nothing, in place of
    # the plan that does; the refusal is the trail's (who asked, what, the limit)
    warm.advance(600)
    capsys.readouterr()
    assert main(["pools", "list", "--format", "json"]) == 0
    standing = [row["last_decision"] for row in json.loads(capsys.readouterr().out)]
    assert standing == ["keep (builtin.keep_alive_strategy)"]
    assert main(["pools", "extend", "cli-1", "--minutes", "90", "--user", "bob"]) == 1

    capsys.readouterr()
    assert main(["pools", "list", "--format", "json"]) == 0
    assert [row["last_decision"] for row in json.loads(capsys.readouterr().out)] == standing
    assert main(["pools", "show", "cli-1"]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert "last_decision  keep (builtin.keep_alive_strategy)" in shown
    refused = [e for e in trail(capsys) if e["what"] == "decision"][-1]["details"]
    assert (refused["rule"], refused["user"]) == ("defaults.overrides.max_extend_minutes", "bob")


def test_a_refused_request_whose_decision_shortened_the_pool_names_the_rule_that_shortened_it(
    warm: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # the policy now keeps pools 10 minutes; bob's 90 minutes are over the 60 allowed: refused, and the
    # decision shortens the pool to the plan's 10 minutes. The list, the trail's decision and the
    # update said `shorten (defaults.overrides.max_extend_minutes)`: a limit on requests, which
    # shortens nothing, named as what shortened the pool
    warm.set_policy(
        {
            "version": 1,
            "defaults": {"keep_alive_strategy": "fixed-600", "overrides": {"max_extend_minutes": 60}},
        }
    )
    capsys.readouterr()
    assert main(["pools", "extend", "cli-1", "--minutes", "90", "--user", "bob", "--format", "json"]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert (answer["verdict"], answer["rule"]) == ("refused", "defaults.overrides.max_extend_minutes")

    assert main(["pools", "list", "--format", "json"]) == 0
    assert [row["last_decision"] for row in json.loads(capsys.readouterr().out)] == [
        "shorten (defaults.keep_alive_strategy)"
    ]
    entries = trail(capsys)
    (updated,) = [e["details"] for e in entries if e["what"] == "keep-alive-updated"][-1:]
    assert (updated["action"], updated["rule"]) == ("shorten", "defaults.keep_alive_strategy")
    decided = [e["details"] for e in entries if e["what"] == "decision"][-1]
    assert (decided["action"], decided["rule"], decided["user"]) == (
        "shorten",
        "defaults.keep_alive_strategy",
        "bob",
    )
    # the refusal is the trail's, as an entry of its own: who asked, what, and the limit that refused it
    (refused,) = [e["details"] for e in entries if e["what"] == "request-refused"]
    assert (refused["rule"], refused["user"], refused["kind"], refused["minutes"]) == (
        "defaults.overrides.max_extend_minutes",
        "bob",
        "extend",
        90,
    )
    assert decided["decision_id"] == refused["decision_id"] == updated["decision_id"]
    assert main(["pools", "show", "cli-1"]) == 0
    shown = capsys.readouterr().out
    (line,) = [line for line in shown.splitlines() if "request-refused" in line]
    assert line.endswith(
        "request-refused     (defaults.overrides.max_extend_minutes), asked by bob "
        "(arn:aws:sts::123456789012:user/moto) via cli to extend it 90 min, policy version 3"
    )
