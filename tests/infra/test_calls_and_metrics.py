"""The deployed stack against what the code does: each function's role allows every AWS call its code
makes and nothing no call needs, and each alarm watches a metric the code emits, in the namespace and
with the dimensions it emits it.

moto enforces no IAM and CloudWatch is not emulated, so the integration tests pass whatever the roles
allow and whatever the alarms watch: a grant the code needs but the stack lacks, or an alarm on a
metric no function emits (one that can never fire), would show only in production. Here the real
handlers run the flows of a working day (a job's warm pool kept in steps and reused, Slack buttons,
the reconciler's tuning-job paths, SNS and Slack notifications) and the failures the alarms are for;
a botocore hook records each call with the function that made it, and each invocation's EMF output is
read. The calls are then judged against the synthesized template's IAM statements for that function's
role (and each statement against the calls: a grant none needs is reported), and the alarms against
the metrics read.
"""

from __future__ import annotations

import ast
import io
import json
import re
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from warmpool.domain.model import Action
from warmpool.emulator import EmulatorConfig
from warmpool.emulator.jobs import training_job_request
from warmpool.handlers import lifecycle, notifier, reconciler, slack_interactive
from warmpool.local.pumps import Handler, LocalLambdaContext, QueuePump
from warmpool.local.slack_standin import SlackStandIn
from warmpool.service.ports import TUNING_WATCHES_REPAIR

from infra.constants import ASSET_EXCLUDES
from tests.infra.conftest import ROOT, Synthesized
from tests.infra.test_stack import actions, resources, statements
from tests.integration.conftest import System, emf_documents, running_system
from tests.integration.notify.slack_api_fake import SlackApiFake
from tests.integration.notify.test_notify import signed

pytestmark = pytest.mark.slow

REGION, ACCOUNT = "us-east-1", "123456789012"  # moto's
FUNCTIONS = ("Lifecycle", "Reconciler", "Notifier", "SlackInteractive", "SlackPresses")
# Actions that take no resource-level permission: the only ones a role may be granted on "*".
RESOURCELESS = {
    "sagemaker:ListTrainingJobs",
    "sagemaker:ListHyperParameterTuningJobs",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}
TAGS = {"team": "vision", "owner": "alice"}
POLICY: dict[str, Any] = {
    "version": 1,
    "defaults": {"keep_alive_strategy": "fixed-7200", "overrides": {"max_extend_minutes": 60}},
    "notifications": {
        "slack_users": {"alice": "UALICE"},
        "teams": {"vision": {"admins": ["alice"], "slack_webhook_key": "vision"}},
    },
}
INVALID_POLICY = '{"version": 1, "defaults": {"keep_alive_stratgy": "job"}}'


@dataclass(frozen=True)
class Call:
    function: str
    service: str  # the IAM prefix (botocore's signing name)
    operation: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Emitted:
    function: str
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]  # (name, value), sorted


@dataclass
class Observed:
    env: dict[str, str]  # the variables the handlers ran with
    calls: list[Call] = field(default_factory=list)
    emitted: list[Emitted] = field(default_factory=list)
    running: list[str] = field(default_factory=list)

    def as_function(self, name: str, handler: Handler) -> Handler:
        """`handler` invoked as the function `name`: its calls and its EMF output are recorded as its."""

        def invoke(event: dict[str, Any], context: Any) -> Any:
            out = io.StringIO()
            self.running.append(name)
            try:
                with redirect_stdout(out):
                    return handler(event, context)
            finally:
                self.running.pop()
                self.emitted += emf(name, out.getvalue())

        return invoke

    def record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        """botocore's provide-client-params hook: the API parameters, as the code passed them."""
        if self.running:
            service = model.service_model.signing_name
            self.calls.append(
                Call(self.running[-1], service, model.name, json.loads(json.dumps(params, default=str)))
            )

    def metrics(self, function: str | None = None) -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
        return {
            (e.namespace, e.metric, e.dimensions)
            for e in self.emitted
            if function is None or e.function == function
        }


def emf(function: str, output: str) -> list[Emitted]:
    """The metrics of the EMF blobs in a function's output (one JSON object a line)."""
    found = []
    for blob in emf_documents(output):
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = tuple(sorted((name, str(blob[name])) for name in dimension_set))
                for metric in directive["Metrics"]:
                    found.append(Emitted(function, directive["Namespace"], metric["Name"], dimensions))
    return found


