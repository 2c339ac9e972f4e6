"""What a notification says: subject, text, Slack blocks."""

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import Block
from warmpool.domain.codec import notification_to_json
from warmpool.domain.messages import (
    ACTION_RELEASE,
    SNS_MESSAGE_LIMIT,
    RenderedMessage,
    blocks_as_text,
    listed_digest,
    plain_blocks,
    render,
    slack_text,
    sns_message,
    within_slack_limits,
    without_buttons,
)
from warmpool.domain.model import Action, Decision, Notification, NotificationKind, Severity
from warmpool.domain.policy.document import PolicyDocument
from warmpool.domain.routing import route

from tests.unit.domain.slack_limits import formatted_by_slack, slack_refusals


def note(kind: NotificationKind, job: str = "bert-finetune-7", **facts: object) -> Notification:
    base: dict[str, object] = {
        "instance_type": "ml.g5.2xlarge",
        "instance_count": 2,
        "warm_until": datetime(2026, 3, 2, 10, 0, tzinfo=UTC).isoformat(),
    }
    return Notification(kind, Severity.INFO, "pool-1", job, 3, "vision", "alice", {**base, **facts})


def blocks(message: RenderedMessage) -> list[dict[str, Any]]:
    """The blocks of a message Slack gets as one."""
    (only,) = message.slack
    return only.blocks


def test_the_subject_fits_sns_and_says_it_was_cut() -> None:
    long_name = "x" * 63  # the longest training job name SageMaker accepts
    message = render(note(NotificationKind.POOL_READY, job=long_name))
    assert len(message.subject) == 99  # SNS wants it under 100
    assert message.subject.endswith("...")
    assert message.text.startswith(f"Warm pool ready: {long_name} (ml.g5.2xlarge x2)")


def test_the_subject_is_one_line_of_ascii_as_sns_requires() -> None:
    team = "vïsion\nteam"  # a tag value: anything goes
    message = render(Notification(NotificationKind.DAILY_DIGEST, Severity.INFO, "p", "j", 1, team, None, {}))
    assert message.subject == "Warm pools of team v?sion team: daily digest"
    assert message.text.startswith("Warm pools of team vïsion")  # the message itself keeps the name


def test_text_from_a_job_is_escaped_for_slack_but_not_elsewhere() -> None:
    failure = "AlgorithmError: <!channel> & see <https://evil.example|logs>"
    message = render(
        note(NotificationKind.RELEASED, job_status="Failed", failure_reason=failure), mention="U123"
    )
    slack = json.dumps(blocks(message))
    assert "<!channel>" not in slack
    assert "&lt;!channel&gt; &amp; see &lt;https://evil.example|logs&gt;" in slack
    assert blocks(message)[0]["text"] == {"type": "mrkdwn", "text": "<@U123>", "verbatim": True}  # stays live
    assert f"Job failed: {failure}." in message.text  # SNS text and JSON keep the words as they are
    assert failure in blocks_as_text(blocks(message))  # and the demo's terminal shows them plainly


def test_pools_people_can_act_on_get_buttons_and_others_do_not() -> None:
    ready = render(note(NotificationKind.POOL_READY))
    actions = [b for b in blocks(ready) if b["type"] == "actions"]
    assert len(actions) == 1
    elements = actions[0]["elements"]
    assert [e["text"]["text"] for e in elements] == ["Extend 30 min", "Extend 60 min", "Release now"]
    assert elements[2]["action_id"] == ACTION_RELEASE
    assert json.loads(elements[0]["value"]) == {"job": "bert-finetune-7", "pool": "pool-1"}
    # a release cannot be taken back: Slack asks first, naming the job; an extension asks nothing
    confirm = elements[2]["confirm"]
    assert confirm["title"]["text"] == "Release the warm pool?"
    assert "bert-finetune-7" in confirm["text"]["text"]
    assert "starts cold" in confirm["text"]["text"]
    assert (confirm["confirm"]["text"], confirm["deny"]["text"]) == ("Release now", "Keep it")
    assert "confirm" not in elements[0]
    assert "confirm" not in elements[1]
    # and the demo's terminal shows the dialog a press on "Release now" opens, not only three buttons
    assert blocks_as_text(blocks(ready)).splitlines()[-2:] == [
        "[Extend 30 min]  [Extend 60 min]  [Release now]",
        "[Release now] asks first: Release the warm pool? The warm pool of bert-finetune-7 stops now; the "
        "next matching job starts cold.  [Keep it]  [Release now]",
    ]
    released = render(note(NotificationKind.RELEASED))
    assert not [b for b in blocks(released) if b["type"] == "actions"]


