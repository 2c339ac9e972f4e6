"""What a sweep's owners hear: a tuning job's trials share its tags (SageMaker copies the tuning job's
tags to every training job it launches), so what is wrong with them is said once per tuning job, not
once per trial's pool."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import boto3
import pytest
from warmpool.adapters.queues import SqsNotificationOutbox
from warmpool.domain.codec import notification_to_json
from warmpool.domain.messages import blocks_as_text, listed_sweep
from warmpool.domain.model import Notification, NotificationKind, Severity
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import slack_interactive

from tests.integration.conftest import System, emf_documents, hooked
from tests.integration.lifecycle import test_tuning_finished_notice as notices
from tests.integration.lifecycle.test_reused_recorded_once import describe_of_fails, fresh_clients
from tests.integration.lifecycle.test_tuner_lost_events import TUNING_EVENT
from tests.integration.lifecycle.test_tuning_finished_notice import Outage
from tests.integration.notify.test_notify import press, signed
from tests.unit.domain.slack_limits import slack_refusals

TWO_HOURS = {"version": 1, "defaults": {"keep_alive_strategy": "fixed-7200"}}


def parallel_sweep_ended(system: System, tags: dict[str, str] | None, status: str = "Stopped") -> None:
    """Three trials at once, each on a pool of its own, idle and left to the sweep; then it ends."""
    system.set_policy(TWO_HOURS)
    trials = [training_job_request(f"par-00{i}-a1b2c3d4", tags=tags) for i in (1, 2, 3)]
    system.control.start_tuning_job("par", trials)
    system.settle()
    for trial in trials:
        system.control.complete_job(trial["TrainingJobName"])
        system.settle()
    assert system.notifications() == []  # nothing per trial while the sweep runs
    system.control.complete_tuning_job("par", status)
    system.settle()


def test_an_untagged_sweep_is_warned_of_its_missing_tags_once_not_once_per_pool(system: System) -> None:
    parallel_sweep_ended(system, tags=None)

    said = system.notifications()
    kinds = sorted(n["kind"] for n in said)
    # each pool's own decision (its buttons), the sweep's end once, and the missing tags once
    assert kinds == ["extended", "extended", "extended", "missing-tags", "tuning-job-finished"]
    assert [u["seconds"] for u in system.control.update_calls()] == [3600, 3600, 3600]
    for pool in ("par-001-a1b2c3d4", "par-002-a1b2c3d4", "par-003-a1b2c3d4"):
        record = system.registry.get(pool)
        assert record is not None
        assert record.last_decision is not None
        # each decision still says why its pool counts for the default team
        assert "no `team` tag: treated as team platform" in record.last_decision.reasons

    # the pools' later looks say nothing of it again
    system.advance(3600)
    assert [n["kind"] for n in system.notifications() if n["kind"] == "missing-tags"] == []

    # once per tuning job, not once per anything else: two untagged jobs of no sweep, two warnings
    for name, volume in (("solo-1", 30), ("solo-2", 40)):
        system.run_job(name, 60, volume_size_gb=volume)
    said = [n for n in system.notifications() if n["kind"] == "missing-tags"]
    assert sorted(n["job_name"] for n in said) == ["solo-1", "solo-2"]


SLACK_POLICY = {
    **TWO_HOURS,
    "notifications": {
        "slack_users": {"alice": "UALICE"},
        "teams": {"vision": {"slack_webhook_key": "vision"}},
    },
}
VISION = {"team": "vision", "owner": "alice"}
outage = notices.outage  # the notice's sends fail while it is set


def test_a_parallel_sweeps_end_is_one_slack_message_saying_what_became_of_each_pool(system: System) -> None:
    boto3.client("secretsmanager").put_secret_value(
        SecretId=system.env.slack_webhooks_secret_arn,
        SecretString=json.dumps({"vision": system.slack.url("vision")}),
    )
    system.set_policy(SLACK_POLICY)
    trials = [training_job_request(f"wide-00{i}-a1b2c3d4", tags=VISION) for i in range(1, 9)]
    names = [t["TrainingJobName"] for t in trials]
    system.control.start_tuning_job("wide", trials)
    system.settle()
    for name in names:
        system.control.complete_job(name)
        system.settle()
    assert system.slack.delivered("vision") == []  # nothing while the sweep runs
    system.control.complete_tuning_job("wide")
    system.settle()

    # one Slack message, not nine: the sweep's end, each pool on a line of it with its buttons
    posted = system.slack.delivered("vision")
    assert len(posted) == 1
    blocks = posted[0]["body"]["blocks"]
    assert slack_refusals(blocks) == []
    shown = blocks_as_text(blocks)
    assert shown.startswith("<@UALICE> Tuning job wide finished\n")
    for name in names:
        assert f"- {name} (ml.g5.2xlarge x1): kept warm until 2026-" in shown
    assert "by defaults.keep_alive_strategy: strategy fixed-7200" in shown
    presses = [json.loads(e["value"]) for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert sorted({p["job"] for p in presses}) == names  # each pool's Extend 30/60 and Release now
    assert len(presses) == 3 * len(names)

    # SNS keeps its contract: a message per pool's decision, and the sweep's end listing them all
    said = system.notifications()
    assert sorted(n["kind"] for n in said) == ["extended"] * 8 + ["tuning-job-finished"]
    for n in said:
        if n["kind"] == "extended":
            assert n["facts"]["slack_told_with_tuning_job"] == "wide"
    finished = next(n for n in said if n["kind"] == "tuning-job-finished")
    listed = finished["facts"]["sweep_pools"]
    assert sorted(p["job_name"] for p in listed) == names
    assert {(p["action"], p["warm_pool_status"]) for p in listed} == {("extend", "Available")}

    # alice releases one pool from it: the message, which acts on the other pools too, stays as it is
    # (a one-pool message is replaced by one without buttons), and the answer comes beside it
    actions = [b for b in blocks if b["type"] == "actions"]
    release = next(e for e in actions[1]["elements"] if e["action_id"] == "warmpool_release")
    payload = {
        "type": "block_actions",
        "user": {"id": "UALICE", "username": "ualice"},
        "actions": [{**release, "block_id": actions[1]["block_id"]}],
        "response_url": system.slack.url("sweep-message"),
        "trigger_id": "1.2.abc",
    }
    status, answer = system.press(signed(urlencode({"payload": json.dumps(payload)})))
    assert (status, answer.split(" (")[0]) == (200, f"release {names[1]}: done")
    (posted_back,) = system.slack.delivered("sweep-message")
    assert "replace_original" not in posted_back["body"]
    job = system.sagemaker.describe_training_job(TrainingJobName=names[1])
    assert job["WarmPoolStatus"]["Status"] == "Terminated"
    system.notifications()

    # the pools' later steps are each pool's own, in Slack too
    system.advance(3 * 3600)
    later = system.slack.delivered("vision")[1:]
    assert sorted(
        m["body"]["text"].split(" expires at ")[0] for m in later if "expires at" in m["body"]["text"]
    ) == [f"Warm pool of {name}" for name in names if name != names[1]]


def test_a_sweeps_end_whose_notice_the_reconciler_sends_still_lists_every_pool_in_slack(
    system: System, outage: Outage
) -> None:
    """The notice's send fails at every try of the sweep's event (the pools were handed back and
    their decisions sent to SNS at the first): the reconciler's run sends it, and Slack hears of each
    pool in it, once."""
    boto3.client("secretsmanager").put_secret_value(
        SecretId=system.env.slack_webhooks_secret_arn,
        SecretString=json.dumps({"vision": system.slack.url("vision")}),
    )
    system.set_policy(SLACK_POLICY)
    trials = [training_job_request(f"flaky-00{i}-a1b2c3d4", tags=VISION) for i in (1, 2, 3)]
    system.control.start_tuning_job("flaky", trials)
    system.settle()
    for trial in trials:
        system.control.complete_job(trial["TrainingJobName"])
        system.settle()
    outage.send_fails_with = RuntimeError("injected: SQS unavailable")
    system.control.complete_tuning_job("flaky")
    system.settle()  # every try of the event fails to send the notice: it ends in the DLQ
    assert len(outage.failed_sends) == 5
    assert system.slack.delivered("vision") == []  # the pools' decisions are for the sweep's message

    outage.send_fails_with = None
    system.advance(300)
    system.reconcile()

    posted = system.slack.delivered("vision")
    assert len(posted) == 1
    shown = blocks_as_text(posted[0]["body"]["blocks"])
    assert shown.startswith("<@UALICE> Tuning job flaky finished\n")
    for trial in trials:
        assert f"- {trial['TrainingJobName']} (ml.g5.2xlarge x1): kept warm until" in shown
    said = system.notifications()
    assert sorted(n["kind"] for n in said) == ["extended"] * 3 + ["tuning-job-finished"]
    system.advance(300)
    system.reconcile()
    assert system.slack.delivered("vision")[1:] == []  # once


def sweep_of_three_whose_final_event_is_lost(system: System, name: str, *, late: bool = False) -> list[str]:
    """Three trials on pools of their own, idle and left to the sweep, Slack set for their team; the
    sweep ends and EventBridge never delivers its event. `late`: the last trial's events are not
    delivered yet either (put back on the queue for the test to deliver). Returns the trials' names."""
    boto3.client("secretsmanager").put_secret_value(
        SecretId=system.env.slack_webhooks_secret_arn,
        SecretString=json.dumps({"vision": system.slack.url("vision")}),
    )
    system.set_policy(SLACK_POLICY)
    trials = [training_job_request(f"{name}-00{i}-a1b2c3d4", tags=VISION) for i in (1, 2, 3)]
    names = [t["TrainingJobName"] for t in trials]
    system.control.start_tuning_job(name, trials)
    system.settle()
    for trial in names:
        system.control.complete_job(trial)
        if not late or trial != names[-1]:
            system.settle()
    system.control.complete_tuning_job(name)
    queued = system.messages(system.env.lifecycle_queue_url)
    lost = [m for m in queued if json.loads(m["Body"])["detail-type"] == TUNING_EVENT]
    assert len(lost) == 1  # EventBridge never delivers it
    for message in queued:
        if message not in lost:  # the last trial's, late
            system.sqs.send_message(QueueUrl=system.env.lifecycle_queue_url, MessageBody=message["Body"])
    assert len(queued) == (2 if late else 1)  # and the last trial's Completed
    assert all(record.tuner_owned for n in names[:2] if (record := system.registry.get(n)) is not None)
    assert system.slack.delivered("vision") == []
    system.notifications()
    return names


