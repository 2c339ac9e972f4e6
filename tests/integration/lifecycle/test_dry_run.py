"""`dry_run: true`: the engine decides, notifies and audits, and changes nothing: no UpdateTrainingJob
on any path (the emulator's update calls and a count of the calls made to SageMaker prove it), and
nothing recorded that did not happen (docs/policy.md, "Dry run")."""

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from warmpool.cli.main import main
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import lifecycle

from tests.integration.conftest import START, System, hooked
from tests.integration.notify.test_notify import press, signed

TAGS = {"team": "vision", "owner": "alice"}


def dry(defaults: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"version": 1, "dry_run": True, "defaults": defaults, **top}


def finish(
    system: System, name: str, keep_alive_seconds: int, tags: dict[str, str] = TAGS, **request: Any
) -> None:
    system.sagemaker.create_training_job(
        **training_job_request(name, keep_alive_seconds=keep_alive_seconds, tags=tags, **request)
    )
    system.settle()
    system.control.complete_job(name)
    system.settle()


def no_update_made(system: System) -> bool:
    """Neither the emulator nor the count of calls made to SageMaker saw an UpdateTrainingJob."""
    return system.control.update_calls() == [] and "UpdateTrainingJob" not in system.api_calls


def test_a_dry_run_extension_promises_nothing_a_real_run_would_keep_later(system: System) -> None:
    # Trying warmpool out: the policy would release every pool; alice asks for an hour more
    policy = dry({"keep_alive_strategy": "none", "overrides": {"max_extend_minutes": 60}})
    system.set_policy(policy)
    finish(system, "d-1", 1800)
    assert main(["pools", "extend", "d-1", "--minutes", "60", "--user", "alice"]) == 4
    record = system.registry.get("d-1")
    assert record is not None
    assert record.pool.override_until is None  # nobody was promised anything
    assert no_update_made(system)
    # dry run off: the pool's next look decides by the policy, not by a promise the dry run never made
    system.set_policy({**policy, "dry_run": False})
    system.advance(20 * 60)
    assert [u["seconds"] for u in system.control.update_calls()] == [0]
    job = system.sagemaker.describe_training_job(TrainingJobName="d-1")
    assert job["WarmPoolStatus"]["Status"] == "Terminated"