def test_the_daily_digest_lists_each_warm_pool_and_the_cost() -> None:
    digest = Notification(
        NotificationKind.DAILY_DIGEST,
        Severity.INFO,
        "digest-vision",
        "",
        20260302,
        "vision",
        None,
        {
            "date": "2026-03-02",
            "warm_pools": [
                {
                    "job_name": "a-1",
                    "instance_type": "ml.g5.2xlarge",
                    "instance_count": 1,
                    "owner": "alice",
                    "available_since": "2026-03-02T08:00:00+00:00",
                    "warm_until": "2026-03-02T10:00:00+00:00",
                }
            ],
            "warm_instances": 1,
            "idle_cost_today_usd": 1.5,
            "idle_cost_month_usd": 12.25,
        },
    )
    message = render(digest)
    assert message.subject == "Warm pools of team vision: daily digest"
    assert message.text.splitlines()[1:] == [
        "1 warm pool (1 instance) on 2026-03-02; idle cost $1.50 today, $12.25 this month.",
        "- a-1 (ml.g5.2xlarge x1, owner alice): idle since 2026-03-02 08:00:00 UTC, "
        "warm until 2026-03-02 10:00:00 UTC",
    ]
    assert not [b for b in blocks(message) if b["type"] == "actions"]


def test_a_digest_of_many_pools_fits_slack_and_sns() -> None:
    pools = [
        {
            "pool_id": f"vision-resnet50-finetune-lr-sweep-{i:04d}",
            "job_name": f"vision-resnet50-finetune-lr-sweep-{i:04d}",
            "owner": "alice",
            "instance_type": "ml.g5.2xlarge",
            "instance_count": 1,
            "available_since": "2026-03-02T08:00:00+00:00",
            "warm_until": "2026-03-02T10:00:00+00:00",
            "idle_cost_so_far_usd": 1.5,
        }
        for i in range(2000)
    ]
    facts = {"date": "2026-03-02", "warm_pools": pools, "warm_instances": 2000}
    digest = Notification(
        NotificationKind.DAILY_DIGEST, Severity.INFO, "digest-vision", "", 20260302, "vision", None, facts
    )
    message = render(digest)
    # Slack: sections of at most 3000 characters, at most 50 blocks (slack-sdk's own Block Kit checks)
    for part in message.slack:
        assert len(part.blocks) <= 50
        for block in part.blocks:
            parsed = Block.parse(block)
            assert parsed is not None
            parsed.validate_json()
    # SNS: the Message stays under its 256 KiB, and says how many pools it left out
    assert len(sns_message(message.text, message.document).encode()) < 256 * 1024
    listed = message.document["facts"]["warm_pools"]
    left_out = message.document["facts"]["warm_pools_left_out"]
    assert 100 < len(listed) < 2000
    assert len(listed) + left_out == 2000
    lines = message.text.splitlines()
    assert lines[1].startswith("2,000 warm pools (2,000 instances) on 2026-03-02")
    assert lines[-1] == (
        f"...and {left_out:,} more warm pools, left out of this message: "
        "`warmpool pools list --team vision --status Available` lists them all."
    )
    assert len(lines) == 2 + len(listed) + 1


def _cut_inside_an_escape(text: str) -> bool:
    return re.search(r"&(a|am|amp|l|lt|g|gt)?\u2026$", text) is not None


def test_a_long_line_is_cut_for_slack_between_escapes_never_through_one() -> None:
    for shift in range(16):  # every place the cut can fall in `&lt;b&gt; &amp; `
        failure = "x" * shift + "<b> & " * 1000
        message = render(note(NotificationKind.RELEASED, job_status="Failed", failure_reason=failure))
        sections = [b["text"]["text"] for b in blocks(message) if b["type"] == "section"]
        cut = [text for text in sections if "Job failed" in text]
        assert len(cut) == 1
        assert cut[0].endswith("\u2026"), shift
        assert all(len(text) <= 3000 for text in sections)
        assert not _cut_inside_an_escape(cut[0]), (shift, cut[0][-12:])
        text = slack_text("Warm pool of j released\n" + failure * 10)
        assert len(text) <= 40_000
        assert text.startswith("Warm pool of j released\n")
        assert not _cut_inside_an_escape(text), (shift, text[-12:])