@pytest.fixture(scope="module")
def observed() -> Iterator[Observed]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        with running_system(monkeypatch, EmulatorConfig()) as system:
            seen = Observed(env=system.env.env())
            session = boto3.DEFAULT_SESSION
            assert session is not None
            # registered before the handlers' clients exist: a client copies the session's hooks when made
            session.events.register("provide-client-params.*.*", seen.record)
            slack = SlackStandIn().start()
            monkeypatch.setenv("SLACK_RESPONSE_ORIGINS", slack.origin)
            api = SlackApiFake().start()  # Slack's Web API, for a channel in bot-token mode
            monkeypatch.setenv("SLACK_API_URL", api.url)
            notifier.runtime.cache_clear()
            try:
                a_working_day(system, seen, slack, api)
            finally:
                slack.stop()
                api.stop()
                session.events.unregister("provide-client-params.*.*", seen.record)
            yield seen


def a_working_day(system: System, seen: Observed, slack: SlackStandIn, api: SlackApiFake) -> None:
    """The flows whose calls the roles must allow, and the failures whose metrics the alarms watch."""
    env = system.env
    system.lifecycle = QueuePump(
        system.sqs, env.lifecycle_queue_url, seen.as_function("Lifecycle", lifecycle.handler)
    )
    system.notifier = QueuePump(
        system.sqs, env.notify_queue_url, seen.as_function("Notifier", notifier.handler)
    )
    reconcile = seen.as_function("Reconciler", reconciler.handler)
    slack_press = seen.as_function("SlackInteractive", slack_interactive.handler)
    presses = QueuePump(
        system.sqs,
        env.slack_press_queue_url,
        seen.as_function("SlackPresses", slack_interactive.worker),
        batch_size=1,
    )

    def run_reconciler() -> dict[str, Any]:
        result: dict[str, Any] = reconcile({}, LocalLambdaContext())
        system.settle()
        return result

    def button(job: str, action: str, user: str = "UALICE") -> str:
        """A press of a button of the job's pool's message; the answer's text."""
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower()},
            "actions": [{"action_id": action, "value": json.dumps({"job": job, "pool": pool_of(job)})}],
            "response_url": slack.url("respond"),
            "trigger_id": f"{job}.{action}.{user}",
        }
        answered = len(slack.received)
        response = slack_press(signed(urlencode({"payload": json.dumps(payload)})), None)
        assert response["statusCode"] == 200, response
        presses.drain()  # the worker applies the queued press and posts its outcome
        system.settle()
        # the answer: posted after the message's buttons are replaced (a release)
        posted = [r for r in slack.received[answered:] if r["path"] == "/respond"]
        return str(posted[-1]["body"]["text"])

    def pool_of(job: str) -> str:
        pool = system.registry.pool_id_for_job(job)
        assert pool is not None, job
        return pool

    boto3.client("secretsmanager").put_secret_value(
        SecretId=env.slack_webhooks_secret_arn, SecretString=json.dumps({"vision": slack.url("vision")})
    )
    system.set_policy(POLICY)

    # A job's warm pool: kept in one-hour steps (a step scheduled, then taken), reused by the next job.
    system.run_job("day-1", 300, keep_alive_seconds=600, tags=TAGS)
    system.advance(3300)  # the step is due
    system.run_job("day-2", 300, keep_alive_seconds=600, tags=TAGS)
    assert system.registry.pool_id_for_job("day-2") == "day-1"
    # Slack buttons: the owner extends the pool, then releases it.
    assert button("day-2", "warmpool_extend_60").startswith("extend day-2: done")
    assert button("day-2", "warmpool_release").startswith("release day-2: done")
    # A job without tags: its owner and team are read from SageMaker (ListTags). Its first look fails
    # once (an error SageMaker does not ask to retry): SQS delivers the event again, whose claim the
    # failed run gave back.
    system.control.inject_faults("DescribeTrainingJob", "ResourceLimitExceeded", count=1)
    system.run_job("untagged-1", 300, instance_type="ml.c5.xlarge")
    # A sweep whose final event is lost: the reconciler first may not read it, then hands its pool back.
    system.control.start_tuning_job("sweep", [training_job_request("hpo-1", tags=TAGS)])
    system.settle()
    system.control.complete_job("hpo-1")
    system.settle()
    button("hpo-1", "warmpool_extend_60")  # a trial's pool: the press reads its tuning job
    # A press the worker fails on (an error SageMaker does not ask to retry): its person is told, and
    # it is kept in the press DLQ (SlackPressDlqDepth)
    system.control.inject_faults("DescribeTrainingJob", "ResourceLimitExceeded", count=1)
    assert "failed (ResourceLimitExceeded)" in button("hpo-1", "warmpool_extend_30")
    system.control.complete_tuning_job("sweep")
    system.messages(env.lifecycle_queue_url)  # EventBridge never delivers it
    # and warmpool was just upgraded from a version before tuning-job watches: the reconciler's first
    # run lists the running tuning jobs (docs/registry.md)
    upgraded_from_a_version_without_tuning_watches(env.pools_table)
    system.control.inject_faults("DescribeHyperParameterTuningJob", "AccessDeniedException", count=1)
    assert run_reconciler()["failed"]  # ReconcilerFailures
    assert run_reconciler()["repaired"] == ["hpo-1"]
    # Every event of a job lost: the reconciler finds its pool, and reads the job's tags.
    system.sagemaker.create_training_job(**training_job_request("lost-1", instance_type="ml.c5.2xlarge"))
    system.control.run_for("lost-1", 300)
    system.emulator.advance(360)
    system.messages(env.lifecycle_queue_url)
    assert "lost-1" in run_reconciler()["repaired"]
    # Bot-token mode for a while: the team's channel given by its id with the Slack app's bot token. A
    # pool's message is kept with the pool, then, once the owner releases it, read, updated without its
    # buttons (chat.update) and forgotten.
    webhooks = boto3.client("secretsmanager")
    bot_mode = {"bot_token": "xoxb-1-2-day", "vision": "C0VISION01"}
    webhooks.put_secret_value(SecretId=env.slack_webhooks_secret_arn, SecretString=json.dumps(bot_mode))
    system.advance(60)  # the notifier reads the secret again within a minute
    system.run_job("bot-1", 300, keep_alive_seconds=600, instance_type="ml.g5.16xlarge", tags=TAGS)
    assert button("bot-1", "warmpool_release").startswith("release bot-1: done")
    assert api.done("chat.update")
    webhooks.put_secret_value(
        SecretId=env.slack_webhooks_secret_arn, SecretString=json.dumps({"vision": slack.url("vision")})
    )
    system.advance(60)

    # The failures the alarms are for.
    system.control.inject_faults("UpdateTrainingJob", "AccessDeniedException", count=1)
    system.run_job("refused-1", 300, tags={**TAGS, "team": "refused"})  # PermanentErrors
    slack.answers.append(404)  # the webhook is gone: SlackDeliveryFailed, SNS carries it
    system.run_job("gone-1", 300, instance_type="ml.g5.4xlarge", tags=TAGS)
    slack.answers.extend([500] * 3)  # Slack down past the retries: NotificationsRetried, then sent
    system.run_job("slack-down-1", 300, instance_type="ml.c5.4xlarge", tags=TAGS)
    system.sqs.send_message(QueueUrl=env.lifecycle_queue_url, MessageBody='{"detail-type": "nonsense"}')
    system.settle()  # EventsRejected, kept in the lifecycle DLQ
    system.control.inject_faults("DescribeTrainingJob", "AccessDeniedException", count=1)
    system.run_job("retried-1", 300, instance_type="ml.g5.12xlarge", tags=TAGS)  # EventsRetried, then done
    # An invalid policy (PolicyInvalid), then none at all (PolicyUnreadable), met by each function.
    system.ssm.put_parameter(Name=env.policy_parameter, Value=INVALID_POLICY, Type="String", Overwrite=True)
    # each function started anew meanwhile: it decides by the parameter's last valid version (its history)
    for module in (lifecycle, notifier, reconciler, slack_interactive):
        module.runtime.cache_clear()
    system.run_job("invalid-1", 300, instance_type="ml.g5.2xlarge", tags=TAGS)
    run_reconciler()
    assert "only the owner" in button("invalid-1", "warmpool_release", user="UMALLORY")
    system.ssm.delete_parameter(Name=env.policy_parameter)
    system.run_job("unreadable-1", 300, instance_type="ml.g5.8xlarge", tags=TAGS)
    run_reconciler()
    assert "only the owner" in button("unreadable-1", "warmpool_release", user="UMALLORY")


