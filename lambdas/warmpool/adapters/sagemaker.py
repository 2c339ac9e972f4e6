"""SageMaker behind the SageMakerPort. Throttling and 5xx are retried by botocore (adaptive mode)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from warmpool.service.ports import (
    JobNotFoundError,
    PoolMovedOnError,
    ReadNotPermittedError,
    UpdateNotPermittedError,
)

# DescribeTrainingJob answers a missing job with ValidationException (not ResourceNotFound), and a
# well-formed name can fail validation for no other reason, so that code means "not found" here.
_NOT_FOUND_CODES = frozenset({"ResourceNotFound", "ValidationException"})
_DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied"})


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class SageMakerAdapter:
    def __init__(self, client: Any) -> None:
        self._client = client

    def describe_training_job(self, name: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            response: dict[str, Any] = self._client.describe_training_job(TrainingJobName=name)
        except ClientError as exc:
            code = _code(exc)
            if code in _NOT_FOUND_CODES:
                raise JobNotFoundError(name) from exc
            if code in _DENIED_CODES:
                raise ReadNotPermittedError(
                    f"DescribeTrainingJob({name}) refused: {code}: grant the engine's role "
                    "sagemaker:DescribeTrainingJob on training-job/* (docs/deploy.md)"
                ) from exc
            raise
        response.pop("ResponseMetadata", None)
        return response

    def update_keep_alive(self, name: str, seconds: int) -> None:
        from botocore.exceptions import ClientError

        try:
            self._client.update_training_job(
                TrainingJobName=name, ResourceConfig={"KeepAlivePeriodInSeconds": seconds}
            )
        except ClientError as exc:
            code = _code(exc)
            # ValidationException: the pool is no longer Available (reused or terminated meanwhile).
            if code in _NOT_FOUND_CODES:
                raise PoolMovedOnError(f"UpdateTrainingJob({name}, {seconds}) refused: {code}") from exc
            if code in _DENIED_CODES:
                raise UpdateNotPermittedError(
                    f"UpdateTrainingJob({name}, {seconds}) refused: {code}: the role may not update this job"
                ) from exc
            raise

    def list_available_job_names(self) -> list[str]:
        return self.list_job_names_with_pool("Available")

    def list_job_names_with_pool(self, warm_pool_status: str) -> list[str]:
        names: list[str] = []
        paginator = self._client.get_paginator("list_training_jobs")
        pages = paginator.paginate(WarmPoolStatusEquals=warm_pool_status, PaginationConfig={"PageSize": 100})
        for page in pages:
            names.extend(s["TrainingJobName"] for s in page.get("TrainingJobSummaries", []))
        return names

    def list_job_names_created(self, after: datetime, before: datetime) -> list[str]:
        """The training jobs created in [after, before), oldest first: back-to-back periods hold every job
        once. CreationTimeAfter is strict, so a job created at `after` itself (the first job of an
        export, whose time the next export is told to start at; any job on the emulator's whole-second
        clock) was in neither period: SageMaker is asked from a second earlier, and the summaries'
        CreationTime decides."""
        names: list[str] = []
        paginator = self._client.get_paginator("list_training_jobs")
        pages = paginator.paginate(
            CreationTimeAfter=after - timedelta(seconds=1),
            CreationTimeBefore=before,
            SortBy="CreationTime",
            SortOrder="Ascending",
            PaginationConfig={"PageSize": 100},
        )
        for page in pages:
            names.extend(
                s["TrainingJobName"]
                for s in page.get("TrainingJobSummaries", [])
                if after <= s["CreationTime"] < before
            )
        return names

    def list_tags(self, arn: str) -> dict[str, str]:
        tags: dict[str, str] = {}
        paginator = self._client.get_paginator("list_tags")
        for page in paginator.paginate(ResourceArn=arn):
            tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
        return tags

    def describe_tuning_job(self, name: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            response: dict[str, Any] = self._client.describe_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=name
            )
        except ClientError as exc:
            code = _code(exc)
            if code in _NOT_FOUND_CODES:
                raise JobNotFoundError(name) from exc
            if code in _DENIED_CODES:
                raise ReadNotPermittedError(
                    f"DescribeHyperParameterTuningJob({name}) refused: {code}: grant the engine's role "
                    "sagemaker:DescribeHyperParameterTuningJob on hyper-parameter-tuning-job/* "
                    "(docs/deploy.md)"
                ) from exc
            raise
        response.pop("ResponseMetadata", None)
        return response

    def list_tuning_jobs(self, status: str) -> list[tuple[str, str]]:
        from botocore.exceptions import ClientError

        jobs: list[tuple[str, str]] = []
        paginator = self._client.get_paginator("list_hyper_parameter_tuning_jobs")
        try:
            for page in paginator.paginate(StatusEquals=status, PaginationConfig={"PageSize": 100}):
                jobs.extend(
                    (str(s["HyperParameterTuningJobName"]), str(s["HyperParameterTuningJobArn"]))
                    for s in page.get("HyperParameterTuningJobSummaries", [])
                )
        except ClientError as exc:
            code = _code(exc)
            if code in _DENIED_CODES:
                raise ReadNotPermittedError(
                    f"ListHyperParameterTuningJobs(StatusEquals={status}) refused: {code}: grant the "
                    "engine's role sagemaker:ListHyperParameterTuningJobs on * (docs/deploy.md)"
                ) from exc
            raise
        return jobs
