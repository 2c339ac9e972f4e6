"""The emulator's warm-pool rules, through boto3 against moto in-process."""

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from warmpool.emulator import EmulatorConfig, EmulatorError, LocalControl, WarmPoolEmulator
from warmpool.emulator.jobs import training_job_request

NO_RETRY = Config(retries={"total_max_attempts": 1})


def warm_status(sagemaker: Any, name: str) -> dict[str, Any] | None:
    result: dict[str, Any] | None = sagemaker.describe_training_job(TrainingJobName=name).get(
        "WarmPoolStatus"
    )
    return result


def test_job_starts_in_progress_with_pool_in_use(sagemaker: Any) -> None:
    sagemaker.create_training_job(**training_job_request("job-1", keep_alive_seconds=600))
    job = sagemaker.describe_training_job(TrainingJobName="job-1")
    assert job["TrainingJobStatus"] == "InProgress"
    assert job["SecondaryStatus"] == "Starting"
    assert job["WarmPoolStatus"]["Status"] == "InUse"
    assert job["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 600


def test_completed_job_leaves_an_available_pool_that_expires(sagemaker: Any, control: LocalControl) -> None:
    sagemaker.create_training_job(**training_job_request("job-1", keep_alive_seconds=600))
    control.advance(300)
    control.complete_job("job-1")
    assert warm_status(sagemaker, "job-1") == {
        "Status": "Available",
        "ResourceRetainedBillableTimeInSeconds": 0,
    }
    control.advance(599)
    status = warm_status(sagemaker, "job-1")
    assert status is not None
    assert status["Status"] == "Available"
    assert status["ResourceRetainedBillableTimeInSeconds"] == 599
    control.advance(1)
    assert warm_status(sagemaker, "job-1") == {
        "Status": "Terminated",
        "ResourceRetainedBillableTimeInSeconds": 600,
    }


def test_keep_alive_above_the_maximum_is_rejected(sagemaker: Any) -> None:
    with pytest.raises(ClientError) as err:
        sagemaker.create_training_job(**training_job_request("job-1", keep_alive_seconds=3601))
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "keepAlivePeriodInSeconds" in err.value.response["Error"]["Message"]


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(max_keep_alive_seconds=1800)])
def test_maximum_keep_alive_is_configurable(sagemaker: Any) -> None:
    with pytest.raises(ClientError):
        sagemaker.create_training_job(**training_job_request("job-1", keep_alive_seconds=1801))
    sagemaker.create_training_job(**training_job_request("job-2", keep_alive_seconds=1800))


def test_matching_job_reuses_the_pool_and_starts_warm(sagemaker: Any, control: LocalControl) -> None:
    sagemaker.create_training_job(**training_job_request("job-1"))
    control.complete_job("job-1")
    control.advance(120)
    sagemaker.create_training_job(**training_job_request("job-2"))
    first = warm_status(sagemaker, "job-1")
    assert first == {"Status": "Reused", "ResourceRetainedBillableTimeInSeconds": 120, "ReusedByJob": "job-2"}
    second = sagemaker.describe_training_job(TrainingJobName="job-2")
    assert second["WarmPoolStatus"]["Status"] == "InUse"
    created = second["CreationTime"]
    control.advance(20)
    second = sagemaker.describe_training_job(TrainingJobName="job-2")
    assert second["TrainingStartTime"] - created == timedelta(seconds=20)
    assert "warm pool" in second["SecondaryStatusTransitions"][0]["StatusMessage"]


def test_cold_start_takes_longer(sagemaker: Any, control: LocalControl) -> None:
    sagemaker.create_training_job(**training_job_request("job-1"))
    control.advance(149)
    assert "TrainingStartTime" not in sagemaker.describe_training_job(TrainingJobName="job-1")
    control.advance(1)
    job = sagemaker.describe_training_job(TrainingJobName="job-1")
    assert job["TrainingStartTime"] - job["CreationTime"] == timedelta(seconds=150)
    assert job["SecondaryStatus"] == "Training"


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("ResourceConfig.VolumeSizeInGB", {"volume_size_gb": 100}),
        ("ResourceConfig.InstanceCount", {"instance_count": 2}),
        ("RoleArn", {"role_arn": "arn:aws:iam::123456789012:role/Other"}),
        ("VpcConfig.Subnets", {"subnets": ["subnet-9"], "security_group_ids": ["sg-1"]}),
        ("EnableNetworkIsolation", {"EnableNetworkIsolation": True}),
    ],
)
def test_a_job_that_differs_in_one_field_starts_cold(
    sagemaker: Any, control: LocalControl, field: str, change: dict[str, Any]
) -> None:
    sagemaker.create_training_job(
        **training_job_request(
            "job-1",
            security_group_ids=["sg-1"] if field.startswith("Vpc") else None,
            subnets=["subnet-1"] if field.startswith("Vpc") else None,
        )
    )
    control.complete_job("job-1")
    sagemaker.create_training_job(**training_job_request("job-2", **change))
    assert warm_status(sagemaker, "job-1") == {
        "Status": "Available",
        "ResourceRetainedBillableTimeInSeconds": 0,
    }
    job2 = sagemaker.describe_training_job(TrainingJobName="job-2")
    assert "warm pool" not in job2["SecondaryStatusTransitions"][0]["StatusMessage"]


def test_subnet_order_does_not_prevent_reuse(sagemaker: Any, control: LocalControl) -> None:
    sagemaker.create_training_job(
        **training_job_request("job-1", subnets=["a", "b"], security_group_ids=["sg"])
    )
    control.complete_job("job-1")
    sagemaker.create_training_job(
        **training_job_request("job-2", subnets=["b", "a"], security_group_ids=["sg"])
    )
    assert warm_status(sagemaker, "job-1")["ReusedByJob"] == "job-2"  # type: ignore[index]


def test_most_recently_idled_pool_is_taken(sagemaker: Any, control: LocalControl) -> None:
    for name in ("a", "b"):
        sagemaker.create_training_job(**training_job_request(name))
    control.complete_job("a")
    control.advance(10)
    control.complete_job("b")
    sagemaker.create_training_job(**training_job_request("c"))
    assert warm_status(sagemaker, "b")["Status"] == "Reused"  # type: ignore[index]
    assert warm_status(sagemaker, "a")["Status"] == "Available"  # type: ignore[index]


