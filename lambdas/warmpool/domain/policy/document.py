"""The policy document (YAML in the deploying repo, JSON in SSM at run time). Reference: docs/policy.md.

A document has `defaults`, `teams`, `owners` and `selectors`, each holding a `Rules` block whose fields
are all optional: a field left out is inherited from the less specific scope. Precedence, least to most
specific: defaults < team < selectors (in document order) < owner.
"""

from __future__ import annotations

import difflib
import functools
import re
import sys
import types
from collections.abc import Iterable, Mapping
from datetime import date, time
from typing import Annotated, Any, Literal, Self, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from warmpool.domain.model import SLACK_USER_ID
from warmpool.domain.strategies import get_strategy

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# What an SSM parameter's value may hold, in bytes of UTF-8: a standard parameter, an advanced one. The
# stack deploys the policy as a standard parameter up to the first, as an advanced one up to the second.
STANDARD_PARAMETER_BYTES = 4096
ADVANCED_PARAMETER_BYTES = 8192
# The most a price or a person's hour may be, in USD per hour: above any instance's price or any team's
# hour, and far below where a cold start's cost overflows to inf (a price in cents, or per year)
MAX_USD_PER_HOUR = 1_000_000.0
# Where a file system finds `europe/berlin` as Europe/Berlin's file by default; only there is the zone
# list read for a zone that was found (about 10-60 ms, which a Lambda's cold start would pay for nothing)
CASE_INSENSITIVE_PLATFORMS = ("darwin", "win32")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
# The numbers YAML 1.1 makes of an unquoted 1:00 to 24:00 (base 60: 18:00 is 1080; 08:00 stays a string)
_UNQUOTED_HHMM = range(60, 24 * 60 + 1)