def test_any_slack_payload_is_cut_to_slack_s_limits_without_breaking_a_mention_or_a_link() -> None:
    link = "<https://logs.example/run/" + "7" * 40 + "|the logs>"
    for shift in range(len(link)):  # the cut falls everywhere in the link
        words = "a" * (40_000 - 1 - shift) + link + " more"
        section = {"type": "section", "text": {"type": "mrkdwn", "text": "<@U1> " + "b" * 5000}}
        actions = {"type": "actions", "elements": []}
        text, blocks = within_slack_limits(words, [section, actions])
        assert len(text) <= 40_000
        assert text.endswith("\u2026")
        opened = text.rfind("<")
        assert opened == -1 or text.rfind(">") > opened, text[-60:]  # a whole link, or none of it
        assert len(blocks[0]["text"]["text"]) == 3000
        assert blocks[0]["text"]["text"].startswith("<@U1> bbb")
        assert blocks[1] == actions
    short = {"type": "section", "text": {"type": "mrkdwn", "text": "fits"}}
    assert within_slack_limits("fits", [short]) == ("fits", [short])


def test_money_is_shown_in_dollars_and_cents_as_the_digest_shows_it() -> None:
    """A pool's idle cost is money spent: cents, not the raw float of the facts (`$1.4544`, `$0.0`);
    its hourly price keeps the tenth of a cent SageMaker's prices have (`$2.424/h`)."""
    ready = render(note(NotificationKind.POOL_READY, cost_per_hour_usd=5.0, idle_cost_so_far_usd=0.0))
    assert "Idle cost $5.00/h, $0.00 so far." in ready.text.splitlines()
    assert "Idle cost $5.00/h, $0.00 so far." in blocks_as_text(blocks(ready))
    soon = render(
        note(NotificationKind.EXPIRING_SOON, cost_per_hour_usd=2.424, idle_cost_so_far_usd=1234.4544)
    )
    assert "Idle cost $2.424/h, $1,234.45 so far." in soon.text.splitlines()
    assert soon.document["facts"]["idle_cost_so_far_usd"] == 1234.4544  # machines keep the number


def test_a_tag_value_that_looks_like_a_link_or_a_mention_is_shown_as_written_in_slack() -> None:
    """`https://...` and `@channel` are valid tag values (SageMaker allows `:/.@`): Slack turns plain
    URLs into links and parses "certain mentions" in mrkdwn text unless the text object is `verbatim`
    (Block Kit text object), and does neither in `plain_text`. Our own mention still works."""
    owner = "@channel https://evil.example/login #general"
    message = render(
        Notification(
            NotificationKind.POOL_READY,
            Severity.INFO,
            "pool-1",
            "bert-finetune-7",
            3,
            "https://evil.example",
            owner,
            {"instance_type": "ml.g5.2xlarge", "instance_count": 2, "routing_note": f"owner {owner}"},
        ),
        mention="U123",
    )
    mention, header, *texts = [b["text"] for b in blocks(message) if b["type"] in ("section", "header")]
    assert any(owner in t["text"] for t in texts)
    # plain_text: Slack neither links nor mentions in it; our own mention is mrkdwn, and verbatim
    assert all(t == {"type": "plain_text", "text": t["text"], "emoji": False} for t in texts), texts
    assert mention == {"type": "mrkdwn", "text": "<@U123>", "verbatim": True}
    assert header["text"].startswith("Warm pool ready: bert-finetune-7 ")
    for block in blocks(message):
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()


def test_what_a_job_must_match_is_written_as_people_write_it() -> None:
    # subnets and security groups were Python lists (`VpcConfig.Subnets=['subnet-1', 'subnet-2']`), and a
    # flag Python's True
    match = {
        "RoleArn": "arn:aws:iam::123456789012:role/train",
        "ResourceConfig.InstanceType": "ml.g5.2xlarge",
        "VpcConfig.Subnets": ["subnet-1", "subnet-2"],
        "VpcConfig.SecurityGroupIds": [],
        "EnableNetworkIsolation": True,
    }
    ready = render(note(NotificationKind.POOL_READY, match=match))
    assert (
        "To reuse it, a job must match: RoleArn=arn:aws:iam::123456789012:role/train, "
        "ResourceConfig.InstanceType=ml.g5.2xlarge, VpcConfig.Subnets=subnet-1 subnet-2, "
        "EnableNetworkIsolation=true."
    ) in ready.text.splitlines()


def test_a_ready_pool_whose_match_is_unknown_has_no_empty_match_line() -> None:
    # a pool whose match fields are not known says nothing of them, rather than "must match: ."
    ready = render(note(NotificationKind.POOL_READY))
    assert not any("must match" in line for line in ready.text.splitlines())