@pytest.mark.parametrize(("kind", "pool_after"), [("algorithm", "Available"), ("capacity", "Terminated")])
def test_failures(sagemaker: Any, control: LocalControl, kind: str, pool_after: str) -> None:
    sagemaker.create_training_job(**training_job_request("job-1"))
    control.fail_job("job-1", kind)  # type: ignore[arg-type]
    job = sagemaker.describe_training_job(TrainingJobName="job-1")
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"]
    assert job["WarmPoolStatus"]["Status"] == pool_after


def test_stopped_job_keeps_its_pool(sagemaker: Any, control: LocalControl) -> None:
    sagemaker.create_training_job(**training_job_request("job-1"))
    control.advance(200)  # past the cold start: the cluster is launched
    sagemaker.stop_training_job(TrainingJobName="job-1")
    job = sagemaker.describe_training_job(TrainingJobName="job-1")
    assert job["TrainingJobStatus"] == "Stopped"
    assert job["WarmPoolStatus"]["Status"] == "Available"


def test_a_job_stopped_before_its_cluster_is_launched_leaves_no_pool(
    sagemaker: Any, control: LocalControl
) -> None:
    # AWS: "If you stop a training job after a cluster is already launched, a warm pool is still
    # retained"; before, there is none to keep ("If a warm pool fails to provision, the warm pool status
    # is Terminated"). The emulator kept one, Available, for a job stopped a second after it was created.
    sagemaker.create_training_job(**training_job_request("job-1"))
    control.advance(10)  # still Starting: 150 s of cold start
    sagemaker.stop_training_job(TrainingJobName="job-1")
    job = sagemaker.describe_training_job(TrainingJobName="job-1")
    assert job["TrainingJobStatus"] == "Stopped"
    assert job["WarmPoolStatus"]["Status"] == "Terminated"
    assert sagemaker.list_training_jobs(WarmPoolStatusEquals="Available")["TrainingJobSummaries"] == []
    # a job starting on a warm pool runs on a cluster launched long ago: stopped, it keeps it
    sagemaker.create_training_job(**training_job_request("job-2"))
    control.run_for("job-2", 300)
    control.advance(300)
    sagemaker.create_training_job(**training_job_request("job-3"))
    assert warm_status(sagemaker, "job-2")["Status"] == "Reused"  # type: ignore[index]
    sagemaker.stop_training_job(TrainingJobName="job-3")
    assert warm_status(sagemaker, "job-3")["Status"] == "Available"  # type: ignore[index]


def test_no_pool_for_spot_or_without_keep_alive(sagemaker: Any, control: LocalControl) -> None:
    sagemaker.create_training_job(**training_job_request("spot", spot=True))
    sagemaker.create_training_job(**training_job_request("plain", keep_alive_seconds=None))
    for name in ("spot", "plain"):
        control.complete_job(name)
        assert warm_status(sagemaker, name) is None


def test_quota_used_up_means_no_pool(
    sagemaker: Any, control: LocalControl, emulator: WarmPoolEmulator
) -> None:
    control.set_quota("ml.p4d.24xlarge", 2)
    sagemaker.create_training_job(
        **training_job_request("big-1", instance_type="ml.p4d.24xlarge", instance_count=2)
    )
    sagemaker.create_training_job(
        **training_job_request("big-2", instance_type="ml.p4d.24xlarge", instance_count=1)
    )
    control.complete_job("big-1")
    control.complete_job("big-2")
    assert warm_status(sagemaker, "big-1")["Status"] == "Available"  # type: ignore[index]
    assert warm_status(sagemaker, "big-2") is None
    assert (
        emulator.job("big-2").no_pool_reason == "warm pool quota for ml.p4d.24xlarge (2 instances) is used up"
    )
    control.set_quota("ml.g5.xlarge", 0)
    sagemaker.create_training_job(**training_job_request("none", instance_type="ml.g5.xlarge"))
    control.complete_job("none")
    assert warm_status(sagemaker, "none") is None


def test_update_extends_from_the_time_of_the_update(sagemaker: Any, control: LocalControl) -> None:
    sagemaker.create_training_job(**training_job_request("job-1", keep_alive_seconds=600))
    control.complete_job("job-1")
    control.advance(500)
    sagemaker.update_training_job(TrainingJobName="job-1", ResourceConfig={"KeepAlivePeriodInSeconds": 3600})
    control.advance(3599)
    assert warm_status(sagemaker, "job-1")["Status"] == "Available"  # type: ignore[index]
    control.advance(1)
    assert warm_status(sagemaker, "job-1") == {
        "Status": "Terminated",
        "ResourceRetainedBillableTimeInSeconds": 4100,
    }
    assert [c["seconds"] for c in control.update_calls()] == [3600]


def test_update_to_zero_releases_now(sagemaker: Any, control: LocalControl) -> None:
    sagemaker.create_training_job(**training_job_request("job-1"))
    control.complete_job("job-1")
    arn = sagemaker.update_training_job(
        TrainingJobName="job-1", ResourceConfig={"KeepAlivePeriodInSeconds": 0}
    )
    assert arn["TrainingJobArn"].endswith(":training-job/job-1")
    assert warm_status(sagemaker, "job-1")["Status"] == "Terminated"  # type: ignore[index]


def test_update_only_while_available(sagemaker: Any, control: LocalControl) -> None:
    sagemaker.create_training_job(**training_job_request("job-1"))
    with pytest.raises(ClientError) as err:
        sagemaker.update_training_job(
            TrainingJobName="job-1", ResourceConfig={"KeepAlivePeriodInSeconds": 60}
        )
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "InUse" in err.value.response["Error"]["Message"]
    control.complete_job("job-1")
    with pytest.raises(ClientError) as err:
        sagemaker.update_training_job(
            TrainingJobName="job-1", ResourceConfig={"KeepAlivePeriodInSeconds": 3601}
        )
    assert err.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as err:
        sagemaker.update_training_job(TrainingJobName="nope", ResourceConfig={"KeepAlivePeriodInSeconds": 60})
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"