def assert_one_sweep_message(
    system: System, name: str, names: list[str], kinds: tuple[str, ...] = ("extended",) * 3
) -> None:
    posted = system.slack.delivered("vision")
    assert len(posted) == 1, [p["body"]["text"] for p in posted]  # not the end, then a message per pool
    shown = blocks_as_text(posted[0]["body"]["blocks"])
    assert shown.startswith(f"<@UALICE> Tuning job {name} finished\n")
    for trial in names:
        assert f"- {trial} (ml.g5.2xlarge x1): kept warm until 2026-" in shown
    said = system.notifications()
    assert sorted(n["kind"] for n in said) == sorted([*kinds, "tuning-job-finished"])
    finished = next(n for n in said if n["kind"] == "tuning-job-finished")
    assert sorted(p["job_name"] for p in finished["facts"]["sweep_pools"]) == names
    pools = [n for n in said if n["kind"] != "tuning-job-finished"]
    assert {n["facts"].get("slack_told_with_tuning_job") for n in pools} == {name}  # SNS only


def test_a_sweep_whose_end_the_reconciler_finds_is_one_slack_message(system: System) -> None:
    """Its event lost, the reconciler found the sweep ended: Slack had the sweep's end listing no pool,
    then a message per pool, instead of the one message the sweep's event gives."""
    names = sweep_of_three_whose_final_event_is_lost(system, "lost")

    report = system.reconcile()

    assert sorted(report["repaired"]) == names
    assert report["failed"] == []
    assert_one_sweep_message(system, "lost", names)
    system.advance(300)
    system.reconcile()
    assert system.slack.delivered("vision")[1:] == []  # once


