"""EventBridge -> SQS -> lifecycle handler -> UpdateTrainingJob -> Scheduler -> SQS -> handler."""

from datetime import timedelta

from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import reconciler
from warmpool.local.pumps import LocalLambdaContext

from tests.integration.conftest import System

THREE_HOURS = {"version": 1, "defaults": {"keep_alive_strategy": "fixed-10800"}}


def test_pool_is_registered_and_kept_warm_three_hours_in_one_hour_steps(system: System) -> None:
    system.set_policy(THREE_HOURS)
    system.sagemaker.create_training_job(
        **training_job_request("exp-1", keep_alive_seconds=600, tags={"owner": "alice", "team": "vision"})
    )
    system.settle()
    system.control.run_for("exp-1", 1800)
    system.advance(1800)
    record = system.registry.get("exp-1")
    assert record is not None
    assert record.pool.status.value == "Available"
    assert (record.pool.owner, record.pool.team) == ("alice", "vision")
    assert record.last_decision is not None
    assert record.last_decision.action.value == "extend"
    assert record.last_decision.keep_alive_seconds == 3600
    # the wish is recorded for the next step's decision (the adaptive strategy reads it: kept already)
    assert record.pool.available_since is not None
    assert record.pool.horizon_at == record.pool.available_since + timedelta(hours=3)
    ended = system.control.now()
    system.advance(4 * 3600, tick=300)
    updates = system.control.update_calls()
    assert [u["seconds"] for u in updates][:3] == [3600, 3600, 3600]
    assert all(u["seconds"] <= 3600 for u in updates)
    job = system.sagemaker.describe_training_job(TrainingJobName="exp-1")
    assert job["WarmPoolStatus"]["Status"] == "Terminated"
    billable = job["WarmPoolStatus"]["ResourceRetainedBillableTimeInSeconds"]
    # warm for the three-hour horizon (ticks are 5 minutes: the expiry lands exactly on it)
    assert abs(billable - 3 * 3600) <= 60, billable
    assert ended + timedelta(hours=3) <= system.control.now()
    kinds = [n["kind"] for n in system.notifications()]
    assert kinds[0] == "pool-ready"
    assert "expiring-soon" in kinds


def test_reuse_moves_the_lineage_and_records_the_gap(system: System) -> None:
    system.sagemaker.create_training_job(
        **training_job_request("a-1", keep_alive_seconds=1800, tags={"team": "nlp"})
    )
    system.settle()
    system.control.run_for("a-1", 600)
    system.advance(900)
    system.sagemaker.create_training_job(
        **training_job_request("a-2", keep_alive_seconds=1800, tags={"team": "nlp"})
    )
    system.settle()
    assert system.registry.pool_id_for_job("a-2") == "a-1"
    record = system.registry.get("a-1")
    assert record is not None
    assert record.pool.job_name == "a-2"
    assert record.pool.lineage == ("a-1", "a-2")
    history, team_history = system.registry.history(record.pool.match_key.digest(), "nlp")
    assert [(round(g.seconds), g.reused) for g in history] == [(300, True)]
    assert history[0].job_duration_s is not None
    # the context of the gap: a-1 trained 450 s (10 minutes after it was created, less a 150 s cold start)
    assert history[0].job_duration_s == 450
    assert len(team_history) == 1
    system.control.run_for("a-2", 300)
    system.advance(400)
    record = system.registry.get("a-1")
    assert record is not None
    assert record.pool.status.value == "Available"
    system.advance(1800)
    record = system.registry.get("a-1")
    assert record is not None
    assert record.pool.status.value == "Terminated"
    trail = [e.what for e in system.registry.audit_trail("a-1")]
    assert "reused" in trail