def test_delete_only_an_ended_job_without_an_available_pool(sagemaker: Any, control: LocalControl) -> None:
    sagemaker.create_training_job(**training_job_request("job-1", keep_alive_seconds=600))

    def refused() -> tuple[str, str]:
        with pytest.raises(ClientError) as err:
            sagemaker.delete_training_job(TrainingJobName="job-1")
        return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]

    assert refused() == (
        "ResourceInUse",
        "Training job job-1 is InProgress: only an ended job can be deleted.",
    )
    control.complete_job("job-1")
    code, message = refused()
    assert (code, "retains an Available warm pool" in message) == ("ResourceInUse", True)
    control.advance(600)  # expired
    sagemaker.delete_training_job(TrainingJobName="job-1")
    with pytest.raises(ClientError) as err:
        sagemaker.describe_training_job(TrainingJobName="job-1")
    assert "Could not find training job" in err.value.response["Error"]["Message"]
    assert sagemaker.list_training_jobs()["TrainingJobSummaries"] == []
    with pytest.raises(ClientError) as err:
        sagemaker.delete_training_job(TrainingJobName="job-1")
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"
    sagemaker.create_training_job(**training_job_request("job-1"))  # its name can be used again


# What botocore would refuse before sending (a client with parameter_validation off, another SDK, curl)
# still reaches SageMaker, which answers 400 ValidationException naming the member: never a server error,
# and never a `true` taken for a keep-alive of 1 second.
UNCHECKED = Config(parameter_validation=False, retries={"total_max_attempts": 1})


def refusal(call: Any, **request: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as err:
        call(**request)
    error, metadata = err.value.response["Error"], err.value.response["ResponseMetadata"]
    return metadata["HTTPStatusCode"], error["Code"], error["Message"]


@pytest.mark.parametrize("value", ["abc", True, [600]])
def test_a_keep_alive_of_the_wrong_type_is_refused_naming_it(
    sagemaker: Any, control: LocalControl, value: object
) -> None:
    unchecked = boto3.client("sagemaker", region_name="us-east-1", config=UNCHECKED)
    request = training_job_request("job-1")
    request["ResourceConfig"]["KeepAlivePeriodInSeconds"] = value
    status, code, message = refusal(unchecked.create_training_job, **request)
    assert (status, code) == (400, "ValidationException")
    assert "'resourceConfig.keepAlivePeriodInSeconds'" in message
    assert sagemaker.list_training_jobs()["TrainingJobSummaries"] == []  # nothing created
    sagemaker.create_training_job(**training_job_request("job-2", keep_alive_seconds=600))
    control.complete_job("job-2")
    update = {"TrainingJobName": "job-2", "ResourceConfig": {"KeepAlivePeriodInSeconds": value}}
    status, code, message = refusal(unchecked.update_training_job, **update)
    assert (status, code) == (400, "ValidationException")
    assert "'resourceConfig.keepAlivePeriodInSeconds'" in message
    job = sagemaker.describe_training_job(TrainingJobName="job-2")
    assert job["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 600
    assert job["WarmPoolStatus"]["Status"] == "Available"
    assert control.update_calls() == []


def test_an_update_whose_resource_config_has_no_keep_alive_is_refused(
    sagemaker: Any, control: LocalControl
) -> None:
    # ResourceConfigForUpdate requires KeepAlivePeriodInSeconds: an empty one is not a profiler-only update
    unchecked = boto3.client("sagemaker", region_name="us-east-1", config=UNCHECKED)
    sagemaker.create_training_job(**training_job_request("job-1", keep_alive_seconds=600))
    control.complete_job("job-1")
    status, code, message = refusal(unchecked.update_training_job, TrainingJobName="job-1", ResourceConfig={})
    assert (status, code) == (400, "ValidationException")
    assert "Value null at 'resourceConfig.keepAlivePeriodInSeconds'" in message
    assert "Member must not be null" in message
    status, code, message = refusal(
        unchecked.update_training_job, ResourceConfig={"KeepAlivePeriodInSeconds": 60}
    )
    assert (status, code) == (400, "ValidationException")
    assert "Value null at 'trainingJobName'" in message


def test_listing_by_an_unknown_status_is_refused(sagemaker: Any) -> None:
    unchecked = boto3.client("sagemaker", region_name="us-east-1", config=UNCHECKED)
    sagemaker.create_training_job(**training_job_request("job-1"))
    status, code, message = refusal(unchecked.list_training_jobs, StatusEquals="Running")
    assert (status, code) == (400, "ValidationException")
    assert "1 validation error detected: Value 'Running' at 'statusEquals'" in message
    _, _, both = refusal(unchecked.list_training_jobs, StatusEquals="Running", WarmPoolStatusEquals="Warm")
    assert both.startswith("2 validation errors detected: ")
    assert "'statusEquals'" in both
    assert "'warmPoolStatusEquals'" in both
    _, _, low = refusal(unchecked.list_training_jobs, MaxResults=0)
    assert "Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater" in low


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(max_lifetime_seconds=2 * 3600)])
def test_maximum_lifetime_ends_the_chain(sagemaker: Any, control: LocalControl) -> None:
    sagemaker.create_training_job(**training_job_request("job-1", keep_alive_seconds=3600))
    control.advance(3000)
    control.complete_job("job-1")
    sagemaker.create_training_job(**training_job_request("job-2", keep_alive_seconds=3600))
    control.advance(3000)
    control.complete_job("job-2")  # lifetime ends 7200 s after provisioning: 1200 s from now
    sagemaker.update_training_job(TrainingJobName="job-2", ResourceConfig={"KeepAlivePeriodInSeconds": 3600})
    control.advance(1199)
    assert warm_status(sagemaker, "job-2")["Status"] == "Available"  # type: ignore[index]
    control.advance(1)
    assert warm_status(sagemaker, "job-2")["Status"] == "Terminated"  # type: ignore[index]


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(warm_pool_status_delay_seconds=5)])
def test_warm_pool_status_can_lag_behind_completion(sagemaker: Any, control: LocalControl) -> None:
    sagemaker.create_training_job(**training_job_request("job-1"))
    control.complete_job("job-1")
    assert warm_status(sagemaker, "job-1") is None
    control.advance(5)
    assert warm_status(sagemaker, "job-1")["Status"] == "Available"  # type: ignore[index]