def test_a_person_s_request_under_a_dry_run_is_answered_as_what_would_be_done_not_done(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    system.set_policy(
        dry(
            {"keep_alive_strategy": "job", "overrides": {"max_extend_minutes": 60}},
            notifications={"slack_users": {"alice": "UALICE"}},
        )
    )
    finish(system, "d-2", 1800)
    capsys.readouterr()  # the functions' logs
    # from the CLI: a script reads the exit code; 0 would say the pool was released
    assert main(["pools", "release", "d-2", "--user", "alice"]) == 4
    out = capsys.readouterr().out
    assert out.startswith("release d-2: dry run, would be done at 2026-03-02 09:00:00 UTC\n")
    # from Slack
    _, text = system.press(signed(press("d-2", "warmpool_extend_30", "UALICE")))
    assert text.startswith("extend d-2: dry run, would be done (request.slack: ")
    job = system.sagemaker.describe_training_job(TrainingJobName="d-2")
    assert job["WarmPoolStatus"]["Status"] == "Available"
    assert no_update_made(system)


def test_a_dry_run_decision_says_what_a_real_run_would_have_set_and_what_happens_instead(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    system.set_policy(dry({"keep_alive_strategy": "fixed-10800"}))
    finish(system, "d-3", 1800)  # ends at 09:00, warm until 09:30 on its own keep-alive
    (decided,) = [e for e in system.registry.audit_trail("d-3") if e.what == "decision"]
    assert decided.details["dry_run"] is True
    assert decided.details["reasons"][-1] == (
        "dry run: nothing is changed; a real run would set its keep-alive to 3600 s (warm until "
        "2026-03-02 10:00:00 UTC); it stays warm until 2026-03-02 09:30:00 UTC on the keep-alive it has"
    )
    capsys.readouterr()  # the functions' logs
    assert main(["pools", "release", "d-3", "--user", "alice"]) == 4
    assert (
        "  - dry run: nothing is changed; a real run would release it now; it stays warm until "
        "2026-03-02 09:30:00 UTC on the keep-alive it has"
    ) in capsys.readouterr().out.splitlines()
    assert no_update_made(system)


def test_a_dry_run_notice_says_so_first_and_what_would_be_done_not_that_it_was(system: System) -> None:
    system.set_policy(dry({"keep_alive_strategy": "none"}))
    finish(system, "d-4", 1800)
    (sent,) = [json.loads(m["Body"]) for m in system.messages(system.sns_queue_url)]
    subject = "[dry run] Warm pool of d-4 would be released; warm until 2026-03-02 09:30:00 UTC"
    assert sent["Subject"] == subject
    message = json.loads(sent["Message"])
    assert message["text"].startswith(subject + "\n")
    assert (message["kind"], message["decision"]["dry_run"]) == ("released", True)
    # subscribers that act on a release can leave out what did not happen
    assert sent["MessageAttributes"]["dry_run"] == {"Type": "String", "Value": "true"}
    job = system.sagemaker.describe_training_job(TrainingJobName="d-4")
    assert job["WarmPoolStatus"]["Status"] == "Available"
    assert no_update_made(system)


def test_a_dry_run_warns_of_the_quota_as_a_real_run_would_and_says_it_is_a_dry_run(system: System) -> None:
    quota = {"warm_pool_quotas": {"ml.g5.2xlarge": 2}, "quota_warning_at": 0.8}
    system.set_policy(dry({"keep_alive_strategy": "none"}, **quota))
    # two pools of one type (two shapes: neither reuses the other): a real run would release both
    finish(system, "d-5", 1800)
    finish(system, "d-6", 1800, volume_size_gb=60)
    sent = [json.loads(json.loads(m["Body"])["Message"]) for m in system.messages(system.sns_queue_url)]
    assert [m["kind"] for m in sent if m["kind"] != "missed-pool"] == ["released", "released"]
    # the team keeps its pools on their own keep-alive: a third pool of the type is kept warm
    system.set_policy(dry({"keep_alive_strategy": "job"}, **quota))
    finish(system, "d-7", 1800, volume_size_gb=70)
    (warning,) = [
        json.loads(m["Body"])
        for m in system.messages(system.sns_queue_url)
        if "quota" in json.loads(m["Body"])["Subject"]
    ]
    assert warning["Subject"] == "[dry run] Warm-pool quota warning for ml.g5.2xlarge"
    assert warning["MessageAttributes"]["dry_run"] == {"Type": "String", "Value": "true"}
    document = json.loads(warning["Message"])
    assert document["facts"]["dry_run"] is True
    assert "Dry run: warmpool changes no keep-alive" in document["text"]
    assert no_update_made(system)


def test_a_dry_run_tells_once_that_it_would_release_a_pool_however_often_it_looks_again(
    system: System,
) -> None:
    system.set_policy(dry({"keep_alive_strategy": "none"}))
    finish(system, "d-8", 3600)
    system.advance(3600 + 300, tick=300)  # every look until the pool's own keep-alive has run out
    job = system.sagemaker.describe_training_job(TrainingJobName="d-8")
    assert job["WarmPoolStatus"]["Status"] == "Terminated"
    decided = [e for e in system.registry.audit_trail("d-8") if e.what == "decision"]
    assert len(decided) > 1  # looked at again, and decided to release again
    sent = [n["kind"] for n in system.notifications()]
    assert sent.count("released") == 1
    assert no_update_made(system)


def test_a_pool_a_dry_run_would_keep_warm_is_warned_of_before_its_own_keep_alive_runs_out(
    system: System,
) -> None:
    system.set_policy(dry({"keep_alive_strategy": "fixed-10800"}))
    finish(system, "d-9", 1800)  # a real run would keep it three hours; it is warm until 09:30
    system.advance(25 * 60, tick=60)
    (warned,) = [n for n in system.notifications() if n["kind"] == "expiring-soon"]
    assert warned["text"].startswith("[dry run] Warm pool of d-9 expires at 2026-03-02 09:30:00 UTC\n")
    assert no_update_made(system)


def test_a_pool_warm_when_dry_run_is_switched_off_is_taken_over_before_its_own_keep_alive_ends(
    system: System,
) -> None:
    policy = dry({"keep_alive_strategy": "fixed-3600"})
    system.set_policy(policy)
    finish(system, "d-10", 600)  # ends at 09:00, warm until 09:10 on its own keep-alive
    assert no_update_made(system)
    system.advance(60)
    system.set_policy({**policy, "dry_run": False})  # the team has seen enough
    system.advance(15 * 60)
    job = system.sagemaker.describe_training_job(TrainingJobName="d-10")
    assert job["WarmPoolStatus"]["Status"] == "Available"  # kept for the hour the policy wants
    assert [u["seconds"] for u in system.control.update_calls()] == [3300]  # at 09:05, until 10:00


def test_no_path_changes_a_pool_under_a_dry_run_and_every_decision_says_it_was_one(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    system.set_policy(
        dry(
            {
                "keep_alive_strategy": "fixed-3600",
                "release_on_failure": True,
                "overrides": {"max_extend_minutes": 60},
            },
            teams={"vision": {"max_warm_instances": 1, "on_limit": "release-least-valuable"}},
            notifications={"slack_users": {"alice": "UALICE"}},
        )
    )
    finish(system, "a-1", 600)  # a real run would extend it
    finish(system, "a-2", 600, volume_size_gb=60)  # ... and release a-1 to make room for it
    system.sagemaker.create_training_job(
        **training_job_request(
            "f-1", keep_alive_seconds=600, volume_size_gb=70, tags={"team": "nlp", "owner": "carol"}
        )
    )
    system.settle()
    system.control.fail_job("f-1")  # ... and release its pool: the job failed
    system.settle()
    # a sweep's trial: left to its tuner, then given back when the tuning job ends
    trial = training_job_request(
        "hpo-1", keep_alive_seconds=600, volume_size_gb=80, tags={"team": "research"}
    )
    system.control.start_tuning_job("sweep", [trial])
    system.settle()
    system.control.complete_job("hpo-1")
    system.settle()
    system.control.complete_tuning_job("sweep")
    system.settle()
    # people's requests, from Slack and the CLI
    system.press(signed(press("a-2", "warmpool_release", "UALICE")))
    assert main(["pools", "extend", "a-1", "--minutes", "60", "--user", "alice"]) == 4
    system.reconcile()
    for _ in range(4):  # every look until the pools' own keep-alives have run out
        system.advance(300)
        system.reconcile()
    assert no_update_made(system)
    pools = ("a-1", "a-2", "f-1", "hpo-1")
    for name in pools:
        job = system.sagemaker.describe_training_job(TrainingJobName=name)
        # warm for the keep-alive the job itself asked for, no more, no less
        assert job["WarmPoolStatus"]["Status"] == "Terminated"
        assert job["WarmPoolStatus"]["ResourceRetainedBillableTimeInSeconds"] == 600
        record = system.registry.get(name)
        assert record is not None
        assert record.pool.override_until is None
        decided = [e for e in system.registry.audit_trail(name) if e.what == "decision"]
        assert decided
        for entry in decided:
            assert entry.details["dry_run"] is True
            assert entry.details["reasons"][-1].startswith("dry run: nothing is changed")
    told = [n for n in system.notifications() if n["decision"] is not None]
    assert {n["kind"] for n in told} >= {"pool-ready", "released", "expiring-soon", "policy-limit"}
    assert [n["text"] for n in told if not n["text"].startswith("[dry run] ")] == []
    # the ledger books what really idled: each pool's own 600 s, at the built-in $1.515 an hour
    capsys.readouterr()  # the functions' logs
    assert main(["pools", "costs", "--format", "json"]) == 0
    costs = {row["team"]: row["idle_today_usd"] for row in json.loads(capsys.readouterr().out)["teams"]}
    assert costs == {"vision": 0.51, "nlp": 0.25, "research": 0.25}
    assert system.control.now() < START + timedelta(hours=1)


def test_a_dry_run_request_leaves_the_pool_s_plan_as_it_was(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    system.set_policy(dry({"keep_alive_strategy": "fixed-3600", "overrides": {"max_extend_minutes": 60}}))
    finish(system, "d-11", 1800)
    before = system.registry.get("d-11")
    assert before is not None
    assert main(["pools", "extend", "d-11", "--minutes", "60", "--user", "alice"]) == 4
    after = system.registry.get("d-11")
    assert after is not None
    assert after.pool.horizon_at == before.pool.horizon_at  # the policy's hour, not the asked 90 minutes
    system.advance(35 * 60)  # every look until its own keep-alive has run out
    # the next looks decide as the first did: nothing to announce but what happens to the pool
    assert [n["kind"] for n in system.notifications()] == ["pool-ready", "expiring-soon"]
    assert no_update_made(system)


def test_pools_list_and_show_say_the_last_decision_was_a_dry_run(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    system.set_policy(dry({"keep_alive_strategy": "none"}))
    finish(system, "d-12", 1800)
    capsys.readouterr()  # the functions' logs
    assert main(["pools", "list", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["state"], row["last_decision"]) == (
        "Available",
        "dry run: release (defaults.keep_alive_strategy)",
    )
    assert main(["pools", "show", "d-12"]) == 0
    assert "last_decision  dry run: release (defaults.keep_alive_strategy)" in capsys.readouterr().out


def test_the_daily_digest_of_a_dry_run_says_whose_keep_alives_keep_the_pools_warm(system: System) -> None:
    system.set_policy(
        dry({"keep_alive_strategy": "fixed-3600"}, notifications={"digest": {"enabled": True, "hour": 9}})
    )
    finish(system, "d-13", 1800)
    system.notifications()  # the pool's own notices
    system.reconcile()
    (digest,) = system.notifications()
    assert digest["kind"] == "daily-digest"
    lines = digest["text"].splitlines()
    assert lines[0] == "[dry run] Warm pools of team vision: daily digest"
    assert lines[2] == (
        "Dry run: warmpool changes no keep-alive, so these pools are warm on their jobs' own keep-alives, "
        "and the idle cost is theirs."
    )


def test_a_dry_run_says_which_pools_a_real_run_would_release_to_make_room_and_releases_none(
    system: System,
) -> None:
    limit = {"max_warm_instances": 1, "on_limit": "release-least-valuable"}
    system.set_policy(dry({"keep_alive_strategy": "fixed-3600"}, teams={"vision": limit}))
    finish(system, "d-14", 1800)
    finish(system, "d-15", 1800, volume_size_gb=60)
    (decided,) = [e for e in system.registry.audit_trail("d-15") if e.what == "decision"]
    assert decided.details["release_pool_ids"] == []
    assert decided.details["reasons"][-1].endswith("; a real run would release d-14 to make room (left warm)")
    assert [e.what for e in system.registry.audit_trail("d-14") if e.what == "released-for-limit"] == []
    job = system.sagemaker.describe_training_job(TrainingJobName="d-14")
    assert job["WarmPoolStatus"]["Status"] == "Available"
    assert no_update_made(system)


def test_the_trail_of_a_pool_a_dry_run_would_release_to_make_room_says_so(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    # a team lead reading d-20's trail saw nothing of it: only d-21's decision named d-20, in a reason
    limit = {"max_warm_instances": 1, "on_limit": "release-least-valuable"}
    system.set_policy(dry({"keep_alive_strategy": "fixed-3600"}, teams={"vision": limit}))
    finish(system, "d-20", 1800)
    finish(system, "d-21", 1800, volume_size_gb=60)
    (decided,) = [e for e in system.registry.audit_trail("d-21") if e.what == "decision"]
    (entry,) = [e for e in system.registry.audit_trail("d-20") if e.what == "would-release-for-limit"]
    assert entry.job_name == "d-20"
    assert entry.details["for_job"] == "d-21"
    assert entry.details["dry_run"] is True
    assert entry.details["action"] == "release"
    assert entry.details["rule"] == decided.details["rule"]
    assert entry.details["reason"] == (
        "dry run: a real run would have released it to make room for d-21; it stays warm on the "
        "keep-alive it has"
    )
    # nothing was released: no released-for-limit entry, no update
    assert [e.what for e in system.registry.audit_trail("d-20") if e.what == "released-for-limit"] == []
    assert no_update_made(system)
    capsys.readouterr()  # the functions' logs
    assert main(["pools", "show", "d-20"]) == 0
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if "would-release-for-limit" in line]
    assert f"release ({decided.details['rule']})" in line
    assert "dry run: nothing changed" in line
    assert "      - dry run: a real run would have released it to make room for d-21;" in out


def test_switching_dry_run_off_has_the_reconciler_carry_out_what_the_dry_run_left_undone(
    system: System,
) -> None:
    policy = dry({"keep_alive_strategy": "none"})
    system.set_policy(policy)
    finish(system, "d-16", 3600)  # a real run would release it; it is warm until 10:00, looked at 09:45
    system.advance(120)
    system.set_policy({**policy, "dry_run": False})
    system.advance(180)
    report = system.reconcile()  # its next run, five minutes after the pool's decision
    assert report["after_dry_run"] == ["d-16"]
    assert [u["seconds"] for u in system.control.update_calls()] == [0]
    job = system.sagemaker.describe_training_job(TrainingJobName="d-16")
    assert job["WarmPoolStatus"]["Status"] == "Terminated"
    assert job["WarmPoolStatus"]["ResourceRetainedBillableTimeInSeconds"] == 300
    assert system.reconcile()["after_dry_run"] == []  # decided for real: nothing left for the next run


def test_a_pool_a_dry_run_would_release_to_make_room_is_said_so_once_per_job_at_every_step(
    system: System,
) -> None:
    # d-31's pool is decided again at each of its steps, each naming d-30 as the pool a real run would
    # release for it: d-30's trail had one more would-release-for-limit at every step, the same line
    limit = {"max_warm_instances": 1, "on_limit": "release-least-valuable"}
    system.set_policy(dry({"keep_alive_strategy": "fixed-7200"}, teams={"vision": limit}))
    finish(system, "d-30", 3600)
    finish(system, "d-31", 3600, volume_size_gb=60)
    system.advance(3600, tick=300)  # d-31's step, 55 minutes on, decided again
    decided = [e for e in system.registry.audit_trail("d-31") if e.what == "decision"]
    assert len(decided) >= 2
    assert all("a real run would release d-30" in e.details["reasons"][-1] for e in decided)
    said = [e for e in system.registry.audit_trail("d-30") if e.what == "would-release-for-limit"]
    assert [(e.details["for_job"], e.at) for e in said] == [("d-31", decided[0].at)]


def test_a_pool_a_dry_run_would_release_is_said_so_when_the_invocation_ends_after_the_save(
    system: System,
) -> None:
    # d-33's decision is saved, then its invocation ends (a timeout): the event's retry finds the
    # decision saved and decides nothing, and d-32's trail never said it
    limit = {"max_warm_instances": 1, "on_limit": "release-least-valuable"}
    system.set_policy(dry({"keep_alive_strategy": "fixed-3600"}, teams={"vision": limit}))
    finish(system, "d-32", 1800)
    system.sagemaker.create_training_job(
        **training_job_request("d-33", keep_alive_seconds=1800, tags=TAGS, volume_size_gb=60)
    )
    system.settle()
    system.control.complete_job("d-33")
    ended: list[str] = []

    def end_after_the_decision(http_response: Any, params: Any = None, **_: Any) -> None:
        decision = system.registry.audit_trail("d-33")
        if not ended and any(e.what == "decision" for e in decision):
            ended.append("d-33")
            raise RuntimeError("injected: the invocation ended after the decision's save")

    with hooked("after-call.dynamodb.TransactWriteItems", end_after_the_decision):
        lifecycle.runtime.cache_clear()  # its clients made from now on carry the hook
        try:
            system.settle()  # the invocation ends after the save; SQS delivers the event again
        finally:
            lifecycle.runtime.cache_clear()
    assert ended == ["d-33"]
    said = [e for e in system.registry.audit_trail("d-32") if e.what == "would-release-for-limit"]
    assert [e.details["for_job"] for e in said] == ["d-33"]


def test_a_dry_run_decision_that_would_release_120_pools_to_make_room_is_saved_and_says_so_in_each_trail(
    system: System,
) -> None:
    # vision's limit is lowered to one warm instance while it has 121 warm pools: the next pool's
    # decision names the 121 a real run would release, and its save wrote a would-release-for-limit
    # entry for each in its one transaction, past DynamoDB's 100 items: the save failed at every try
    # of the event (the decision never saved, nothing said in any trail)
    limit = {"max_warm_instances": 1000, "on_limit": "release-least-valuable"}
    system.set_policy(dry({"keep_alive_strategy": "fixed-3600"}, teams={"vision": limit}))
    finish(system, "d-40", 1800)
    warm = system.registry.get("d-40")
    assert warm is not None
    seeded = [f"d-40-{i:03d}" for i in range(120)]  # warm pools of the team, as the registry holds them
    for name in seeded:
        pool = replace(
            warm.pool, pool_id=name, job_name=name, job_arn=warm.pool.job_arn[:-4] + name, version=0
        )
        system.registry.put(replace(warm, pool=pool, schedule_name=None), None)
    system.set_policy(
        dry({"keep_alive_strategy": "fixed-3600"}, teams={"vision": {**limit, "max_warm_instances": 1}})
    )

    finish(system, "d-41", 1800, volume_size_gb=60)

    (decided,) = [e for e in system.registry.audit_trail("d-41") if e.what == "decision"]
    assert "a real run would release" in decided.details["reasons"][-1]
    for name in ["d-40", *seeded]:
        said = [e for e in system.registry.audit_trail(name) if e.what == "would-release-for-limit"]
        assert [e.details["for_job"] for e in said] == ["d-41"], name
    assert no_update_made(system)
    assert system.messages(system.env.lifecycle_dlq_url) == []