def test_a_gap_records_the_jobs_of_its_key_still_running_when_it_began(system: System) -> None:
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "fixed-600"}})
    for name in ("b-1", "b-2"):
        system.sagemaker.create_training_job(
            **training_job_request(name, keep_alive_seconds=600, tags={"team": "nlp"})
        )
    system.settle()
    system.control.run_for("b-1", 300)
    system.control.run_for("b-2", 900)
    system.advance(600)  # b-1 has ended; b-2 is still training
    first = system.registry.get("b-1")
    assert first is not None
    assert first.pool.status.value == "Available"
    assert (first.pool.running_at_idle, first.pool.known_gaps_at_idle) == (1, 0)
    system.advance(1800)  # b-2 ended with nothing else running; both keep-alives ran out
    key = first.pool.match_key.digest()
    history, _ = system.registry.history(key, "nlp")
    assert [(round(g.seconds), g.reused, g.running_jobs, g.known_gaps) for g in history] == [
        (600, False, 1, 0),  # b-1's
        (600, False, 0, 0),  # b-2's: it began before b-1's gap was on record
    ]


def test_release_when_policy_wants_no_keep_alive(system: System) -> None:
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "none"}})
    system.sagemaker.create_training_job(
        **training_job_request("r-1", keep_alive_seconds=3600, tags={"team": "nlp", "owner": "bob"})
    )
    system.settle()
    system.control.complete_job("r-1")
    system.settle()
    job = system.sagemaker.describe_training_job(TrainingJobName="r-1")
    assert job["WarmPoolStatus"]["Status"] == "Terminated"
    assert [u["seconds"] for u in system.control.update_calls()] == [0]
    assert [n["kind"] for n in system.notifications()] == ["released"]


def test_untagged_pool_learns_with_the_default_team_and_a_cold_start_uncensors_its_gap(
    system: System,
) -> None:
    system.set_policy(
        {"version": 1, "default_team": "research", "defaults": {"keep_alive_strategy": "fixed-600"}}
    )
    system.sagemaker.create_training_job(**training_job_request("u-1", keep_alive_seconds=600))
    system.settle()
    system.control.run_for("u-1", 300)
    system.advance(300 + 600 + 300)  # ran, then expired after its 600 s keep-alive
    record = system.registry.get("u-1")
    assert record is not None
    assert record.pool.status.value == "Terminated"
    key = record.pool.match_key.digest()
    history, team_history = system.registry.history(key, "research")
    assert [(round(g.seconds), g.reused) for g in history] == [(600, False)]
    assert team_history == history
    # the same job shape, 40 minutes after the pool came up: cold; it would have waited that long
    system.advance(40 * 60 - 900)
    system.sagemaker.create_training_job(**training_job_request("u-2", keep_alive_seconds=600))
    system.settle()
    history, team_history = system.registry.history(key, "research")
    assert [(round(g.seconds / 60), g.reused) for g in history] == [(40, True)]
    assert team_history == history


def test_one_run_releases_at_most_max_reductions_per_run_pools(system: System) -> None:
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "fixed-3600"}})
    names = [f"m-{i}" for i in range(4)]
    for name in names:
        system.sagemaker.create_training_job(
            **training_job_request(
                name, keep_alive_seconds=600, volume_size_gb=50 + len(name) * int(name[-1])
            )
        )
    system.settle()
    for name in names:
        system.control.run_for(name, 300)
    system.advance(360)
    assert all(system.registry.get(n).pool.status.value == "Available" for n in names)  # type: ignore[union-attr]
    # a policy that releases everything; the hourly checks come due with no scheduler to fire them
    system.set_policy(
        {"version": 1, "max_reductions_per_run": 2, "defaults": {"keep_alive_strategy": "none"}}
    )
    system.emulator.advance(3100)
    reconciler.handler({}, LocalLambdaContext())
    released = [u["job"] for u in system.control.update_calls() if u["seconds"] == 0]
    assert len(released) == 2
    kept = [system.registry.get(n) for n in names if n not in released]
    assert [r.last_decision.rule for r in kept if r and r.last_decision] == ["max_reductions_per_run"] * 2
    # looked at again 5 minutes later: the next run releases the other two
    system.emulator.advance(300)
    reconciler.handler({}, LocalLambdaContext())
    assert len([u for u in system.control.update_calls() if u["seconds"] == 0]) == 4