def longest_digest(pools: int) -> Notification:
    """A digest of the longest texts SageMaker allows: 63-character job names, 256-character team and
    owner tags."""
    listed = [
        {
            "pool_id": f"pool-{i}",
            "job_name": f"{i:04d}-" + "j" * 58,
            "owner": "o" * 255 + str(i % 10),
            "instance_type": "ml.p4de.24xlarge",
            "instance_count": 16,
            "available_since": "2026-03-02T08:00:00+00:00",
            "warm_until": "2026-03-02T10:00:00+00:00",
            "idle_cost_so_far_usd": 1234.5,
        }
        for i in range(pools)
    ]
    facts = {"date": "2026-03-02", "warm_pools": listed, "warm_instances": 16 * pools}
    team = "t" * 256
    return Notification(
        NotificationKind.DAILY_DIGEST, Severity.INFO, f"digest-{team}", "", 20260302, team, None, facts
    )


def test_a_digest_of_hundreds_of_pools_comes_to_slack_in_parts_each_within_every_limit() -> None:
    message = render(longest_digest(400))
    assert len(message.slack) > 1
    for part in message.slack:
        assert slack_refusals(part.blocks) == []
        assert len(part.text) <= 40_000
    # each part says which it is in its header; the first has the whole headline (the header cuts it)
    headers = [part.blocks[0]["text"]["text"] for part in message.slack]
    count = len(message.slack)
    assert [h[h.rindex(" (part ") :] for h in headers] == [
        f" (part {k} of {count})" for k in range(1, count + 1)
    ]
    assert all(h.startswith("Warm pools of team ttt") for h in headers)
    shown = [blocks_as_text(part.blocks).splitlines() for part in message.slack]
    assert shown[0][1] == f"Warm pools of team {'t' * 256}: daily digest"
    # every pool the SNS copy lists is in exactly one part, in order; none is dropped unsaid
    listed = [p["job_name"] for p in message.document["facts"]["warm_pools"]]
    in_slack = [line[2:].split(" (")[0] for lines in shown for line in lines if line.startswith("- ")]
    assert in_slack == listed
    left_out = message.document["facts"]["warm_pools_left_out"]
    assert len(listed) + left_out == 400
    assert shown[-1][-1] == (
        f"...and {left_out} more warm pools, left out of this message: "
        f"`warmpool pools list --team {'t' * 256} --status Available` lists them all."
    )


def test_a_digest_that_fits_one_slack_message_is_one_message_without_parts() -> None:
    message = render(longest_digest(10))
    (only,) = message.slack
    assert slack_refusals(only.blocks) == []
    assert " (part " not in json.dumps(only.blocks)
    assert len([line for line in blocks_as_text(only.blocks).splitlines() if line.startswith("- ")]) == 10


def test_one_pool_s_message_with_the_longest_texts_stays_one_message_within_every_limit() -> None:
    """A failure reason of 1024 characters (all `&`, five each once escaped), 256-character tags, what a
    job must match, the decision's reasons: one message still, its buttons last, the longest lines cut
    ("…") and a last line saying so; the short lines whole."""
    match = {
        "RoleArn": "arn:aws:iam::123456789012:role/" + "r" * 2000,
        "AlgorithmSpecification.TrainingImage": "i" * 255,
        "VpcConfig.Subnets": [f"subnet-{i:017x}" for i in range(16)],
        "OutputDataConfig.KmsKeyId": "arn:aws:kms:us-east-1:123456789012:alias/" + "k" * 2000,
    }
    decision = Decision(
        Action.KEEP, 3600, 3600, None, "teams.vision.keep_alive_strategy", ("x_y *z* " * 400,)
    )
    owner = "o_w*n~e`r" * 28
    notification = replace(
        note(
            NotificationKind.POOL_READY,
            job="j" * 63,
            job_status="Failed",
            failure_reason="&" * 1024,
            cost_per_hour_usd=5.0,
            idle_cost_so_far_usd=1.0,
            match=match,
            routing_note=f"owner {owner} has no Slack user; team {'t' * 256} has no channel",
        ),
        team="t" * 256,
        owner=owner,
        decision=decision,
    )
    message = render(notification, mention="U123")
    (only,) = message.slack
    assert slack_refusals(only.blocks) == []
    assert formatted_by_slack(only.blocks) == []
    assert only.blocks[-1]["type"] == "actions"
    shown = blocks_as_text(only.blocks).splitlines()
    assert "Idle cost $5.00/h, $1.00 so far." in shown
    # the three long lines (failure, what to match, the decision) are cut to one length, all shorter
    # than a section's 3000, to make room for the rest
    sent = [line for b in only.blocks if b["type"] == "section" for line in b["text"]["text"].splitlines()]
    long_ones = [line for line in sent if line.startswith(("Job failed: ", "To reuse it", "Decided by"))]
    assert len(long_ones) == 3
    assert all(line.endswith("\u2026") and len(line) < 3000 for line in long_ones), [
        len(x) for x in long_ones
    ]
    assert shown[-4].endswith("has no channel")  # the routing note, whole
    assert (
        shown[-3]
        == "Lines ending in \u2026 were cut to fit Slack; the SNS copy of this message has them whole."
    )
    assert message.text.count("&") == 1024  # SNS has it all


