"""`warmpool policy explain --job` beside what the engine decides for the same pool, on moto with the
emulator. With the registry (POOLS_TABLE_NAME, which the system sets as the stack's outputs do), explain
reads what the engine's decision reads: its action, keep-alive and rule are those the engine records
when it next looks at the pool at the same virtual time, and explain writes nothing. Without it, it
decides the pool alone and says what it left out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from warmpool.cli.main import main
from warmpool.emulator.jobs import training_job_request

from tests.integration.conftest import System, hooked

TAGS = {"team": "vision", "owner": "alice"}
# what explain may ask AWS: it reads (as the read-only IAM policy of docs/deploy.md lets it), never
# saves, audits, schedules or updates a job
READS = ("Describe", "Get", "List", "Query", "Scan")


@contextmanager
def aws_calls() -> Iterator[list[str]]:
    """The AWS operations called while inside by the clients made inside (the CLI's: the functions'
    were made before, with the hooks there were then)."""
    made: list[str] = []

    def record(event_name: str, **_: Any) -> None:
        made.append(event_name.rsplit(".", maxsplit=1)[-1])

    with hooked("before-call.*.*", record):
        yield made


def explain(
    capsys: pytest.CaptureFixture[str], policy: Path, job: str, now: datetime, *flags: str
) -> dict[str, Any]:
    """`policy explain --job JOB --now NOW --format json`, having called AWS for reads only."""
    capsys.readouterr()  # the functions' logs
    with aws_calls() as made:
        code = main(
            ["policy", "explain", "--policy", str(policy), "--job", job, "--now", now.isoformat(), *flags]
        )
    assert code == 0, capsys.readouterr().err
    assert made  # it read AWS
    assert [operation for operation in made if not operation.startswith(READS)] == [], made
    if "--format" not in flags:
        return {"text": capsys.readouterr().out}
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def said(explained: dict[str, Any]) -> tuple[Any, ...]:
    return explained["action"], explained["keep_alive_seconds"], explained["rule"]


def recorded(system: System, job: str) -> tuple[Any, ...]:
    """The engine's last decision about the job's pool, as the registry keeps it."""
    pool_id = system.registry.pool_id_for_job(job)
    assert pool_id is not None
    record = system.registry.get(pool_id)
    assert record is not None
    assert record.last_decision is not None
    decision = record.last_decision
    return decision.action.value, decision.keep_alive_seconds, decision.rule


def policy_file(system: System, tmp_path: Path, policy: dict[str, Any]) -> Path:
    """The policy, deployed to the functions and written to a file for explain."""
    system.set_policy(policy)
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    return path


def test_explain_releases_the_pool_the_engine_releases_under_the_teams_limit(
    system: System, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # vision may keep one warm instance: its second pool is released by the engine, where explain, which
    # read no other pool, said `extend`
    policy = policy_file(
        system,
        tmp_path,
        {"version": 1, "teams": {"vision": {"keep_alive_strategy": "fixed-3600", "max_warm_instances": 1}}},
    )
    for name, volume in (("first", 50), ("second", 60)):  # two shapes: the second is a pool of its own
        system.sagemaker.create_training_job(
            **training_job_request(name, volume_size_gb=volume, keep_alive_seconds=600, tags=TAGS)
        )
        system.settle()
        system.control.complete_job(name)
        if name == "first":
            system.settle()
    now = system.control.now()  # the engine has not seen the second job end yet

    # without the registry, explain decides the pool alone, and says what it did not read
    monkeypatch.delenv("POOLS_TABLE_NAME")
    alone = explain(capsys, policy, "second", now)["text"]
    assert "decision: extend" in alone
    assert (
        "not read: the team's other warm pools (max_warm_instances 1); an extension a person was promised "
        "(overrides). The engine reads them, and may decide otherwise: `warmpool pools show second` shows "
        "its last decision.\n"
    ) in alone
    monkeypatch.setenv("POOLS_TABLE_NAME", system.env.pools_table)

    explained = explain(capsys, policy, "second", now, "--format", "json")
    text = explain(capsys, policy, "second", now)["text"]
    # without --policy, the deployed one the engine decides by: the built-in policy said `keep` (no
    # limit, the job's own keep-alive) for the pool the engine releases
    capsys.readouterr()
    deployed = ["policy", "explain", "--job", "second", "--now", now.isoformat(), "--format", "json"]
    assert main(deployed) == 0
    captured = capsys.readouterr()
    assert said(json.loads(captured.out)) == ("release", 0, "teams.vision.max_warm_instances")
    assert captured.err == ""
    # and, with no policy to read, it says whose it decided by
    monkeypatch.delenv("POLICY_PARAMETER_NAME")
    assert main(deployed) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["action"] == "keep"
    assert captured.err == (
        "warmpool: no --policy and no POLICY_PARAMETER_NAME: decided under the built-in policy, which may "
        "not be the deployed one the engine decides by; pass --policy FILE or export the stack's outputs\n"
    )
    monkeypatch.setenv("POLICY_PARAMETER_NAME", system.env.policy_parameter)
    system.settle()  # the engine decides it at the same virtual time
    assert said(explained) == recorded(system, "second") == ("release", 0, "teams.vision.max_warm_instances")
    assert explained["not_read"] == []
    assert "decision: release, keep-alive 0 s" in text
    assert "not read" not in text
    assert (
        "read as the engine reads them: the pool's record, the gap histories, the warm pools and the "
        f"team's ledger in POOLS_TABLE_NAME={system.env.pools_table}; the deployment's limits from the "
        "environment\n"
    ) in text


def test_explain_keeps_the_promise_a_person_was_given(
    system: System, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # vision keeps pools warm a quarter of an hour; alice was promised an hour more: at the look the
    # engine planned, explain said the quarter of an hour had run out, `release`, where the engine keeps
    # the pool until the promised time
    policy = policy_file(
        system, tmp_path, {"version": 1, "teams": {"vision": {"keep_alive_strategy": "fixed-900"}}}
    )
    system.sagemaker.create_training_job(**training_job_request("kept-1", keep_alive_seconds=900, tags=TAGS))
    system.settle()
    system.control.complete_job("kept-1")
    system.settle()
    assert main(["pools", "extend", "kept-1", "--minutes", "60", "--user", "alice"]) == 0
    record = system.registry.get("kept-1")
    assert record is not None
    assert record.pool.override_until is not None
    assert record.next_check_at is not None
    assert record.next_check_at < record.pool.override_until
    system.emulator.advance((record.next_check_at - system.control.now()).total_seconds())
    now = system.control.now()  # the look the engine planned is due, and not taken yet

    explained = explain(capsys, policy, "kept-1", now, "--format", "json")
    system.settle()  # the planned look: the engine decides at the same virtual time
    assert said(explained) == recorded(system, "kept-1")
    assert explained["action"] != "release"
    assert explained["not_read"] == []


def test_explain_learns_from_the_idle_gaps_on_record_as_adaptive_does(
    system: System, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # jobs of one shape came back half a minute after the last one ended, time and again: adaptive keeps the
    # next pool as long as that is likely; explain, reading no gap, decided by break-even, as for a
    # shape never seen
    policy = policy_file(
        system, tmp_path, {"version": 1, "teams": {"vision": {"keep_alive_strategy": "adaptive"}}}
    )
    for n in range(1, 8):
        system.sagemaker.create_training_job(
            **training_job_request(f"again-{n}", keep_alive_seconds=3600, tags=TAGS)
        )
        system.settle()
        system.advance(600)
        system.control.complete_job(f"again-{n}")
        if n < 7:
            system.settle()
            system.advance(30)  # the next job comes half a minute after
    record = system.registry.get("again-1")
    assert record is not None
    assert record.pool.job_name == "again-7"  # each job took the pool the one before left
    history, _ = system.registry.history(record.pool.match_key.digest(), "vision")
    assert [(round(gap.seconds), gap.reused) for gap in history] == [(30, True)] * 6
    now = system.control.now()  # again-7 has just ended: the engine has not seen it yet

    explained = explain(capsys, policy, "again-7", now, "--format", "json")
    # asked by its first job's name, as the team lead knows it: the pool is again-7's now
    first = explain(capsys, policy, "again-1", now)["text"]
    system.settle()
    assert said(explained) == recorded(system, "again-7")
    assert "of the 6 idle gaps of this shape" in " ".join(explained["reasons"])
    assert explained["not_read"] == []
    assert first.startswith("again-1's warm pool is now again-7's (a later job reused it)\n")
    assert f"decision: {explained['action']}, keep-alive {explained['keep_alive_seconds']} s" in first


def test_explain_applies_the_deployments_limits_from_the_environment(
    system: System, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the stack may update only the jobs tagged warmpool-managed (UPDATE_REQUIRES_TAG, as on the
    # functions): the engine leaves an untagged job's pool to its own keep-alive, where explain, which
    # applied no deployment limit, said `extend`
    monkeypatch.setenv("UPDATE_REQUIRES_TAG", "warmpool-managed")
    policy = policy_file(
        system, tmp_path, {"version": 1, "teams": {"vision": {"keep_alive_strategy": "fixed-3600"}}}
    )
    system.sagemaker.create_training_job(
        **training_job_request("untagged-1", keep_alive_seconds=600, tags=TAGS)
    )
    system.settle()
    system.control.complete_job("untagged-1")
    now = system.control.now()

    explained = explain(capsys, policy, "untagged-1", now, "--format", "json")
    system.settle()
    assert said(explained) == recorded(system, "untagged-1") == ("keep", None, "engine.update_requires_tag")


def test_explain_counts_the_gap_a_job_s_adoption_of_its_predecessor_s_pool_records_as_the_engine_does(
    system: System, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # again-7 took again-6's pool half a minute after again-6 ended, and the engine has seen none of
    # again-7's events yet: its decision records that gap first (the adoption), then learns from 6 gaps;
    # explain learnt from 5, and said so ("of the 5 idle gaps")
    policy = policy_file(
        system, tmp_path, {"version": 1, "teams": {"vision": {"keep_alive_strategy": "adaptive"}}}
    )
    for n in range(1, 7):
        system.sagemaker.create_training_job(
            **training_job_request(f"again-{n}", keep_alive_seconds=3600, tags=TAGS)
        )
        system.settle()
        system.advance(600)
        system.control.complete_job(f"again-{n}")
        system.settle()
        system.advance(30)  # the next job comes half a minute after
    system.sagemaker.create_training_job(
        **training_job_request("again-7", keep_alive_seconds=3600, tags=TAGS)
    )
    system.emulator.advance(600)  # its events wait in the queue, unread
    system.control.complete_job("again-7")
    assert system.registry.pool_id_for_job("again-7") is None  # the engine has not seen it take the pool
    now = system.control.now()

    explained = explain(capsys, policy, "again-7", now, "--format", "json")
    system.settle()  # the engine adopts the lineage and decides, at the same virtual time
    record = system.registry.get("again-1")
    assert record is not None
    assert record.pool.job_name == "again-7"
    assert record.last_decision is not None
    engine = record.last_decision
    assert "of the 6 idle gaps of this shape" in " ".join(engine.reasons)
    assert said(explained) == recorded(system, "again-7")
    assert explained["reasons"] == list(engine.reasons)


def test_explain_counts_the_idle_cost_a_job_s_adoption_of_its_predecessor_s_pool_books_as_the_engine_does(
    system: System, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # b-2 took b-1's pool half an hour after b-1 ended, unseen by the engine: its decision books that
    # half hour ($0.76) on vision's ledger first (the adoption), leaving $1.24 of the day's $2, 49 of
    # the 60 minutes fixed-3600 wants; explain read the ledger without it and said `extend` for 60
    policy = policy_file(
        system,
        tmp_path,
        {
            "version": 1,
            "teams": {"vision": {"keep_alive_strategy": "fixed-3600", "budget": {"daily_usd": 2.0}}},
        },
    )
    system.sagemaker.create_training_job(**training_job_request("b-1", keep_alive_seconds=3600, tags=TAGS))
    system.settle()
    system.control.run_for("b-1", 300)
    system.advance(300)
    system.advance(1800, tick=600)  # b-1's pool idles half an hour
    system.sagemaker.create_training_job(**training_job_request("b-2", keep_alive_seconds=3600, tags=TAGS))
    system.emulator.advance(300)  # its events wait in the queue, unread
    system.control.complete_job("b-2")
    assert system.registry.pool_id_for_job("b-2") is None  # the engine has not seen it take the pool
    now = system.control.now()

    explained = explain(capsys, policy, "b-2", now, "--format", "json")
    system.settle()  # the engine adopts the lineage and decides, at the same virtual time
    pool_id = system.registry.pool_id_for_job("b-2")
    record = system.registry.get(pool_id or "")
    assert record is not None
    assert record.last_decision is not None
    assert said(explained) == recorded(system, "b-2")
    assert explained["reasons"] == list(record.last_decision.reasons)
    assert "the team's daily idle budget has $1.24 left" in explained["reasons"]


def test_explain_of_a_trial_of_a_running_sweep_names_the_tuning_job_its_pool_is_left_to(
    system: System, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = policy_file(system, tmp_path, {"version": 1, "defaults": {"keep_alive_strategy": "fixed-7200"}})
    trials = [training_job_request(f"Sweep-00{i}-a1b2c3d4", tags=TAGS) for i in (1, 2)]
    system.control.start_tuning_job("Sweep", trials, max_parallel=1)
    system.settle()
    for trial in ("Sweep-001-a1b2c3d4", "Sweep-002-a1b2c3d4"):
        system.control.complete_job(trial)
        system.settle()

    # asked of the first trial, answered for the second, which holds its pool now
    explained = explain(capsys, policy, "Sweep-001-a1b2c3d4", system.emulator.now(), "--format", "json")

    assert explained["action"] == "keep"
    assert explained["reasons"] == [
        "Sweep-002-a1b2c3d4's pool is not decided: it is left to its tuning job Sweep while the tuning "
        "job runs (warmpool decides it once Sweep ends)"
    ]
    assert system.control.update_calls() == []


def test_without_now_it_decides_at_the_clock_the_pools_are_timed_by(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # the local environment's clock, as `pools costs|extend|release` read it: at the machine's, a pool
    # idle for a minute had idled for months, and explain said `release` where the engine keeps it
    system.set_policy({"version": 1, "teams": {"vision": {"keep_alive_strategy": "fixed-3600"}}})
    system.run_job("clock-1", 60, keep_alive_seconds=600, tags=TAGS)
    capsys.readouterr()  # the functions' logs
    assert main(["policy", "explain", "--job", "clock-1", "--format", "json"]) == 0
    explained = json.loads(capsys.readouterr().out)
    assert explained["now"] == system.control.now().isoformat()
    assert (explained["action"], explained["rule"]) == ("keep", "teams.vision.keep_alive_strategy")


def test_explain_of_a_job_neither_sagemaker_nor_the_registry_has_names_the_table_read_and_its_source(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # "--job: no training job named ..." named no table: whether the registry was read, and which one
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(["policy", "explain", "--job", "no-such-job"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "warmpool: --job: no training job named no-such-job in SageMaker, and no pool is registered for it "
        f"in POOLS_TABLE_NAME={system.env.pools_table}: check the job's name (warmpool pools list shows the "
        "pools there are), or --region\n"
    )


def test_explain_of_a_job_whose_pool_the_registry_has_not_says_which_table_it_read(
    system: System, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # a job the engine has not seen (another stack's or region's registry, the outputs of an old stack)
    # was decided as if the table had its pool, without a word of which table had none
    policy = policy_file(system, tmp_path, {"version": 1, "defaults": {"keep_alive_strategy": "fixed-3600"}})
    system.sagemaker.create_training_job(**training_job_request("unseen", keep_alive_seconds=600, tags=TAGS))
    system.control.complete_job("unseen")  # the engine never hears of it: no settle
    capsys.readouterr()
    flags = ["--policy", str(policy), "--job", "unseen", "--table", system.env.pools_table]
    assert main(["policy", "explain", *flags, "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["registry"] == system.env.pools_table
    assert captured.err == (
        f"warmpool: no pool is registered for unseen in --table {system.env.pools_table}: decided as the "
        "engine's first look at it would decide; if the engine has seen the job, check the table and "
        "--region\n"
    )
    # once the engine has seen it, nothing more is said
    system.settle()
    assert main(["policy", "explain", *flags, "--format", "json"]) == 0
    assert capsys.readouterr().err == ""
