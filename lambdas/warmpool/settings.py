"""Typed settings for each Lambda, read from environment variables.

Each handler validates its own settings when first invoked (never at import time) and fails loudly
naming the missing variable. The CDK stack sets exactly these variables; an infrastructure test checks
that every required field below is set on the function that needs it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from warmpool.domain.model import MAX_LIFETIME_SECONDS, EngineLimits
from warmpool.domain.slack_actions import SLACK_ORIGINS, allowed_origin

# The shortest lifetime the functions take (the longest is SageMaker's, MAX_LIFETIME_SECONDS): the engine
# keeps a pool in steps of up to an hour, and a shorter lifetime ends every pool within its first.
MIN_LIFETIME_SECONDS = 3600


class SettingsError(RuntimeError):
    """An environment variable is missing or invalid; `problems`: each, by variable (the message tells a
    function's operator where to set them, which a command's user is not)."""

    def __init__(self, message: str, problems: str) -> None:
        super().__init__(message)
        self.problems = problems


class _EnvSettings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        env = os.environ if environ is None else environ
        try:
            return cls.model_validate({k: v for k, v in env.items() if k.isupper()})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise SettingsError(
                f"{cls.__name__} cannot start: {problems}. Set these environment variables on the function.",
                problems,
            ) from exc

    @classmethod
    def required_env_vars(cls) -> list[str]:
        return sorted((f.alias or name) for name, f in cls.model_fields.items() if f.is_required())


class LimitSettings(_EnvSettings):
    """The deployment's limits the engine applies to every decision (`EngineLimits`): read by the
    functions, and by `warmpool policy explain`, which decides as they do (unset, the defaults)."""

    max_step_seconds: int = Field(default=3600, alias="MAX_STEP_SECONDS", ge=1, le=3600)
    step_margin_seconds: int = Field(default=300, alias="STEP_MARGIN_SECONDS", ge=0)
    max_lifetime_seconds: int = Field(default=MAX_LIFETIME_SECONDS, alias="MAX_LIFETIME_SECONDS")
    # set when the stack's IAM policy lets UpdateTrainingJob only on jobs with this tag
    update_requires_tag: str | None = Field(default=None, alias="UPDATE_REQUIRES_TAG", min_length=1)
    # the stack's `job_name_prefixes`, comma-separated (a job's name has no comma): the jobs it manages
    job_name_prefixes: tuple[str, ...] = Field(default=(), alias="JOB_NAME_PREFIXES")

    @field_validator("max_lifetime_seconds")
    @classmethod
    def _a_lifetime_sagemaker_keeps(cls, seconds: int) -> int:
        # Unbounded, 40 days kept pools past the 28 SageMaker ends them at, and 60 seconds released every
        # pool a minute after its job: the stack sets max_lifetime_days (1 to 28) times 86400.
        if not MIN_LIFETIME_SECONDS <= seconds <= MAX_LIFETIME_SECONDS:
            raise ValueError(
                f"{seconds} seconds is outside {MIN_LIFETIME_SECONDS} (one hour) to {MAX_LIFETIME_SECONDS} "
                "(28 days, the most SageMaker keeps a warm pool): set it within them (days times 86400, "
                "as the stack's max_lifetime_days does), or unset it for 28 days"
            )
        return seconds

    @field_validator("job_name_prefixes", mode="before")
    @classmethod
    def _prefixes(cls, value: object) -> object:
        if isinstance(value, str):
            prefixes = tuple(part.strip() for part in value.split(","))
            if not all(prefixes):
                raise ValueError("name the start of the jobs' names, comma-separated, as nightly-,team-a-")
            return prefixes
        return value

    def engine_limits(self) -> EngineLimits:
        """The limits; a ValueError when they do not go together (a margin as long as the step)."""
        return EngineLimits(
            max_step_seconds=self.max_step_seconds,
            step_margin_seconds=self.step_margin_seconds,
            max_lifetime_seconds=self.max_lifetime_seconds,
            update_requires_tag=self.update_requires_tag,
            job_name_prefixes=self.job_name_prefixes,
        )


class EngineSettings(LimitSettings):
    """What the lifecycle engine needs, wherever it runs (lifecycle, reconciler, Slack actions)."""

    pools_table_name: str = Field(alias="POOLS_TABLE_NAME")
    audit_table_name: str = Field(alias="AUDIT_TABLE_NAME")
    policy_parameter_name: str = Field(alias="POLICY_PARAMETER_NAME")
    notify_queue_url: str = Field(alias="NOTIFY_QUEUE_URL")
    scheduler_group_name: str = Field(alias="SCHEDULER_GROUP_NAME")
    scheduler_role_arn: str = Field(alias="SCHEDULER_ROLE_ARN")
    scheduler_target_arn: str = Field(alias="SCHEDULER_TARGET_ARN")  # the lifecycle queue
    policy_cache_seconds: int = Field(default=60, alias="POLICY_CACHE_SECONDS", ge=0)


class LifecycleSettings(EngineSettings):
    idempotency_table_name: str = Field(alias="IDEMPOTENCY_TABLE_NAME")
    # Malformed or unknown events go straight here with their reason: never retried forever.
    dead_letter_queue_url: str = Field(alias="LIFECYCLE_DLQ_URL")


class ReconcilerSettings(EngineSettings):
    pass


class NotifierSettings(_EnvSettings):
    topic_arn: str = Field(alias="NOTIFY_TOPIC_ARN")
    slack_webhooks_secret_arn: str = Field(alias="SLACK_WEBHOOKS_SECRET_ARN")
    policy_parameter_name: str = Field(alias="POLICY_PARAMETER_NAME")
    idempotency_table_name: str = Field(alias="IDEMPOTENCY_TABLE_NAME")
    # Bot-token mode (docs/notifications.md): where the channel and `ts` of each message with buttons
    # are kept, for `chat.update` to take the buttons away when the pool ends. Unset (a stack before
    # it), messages are posted all the same and keep their buttons.
    pools_table_name: str | None = Field(default=None, alias="POOLS_TABLE_NAME", min_length=1)
    # Slack's Web API; a local run (the tests) points it at a loopback stand-in
    slack_api_url: str = Field(default="https://slack.com/api/", alias="SLACK_API_URL")

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        loopback = value.startswith(("http://127.0.0.1:", "http://localhost:"))
        if not (value.startswith("https://") or loopback) or " " in value:
            raise ValueError(
                "Slack's Web API is https://slack.com/api/ (leave it unset); only a local stand-in on "
                "http://127.0.0.1:<port>/ may be http"
            )
        return value if value.endswith("/") else f"{value}/"


class SlackInteractiveSettings(_EnvSettings):
    """The endpoint the internet reaches: it checks and queues a press, and needs no engine."""

    # Only the signing secret: the answer to a press goes to the press's own response_url, never to a
    # webhook, so the internet-facing function may not read the channels' webhook URLs.
    slack_signing_secret_arn: str = Field(alias="SLACK_SIGNING_SECRET_ARN")
    # the table of the replay markers and of each user's request count
    pools_table_name: str = Field(alias="POOLS_TABLE_NAME")
    # where a checked press waits for the worker (`SlackPressSettings`)
    slack_press_queue_url: str = Field(alias="SLACK_PRESS_QUEUE_URL")
    # Where a press's response_url may point: Slack's hosts. The stack leaves it so; a local run (the
    # demo, the tests) points it at the loopback stand-in for Slack, comma-separated origins.
    slack_response_origins: tuple[str, ...] = Field(default=SLACK_ORIGINS, alias="SLACK_RESPONSE_ORIGINS")

    @field_validator("slack_response_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            if not value:
                raise ValueError("name at least one origin, as https://hooks.slack.com")
            return tuple(allowed_origin(v) for v in value)
        return value


class SlackPressSettings(EngineSettings):
    """The worker that applies the presses the endpoint queued."""

    # a press that could not be carried out, kept with its reason once its person is told
    slack_press_dlq_url: str = Field(alias="SLACK_PRESS_DLQ_URL")