def upgraded_from_a_version_without_tuning_watches(table: str) -> None:
    """The registry as a version before tuning-job watches left it: their one-off repair not run."""
    boto3.client("dynamodb").update_item(
        TableName=table,
        Key={"pk": {"S": "UPGRADES"}, "sk": {"S": "DONE"}},
        UpdateExpression="DELETE complete :r",
        ExpressionAttributeValues={":r": {"SS": [TUNING_WATCHES_REPAIR]}},
    )
    reconciler.runtime.cache_clear()  # a new version's function: it has not read the registry's upgrades


# --- IAM: what each call needs, in the template's terms ----------------------------------------------


def render(value: Any) -> str:
    """A CloudFormation value as a string to match: `${Logical}` for a Ref, `${Logical.Attr}` for a
    GetAtt, pseudo parameters as moto's account and region."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        ref = str(value["Ref"])
        pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
        return pseudo.get(ref, "${" + ref + "}")
    if "Fn::GetAtt" in value:
        logical, attribute = value["Fn::GetAtt"]
        return "${" + f"{logical}.{attribute}" + "}"
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render(p) for p in parts)
    raise AssertionError(f"cannot read {value}")


@dataclass(frozen=True)
class Need:
    role: str  # logical id of the role that must allow it
    action: str
    resource: str  # rendered as `render` renders the template
    why: str


class Stack:
    """The synthesized template, and how the resources the handlers ran with are named in it."""

    def __init__(self, synth: Synthesized, env: dict[str, str]) -> None:
        self.template = synth.template["Resources"]
        self.functions = {
            name: next(
                fn
                for logical, fn in synth.resources("AWS::Lambda::Function").items()
                if f"Functions{name}" in logical
            )
            for name in FUNCTIONS
        }
        self.logical_functions = {
            name: logical
            for logical in synth.resources("AWS::Lambda::Function")
            for name in FUNCTIONS
            if f"Functions{name}" in logical
        }
        # a value the handlers ran with -> what the stack sets that variable to, in any function
        self.names: dict[str, Any] = {}
        for fn in self.functions.values():
            for variable, value in fn["Properties"]["Environment"]["Variables"].items():
                if variable in env:
                    assert self.names.setdefault(env[variable], value) == value, variable
        self.statements = statements(synth)

    def role(self, function: str) -> str:
        logical, attribute = self.functions[function]["Properties"]["Role"]["Fn::GetAtt"]
        assert attribute == "Arn"
        return str(logical)

    def named(self, value: str, what: str) -> Any:
        assert value in self.names, f"the code {what} {value}, which no variable of the stack names"
        return self.names[value]

    def logical(self, value: str, what: str) -> str:
        named = self.named(value, what)
        assert set(named) == {"Ref"}, named
        return str(named["Ref"])

    def key_needs(self, role: str, logical: str, why: str) -> list[Need]:
        """What a producer to an SSE-KMS queue or topic needs of its key (SQS and SNS call KMS as it)."""
        key = self.template[logical]["Properties"].get("KmsMasterKeyId")
        if key is None:
            return []
        return [
            Need(role, a, render(key), f"{why} (its KMS key)") for a in ("kms:GenerateDataKey", "kms:Decrypt")
        ]

    def needs(self, call: Call) -> list[Need]:
        role, op, p = self.role(call.function), call.operation, call.params
        why = f"{call.function}: {call.service}:{op}"
        match call.service:
            case "dynamodb":
                item_actions = {
                    "Put": "PutItem",
                    "Update": "UpdateItem",
                    "Delete": "DeleteItem",
                    "ConditionCheck": "ConditionCheckItem",
                    "Get": "GetItem",
                }
                if op in ("TransactWriteItems", "TransactGetItems"):
                    # IAM knows no Transact* action: each item is authorized as its own action
                    tables = [body["TableName"] for item in p["TransactItems"] for body in item.values()]
                    return [
                        Need(role, f"dynamodb:{item_actions[kind]}", self.table(body["TableName"], why), why)
                        for item in p["TransactItems"]
                        for kind, body in item.items()
                    ] + self.table_key_needs(role, tables, why)
                if op in ("BatchGetItem", "BatchWriteItem"):
                    return [
                        Need(role, f"dynamodb:{op}", self.table(t, why), why) for t in p["RequestItems"]
                    ] + self.table_key_needs(role, list(p["RequestItems"]), why)
                arn = self.table(p["TableName"], why)
                if "IndexName" in p:
                    arn += f"/index/{p['IndexName']}"
                return [
                    Need(role, f"dynamodb:{op}", arn, why),
                    *self.table_key_needs(role, [p["TableName"]], why),
                ]
            case "sqs":
                queue = self.logical(p["QueueUrl"], f"calls {op} on")
                needs = [Need(role, f"sqs:{op}", "${" + queue + ".Arn}", why)]
                return needs + (self.key_needs(role, queue, why) if op.startswith("SendMessage") else [])
            case "sns":
                topic = self.logical(p["TopicArn"], f"calls {op} on")
                return [Need(role, f"sns:{op}", "${" + topic + "}", why), *self.key_needs(role, topic, why)]
            case "secretsmanager":
                secret = self.named(p["SecretId"], f"calls {op} on")
                needs = [Need(role, f"secretsmanager:{op}", render(secret), why)]
                key = self.template[secret["Ref"]]["Properties"].get("KmsKeyId")
                if key is not None and op == "GetSecretValue":  # Secrets Manager decrypts it as the reader
                    needs.append(Need(role, "kms:Decrypt", render(key), f"{why} (its KMS key)"))
                return needs
            case "ssm":
                name = render(self.named(p["Name"], f"calls {op} on"))
                return [
                    Need(
                        role, f"ssm:{op}", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{name.lstrip('/')}", why
                    )
                ]
            case "scheduler":
                group = render(self.named(p["GroupName"], f"calls {op} in"))
                arn = f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/{group}/{p['Name']}"
                needs = [Need(role, f"scheduler:{op}", arn, why)]
                if op in ("CreateSchedule", "UpdateSchedule"):
                    passed = self.named(p["Target"]["RoleArn"], "passes the role")
                    needs.append(Need(role, "iam:PassRole", render(passed), why))
                    # and the role passed must let EventBridge Scheduler deliver to the target
                    target = self.named(p["Target"]["Arn"], "schedules a delivery to")
                    scheduler_role = passed["Fn::GetAtt"][0]
                    queue = target["Fn::GetAtt"][0]
                    delivery = f"{why}: EventBridge Scheduler delivers with {scheduler_role}"
                    needs.append(Need(scheduler_role, "sqs:SendMessage", render(target), delivery))
                    needs += self.key_needs(scheduler_role, queue, delivery)
                return needs
            case "sagemaker":
                arns = {
                    "DescribeTrainingJob": lambda: f"training-job/{p['TrainingJobName'].lower()}",
                    "UpdateTrainingJob": lambda: f"training-job/{p['TrainingJobName'].lower()}",
                    "DescribeHyperParameterTuningJob": lambda: (
                        f"hyper-parameter-tuning-job/{p['HyperParameterTuningJobName'].lower()}"
                    ),
                    "ListTrainingJobsForHyperParameterTuningJob": lambda: (
                        f"hyper-parameter-tuning-job/{p['HyperParameterTuningJobName'].lower()}"
                    ),
                }
                if op == "ListTags":
                    return [Need(role, "sagemaker:ListTags", p["ResourceArn"], why)]
                if f"sagemaker:{op}" in RESOURCELESS:
                    return [Need(role, f"sagemaker:{op}", "*", why)]
                assert op in arns, f"{why}: teach this test which resource it acts on"
                return [
                    Need(role, f"sagemaker:{op}", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{arns[op]()}", why)
                ]
        raise AssertionError(f"{why}: teach this test which resource it acts on")

    def table_key_needs(self, role: str, names: list[str], why: str) -> list[Need]:
        """What DynamoDB asks of the caller of a table under a customer managed key, read or write alike:
        `kms:Decrypt` of it (it decrypts the table's key with the caller's rights)."""
        needs = []
        for name in dict.fromkeys(names):
            logical = self.logical(name, f"({why}) reads or writes the table")
            (replica,) = self.template[logical]["Properties"]["Replicas"]
            key = replica.get("SSESpecification", {}).get("KMSMasterKeyId")
            if key is not None:
                needs.append(Need(role, "kms:Decrypt", render(key), f"{why} (the table's KMS key)"))
        return needs

    def table(self, name: str, why: str) -> str:
        return "${" + self.logical(name, f"({why}) reads or writes the table") + ".Arn}"

    def event_source_needs(self) -> list[Need]:
        """What Lambda's SQS event-source mapping does with the function's role."""
        needs = []
        for mapping in self.template.values():
            if mapping["Type"] != "AWS::Lambda::EventSourceMapping":
                continue
            function = next(
                n
                for n, logical in self.logical_functions.items()
                if mapping["Properties"]["FunctionName"] == {"Ref": logical}
            )
            queue = mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]
            why = f"{function}: Lambda polls {queue} for it"
            # Lambda's documented needs: a failed record comes back when its visibility timeout ends,
            # Lambda never changes it (sqs:ChangeMessageVisibility)
            for action in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes"):
                needs.append(Need(self.role(function), f"sqs:{action}", "${" + queue + ".Arn}", why))
            key = self.template[queue]["Properties"].get("KmsMasterKeyId")
            if key is not None:
                needs.append(Need(self.role(function), "kms:Decrypt", render(key), f"{why} (its KMS key)"))
        return needs

    def service_needs(self) -> list[Need]:
        """What AWS does with each function's role on its own: X-Ray tracing (`Tracing.ACTIVE`; its
        CloudWatch Logs come with AWSLambdaBasicExecutionRole, a managed policy, not a statement)."""
        return [
            Need(self.role(function), f"xray:{action}", "*", f"{function}: Lambda traces it (X-Ray)")
            for function in FUNCTIONS
            for action in ("PutTraceSegments", "PutTelemetryRecords")
        ]

    def scheduler_role(self) -> str:
        """The role EventBridge Scheduler delivers the step messages with."""
        (logical,) = [
            str(logical)
            for logical, resource in self.template.items()
            if resource["Type"] == "AWS::IAM::Role"
            and "scheduler.amazonaws.com" in json.dumps(resource["Properties"]["AssumeRolePolicyDocument"])
        ]
        return logical

    def granted(self, role: str) -> list[dict[str, Any]]:
        return [
            s for name, s in self.statements if {"Ref": role} in self.template[name]["Properties"]["Roles"]
        ]

    def allowing(self, need: Need) -> list[dict[str, Any]]:
        """The role's Allow statements whose action and resource patterns cover the need (none when a
        Deny does)."""

        def covers(statement: dict[str, Any]) -> bool:
            return any(fnmatchcase(need.action.lower(), a.lower()) for a in actions(statement)) and any(
                fnmatchcase(need.resource, render(r)) for r in resources(statement)
            )

        granted = self.granted(need.role)
        if any(s["Effect"] == "Deny" and covers(s) for s in granted):
            return []
        return [s for s in granted if s["Effect"] == "Allow" and covers(s)]


def test_each_role_allows_every_call_its_function_makes(observed: Observed, synthesized: Synthesized) -> None:
    stack = Stack(synthesized, observed.env)
    assert {c.function for c in observed.calls} == set(FUNCTIONS)
    needs = {n for call in observed.calls for n in stack.needs(call)} | set(stack.event_source_needs())
    # the flows reach what each function is for (else a grant would go unchecked)
    called = {(c.function, f"{c.service}:{c.operation}") for c in observed.calls}
    assert {
        ("Lifecycle", "scheduler:CreateSchedule"),
        ("Lifecycle", "sqs:SendMessage"),
        ("Lifecycle", "sagemaker:UpdateTrainingJob"),
        ("Reconciler", "sagemaker:DescribeHyperParameterTuningJob"),
        ("Reconciler", "sagemaker:ListTrainingJobs"),
        ("Notifier", "sns:Publish"),
        ("Notifier", "secretsmanager:GetSecretValue"),
        ("SlackInteractive", "secretsmanager:GetSecretValue"),
        ("SlackInteractive", "sqs:SendMessage"),
        ("SlackPresses", "sagemaker:UpdateTrainingJob"),
    } <= called
    # the endpoint the internet reaches changes no job: the worker does
    assert not any(f == "SlackInteractive" and call.startswith("sagemaker:") for f, call in called)
    missing = sorted(
        f"{n.why}: {n.role} may not {n.action} on {n.resource}" for n in needs if not stack.allowing(n)
    )
    assert not missing, "\n".join(missing)
    # "*" only where AWS takes no resource-level permission
    wide = sorted(
        f"{n.why}: {n.action} is allowed on * only"
        for n in needs
        if n.action not in RESOURCELESS and all(resources(s) == ["*"] for s in stack.allowing(n))
    )
    assert not wide, "\n".join(wide)
    for function in FUNCTIONS:
        for statement in stack.granted(stack.role(function)):
            if "*" in resources(statement):
                assert set(actions(statement)) <= RESOURCELESS, (function, statement)


# Granted, needed, but not called in the flows: each on a path the flows do not take (cheaper to name
# than to stage), with the reason. (role's function, action, resource as `render` renders it: a glob).
NOT_EXERCISED: dict[tuple[str, str, str], str] = {
    # Powertools' idempotency record of an event or a copy sent
    **{
        (function, "dynamodb:GetItem", "${WarmPoolStorageIdempotency*.Arn}"): (
            "Powertools reads the claim when a conditional write that failed returns no item (its fallback)"
        )
        for function in ("Lifecycle", "Notifier")
    },
    ("Notifier", "dynamodb:DeleteItem", "${WarmPoolStorageIdempotency*.Arn}"): (
        "a send that fails gives its claim back for SQS's retry (as the lifecycle function's does in the "
        "flows: untagged-1)"
    ),
    # the engine, wherever it runs
    **{
        (function, "dynamodb:Query", "${WarmPoolStorageAudit*.Arn}"): (
            "a pool found released by a keep-alive of 0 no save recorded reads the update's audit entry "
            "(`_unrecorded_release`)"
        )
        for function in ("Lifecycle", "Reconciler", "SlackPresses")
    },
    **{
        (function, "dynamodb:Query", "${WarmPoolStoragePools*.Arn}"): (
            "a tuning job's trials (its tuner index, `TUNER#<arn>` items), read when its end is recorded"
        )
        for function in ("Lifecycle", "SlackPresses")
    },
    # the registry's indexes, granted by name: each one's query on a path the flows do not take
    **{
        (function, "dynamodb:Query", "${WarmPoolStoragePools*.Arn}/index/by_status"): (
            "until the reconciler has backfilled an index added by an upgrade, a decision reads its team's "
            "(or its type's) Available pools from `by_status` (`available_of_teams`, `available_of_type`)"
        )
        for function in ("Lifecycle", "SlackPresses")
    },
    **{
        (function, "dynamodb:Query", "${WarmPoolStoragePools*.Arn}/index/by_type"): (
            "a policy's `instance_type_limits` or `warm_pool_quotas` entry for the pool's type: its decision "
            "counts every team's pools of that type (`available_of_type`; the flows' policy has none)"
        )
        for function in ("Lifecycle", "Reconciler", "SlackPresses")
    },
    ("SlackPresses", "dynamodb:Query", "${WarmPoolStoragePools*.Arn}/index/by_match"): (
        "a press that finds its pool Available in SageMaker while the registry has it InUse records the "
        "jobs of its shape running as its gap begins (`_running_with`)"
    ),
    ("SlackInteractive", "dynamodb:DeleteItem", "${WarmPoolStoragePools*.Arn}"): (
        "a press the endpoint could not queue has its replay marker removed, so that the same request "
        "sent again is heard (`_forget`; tests/integration/notify/test_notify.py)"
    ),
    ("Reconciler", "scheduler:DeleteSchedule", "*"): (
        "a repair that plans a pool's next look anew cancels the one it had planned (`_cancel_planned`)"
    ),
}


def test_each_role_is_granted_only_what_its_function_needs(
    observed: Observed, synthesized: Synthesized
) -> None:
    # The reverse of the test above: a grant no call needs widens what a compromised function (the
    # Slack endpoint's, which the internet reaches, above all) can do, and nothing else would show it.
    stack = Stack(synthesized, observed.env)
    needs = (
        {n for call in observed.calls for n in stack.needs(call)}
        | set(stack.event_source_needs())
        | set(stack.service_needs())
    )
    roles = {stack.role(function): function for function in FUNCTIONS}
    roles[stack.scheduler_role()] = "EventBridge Scheduler"

    def needed(role: str, action: str, resource: str) -> bool:
        return any(
            n.role == role
            and fnmatchcase(n.action.lower(), action.lower())
            and fnmatchcase(n.resource, resource)
            for n in needs
        )

    def excused(function: str, action: str, resource: str) -> bool:
        return any(f == function and a == action and fnmatchcase(resource, r) for f, a, r in NOT_EXERCISED)

    unused = sorted(
        f"{function}: {action} on {resource}"
        for role, function in roles.items()
        for statement in stack.granted(role)
        if statement["Effect"] == "Allow"
        for action in actions(statement)
        for resource in map(render, resources(statement))
        if not needed(role, action, resource) and not excused(function, action, resource)
    )
    assert not unused, "granted, but no call needs it:\n" + "\n".join(unused)
    # and every excuse still excuses a grant
    granted = {
        (function, action, render(resource))
        for role, function in roles.items()
        for statement in stack.granted(role)
        for action in actions(statement)
        for resource in resources(statement)
    }
    stale = [
        key
        for key in NOT_EXERCISED
        if not any(g[:2] == key[:2] and fnmatchcase(g[2], key[2]) for g in granted)
    ]
    assert not stale, stale


def test_each_function_may_read_only_the_secrets_its_code_reads(
    observed: Observed, synthesized: Synthesized
) -> None:
    # The Slack endpoint's function, the one the internet reaches, could read every channel's webhook
    # URL, which it never uses: it answers on the press's response_url.
    stack = Stack(synthesized, observed.env)
    for function in FUNCTIONS:
        read = {
            n.resource
            for call in observed.calls
            if call.function == function and call.service == "secretsmanager"
            for n in stack.needs(call)
            if n.action.startswith("secretsmanager:")  # not the key it decrypts the value with
        }
        readable = {
            render(r)
            for s in stack.granted(stack.role(function))
            if s["Effect"] == "Allow" and any(a.startswith("secretsmanager:") for a in actions(s))
            for r in resources(s)
        }
        assert readable == read, f"{function} may read {sorted(readable)}; its code reads {sorted(read)}"


def test_the_slack_endpoint_writes_only_the_partitions_its_role_allows(
    observed: Observed, synthesized: Synthesized
) -> None:
    # Its role may write only items whose partition key its `dynamodb:LeadingKeys` condition allows (the
    # judge above does not read conditions): every item the endpoint's code wrote must be one of them.
    stack = Stack(synthesized, observed.env)
    (allowed,) = [
        s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
        for s in stack.granted(stack.role("SlackInteractive"))
        if any(a.startswith("dynamodb:") for a in actions(s))
    ]
    written = [
        (c.operation, (c.params.get("Key") or c.params["Item"])["pk"]["S"])
        for c in observed.calls
        if c.function == "SlackInteractive" and c.service == "dynamodb"
    ]
    assert {op for op, _ in written} >= {"PutItem", "UpdateItem"}  # markers, request counts
    refused = [(op, pk) for op, pk in written if not any(fnmatchcase(pk, p) for p in allowed)]
    assert not refused, refused


# --- Alarms and metrics --------------------------------------------------------------------------------


def alarmed(synth: Synthesized) -> dict[str, tuple[str, str, tuple[tuple[str, str], ...]]]:
    """Each alarm's (namespace, metric, dimensions), as CloudWatch will look for it."""
    out = {}
    for name, alarm in synth.resources("AWS::CloudWatch::Alarm").items():
        properties = alarm["Properties"]
        if "Metrics" in properties:
            (query,) = properties["Metrics"]
            metric = query["MetricStat"]["Metric"]
        else:
            metric = properties
        dimensions = tuple(sorted((d["Name"], render(d["Value"])) for d in metric.get("Dimensions", [])))
        out[name] = (metric["Namespace"], metric["MetricName"], dimensions)
    return out


