"""Typed configuration of the stack, read from CDK context key `warmpool` (cdk.json or `-c`)."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from infra.constants import SERVICE

# The retention periods CloudWatch Logs accepts, in days.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

# The engine's look at a pool comes step_margin_seconds before its step ends, planned as a one-time
# EventBridge Scheduler schedule, which fires up to a minute after its time; its message then waits for
# the lifecycle queue's batch (5 s) and the function's run. A shorter margin brings the look after
# SageMaker has ended the pool.
MIN_STEP_MARGIN_SECONDS = 120

# The stack's name also names its step schedules' group, `<stack_name>-steps`, which EventBridge Scheduler
# allows 64 characters.
SCHEDULE_GROUP_SUFFIX = "-steps"
MAX_STACK_NAME_LENGTH = 64 - len(SCHEDULE_GROUP_SUFFIX)


def stack_name_problem(name: str) -> str | None:
    """What is wrong with the name of the stack warmpool is in, and the fix; None when nothing is.

    CloudFormation refuses any other stack name at deploy (the CDK only as a traceback at synth), and a
    longer one would fail the deploy half-way, at the schedule group it names."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", name):
        return (
            f"{name!r} is not a CloudFormation stack name: start with a letter, then letters, digits "
            "and hyphens only (e.g. WarmPoolManager)."
        )
    if len(name) > MAX_STACK_NAME_LENGTH:
        return (
            f"{name!r} is {len(name)} characters: use at most {MAX_STACK_NAME_LENGTH}, for it also names "
            f"the step schedules' group `{name}{SCHEDULE_GROUP_SUFFIX}`, which may have 64."
        )
    return None