def known_zone(value: str) -> str:
    """`value` if it names an IANA time zone; else a ValueError that says what to write (the name it
    likely meant: another case, a city alone, a near spelling). Names are case-sensitive: `europe/berlin`
    is refused, naming `Europe/Berlin`, also where a case-insensitive file system (a Mac's) finds its
    file: Lambda's does not, and the deployed policy would be invalid."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "America" is a directory: IsADirectoryError
        spelt = _zone_names().get(value.casefold())
        unknown = f"unknown time zone {value!r}"
        if spelt is not None:
            raise ValueError(f"{unknown}: the names are case-sensitive; write {spelt}.") from None
        names = sorted(_zone_names().values())
        # a city alone (Berlin: Europe/Berlin), else a near spelling (Europe/Berln)
        cities = [name for name in names if name.casefold().endswith(f"/{value.casefold()}")]
        near = cities if len(cities) == 1 else difflib.get_close_matches(value, names, n=1, cutoff=0.85)
        if near:
            raise ValueError(f"{unknown}; did you mean {near[0]}? Write the IANA name.") from None
        raise ValueError(f"{unknown}; use an IANA name such as Europe/Berlin") from None
    if sys.platform not in CASE_INSENSITIVE_PLATFORMS:
        return value  # found on a file system that tells case apart, as Lambda's: written as named
    spelt = _zone_names().get(value.casefold())
    if spelt is not None and spelt != value and value not in _zone_names().values():
        raise ValueError(
            f"time zone {value!r} is written {spelt}: its names are case-sensitive, and where the file "
            f"system is not (a Mac) it was found here but would not be in Lambda. Write {spelt}."
        )
    return value


@functools.cache
def _zone_names() -> dict[str, str]:
    """The IANA time zones by their names casefolded (`europe/berlin`: `Europe/Berlin`)."""
    from zoneinfo import available_timezones

    return {name.casefold(): name for name in available_timezones()}


def unwrapped(kind: Any) -> Any:
    """`kind` (a field's type) without `Annotated[...]` and `... | None`."""
    while True:
        if get_origin(kind) is Annotated:
            kind = get_args(kind)[0]
        elif get_origin(kind) in (Union, types.UnionType):
            kind = next(a for a in get_args(kind) if a is not type(None))
        else:
            return kind


def _number_kind(kind: Any) -> bool:
    """Whether `kind` (a field's type, without `Annotated[...]` and `... | None`) is a number's."""
    return unwrapped(kind) in (int, float)


_TRUTH_VALUE = (
    "YAML reads yes, no, on, off, true and false as true or false, and that is no number: write the number"
)


def _a_name(value: Any) -> Any:
    """A name the policy matches against a job's tags, or looks up by (a team, an owner, a tag key, a
    webhook's key in the secret): empty or blank, it matched nothing (`default_team: ""` sent every
    untagged job's messages to a team of no name, `tags.team: " "` read every job as untagged), and with
    a space before or after it, a name a tag or the secret never has (YAML keeps a quoted one's spaces).
    Checked before pydantic's own constraints, which only say "at least 1 character"."""
    if not isinstance(value, str):
        return value  # pydantic says what it must be
    if not value.strip():
        raise ValueError(
            f"is {'empty' if not value else 'blank'}: no job's tag and no key of the webhooks secret is. "
            "Write the name."
        )
    if value != value.strip():
        raise ValueError(
            f"is written with a space before or after it, which no tag or key of the secret has: write "
            f"{value.strip()!r}."
        )
    return value


# A team, owner, tag key or key of the webhooks secret: not empty, no spaces around it (`_a_name`)
Name = Annotated[str, BeforeValidator(_a_name), Field(min_length=1, pattern=r"^\S(.*\S)?$")]


class _Strict(BaseModel):
    # allow_inf_nan: YAML's .nan and .inf are floats, and pydantic takes them by default; a price, a
    # budget or a person's hour of .nan made every cost NaN (`pools costs` printed NaN, which is not
    # JSON), and `ge=0` lets .inf through
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_truth_value_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        """pydantic takes true and false as the numbers 1 and 0: `max_reductions_per_run: no` (meant as
        "no limit") let no run shorten or release a pool, and `max_warm_instances: yes` allowed one.
        Refused where a number goes, also as a value of `prices` or `instance_type_limits`."""
        field = cls.model_fields.get(info.field_name or "")
        if field is None:
            return value
        kind = field.annotation
        if isinstance(value, bool) and _number_kind(kind):
            raise ValueError(f"must be a number, got {str(value).lower()}. {_TRUTH_VALUE}.")
        if isinstance(value, dict) and get_origin(kind) is dict and _number_kind(get_args(kind)[1]):
            bad = next((k for k, v in value.items() if isinstance(v, bool)), None)
            if bad is not None:
                raise ValueError(f"{bad} must be a number, got {str(value[bad]).lower()}. {_TRUTH_VALUE}.")
        return value


class WorkingHours(_Strict):
    """Outside these hours warmpool never extends a pool: it shortens it or releases it."""

    timezone: str = Field(description="IANA time zone, e.g. Europe/Berlin (daylight saving handled)")
    start: str = Field(default="08:00", description="HH:MM local time")
    end: str = Field(default="19:00", description="HH:MM local time, after start")
    days: tuple[Weekday, ...] = Field(default=("mon", "tue", "wed", "thu", "fri"))
    holidays: tuple[date, ...] = Field(default=(), description="local dates treated as outside working hours")
    outside: Literal["release", "shorten"] = Field(default="shorten")
    shorten_to_minutes: int = Field(default=10, ge=0, le=60, description="with outside: shorten")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)

    @field_validator("days")
    @classmethod
    def _some_day(cls, value: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        """`days: []` was valid: every moment outside working hours, every pool shortened or released."""
        if not value:
            raise ValueError(
                "no working day: every moment would be outside working hours, and every pool shortened "
                "or released. List the days, e.g. days: [mon, tue, wed, thu, fri], or drop working_hours."
            )
        return value

    @field_validator("start", "end", mode="before")
    @classmethod
    def _quoted(cls, value: Any, info: ValidationInfo) -> Any:
        """YAML 1.1 reads an unquoted 18:00 as the number 1080 (base 60), and 08:00 as the string: say
        so, rather than "not a string" about a value the file shows as a time. Only 1:00 to 24:00 read
        so (60 to 1440: YAML's base 60 wants a first digit 1-9); another number (`start: 9`, `end:
        1800`) was written as one, and is not called a time the file does not show."""
        if isinstance(value, int) and not isinstance(value, bool):
            if _UNQUOTED_HHMM.start <= value < _UNQUOTED_HHMM.stop:
                hours, minutes = divmod(value, 60)
                raise ValueError(
                    f"YAML reads an unquoted {hours}:{minutes:02d} as the number {value}. "
                    f'Quote it: "{hours:02d}:{minutes:02d}".'
                )
            example = "09:00" if info.field_name == "start" else "18:00"
            raise ValueError(
                f'must be a time, "HH:MM" in quotes, got the number {value}. '
                f'Write e.g. {info.field_name}: "{example}".'
            )
        return value

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str, info: ValidationInfo) -> str:
        if not _HHMM.match(value):
            raise ValueError(f'{value!r} is not HH:MM (24-hour clock); write e.g. "08:00" or "18:30"')
        if value == "24:00" and info.field_name == "start":  # was "hour must be in 0..23", of the block
            raise ValueError('24:00 is the end of a day, not a start; a day starts at "00:00"')
        return value

    @model_validator(mode="after")
    def _ordered(self) -> WorkingHours:
        if not self.until_midnight and self.start_time >= self.end_time:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self

    @property
    def start_time(self) -> time:
        return time.fromisoformat(self.start)

    @property
    def end_time(self) -> time:
        """The end as a time of day; for `end: "24:00"` (`until_midnight`) the day's last second."""
        return time(23, 59, 59) if self.until_midnight else time.fromisoformat(self.end)

    @property
    def until_midnight(self) -> bool:
        """`end: "24:00"`: the working day runs until midnight, and into the next when that one is a
        working day from 00:00."""
        return self.end == "24:00"


