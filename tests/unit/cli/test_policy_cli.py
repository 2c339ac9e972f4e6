import json
import re
from pathlib import Path
from typing import Any

import pytest
from warmpool.cli.main import main
from warmpool.domain.policy.document import Rules

ROOT = Path(__file__).resolve().parents[3]
EVENT = ROOT / "examples" / "training-job-completed.json"


def test_validate_accepts_the_example_and_lists_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["policy", "validate", str(ROOT / "policies" / "example.yaml")]) == 0
    assert "valid" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ndefaults:\n  max_step_minutes: 90\n  on_limit: panic\n")
    assert main(["policy", "validate", str(bad), "--format", "json"]) == 1
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert [p.split(":")[0] for p in problems] == ["defaults.max_step_minutes", "defaults.on_limit"]


def test_validate_names_a_region_given_as_a_time_zone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    region = tmp_path / "region.yaml"  # "America" is a directory of the zone database, not a zone
    region.write_text("version: 1\ndefaults:\n  working_hours: {timezone: America}\n")
    assert main(["policy", "validate", str(region)]) == 1
    assert "defaults.working_hours.timezone: unknown time zone 'America'; use an IANA name" in (
        capsys.readouterr().err
    )


def test_validate_refuses_what_yaml_or_the_scopes_would_lose_without_a_word(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def problems(text: str) -> list[str]:
        path = tmp_path / "policy.yaml"
        path.write_text(text)
        assert main(["policy", "validate", str(path), "--format", "json"]) == 1
        found: list[str] = json.loads(capsys.readouterr().out)["problems"]
        return found

    # the second `vision` would replace the first: its limit of 2 warm instances would be lost
    duplicate = "version: 1\nteams:\n  vision: {max_warm_instances: 2}\n  vision: {budget: {daily_usd: 40}}\n"
    assert problems(duplicate) == [
        "line 4: duplicate key `vision` (first on line 3): YAML keeps only the last, and the first would be "
        "dropped without a word. Merge the two into one."
    ]
    # a 30-minute minimum step for everyone and a 10-minute maximum for vision: vision never extends
    steps = (
        "version: 1\ndefaults: {min_step_minutes: 30}\nteams: {vision: {max_step_minutes: 10}}\n"
        "owners: {bob: {min_step_minutes: 5}}\n"
    )
    assert problems(steps) == [
        "teams.vision.max_step_minutes (10) is below defaults.min_step_minutes (30) for the pools both apply "
        "to: every extension would be skipped. Lower defaults.min_step_minutes or raise "
        "teams.vision.max_step_minutes."
    ]
    assert [
        p.split(":")[0] for p in problems("version: 1\ninstance_type_limits: {ml.p4d.24xlarge: -1}\n")
    ] == ["instance_type_limits.ml.p4d.24xlarge"]


def test_explain_offline_from_an_event(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "policy",
                "explain",
                "--policy",
                str(ROOT / "policies" / "example.yaml"),
                "--event",
                str(EVENT),
                "--format",
                "json",
                "--now",
                "2026-03-02T10:05:01Z",
            ]
        )
        == 0
    )
    decision = json.loads(capsys.readouterr().out)
    for key in ("action", "keep_alive_seconds", "horizon_seconds", "next_check_at", "rule", "reasons"):
        assert key in decision
    assert decision["team"] == "vision"
    assert decision["scopes"] == ["builtin", "defaults", "teams.vision"]
    assert decision["resolved"]["budget"]["source"] == "teams.vision"
    # the team's clock, unset, comes from the working hours it inherits
    assert decision["resolved"]["timezone"] == {"value": "Europe/Berlin", "source": "defaults.working_hours"}
    assert decision["keep_alive_seconds"] <= 3600


def test_explain_says_the_next_check_as_the_reasons_say_a_moment(capsys: pytest.CaptureFixture[str]) -> None:
    # it printed "next check 2026-03-02 11:00:01+00:00", neither ISO nor the reasons' 2026-03-02 09:25:00 UTC
    example = str(ROOT / "policies" / "example.yaml")
    assert main(["policy", "explain", "--policy", example, "--event", str(EVENT)]) == 0
    assert ", next check 2026-03-02 11:00:01 UTC\n" in capsys.readouterr().out


def test_explain_shows_every_field_also_those_no_scope_sets(capsys: pytest.CaptureFixture[str]) -> None:
    # docs/policy.md: "the resolved value of every field with its source"; a budget, a limit or working
    # hours no scope set were left out, as if explain had forgotten them
    assert main(["policy", "explain", "--event", str(EVENT), "--format", "json"]) == 0
    resolved = json.loads(capsys.readouterr().out)["resolved"]
    assert sorted(resolved) == sorted(Rules.model_fields)
    for name in ("budget", "max_warm_instances", "working_hours"):
        assert resolved[name] == {"value": None, "source": "builtin"}
    assert main(["policy", "explain", "--event", str(EVENT)]) == 0
    assert "  max_warm_instances       null " in capsys.readouterr().out