def metrics_service_problem(value: str) -> str | None:
    """What is wrong with a `metrics_service`, and the fix; None when nothing is.

    It is a CloudWatch dimension value the functions write into each EMF line and the alarms and the
    dashboard look for: a value CloudWatch would not take (empty, blank, over 255 characters here) failed
    only at deploy or, worse, every alarm watched a metric never published."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}", value):
        return (
            f"{value!r} cannot be the metrics' `service` dimension: use 1 to 255 letters, digits, dots, "
            "underscores and hyphens, beginning with a letter or digit (e.g. the stack's name, team-a)."
        )
    return None


# An account's default limit of concurrent executions: a `function_url_reserved_concurrency` above it
# deploys only in an account whose limit was raised, and synth warns of it.
DEFAULT_ACCOUNT_CONCURRENCY = 1000
# The most `function_url_reserved_concurrency` takes: ten times the default limit, far beyond what the
# Slack endpoint needs (5 take 50 requests a second), while an account whose limit was raised may
# reserve more than 1,000; a number past it is a typo, and would take the others' concurrency.
MAX_RESERVED_CONCURRENCY = 10_000


class StackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stack_name: str = "WarmPoolManager"
    policy_file: str = Field(default="policies/example.yaml", description="policy YAML, relative to the app")
    max_step_seconds: int = Field(default=3600, ge=300, le=3600)
    step_margin_seconds: int = Field(default=300, le=1800)
    max_lifetime_days: int = Field(default=28, ge=1, le=28)
    reconcile_every_minutes: int = Field(default=5, ge=1, le=60)
    slack_endpoint: Literal["http-api", "function-url", "none"] = "http-api"
    # With `function-url`, the Slack function's reserved concurrency: the URL has no throttle of its own
    # (the HTTP API's stage has one), so a flood of requests, signed or not, runs at most this many at
    # once (and, through a function URL, at most 10 requests a second each) and cannot take the account's
    # concurrency from the other functions. "none": no reservation (Lambda keeps 100 of the account's
    # concurrency unreserved: an account with less cannot reserve any).
    function_url_reserved_concurrency: int | Literal["none"] = 5
    # Optionally restrict UpdateTrainingJob to jobs carrying this tag key (e.g. "warmpool:managed").
    update_requires_tag: str | None = None
    # Optionally manage only the jobs whose names begin with one of these (another stack in the account
    # manages the others): the rules' patterns, the reconciler's listing and every decision keep to them.
    job_name_prefixes: tuple[str, ...] | None = None
    # A rule routing CloudTrail's record of each UpdateTrainingJob to the lifecycle queue: a keep-alive set
    # outside warmpool (the console, someone's own call) is looked at at once instead of at the pool's next
    # look. Without a trail logging management events the rule receives nothing, and costs nothing.
    watch_outside_keep_alive: bool = True
    log_retention_days: int = Field(default=30, ge=1)
    alarm_email: str | None = None
    # The value of the `service` dimension of the functions' metrics, the alarms' and the dashboard's: a
    # stack of its own for each, when two stacks share an account (`job_name_prefixes`), else each
    # stack's alarms fire on the other's metrics and its dashboard sums both.
    metrics_service: str = SERVICE

    @field_validator("stack_name")
    @classmethod
    def _a_name_cloudformation_accepts(cls, name: str) -> str:
        if problem := stack_name_problem(name):
            raise ValueError(problem)
        return name

    @field_validator("update_requires_tag")
    @classmethod
    def _a_tag_key_users_can_set(cls, key: str | None) -> str | None:
        # The engine may then update only the jobs carrying this tag key: an empty one used to lift the
        # restriction without a word, and one no job can carry (`aws:` is AWS's own, a character SageMaker
        # refuses in a tag key) leaves every pool to its own keep-alive.
        if key is None:
            return key
        if not re.fullmatch(r"[\w .:/=+\-@]{1,128}", key):
            raise ValueError(
                f"{key!r} is not a SageMaker tag key: 1 to 128 letters, digits, spaces and _.:/=+-@ "
                "(e.g. warmpool:managed); leave update_requires_tag out to let the engine update every job."
            )
        if key != key.strip():  # pasted with the key, most likely: the jobs' keys have none
            fix = (
                f"write it without ({key.strip()!r})"
                if key.strip()
                else "leave update_requires_tag out to let the engine update every job"
            )
            raise ValueError(
                f"{key!r} begins or ends with a space, which the jobs' tag key would have to as well: {fix}."
            )
        if key.lower() in ("none", "null"):  # as slack_endpoint and function_url_reserved_concurrency take it
            raise ValueError(
                f"{key!r} would let the engine update only jobs tagged `{key}`: leave update_requires_tag "
                "out for every job (the CDK drops a null), or name the tag key the jobs carry, e.g. "
                "warmpool:managed."
            )
        if key.lower().startswith("aws:"):
            raise ValueError(
                f"{key!r} begins with aws:, which AWS keeps for its own tags: no job of yours can carry it. "
                "Use a key of your own, e.g. warmpool:managed."
            )
        return key

    @field_validator("job_name_prefixes", mode="before")
    @classmethod
    def _a_list_of_names_starts(cls, value: object) -> object:
        # A string would be read as its letters, each a prefix: "team-a-" would manage every job whose
        # name begins with t, e, a, m or a hyphen.
        if isinstance(value, str):
            raise ValueError(
                f'must be a list of the starts of the jobs\' names, e.g. ["{value}"], not a string '
                f"({json.dumps(value)})."
            )
        return value

    @field_validator("job_name_prefixes")
    @classmethod
    def _starts_of_job_names(cls, prefixes: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if prefixes is None:
            return prefixes
        if not prefixes:  # an empty list would manage no job at all, silently
            raise ValueError(
                '[] would manage no job: list the starts of the jobs\' names (e.g. ["team-a-"]), or leave '
                "job_name_prefixes out to manage every job of the account."
            )
        for prefix in prefixes:
            # the start of a name SageMaker accepts: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,62}", prefix):
                raise ValueError(
                    f"{prefix!r} begins no training job's name: SageMaker's names are 1 to 63 letters, "
                    "digits and hyphens, beginning with a letter or digit (e.g. team-a-); matched as "
                    "written, case included."
                )
        if len(set(prefixes)) != len(prefixes):
            twice = sorted({p for p in prefixes if prefixes.count(p) > 1})
            raise ValueError(f"{', '.join(twice)} is listed twice: list each prefix once.")
        return prefixes

    @field_validator("alarm_email")
    @classmethod
    def _an_email_address(cls, email: str | None) -> str | None:
        # SNS refuses anything else when CloudFormation subscribes it, failing the deploy half-way; an
        # empty one would subscribe nobody while the operator thinks the alarms reach them.
        if email is not None and not re.fullmatch(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+", email):
            raise ValueError(
                f"{email!r} is not an email address: give one address (e.g. ops@example.com), or leave "
                "alarm_email out for none; subscribe more to the stack's AlarmTopic (output ALARM_TOPIC_ARN)."
            )
        return email

    @field_validator("metrics_service")
    @classmethod
    def _a_dimension_value(cls, value: str) -> str:
        if problem := metrics_service_problem(value):
            raise ValueError(problem)
        return value

    @field_validator(
        "max_step_seconds",
        "step_margin_seconds",
        "max_lifetime_days",
        "reconcile_every_minutes",
        "log_retention_days",
        mode="before",
    )
    @classmethod
    def _a_number_not_a_truth_value(cls, value: object) -> object:
        # pydantic reads true as 1 and false as 0: `log_retention_days: true` would keep logs for a day,
        # `max_lifetime_days: true` end every pool after one.
        if isinstance(value, bool):
            raise ValueError(f"must be a number, got {str(value).lower()}. Write the number itself.")
        return value

    @field_validator("step_margin_seconds")
    @classmethod
    def _a_margin_the_look_comes_within(cls, seconds: int) -> int:
        # `step_margin_seconds: 0` looked at each pool as its step ended, a minute late at worst: SageMaker
        # had ended it, and the next job started cold.
        if seconds < MIN_STEP_MARGIN_SECONDS:
            raise ValueError(
                f"{seconds} seconds before a step ends is too late for the engine's look: EventBridge "
                "Scheduler fires it up to a minute late, and the pool would end before the engine keeps it. "
                f"Use at least {MIN_STEP_MARGIN_SECONDS}."
            )
        return seconds

    @field_validator("log_retention_days")
    @classmethod
    def _a_retention_cloudwatch_accepts(cls, days: int) -> int:
        # CloudWatch Logs keeps logs for one of a fixed set of periods; any other number would be
        # rounded to something the operator did not ask for.
        if days not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"{days} is not a retention period CloudWatch Logs accepts: use one of "
                f"{', '.join(map(str, LOG_RETENTION_DAYS))}"
            )
        return days

    @field_validator("function_url_reserved_concurrency", mode="before")
    @classmethod
    def _a_concurrency_that_lets_requests_in(cls, value: object) -> object:
        # "none" rather than null: the CDK drops a null from the context it hands the app (cdk.json's, or
        # an object given with -c), and the default would reserve all the same.
        if value == "none":
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            got = json.dumps(value)
            raise ValueError(
                f'must be a whole number of at least 1, or "none" for no reservation (got {got}).'
            )
        if value < 0:  # Lambda refuses it, failing the deploy half-way
            raise ValueError(
                f"{value} is negative: Lambda reserves 0 or more (0 refuses every request): use at least 1, "
                'or "none" for no reservation.'
            )
        if value > MAX_RESERVED_CONCURRENCY:  # a typo: no Slack endpoint needs a tenth of it
            raise ValueError(
                f"{value} is more than the {MAX_RESERVED_CONCURRENCY:,} warmpool takes: ten times an "
                "account's default limit of 1,000 concurrent executions, taken from the account's other "
                "functions. "
                "The Slack endpoint needs a handful: 5 take 50 requests a second, more than people press. "
                f"Use at most {MAX_RESERVED_CONCURRENCY}."
            )
        if value < 1:  # Lambda takes a reserved concurrency of 0 as "throttle every invocation"
            raise ValueError(
                f'{value} would refuse every request to the Slack function: use at least 1, or "none" for '
                "no reservation."
            )
        return value

    @property
    def slack_reserved_concurrency(self) -> int | None:
        """The Slack function's reserved concurrency: `function_url_reserved_concurrency` behind a function
        URL, else None (the HTTP API's stage throttles its requests)."""
        reserved = self.function_url_reserved_concurrency
        return reserved if self.slack_endpoint == "function-url" and isinstance(reserved, int) else None

    @model_validator(mode="after")
    def _reserved_concurrency_only_behind_a_function_url(self) -> StackConfig:
        # Behind the HTTP API (whose stage throttles) or with no endpoint, the setting would change nothing,
        # while the operator thinks the function is bounded.
        if (
            "function_url_reserved_concurrency" in self.model_fields_set
            and self.slack_endpoint != "function-url"
        ):
            raise ValueError(
                "function_url_reserved_concurrency applies only with slack_endpoint `function-url` (it is "
                f"`{self.slack_endpoint}`, where it would bound nothing): remove it, or set slack_endpoint "
                "to function-url."
            )
        return self

    @model_validator(mode="after")
    def _margin_within_half_a_step(self) -> StackConfig:
        # The engine looks at a pool step_margin_seconds before its step runs out, and at the latest
        # halfway through it (domain/decide.py, for a policy's shorter max_step_minutes too): a longer
        # margin was deployed and cut to half the step without a word (and one as long as the step had
        # every Lambda invocation refuse the limits).
        half = self.max_step_seconds // 2
        if self.step_margin_seconds > half:
            raise ValueError(
                f"step_margin_seconds ({self.step_margin_seconds}) must be at most half of "
                f"max_step_seconds ({self.max_step_seconds}), {half}: the engine looks at a pool "
                "step_margin_seconds before each step runs out, and at the latest halfway through it. "
                "Lower step_margin_seconds or raise max_step_seconds."
            )
        return self


def reserved_concurrency_warnings(config: StackConfig) -> list[str]:
    """A Slack reserved concurrency above an account's default limit, which deploys only where the limit
    was raised: a warning, as `warmpool.<key>: <what happens>. <fix>` (refused at synth, it could not
    be deployed in an account whose limit was raised, where it can)."""
    reserved = config.slack_reserved_concurrency
    if reserved is None or reserved <= DEFAULT_ACCOUNT_CONCURRENCY:
        return []
    return [
        f"warmpool.function_url_reserved_concurrency: {reserved} is more than an account's default limit of "
        "1,000 concurrent executions, of which Lambda keeps 100 unreserved: the deploy fails half-way unless "
        f'the account\'s limit (Service Quotas, "Concurrent executions") is at least {reserved + 100:,}, '
        "less what its other functions reserve. The Slack endpoint needs a handful: 5 take 50 requests a "
        "second; lower it, or keep it where the limit was raised."
    ]


def shared_account_warnings(config: StackConfig, stack_name: str) -> list[str]:
    """What a stack with `job_name_prefixes` (another stack manages the account's other jobs) leaves at a
    default the other stack would share, each as `warmpool.<key>: <what collides>. <fix>`.

    Warnings, not errors: one stack of the account may keep the defaults (an existing stack given
    prefixes keeps its name and its metrics); setting the key, to the default too, says so and silences it.
    """
    if config.job_name_prefixes is None:
        return []
    warnings = []
    if "stack_name" not in config.model_fields_set and stack_name == config.stack_name:
        warnings.append(
            f"warmpool.stack_name: left at `{stack_name}` while job_name_prefixes is set: another stack "
            "deployed in the account and region with this name does not stand beside this one, it replaces "
            "it (CloudFormation updates the one stack of that name, and its prefixes with it). Give each "
            f"stack a stack_name of its own (e.g. Team-A), or set `{stack_name}` to keep this one's."
        )
    if "metrics_service" not in config.model_fields_set:
        warnings.append(
            f"warmpool.metrics_service: left at `{config.metrics_service}` while job_name_prefixes is set: "
            "another stack in the account publishing its metrics under the same `service` dimension fires "
            "this stack's alarms (PolicyInvalid, PermanentErrors, ReconcilerFailures, EventsRetried, ...) "
            "and sums into its dashboard. Give each stack a metrics_service of its own (e.g. its "
            f"stack_name), or set `{config.metrics_service}` to keep this one's."
        )
    return warnings


class ConfigError(ValueError):
    """The `warmpool` context is invalid; `problems` lists `warmpool.<key>: <what is wrong>. <fix>` lines,
    one per problem, which `python app.py` (and so `cdk synth`) prints instead of a traceback."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


_HOW = "Set it in cdk.json's context `warmpool` or with -c warmpool='{...}' (docs/deploy.md)."


def _problem(err: Any) -> str:
    """One validation error as `warmpool.<key>: <what is wrong> (got <value>). <how to fix>`."""
    key = ".".join(str(p) for p in err["loc"])
    where = f"warmpool.{key}" if key else "warmpool"
    kind, ctx = err["type"], err.get("ctx", {})
    if kind == "extra_forbidden":
        near = difflib.get_close_matches(key, list(StackConfig.model_fields), n=1, cutoff=0.6)
        hint = (
            f"did you mean `{near[0]}`?" if near else f"the keys are {', '.join(StackConfig.model_fields)}."
        )
        return f"{where}: unknown key; {hint}"
    if kind == "value_error":  # our own validators' words, which name the fix
        return f"{where}: {ctx['error']}"
    fix = {
        "greater_than_equal": f"Use at least {ctx.get('ge')}.",
        "less_than_equal": f"Use at most {ctx.get('le')}.",
        "int_type": "Use a whole number.",
        "int_parsing": "Use a whole number.",
        "int_from_float": "Use a whole number.",
        "string_type": "Use a string.",
        "literal_error": "Use one of those.",
    }.get(kind, _HOW)
    return f"{where}: {err['msg']} (got {json.dumps(err['input'], default=str)}). {fix}"


CONTEXT_KEY = "warmpool"


def _misspells_the_context_key(key: str) -> bool:
    """`warmpol`, `WarmPool`, `warm_pool`: context keys are case-sensitive, and none of the CDK's own
    (`@aws-cdk/...`, `aws:cdk:...`, cdk.context.json's lookups) is near it."""
    near = difflib.SequenceMatcher(None, key.lower(), CONTEXT_KEY).ratio() >= 0.8
    return key != CONTEXT_KEY and near


def stray_settings(context_keys: Iterable[str]) -> list[str]:
    """Settings given as context keys of their own (`-c stack_name=Team-A`, or
    `-c warmpool.max_step_seconds=600`), or under a misspelt `warmpool` key, which nothing reads: the
    deploy went ahead with the defaults, a stack named WarmPoolManager beside the one meant."""
    problems = []
    for key in sorted(context_keys):
        if _misspells_the_context_key(key):
            problems.append(
                f"{key}: is not read; did you mean `{CONTEXT_KEY}`? The settings go inside the "
                f"""`{CONTEXT_KEY}` key: -c {CONTEXT_KEY}='{{"stack_name": ...}}' (or cdk.json's context)."""
            )
            continue
        name = _setting_named(key.removeprefix("warmpool."))
        if name is not None:
            problems.append(
                f"{key}: is not read; a setting goes inside the `warmpool` key: "
                f"-c warmpool='{{\"{name}\": ...}}' (or cdk.json's context)."
            )
    return problems


def _setting_named(key: str) -> str | None:
    """The setting a context key names, spelt as it is (`stack_name`) or nearly (`stack-name`,
    `log_retention`); None for the CDK's own keys (`@aws-cdk/...`, `aws:cdk:...`, cdk.context.json's
    lookups), which all hold a `:` or a `/`, and for any other."""
    if ":" in key or "/" in key:
        return None
    near = difflib.get_close_matches(
        key.replace("-", "_").lower(), list(StackConfig.model_fields), n=1, cutoff=0.85
    )
    return near[0] if near else None


def load_config(raw: object, context_keys: Iterable[str] = ()) -> StackConfig:
    """The stack's configuration from the `warmpool` context value, as cdk.json or `-c` gives it.

    The CDK CLI passes every `-c key=value` as a string, so `-c warmpool='{"max_step_seconds": 1800}'`
    (the form docs/deploy.md shows) reaches the app as JSON text, not as the object cdk.json gives.
    """
    if stray := stray_settings(context_keys):
        raise ConfigError(stray)
    if raw is None:
        return StackConfig()
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as err:
            example = """-c warmpool='{"stack_name": "..."}'"""
            raise ConfigError([f"warmpool: not valid JSON ({err}). Quote it whole: {example}."]) from None
    if not isinstance(raw, dict):
        raise ConfigError([f"warmpool: must be an object of settings, got {json.dumps(raw)}. {_HOW}"])
    try:
        return StackConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError([_problem(err) for err in exc.errors()]) from None