def test_text_from_a_job_or_aws_shows_in_slack_as_written_never_formatted() -> None:
    """Slack's mrkdwn has no escape for `*`, `_`, `~` or a backtick: a reason quoting `bad *value*` would
    show bold, a field named `max_extend_minutes` in italics. Such text is plain_text, which Slack shows
    as written; only the owner's mention is mrkdwn."""
    reason = "ValueError: bad *value* in my_var_name, see ~old~ `code` & <this>"
    decided = Decision(Action.KEEP, 600, 600, None, "defaults.max_extend_minutes", ("capped by _max_ *60*",))
    for kind in NotificationKind:
        notification = replace(
            note(kind, job_status="Failed", failure_reason=reason, reason=reason, routing_note="owner a_b_c"),
            team="ml_team_*x*",
            owner="a_b_c",
            decision=decided,
        )
        for part in render(notification, mention="U123").slack:
            assert formatted_by_slack(part.blocks) == [], kind
            assert slack_refusals(part.blocks) == [], kind
    message = render(
        replace(
            note(NotificationKind.RELEASED, job_status="Failed", failure_reason=reason), decision=decided
        ),
        mention="U1",
    )
    texts = [b["text"] for b in blocks(message) if b["type"] == "section"]
    assert texts[0] == {"type": "mrkdwn", "text": "<@U1>", "verbatim": True}
    assert {"type": "plain_text", "emoji": False, "text": texts[1]["text"]} == texts[1]
    assert (
        "Job failed: ValueError: bad *value* in my_var_name, see ~old~ `code` &amp; &lt;this&gt;."
        in texts[1]["text"]
    )
    assert "capped by _max_ *60*" in texts[1]["text"]


def test_the_slack_adapter_cuts_headers_buttons_fields_and_context_to_slack_s_limits() -> None:
    header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 200}}
    fields = {"type": "section", "fields": [{"type": "plain_text", "text": "f" * 2500}]}
    context = {"type": "context", "elements": [{"type": "plain_text", "text": "c" * 3500}]}
    button = {"type": "button", "text": {"type": "plain_text", "text": "b" * 100}, "action_id": "a"}
    actions = {"type": "actions", "elements": [button]}
    assert slack_refusals([header, fields, context, actions]) != []
    _, fitted = within_slack_limits("t", [header, fields, context, actions])
    assert slack_refusals(fitted) == []
    assert fitted[0]["text"]["text"] == "h" * 149 + "\u2026"
    assert fitted[3]["elements"][0]["text"]["text"] == "b" * 74 + "\u2026"
    assert fitted[3]["elements"][0]["action_id"] == "a"


def test_an_answer_to_a_button_is_plain_text_blocks_within_slack_s_limits() -> None:
    answer = slack_text("extend j-1: refused (defaults.max_extend_minutes: a *limit* of " + "&" * 9000 + ")")
    shown = plain_blocks(answer)
    assert slack_refusals(shown) == []
    assert formatted_by_slack(shown) == []
    assert shown[0]["text"]["text"].startswith(
        "extend j-1: refused (defaults.max_extend_minutes: a *limit* of &amp;"
    )


def test_a_digest_of_a_thousand_pools_is_queued_within_sqs_s_size_and_says_what_it_would_have() -> None:
    # the engine queues the digest for the notifier: SQS takes 256 KiB a message, and a run whose send
    # fails fails, every day, for a team with that many warm pools
    whole = longest_digest(1000)
    assert len(notification_to_json(whole).encode()) > 256 * 1024
    queued = listed_digest(whole)
    assert len(notification_to_json(queued).encode()) < 256 * 1024 - 8 * 1024  # room for the attributes
    assert render(queued).text == render(whole).text
    left_out = 1000 - len(queued.facts["warm_pools"])
    assert queued.facts["warm_pools_left_out"] == left_out
    assert render(queued).text.splitlines()[-1].startswith(f"...and {left_out} more warm pools, left out")