def test_explain_says_the_overrides_shown_are_for_a_request_by_the_owner(
    capsys: pytest.CaptureFixture[str],
) -> None:
    example = str(ROOT / "policies" / "example.yaml")
    assert main(["policy", "explain", "--policy", example, "--event", str(EVENT)]) == 0
    assert (
        "from defaults, for a request by the owner alice (another person's request gets their own "
        "owners.<name>)" in capsys.readouterr().out
    )
    assert main(["policy", "explain", "--policy", example, "--event", str(EVENT), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["resolved"]["overrides"]["for_request_by"] == "alice"


def test_explain_without_policy_keeps_the_jobs_own_keep_alive(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "explain", "--event", str(EVENT), "--format", "json"]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert (decision["action"], decision["horizon_seconds"]) == ("keep", 1800)
    assert decision["resolved"]["timezone"] == {"value": "UTC", "source": "builtin"}


def test_explain_names_the_teams_clock_and_where_it_comes_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\ndefaults:\n  keep_alive_strategy: adaptive\n"
        "teams:\n  vision:\n    timezone: America/Los_Angeles\n"
    )
    assert main(["policy", "explain", "--policy", str(policy), "--event", str(EVENT)]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["timezone", '"America/Los_Angeles"', "from", "teams.vision"] in lines


def test_explain_rejects_a_bad_event_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event = json.loads(EVENT.read_text())
    event["detail"]["TrainingJobStatus"] = "Sleeping"
    path = tmp_path / "e.json"
    path.write_text(json.dumps(event))
    with pytest.raises(SystemExit):
        main(["policy", "explain", "--event", str(path)])
    err = capsys.readouterr().err
    assert "detail.TrainingJobStatus: Input should be 'InProgress'" in err
    assert err.count("detail.TrainingJobStatus") == 1  # named once, not "field: field: ..."


def test_explain_against_an_unreachable_endpoint_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    code = main(
        ["policy", "explain", "--job", "j", "--endpoint-url", "http://127.0.0.1:9", "--region", "us-east-1"]
    )
    assert code == 2
    assert "cannot reach" in capsys.readouterr().err


def test_explain_applies_the_deployments_limits_from_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the stack may update only jobs tagged warmpool-managed (UPDATE_REQUIRES_TAG, a stack output the
    # functions apply): explain applied no deployment limit, and said the engine would extend the pool
    monkeypatch.setenv("UPDATE_REQUIRES_TAG", "warmpool-managed")
    assert main(["policy", "explain", "--event", str(EVENT), "--format", "json"]) == 0
    explained = json.loads(capsys.readouterr().out)
    assert (explained["action"], explained["rule"]) == ("keep", "engine.update_requires_tag")
    assert explained["limits"]["update_requires_tag"] == "warmpool-managed"


def test_explain_of_another_stacks_job_says_this_deployment_leaves_it_alone(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the stack manages only the jobs named team-a-... (JOB_NAME_PREFIXES, a stack output): explain said
    # the engine would decide the event's job, which the functions never hear of
    monkeypatch.setenv("JOB_NAME_PREFIXES", "team-a-,nightly-")
    assert main(["policy", "explain", "--event", str(EVENT), "--format", "json"]) == 0
    explained = json.loads(capsys.readouterr().out)
    assert (explained["action"], explained["rule"]) == ("keep", "engine.job_name_prefixes")
    assert explained["limits"]["job_name_prefixes"] == ["team-a-", "nightly-"]


@pytest.mark.parametrize(
    ("variables", "said"),
    [
        (
            {"JOB_NAME_PREFIXES": "team-a-,"},
            "JOB_NAME_PREFIXES: Value error, name the start of the jobs' names",
        ),
        ({"MAX_STEP_SECONDS": "7200"}, "MAX_STEP_SECONDS: Input should be less than or equal to 3600"),
        (
            {"MAX_LIFETIME_SECONDS": str(40 * 86400)},
            "MAX_LIFETIME_SECONDS: Value error, 3456000 seconds is outside 3600 (one hour) to 2419200 "
            "(28 days, the most SageMaker keeps a warm pool): set it within them",
        ),
        (
            {"MAX_LIFETIME_SECONDS": "60"},
            "MAX_LIFETIME_SECONDS: Value error, 60 seconds is outside 3600 (one hour) to 2419200",
        ),
        (
            {"MAX_STEP_SECONDS": "600", "STEP_MARGIN_SECONDS": "600"},
            "step_margin_seconds must be within 0..max_step_seconds-1, got 600",
        ),
    ],
    ids=[
        "empty-prefix",
        "out-of-range",
        "lifetime-past-28-days",
        "lifetime-under-an-hour",
        "margin-as-long-as-the-step",
    ],
)
def test_explain_refuses_deployment_limits_the_functions_would_refuse(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    said: str,
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        main(["policy", "explain", "--event", str(EVENT)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"warmpool: the deployment's limits in the environment: {said}")
    assert err.endswith("set them as the stack's outputs say (docs/cli.md), or unset them for the defaults\n")


def test_explain_refuses_a_table_with_an_event(capsys: pytest.CaptureFixture[str]) -> None:
    # the registry holds the record of a job named by --job: read for nothing, it looked as if applied
    assert main(["policy", "explain", "--event", str(EVENT), "--table", "warmpool-pools"]) == 2
    assert capsys.readouterr().err == (
        "warmpool: --table is read with --job only (the engine's record of the job's pool): drop it\n"
    )


def _validate(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> list[str]:
    """The problems `policy validate --format json` lists for a policy file holding `text`."""
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    assert main(["policy", "validate", str(path), "--format", "json"]) == 1
    found: list[str] = json.loads(capsys.readouterr().out)["problems"]
    return found


def test_validate_names_a_date_that_does_not_exist_by_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # YAML reads 2026-13-01 as a date and fails on month 13: that was a traceback
    text = (
        "version: 1\ndefaults:\n  working_hours:\n    timezone: UTC\n    holidays: [2026-12-24, 2026-13-01]\n"
    )
    assert _validate(tmp_path, capsys, text) == [
        "line 5, column 28: 2026-13-01 is not a date (month must be in 1..12). Write the date as YYYY-MM-DD."
    ]


def test_validate_explains_an_unquoted_time_that_yaml_reads_as_a_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # YAML 1.1 reads an unquoted 18:00 as 1080 (base 60); 08:00 stays a string, so only `end` was refused,
    # as "Input should be a valid string"
    text = "version: 1\ndefaults:\n  working_hours: {timezone: UTC, start: 08:00, end: 18:00}\n"
    assert _validate(tmp_path, capsys, text) == [
        'defaults.working_hours.end: YAML reads an unquoted 18:00 as the number 1080. Quote it: "18:00".'
    ]


def test_validate_does_not_call_an_hour_written_as_a_number_an_unquoted_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `start: 9` and `end: 1800` are not what YAML makes of an unquoted H:MM (60 to 1440, 1:00 to
    # 24:00): they were told "an unquoted 0:09" and "30:00", and to quote those
    text = "version: 1\ndefaults:\n  working_hours: {timezone: UTC, start: 9, end: 1800}\n"
    assert _validate(tmp_path, capsys, text) == [
        'defaults.working_hours.start: must be a time, "HH:MM" in quotes, got the number 9. '
        'Write e.g. start: "09:00".',
        'defaults.working_hours.end: must be a time, "HH:MM" in quotes, got the number 1800. '
        'Write e.g. end: "18:00".',
    ]


def test_validate_suggests_the_key_a_typo_meant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (
        "version: 1\nteam: {vision: {}}\ndefaults: {keepalive_strategy: adaptive}\n"
        "selectors:\n  - {name: big, match: {instance_type: ['ml.p4*']}, rules: {}}\n"
        "owners: {bob: {colour: blue}}\n"
    )
    problems = _validate(tmp_path, capsys, text)
    fix = "Remove it or check its spelling against schemas/policy.schema.json."
    assert [problems[0], *problems[2:]] == [
        f"defaults.keepalive_strategy: unknown key; did you mean `keep_alive_strategy`? {fix}",
        f"selectors.0.match.instance_type: unknown key; did you mean `instance_types`? {fix}",
        f"team: unknown key; did you mean `teams`? {fix}",
    ]
    # nothing near: the keys allowed there, listed once per mapping
    assert problems[1].startswith("owners.bob.colour: unknown key; the keys here: keep_alive_strategy, ")
    event = _validate(tmp_path, capsys, (ROOT / "examples" / "training-job-completed.json").read_text())
    assert event[1].startswith("id: unknown key; the keys here: version, dry_run, ")
    assert event[2:4] == [
        f"detail-type: unknown key (the keys allowed here are listed above). {fix}",
        f"source: unknown key (the keys allowed here are listed above). {fix}",
    ]


def test_validate_says_what_to_write_for_a_value_of_the_wrong_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "version: 1\nteams:\n  vision:\n  nlp: {budget: 40, people_cost_per_hour: 80 USD, "
        "release_on_failure: maybe}\n"
        "defaults:\n  working_hours: {timezone: UTC, days: mon-fri, holidays: [xmas]}\n"
        "  timezone: Europe/Berln\n"
    )
    assert _validate(tmp_path, capsys, text) == [
        "defaults.working_hours.days: must be a list, got 'mon-fri'. Write it as [a, b] or as one `- a` line "
        "each.",
        "defaults.working_hours.holidays.0: must be a date, got 'xmas'. Write the date as YYYY-MM-DD.",
        "defaults.timezone: unknown time zone 'Europe/Berln'; did you mean Europe/Berlin? Write the IANA "
        "name.",
        "teams.vision: must be a mapping, got nothing. Write its keys indented under it, or {} for none.",
        "teams.nlp.budget: must be a mapping, got 40. Write its keys indented under it, or {} for none.",
        "teams.nlp.people_cost_per_hour: must be a number, got '80 USD'. Write the number alone, e.g. 80 "
        "(no quotes, units or currency signs).",
        "teams.nlp.release_on_failure: must be true or false, got 'maybe'. Use true or false.",
    ]


def test_validate_names_a_yaml_syntax_error_by_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _validate(tmp_path, capsys, "version: 1\ndefaults:\n\tmax_step_minutes: 5\n") == [
        "line 3, column 1: found character '\\t' that cannot start any token. Indent with spaces, not tabs."
    ]
    assert _validate(tmp_path, capsys, "version: 1\ndefaults: [\n") == [
        "line 3, column 1: expected the node content, but found '<stream end>'. Fix the syntax."
    ]
    assert _validate(tmp_path, capsys, "") == [
        "<root>: the document is empty. Start it with `version: 1`.",
    ]
    # "but found another document", and "mapping values are not allowed here" with "Fix the syntax."
    assert _validate(tmp_path, capsys, "version: 1\n---\nversion: 1\n") == [
        "line 2, column 1: expected a single document in the stream, but found another document. A policy is "
        "one document: remove the `---` line and what follows, or merge the two."
    ]
    assert _validate(tmp_path, capsys, "version: 1\n  defaults: {}\n") == [
        "line 2, column 11: mapping values are not allowed here. Check the line's indentation against the "
        "line above, and quote a value holding `: `."
    ]


def test_validate_names_a_file_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "policy.yaml"  # as an editor on Windows may save it: that was a traceback
    path.write_bytes("version: 1\n".encode("utf-16"))
    assert main(["policy", "validate", str(path)]) == 1
    assert "<file>: is not UTF-8 text (byte 0xff at offset 0). Save it as UTF-8." in capsys.readouterr().err


def test_explain_names_an_event_file_that_is_not_text_or_not_from_sagemaker(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "e.json"
    binary.write_bytes(b"\x89PNG\r\n")  # a file picked by mistake: that was a traceback
    with pytest.raises(SystemExit):
        main(["policy", "explain", "--event", str(binary)])
    assert capsys.readouterr().err == (
        f"warmpool: --event: {binary} is not UTF-8 text (byte 0x89 at offset 0); it should hold the event's "
        "JSON, as EventBridge delivers it\n"
    )
    # the right detail-type without its source was "unknown event", listing that very detail-type
    event = json.loads(EVENT.read_text())
    del event["source"]
    binary.write_text(json.dumps(event))
    with pytest.raises(SystemExit):
        main(["policy", "explain", "--event", str(binary)])
    assert capsys.readouterr().err == (
        "warmpool: --event: source: a 'SageMaker Training Job State Change' event comes from source "
        "'aws.sagemaker', got None\n"
    )


def test_validate_refuses_instance_types_written_without_the_ml_prefix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `g5.2xlarge` names no pool (SageMaker says `ml.g5.2xlarge`): the limit would never hold, the
    # price never apply, and `g5.*` would allow no pool at all
    path = tmp_path / "policy.yaml"
    path.write_text(
        "version: 1\ninstance_type_limits: {g5.2xlarge: 4}\nprices: {p4d.24xlarge: 30.0}\n"
        "defaults: {allowed_instance_types: ['ml.g5.*', 'g5.*']}\n"
        "selectors:\n  - {name: big, match: {instance_types: [p4d*]}, rules: {max_horizon_minutes: 9}}\n"
    )
    assert main(["policy", "validate", str(path), "--format", "json"]) == 1
    assert sorted(json.loads(capsys.readouterr().out)["problems"]) == [
        "defaults.allowed_instance_types: g5.* matches no SageMaker instance type; SageMaker names them "
        "with the ml. prefix: write ml.g5.*.",
        "instance_type_limits: g5.2xlarge is not a SageMaker instance type; write it as SageMaker and "
        "Service Quotas name it, e.g. ml.g5.2xlarge: 4.",
        "prices: p4d.24xlarge is not a SageMaker instance type; write it as SageMaker and Service Quotas "
        "name it, e.g. ml.p4d.24xlarge: 30.0.",
        "selectors.0.match.instance_types: p4d* matches no SageMaker instance type; SageMaker names them "
        "with the ml. prefix: write ml.p4d*.",
    ]
    path.write_text("version: 1\ndefaults: {denied_instance_types: ['*', 'm*', 'ml.p4d.*', '[m]l.g5.*']}\n")
    assert main(["policy", "validate", str(path)]) == 0


def test_validate_warns_of_a_type_limit_above_the_stated_quota(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "version: 1\ninstance_type_limits: {ml.g5.2xlarge: 12, ml.p4d.24xlarge: 2}\n"
        "warm_pool_quotas: {ml.g5.2xlarge: 8, ml.p4d.24xlarge: 2}\n"
    )
    assert main(["policy", "validate", str(path)]) == 0  # valid: a warning, not a problem
    out, err = capsys.readouterr()
    assert "valid" in out
    warning = (
        "instance_type_limits.ml.g5.2xlarge (12) is above warm_pool_quotas.ml.g5.2xlarge (8): SageMaker's "
        "quota stops new warm pools first, so the limit never holds. Lower it to 8 or less, or raise the "
        "quota's entry if the account's quota is higher."
    )
    assert err.splitlines() == [f"warning: {warning}"]
    assert main(["policy", "validate", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == [warning]
    assert main(["policy", "validate", str(ROOT / "policies" / "example.yaml"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == []


def test_validate_refuses_nan_and_infinity_as_prices_budgets_and_costs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # YAML's .nan and .inf are floats: a price of .nan made every cost NaN, and `ge=0` let .inf through
    path = tmp_path / "policy.yaml"
    path.write_text(
        "version: 1\nprices: {ml.g5.2xlarge: .nan}\ndefaults: {people_cost_per_hour: .inf}\n"
        "teams: {vision: {budget: {daily_usd: .inf}}}\n"
    )
    assert main(["policy", "validate", str(path), "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["problems"] == [
        f"{field}: Input should be a finite number. Write a number (.nan and .inf are none)."
        for field in (
            "prices.ml.g5.2xlarge",
            "defaults.people_cost_per_hour",
            "teams.vision.budget.daily_usd",
        )
    ]


@pytest.mark.parametrize(
    ("key", "value", "least"),
    [("InstanceCount", "abc", 1), ("VolumeSizeInGB", 1.5, 0), ("KeepAlivePeriodInSeconds", -600, 0)],
)
def test_explain_names_a_resource_number_that_is_not_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, value: object, least: int
) -> None:
    # an InstanceCount of "abc" was int()'s traceback; a keep-alive of -600 s explained as "-0 min"
    event = json.loads(EVENT.read_text())
    event["detail"]["ResourceConfig"][key] = value
    path = tmp_path / "e.json"
    path.write_text(json.dumps(event))
    with pytest.raises(SystemExit) as exited:
        main(["policy", "explain", "--event", str(path)])
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        f"warmpool: --event: detail.ResourceConfig.{key}: must be a whole number, {least} or more, "
        f"got {json.dumps(value)}\n"
    )


def test_explain_reads_an_event_saved_with_a_byte_order_mark(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Notepad and Windows PowerShell save UTF-8 with a BOM: that was "body: not JSON (Unexpected UTF-8 BOM)"
    path = tmp_path / "e.json"
    path.write_bytes(b"\xef\xbb\xbf" + EVENT.read_bytes())
    assert main(["policy", "explain", "--event", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["job"] == "vision-exp-42"


def test_validate_refuses_yes_no_on_off_where_a_number_goes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # YAML reads `no` as false, and pydantic took false as 0: `max_reductions_per_run: no` (meant as no
    # limit) let no run shorten or release a pool; `max_warm_instances: yes` allowed one instance
    path = tmp_path / "policy.yaml"
    path.write_text(
        "version: 1\nmax_reductions_per_run: no\ninstance_type_limits: {ml.p4d.24xlarge: yes}\n"
        "defaults: {max_warm_instances: yes, release_on_failure: yes}\n"
    )
    assert main(["policy", "validate", str(path), "--format", "json"]) == 1
    why = (
        "YAML reads yes, no, on, off, true and false as true or false, and that is no number: write the "
        "number."
    )
    assert json.loads(capsys.readouterr().out)["problems"] == [
        f"max_reductions_per_run: must be a number, got false. {why}",
        f"instance_type_limits: ml.p4d.24xlarge must be a number, got true. {why}",
        f"defaults.max_warm_instances: must be a number, got true. {why}",
    ]


def test_validate_refuses_a_slack_handle_where_a_slack_user_id_goes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "@alice" mentioned nobody (<@@alice>) and matched no press, so alice could not press her own
    # pool's buttons; a platform admin named by handle was never recognised either
    path = tmp_path / "policy.yaml"
    path.write_text(
        "version: 1\nnotifications:\n  slack_users: {alice: '@alice', bob: U0BOB}\n  platform_admins: [ops]\n"
    )
    assert main(["policy", "validate", str(path), "--format", "json"]) == 1
    fix = (
        "give the member id Slack shows in the person's profile (more, then Copy member ID), e.g. "
        "U0123ABCD. See docs/policy.md"
    )
    assert json.loads(capsys.readouterr().out)["problems"] == [
        f"notifications.platform_admins: 'ops' is not a Slack user id; {fix}.",
        f"notifications.slack_users: alice: '@alice' is not a Slack user id; {fix}.",
    ]


def test_validate_refuses_a_slack_user_id_that_no_press_could_carry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a YAML block (`|`) keeps the id's line break: the policy was valid, and every press of alice's
    # (U0ALICE) was not hers, nor a mention of <@U0ALICE\n> a mention; an id past 64 characters, which a
    # press is refused for, was valid too
    path = tmp_path / "policy.yaml"
    path.write_text(
        "version: 1\nnotifications:\n  slack_users:\n    alice: |\n      U0ALICE\n"
        f"  platform_admins: [U{'0' * 64}]\n"
    )
    assert main(["policy", "validate", str(path), "--format", "json"]) == 1
    fix = (
        "give the member id Slack shows in the person's profile (more, then Copy member ID), e.g. "
        "U0123ABCD. See docs/policy.md"
    )
    assert json.loads(capsys.readouterr().out)["problems"] == [
        f"notifications.platform_admins: 'U{'0' * 64}' is not a Slack user id; {fix}.",
        f"notifications.slack_users: alice: 'U0ALICE\\n' is not a Slack user id; {fix}.",
    ]


def test_validate_refuses_a_policy_too_large_for_ssm_and_warns_of_the_advanced_tier(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # synth refused a policy past an advanced parameter's 8192 bytes, which `validate` called valid; one
    # past a standard parameter's 4096 was deployed as an advanced parameter, which SSM charges for and a
    # parameter put by hand (the runbooks) must ask for, without a word
    def validate(people: int) -> tuple[int, str, str]:
        path = tmp_path / "policy.yaml"
        users = "".join(f"    scientist-{i:03}: U0{i:08}\n" for i in range(people))
        path.write_text(f"version: 1\nnotifications:\n  slack_users:\n{users}")
        code = main(["policy", "validate", str(path)])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = validate(400)
    assert (code, out) == (1, "")
    assert re.fullmatch(
        r"invalid policy \S+:\n  - <file>: is \d+ bytes as the JSON deployed to SSM, which keeps at most "
        r"8192 in a parameter\. Shorten it \(what repeats the defaults, people listed twice\)\.\n",
        err,
    ), err
    code, out, err = validate(150)
    assert code == 0
    assert "valid" in out
    assert re.fullmatch(
        r"warning: <file>: is \d+ bytes as the JSON deployed to SSM, more than a standard parameter's 4096: "
        r"the stack deploys it as an advanced parameter, which SSM charges for by the month \(put by hand: "
        r"--tier Advanced\)\. Shorten it to stay standard\.\n",
        err,
    ), err
    assert validate(20)[2] == ""


def test_validate_reads_a_block_shared_through_a_yaml_merge_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `<<: *vision` was "could not determine a constructor for the tag 'tag:yaml.org,2002:merge'. Fix
    # the syntax.": YAML that PyYAML's own safe loader reads, refused by the check for keys given twice
    path = tmp_path / "policy.yaml"
    path.write_text(
        "version: 1\nteams:\n  vision: &vision\n    max_warm_instances: 6\n    budget: {daily_usd: 40}\n"
        "  nlp:\n    <<: *vision\n    max_warm_instances: 2\n"
    )
    assert main(["policy", "validate", str(path)]) == 0
    assert "valid (version 1; 2 teams, 0 owners, 0 selectors;" in capsys.readouterr().out
    event = json.loads(EVENT.read_text())
    event["detail"]["Tags"] = [{"Key": "team", "Value": "nlp"}, {"Key": "owner", "Value": "bob"}]
    (tmp_path / "event.json").write_text(json.dumps(event))
    explain = ["policy", "explain", "--policy", str(path), "--event", str(tmp_path / "event.json")]
    assert main([*explain, "--format", "json"]) == 0
    resolved = json.loads(capsys.readouterr().out)["resolved"]
    assert resolved["max_warm_instances"] == {"value": 2, "source": "teams.nlp"}
    assert resolved["budget"] == {"value": {"daily_usd": 40.0, "monthly_usd": None}, "source": "teams.nlp"}
    # a key given twice beside the merge is still refused
    path.write_text(
        "version: 1\nteams:\n  vision: &vision {max_warm_instances: 6}\n"
        "  nlp:\n    <<: *vision\n    max_warm_instances: 2\n    max_warm_instances: 3\n"
    )
    assert main(["policy", "validate", str(path)]) == 1
    assert "line 7: duplicate key `max_warm_instances` (first on line 6)" in capsys.readouterr().err


def test_working_days_from_midnight_to_midnight_keep_pools_warm_across_midnight(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # hours of 00:00 to 24:00, Monday to Friday: a pool idle at 23:30 on Monday was cut at 23:59:59
    # ("the working day ends at 24:00"), and that last second was outside working hours, every night
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\ndefaults:\n  keep_alive_strategy: fixed-7200\n  working_hours:\n    timezone: UTC\n"
        '    start: "00:00"\n    end: "24:00"\n    days: [mon, tue, wed, thu, fri]\n    outside: release\n'
    )
    assert main(["policy", "validate", str(policy)]) == 0
    capsys.readouterr()

    def explain(ended: str) -> dict[str, Any]:
        event = json.loads(EVENT.read_text())
        event["time"] = event["detail"]["TrainingEndTime"] = ended
        (tmp_path / "event.json").write_text(json.dumps(event))
        args = ["--policy", str(policy), "--event", str(tmp_path / "event.json"), "--format", "json"]
        assert main(["policy", "explain", *args]) == 0
        decided: dict[str, Any] = json.loads(capsys.readouterr().out)
        return decided

    monday = explain("2026-03-02T23:30:00Z")
    assert (monday["action"], monday["horizon_seconds"], monday["rule"]) == (
        "extend",
        7200,
        "defaults.keep_alive_strategy",
    )
    friday = explain("2026-03-06T23:30:00Z")  # the weekend is outside: cut at midnight
    assert (friday["horizon_seconds"], friday["rule"]) == (1800, "defaults.working_hours")
    assert "the working day ends at 24:00 UTC" in friday["reasons"]


def test_validate_says_a_working_day_does_not_start_at_24_00(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # was "defaults.working_hours: hour must be in 0..23", naming the block and not the time
    path = tmp_path / "policy.yaml"
    path.write_text('version: 1\ndefaults:\n  working_hours: {timezone: UTC, start: "24:00", end: "24:00"}\n')
    assert main(["policy", "validate", str(path), "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["problems"] == [
        'defaults.working_hours.start: 24:00 is the end of a day, not a start; a day starts at "00:00". '
        "See docs/policy.md."
    ]


def test_validate_refuses_working_hours_without_a_working_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `days: []` was valid, and every pool was released outside working hours, which was always
    path = tmp_path / "policy.yaml"
    path.write_text("version: 1\nteams:\n  vision:\n    working_hours: {timezone: UTC, days: []}\n")
    assert main(["policy", "validate", str(path)]) == 1
    assert capsys.readouterr().err.splitlines()[1:] == [
        "  - teams.vision.working_hours.days: no working day: every moment would be outside working hours, "
        "and every pool shortened or released. List the days, e.g. days: [mon, tue, wed, thu, fri], or drop "
        "working_hours."
    ]


def test_explain_with_an_invalid_policy_is_a_usage_error_naming_each_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # exit 1 here, where demo, simulate, trace export and pools exit 2 for the same file: a script
    # could not tell a bad --policy from a decision it runs on
    path = tmp_path / "policy.yaml"
    path.write_text("version: 1\ndefaults:\n  max_horizon_minute: 60\n")
    assert main(["policy", "explain", "--policy", str(path), "--event", str(EVENT)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"warmpool: invalid policy {path}:\n  - defaults.max_horizon_minute: unknown key; did you mean "
        "`max_horizon_minutes`? Remove it or check its spelling against schemas/policy.schema.json.\n"
    )


def test_validate_warns_of_team_admins_and_team_entries_no_press_or_message_reaches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a press is matched by the presser's Slack id: dave, whom slack_users does not map, and the handle
    # @carol could never act as research's admins; `visoin` left vision's channel and admins unset
    path = tmp_path / "policy.yaml"
    path.write_text(
        "version: 1\nteams: {vision: {max_warm_instances: 4}}\nnotifications:\n"
        "  slack_users: {alice: U0ALICE}\n"
        "  teams:\n    research: {admins: [alice, U0BOB, dave, '@carol']}\n"
        "    visoin: {admins: [alice], slack_webhook_key: vision}\n"
    )
    assert main(["policy", "validate", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == [
        "notifications.teams.research.admins: dave is neither a Slack user id nor an owner in "
        "notifications.slack_users, so they can never press team research's buttons as its admin. Map dave "
        "to their member id in notifications.slack_users (dave: U0123ABCD) and list dave here, or list the "
        "member id.",
        "notifications.teams.research.admins: @carol is neither a Slack user id nor an owner in "
        "notifications.slack_users, so they can never press team research's buttons as its admin. Map carol "
        "to their member id in notifications.slack_users (carol: U0123ABCD) and list carol here, or list "
        "the member id.",
        "notifications.teams.visoin: no team of the policy is named visoin; did you mean vision? Team "
        "vision's messages go to the platform admins, and its admins listed here may not press its buttons. "
        "Rename the entry (a team known only by its job tag may ignore this).",
    ]


def test_validate_says_where_a_key_written_in_the_wrong_block_goes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a budget at the top level was "unknown key; the keys here: version, dry_run, ...", as if misspelt;
    # max_extend_minutes in defaults was "did you mean `max_step_minutes`?"; a rule right under teams was
    # a team named max_warm_instances that "must be a mapping"
    text = (
        "version: 1\nbudget: {daily_usd: 40}\nslack_users: {alice: U0ALICE}\nmax_warm_instances: 8\n"
        "defaults:\n  instance_type_limits: {ml.p4d.24xlarge: 4}\n  holidays: [2026-12-24]\n"
        "  max_extend_minutes: 240\n  daily_usd: 40\n"
        "teams:\n  max_warm_instances: 6\n  vision: {admins: [alice]}\n"
    )
    assert _validate(tmp_path, capsys, text) == [
        "defaults.instance_type_limits: not a key here: `instance_type_limits` is a key of the document's "
        "top level, for every team: write it there, not indented.",
        "defaults.holidays: not a key here: `holidays` belongs in a working_hours block: write it there.",
        "defaults.max_extend_minutes: not a key here: `max_extend_minutes` belongs in an overrides block "
        "(overrides: {max_extend_minutes: 240}): write it there.",
        "defaults.daily_usd: not a key here: `daily_usd` belongs in a budget block (budget: {daily_usd: "
        "40}): write it there.",
        "teams.max_warm_instances: `max_warm_instances` is a rule, not a team's name. Write it under the "
        "team it is for (teams: {vision: {max_warm_instances: ...}}), or under defaults for everyone.",
        "teams.vision.admins: not a key here: `admins` belongs under notifications.teams.<team>: write it "
        "there.",
        "budget: not a key here: `budget` is a team's rule: write it under defaults or teams.<team>.",
        "slack_users: not a key here: `slack_users` belongs under notifications: write it there.",
        # a team's limit, refused under a selector or an owner: not told to write it there
        "max_warm_instances: not a key here: `max_warm_instances` is a team's rule: write it under "
        "defaults or teams.<team>.",
    ]


def test_validate_shows_a_holiday_written_with_a_time_as_the_file_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # it was "got datetime.datetime(2026, 12, 24, 12, 0)", Python's, not the policy's words
    text = "version: 1\ndefaults:\n  working_hours: {timezone: UTC, holidays: [2026-12-24 12:00:00]}\n"
    assert _validate(tmp_path, capsys, text) == [
        "defaults.working_hours.holidays.0: must be a date, got 2026-12-24 12:00:00. Write the date as "
        "YYYY-MM-DD."
    ]


def test_validate_warns_of_two_selectors_of_one_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a selector copied and not renamed: valid, both apply, and a decision's rule said which only by index
    path = tmp_path / "policy.yaml"
    path.write_text(
        "version: 1\nselectors:\n"
        "  - {name: big, match: {instance_types: ['ml.p4d.*']}, rules: {max_horizon_minutes: 60}}\n"
        "  - {name: big, match: {job_name_prefixes: [llm-]}, rules: {max_horizon_minutes: 9}}\n"
    )
    assert main(["policy", "validate", str(path)]) == 0
    assert capsys.readouterr().err == (
        "warning: selectors.1.name: big names selectors.0 too, and the decisions' rules and explain tell "
        "them apart only by position (selectors[0:big], selectors[1:big]). Give each its own name.\n"
    )


def test_validate_names_the_time_zone_a_misspelt_one_meant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # each was "unknown time zone ...; use an IANA name such as Europe/Berlin", whatever was meant
    text = (
        "version: 1\ndefaults:\n  timezone: europe/berlin\n  working_hours: {timezone: Berlin}\n"
        "teams:\n  nlp: {timezone: America/NewYork}\n  vision: {timezone: Mars/Olympus}\n"
    )
    assert _validate(tmp_path, capsys, text) == [
        "defaults.working_hours.timezone: unknown time zone 'Berlin'; did you mean Europe/Berlin? Write the "
        "IANA name.",
        "defaults.timezone: unknown time zone 'europe/berlin': the names are case-sensitive; write "
        "Europe/Berlin.",
        "teams.nlp.timezone: unknown time zone 'America/NewYork'; did you mean America/New_York? Write the "
        "IANA name.",
        "teams.vision.timezone: unknown time zone 'Mars/Olympus'; use an IANA name such as Europe/Berlin. "
        "See docs/policy.md.",
    ]


def test_validate_warns_of_an_allowed_type_a_deny_in_force_releases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # vision allowed g5 under the defaults' deny of g5: each field resolves on its own, the deny wins,
    # and vision's g5 pools were released, with a policy validate called valid without a word
    path = tmp_path / "policy.yaml"
    path.write_text(
        "version: 1\ndefaults: {denied_instance_types: ['ml.g5.*', 'ml.p5.*']}\n"
        "teams:\n  vision: {allowed_instance_types: ['ml.g5.*']}\n"
        "  nlp: {allowed_instance_types: ['ml.g5.*'], denied_instance_types: []}\n"
    )
    assert main(["policy", "validate", str(path)]) == 0
    assert capsys.readouterr().err == (
        "warning: teams.vision.allowed_instance_types: ml.g5.* is matched by ml.g5.* of "
        "defaults.denied_instance_types, which applies to the same pools: a deny wins, and they are "
        "released. To allow them here, set teams.vision.denied_instance_types without ml.g5.* (e.g. []).\n"
    )
    assert main(["policy", "explain", "--policy", str(path), "--event", str(EVENT), "--format", "json"]) == 0
    decided = json.loads(capsys.readouterr().out)
    assert (decided["action"], decided["rule"]) == ("release", "defaults.denied_instance_types")


def test_validate_names_a_control_character_by_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a NUL or a bell pasted from a terminal: two lines of PyYAML's own, about "<unicode string>"
    assert _validate(tmp_path, capsys, "version: 1\ndefaults:\n  timezone: UTC\x07\n") == [
        "line 3: holds the character #x0007, which YAML does not allow. Remove it."
    ]


def test_validate_refuses_a_budget_under_a_selector_or_an_owner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a budget is counted on the team's ledger, whoever's pools idled: alice's own 500 $ lifted the
    # team's 10 $ for her pools, which went on spending it (`pools costs` showed the team's 10 $ overspent),
    # and the selector's 5 $ held the team's p4d pools alone to all the team's spending
    text = (
        "version: 1\nteams:\n  vision: {budget: {daily_usd: 10}}\nselectors:\n"
        "  - {name: big, match: {instance_types: ['ml.p4d.*']}, rules: {budget: {daily_usd: 5}}}\n"
        "owners:\n  alice: {budget: {daily_usd: 500}}\n  bob: {budget: null, max_horizon_minutes: 60}\n"
    )
    why = (
        "a budget is a team's: its idle cost per day and month, counted on the team's ledger whichever of "
        "its pools idled. Here it would hold only these pools to the whole team's spending, and lift the "
        "team's own budget for them. Set it under teams.<team> (or defaults, for every team); to spend "
        "less on these pools, give them a shorter max_horizon_minutes here."
    )
    assert _validate(tmp_path, capsys, text) == [
        f"owners.alice.budget: {why}",
        f"selectors.0.rules.budget: {why}",
    ]


def test_validate_refuses_a_warm_instance_limit_under_a_selector_or_an_owner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the limit counts every warm instance of the team: carol's own 10 let her pools go past vision's 6
    # while the team's other pools counted, and the selector's 2 held the p4d pools to the team's count
    text = (
        "version: 1\nteams:\n  vision: {max_warm_instances: 6}\nselectors:\n"
        "  - {name: big, match: {instance_types: ['ml.p4d.*']}, rules: {max_warm_instances: 2}}\n"
        "owners:\n  carol: {max_warm_instances: 10}\n  dave: {max_warm_instances: null}\n"
    )
    why = (
        "max_warm_instances is a team's limit: it counts all the team's warm instances, whichever pools "
        "they are. Here it would hold only these pools to the whole team's count, or let them go past the "
        "team's own limit. Set it under teams.<team> (or defaults, for every team); to cap one instance "
        "type account-wide, use the top-level instance_type_limits."
    )
    assert _validate(tmp_path, capsys, text) == [
        f"owners.carol.max_warm_instances: {why}",
        f"selectors.0.rules.max_warm_instances: {why}",
    ]


def test_validate_warns_of_a_block_that_leaves_out_what_the_block_it_replaces_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a block is one field: research's lead gave it working hours in its own time zone, and the defaults'
    # holidays were gone without a word (its pools kept on Christmas as on any working day); vision's
    # monthly budget dropped the daily one; carol's permission outside working hours raised her longest
    # extension from the defaults' 60 minutes to the block's own 120
    path = tmp_path / "policy.yaml"
    path.write_text(
        "version: 1\ndefaults:\n"
        "  working_hours: {timezone: Europe/Berlin, end: '20:00', holidays: [2026-12-24, 2026-12-25]}\n"
        "  budget: {daily_usd: 40}\n  overrides: {max_extend_minutes: 60}\n"
        "teams:\n  research: {working_hours: {timezone: America/New_York, end: '20:00'}}\n"
        "  vision:\n    working_hours: {timezone: Europe/Berlin, holidays: [], outside: release}\n"
        "    budget: {monthly_usd: 600}\n"
        "  nlp: {working_hours: {timezone: Asia/Tokyo, end: '20:00', holidays: []}}\n"  # none is meant
        "selectors:\n"
        "  - {name: big, match: {instance_types: ['ml.p4d.*']}, rules: {working_hours: {timezone: UTC}}}\n"
        "owners:\n  carol: {overrides: {allow_outside_working_hours: true}}\n"
    )
    assert main(["policy", "validate", str(path), "--format", "json"]) == 0  # valid: warnings
    assert json.loads(capsys.readouterr().out)["warnings"] == [
        "teams.research.working_hours: leaves out holidays, so it takes the block's own default (holidays: "
        "[]), not that of defaults.working_hours (holidays: [2026-12-24, 2026-12-25]), which it replaces "
        "whole. Repeat it here to keep it, or write holidays: [] if that is meant.",
        'teams.vision.working_hours: leaves out end, so it takes the block\'s own default (end: "19:00"), '
        'not that of defaults.working_hours (end: "20:00"), which it replaces whole. Repeat it here to keep '
        'it, or write end: "19:00" if that is meant.',
        "teams.vision.budget: leaves out daily_usd, so it takes the block's own default (daily_usd: null), "
        "not that of defaults.budget (daily_usd: 40), which it replaces whole. Repeat it here to keep it, or "
        "write daily_usd: null if that is meant.",
        "selectors.0.rules.working_hours: leaves out end and holidays, so they take the block's own "
        'defaults (end: "19:00", holidays: []), not those of defaults.working_hours (end: "20:00", '
        "holidays: [2026-12-24, 2026-12-25]), which it replaces whole. Repeat them here to keep them, or "
        'write end: "19:00", holidays: [] if that is meant.',
        "owners.carol.overrides: leaves out max_extend_minutes, so it takes the block's own default "
        "(max_extend_minutes: 120), not that of defaults.overrides (max_extend_minutes: 60), which it "
        "replaces whole. Repeat it here to keep it, or write max_extend_minutes: 120 if that is meant.",
    ]


def test_explain_says_the_policy_s_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # research's lead asks why its pool stays warm on Christmas Eve: its working_hours dropped the
    # defaults' holidays, and explain, which shows the decision, said nothing of it
    event = json.loads(EVENT.read_text())
    event["detail"]["Tags"] = [{"Key": "team", "Value": "research"}, {"Key": "owner", "Value": "carol"}]
    # ended at 09:55 in New York on Christmas Eve, a Thursday
    event["time"] = event["detail"]["TrainingEndTime"] = "2026-12-24T14:55:00Z"
    event["detail"]["CreationTime"] = event["detail"]["TrainingStartTime"] = 1798120800000  # 14:00 UTC
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event))
    example = (ROOT / "policies" / "example.yaml").read_text()
    held = "      holidays: [2026-12-24, 2026-12-25, 2026-12-31]"
    assert held in example
    policy = tmp_path / "policy.yaml"
    policy.write_text(example.replace(f"{held}  # repeated: this block replaces the defaults' whole\n", ""))
    explain = ["policy", "explain", "--policy", str(policy), "--event", str(event_path)]
    assert main(explain) == 0
    out, err = capsys.readouterr()
    assert "decision: extend" in out
    warning = (
        "teams.research.working_hours: leaves out holidays, so it takes the block's own default (holidays: "
        "[]), not that of defaults.working_hours (holidays: [2026-12-24, 2026-12-25, 2026-12-31]), which it "
        "replaces whole. Repeat it here to keep it, or write holidays: [] if that is meant."
    )
    assert err == f"warning: {warning}\n"
    assert main([*explain, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == [warning]
    # the example, which repeats them: a holiday, outside research's working hours
    explain[3] = str(ROOT / "policies" / "example.yaml")
    assert main([*explain, "--format", "json"]) == 0
    out, err = capsys.readouterr()
    decided = json.loads(out)
    assert (decided["action"], decided["rule"]) == ("shorten", "teams.research.working_hours")
    assert (decided["warnings"], err) == ([], "")


def test_validate_refuses_an_empty_or_space_padded_name_naming_where_and_what_to_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `default_team: ""` sent every untagged job's messages to a team of no name, `tags: {team: " "}`
    # read every job as untagged, and a quoted `"vision "` named a team no tag is: all were valid
    text = """version: 1
default_team: ""
tags: {team: " ", owner: "owner "}
teams: {" vision": {max_warm_instances: 2}}
owners: {"alice ": {}}
notifications:
  platform_webhook_key: "  "
  slack_users: {"bob ": U0123ABCD}
  teams: {nlp: {slack_webhook_key: " nlp", admins: [""]}}
"""
    assert _validate(tmp_path, capsys, text) == [
        "default_team: is empty: no job's tag and no key of the webhooks secret is. Write the name.",
        "tags.team: is blank: no job's tag and no key of the webhooks secret is. Write the name.",
        "tags.owner: is written with a space before or after it, which no tag or key of the secret has: "
        "write 'owner'.",
        "teams: the key ' vision' is written with a space before or after it, which no tag or key of the "
        "secret has: write 'vision'.",
        "owners: the key 'alice ' is written with a space before or after it, which no tag or key of the "
        "secret has: write 'alice'.",
        "notifications.platform_webhook_key: is blank: no job's tag and no key of the webhooks secret is. "
        "Write the name.",
        "notifications.slack_users: the key 'bob ' is written with a space before or after it, which no "
        "tag or key of the secret has: write 'bob'.",
        "notifications.teams.nlp.admins.0: is empty: no job's tag and no key of the webhooks secret is. "
        "Write the name.",
        "notifications.teams.nlp.slack_webhook_key: is written with a space before or after it, which no "
        "tag or key of the secret has: write 'nlp'.",
    ]


def test_validate_refuses_an_instance_type_with_a_space_after_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a quoted "ml.g5.2xlarge " is no type SageMaker names: its price, limit or allow-list entry never
    # applied, and `ml.` at its start was all validate checked
    text = """version: 1
prices: {"ml.g5.2xlarge ": 1.2}
warm_pool_quotas: {"ml.p4d.24xlarge ": 4}
defaults: {allowed_instance_types: ["ml.g5.* "]}
"""
    space = "is written with a space before or after it, which no SageMaker instance type has"
    assert _validate(tmp_path, capsys, text) == [
        f"prices: 'ml.g5.2xlarge ' {space}: write 'ml.g5.2xlarge'.",
        f"warm_pool_quotas: 'ml.p4d.24xlarge ' {space}: write 'ml.p4d.24xlarge'.",
        f"defaults.allowed_instance_types: 'ml.g5.* ' {space}: write 'ml.g5.*'.",
    ]


def test_validate_refuses_a_selector_that_matches_no_job_or_every_job(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `job_name_prefixes: ['']` (a prefix left to fill in) made the selector's rules every pool's without
    # a word; `[]` alone was refused as a selector without a match, naming neither the list nor the fix
    text = (
        "version: 1\nselectors:\n"
        "  - {name: b, rules: {max_horizon_minutes: 9}, match: {job_name_prefixes: ['']}}\n"
        "  - {name: c, rules: {max_horizon_minutes: 9}, match: {job_name_prefixes: []}}\n"
        "  - {name: d, rules: {max_horizon_minutes: 9}, match: {}}\n"
    )
    assert _validate(tmp_path, capsys, text) == [
        "selectors.0.match.job_name_prefixes: an empty prefix ('') matches every job: write the start of "
        "the names to match (e.g. nightly-), or match every pool under defaults instead.",
        "selectors.1.match: job_name_prefixes: [] matches no pool: list the prefixes to match "
        "(job_name_prefixes: [nightly-]) or the instance types (instance_types: ['ml.g5.*']).",
        "selectors.2.match: a selector must match on instance_types or job_name_prefixes. See "
        "docs/policy.md.",
    ]


def test_a_policy_with_selectors_reads_back_as_the_stack_deploys_it() -> None:
    # the deployed document writes every default out, `job_name_prefixes: []` beside a selector's
    # instance types included: valid, and the same policy
    from warmpool.domain.policy import load_policy_file, parse_policy

    policy = load_policy_file(str(Path(__file__).resolve().parents[3] / "policies" / "example.yaml"))
    assert policy.selectors
    again = parse_policy(json.loads(policy.deployed_json()))
    assert again.selectors == policy.selectors


def test_validate_refuses_a_price_or_a_persons_hour_whose_costs_overflow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 1e308 was valid: a cold start's cost overflowed to inf and every decision of adaptive (the
    # Lambdas', `simulate --policy`'s) raised OverflowError
    text = (
        "version: 1\nprices: {ml.g5.2xlarge: 1.0e+308}\ndefaults: {people_cost_per_hour: 1.0e+308}\n"
        "teams:\n  vision: {people_cost_per_hour: 1000000}\n"
    )
    assert _validate(tmp_path, capsys, text) == [
        "prices: prices must be at most 1,000,000 USD per instance-hour, not in cents or per year (see "
        "ml.g5.2xlarge). See docs/policy.md.",
        "defaults.people_cost_per_hour: Input should be less than or equal to 1000000. Lower it.",
    ]


def test_validate_counts_one_team_as_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the summary said `1 teams, 1 owners, 1 selectors`
    path = tmp_path / "policy.yaml"
    path.write_text(
        "version: 1\nteams: {vision: {max_warm_instances: 2}}\nowners: {alice: {max_horizon_minutes: 60}}\n"
        "selectors:\n  - {name: big, match: {instance_types: [ml.p4d.*]}, rules: {max_horizon_minutes: 60}}\n"
    )
    assert main(["policy", "validate", str(path)]) == 0
    assert capsys.readouterr().out == (
        f"{path}: valid (version 1; 1 team, 1 owner, 1 selector; default strategy job)\n"
    )


def test_explain_says_a_decision_on_an_unpriced_instance_type_is_priced_at_a_stand_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the built-in table has no ml.g6e.xlarge: the decision was made at $1.00 an hour without a word
    event = tmp_path / "event.json"
    event.write_text(EVENT.read_text().replace("ml.g5.2xlarge", "ml.g6e.xlarge"))
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\ndefaults: {keep_alive_strategy: break-even}\n")
    explain = ["policy", "explain", "--policy", str(policy), "--event", str(event), "--format", "json"]
    assert main(explain) == 0
    reasons = json.loads(capsys.readouterr().out)["reasons"]
    assert reasons[-1] == (
        "no price for ml.g6e.xlarge: its idle time is counted at a stand-in $1.00 per instance-hour, not "
        "at what SageMaker bills; add it under `prices` in the policy (USD per instance-hour)"
    )
    policy.write_text(policy.read_text() + "prices: {ml.g6e.xlarge: 1.861}\n")
    assert main(explain) == 0
    assert not any("no price" in r for r in json.loads(capsys.readouterr().out)["reasons"])