def test_each_alarm_watches_a_metric_the_code_emits(observed: Observed, synthesized: Synthesized) -> None:
    emitted = observed.metrics()
    alarms = alarmed(synthesized)
    ours = {name: watched for name, watched in alarms.items() if not watched[0].startswith("AWS/")}
    assert len(ours) >= 5  # PolicyInvalid, PolicyUnreadable, PermanentErrors, ReconcilerFailures, Slack...
    never = sorted(
        f"{name} watches {watched}, never emitted" for name, watched in ours.items() if watched not in emitted
    )
    assert not never, "\n".join(never) + f"\nemitted: {sorted(emitted)}"
    # AWS's own metrics: each function's errors, each DLQ's depth
    functions = {
        "${" + logical + "}" for logical in Stack(synthesized, observed.env).logical_functions.values()
    }
    errors = {dict(d)["FunctionName"] for ns, m, d in alarms.values() if (ns, m) == ("AWS/Lambda", "Errors")}
    assert errors == functions
    depths = {dict(d)["QueueName"] for ns, m, d in alarms.values() if ns == "AWS/SQS"}
    dlqs = {
        "${" + logical + ".QueueName}"
        for logical, q in synthesized.resources("AWS::SQS::Queue").items()
        if "RedrivePolicy" not in q["Properties"]
    }
    assert depths == dlqs


