"""The same emulator behind moto's standalone server, driven over HTTP like the demo and the CLI do."""

import csv
import io
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from warmpool.adapters.registry import DynamoPoolRegistry
from warmpool.cli.main import main
from warmpool.domain.clock import moment_text
from warmpool.emulator import EmulatorError, EmulatorServer, HttpControl, WarmPoolEmulator, install, uninstall
from warmpool.emulator.jobs import training_job_request
from warmpool.local.stack import LocalSystem, start_local_system
from warmpool.service import wiring

pytestmark = pytest.mark.slow

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def server(aws_env: None) -> Iterator[EmulatorServer]:
    emulator = WarmPoolEmulator()
    install(emulator)
    srv = EmulatorServer(emulator)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        uninstall()


@pytest.fixture
def remote(server: EmulatorServer) -> Any:
    return boto3.client("sagemaker", region_name="us-east-1", endpoint_url=server.endpoint_url)


def test_full_warm_pool_cycle_over_http(server: EmulatorServer, remote: Any) -> None:
    control = HttpControl(server.endpoint_url)
    start = control.now()
    remote.create_training_job(**training_job_request("srv-1", keep_alive_seconds=900))
    assert remote.describe_training_job(TrainingJobName="srv-1")["WarmPoolStatus"]["Status"] == "InUse"
    control.run_for("srv-1", 600)
    assert (control.advance(700) - start).total_seconds() == 700
    assert remote.describe_training_job(TrainingJobName="srv-1")["WarmPoolStatus"]["Status"] == "Available"
    listed = remote.list_training_jobs(WarmPoolStatusEquals="Available")["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in listed] == ["srv-1"]
    remote.update_training_job(TrainingJobName="srv-1", ResourceConfig={"KeepAlivePeriodInSeconds": 0})
    assert remote.describe_training_job(TrainingJobName="srv-1")["WarmPoolStatus"]["Status"] == "Terminated"
    assert [c["seconds"] for c in control.update_calls()] == [0]
    assert [e["detail"]["TrainingJobStatus"] for e in control.events()] == ["InProgress", "Completed"]


def test_faults_and_errors_over_http(server: EmulatorServer, remote: Any) -> None:
    control = HttpControl(server.endpoint_url)
    with pytest.raises(ClientError) as err:
        remote.update_training_job(TrainingJobName="missing", ResourceConfig={"KeepAlivePeriodInSeconds": 60})
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"
    control.inject_faults("ListTrainingJobs", "ThrottlingException", count=1)
    listed = remote.list_training_jobs()  # throttled once, then retried by botocore
    assert (listed["TrainingJobSummaries"], listed["ResponseMetadata"]["RetryAttempts"]) == ([], 1)
    with pytest.raises(EmulatorError, match="does not exist"):
        control.complete_job("missing")
    with pytest.raises(EmulatorError, match="only moves forward"):
        control.advance(-60)


def test_the_http_control_acts_in_the_account_and_region_it_names(
    server: EmulatorServer, remote: Any
) -> None:
    oregon = boto3.client("sagemaker", region_name="us-west-2", endpoint_url=server.endpoint_url)
    # job names are unique per account and region only: a job of the same name in each
    remote.create_training_job(**training_job_request("srv-a", keep_alive_seconds=600))
    oregon.create_training_job(**training_job_request("srv-a", keep_alive_seconds=600))
    HttpControl(server.endpoint_url, region="us-west-2").complete_job("srv-a")
    assert oregon.describe_training_job(TrainingJobName="srv-a")["TrainingJobStatus"] == "Completed"
    assert remote.describe_training_job(TrainingJobName="srv-a")["TrainingJobStatus"] == "InProgress"
    HttpControl(server.endpoint_url).stop_job("srv-a")  # the server's region, us-east-1
    assert remote.describe_training_job(TrainingJobName="srv-a")["TrainingJobStatus"] == "Stopped"


def test_the_http_control_scoped_to_another_region_acts_there_as_the_local_one_does(
    server: EmulatorServer, remote: Any
) -> None:
    # docs/emulator.md: `control.scoped(region="us-west-2")` is the same control in another region;
    # HttpControl had no `scoped` (AttributeError), LocalControl had
    oregon = boto3.client("sagemaker", region_name="us-west-2", endpoint_url=server.endpoint_url)
    remote.create_training_job(**training_job_request("srv-b", keep_alive_seconds=600))
    oregon.create_training_job(**training_job_request("srv-b", keep_alive_seconds=600))
    control = HttpControl(server.endpoint_url)
    control.scoped(region="us-west-2").complete_job("srv-b")
    assert oregon.describe_training_job(TrainingJobName="srv-b")["TrainingJobStatus"] == "Completed"
    assert remote.describe_training_job(TrainingJobName="srv-b")["TrainingJobStatus"] == "InProgress"
    with pytest.raises(EmulatorError, match="account 210987654321, region us-west-2"):
        control.scoped(region="us-west-2").scoped(account_id="210987654321").stop_job("srv-b")
    control.stop_job("srv-b")  # the control itself still acts in the server's region
    assert remote.describe_training_job(TrainingJobName="srv-b")["TrainingJobStatus"] == "Stopped"


def test_requests_botocore_would_refuse_are_a_400_naming_the_member_over_http(
    server: EmulatorServer, remote: Any
) -> None:
    # a client with parameter_validation off (or another SDK, or curl) reaches the server with them: a
    # keep-alive of "abc" was an HTML 500 page, `true` a keep-alive of 1 second, an empty ResourceConfig
    # a silent no-op and an unknown StatusEquals an empty list
    unchecked = boto3.client(
        "sagemaker",
        region_name="us-east-1",
        endpoint_url=server.endpoint_url,
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )
    control = HttpControl(server.endpoint_url)
    bad = training_job_request("srv-bad")
    bad["ResourceConfig"]["KeepAlivePeriodInSeconds"] = "abc"
    remote.create_training_job(**training_job_request("srv-1", keep_alive_seconds=600))
    control.complete_job("srv-1")
    calls: list[tuple[Any, dict[str, Any], str]] = [
        (unchecked.create_training_job, bad, "Value 'abc' at 'resourceConfig.keepAlivePeriodInSeconds'"),
        (
            unchecked.update_training_job,
            {"TrainingJobName": "srv-1", "ResourceConfig": {"KeepAlivePeriodInSeconds": True}},
            "Value 'true' at 'resourceConfig.keepAlivePeriodInSeconds'",
        ),
        (
            unchecked.update_training_job,
            {"TrainingJobName": "srv-1", "ResourceConfig": {}},
            "Value null at 'resourceConfig.keepAlivePeriodInSeconds'",
        ),
        (unchecked.list_training_jobs, {"StatusEquals": "Running"}, "Value 'Running' at 'statusEquals'"),
    ]
    for call, request, message in calls:
        with pytest.raises(ClientError) as refused:
            call(**request)
        answer = refused.value.response
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert answer["Error"]["Code"] == "ValidationException"
        assert message in answer["Error"]["Message"]
    job = remote.describe_training_job(TrainingJobName="srv-1")
    assert job["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 600
    assert job["WarmPoolStatus"]["Status"] == "Available"
    assert control.update_calls() == []
    assert [s["TrainingJobName"] for s in remote.list_training_jobs()["TrainingJobSummaries"]] == ["srv-1"]


@pytest.mark.parametrize(
    ("method", "body", "message"),
    [
        ("stop_job", b'{"name": "x", "region": 5}', "stop_job: region must be a string, got 5"),
        ("advance", b'{"seconds": 60, "region": "us-west-2"}', "advance takes no argument 'region'"),
        (
            "advance",
            b"notjson",
            "the body of advance must be a JSON object of its arguments: seconds (a number)",
        ),
        (
            "advance",
            b"[600]",
            "the body of advance must be a JSON object of its arguments: seconds (a number)",
        ),
        ("advance", b'{"seconds": "abc"}', "advance: seconds must be a number, got 'abc'"),
        ("advance", b'{"secs": 60}', "advance takes no argument 'secs'; its arguments: seconds (a number)"),
        (
            "run_for",
            b'{"name": "x"}',
            "run_for needs seconds; its arguments: name (a string), seconds (a number)",
        ),
        (
            "set_quota",
            b'{"instance_type": "ml.g5.2xlarge", "instances": 2.5}',
            "instances must be a whole number",
        ),
        # JSON as Python reads it takes NaN and Infinity; a clock moved that far was an HTML 500 page
        ("advance", b'{"seconds": Infinity}', "advance: seconds must be a number, got inf"),
        ("advance", b'{"seconds": NaN}', "advance: seconds must be a number, got nan"),
        ("advance", b'{"seconds": 1e308}', "seconds=1e+308: the clock cannot go past the year 9999"),
        ("run_for", b'{"name": "x", "seconds": -100}', "seconds=-100: a job cannot end before now"),
        ("run_for", b'{"name": "x", "seconds": 1e308}', "seconds=1e+308: the clock cannot go past"),
        ("inject_faults", b'{"operation": "*", "count": 0}', "count=0: inject the fault into 1 call or more"),
        # moto serves ListTags itself: a fault there never fired, and the test written with it passed
        (
            "inject_faults",
            b'{"operation": "ListTags", "count": 1}',
            "operation='ListTags': the emulator serves no such operation, so the fault would never fire; "
            "use one of CreateTrainingJob,",
        ),
        ("inject_faults", b'{"operation": "DescribeTrainingjob", "count": 1}', "'DescribeTrainingjob'"),
    ],
)
def test_a_bad_control_body_is_a_400_naming_the_argument(
    server: EmulatorServer, method: str, body: bytes, message: str
) -> None:
    request = urllib.request.Request(f"{server.endpoint_url}/_warmpool/{method}", data=body, method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    answer = json.loads(refused.value.read())
    assert answer["code"] == "BadRequest"
    assert message in answer["message"]


def test_policy_explain_decides_at_the_emulators_virtual_clock(
    server: EmulatorServer, remote: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # decided at the machine's clock, a pool the emulator ended ten minutes ago looked idle for months
    from warmpool.cli.main import main

    control = HttpControl(server.endpoint_url)
    remote.create_training_job(**training_job_request("explain-1", keep_alive_seconds=1800))
    control.run_for("explain-1", 600)
    control.advance(1200)  # ended ten minutes ago, Available until 20 minutes from now
    flags = ["--endpoint-url", server.endpoint_url, "--region", "us-east-1", "--format", "json"]
    assert main(["policy", "explain", "--job", "explain-1", *flags]) == 0
    explained = json.loads(capsys.readouterr().out)
    assert explained["now"] == control.now().isoformat()
    assert explained["action"] == "keep"
    # --now still wins
    assert main(["policy", "explain", "--job", "explain-1", *flags, "--now", "2026-03-02T10:00:00Z"]) == 0
    assert json.loads(capsys.readouterr().out)["now"] == "2026-03-02T10:00:00+00:00"


@pytest.fixture
def stack(aws_env: None, tmp_path: Path) -> Iterator[LocalSystem]:
    """The stack on `warmpool emulator` (what `warmpool demo` runs): the functions record the pools.
    Under mock_aws, whose backends the server shares: another test's tables are gone."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\ndefaults: {overrides: {max_extend_minutes: 60}}\n")
    with mock_aws():
        system = start_local_system(start=MONDAY, policy_file=policy, webhook_keys=())
        try:
            yield system
        finally:
            system.stop()


@contextmanager
def another_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI as a person runs it beside the stack: none of the harness's overrides (its clock is the
    emulator's), only the stack's outputs in the environment and --endpoint-url."""
    with monkeypatch.context() as patch:
        for name in ("clock", "sleep", "endpoint_url"):
            patch.setattr(wiring.OVERRIDES, name, None)
        yield


def ran_for_ten_minutes(
    stack: LocalSystem, name: str, *, keep_alive_seconds: int, ended_ago_seconds: int
) -> Any:
    """A job of vision's that ran ten minutes on the stack and ended `ended_ago_seconds` ago (the
    functions have seen it end); the stack's SageMaker client."""
    sagemaker = stack.session.client("sagemaker")
    tags = {"team": "vision", "owner": "alice"}
    sagemaker.create_training_job(
        **training_job_request(name, keep_alive_seconds=keep_alive_seconds, tags=tags)
    )
    stack.settle()
    stack.control.run_for(name, 600)
    stack.advance(600 + ended_ago_seconds)
    return sagemaker


def test_pools_extend_decides_and_audits_at_the_emulators_virtual_clock(
    stack: LocalSystem, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # decided at the machine's clock, months after the emulator's, the 30 minutes were counted from the
    # machine's now, refused as beyond the 24 h horizon, answered and audited at the machine's time
    sagemaker = ran_for_ten_minutes(stack, "ext-1", keep_alive_seconds=1800, ended_ago_seconds=600)
    registry = DynamoPoolRegistry(
        stack.env.pools_table, stack.session.client("dynamodb"), audit_table_name=stack.env.audit_table
    )
    before = registry.get("ext-1")
    assert before is not None
    assert before.pool.expires_at is not None
    asked = before.pool.expires_at + timedelta(minutes=30)
    capsys.readouterr()  # the functions' logs
    with another_process(monkeypatch):
        code = main(["pools", "extend", "ext-1", "--minutes", "30", "--endpoint-url", stack.endpoint_url])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"extend ext-1: done at {stack.now():%Y-%m-%d %H:%M:%S} UTC" in out
    # from the pool's expiry, not from the machine's now
    assert f"  - kept warm until {moment_text(asked)} on request" in out.splitlines()
    after = registry.get("ext-1")
    assert after is not None
    assert after.pool.override_until == asked
    decided = registry.audit_trail("ext-1")[-1]
    assert (decided.at, decided.what, decided.details["action"]) == (stack.now(), "decision", "extend")
    stack.advance(600)
    with another_process(monkeypatch):
        assert main(["pools", "release", "ext-1", "--endpoint-url", stack.endpoint_url]) == 0
    assert f"release ext-1: done at {stack.now():%Y-%m-%d %H:%M:%S} UTC" in capsys.readouterr().out
    assert registry.audit_trail("ext-1")[-1].at == stack.now()
    status = sagemaker.describe_training_job(TrainingJobName="ext-1")["WarmPoolStatus"]["Status"]
    assert status == "Terminated"


def test_pools_costs_counts_idle_time_up_to_the_emulators_virtual_clock(
    stack: LocalSystem, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # counted at the machine's clock, "today" was the machine's and the pool the emulator ended ten
    # minutes ago had idled since
    # ended ten minutes ago, warm for most of the hour yet
    ran_for_ten_minutes(stack, "cost-1", keep_alive_seconds=3600, ended_ago_seconds=600)
    capsys.readouterr()
    flags = ["--endpoint-url", stack.endpoint_url, "--format", "json"]
    with another_process(monkeypatch):
        assert main(["pools", "costs", "--team", "vision", *flags]) == 0
    costs = json.loads(capsys.readouterr().out)
    assert costs["at"] == stack.now().isoformat()
    [vision] = costs["teams"]
    assert vision["day"] == "2026-03-02"
    # ten idle minutes of ml.g5.2xlarge at the built-in 1.515 $/h
    assert vision["idle_today_usd"] == round(1.515 / 6, 2)


def test_trace_export_s_default_period_ends_at_the_emulators_virtual_clock(
    stack: LocalSystem, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # "the last 14 days" counted back from the machine's clock, months after the emulator's, held none
    # of its jobs: "no job left" (exit 1)
    ran_for_ten_minutes(stack, "trace-1", keep_alive_seconds=600, ended_ago_seconds=60)
    capsys.readouterr()
    with another_process(monkeypatch):
        assert main(["trace", "export", "--endpoint-url", stack.endpoint_url]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(row["job_name"], row["team"]) for row in rows] == [("trace-1", "vision")]


def test_the_local_stack_can_be_started_again_in_the_same_process(aws_env: None, tmp_path: Path) -> None:
    # `main(["demo"])` run twice (a notebook): the second run's tables were the first's, and creating
    # them again was refused ("Table already exists")
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\n")
    for _ in range(2):
        system = start_local_system(start=MONDAY, policy_file=policy, webhook_keys=())
        try:
            system.session.client("sagemaker").create_training_job(**training_job_request("again-1"))
            system.settle()
        finally:
            system.stop()
