"""CreateTrainingJob requests for tests, the demo and the chaos replay."""

from __future__ import annotations

from typing import Any

DEFAULT_ROLE = "arn:aws:iam::123456789012:role/SageMakerTraining"
DEFAULT_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:latest"


def training_job_request(
    name: str,
    *,
    instance_type: str = "ml.g5.2xlarge",
    instance_count: int = 1,
    volume_size_gb: int = 50,
    keep_alive_seconds: int | None = 600,
    role_arn: str = DEFAULT_ROLE,
    subnets: list[str] | None = None,
    security_group_ids: list[str] | None = None,
    tags: dict[str, str] | None = None,
    spot: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "InstanceType": instance_type,
        "InstanceCount": instance_count,
        "VolumeSizeInGB": volume_size_gb,
    }
    if keep_alive_seconds is not None:
        resource["KeepAlivePeriodInSeconds"] = keep_alive_seconds
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": DEFAULT_IMAGE, "TrainingInputMode": "File"},
        "RoleArn": role_arn,
        "OutputDataConfig": {"S3OutputPath": "s3://warmpool-demo/output"},
        "ResourceConfig": resource,
        "StoppingCondition": {
            "MaxRuntimeInSeconds": 86400,
            **({"MaxWaitTimeInSeconds": 90000} if spot else {}),
        },
        "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        **extra,
    }
    if subnets or security_group_ids:
        request["VpcConfig"] = {"Subnets": subnets or [], "SecurityGroupIds": security_group_ids or []}
    if spot:
        request["EnableManagedSpotTraining"] = True
        request["CheckpointConfig"] = {"S3Uri": "s3://warmpool-demo/checkpoints"}
    return request