class Budget(_Strict):
    """Idle-cost budgets for a team's warm pools, in USD."""

    daily_usd: float | None = Field(default=None, ge=0)
    monthly_usd: float | None = Field(default=None, ge=0)


class Overrides(_Strict):
    """What people may ask for (Slack buttons, `warmpool pools extend`)."""

    max_extend_minutes: int = Field(default=120, ge=0, le=7 * 24 * 60)
    allow_outside_working_hours: bool = False


def instance_type_patterns(patterns: tuple[str, ...]) -> tuple[str, ...]:
    """Glob patterns of instance types, refused when they can match no SageMaker type: `g5.*` matches
    nothing SageMaker names (`ml.g5.2xlarge`), so an allow list would refuse every pool and a deny list
    or a selector would silently do nothing. A pattern's text before its first wildcard must begin
    with `ml.` or be the start of it (`*`, `m*`, `ml.g5.*`)."""
    _no_spaces_around(patterns)
    bad = [p for p in patterns if not _may_name_a_type(p)]
    if bad:
        raise ValueError(
            f"{', '.join(bad)} matches no SageMaker instance type; SageMaker names them with the ml. "
            f"prefix: write ml.{bad[0]}."
        )
    return patterns


def _no_spaces_around(types: Iterable[str]) -> None:
    """An instance type (or pattern) with a space after it (`"ml.g5.2xlarge "`, quoted in YAML) names
    no type SageMaker has: its limit, price or rule would never apply."""
    padded = [t for t in types if t != t.strip()]
    if padded:
        raise ValueError(
            f"{padded[0]!r} is written with a space before or after it, which no SageMaker instance type "
            f"has: write {padded[0].strip()!r}."
        )


def _may_name_a_type(pattern: str) -> bool:
    literal = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
    return literal.startswith("ml.") or "ml.".startswith(literal)