def test_a_queued_digest_routed_to_the_platform_admins_still_counts_every_warm_pool() -> None:
    # a team without a Slack channel: the notifier adds the routing note to the digest the engine
    # queued, which then lists a pool or two fewer than the engine did; it said "81 warm pools" of 1,000
    whole = longest_digest(1000)
    pools = [{**p, "owner": p["owner"][:200]} for p in whole.facts["warm_pools"]]
    queued = listed_digest(replace(whole, facts={**whole.facts, "warm_pools": pools}))
    where = route(queued, PolicyDocument())
    assert where.note is not None
    assert "has no Slack channel configured" in where.note
    sent = render(replace(queued, facts={**queued.facts, "routing_note": where.note}), mention=where.mention)
    listed = len(sent.document["facts"]["warm_pools"])
    assert listed < len(queued.facts["warm_pools"])  # the note took the room of a pool
    assert sent.text.splitlines()[1].startswith("1,000 warm pools (16,000 instances)")
    assert sent.document["facts"]["warm_pools_left_out"] == 1000 - listed
    assert f"...and {1000 - listed} more warm pools, left out" in sent.text


def test_every_kind_of_message_with_the_longest_texts_fits_slack_and_keeps_its_buttons_whole() -> None:
    """Each kind of notification, about a job of the longest name SageMaker takes (63 characters, its
    pool named after it), with team and owner tags of 256 characters (`&`, five once escaped), a failure
    reason of 1024, a decision's reasons and a routing note of thousands: every Slack message within
    Block Kit's limits (50 blocks, sections 3000, header 150, button text 75, action_id 255, value 2000,
    the release dialog's title 100, text 300, its buttons 30), the top-level text within 40,000, and the
    buttons' value the job and pool whole, as a press must carry them back."""
    job = "j-" + "x" * 61
    tag = "&" * 256
    decided = Decision(
        Action.RELEASE,
        0,
        0,
        None,
        "teams." + tag + ".max_idle_minutes",
        tuple("why & <not> " * 300 for _ in "ab"),
    )
    for kind in NotificationKind:
        notification = replace(
            note(
                kind,
                job=job,
                job_status="Failed",
                failure_reason="&" * 1024,
                reason="&<>" * 400,
                routing_note=f"owner {tag} has no Slack user; team {tag} has no channel",
                limit=4,
                current=4,
                scope="ml.p4d.24xlarge",
                budget_usd=5.0,
                spent_usd=4.5,
                period="day",
                tuning_job_name="t" * 32,
                best_training_job=job,
            ),
            pool_id=job,
            team=tag,
            owner=tag,
            decision=decided,
        )
        for part in render(notification, mention="U" + "1" * 63).slack:
            assert slack_refusals(part.blocks) == [], kind
            assert len(part.text) <= 40_000, kind
            for block in part.blocks:
                if block["type"] == "header":
                    assert len(block["text"]["text"]) <= 150, kind
                if block["type"] != "actions":
                    continue
                for button in block["elements"]:
                    assert len(button["text"]["text"]) <= 75, kind
                    assert len(button["action_id"]) <= 255, kind
                    assert len(button["value"]) <= 2000, kind
                    assert json.loads(button["value"]) == {"job": job, "pool": job}, kind
                    confirm = button.get("confirm")
                    if confirm is not None:
                        assert len(confirm["title"]["text"]) <= 100, kind
                        assert len(confirm["text"]["text"]) <= 300, kind
                        assert job in confirm["text"]["text"], kind
                        assert len(confirm["confirm"]["text"]) <= 30, kind
                        assert len(confirm["deny"]["text"]) <= 30, kind


def test_every_answer_to_a_press_with_the_longest_texts_fits_slack() -> None:
    """What a press is answered (its outcome with the decision's reasons, a refusal naming an unmapped
    user, "already asked", "gone") about a job of 63 characters, quoting tags of 256: within Slack's
    limits, as plain text."""
    job = "j-" + "x" * 61
    answers = [
        f"extend {job}: partly done (teams.{'&' * 256}.budget: "
        + "; ".join(["why & <not> " * 80] * 10)
        + ")",
        f"release {job}: refused: only the owner or the team's admins may change this pool (Slack user "
        f"{'W' + '9' * 63} is mapped to no owner in notifications.slack_users); nothing was changed.",
        f"extend {job}: already asked: you pressed Extend 60 min 29 s ago, and this press is that request "
        "again; nothing more was done. To add more time, press it again after 30 s.",
        f"The warm pool of {job} is gone or has moved on; nothing to do.",
    ]
    for answer in answers:
        shown = plain_blocks(slack_text(answer))
        assert slack_refusals(shown) == [], answer[:40]
        assert formatted_by_slack(shown) == []