def test_run_for_completes_on_the_clock(sagemaker: Any, control: LocalControl) -> None:
    sagemaker.create_training_job(**training_job_request("job-1", keep_alive_seconds=60))
    control.run_for("job-1", 1000)
    control.advance(1100)
    job = sagemaker.describe_training_job(TrainingJobName="job-1")
    assert job["TrainingJobStatus"] == "Completed"
    assert job["TrainingEndTime"] - job["CreationTime"] == timedelta(seconds=1000)
    assert job["WarmPoolStatus"]["Status"] == "Terminated"


def test_list_filters_sorts_and_paginates(sagemaker: Any, control: LocalControl) -> None:
    for i in range(5):
        sagemaker.create_training_job(**training_job_request(f"exp-{i}"))
        control.advance(1)
    sagemaker.create_training_job(**training_job_request("other", keep_alive_seconds=None))
    for i in range(3):
        control.complete_job(f"exp-{i}")
    available = sagemaker.list_training_jobs(WarmPoolStatusEquals="Available")["TrainingJobSummaries"]
    assert sorted(s["TrainingJobName"] for s in available) == ["exp-0", "exp-1", "exp-2"]
    assert all(s["WarmPoolStatus"]["Status"] == "Available" for s in available)
    in_progress = sagemaker.list_training_jobs(StatusEquals="InProgress", NameContains="exp")
    assert [s["TrainingJobName"] for s in in_progress["TrainingJobSummaries"]] == ["exp-3", "exp-4"]
    names = sagemaker.list_training_jobs(SortBy="Name", SortOrder="Descending")["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in names][:2] == ["other", "exp-4"]
    paginator = sagemaker.get_paginator("list_training_jobs")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 2}))
    assert [len(p["TrainingJobSummaries"]) for p in pages] == [2, 2, 2]
    after = control.now() - timedelta(seconds=3)
    recent = sagemaker.list_training_jobs(CreationTimeAfter=after)["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in recent] == ["exp-3", "exp-4", "other"]
    with pytest.raises(ClientError):
        sagemaker.list_training_jobs(WarmPoolStatusEquals="Lukewarm")


def test_injected_throttling_then_recovery(sagemaker: Any, control: LocalControl) -> None:
    sagemaker.create_training_job(**training_job_request("job-1"))
    control.inject_faults("DescribeTrainingJob", "ThrottlingException", count=2)
    no_retry = boto3.client("sagemaker", region_name="us-east-1", config=NO_RETRY)
    with pytest.raises(ClientError) as err:
        no_retry.describe_training_job(TrainingJobName="job-1")
    assert err.value.response["Error"]["Code"] == "ThrottlingException"
    # botocore's own retries absorb the second one
    assert sagemaker.describe_training_job(TrainingJobName="job-1")["TrainingJobName"] == "job-1"


def test_internal_errors_are_5xx(sagemaker: Any, control: LocalControl) -> None:
    control.inject_faults("ListTrainingJobs", "InternalFailure", count=1)
    no_retry = boto3.client("sagemaker", region_name="us-east-1", config=NO_RETRY)
    with pytest.raises(ClientError) as err:
        no_retry.list_training_jobs()
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_events_reach_eventbridge_rules(sagemaker: Any, control: LocalControl) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    events = boto3.client("events", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="lifecycle")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="training",
        EventPattern=json.dumps(
            {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Training Job State Change"]}
        ),
    )
    events.put_targets(Rule="training", Targets=[{"Id": "q", "Arn": queue_arn}])
    sagemaker.create_training_job(**training_job_request("job-1", tags={"owner": "alice", "team": "vision"}))
    control.advance(400)
    control.complete_job("job-1")
    bodies = [
        json.loads(m["Body"])
        for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    ]
    assert [b["detail"]["TrainingJobStatus"] for b in bodies] == ["InProgress", "Completed"]
    completed = bodies[1]
    assert completed["source"] == "aws.sagemaker"
    assert completed["resources"] == [
        sagemaker.describe_training_job(TrainingJobName="job-1")["TrainingJobArn"]
    ]
    assert completed["detail"]["Tags"] == {"owner": "alice", "team": "vision"}
    assert completed["detail"]["TrainingEndTime"] - completed["detail"]["CreationTime"] == 400_000
    assert "WarmPoolStatus" not in completed["detail"]
    assert completed["time"].endswith("Z")


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(duplicate_probability=1.0)])
def test_events_can_be_duplicated(sagemaker: Any, control: LocalControl) -> None:
    sagemaker.create_training_job(**training_job_request("job-1"))
    assert len(control.events()) == 2


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(emit_keep_alive_calls=True)])
def test_a_keep_alive_update_is_recorded_as_cloudtrail_records_it(
    sagemaker: Any, control: LocalControl
) -> None:
    sagemaker.create_training_job(**training_job_request("job-1", keep_alive_seconds=600))
    with pytest.raises(ClientError):  # InUse: refused, and recorded with its error
        sagemaker.update_training_job(
            TrainingJobName="job-1", ResourceConfig={"KeepAlivePeriodInSeconds": 900}
        )
    control.complete_job("job-1")
    sagemaker.update_training_job(TrainingJobName="job-1", ResourceConfig={"KeepAlivePeriodInSeconds": 900})

    refused, accepted = [e for e in control.events() if e["detail-type"] == "AWS API Call via CloudTrail"]
    for record in (refused, accepted):
        assert record["source"] == "aws.sagemaker"
        assert (record["detail"]["eventSource"], record["detail"]["eventName"]) == (
            "sagemaker.amazonaws.com",
            "UpdateTrainingJob",
        )
        assert record["detail"]["requestParameters"] == {
            "trainingJobName": "job-1",
            "resourceConfig": {"keepAlivePeriodInSeconds": 900},
        }
    assert refused["detail"]["errorCode"] == "ValidationException"
    assert "errorCode" not in accepted["detail"]
    assert accepted["detail"]["eventID"] != refused["detail"]["eventID"]


def test_keep_alive_updates_are_not_recorded_without_a_trail(sagemaker: Any, control: LocalControl) -> None:
    sagemaker.create_training_job(**training_job_request("job-1", keep_alive_seconds=600))
    control.complete_job("job-1")
    sagemaker.update_training_job(TrainingJobName="job-1", ResourceConfig={"KeepAlivePeriodInSeconds": 900})
    assert [e for e in control.events() if e["detail-type"] == "AWS API Call via CloudTrail"] == []


