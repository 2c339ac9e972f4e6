"""The CLI against AWS (moto): a call AWS refuses is one line naming the call and where to look."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws
from warmpool.cli.main import main


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


def test_a_table_that_does_not_exist_is_named_without_a_traceback(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["pools", "list", "--table", "nope", "--region", "us-east-1"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("warmpool: Query refused: ResourceNotFoundException")
    assert "check the table names (--table nope) against the stack's outputs, and --region" in err
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "command",
    [
        ["pools", "list", "--table", "t"],
        ["pools", "extend", "j", "--minutes", "30", "--table", "t", "--audit-table", "a"],
        ["policy", "explain", "--job", "j"],
        ["trace", "export"],
    ],
)
def test_an_endpoint_without_its_scheme_is_named_without_a_traceback(
    aws: None, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    # botocore refused it with a bare ValueError ("Invalid endpoint: localhost:5000"): a traceback
    with pytest.raises(SystemExit) as exited:
        main([*command, "--endpoint-url", "localhost:5000", "--region", "us-east-1"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "warmpool: --endpoint-url localhost:5000: not a URL; write it with its scheme, e.g. "
        "http://127.0.0.1:5000\n"
    )


@pytest.mark.parametrize(
    "command",
    [
        ["pools", "list", "--table", "t"],
        ["policy", "explain", "--job", "j"],
        ["trace", "export"],
    ],
)
def test_an_endpoint_from_the_environment_without_its_scheme_is_named_without_a_traceback(
    aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    # --endpoint-url's default is AWS_ENDPOINT_URL (its help says so): `policy explain --job` left the
    # variable to botocore, whose "Invalid endpoint: localhost:5000" was a traceback
    monkeypatch.setenv("AWS_ENDPOINT_URL", "localhost:5000")
    with pytest.raises(SystemExit) as exited:
        main([*command, "--region", "us-east-1"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "warmpool: --endpoint-url localhost:5000: not a URL; write it with its scheme, e.g. "
        "http://127.0.0.1:5000\n"
    )


@pytest.mark.parametrize(
    "command",
    [
        ["pools", "show", "{job}", "--table", "t", "--audit-table", "a"],
        ["pools", "extend", "{job}", "--minutes", "30", "--table", "t", "--audit-table", "a"],
        ["pools", "release", "{job}", "--table", "t", "--audit-table", "a"],
        ["policy", "explain", "--job", "{job}"],
    ],
)
@pytest.mark.parametrize("job", ["", "j" * 64], ids=["empty", "64-characters"])
def test_a_job_name_sagemaker_could_not_have_given_is_a_usage_error(
    aws: None, capsys: pytest.CaptureFixture[str], command: list[str], job: str
) -> None:
    # `--job "$JOB"` with JOB unset, or a name cut wrong: botocore's ParamValidationError was a traceback
    with pytest.raises(SystemExit) as exited:
        main([*(job if part == "{job}" else part for part in command), "--region", "us-east-1"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.endswith(
        f"{job!r} is not a training job name: SageMaker's are 1 to 63 letters, digits and hyphens, "
        "beginning and ending with a letter or digit\n"
    )
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "command",
    [
        ["pools", "list", "--table", "t"],
        ["pools", "extend", "j", "--minutes", "30", "--table", "t", "--audit-table", "a"],
        ["policy", "explain", "--job", "j"],
        ["trace", "export"],
    ],
)
@pytest.mark.parametrize(
    ("flags", "variable", "said"),
    [
        (["--region", ""], "us-east-1", "--region '': not an AWS region; e.g. --region us-east-1"),
        (
            ["--region", "us east 1"],
            "us-east-1",
            "--region 'us east 1': not an AWS region; e.g. --region us-east-1",
        ),
        ([], "", "AWS_DEFAULT_REGION '': not an AWS region; set it to one, e.g. us-east-1"),
    ],
    ids=["empty-flag", "flag-with-spaces", "empty-variable"],
)
def test_a_region_botocore_cannot_use_is_named_without_a_traceback(
    aws: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    flags: list[str],
    variable: str,
    said: str,
) -> None:
    # an empty region made the endpoint https://dynamodb..amazonaws.com: botocore's "Invalid endpoint"
    # ValueError (and its InvalidRegionError for a name with spaces) was a traceback
    monkeypatch.setenv("AWS_DEFAULT_REGION", variable)
    with pytest.raises(SystemExit) as exited:
        main([*command, *flags])
    assert exited.value.code == 2
    assert capsys.readouterr().err == f"warmpool: {said}\n"


@pytest.mark.parametrize("action", ["list", "costs"])
def test_an_empty_team_is_a_usage_error(aws: None, capsys: pytest.CaptureFixture[str], action: str) -> None:
    # `--team "$TEAM"` with the variable unset: list showed no pool and costs every team's
    with pytest.raises(SystemExit) as exited:
        main(["pools", action, "--team", "", "--table", "t", "--region", "us-east-1"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.endswith(
        "argument --team: empty: name a team, as its pools are tagged, or leave --team out\n"
    )


def test_a_read_only_client_refuses_every_call_but_a_read_before_it_is_sent(aws: None) -> None:
    # what `policy explain --job` runs the engine's code on: whatever path it takes, nothing is written
    from botocore.exceptions import ClientError
    from warmpool.cli.output import aws_client

    writer = aws_client("dynamodb", None, "us-east-1")
    writer.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    reader = aws_client("dynamodb", None, "us-east-1", read_only=True)
    with pytest.raises(ClientError) as refused:
        reader.put_item(TableName="t", Item={"pk": {"S": "x"}})
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert refused.value.operation_name == "PutItem"
    assert reader.get_item(TableName="t", Key={"pk": {"S": "x"}}).get("Item") is None  # not written
    assert reader.scan(TableName="t")["Items"] == []


@pytest.mark.parametrize(
    ("flags", "env", "named"),
    [([], "nope", "POOLS_TABLE_NAME=nope"), (["--table", "nope"], None, "--table nope")],
    ids=["from-the-environment", "typed"],
)
def test_explain_of_a_job_with_a_registry_that_does_not_exist_names_the_table_and_where_it_came_from(
    aws: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    env: str | None,
    named: str,
) -> None:
    # the table from POOLS_TABLE_NAME was not named at all ("check the table names against ..."): which
    # table was read, and from where, as `pools show` says it
    if env is None:
        monkeypatch.delenv("POOLS_TABLE_NAME", raising=False)
    else:
        monkeypatch.setenv("POOLS_TABLE_NAME", env)
    monkeypatch.delenv("POLICY_PARAMETER_NAME", raising=False)
    code = main(
        [
            "policy",
            "explain",
            "--job",
            "j",
            "--region",
            "us-east-1",
            "--policy",
            "policies/example.yaml",
            *flags,
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("warmpool: GetItem refused: ResourceNotFoundException")
    assert err.endswith(f"check the table names ({named}) against the stack's outputs, and --region")
