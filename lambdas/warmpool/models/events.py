"""What arrives on the lifecycle queue, parsed with Powertools Parser models.

Accept what AWS really sends: `Tags` as a map or as a list of Key/Value, times as ISO strings or as
epoch milliseconds (numbers or strings), an empty `VpcConfig`, missing optional fields. Anything else is
rejected with an `EventRejectedError` naming the field, so the handler can send it to the DLQ with its reason.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

TRAINING_DETAIL_TYPE = "SageMaker Training Job State Change"
TUNING_DETAIL_TYPE = "SageMaker HyperParameter Tuning Job State Change"
STEP_DETAIL_TYPE = "Warm Pool Step Due"
# A keep-alive set outside warmpool (someone's own UpdateTrainingJob, the console): SageMaker sends no
# state-change event for it, CloudTrail does, to EventBridge, where the account has a trail logging
# management events (docs/deploy.md)
KEEP_ALIVE_CALL_DETAIL_TYPE = "AWS API Call via CloudTrail"
KEEP_ALIVE_CALL_EVENT_SOURCE = "sagemaker.amazonaws.com"
KEEP_ALIVE_CALL_EVENT_NAME = "UpdateTrainingJob"
STEP_SOURCE = "warmpool.scheduler"
MAX_EVENT_BYTES = 256 * 1024  # EventBridge's own limit on one event


def rule_patterns(job_name_prefixes: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """The EventBridge patterns of the rules feeding the lifecycle queue, by detail type: SageMaker's
    training and tuning job events, CloudTrail's record of a successful `UpdateTrainingJob` (a
    keep-alive maybe set outside warmpool), and with a deployment's `job_name_prefixes` only those of
    the jobs (the tuning jobs, whose trials' names begin with theirs) whose names begin with one of
    them, case as written. The stack and the local environment both build their rules from here."""
    names = {TRAINING_DETAIL_TYPE: "TrainingJobName", TUNING_DETAIL_TYPE: "HyperParameterTuningJobName"}
    patterns: dict[str, dict[str, Any]] = {}
    for detail_type, field in names.items():
        pattern: dict[str, Any] = {"source": ["aws.sagemaker"], "detail-type": [detail_type]}
        if job_name_prefixes:
            pattern["detail"] = {field: [{"prefix": prefix} for prefix in job_name_prefixes]}
        patterns[detail_type] = pattern
    # A call SageMaker refused (`errorCode`: a pool InUse, a value out of range) changed nothing. warmpool's
    # own calls are let through: the look each leads to finds the pool as warmpool saved it, and does
    # nothing (an `anything-but` on the caller's role would also drop the calls of IAM users and the
    # root user, which name no role).
    call: dict[str, Any] = {
        "eventSource": [KEEP_ALIVE_CALL_EVENT_SOURCE],
        "eventName": [KEEP_ALIVE_CALL_EVENT_NAME],
        "errorCode": [{"exists": False}],
    }
    if job_name_prefixes:
        call["requestParameters"] = {"trainingJobName": [{"prefix": prefix} for prefix in job_name_prefixes]}
    patterns[KEEP_ALIVE_CALL_DETAIL_TYPE] = {
        "source": ["aws.sagemaker"],
        "detail-type": [KEEP_ALIVE_CALL_DETAIL_TYPE],
        "detail": call,
    }
    return patterns


TrainingJobStatus = Literal["InProgress", "Completed", "Failed", "Stopping", "Stopped"]
TuningJobStatus = Literal[
    "InProgress", "Completed", "Failed", "Stopping", "Stopped", "Deleting", "DeleteFailed"
]


class EventRejectedError(ValueError):
    """The message cannot be processed, ever: it goes to the DLQ with this reason."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        # a validation error's reason names its fields already ("detail.X: ..."): not twice
        named = not field or reason.startswith(f"{field}: ")
        super().__init__(reason if named else f"{field}: {reason}")
        self.reason = reason
        self.field = field


def parse_time(value: Any) -> datetime | None:
    """ISO-8601 strings, or epoch milliseconds as a number or a numeric string."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        raise ValueError("a time must be an ISO-8601 string or epoch milliseconds, not a boolean")
    if isinstance(value, int | float):
        return _from_epoch_ms(float(value))
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            number = None
        if number is not None:
            return _from_epoch_ms(number)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"a time must be an ISO-8601 string or epoch milliseconds, got {type(value).__name__}")


def _from_epoch_ms(ms: float) -> datetime:
    try:
        return datetime.fromtimestamp(ms / 1000.0, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"{ms!r} is not a plausible epoch-millisecond time") from None


def parse_tags(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, list):
        tags: dict[str, str] = {}
        for item in value:
            if not isinstance(item, dict) or "Key" not in item:
                raise ValueError("Tags as a list must hold {'Key': ..., 'Value': ...} objects")
            tags[str(item["Key"])] = str(item.get("Value", ""))
        return tags
    raise ValueError(f"Tags must be a map or a list of Key/Value objects, got {type(value).__name__}")


class _Detail(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class TrainingJobDetail(_Detail):
    training_job_name: str = Field(alias="TrainingJobName", min_length=1, max_length=63)
    training_job_status: TrainingJobStatus = Field(alias="TrainingJobStatus")
    training_job_arn: str | None = Field(default=None, alias="TrainingJobArn")
    secondary_status: str | None = Field(default=None, alias="SecondaryStatus")
    tags: dict[str, str] = Field(default_factory=dict, alias="Tags")
    resource_config: dict[str, Any] = Field(default_factory=dict, alias="ResourceConfig")
    vpc_config: dict[str, Any] = Field(default_factory=dict, alias="VpcConfig")
    tuning_job_arn: str | None = Field(default=None, alias="TuningJobArn")
    last_modified_time: datetime | None = Field(default=None, alias="LastModifiedTime")
    training_end_time: datetime | None = Field(default=None, alias="TrainingEndTime")

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> dict[str, str]:
        return parse_tags(value)

    @field_validator("last_modified_time", "training_end_time", mode="before")
    @classmethod
    def _times(cls, value: Any) -> datetime | None:
        return parse_time(value)

    @field_validator("resource_config", "vpc_config", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return value or {}


class TuningJobDetail(_Detail):
    tuning_job_name: str = Field(alias="HyperParameterTuningJobName", min_length=1)
    tuning_job_status: TuningJobStatus = Field(alias="HyperParameterTuningJobStatus")
    tuning_job_arn: str | None = Field(default=None, alias="HyperParameterTuningJobArn")
    best_training_job: dict[str, Any] | None = Field(default=None, alias="BestTrainingJob")
    # tells a sweep from an earlier one of its name (deleted, then started again): same name, same ARN
    creation_time: datetime | None = Field(default=None, alias="CreationTime")

    @field_validator("creation_time", mode="before")
    @classmethod
    def _created(cls, value: Any) -> datetime | None:
        return parse_time(value)


class StepDueDetail(_Detail):
    pool_id: str = Field(alias="PoolId", min_length=1)
    training_job_name: str = Field(alias="TrainingJobName", min_length=1)
    step: int = Field(alias="Step", ge=0)
    purpose: str = Field(default="step", alias="Purpose")
    # the minute it was due (UTC, YYYY-MM-DDTHH:MM): two looks of the same step are two messages
    at: str | None = Field(default=None, alias="At", max_length=32)


class KeepAliveCallParameters(_Detail):
    training_job_name: str = Field(alias="trainingJobName", min_length=1, max_length=63)


class KeepAliveCallDetail(_Detail):
    """CloudTrail's record of an `UpdateTrainingJob` call, as EventBridge delivers it: whose job (its
    `requestParameters`), and the record's id, the same in each copy of the event."""

    event_source: Literal["sagemaker.amazonaws.com"] = Field(alias="eventSource")
    event_name: Literal["UpdateTrainingJob"] = Field(alias="eventName")
    event_id: str = Field(alias="eventID", min_length=1, max_length=128)
    event_time: datetime | None = Field(default=None, alias="eventTime")
    request_parameters: KeepAliveCallParameters = Field(alias="requestParameters")
    user_identity: dict[str, Any] = Field(default_factory=dict, alias="userIdentity")

    @field_validator("event_time", mode="before")
    @classmethod
    def _time(cls, value: Any) -> datetime | None:
        return parse_time(value)

    @property
    def training_job_name(self) -> str:
        return self.request_parameters.training_job_name