def test_tuning_jobs_run_trials_on_their_own_pool(sagemaker: Any, control: LocalControl) -> None:
    names = [f"hpo-{i}" for i in range(3)]
    arn = control.start_tuning_job("sweep", [training_job_request(n) for n in names])  # all at once

    def describe(name: str) -> dict[str, Any]:
        job: dict[str, Any] = sagemaker.describe_training_job(TrainingJobName=name)
        return job

    for name in names:  # each trial provisions a pool of its own: a cold start, no pool to reuse
        job = describe(name)
        assert job["TuningJobArn"] == arn
        assert job["WarmPoolStatus"]["Status"] == "InUse"
        assert job["SecondaryStatusTransitions"][0]["StatusMessage"] == "Preparing the instances for training"
    control.complete_job("hpo-0")
    tuning = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="sweep")
    assert tuning["BestTrainingJob"]["TrainingJobName"] == "hpo-0"
    for name in names[1:]:
        control.complete_job(name)
    pools = [(p["Status"], p.get("ReusedByJob")) for p in (describe(n)["WarmPoolStatus"] for n in names)]
    assert pools == [("Available", None)] * 3  # three warm pools, none handed on
    control.complete_tuning_job("sweep")
    tuning = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="sweep")
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 3
    kinds = [e["detail-type"] for e in control.events()]
    assert kinds.count("SageMaker HyperParameter Tuning Job State Change") == 2


def test_tuning_jobs_are_listed_by_status_page_by_page(sagemaker: Any, control: LocalControl) -> None:
    for name in ("Sweep-a", "sweep-b", "sweep-c"):
        control.start_tuning_job(name, [training_job_request(f"{name}-001-a1b2c3d4")])
        control.advance(1)
    control.complete_tuning_job("sweep-b", status="Stopped")

    pages = sagemaker.get_paginator("list_hyper_parameter_tuning_jobs").paginate(
        StatusEquals="InProgress", PaginationConfig={"PageSize": 1}
    )
    listed = [s for page in pages for s in page["HyperParameterTuningJobSummaries"]]

    # oldest first, the name as it was given (the ARN has it lowercased)
    assert [s["HyperParameterTuningJobName"] for s in listed] == ["Sweep-a", "sweep-c"]
    assert listed[0]["HyperParameterTuningJobArn"].endswith("/sweep-a")
    assert {s["HyperParameterTuningJobStatus"] for s in listed} == {"InProgress"}
    stopped = sagemaker.list_hyper_parameter_tuning_jobs(StatusEquals="Stopped")
    assert [s["HyperParameterTuningJobName"] for s in stopped["HyperParameterTuningJobSummaries"]] == [
        "sweep-b"
    ]
    with pytest.raises(
        ClientError, match=r"^.*: 1 validation error detected: Value 'Running' at 'statusEquals'"
    ):
        sagemaker.list_hyper_parameter_tuning_jobs(StatusEquals="Running")
    unchecked = boto3.client("sagemaker", region_name="us-east-1", config=UNCHECKED)
    _, _, low = refusal(unchecked.list_hyper_parameter_tuning_jobs, MaxResults=0)
    assert low.endswith(
        "at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"
    )


def test_the_clock_never_moves_backwards(control: LocalControl) -> None:
    before = control.now()
    with pytest.raises(ValueError, match="seconds=-1: the emulator's clock only moves forward"):
        control.advance(-1)
    assert control.now() == before


def test_one_trial_at_a_time_each_on_the_last_ones_warm_pool(sagemaker: Any, control: LocalControl) -> None:
    trials = [training_job_request(f"seq-{i}", keep_alive_seconds=600) for i in range(3)]
    control.start_tuning_job("sequential", trials, max_parallel=1)
    names = [j["TrainingJobName"] for j in sagemaker.list_training_jobs()["TrainingJobSummaries"]]
    assert names == ["seq-0"]  # the others wait for it
    control.complete_job("seq-0")
    first = sagemaker.describe_training_job(TrainingJobName="seq-0")
    assert (first["WarmPoolStatus"]["Status"], first["WarmPoolStatus"]["ReusedByJob"]) == ("Reused", "seq-1")
    control.complete_job("seq-1")
    control.complete_tuning_job("sequential")
    names = sorted(j["TrainingJobName"] for j in sagemaker.list_training_jobs()["TrainingJobSummaries"])
    assert names == ["seq-0", "seq-1", "seq-2"]
    with pytest.raises(EmulatorError, match="max_parallel=0"):
        control.start_tuning_job("none-at-a-time", trials, max_parallel=0)


def test_trials_not_started_when_the_tuning_job_ends_never_start(
    sagemaker: Any, control: LocalControl
) -> None:
    trials = [training_job_request(f"cut-{i}") for i in range(3)]
    control.start_tuning_job("stopped-early", trials, max_parallel=1)
    control.advance(600)
    control.complete_tuning_job("stopped-early", status="Stopped")
    control.advance(600)
    names = [j["TrainingJobName"] for j in sagemaker.list_training_jobs()["TrainingJobSummaries"]]
    assert names == ["cut-0"]