def test_a_sweep_whose_end_a_look_at_one_of_its_pools_finds_is_one_slack_message(system: System) -> None:
    """Its event lost, a look at one of its pools (here its trial's events, late) found the
    sweep ended: its end went to Slack listing no pool, then that pool's message, then one per other
    pool as later looks found them. That look now hands back every pool of the sweep, and Slack has
    one message."""
    names = sweep_of_three_whose_final_event_is_lost(system, "seen", late=True)

    system.settle()  # the last trial's events, late: its look finds the sweep ended

    assert all(record is not None and not record.tuner_owned for record in map(system.registry.get, names))
    # the late trial's pool is first seen Available by that look: ready, kept warm, in the sweep's message
    assert_one_sweep_message(system, "seen", names, ("extended", "extended", "pool-ready"))
    system.advance(300)
    system.reconcile()
    assert system.slack.delivered("vision")[1:] == []  # once


def test_a_sweeps_pool_a_look_could_not_hand_back_is_logged_and_counted_then_handed_back(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    """A look that found the sweep ended handed back its other pools, and one whose look failed (here
    SageMaker throttled its describe past every retry) was left to the tuner without a word: nothing
    was lost (the reconciler's next run hands it back), but on-call saw nothing. The function now logs
    which pool and why, and counts it (SweepPoolsDeferred)."""
    names = sweep_of_three_whose_final_event_is_lost(system, "seen", late=True)
    capsys.readouterr()

    with hooked("provide-client-params.sagemaker.DescribeTrainingJob", describe_of_fails(names[0])):
        fresh_clients()
        system.settle()  # the last trial's events, late: its look finds the sweep ended
    fresh_clients()

    output = capsys.readouterr().out
    logged = [json.loads(line) for line in output.splitlines() if "sweep pool not handed back" in line]
    assert [(line["level"], line["pool"].split(":")[0]) for line in logged] == [("WARNING", names[0])]
    assert "ThrottlingException" in logged[0]["pool"]
    counted = [d["SweepPoolsDeferred"] for d in emf_documents(output) if "SweepPoolsDeferred" in d]
    assert counted == [[1.0]]
    first = system.registry.get(names[0])
    assert first is not None
    assert first.tuner_owned  # left to the tuner, not lost
    others = [system.registry.get(name) for name in names[1:]]
    assert all(record is not None and not record.tuner_owned for record in others)

    system.advance(300)
    report = system.reconcile()  # the next run hands it back
    assert names[0] in report["repaired"]
    first = system.registry.get(names[0])
    assert first is not None
    assert not first.tuner_owned


def test_a_sweeps_end_of_300_pools_with_long_reasons_reaches_sns_and_slack_naming_every_pool(
    system: System,
) -> None:
    """The engine queues a sweep's end for the notifier with every pool and its decision's reasons (cut
    at 200 characters each): 300 pools with four reasons each passed SQS's 256 KiB, so its send failed
    at every try and the notice was never sent; and its SNS copy, past even the compact list, was cut
    to its first 16 KB. It is queued now as its SNS copy lists it (as a digest is), and at 300 pools
    with the longest names a sweep's trials have (a tuning job's 32 characters, then -NNN-xxxxxxxx),
    that copy lists each pool by what says which pool and what became of it."""
    boto3.client("secretsmanager").put_secret_value(
        SecretId=system.env.slack_webhooks_secret_arn,
        SecretString=json.dumps({"vision": system.slack.url("vision")}),
    )
    system.set_policy(SLACK_POLICY)
    tuning = "t" * 32
    names = [f"{tuning}-{i:03d}-a1b2c3d4" for i in range(300)]
    released = set(names[::7])
    pools = [
        {
            "pool_id": name,
            "job_name": name,
            "instance_type": "ml.g5.2xlarge",
            "instance_count": 1,
            "warm_pool_status": "Terminated" if name in released else "Available",
            "warm_until": None if name in released else "2026-03-02T11:00:00+00:00",
            "action": "release" if name in released else "extend",
            "dry_run": False,
            "rule": "defaults.keep_alive_strategy",
            "reasons": [f"reason {n}: " + "r" * 190 for n in range(4)],  # as the engine cuts them
        }
        for name in names
    ]
    notice = Notification(
        NotificationKind.TUNING_JOB_FINISHED,
        Severity.INFO,
        names[0],
        names[0],
        int(datetime(2026, 3, 2, 9, 30, tzinfo=UTC).timestamp()),
        "vision",
        "alice",
        {
            "pool_id": names[0],
            "job_name": names[0],
            "team": "vision",
            "owner": "alice",
            "tuning_job_name": tuning,
            "tuning_job_status": "Completed",
            "best_training_job": names[0],
            "sweep_pools": pools,
        },
    )

    # as the engine sends it (`_send_tuning_finished`), within SQS's 256 KiB (less room for the attributes)
    queued = listed_sweep(notice)
    assert len(notification_to_json(notice).encode()) > 256 * 1024
    assert len(notification_to_json(queued).encode()) < 256 * 1024 - 8 * 1024
    SqsNotificationOutbox(system.sqs, system.env.notify_queue_url).send(queued)
    system.settle()

    (finished,) = system.notifications()
    listed = finished["facts"]["sweep_pools"]
    assert [p["job_name"] for p in listed] == names
    assert {p["job_name"] for p in listed if p["action"] == "release"} == released
    assert finished["facts"]["sweep_reasons_left_out"] is True
    posted = system.slack.delivered("vision")
    assert posted  # in parts: one message would cut the names
    shown = "\n".join(blocks_as_text(p["body"]["blocks"]) for p in posted)
    assert shown.startswith(f"<@UALICE> Tuning job {tuning} finished")
    for name in names:
        what = "released" if name in released else "kept warm until 2026-03-02 11:00:00 UTC"
        assert f"- {name}: {what}." in shown
    assert all(slack_refusals(p["body"]["blocks"]) == [] for p in posted)


def test_a_sweeps_pool_a_persons_request_could_not_hand_back_is_logged_by_the_slack_worker(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    """As above, the look being a person's press on one of the sweep's pools (the Slack worker's): the
    pool it could not hand back was counted, and no line said which."""
    names = sweep_of_three_whose_final_event_is_lost(system, "asked")
    capsys.readouterr()

    with hooked("provide-client-params.sagemaker.DescribeTrainingJob", describe_of_fails(names[0])):
        fresh_clients()
        slack_interactive.runtime.cache_clear()
        status, answer = system.press(signed(press(names[2], "warmpool_extend_60", "UALICE")))
    fresh_clients()
    slack_interactive.runtime.cache_clear()

    assert (status, answer.split(":")[0]) == (200, f"extend {names[2]}")
    output = capsys.readouterr().out
    logged = [json.loads(line) for line in output.splitlines() if "sweep pool not handed back" in line]
    assert [(line["level"], line["pool"].split(":")[0]) for line in logged] == [("WARNING", names[0])]
    counted = [d["SweepPoolsDeferred"] for d in emf_documents(output) if "SweepPoolsDeferred" in d]
    assert counted == [[1.0]]
    first = system.registry.get(names[0])
    assert first is not None
    assert first.tuner_owned  # left to the tuner: the reconciler's next run hands it back