class TrainingJobEvent(EventBridgeModel):
    detail: TrainingJobDetail


class TuningJobEvent(EventBridgeModel):
    detail: TuningJobDetail


class KeepAliveCallEvent(EventBridgeModel):
    detail: KeepAliveCallDetail


class StepDueMessage(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    source: Literal["warmpool.scheduler"]
    detail_type: Literal["Warm Pool Step Due"] = Field(alias="detail-type")
    detail: StepDueDetail


LifecycleMessage = TrainingJobEvent | TuningJobEvent | KeepAliveCallEvent | StepDueMessage


def _describe_errors(exc: ValidationError) -> tuple[str, str]:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"])
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()[:5]
    )
    return problems, field


# the source each detail-type warmpool handles comes from
_SOURCES = {
    TRAINING_DETAIL_TYPE: "aws.sagemaker",
    TUNING_DETAIL_TYPE: "aws.sagemaker",
    KEEP_ALIVE_CALL_DETAIL_TYPE: "aws.sagemaker",
    STEP_DETAIL_TYPE: STEP_SOURCE,
}


def parse_lifecycle_message(body: str | bytes) -> LifecycleMessage:
    """Parse one SQS message body from the lifecycle queue, or raise EventRejectedError naming the field."""
    if len(body) > MAX_EVENT_BYTES:
        raise EventRejectedError(
            f"message is {len(body)} bytes, above the {MAX_EVENT_BYTES}-byte event limit", "body"
        )
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EventRejectedError(f"not JSON ({exc})", "body") from None
    if not isinstance(raw, dict):
        raise EventRejectedError(f"expected a JSON object, got {type(raw).__name__}", "body")
    detail_type = raw.get("detail-type")
    source = raw.get("source")
    model: type[TrainingJobEvent] | type[TuningJobEvent] | type[KeepAliveCallEvent] | type[StepDueMessage]
    if detail_type == TRAINING_DETAIL_TYPE and source == "aws.sagemaker":
        model = TrainingJobEvent
    elif detail_type == TUNING_DETAIL_TYPE and source == "aws.sagemaker":
        model = TuningJobEvent
    elif detail_type == KEEP_ALIVE_CALL_DETAIL_TYPE and source == "aws.sagemaker":
        model = KeepAliveCallEvent
    elif detail_type == STEP_DETAIL_TYPE and source == STEP_SOURCE:
        model = StepDueMessage
    elif isinstance(detail_type, str) and detail_type in _SOURCES:  # from elsewhere: name the source
        raise EventRejectedError(
            f"a {detail_type!r} event comes from source {_SOURCES[detail_type]!r}, got {source!r}", "source"
        )
    else:
        raise EventRejectedError(
            f"unknown event (source={source!r}, detail-type={detail_type!r}); warmpool handles "
            f"{TRAINING_DETAIL_TYPE!r}, {TUNING_DETAIL_TYPE!r}, {KEEP_ALIVE_CALL_DETAIL_TYPE!r} "
            f"(SageMaker's UpdateTrainingJob) and {STEP_DETAIL_TYPE!r}",
            "detail-type",
        )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems, field = _describe_errors(exc)
        raise EventRejectedError(problems, field) from None