class Rules(_Strict):
    """One scope's rules. Every field is optional; unset fields are inherited."""

    keep_alive_strategy: str | None = Field(
        default=None, description="job | none | break-even | adaptive | counterfactual | fixed-<seconds>"
    )
    max_horizon_minutes: int | None = Field(default=None, ge=0, le=28 * 24 * 60)
    min_step_minutes: int | None = Field(default=None, ge=1, le=60)
    max_step_minutes: int | None = Field(default=None, ge=5, le=60)
    allowed_instance_types: tuple[str, ...] | None = Field(default=None, description="glob patterns")
    denied_instance_types: tuple[str, ...] | None = Field(default=None, description="glob patterns")
    max_warm_instances: int | None = Field(default=None, ge=0, description="per team")
    on_limit: Literal["refuse", "release-least-valuable"] | None = None
    working_hours: WorkingHours | None = None
    timezone: str | None = Field(
        default=None,
        description="IANA time zone of the team's day: where adaptive learns the time of day and the day "
        "of the week, and, set for the team, where its budget's days and months and its digest's hour "
        "fall (default: the working hours' time zone, else UTC)",
    )
    budget: Budget | None = None
    # at most a million an hour: 1e308 passed, and a cold start's cost overflowed to inf, every decision
    # an OverflowError (a Lambda's, or the simulator's traceback)
    people_cost_per_hour: float | None = Field(default=None, ge=0, le=MAX_USD_PER_HOUR)
    cold_start_seconds: float | None = Field(default=None, ge=0, le=3600)
    warm_start_seconds: float | None = Field(default=None, ge=0, le=3600)
    release_on_failure: bool | None = None
    overrides: Overrides | None = None

    @field_validator("keep_alive_strategy")
    @classmethod
    def _known_strategy(cls, value: str | None) -> str | None:
        if value is not None:
            get_strategy(value)  # raises ValueError naming the choices
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else known_zone(value)

    @field_validator("allowed_instance_types", "denied_instance_types")
    @classmethod
    def _type_patterns(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if value is None else instance_type_patterns(value)

    @model_validator(mode="after")
    def _steps(self) -> Rules:
        if self.min_step_minutes and self.max_step_minutes and self.min_step_minutes > self.max_step_minutes:
            raise ValueError("min_step_minutes must not exceed max_step_minutes")
        return self


# The rules that are a team's figure, set under `defaults` or `teams.<team>` only (`PoolRules` refuses
# them under a selector or an owner), and why: a budget is the team's idle cost, on its ledger whichever
# pools idled (a selector's held its pools alone to the whole team's spending, an owner's lifted the
# team's own budget for the owner's pools while they went on spending it, and `pools costs` showed the
# team's budget, not the one that decided); the limit counts all the team's warm instances (an owner's 10
# let the owner's pools go past the team's 6 while the team's other pools counted).
_TEAM_FIGURES = {
    "budget": (
        "a budget is a team's: its idle cost per day and month, counted on the team's ledger whichever of "
        "its pools idled. Here it would hold only these pools to the whole team's spending, and lift the "
        "team's own budget for them. Set it under teams.<team> (or defaults, for every team); to spend "
        "less on these pools, give them a shorter max_horizon_minutes here."
    ),
    "max_warm_instances": (
        "max_warm_instances is a team's limit: it counts all the team's warm instances, whichever pools "
        "they are. Here it would hold only these pools to the whole team's count, or let them go past the "
        "team's own limit. Set it under teams.<team> (or defaults, for every team); to cap one instance "
        "type account-wide, use the top-level instance_type_limits."
    ),
}
TEAM_RULES = tuple(_TEAM_FIGURES)


class PoolRules(Rules):
    """A selector's or an owner's rules: they apply to some of a team's pools, so they set no figure of the
    whole team's, such as its budget or its limit of warm instances."""

    budget: None = Field(
        default=None, description="not here: a budget is a team's, set under defaults or teams.<team>"
    )
    max_warm_instances: None = Field(
        default=None,
        description="not here: the limit is a team's, set under defaults or teams.<team>",
    )

    @field_validator(*TEAM_RULES, mode="before")
    @classmethod
    def _team_figure(cls, value: Any, info: ValidationInfo) -> Any:
        """A team's figure is refused, naming where it goes (`_TEAM_FIGURES`)."""
        if value is not None:
            raise ValueError(_TEAM_FIGURES[str(info.field_name)])
        return value


DEFAULT_RULES = Rules(
    keep_alive_strategy="job",
    max_horizon_minutes=24 * 60,
    min_step_minutes=1,
    max_step_minutes=60,
    allowed_instance_types=("*",),
    denied_instance_types=(),
    max_warm_instances=None,
    on_limit="refuse",
    working_hours=None,
    timezone=None,
    budget=None,
    people_cost_per_hour=0.0,
    cold_start_seconds=150.0,
    warm_start_seconds=20.0,
    release_on_failure=False,
    overrides=Overrides(),
)


class SelectorMatch(_Strict):
    instance_types: tuple[str, ...] = Field(default=(), description="glob patterns; any may match")
    job_name_prefixes: tuple[str, ...] = Field(default=(), description="any may match")

    @field_validator("instance_types")
    @classmethod
    def _type_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return instance_type_patterns(value)

    @field_validator("job_name_prefixes")
    @classmethod
    def _prefixes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """A prefix left empty matches every job: the selector's rules became every pool's."""
        if "" in value:
            raise ValueError(
                "an empty prefix ('') matches every job: write the start of the names to match "
                "(e.g. nightly-), or match every pool under defaults instead."
            )
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> SelectorMatch:
        """A selector matches on either list (any entry of either). One left empty beside the other adds
        nothing (the deployed document writes it so: `job_name_prefixes: []`); both empty, it would
        match no pool: refused, naming the list written empty, else the two to choose from."""
        if self.instance_types or self.job_name_prefixes:
            return self
        written = [
            f"{name}: []" for name in ("instance_types", "job_name_prefixes") if name in self.model_fields_set
        ]
        if written:
            raise ValueError(
                f"{' and '.join(written)} matches no pool: list the prefixes to match "
                "(job_name_prefixes: [nightly-]) or the instance types (instance_types: ['ml.g5.*'])."
            )
        raise ValueError("a selector must match on instance_types or job_name_prefixes")


class Selector(_Strict):
    name: Name
    match: SelectorMatch
    rules: PoolRules


class TagNames(_Strict):
    team: Name = "team"
    owner: Name = "owner"
    exempt_until: Name = "warmpool:exempt-until"
    exempt_reason: Name = "warmpool:exempt-reason"


class TeamNotifications(_Strict):
    admins: tuple[Name, ...] = ()
    slack_webhook_key: Name | None = Field(
        default=None, description="a key of the webhooks secret, not a URL"
    )

    @field_validator("slack_webhook_key")
    @classmethod
    def _not_a_url(cls, value: str | None) -> str | None:
        if value and value.startswith("http"):
            raise ValueError(
                "put the webhook URL in the Slack webhooks secret and its key here, never the URL"
            )
        return value


class Digest(_Strict):
    enabled: bool = False
    hour: int = Field(default=9, ge=0, le=23)


_WHERE_THE_ID_IS = (
    "the member id Slack shows in the person's profile (more, then Copy member ID), e.g. U0123ABCD"
)


class Notifications(_Strict):
    expiring_soon_minutes: int = Field(default=15, ge=1, le=60)
    platform_admins: tuple[str, ...] = ()
    platform_webhook_key: Name = "platform"
    slack_users: dict[Name, str] = Field(default_factory=dict, description="owner tag value -> Slack user id")
    teams: dict[Name, TeamNotifications] = Field(default_factory=dict)
    digest: Digest = Field(default_factory=Digest)

    @field_validator("slack_users")
    @classmethod
    def _slack_user_ids(cls, value: dict[str, str]) -> dict[str, str]:
        """An id, not a name or a handle: `@alice` mentioned nobody (`<@@alice>`), and a press by alice
        matched no owner, so she could not press her own pool's buttons."""
        for owner, user_id in value.items():
            if not SLACK_USER_ID.fullmatch(user_id):
                raise ValueError(f"{owner}: {user_id!r} is not a Slack user id; give {_WHERE_THE_ID_IS}")
        return value

    @field_validator("platform_admins")
    @classmethod
    def _admin_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Platform admins are matched by the Slack user id of the person pressing (and mentioned by it)."""
        for user_id in value:
            if not SLACK_USER_ID.fullmatch(user_id):
                raise ValueError(f"{user_id!r} is not a Slack user id; give {_WHERE_THE_ID_IS}")
        return value


class PolicyDocument(_Strict):
    version: Literal[1] = 1
    dry_run: bool = False
    default_team: Name = "platform"
    tags: TagNames = Field(default_factory=TagNames)
    max_reductions_per_run: int = Field(default=25, ge=0, description="pools one run may shorten or release")
    instance_type_limits: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, description="max warm instances per type"
    )
    prices: dict[str, float] = Field(default_factory=dict, description="USD per instance-hour overrides")
    warm_pool_quotas: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict,
        description="the account's SageMaker warm-pool quota per instance type, in instances (Service "
        'Quotas: "<type> for training warm pool usage"): the platform admins are warned near it',
    )
    quota_warning_at: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="the share of a warm_pool_quotas entry at which the platform admins are warned",
    )
    defaults: Rules = Field(default_factory=Rules)
    teams: dict[Name, Rules] = Field(default_factory=dict)
    owners: dict[Name, PoolRules] = Field(default_factory=dict)
    selectors: tuple[Selector, ...] = ()
    notifications: Notifications = Field(default_factory=Notifications)
    # Resolved rules per (team, owner, selectors): the simulator decides ~10^5 times per trace.
    _resolution_cache: dict[Any, Any] = PrivateAttr(default_factory=dict)
    # The policy parameter's version this document is (`deployed_as`); None: not read from it (a file,
    # the built-in policy).
    _deployed_version: int | None = PrivateAttr(default=None)

    def deployed_as(self, version: int | None) -> Self:
        """This document, as version `version` of the policy parameter: the version the audit trail
        names for each decision it made (`deployed_version`)."""
        self._deployed_version = version
        return self

    @property
    def deployed_version(self) -> int | None:
        """The policy parameter's version this document was read as; None when it was not read from
        the parameter (a policy file, the built-in policy while no version of the parameter is valid)."""
        return self._deployed_version

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with its own resolutions: pydantic's copy would share the cache dict, and a copy with
        other rules (the simulator's copy per strategy) would be decided by the original's."""
        copied = super().model_copy(update=update, deep=deep)
        copied._resolution_cache = {}
        return copied

    @property
    def all_rules(self) -> list[Rules]:
        """The rules of every scope: the defaults, each team's, owner's and selector's."""
        return [
            self.defaults,
            *self.teams.values(),
            *self.owners.values(),
            *(s.rules for s in self.selectors),
        ]

    @property
    def uses_budgets(self) -> bool:
        """Whether any rule anywhere sets a budget (the engine reads the idle-cost ledger only then)."""
        return any(r.budget is not None for r in self.all_rules)

    @property
    def uses_limits(self) -> bool:
        """Whether a warm-instance limit (per team or per instance type) is set anywhere."""
        return bool(self.instance_type_limits) or any(
            r.max_warm_instances is not None for r in self.all_rules
        )

    def deployed_json(self) -> str:
        """The document as the stack deploys it to its SSM parameter: every default written out, so it
        is larger than the YAML it was read from."""
        return self.model_dump_json(exclude_none=True)

    def too_large_to_deploy(self) -> str | None:
        """Why the stack cannot deploy the document (SSM keeps at most 8 KiB in a parameter, counted in
        bytes: names like jürgen take two a letter), as `<file>: ...` with the fix; None when it can."""
        size = len(self.deployed_json().encode())
        if size <= ADVANCED_PARAMETER_BYTES:
            return None
        return (
            f"<file>: is {size} bytes as the JSON deployed to SSM, which keeps at most "
            f"{ADVANCED_PARAMETER_BYTES} in a parameter. Shorten it (what repeats the defaults, people "
            "listed twice)."
        )

    def advice(self) -> list[str]:
        """What is valid but does not do what it seems to: said by `policy validate`, not refused.
        An `instance_type_limits` entry above the quota stated for its type never holds (SageMaker gives
        no warm pool past its quota first). A document past a standard SSM parameter's 4 KiB is deployed
        as an advanced one, which SSM charges for, and which a parameter put by hand (the runbooks) must
        ask for."""
        said: list[str] = []
        size = len(self.deployed_json().encode())
        if size > STANDARD_PARAMETER_BYTES:
            said.append(
                f"<file>: is {size} bytes as the JSON deployed to SSM, more than a standard parameter's "
                f"{STANDARD_PARAMETER_BYTES}: the stack deploys it as an advanced parameter, which SSM "
                "charges for by the month (put by hand: --tier Advanced). Shorten it to stay standard."
            )
        for kind, limit in sorted(self.instance_type_limits.items()):
            quota = self.warm_pool_quotas.get(kind)
            if quota is not None and limit > quota:
                said.append(
                    f"instance_type_limits.{kind} ({limit}) is above warm_pool_quotas.{kind} ({quota}): "
                    f"SageMaker's quota stops new warm pools first, so the limit never holds. Lower it to "
                    f"{quota} or less, or raise the quota's entry if the account's quota is higher."
                )
        said += self._denied_allowances()
        said += self._blocks_left_out()
        first: dict[str, int] = {}
        for index, selector in enumerate(self.selectors):
            seen = first.setdefault(selector.name, index)
            if seen != index:  # a selector copied and not renamed: both apply, told apart by position
                said.append(
                    f"selectors.{index}.name: {selector.name} names selectors.{seen} too, and the decisions' "
                    f"rules and explain tell them apart only by position (selectors[{seen}:{selector.name}], "
                    f"selectors[{index}:{selector.name}]). Give each its own name."
                )
        return said + self._notification_advice()

    def _scopes_below_defaults(self) -> list[tuple[str, Rules]]:
        """Each team's, selector's and owner's rules, by the path a problem names them by."""
        return [
            *((f"teams.{name}", rules) for name, rules in self.teams.items()),
            *((f"selectors.{i}.rules", s.rules) for i, s in enumerate(self.selectors)),
            *((f"owners.{name}", rules) for name, rules in self.owners.items()),
        ]

    def _denied_allowances(self) -> list[str]:
        """An allowed instance type that a deny in force for the same pools matches: each field resolves
        on its own and a deny wins, so `teams.research.allowed_instance_types: [ml.p5.*]` under the
        defaults' `denied_instance_types: [ml.p5.*]` released research's p5 pools, as if never allowed.
        The deny in force: the scope's own, else the defaults' (a team's, for a selector or an owner,
        depends on the pool's team)."""
        from fnmatch import fnmatchcase

        said = []
        for path, rules in [("defaults", self.defaults), *self._scopes_below_defaults()]:
            denied, where = rules.denied_instance_types, path
            if denied is None:
                denied, where = self.defaults.denied_instance_types, "defaults"
            for allowed in rules.allowed_instance_types or ():
                deny = next((d for d in denied or () if fnmatchcase(allowed, d)), None)
                if deny is not None:
                    said.append(
                        f"{path}.allowed_instance_types: {allowed} is matched by {deny} of "
                        f"{where}.denied_instance_types, which applies to the same pools: a deny wins, and "
                        f"they are released. To allow them here, set {path}.denied_instance_types without "
                        f"{deny} (e.g. [])."
                    )
        return said

    def _blocks_left_out(self) -> list[str]:
        """A block (`working_hours`, `budget`, `overrides`) that leaves out a key the block it replaces
        sets: the block is one field, so the key takes the block's own default, not the less specific
        scope's value. A team lead who gave research working hours in its own time zone dropped the
        defaults' holidays without a word (its pools kept on Christmas as on any working day); a team's
        monthly budget dropped the defaults' daily one; an owner allowed outside working hours got the
        block's own 120 minutes per extension, not the defaults' 60. Said once per block, naming each key
        whose value that changes (a `shorten_to_minutes` under `outside: release` changes nothing; a key
        written as the block's own default, `holidays: []`, says it is meant), against the defaults' block
        only: a selector's or an owner's replaces a team's too, but which depends on the pool's team, and
        a line per team would drown the one that matters."""
        said = []
        for path, rules in self._scopes_below_defaults():
            for block in ("working_hours", "budget", "overrides"):
                own: BaseModel | None = getattr(rules, block)
                replaced: BaseModel | None = getattr(self.defaults, block)
                if own is None or replaced is None:
                    continue
                left_out = [
                    key
                    for key in type(own).model_fields
                    if key not in own.model_fields_set
                    and getattr(own, key) != getattr(replaced, key)
                    and not (key == "shorten_to_minutes" and getattr(own, "outside", None) == "release")
                ]
                if not left_out:
                    continue
                theirs = ", ".join(f"{key}: {_yaml(getattr(replaced, key))}" for key in left_out)
                defaults = ", ".join(f"{key}: {_yaml(getattr(own, key))}" for key in left_out)
                one = len(left_out) == 1
                names = left_out[0] if one else f"{', '.join(left_out[:-1])} and {left_out[-1]}"
                said.append(
                    f"{path}.{block}: leaves out {names}, so {'it takes' if one else 'they take'} the "
                    f"block's own {'default' if one else 'defaults'} ({defaults}), not "
                    f"{'that' if one else 'those'} of defaults.{block} ({theirs}), which it replaces whole. "
                    f"Repeat {'it' if one else 'them'} here to keep {'it' if one else 'them'}, or write "
                    f"{defaults} if that is meant."
                )
        return said

    def _notification_advice(self) -> list[str]:
        """A team's admin the policy gives no Slack user id (listed by an owner name that
        `notifications.slack_users` does not map, or by a handle) can never press the team's buttons as
        its admin: a press is matched by the presser's id. A `notifications.teams` entry spelt unlike
        the team it meant (`visoin`) leaves that team's admins and channel unset: its messages go to the
        platform admins. Both were valid without a word."""
        settings = self.notifications
        said: list[str] = []
        named = sorted({*self.teams, self.default_team})
        for team, team_settings in settings.teams.items():
            unset = [name for name in named if name not in settings.teams]  # the teams it may have meant
            near = difflib.get_close_matches(team, unset, n=1, cutoff=0.75)
            if team not in named and near:
                said.append(
                    f"notifications.teams.{team}: no team of the policy is named {team}; did you mean "
                    f"{near[0]}? Team {near[0]}'s messages go to the platform admins, and its admins listed "
                    "here may not press its buttons. Rename the entry (a team known only by its job tag "
                    "may ignore this)."
                )
            for admin in team_settings.admins:
                if SLACK_USER_ID.fullmatch(admin) or admin in settings.slack_users:
                    continue
                who = admin.lstrip("@") or admin  # a handle, @bob: bob, as an owner would be named
                said.append(
                    f"notifications.teams.{team}.admins: {admin} is neither a Slack user id nor an owner in "
                    f"notifications.slack_users, so they can never press team {team}'s buttons as its "
                    f"admin. Map {who} to their member id in notifications.slack_users ({who}: U0123ABCD) "
                    f"and list {who} here, or list the member id."
                )
        return said

    @model_validator(mode="after")
    def _steps_across_scopes(self) -> PolicyDocument:
        """min_step_minutes above max_step_minutes where both apply (e.g. the defaults' minimum and a
        team's maximum): every extension would be skipped. Checked for every scope a pool can combine
        (the defaults, one team, any selectors, one owner): two scopes decide the two values."""
        conflicts = _step_conflicts(self)
        if conflicts:
            raise PydanticCustomError("step_conflict", "\n".join(conflicts))
        return self

    @field_validator("warm_pool_quotas", "instance_type_limits", "prices")
    @classmethod
    def _instance_types(cls, value: dict[str, Any]) -> dict[str, Any]:
        """A type written without SageMaker's `ml.` prefix (`g5.2xlarge`) would never match a pool: its
        limit would never hold, its price never apply, its warning never come. Refused, with the name
        to write."""
        _no_spaces_around(value)
        bad = [k for k in value if not k.startswith("ml.")]
        if bad:
            raise ValueError(
                f"{', '.join(bad)} is not a SageMaker instance type; write it as SageMaker and Service "
                f"Quotas name it, e.g. ml.{bad[0]}: {value[bad[0]]}."
            )
        return value

    @field_validator("quota_warning_at", mode="before")
    @classmethod
    def _share(cls, value: Any) -> Any:
        """A share, not a percentage: `80` or `"80%"` would read as 80 times the quota (never warned)."""
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not 0 < value <= 1:
            shown = repr(value) if not number else value
            raise ValueError(
                f"must be a share of the quota above 0 and at most 1, got {shown}. Write it as a "
                "fraction, e.g. quota_warning_at: 0.8 to be warned at 80 % of the quota."
            )
        return value

    @field_validator("prices")
    @classmethod
    def _positive_prices(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k, v in value.items() if v < 0]
        if bad:
            raise ValueError(f"prices must be >= 0 USD per instance-hour (see {', '.join(bad)})")
        huge = [k for k, v in value.items() if v > MAX_USD_PER_HOUR]
        if huge:
            raise ValueError(
                f"prices must be at most {MAX_USD_PER_HOUR:,.0f} USD per instance-hour, not in cents or per "
                f"year (see {', '.join(huge)})"
            )
        return value


def _yaml(value: Any) -> str:
    """A value of a rule as a policy file writes it in a flow mapping: `end: "20:00"` (a time quoted, as
    YAML would read it as a number), `holidays: [2026-12-24]`, `daily_usd: 40`, `daily_usd: null`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple | list):
        return f"[{', '.join(_yaml(item) for item in value)}]"
    if isinstance(value, str) and ":" in value:
        return f'"{value}"'
    return str(value)


def _step_conflicts(policy: PolicyDocument) -> list[str]:
    """`<path>.max_step_minutes (N) is below <path>.min_step_minutes (M) ...` for each pair of scopes that
    resolve to a minimum step above the maximum. The value in force is the most specific scope's that
    sets it, so a conflict always shows with the defaults and at most two other scopes."""
    # (precedence, path, kind): kind keeps two teams (two owners) from ever applying to one pool
    scopes: list[tuple[int, str, str, Rules]] = [
        *((1, f"teams.{name}", "team", rules) for name, rules in policy.teams.items()),
        *((2 + i, f"selectors.{i}.rules", f"selector{i}", s.rules) for i, s in enumerate(policy.selectors)),
        *((2 + len(policy.selectors), f"owners.{n}", "owner", r) for n, r in policy.owners.items()),
    ]
    base = [(-1, "builtin", "builtin", DEFAULT_RULES), (0, "defaults", "defaults", policy.defaults)]
    chains = [base]
    for i, a in enumerate(scopes):
        chains.append([*base, a])
        chains += [sorted([*base, a, b], key=lambda s: s[0]) for b in scopes[i + 1 :] if a[2] != b[2]]
    found: dict[tuple[str, str], str] = {}
    for chain in chains:
        low = next((s, s[3].min_step_minutes) for s in reversed(chain) if s[3].min_step_minutes is not None)
        high = next((s, s[3].max_step_minutes) for s in reversed(chain) if s[3].max_step_minutes is not None)
        (low_scope, low_value), (high_scope, high_value) = low, high
        if low_value is not None and high_value is not None and low_value > high_value:
            key = (low_scope[1], high_scope[1])
            found.setdefault(
                key,
                f"{high_scope[1]}.max_step_minutes ({high_value}) is below {low_scope[1]}.min_step_minutes "
                f"({low_value}) for the pools both apply to: every extension would be skipped. Lower "
                f"{low_scope[1]}.min_step_minutes or raise {high_scope[1]}.max_step_minutes",
            )
    return list(found.values())