def test_warnings_about_the_job_are_said_once_not_at_every_step(system: System) -> None:
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "fixed-10800"}})
    system.run_job("untagged-1", 300, tags={})  # no team tag: the default team's admins are told
    system.advance(3 * 3600 + 900, tick=300)  # three hours warm, then expiry
    kinds = [n["kind"] for n in system.notifications() if n["job_name"] == "untagged-1"]
    assert kinds.count("missing-tags") == 1
    assert len(system.control.update_calls()) == 4  # 3 h in four updates: four looks at the pool
    record = system.registry.get("untagged-1")
    assert record is not None
    assert record.pool.status.value == "Terminated"


def _limit_policy(cap: int) -> dict[str, object]:
    vision = {"keep_alive_strategy": "fixed-3600", "max_warm_instances": 1}
    rules = {**vision, "on_limit": "release-least-valuable"}
    return {"version": 1, "max_reductions_per_run": cap, "teams": {"vision": rules}}


def test_a_pool_released_to_make_room_tells_its_owner(system: System) -> None:
    system.set_policy(_limit_policy(cap=5))
    system.run_job("room-1", 300, tags={"team": "vision", "owner": "alice"})
    system.notifications()
    system.run_job("room-2", 300, volume_size_gb=60, tags={"team": "vision", "owner": "bob"})
    assert system.sagemaker.describe_training_job(TrainingJobName="room-1")["WarmPoolStatus"]["Status"] == (
        "Terminated"
    )
    told = [(n["kind"], n["owner"]) for n in system.notifications() if n["job_name"] == "room-1"]
    assert told == [("released", "alice")]


def test_releases_to_make_room_are_held_back_by_the_reductions_cap(system: System) -> None:
    system.set_policy(_limit_policy(cap=0))
    system.run_job("held-1", 300, tags={"team": "vision", "owner": "alice"})
    system.run_job("held-2", 300, volume_size_gb=60, tags={"team": "vision", "owner": "bob"})
    status = system.sagemaker.describe_training_job(TrainingJobName="held-1")["WarmPoolStatus"]["Status"]
    assert status == "Available"
    assert "release-held-back" in [e.what for e in system.registry.audit_trail("held-1")]


def test_a_pool_extended_at_its_expiry_warning_is_warned_again_before_its_new_expiry(system: System) -> None:
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "job"}})  # its own 30 minutes
    system.run_job("warn-1", 300, keep_alive_seconds=1800, tags={"team": "vision", "owner": "alice"})
    first = system.registry.get("warn-1")
    assert first is not None
    assert first.pool.expires_at is not None
    system.advance((first.pool.expires_at - system.control.now()).total_seconds() - 20 * 60)
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "fixed-3600"}})
    system.notifications()
    system.advance(6 * 60)  # the warning look, 15 minutes before expiry, now extends the pool
    extended = system.registry.get("warn-1")
    assert extended is not None
    assert extended.pool.expires_at is not None
    assert extended.pool.expires_at > first.pool.expires_at
    system.advance((extended.pool.expires_at - system.control.now()).total_seconds() - 60)
    kinds = [n["kind"] for n in system.notifications() if n["job_name"] == "warn-1"]
    assert kinds.count("expiring-soon") == 1  # before the new expiry


def test_a_release_held_back_by_the_cap_is_tried_again_five_minutes_later(system: System) -> None:
    system.set_policy(_limit_policy(cap=1))
    system.run_job("again-1", 300, tags={"team": "vision", "owner": "alice"})
    for name, volume in (("again-2", 60), ("again-3", 70)):  # two more shapes, ending in one batch
        system.sagemaker.create_training_job(
            **training_job_request(
                name, keep_alive_seconds=600, volume_size_gb=volume, tags={"team": "vision"}
            )
        )
    system.settle()
    for name in ("again-2", "again-3"):
        system.control.run_for(name, 300)
    system.advance(300)  # one batch: again-1 is released for one of them, the other's release is held

    def warm() -> list[str]:
        names = ("again-1", "again-2", "again-3")
        jobs = [system.sagemaker.describe_training_job(TrainingJobName=n) for n in names]
        return [j["TrainingJobName"] for j in jobs if j["WarmPoolStatus"]["Status"] == "Available"]

    assert len(warm()) == 2  # one over the team's limit of one warm instance, for now
    system.advance(6 * 60)  # the deciding pool is looked at again 5 minutes later, in a run of its own
    assert len(warm()) == 1