def test_stopping_a_tuning_job_stops_its_running_trials_which_keep_their_warm_pools(
    sagemaker: Any, control: LocalControl
) -> None:
    trials = [training_job_request(f"halt-00{i}-a1b2c3d4", keep_alive_seconds=900) for i in (1, 2, 3)]
    control.start_tuning_job("halt", trials)
    control.advance(600)  # every cluster launched: each trial is training
    control.complete_job("halt-001-a1b2c3d4")
    control.advance(60)

    sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="halt")

    tuning = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="halt")
    assert tuning["HyperParameterTuningJobStatus"] == "Stopped"
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 1
    assert tuning["TrainingJobStatusCounters"]["Stopped"] == 2
    assert tuning["TrainingJobStatusCounters"]["InProgress"] == 0
    for name in ("halt-002-a1b2c3d4", "halt-003-a1b2c3d4"):
        trial = sagemaker.describe_training_job(TrainingJobName=name)
        assert trial["TrainingJobStatus"] == "Stopped"
        # stopped once its cluster was launched: the pool stays for the trial's keep-alive
        assert trial["WarmPoolStatus"]["Status"] == "Available"
    # the trials' events say Stopping, then Stopped; the tuning job's, Stopping then Stopped
    events = control.events()
    said = [
        (e["detail"]["TrainingJobName"], e["detail"]["TrainingJobStatus"])
        for e in events
        if e["detail-type"] == "SageMaker Training Job State Change"
        and e["detail"]["TrainingJobName"] == "halt-002-a1b2c3d4"
    ]
    assert said[-2:] == [("halt-002-a1b2c3d4", "Stopping"), ("halt-002-a1b2c3d4", "Stopped")]
    tuning_said = [
        e["detail"]["HyperParameterTuningJobStatus"]
        for e in events
        if e["detail-type"] == "SageMaker HyperParameter Tuning Job State Change"
    ]
    assert tuning_said == ["InProgress", "Stopping", "Stopped"]
    control.advance(900)
    assert (warm_status(sagemaker, "halt-002-a1b2c3d4") or {})["Status"] == "Terminated"

    # a stopped tuning job cannot be stopped again; one that does not exist is not found
    with pytest.raises(ClientError) as again:
        sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="halt")
    assert again.value.response["Error"]["Code"] == "ValidationException"
    assert "halt is Stopped" in again.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as missing:
        sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="nosuch")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"


def test_a_deleted_tuning_job_is_gone_and_its_trials_keep_their_pools(
    sagemaker: Any, control: LocalControl
) -> None:
    control.start_tuning_job("sweep", [training_job_request("hpo-0")])
    control.complete_job("hpo-0")
    with pytest.raises(ClientError) as running:  # a running tuning job is stopped first
        sagemaker.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="sweep")
    assert running.value.response["Error"]["Code"] == "ValidationException"
    assert "is InProgress" in running.value.response["Error"]["Message"]
    control.complete_tuning_job("sweep")
    events = len(control.events())

    sagemaker.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="sweep")

    for call in (sagemaker.describe_hyper_parameter_tuning_job, sagemaker.delete_hyper_parameter_tuning_job):
        with pytest.raises(ClientError) as gone:
            call(HyperParameterTuningJobName="sweep")
        assert gone.value.response["Error"]["Code"] == "ResourceNotFound"
    trial = sagemaker.describe_training_job(TrainingJobName="hpo-0")
    assert trial["WarmPoolStatus"]["Status"] == "Available"
    assert trial["TuningJobArn"].endswith("hyper-parameter-tuning-job/sweep")
    assert len(control.events()) == events  # deleting emits no event


@pytest.mark.parametrize("emulator_config", [EmulatorConfig(max_lifetime_seconds=2 * 3600)])
def test_a_pool_past_its_maximum_lifetime_when_its_job_ends_is_never_available(
    sagemaker: Any, control: LocalControl
) -> None:
    sagemaker.create_training_job(**training_job_request("job-1", keep_alive_seconds=3600))
    control.advance(3000)
    control.complete_job("job-1")
    sagemaker.create_training_job(**training_job_request("job-2", keep_alive_seconds=3600))
    control.advance(5000)  # job-2 still runs when the cluster's lifetime ends, 7200 s after provisioning
    control.complete_job("job-2")
    assert warm_status(sagemaker, "job-2") == {
        "Status": "Terminated",
        "ResourceRetainedBillableTimeInSeconds": 0,
    }
    with pytest.raises(ClientError) as err:
        sagemaker.update_training_job(
            TrainingJobName="job-2", ResourceConfig={"KeepAlivePeriodInSeconds": 60}
        )
    assert "Terminated" in err.value.response["Error"]["Message"]
    sagemaker.create_training_job(**training_job_request("job-3", keep_alive_seconds=3600))
    assert (
        "Reusing"
        not in sagemaker.describe_training_job(TrainingJobName="job-3")["SecondaryStatusTransitions"][0][
            "StatusMessage"
        ]
    )
    assert warm_status(sagemaker, "job-3") == {"Status": "InUse", "ResourceRetainedBillableTimeInSeconds": 0}


def test_pools_and_quotas_belong_to_their_own_region(sagemaker: Any, control: LocalControl) -> None:
    oregon = boto3.client("sagemaker", region_name="us-west-2")
    control.set_quota("ml.g5.2xlarge", 1)  # Virginia's
    # a job of the same name in each region; only Oregon's keeps a pool
    oregon.create_training_job(**training_job_request("job-a", keep_alive_seconds=600))
    control.scoped(region="us-west-2").complete_job("job-a")
    sagemaker.create_training_job(**training_job_request("job-a", keep_alive_seconds=None))
    assert oregon.describe_training_job(TrainingJobName="job-a")["WarmPoolStatus"]["Status"] == "Available"
    # Virginia's job cannot take Oregon's pool, and Oregon's warm instance is not Virginia's quota
    sagemaker.create_training_job(**training_job_request("job-b", keep_alive_seconds=600))
    job_b = sagemaker.describe_training_job(TrainingJobName="job-b")
    assert job_b["SecondaryStatusTransitions"][0]["StatusMessage"] == "Preparing the instances for training"
    assert job_b["WarmPoolStatus"] == {"Status": "InUse", "ResourceRetainedBillableTimeInSeconds": 0}
    assert oregon.describe_training_job(TrainingJobName="job-a")["WarmPoolStatus"]["Status"] == "Available"


def test_a_control_acts_on_the_jobs_and_quotas_of_its_own_region(
    sagemaker: Any, control: LocalControl, emulator: WarmPoolEmulator
) -> None:
    oregon = boto3.client("sagemaker", region_name="us-west-2")
    oregon_control = LocalControl(emulator, region="us-west-2")
    # job names are unique per account and region only: a job of the same name in each
    sagemaker.create_training_job(**training_job_request("job-a", keep_alive_seconds=600))
    oregon.create_training_job(**training_job_request("job-a", keep_alive_seconds=600))
    oregon_control.complete_job("job-a")
    assert oregon.describe_training_job(TrainingJobName="job-a")["TrainingJobStatus"] == "Completed"
    assert sagemaker.describe_training_job(TrainingJobName="job-a")["TrainingJobStatus"] == "InProgress"
    control.fail_job("job-a")
    assert sagemaker.describe_training_job(TrainingJobName="job-a")["TrainingJobStatus"] == "Failed"
    # a job of another region is not this control's to end
    oregon.create_training_job(**training_job_request("job-b", keep_alive_seconds=600))
    with pytest.raises(
        EmulatorError, match="Training job job-b does not exist in account 123456789012, region us-east-1"
    ):
        control.stop_job("job-b")
    oregon_control.run_for("job-b", 60)
    control.advance(60)
    assert oregon.describe_training_job(TrainingJobName="job-b")["TrainingJobStatus"] == "Completed"
    # a quota is set for the control's account and region (Service Quotas are per account and region)
    oregon_control.set_quota("ml.g5.4xlarge", 0)
    for client in (oregon, sagemaker):
        client.create_training_job(**training_job_request("job-c", instance_type="ml.g5.4xlarge"))
    assert "WarmPoolStatus" not in oregon.describe_training_job(TrainingJobName="job-c")
    assert warm_status(sagemaker, "job-c") == {"Status": "InUse", "ResourceRetainedBillableTimeInSeconds": 0}