def test_a_message_whose_buttons_are_replaced_fits_slack_with_the_longest_texts() -> None:
    """What replaces a message whose pool a press released (or found gone), about a job of 63
    characters, by a Slack user of a long name, with a decision's long reasons: within Slack's limits,
    as plain text, and without buttons."""
    job = "j-" + "x" * 61
    message = without_buttons(
        f"Warm pool of {job} released " + "&" * 200,
        [
            f"Released by {'u_*' * 40} from Slack at 2026-03-02 09:00:00 UTC.",
            "request.slack: " + "; ".join(["why & <not> " * 80] * 10),
        ],
    )
    assert slack_refusals(message.blocks) == []
    assert formatted_by_slack(message.blocks) == []
    assert all(block["type"] in ("header", "section") for block in message.blocks)
    assert message.blocks[1]["text"]["text"].startswith(f"Warm pool of {job} released &amp;")  # whole


def test_a_pool_kept_past_its_hourly_step_says_until_when_it_is_planned_warm() -> None:
    """A request promised 09:38:18; SageMaker's keep-alive goes an hour at a time, so the step ends at
    09:29. The message said only "kept warm until 09:29", which read as the request cut short."""
    since = datetime(2026, 3, 2, 8, 29, 18, tzinfo=UTC)
    promised = datetime(2026, 3, 2, 9, 38, 18, tzinfo=UTC)
    decision = Decision(
        Action.EXTEND,
        3600,
        int((promised - since).total_seconds()),
        None,
        "request.slack",
        ("alice asked to keep it warm 60 min more",),
        promised_until=promised,
    )
    facts = {
        "available_since": since.isoformat(),
        "warm_until": datetime(2026, 3, 2, 9, 29, tzinfo=UTC).isoformat(),
    }
    extended = render(replace(note(NotificationKind.EXTENDED, **facts), decision=decision))
    assert (
        extended.text.splitlines()[0]
        == "Warm pool of bert-finetune-7 kept warm until 2026-03-02 09:29:00 UTC"
    )
    assert (
        "Planned to stay warm until 2026-03-02 09:38:18 UTC, an hour at most at a time: each step is decided "
        "again before it ends." in extended.text.splitlines()
    )
    assert "Planned to stay warm until 2026-03-02 09:38:18 UTC" in json.dumps(
        [b for m in extended.slack for b in m.blocks]
    )

    # the step is the whole plan: nothing more to say; a dry run carried nothing out
    whole = replace(
        decision, horizon_seconds=int((datetime(2026, 3, 2, 9, 29, 30, tzinfo=UTC) - since).total_seconds())
    )
    assert "Planned" not in render(replace(note(NotificationKind.EXTENDED, **facts), decision=whole)).text
    dry = replace(decision, dry_run=True)
    assert "Planned" not in render(replace(note(NotificationKind.EXTENDED, **facts), decision=dry)).text


def sweep_end(pools: int, *, reason: str = "strategy fixed-7200: keep it two hours") -> Notification:
    """A sweep's end, listing `pools` pools it kept warm (`sweep_pools`), job names of 63 characters."""
    listed = [
        {
            "pool_id": f"{i:03d}" + "j" * 60,
            "job_name": f"{i:03d}" + "j" * 60,
            "instance_type": "ml.p4d.24xlarge",
            "instance_count": 2,
            "warm_pool_status": "Available",
            "warm_until": datetime(2026, 3, 2, 10, 0, tzinfo=UTC).isoformat(),
            "action": "extend",
            "dry_run": False,
            "rule": "defaults.keep_alive_strategy",
            "reasons": [reason],
        }
        for i in range(pools)
    ]
    best = f"000{'j' * 60}"
    return note(
        NotificationKind.TUNING_JOB_FINISHED,
        job=best,
        tuning_job_name="sweep",
        tuning_job_status="Completed",
        best_training_job=best,
        objective_metric="validation:accuracy",
        objective_value=0.91,
        pool_id="pool-1",
        sweep_pools=listed,
    )