def test_the_dashboard_graphs_only_metrics_the_code_can_emit(synthesized: Synthesized) -> None:
    (dashboard,) = synthesized.resources("AWS::CloudWatch::Dashboard").values()
    body = render(dashboard["Properties"]["DashboardBody"])
    graphed = set(re.findall(r'\["WarmPool","(\w+)"', body))
    assert graphed
    assert graphed <= countable(), graphed - countable()


def test_every_function_that_reads_the_policy_reports_an_unusable_one(observed: Observed) -> None:
    # A press answered early (refused, say) emitted nothing: what it counted was lost with the container
    # or published by a later invocation, minutes late for the alarm.
    # (the Slack endpoint reads no policy: the worker it queues presses for decides them)
    for function in (f for f in FUNCTIONS if f != "SlackInteractive"):
        names = {metric for _, metric, _ in observed.metrics(function)}
        assert {"PolicyInvalid", "PolicyUnreadable"} <= names, (function, sorted(names))


def countable() -> set[str]:
    """Every metric name the functions' code can count (`metrics.count(...)` calls, read from the
    source of what the stack deploys)."""
    package = ROOT / "lambdas" / "warmpool"
    names: set[str] = set()

    def first_argument(node: ast.expr) -> set[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.IfExp):
            return first_argument(node.body) | first_argument(node.orelse)
        if isinstance(node, ast.JoinedStr) and ast.unparse(node).startswith("f'Decisions{decision.action"):
            return {f"Decisions{a.value.capitalize()}" for a in Action}
        raise AssertionError(f"a metric named as {ast.unparse(node)}: teach this test to read it")

    for path in package.rglob("*.py"):
        if set(path.relative_to(package).parts) & set(ASSET_EXCLUDES):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "count"
                and "metrics" in ast.unparse(node.func.value)
            ):
                names |= first_argument(node.args[0])
    return names


def documented_metrics() -> set[str]:
    """The metric names in docs/deploy.md's metrics table."""
    text = (ROOT / "docs" / "deploy.md").read_text()
    assert "\n## Metrics\n" in text, "docs/deploy.md has no Metrics section"
    section = text.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    return {
        m
        for row in section.splitlines()
        if row.startswith("| `")
        for m in re.findall(r"`(\w+)`", row.split("|")[1])
    }


def test_the_deploy_docs_list_every_metric_and_only_those(
    observed: Observed, synthesized: Synthesized
) -> None:
    documented = documented_metrics()
    code = countable()
    emitted = {metric for _, metric, _ in observed.metrics()}
    assert emitted <= code  # the source reading misses none the handlers emitted
    assert documented == code, (
        f"undocumented: {sorted(code - documented)}, no such metric: {sorted(documented - code)}"
    )
    alarmed_metrics = {m for ns, m, _ in alarmed(synthesized).values() if ns == "WarmPool"}
    assert alarmed_metrics <= documented