def test_stopping_a_job_stops_the_one_of_the_callers_region(sagemaker: Any, control: LocalControl) -> None:
    oregon = boto3.client("sagemaker", region_name="us-west-2")
    sagemaker.create_training_job(**training_job_request("job-a", keep_alive_seconds=600))
    oregon.create_training_job(**training_job_request("job-a", keep_alive_seconds=600))
    oregon.stop_training_job(TrainingJobName="job-a")
    assert oregon.describe_training_job(TrainingJobName="job-a")["TrainingJobStatus"] == "Stopped"
    assert sagemaker.describe_training_job(TrainingJobName="job-a")["TrainingJobStatus"] == "InProgress"


def test_a_job_named_in_several_regions_is_not_picked_at_random(
    sagemaker: Any, emulator: WarmPoolEmulator
) -> None:
    oregon = boto3.client("sagemaker", region_name="us-west-2")
    sagemaker.create_training_job(**training_job_request("job-a", keep_alive_seconds=600))
    oregon.create_training_job(**training_job_request("job-a", keep_alive_seconds=600))
    with pytest.raises(
        EmulatorError, match=r"exists in several accounts and regions .*: name the account_id"
    ):
        emulator.complete_job("job-a")
    emulator.complete_job("job-a", region="us-west-2")
    assert oregon.describe_training_job(TrainingJobName="job-a")["TrainingJobStatus"] == "Completed"


@pytest.mark.parametrize("token", ["nonsense", "wp--5", "wp-1.5"])
def test_a_page_token_the_emulator_did_not_give_is_refused(sagemaker: Any, token: str) -> None:
    for name in ("job-1", "job-2"):
        sagemaker.create_training_job(**training_job_request(name))
    for listing in (sagemaker.list_training_jobs, sagemaker.list_hyper_parameter_tuning_jobs):
        with pytest.raises(ClientError, match="Invalid pagination token"):
            listing(NextToken=token)