def test_a_sweeps_end_says_what_became_of_each_pool_with_each_ones_buttons() -> None:
    released = {"action": "release", "warm_pool_status": "Terminated", "warm_until": None}
    notification = sweep_end(3)
    pools = list(notification.facts["sweep_pools"])
    pools[2] = {
        **pools[2],
        **released,
        "rule": "teams.vision.max_warm_instances",
        "reasons": ["over the limit"],
    }
    message = render(replace(notification, facts={**notification.facts, "sweep_pools": pools}))
    lines = message.text.splitlines()
    assert lines[2] == "Its 3 warm pools, decided now that it has ended:"
    assert lines[3] == (
        f"- {pools[0]['job_name']} (ml.p4d.24xlarge x2): kept warm until 2026-03-02 10:00:00 UTC, "
        "by defaults.keep_alive_strategy: strategy fixed-7200: keep it two hours."
    )
    assert lines[5] == (
        f"- {pools[2]['job_name']} (ml.p4d.24xlarge x2): released, by teams.vision.max_warm_instances: "
        "over the limit."
    )
    only = blocks(message)
    assert slack_refusals(only) == []
    # the pools kept warm get their buttons, each under its job's name; the released one has none
    presses = [json.loads(e["value"]) for b in only if b["type"] == "actions" for e in b["elements"]]
    assert [p["job"] for p in presses] == [pools[0]["job_name"]] * 3 + [pools[1]["job_name"]] * 3
    assert len({b["block_id"] for b in only if b["type"] == "actions"}) == 2


def test_a_sweeps_end_of_many_pools_with_the_longest_reasons_fits_slack_in_one_message() -> None:
    """60 pools, each with a reason as the engine lists it at most (200 characters: the pool's own SNS
    message has it whole), all `&` (five each once escaped): one message within every limit, buttons
    for the first SWEEP_BUTTONS and a line naming the command for the others; SNS has every line whole."""
    message = render(sweep_end(60, reason="&" * 200), mention="U123")
    only = blocks(message)
    assert slack_refusals(only) == []
    assert len([b for b in only if b["type"] == "actions"]) == 10
    shown = blocks_as_text(only)
    assert "50 more pools kept warm: warmpool pools extend|release JOB acts on each of them." in shown
    assert message.text.count("&") == 60 * 200
    assert len(message.document["facts"]["sweep_pools"]) == 60


def test_a_sweeps_end_of_150_pools_with_long_reasons_stays_within_sns_naming_every_pool() -> None:
    """A sweep of 100 or more pools whose decisions' reasons are long passed SNS's 256 KiB: its SNS copy
    was cut to its first 16 KB of text, its JSON document's `sweep_pools` replaced by `left_out`, and
    its Slack message named 10 pools, the others' lines cut: which pools the sweep kept or released was
    lost. Every pool is listed now, by its rule without its reasons (each pool's own message has them
    whole), and, past that too, by what says which pool and what became of it; in Slack in parts when
    one message would cut their names."""
    for pools, fields in (
        (
            80,
            {"pool_id", "job_name", "instance_type", "instance_count", "warm_pool_status", "warm_until"}
            | {"action", "dry_run", "rule"},
        ),
        (150, {"pool_id", "job_name", "warm_pool_status", "warm_until", "action"}),
    ):
        notification = sweep_end(pools, reason="&" * 200)
        message = render(notification, mention="U123")
        assert len(sns_message(message.text, message.document).encode()) <= SNS_MESSAGE_LIMIT
        facts = message.document["facts"]
        names = [p["job_name"] for p in notification.facts["sweep_pools"]]
        assert [p["job_name"] for p in facts["sweep_pools"]] == names
        assert {frozenset(p) for p in facts["sweep_pools"]} == {frozenset(fields)}
        assert {p["action"] for p in facts["sweep_pools"]} == {"extend"}
        assert facts["sweep_reasons_left_out"] is True
        lines = message.text.splitlines()
        assert lines[2] == f"Its {pools} warm pools, decided now that it has ended:"
        assert lines[3 : 3 + pools] == [
            f"- {name} (ml.p4d.24xlarge x2): kept warm until 2026-03-02 10:00:00 UTC, by "
            "defaults.keep_alive_strategy."
            if pools == 80
            else f"- {name}: kept warm until 2026-03-02 10:00:00 UTC."
            for name in names
        ]
        assert "Each pool's reasons are in its own message (SNS), left out here for length." in message.text
        assert "&" not in message.text
        # Slack: one message while its lines show each pool's name whole (80), else parts, as a digest
        # is (150), the mention on the first, the buttons on the last
        assert len(message.slack) == (1 if pools == 80 else 3)
        assert all(slack_refusals(part.blocks) == [] for part in message.slack)
        shown = [blocks_as_text(part.blocks) for part in message.slack]
        text = "\n".join(shown)
        assert all(f"- {name} (" in text or f"- {name}:" in text for name in names)  # each name whole
        assert [text.startswith("<@U123>") for text in shown] == [True] + [False] * (len(shown) - 1)
        actions = [sum(b["type"] == "actions" for b in part.blocks) for part in message.slack]
        assert actions == [0] * (len(shown) - 1) + [10]
        if len(shown) > 1:
            assert "Tuning job sweep finished (part 3 of 3)" in shown[-1]