def test_a_second_job_of_a_name_in_use_is_refused_and_the_first_keeps_its_pool(
    sagemaker: Any, control: LocalControl
) -> None:
    # Training job names are unique per account and region: SageMaker answers ResourceInUse, and the job
    # of that name, its warm pool and its history stay as they were (the emulator replaced them).
    first = sagemaker.create_training_job(**training_job_request("job-1", keep_alive_seconds=600))
    control.run_for("job-1", 300)
    control.advance(400)
    status, code, message = refusal(
        sagemaker.create_training_job, **training_job_request("job-1", keep_alive_seconds=60)
    )
    assert (status, code) == (400, "ResourceInUse")
    assert "a training job with this name already exists" in message
    assert first["TrainingJobArn"] in message
    job = sagemaker.describe_training_job(TrainingJobName="job-1")
    assert job["TrainingJobStatus"] == "Completed"
    assert job["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 600
    assert job["WarmPoolStatus"]["Status"] == "Available"
    assert [s["TrainingJobName"] for s in sagemaker.list_training_jobs()["TrainingJobSummaries"]] == ["job-1"]
    other = boto3.client("sagemaker", region_name="us-west-2")  # another region may use the name
    other.create_training_job(**training_job_request("job-1", keep_alive_seconds=60))


@pytest.mark.parametrize(
    ("name", "broken"),
    [
        ("my_job", "Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"),
        ("-job", "Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"),
        ("a" * 64, "Member must have length less than or equal to 63"),
    ],
)
def test_a_job_name_sagemaker_refuses_is_refused_naming_the_rule(
    sagemaker: Any, control: LocalControl, name: str, broken: str
) -> None:
    # boto3 checks neither patterns nor maximum lengths before sending: SageMaker does, and so must the
    # emulator, or a name that fails in the account works against it.
    status, code, message = refusal(sagemaker.create_training_job, **training_job_request(name))
    assert (status, code) == (400, "ValidationException")
    assert f"Value '{name}' at 'trainingJobName' failed to satisfy constraint: {broken}" in message
    assert sagemaker.list_training_jobs()["TrainingJobSummaries"] == []  # nothing created
    update = {"TrainingJobName": name, "ResourceConfig": {"KeepAlivePeriodInSeconds": 60}}
    assert refusal(sagemaker.update_training_job, **update)[1:] == ("ValidationException", message)


TAG_PATTERN = r"satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$"
AWS_PREFIX = "not begin with aws:, the prefix AWS reserves for its own tags"


@pytest.mark.parametrize(
    ("key", "value", "member", "rule"),
    [
        ("cost,center", "x", "key", TAG_PATTERN),
        ("team", 'a "quoted" team', "value", TAG_PATTERN),
        ("owner", "alice\nbob", "value", TAG_PATTERN),
        ("k" * 129, "x", "key", "have length less than or equal to 128"),
        ("team", "v" * 257, "value", "have length less than or equal to 256"),
        ("", "x", "key", "have length greater than or equal to 1"),
        ("aws:team", "x", "key", AWS_PREFIX),
        ("AWS:team", "x", "key", AWS_PREFIX),
    ],
    ids=[
        "comma-in-key",
        "quotes",
        "line-break",
        "key-129",
        "value-257",
        "empty-key",
        "aws-prefix",
        "AWS-prefix",
    ],
)
def test_a_tag_sagemaker_refuses_is_refused_on_create_and_add_tags_naming_the_member(
    sagemaker: Any, key: str, value: str, member: str, rule: str
) -> None:
    # the emulator took tags SageMaker refuses (their pattern is Java's \p{L}..., which boto3 does not
    # check): a job tagged `cost,center` ran against it and failed in the account
    tag = {"Key": key, "Value": value}
    at = f"'tags.1.member.{member}'"
    broken = f"Value '{tag[member.title()]}' at {at} failed to satisfy constraint: Member must {rule}"
    unchecked = boto3.client("sagemaker", region_name="us-east-1", config=UNCHECKED)
    request = {**training_job_request("job-1"), "Tags": [tag]}
    status, code, message = refusal(unchecked.create_training_job, **request)
    assert (status, code) == (400, "ValidationException")
    assert broken in message
    assert sagemaker.list_training_jobs()["TrainingJobSummaries"] == []  # nothing created
    arn = sagemaker.create_training_job(**training_job_request("job-1"))["TrainingJobArn"]
    status, code, message = refusal(unchecked.add_tags, ResourceArn=arn, Tags=[tag])
    assert (status, code) == (400, "ValidationException")
    assert broken in message
    assert tag["Key"] not in [t["Key"] for t in sagemaker.list_tags(ResourceArn=arn)["Tags"]]


def test_tags_sagemaker_takes_are_taken_and_51_are_refused(sagemaker: Any) -> None:
    # letters, digits and spaces of any script, and _.:/=+-@; an empty value; at most 50 tags a request
    fine = [
        {"Key": "équipe", "Value": "vision été"},
        {"Key": "チーム", "Value": "視覚 ١٢"},
        {"Key": "a_b.c:d/e=f+g-h@i", "Value": ""},
        {"Key": "k" * 128, "Value": "v" * 256},
        {"Key": "awsome", "Value": "aws:is fine in a value"},
    ]
    arn = sagemaker.create_training_job(**{**training_job_request("job-1"), "Tags": fine})["TrainingJobArn"]
    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == fine
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    unchecked = boto3.client("sagemaker", region_name="us-east-1", config=UNCHECKED)
    status, code, message = refusal(
        unchecked.create_training_job, **{**training_job_request("job-2"), "Tags": many}
    )
    assert (status, code) == (400, "ValidationException")
    assert (
        "at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50" in message
    )
    status, code, message = refusal(unchecked.add_tags, ResourceArn=arn, Tags=many)
    assert (status, code) == (400, "ValidationException")
    assert (
        "at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50" in message
    )


def test_an_update_breaking_the_api_model_is_refused_before_the_job_is_looked_up(sagemaker: Any) -> None:
    # SageMaker validates the request before it acts on it: a keep-alive out of range is a
    # ValidationException for a job that does not exist too, not ResourceNotFound.
    unchecked = boto3.client("sagemaker", region_name="us-east-1", config=UNCHECKED)
    for value in (-5, 3601):
        update = {"TrainingJobName": "nope", "ResourceConfig": {"KeepAlivePeriodInSeconds": value}}
        status, code, message = refusal(unchecked.update_training_job, **update)
        assert (status, code) == (400, "ValidationException")
        assert f"Value '{value}' at 'resourceConfig.keepAlivePeriodInSeconds'" in message
    update = {"TrainingJobName": "nope", "ResourceConfig": {"KeepAlivePeriodInSeconds": 60}}
    assert refusal(unchecked.update_training_job, **update)[1] == "ResourceNotFound"


def test_an_instance_type_sagemaker_does_not_have_is_refused_naming_it(sagemaker: Any) -> None:
    # boto3 does not check enums before sending: a typo made a job (and a pool) of a type that does not
    # exist, which then had no price in `simulate`
    request = training_job_request("job-1", instance_type="ml.g5.2xlarg")
    status, code, message = refusal(sagemaker.create_training_job, **request)
    assert (status, code) == (400, "ValidationException")
    assert message.startswith(
        "1 validation error detected: Value 'ml.g5.2xlarg' at 'resourceConfig.instanceType' failed to "
        "satisfy constraint: Member must satisfy enum value set: ["
    )
    assert "ml.g5.2xlarge" in message
    assert sagemaker.list_training_jobs()["TrainingJobSummaries"] == []


def test_status_equals_with_max_results_filters_each_page_once_it_is_cut(
    sagemaker: Any, control: LocalControl
) -> None:
    # As the API reference documents: "When StatusEquals and MaxResults are set at the same time, the
    # MaxResults number of training jobs are first retrieved ignoring the StatusEquals parameter and then
    # they are filtered". A page may be short, even empty, with more behind its NextToken: a client that
    # stops there misses jobs in the account, and found them all on the emulator's full pages.
    for i in range(4):
        sagemaker.create_training_job(**training_job_request(f"exp-{i}"))
        control.advance(1)
    control.complete_job("exp-0")
    control.complete_job("exp-1")
    first = sagemaker.list_training_jobs(StatusEquals="InProgress", MaxResults=2)
    assert first["TrainingJobSummaries"] == []
    second = sagemaker.list_training_jobs(
        StatusEquals="InProgress", MaxResults=2, NextToken=first["NextToken"]
    )
    assert [s["TrainingJobName"] for s in second["TrainingJobSummaries"]] == ["exp-2", "exp-3"]
    assert "NextToken" not in second
    pages = sagemaker.get_paginator("list_training_jobs").paginate(
        StatusEquals="Completed", PaginationConfig={"PageSize": 3}
    )
    assert [[s["TrainingJobName"] for s in p["TrainingJobSummaries"]] for p in pages] == [
        ["exp-0", "exp-1"],
        [],
    ]


def test_a_quota_of_one_instance_used_up_says_one_instance(
    sagemaker: Any, control: LocalControl, emulator: WarmPoolEmulator
) -> None:
    # the reason read `(1 instances) is used up`
    control.set_quota("ml.p4d.24xlarge", 1)
    for name in ("one-1", "one-2"):  # both running: the second finds the quota taken
        sagemaker.create_training_job(**training_job_request(name, instance_type="ml.p4d.24xlarge"))
    assert warm_status(sagemaker, "one-2") is None
    assert (
        emulator.job("one-2").no_pool_reason == "warm pool quota for ml.p4d.24xlarge (1 instance) is used up"
    )
